"""Models: DeepSEM data changed in place, DeepSEM.from_array, model folders, PerturbODE control, load.

Input checks from the adversarial runs (issue 18): see _inputs_helpers.py for how to read them.

Other model checks of the adversarial runs: DeepSEM save/load statistics in test_model_io.py, the
embedding of new cells in test_deepsem.py, tl.perturb with a layer-trained model in test_perturb.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import scanpy as sc
from scipy import sparse

import scgrn
from scgrn._params import ParameterTypeError

from _inputs_helpers import _small


# ---------------------------------------------------------------------------------------------
# DeepSEM.from_array: sparse input, duplicated names (fourth run)
# ---------------------------------------------------------------------------------------------
def test_from_array_sparse_and_duplicate_names():
    from scipy import sparse as sp

    x = np.random.default_rng(0).gamma(1.0, 1.0, size=(6, 3)).astype(np.float32)
    with pytest.raises(TypeError, match="toarray"):
        scgrn.models.DeepSEM.from_array(sp.csr_matrix(x), ["a", "b", "c"])
    with pytest.raises(ValueError, match="unique"):
        scgrn.models.DeepSEM.from_array(x, ["a", "a", "b"])


# ---------------------------------------------------------------------------------------------
# DeepSEM refuses data changed in place (fifth run)
# ---------------------------------------------------------------------------------------------
DEEPSEM_TINY = {"n_models": 1, "n_epochs": 1, "hidden_dim": 4}


def _change_in_place(a, how):
    if how == "log1p":
        sc.pp.log1p(a)  # in place on the dense matrix the model holds
    elif how == "nan":
        a.X[0, 0] = np.nan
    else:  # the stored values of a sparse layer
        a.layers["log"].data[:5] += 1.0


@pytest.mark.parametrize("how", ["log1p", "nan", "csr_layer"])
def test_deepsem_refuses_data_changed_in_place_after_build(adata, how):
    a = _small(adata, 200)
    layer = None
    if how == "csr_layer":
        a.layers["log"], layer = sparse.csr_matrix(a.X), "log"
    model = scgrn.models.DeepSEM(a, layer=layer, **DEEPSEM_TINY)
    _change_in_place(a, how)
    where = r"adata.layers\['log'\]" if layer else "adata.X"
    extra = r"it now holds 1 NaN" if how == "nan" else "its per-gene sums differ"
    with pytest.raises(ValueError, match=rf"^{where} changed since DeepSEM\(adata\) was built \({extra}.*build the model again"):
        model.train(show_progress_bar=False)
    assert model.module is None


def test_deepsem_refuses_data_changed_after_training(adata):
    a = _small(adata, 200)
    model = scgrn.models.DeepSEM(a, **DEEPSEM_TINY)
    model.train(show_progress_bar=False)
    a.X *= 2.0
    for call in (model.get_latent_representation, lambda: model.perturb({"Gata1": 0.0}), model.simulate):
        with pytest.raises(ValueError, match=r"adata.X changed since DeepSEM\(adata\) was built"):
            call()
    assert model.get_latent_representation(a).shape == (200, 11)  # a given AnnData is read afresh


def test_deepsem_on_unchanged_or_replaced_data_trains_as_before(adata):
    """The check changes nothing for unchanged data (same seed: the same network, bit for bit), and
    replacing adata.X (not in place) leaves the model on the matrix it was built on."""
    a = _small(adata, 200)
    first = scgrn.models.DeepSEM(a, **DEEPSEM_TINY)
    second = scgrn.models.DeepSEM(a.copy(), **DEEPSEM_TINY)
    a.X = a.X * 2.0  # a new array: `first` keeps the old one
    first.train(show_progress_bar=False)
    second.train(show_progress_bar=False)
    np.testing.assert_array_equal(first.get_grn(), second.get_grn())


# ---------------------------------------------------------------------------------------------
# model folders and PerturbODE labels (sixth and eighth runs)
# ---------------------------------------------------------------------------------------------
def test_model_files_expand_the_home_folder(adata, tmp_path, monkeypatch):
    """save('~/m') wrote a folder literally named '~' in the working directory."""
    import torch

    from scgrn.models._base import load_model_files, save_model_files

    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    assert save_model_files("~/demo", {"config": {}}, {"w": torch.ones(2)}, kind="Demo") == home / "demo"
    assert load_model_files("~/demo", kind="Demo")[1]["w"].tolist() == [1.0, 1.0]
    model = scgrn.models.DeepSEM(_small(adata), **DEEPSEM_TINY)  # the model classes go through them
    model.train(show_progress_bar=False)
    model.save("~/deepsem")
    assert (home / "deepsem" / "model.json").is_file() and not (cwd / "~").exists()
    np.testing.assert_array_equal(scgrn.models.DeepSEM.load("~/deepsem", _small(adata)).get_grn(), model.get_grn())


def test_perturbode_integer_control_matches_integer_labels():
    """control=0 never matched the labels, which are read as text ('0')."""
    from scgrn.models._perturbode_config import check_control

    s, _ = scgrn.datasets.simulate_perturbation_screen(n_genes=8, n_perturbations=3, n_double=1,
                                                       n_cells_per_perturbation=15, n_control=30)
    s.obs["perturbation"] = [0 if lab == "control" else lab for lab in s.obs["perturbation"].astype(str)]
    model = scgrn.models.PerturbODE(s, control=np.int64(0), n_modules=3)
    assert model.control == "0" and model._control_x.shape[0] == 30
    assert sorted(model.perturbations) == ["G2", "G2+G4", "G3", "G4"]
    for bad in (None, True, 0.0):
        with pytest.raises(ParameterTypeError, match=r"^control must be the label of the control cells"):
            check_control(bad)


def test_perturbode_load_says_what_adata_it_needs(tmp_path):
    screen, _ = scgrn.datasets.simulate_perturbation_screen(
        n_genes=10, n_perturbations=3, n_double=1, n_cells_per_perturbation=20, n_control=40)
    model = scgrn.models.PerturbODE(screen, n_modules=3, n_epochs=2, batch_size=16)
    model.train(show_progress_bar=False)
    model.save(tmp_path / "m")
    renamed = screen.copy()
    renamed.obs["pert"] = renamed.obs.pop("perturbation")
    with pytest.raises(KeyError, match="PerturbODE.load needs an AnnData laid out as at training"):
        scgrn.models.PerturbODE.load(tmp_path / "m", renamed)
    with pytest.raises(ValueError, match="label column 'perturbation', control label 'control'"):
        scgrn.models.PerturbODE.load(tmp_path / "m", screen[screen.obs["perturbation"] == "control"].copy())
    assert scgrn.models.PerturbODE.load(tmp_path / "m", screen).perturbations == model.perturbations
