"""Input checks of the fourteenth pass (issue 18; the thirteenth adversarial run).

S1: a clamp value below 0 on non-negative data warns (a level, not a fold change); U1: a layer
missing from one AnnData of the metrics / pl.simulation names it; U2: train_deepsem refuses an
AnnData up front; U3: a misspelt PairClassifier hyperparameter lists the valid names; and the
memory budget message shows its sizes in a unit that keeps the numbers.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import scgrn
from scgrn.models._deepsem_training import format_bytes, plan_member_groups

FAST = dict(n_models=1, n_epochs=1, hidden_dim=4, batch_size=32)


def _cells(n_obs=60, n_vars=6, seed=0):
    rng = np.random.default_rng(seed)
    x = np.log1p(rng.poisson(2.0, size=(n_obs, n_vars))).astype(np.float32)
    a = ad.AnnData(x)
    a.var_names = [f"g{i}" for i in range(n_vars)]
    return a


@pytest.fixture(scope="module")
def _model():
    a = _cells()
    model = scgrn.models.DeepSEM(a, **FAST)
    model.train(show_progress_bar=False)
    return a, model


@pytest.mark.filterwarnings("ignore:every ensemble member")  # a 1-epoch model
def test_perturb_negative_clamp_on_log_data_warns(_model):
    a, model = _model
    with pytest.warns(UserWarning, match=r"perturbations\['g1'\] = -1 is below 0.*no negative values.*not fold changes.*log1p"):
        model.perturb({"g1": -1.0})
    with pytest.warns(UserWarning, match=r"perturbations\['g1'\] = -1 is below 0, but adata.X"):
        scgrn.tl.perturb(a, perturbations={"g1": -1.0}, model=model)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*is below 0")
        model.perturb({"g1": 0.0})  # a knockout: no warning


@pytest.mark.filterwarnings("ignore:every ensemble member")
def test_perturb_negative_clamp_on_scaled_data_is_silent():
    a = _cells()
    a.X = (a.X - a.X.mean(0)) / a.X.std(0)  # z-scored: negative values are levels on this scale
    model = scgrn.models.DeepSEM(a, **FAST)
    model.train(show_progress_bar=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*is below 0")
        model.perturb({"g1": -1.0})


@pytest.mark.parametrize("call", ["realism_auc", "simulation_closeness", "grn_consistency", "pl.simulation"])
def test_missing_layer_in_simulated_names_it(call):
    import matplotlib

    matplotlib.use("Agg")
    real = _cells(40)
    real.layers["counts"] = real.X.copy()
    sim = _cells(40, seed=1)  # as tl.simulate writes it: X only
    f = {
        "realism_auc": lambda: scgrn.metrics.realism_auc(real, sim, layer="counts", n_trees=3),
        "simulation_closeness": lambda: scgrn.metrics.simulation_closeness(real[:20], sim, real[20:], layer="counts"),
        "grn_consistency": lambda: scgrn.metrics.grn_consistency(real, sim, method="pearson", layer="counts"),
        "pl.simulation": lambda: scgrn.pl.simulation(real, sim, layer="counts", show=False),
    }[call]
    with pytest.raises(ValueError, match=r"layer='counts' is not in simulated.layers \(available layers: none\).*hold only X.*layer=None"):
        f()
    if call == "pl.simulation":
        import matplotlib.pyplot as plt

        plt.close("all")


def test_train_deepsem_refuses_anndata():
    a = _cells()
    with pytest.raises(TypeError, match=r"x must be a cells x genes matrix, got AnnData.*adata.X.*models.DeepSEM\(adata"):
        scgrn.models.train_deepsem(a, scgrn.models.make_config(**FAST), show_progress_bar=False)


def test_pair_classifier_unknown_hyperparameter_lists_valid_names():
    with pytest.raises(TypeError, match=r"Unknown PairClassifier hyperparameter\(s\) \['hidden'\]; valid names: \[.*'hidden_dim'"):
        scgrn.models.PairClassifier(arch="lstm", hidden=8)
    with pytest.raises(TypeError, match=r"Unknown PerturbODE hyperparameter\(s\) \['n_module'\]; valid names"):
        scgrn.models.PerturbODE(_cells(), n_module=3)


def test_memory_budget_message_shows_sizes():
    assert format_bytes(1000) == "1.0 KB" and format_bytes(12) == "12 B" and format_bytes(3.2e9) == "3.2 GB"
    with pytest.raises(scgrn.models.DoesNotFitError, match=r"needs about [0-9.]+ [KM]B, more than the memory budget of 1.0 KB"):
        plan_member_groups(50, 50, scgrn.models.make_config(), budget=1000)


# ---------------------------------------------------------------------------------------------
# fourteenth run: data scaled on more cells than are left (scanpy's pbmc68k_reduced) are
# centred but no longer have unit variances; pp.select_genes / bench.prepare_clustering
# ranked their genes by variance without a word
# ---------------------------------------------------------------------------------------------
def _scaled_then_subset(seed: int = 0) -> ad.AnnData:
    x = np.log1p(np.random.default_rng(seed).gamma(0.8, 3.0, size=(400, 40))).astype(np.float32)
    z = (x - x.mean(0)) / x.std(0)
    return ad.AnnData(z[:60].copy(), var=pd.DataFrame(index=[f"g{i}" for i in range(40)]))


def test_select_genes_refuses_data_scaled_then_subset():
    adata = _scaled_then_subset()
    assert np.abs(adata.X.var(0) - 1).min() > 1e-3  # the unit-variance rule alone would miss it
    with pytest.raises(ValueError, match="negative mean"):
        scgrn.pp.select_genes(adata, tfs=["g0", "g1"], n_top=10)


def test_prepare_clustering_refuses_scaled_data_and_raw_counts():
    with pytest.raises(ValueError, match="z-scored"):
        scgrn.bench.prepare_clustering(_scaled_then_subset(), n_top_genes=10)
    counts = ad.AnnData(np.random.default_rng(0).poisson(20, size=(50, 30)).astype(np.float32))
    with pytest.raises(ValueError, match="raw counts.*normalize_total"):
        scgrn.bench.prepare_clustering(counts, n_top_genes=10)


def test_log_data_with_rounding_negatives_still_pass():
    """krumsiek11 holds small negative values (down to -0.016) but no gene's mean is below 0."""
    adata, _ = scgrn.datasets.krumsiek11()
    assert adata.X.min() < 0
    scgrn.pp.select_genes(adata, tfs=["Gata2", "Pu.1"], n_top=5)
    assert scgrn.bench.prepare_clustering(adata, n_top_genes=5).n_vars == 5


# ---------------------------------------------------------------------------------------------
# fifteenth run: the bench helpers' numbers went unchecked to scanpy / scikit-learn
# (n_top_genes=0 kept every gene), train_deepsem(x, None), and a whole-number hint below the minimum
# ---------------------------------------------------------------------------------------------
def test_bench_numbers_are_checked_by_name():
    adata, _ = scgrn.datasets.krumsiek11()
    for call, name in (
        (lambda: scgrn.bench.prepare_clustering(adata, n_top_genes=0), "n_top_genes"),
        (lambda: scgrn.bench.prepare_clustering(adata, n_top_genes=5.5), "n_top_genes"),
        (lambda: scgrn.bench.embed_cells(adata, "pca", n_pcs=0), "n_pcs"),
        (lambda: scgrn.bench.embed_cells(adata, "pca", n_pcs="10"), "n_pcs"),
        (lambda: scgrn.bench.score_embedding(adata, np.ones((adata.n_obs, 3)), labels_key="cell_type", n_pcs=-3), "n_pcs"),
        (lambda: scgrn.bench.augmentation(adata, groupby="cell_type", target="Mo", test_size=1.5), "test_size"),
        (lambda: scgrn.bench.augmentation(adata, groupby="cell_type", target="Mo", test_size=0), "test_size"),
    ):
        with pytest.raises(ValueError, match=name):
            call()


def test_train_deepsem_names_a_missing_config():
    x = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    with pytest.raises(TypeError, match="config must be a DeepSEMConfig.*make_config"):
        scgrn.models.train_deepsem(x, None)


def test_whole_number_hint_is_an_accepted_value():
    with pytest.raises(TypeError, match=r"e\.g\. n_obs=1\."):
        scgrn.tl.simulate(scgrn.datasets.krumsiek11()[0], n_obs=0.5)


# ---------------------------------------------------------------------------------------------
# sixteenth run: group= / groups= with a key that holds no grouped run blamed a missing
# groupby= run and said group= where groups= was passed
# ---------------------------------------------------------------------------------------------
def test_group_lookup_names_the_grouped_run_that_exists():
    adata, _ = scgrn.datasets.krumsiek11()
    scgrn.tl.correlation(adata, groupby="cell_type")  # stored under 'pearson'
    with pytest.raises(ValueError, match=r"groups= names groups.*does not exist.*key='pearson'"):
        scgrn.get.edge_differences(adata, groups=("Ery", "Mk"))  # key left at 'deepsem'
    with pytest.raises(ValueError, match=r"group= names groups.*key='pearson'"):
        scgrn.get.edges(adata, group="Ery")
    assert len(scgrn.get.edge_differences(adata, key="pearson", groups=("Ery", "Mk"), top_k=3)) == 3
