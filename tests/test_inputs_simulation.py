"""Simulated and perturbed cells: tl.simulate, tl.perturb, simulation metrics, their plots.

Input checks from the adversarial runs (issue 18): see _inputs_helpers.py for how to read them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import scgrn
from scgrn._params import ParameterTypeError

from _inputs_helpers import _perturbed, _small, closes_figures

pytestmark = closes_figures


# ---------------------------------------------------------------------------------------------
# tl.simulate: groupby (first and fourth runs)
# ---------------------------------------------------------------------------------------------
def test_simulate_dict_n_obs_needs_groupby(adata):
    for tool in (scgrn.tl.simulate, scgrn.tl.simulate_baseline):
        with pytest.raises(ValueError, match=r"dict of cells per group, which needs groupby="):
            tool(adata, n_obs={"Ery": 5})


@pytest.mark.filterwarnings("ignore:adata.X has negative values")
def test_simulate_refuses_groupby_simulated():
    adata, _ = scgrn.datasets.krumsiek11()
    adata.obs["simulated"] = adata.obs["cell_type"].astype(str)
    with pytest.raises(ValueError, match="flag simulated cells"):
        scgrn.tl.simulate(adata, groupby="simulated", n_obs=10, n_models=2, n_epochs=1, show_progress_bar=False)


# ---------------------------------------------------------------------------------------------
# metrics.realism_auc explains an AUC far below 0.5 (simulated cells copying real ones; second run)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("noise", [0.0, 1e-3], ids=["copies", "near_copies"])
def test_realism_auc_warns_on_copies(adata, noise):
    a = _small(adata, 300)
    b = a.copy()
    b.X = b.X + noise * np.random.default_rng(0).normal(size=b.shape).astype(np.float32)
    with pytest.warns(UserWarning, match=r"far below 0.5.*twin in the training folds.*simulation_closeness"):
        auc = scgrn.metrics.realism_auc(a, b, n_pcs=5, n_trees=20)
    assert auc < 0.3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_realism_auc_of_different_real_cells_does_not_warn(seed):
    a, _ = scgrn.datasets.planted_network(n_genes=30, n_cells=400, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auc = scgrn.metrics.realism_auc(a[::2].copy(), a[1::2].copy(), n_pcs=5, n_trees=20, random_state=seed)
    assert 0.3 < auc < 0.7


def test_realism_auc_documents_values_below_half():
    doc = " ".join(scgrn.metrics.realism_auc.__doc__.split())
    assert "Values below 0.5 are not" in doc and "copies" in doc and "memorises" in doc


# ---------------------------------------------------------------------------------------------
# pl.perturbation checks key= against the records tl.perturb wrote, and the embedding (second run)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def _perturb_out():
    a, _ = scgrn.datasets.krumsiek11()
    a = a[:120].copy()
    a.X = np.clip(a.X, 0, None)
    a.obsm["X_umap"] = np.random.default_rng(0).normal(size=(a.n_obs, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # loop-gain warning of a 1-epoch model
        return scgrn.tl.perturb(a, perturbations={"Gata1": 0.0}, n_models=1, n_epochs=1, show_progress_bar=False)


@pytest.fixture
def perturb_out(_perturb_out):
    return _perturb_out.copy()


@pytest.mark.parametrize("key", ["perturb2", "dataset_x"])
def test_pl_perturbation_refuses_an_unknown_key(perturb_out, key):
    perturb_out.uns["dataset_x"] = {"name": "x"}  # something in uns, not a perturbation record
    with pytest.raises(KeyError, match=r"perturbation records here are \['perturb'\]: pass key="):
        scgrn.pl.perturbation(perturb_out, kind="bar", key=key, show=False)


def test_pl_perturbation_default_key_must_exist_when_records_do(perturb_out):
    perturb_out.uns["ko"] = perturb_out.uns.pop("perturb")
    with pytest.raises(KeyError, match=r"no 'perturb'.*\['ko'\]"):
        scgrn.pl.perturbation(perturb_out, kind="bar", show=False)
    ax = scgrn.pl.perturbation(perturb_out, kind="bar", key="ko", show=False)
    assert "Gata1" not in [t.get_text() for t in ax.get_yticklabels()] and "Gata1" in ax.get_title()


def test_pl_perturbation_without_any_record_still_plots(adata):
    ax = scgrn.pl.perturbation(_perturbed(adata), kind="bar", show=False)
    assert ax.get_title() == "perturbation"


@pytest.mark.parametrize(
    "embedding, match",
    [
        (lambda n: np.random.default_rng(0).normal(size=(n, 1)), r"X_umap'\] has 1 column\(s\), but 2 are needed"),
        (lambda n: np.where(np.arange(n)[:, None] == 3, np.nan, np.ones((n, 2))), r"X_umap'\] has NaN or infinite coordinates in 1 cell"),
        (lambda n: np.where(np.arange(n)[:, None] == 3, np.inf, np.ones((n, 2))), r"NaN or infinite coordinates"),
    ],
    ids=["one_column", "nan", "inf"],
)
@pytest.mark.parametrize("kind", ["arrows", "both"])
def test_pl_perturbation_checks_the_embedding(perturb_out, embedding, match, kind):
    perturb_out.obsm["X_umap"] = embedding(perturb_out.n_obs)
    with pytest.raises(ValueError, match=match):
        scgrn.pl.perturbation(perturb_out, kind=kind, show=False)


def test_pl_perturbation_arrows_on_a_good_embedding(perturb_out):
    assert scgrn.pl.perturbation(perturb_out, kind="arrows", n_neighbors=5, show=False).get_xlabel() == "UMAP1"


# ---------------------------------------------------------------------------------------------
# perturbations and simulated sets (fifth and sixth runs)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "perturbations, match",
    [
        ([{"a": 0.0}, {}], r"^perturbations\[1\] is empty"),
        ({}, r"^perturbations is empty"),
        ([{"a": 0.0}, {"x": 1.0}], r"^perturbations\[1\] names 1 gene\(s\) that are not in the model's genes: \['x'\]"),
        ([{"a": np.nan}], r"^perturbations\[0\]\['a'\] must be a finite number"),
    ],
    ids=["list_entry_empty", "dict_empty", "list_entry_unknown_gene", "list_entry_nan"],
)
def test_perturbations_name_the_entry(perturbations, match):
    from scgrn.models._perturb import check_perturbations

    with pytest.raises(ValueError, match=match):
        check_perturbations(perturbations, ["a", "b"])


def test_grn_consistency_names_a_small_simulated_set(adata):
    a = _small(adata)
    for sims, label in (({"ok": a, "empty": a[:0]}, r"simulated\['empty'\]"), (a[:5], "simulated")):
        with pytest.raises(ValueError, match=rf"^{label} has \d cell\(s\), but the judge \(pearson\) needs at least 10"):
            scgrn.metrics.grn_consistency(a, sims, method="pearson")


def test_marker_sizes_are_checked(adata):
    a = _small(adata)
    with pytest.raises(ValueError, match=r"^size must be a finite number > 0, got -1"):
        scgrn.pl.simulation(a, a, size=-1, show=False)
    with pytest.raises(ValueError, match=r"^size must be a finite number > 0, got 0"):
        scgrn.pl.perturbation(a, size=0, show=False)


def test_pl_simulation_names_a_missing_color(adata):
    """A bare KeyError: 'not_a_column', after the alignment."""
    a = _small(adata)
    with pytest.raises(ValueError, match=r"^color='nope' is not a column of simulated.obs \(columns: \['cell_type'\]\)"):
        scgrn.pl.simulation(a, a, color="nope", show=False)
    with pytest.raises(ValueError, match=r"^color='nope' is not a column of simulated\['s'\].obs"):
        scgrn.pl.simulation(a, {"s": a}, color="nope", show=False)
    with pytest.raises(ValueError, match=r"^color='cell_type' is a column of the simulated cells' obs, but simulated is an array"):
        scgrn.pl.simulation(a, a.X, color="cell_type", show=False)


def test_simulated_sets_must_be_one_set_or_a_named_mapping(adata):
    """{} gave pandas' 'No objects to concatenate', a list numpy's 'inhomogeneous shape'."""
    a = _small(adata)
    for call in (
        lambda s: scgrn.metrics.grn_consistency(a, s, method="pearson"),
        lambda s: scgrn.pl.simulation(a, s, show=False),
    ):
        with pytest.raises(ValueError, match=r"^simulated is empty: pass the simulated cells as an AnnData"):
            call({})
        with pytest.raises(ParameterTypeError, match=r"^simulated is a list of 2 items; several simulated sets must be named: pass a dict"):
            call([a[:60], a[60:]])
    with pytest.raises(ParameterTypeError, match=r"^simulated must be one AnnData or a cells x genes array, got a list of 2 items"):
        scgrn.metrics.realism_auc(a, [a[:60], a[60:]])
    res = scgrn.metrics.grn_consistency(a, {"s": a}, method="pearson", top=(0.1,))
    assert res["consistency"].tolist() == [1.0]


# ---------------------------------------------------------------------------------------------
# distribution metrics take matrices (eighth run)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["energy_distance", "sinkhorn_w2"])
def test_distribution_metrics_refuse_anndata_and_name_the_alternative(adata, metric):
    a = _small(adata, 60)
    with pytest.raises(TypeError, match="x is an AnnData.*simulation_closeness"):
        getattr(scgrn.metrics, metric)(a, a)
    assert getattr(scgrn.metrics, metric)(a.X, a.X) == pytest.approx(0.0, abs=1e-6)
