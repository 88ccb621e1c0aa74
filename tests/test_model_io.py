"""Saving and loading DeepSEM, PerturbODE and PairClassifier (the shared format in models/_base.py)."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch

import scgrn
from scgrn.models import DeepSEM, PairClassifier, PerturbODE
from scgrn.models._base import FORMAT_VERSION, ModelFileError, check_var_names_match
from scgrn.tl._pair_classifier import reference_adjacency
from scgrn.tl._timeseries import series_tensor

KINDS = ["DeepSEM", "PerturbODE", "PairClassifier"]
UNSAFE = "weights_only=False"
DEEPSEM_FAST = {"n_models": 1, "n_epochs": 1, "hidden_dim": 8, "batch_size": 128}


@dataclass
class Case:
    kind: str
    model: object
    load: Callable  # folder -> model
    outputs: Callable  # model -> list of arrays


def _deepsem_case(adata) -> Case:
    model = DeepSEM(adata, **DEEPSEM_FAST)
    model.train(show_progress_bar=False)
    return Case(
        "DeepSEM", model, lambda d: DeepSEM.load(d, adata),
        lambda m: [m.get_grn(), m.get_latent_representation(), m.simulate(20, noise_scale=1.0, neighbours=1).X],
    )


def _perturbode_case(adata) -> Case:
    model = PerturbODE(adata, n_modules=3, n_epochs=2, batch_size=16)
    model.train(show_progress_bar=False)
    return Case(
        "PerturbODE", model, lambda d: PerturbODE.load(d, adata),
        lambda m: [m.get_grn(), m.predict(m.perturbations, n_obs=5).X, m.get_parameters().to_numpy(dtype=float)],
    )


@pytest.fixture(scope="module")
def krumsiek():
    return scgrn.datasets.krumsiek11()[0]


@pytest.fixture(scope="module")
def screen():
    adata, _ = scgrn.datasets.simulate_perturbation_screen(
        n_genes=8, n_perturbations=3, n_double=1, n_cells_per_perturbation=20, n_control=40, random_state=0
    )
    return adata


@pytest.fixture(scope="module")
def series():
    adata, net = scgrn.datasets.planted_time_series(n_genes=8, n_series=3, random_state=1)
    return series_tensor(adata).x, reference_adjacency(net, adata.var_names)


@pytest.fixture(scope="module")
def cases(krumsiek, screen, series):
    x, adjacency = series
    clf = PairClassifier("ae", n_models=1, n_epochs=1, ae_epochs=2, grid_search=False)
    clf.train([(x, adjacency)], show_progress_bar=False)
    return {
        "DeepSEM": _deepsem_case(krumsiek),
        "PerturbODE": _perturbode_case(screen),
        "PairClassifier": Case(
            "PairClassifier", clf, lambda d: PairClassifier.load(d, device="cpu"), lambda m: [m.predict(x)]
        ),
    }


@pytest.fixture(params=KINDS)
def case(request, cases) -> Case:
    return cases[request.param]


def _saved(case: Case, tmp_path):
    path = tmp_path / "model"
    case.model.save(path)
    return path


def _edit_json(path, edit) -> None:
    meta = json.loads((path / "model.json").read_text())
    edit(meta)
    (path / "model.json").write_text(json.dumps(meta))


def _raises(exc, match: str, fn):
    """``pytest.raises`` that also checks that neither the message nor the traceback
    (chained errors included) advises loading with weights_only=False."""
    with pytest.raises(exc, match=match) as info:
        fn()
    text = "".join(traceback.format_exception(info.value))
    assert UNSAFE not in text and UNSAFE not in str(info.value)
    return info.value


# -- round trip ----------------------------------------------------------------------------------
def test_round_trip_gives_identical_outputs(case, tmp_path):
    path = _saved(case, tmp_path)
    meta = json.loads((path / "model.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION == 2
    assert meta["model"] == case.kind and meta["scgrn_version"] == scgrn.__version__
    loaded = case.load(path)
    for a, b in zip(case.outputs(case.model), case.outputs(loaded)):
        np.testing.assert_array_equal(a, b)
    assert loaded.training_time_s == case.model.training_time_s > 0
    assert loaded.config == case.model.config and loaded.random_state == case.model.random_state
    assert loaded.history.keys() == case.model.history.keys()
    for k in loaded.history:
        np.testing.assert_array_equal(loaded.history[k], case.model.history[k])
    with pytest.raises(FileExistsError, match="overwrite=True"):
        case.model.save(path)
    case.model.save(path, overwrite=True)
    assert not list(path.glob("*.tmp"))


def test_format_version_0_still_loads(case, tmp_path):
    """Folders saved before format versions: no format_version / model, PairClassifier's
    timings named fit_seconds."""
    path = _saved(case, tmp_path)

    def legacy(meta):
        del meta["format_version"], meta["model"]
        if case.kind == "PairClassifier":
            meta["fit_seconds"] = meta.pop("training_time_s")
            meta["fit_cpu_seconds"] = meta.pop("training_cpu_time_s")
        else:
            del meta["training_time_s"]

    _edit_json(path, legacy)
    loaded = case.load(path)
    for a, b in zip(case.outputs(case.model), case.outputs(loaded)):
        np.testing.assert_array_equal(a, b)
    if case.kind == "PairClassifier":
        assert loaded.training_time_s == case.model.training_time_s


# -- missing and damaged files ---------------------------------------------------------------------
def test_missing_folder(case, tmp_path):
    err = _raises(FileNotFoundError, "does not exist", lambda: case.load(tmp_path / "nope"))
    assert str(tmp_path / "nope") in str(err) and f"{case.kind}.save()" in str(err) and "model.pt" in str(err)


def test_a_file_instead_of_the_folder(case, tmp_path):
    path = _saved(case, tmp_path)
    _raises(FileNotFoundError, "not a folder", lambda: case.load(path / "model.pt"))


def test_missing_model_json(case, tmp_path):
    path = _saved(case, tmp_path)
    (path / "model.json").unlink()
    _raises(FileNotFoundError, r"no model\.json", lambda: case.load(path))


def test_missing_weights(case, tmp_path):
    path = _saved(case, tmp_path)
    (path / "model.pt").unlink()
    err = _raises(FileNotFoundError, r"incomplete: it has model\.json but no model\.pt", lambda: case.load(path))
    assert str(path) in str(err)


def test_truncated_weights(case, tmp_path):
    path = _saved(case, tmp_path)
    data = (path / "model.pt").read_bytes()
    (path / "model.pt").write_bytes(data[: len(data) // 2])
    err = _raises(ModelFileError, r"model\.pt is damaged", lambda: case.load(path))
    assert isinstance(err, ValueError) and "save()" in str(err)


class _NotATensor:
    pass


def test_weights_that_are_not_plain_tensors_are_refused(case, tmp_path):
    """A model.pt holding arbitrary pickled objects is never unpickled (weights_only=True)."""
    path = _saved(case, tmp_path)
    torch.save({"module": _NotATensor()}, path / "model.pt")
    _raises(ModelFileError, "never arbitrary pickled objects", lambda: case.load(path))


def test_weights_of_another_shape(case, tmp_path):
    path = _saved(case, tmp_path)
    torch.save({"module": {"nope": torch.zeros(2)}}, path / "model.pt")
    _raises(ModelFileError, "do not fit the model described in model.json", lambda: case.load(path))


@pytest.mark.parametrize("content", [b'{"format_version": 1, "mod', b"\xff\xfe\x00garbage", b"[1, 2]"])
def test_corrupt_model_json(case, tmp_path, content):
    path = _saved(case, tmp_path)
    (path / "model.json").write_bytes(content)
    _raises(ModelFileError, r"model\.json is damaged .* not written by scgrn", lambda: case.load(path))


def test_model_json_without_a_required_key(case, tmp_path):
    path = _saved(case, tmp_path)
    _edit_json(path, lambda meta: meta.pop("random_state"))
    _raises(ModelFileError, r"lacks \['random_state'\]", lambda: case.load(path))


def test_damaged_history(tmp_path, cases):
    case = cases["DeepSEM"]
    path = _saved(case, tmp_path)
    (path / "history.npz").write_bytes(b"not a zip")
    _raises(ModelFileError, r"history\.npz is damaged", lambda: case.load(path))
    (path / "history.npz").unlink()
    _raises(FileNotFoundError, r"incomplete: it has no history\.npz", lambda: case.load(path))


# -- kind, version, config ---------------------------------------------------------------------
@pytest.mark.parametrize("legacy", [False, True])
def test_wrong_kind(case, cases, tmp_path, legacy):
    other = cases[KINDS[(KINDS.index(case.kind) + 1) % 3]]
    path = _saved(other, tmp_path)
    if legacy:  # format version 0 folders are told apart by their keys
        _edit_json(path, lambda meta: [meta.pop("format_version"), meta.pop("model")])
    _raises(ModelFileError, f"holds a saved {other.kind} model, not a {case.kind}.*{other.kind}.load",
            lambda: case.load(path))


def test_newer_format_version(case, tmp_path):
    path = _saved(case, tmp_path)
    _edit_json(path, lambda meta: meta.update(format_version=FORMAT_VERSION + 1, scgrn_version="9.0"))
    err = _raises(ModelFileError, "newer scgrn", lambda: case.load(path))
    assert "Upgrade scgrn" in str(err) and "9.0" in str(err)


def test_unknown_config_key_raises_naming_it(case, tmp_path):
    path = _saved(case, tmp_path)
    _edit_json(path, lambda meta: meta["config"].update(from_the_future=1))
    _raises(ModelFileError, r"does not know: \['from_the_future'\].*upgrade scgrn", lambda: case.load(path))


def test_config_from_dict_raises_on_unknown_keys():
    for config in (scgrn.models.DeepSEMConfig, scgrn.models.PerturbODEConfig, scgrn.models.PairClassifierConfig):
        with pytest.raises(TypeError, match=r"Unknown .* hyperparameter\(s\) \['nope'\]"):
            config.from_dict({"nope": 1})


# -- gene names ------------------------------------------------------------------------------------
FIX = "adata.var_names = adata.var_names.astype(str)"


def test_integer_var_names_round_trip(krumsiek, tmp_path):
    """Gene names are saved as strings and compared as strings. The input checks refuse an
    AnnData with integer var_names, naming the fix; a model that has them anyway (built by
    ``from_array``, as tl.simulate does) saves and loads."""
    ints = krumsiek.copy()
    ints.var_names = pd.RangeIndex(ints.n_vars)
    try:
        model = DeepSEM(ints, **DEEPSEM_FAST)
    except ValueError as err:
        assert FIX in str(err)
        model = DeepSEM.from_array(np.asarray(krumsiek.X, dtype=np.float32), ints.var_names, **DEEPSEM_FAST)
    model.train(show_progress_bar=False)
    model.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "model.json").read_text())["var_names"][:2] == ["0", "1"]
    as_str = krumsiek.copy()
    as_str.var_names = [str(i) for i in range(as_str.n_vars)]  # the fix the input checks name
    loaded = DeepSEM.load(tmp_path / "m", as_str)
    assert loaded.var_names.equals(as_str.var_names)
    np.testing.assert_array_equal(loaded.get_grn(), model.get_grn())
    np.testing.assert_array_equal(loaded.get_latent_representation(), model.get_latent_representation())
    try:
        again = DeepSEM.load(tmp_path / "m", ints)
    except ValueError as err:  # the input checks' message, not a var_names mismatch
        assert FIX in str(err)
    else:
        np.testing.assert_array_equal(again.get_grn(), model.get_grn())


def test_integer_var_names_perturbode(screen, tmp_path):
    adata = screen.copy()
    number = {g: str(i) for i, g in enumerate(adata.var_names)}
    labels = adata.obs["perturbation"].astype(str)
    adata.obs["perturbation"] = ["+".join(number.get(g, g) for g in lab.split("+")) for lab in labels]
    adata.var_names = pd.RangeIndex(adata.n_vars)
    try:
        model = PerturbODE(adata, n_modules=3, n_epochs=2, batch_size=16)
    except ValueError as err:  # refused at the input, with the fix
        assert FIX in str(err)
        return
    model.train(show_progress_bar=False)
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(PerturbODE.load(tmp_path / "m", adata).get_grn(), model.get_grn())


def test_var_names_mismatch_names_how_many_and_which(cases, krumsiek, tmp_path):
    case = cases["DeepSEM"]
    path = _saved(case, tmp_path)
    with pytest.raises(ValueError, match=r"var_names differ from the 11 genes .* 1 of them is missing "
                                         r"\(first: \['Gata1'\]\), 1 gene is not in the model \(first: \['GATA1'\]\)"):
        renamed = krumsiek.copy()
        renamed.var_names = ["GATA1" if g == "Gata1" else g for g in renamed.var_names]
        DeepSEM.load(path, renamed)
    with pytest.raises(ValueError, match="another order .* position 0"):
        DeepSEM.load(path, krumsiek[:, ::-1].copy())
    with pytest.raises(ValueError, match="var_names"):
        case.model.get_latent_representation(krumsiek[:, 1:].copy())


def test_check_var_names_messages():
    check_var_names_match(["0", "1"], pd.RangeIndex(2))
    with pytest.raises(ValueError, match=r"7 of them are missing \(first: \['g3', 'g4', 'g5', 'g6', 'g7'\]\)"):
        check_var_names_match([f"g{i}" for i in range(10)], ["g0", "g1", "g2"])
    with pytest.raises(ValueError, match="duplicates"):
        check_var_names_match(["a", "b"], ["a", "b", "a"])


# -- save side ----------------------------------------------------------------------------------------
def test_save_refuses_a_file_path_and_untrained_models(cases, krumsiek, tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        cases["DeepSEM"].model.save(tmp_path / "f")
    with pytest.raises(RuntimeError, match="train"):
        DeepSEM(krumsiek, **DEEPSEM_FAST).save(tmp_path / "u")
    with pytest.raises(RuntimeError, match="train"):
        PairClassifier("cnn").save(tmp_path / "u")
    assert not (tmp_path / "u").exists()


def test_overwrite_removes_a_stale_history(cases, tmp_path):
    cases["DeepSEM"].model.save(tmp_path / "m")
    cases["PairClassifier"].model.save(tmp_path / "m", overwrite=True)
    assert not (tmp_path / "m" / "history.npz").exists()
    assert isinstance(cases["PairClassifier"].load(tmp_path / "m"), PairClassifier)


# -- one verb, one timing field ------------------------------------------------------------------------
def test_pair_classifier_fit_and_fit_seconds_are_deprecated_aliases(series):
    x, adjacency = series
    with pytest.warns(FutureWarning, match="PairClassifier.train"):
        clf = PairClassifier("cnn", n_models=1, n_epochs=1).fit([(x, adjacency)], show_progress_bar=False)
    assert clf.module is not None and clf.training_time_s > 0 and clf.training_cpu_time_s > 0
    with pytest.warns(FutureWarning, match="training_time_s"):
        assert clf.fit_seconds == clf.training_time_s
    with pytest.warns(FutureWarning, match="training_cpu_time_s"):
        assert clf.fit_cpu_seconds == clf.training_cpu_time_s


# -- eighth pass (issue 18): a loaded DeepSEM keeps the training cells' standardisation ------------------
def _trained_on_half():
    adata, _ = scgrn.datasets.krumsiek11()
    train, other = adata[:320].copy(), adata[320:].copy()
    model = DeepSEM(train, n_models=3, n_epochs=1, hidden_dim=4, batch_size=128)
    model.train(show_progress_bar=False)
    return model, train, other


@pytest.mark.filterwarnings("ignore:.*loop gain:UserWarning")
def test_load_with_other_cells_is_exact(tmp_path):
    """load(d, other cells) z-scores with the saved training statistics and latent signs: perturb and
    the latent of any cells equal the in-memory model's (they were taken from the load cells)."""
    model, train, other = _trained_on_half()
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert len(meta["standardisation"]["mean"]) == train.n_vars and len(meta["latent_signs"]) == 3
    loaded = DeepSEM.load(tmp_path / "m", other)
    for cells in (train, other):
        a, b = model.perturb({"Gata1": 0.0}, adata=cells), loaded.perturb({"Gata1": 0.0}, adata=cells)
        np.testing.assert_array_equal(a.perturbed, b.perturbed)
        np.testing.assert_array_equal(a.unperturbed, b.unperturbed)
        for units in ("standardised", "expression"):
            np.testing.assert_array_equal(model.get_latent_representation(cells, units=units),
                                          loaded.get_latent_representation(cells, units=units))
    np.testing.assert_array_equal(loaded.get_latent_representation(), model.get_latent_representation(other))
    out = scgrn.tl.perturb(other, perturbations={"Gata1": 0.0}, model=loaded)
    np.testing.assert_array_equal(out.X, model.perturb({"Gata1": 0.0}, adata=other).perturbed)


@pytest.mark.filterwarnings("ignore:.*loop gain:UserWarning")
def test_old_folder_without_statistics_loads_with_warning(tmp_path):
    """A folder saved before format version 2 (no statistics) loads with the cells' own statistics and
    a warning naming the fix; with the training cells the results are the saved model's."""
    model, train, other = _trained_on_half()
    model.save(tmp_path / "m")
    _edit_json(tmp_path / "m", lambda meta: [meta.pop("standardisation"), meta.pop("latent_signs"),
                                             meta.update(format_version=1)])
    with pytest.warns(UserWarning, match="stores no training statistics.*save it again"):
        loaded = DeepSEM.load(tmp_path / "m", train)
    np.testing.assert_array_equal(loaded.perturb({"Gata1": 0.0}).perturbed, model.perturb({"Gata1": 0.0}).perturbed)
    np.testing.assert_array_equal(loaded.get_latent_representation(), model.get_latent_representation())
    loaded.save(tmp_path / "again")  # saved again: exact whatever the load cells
    again = DeepSEM.load(tmp_path / "again", other)
    np.testing.assert_array_equal(again.perturb({"Gata1": 0.0}, adata=train).perturbed,
                                  model.perturb({"Gata1": 0.0}).perturbed)
    _edit_json(tmp_path / "again", lambda meta: meta["standardisation"].update(std=[0.0] * train.n_vars))
    _raises(ModelFileError, "standardisation", lambda: DeepSEM.load(tmp_path / "again", other))
