"""Inputs found by an adversarial run that were silently wrong or gave unclear errors.

One section per finding; each test fails on the behaviour that was found (a silently wrong result,
or a raw error that names neither the argument nor the fix) and passes with the fix in the shared
checks (``scgrn._validate`` / ``scgrn._params``) or in the one function concerned.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from scipy import sparse

import scgrn
from scgrn._params import ParameterTypeError
from scgrn._validate import checked_matrix, obs_groups
from scgrn.tl._pair_classifier import reference_adjacency

FAST_DEEPSEM = {"n_models": 2, "n_epochs": 2, "show_progress_bar": False}


@pytest.fixture
def krumsiek():
    a, truth = scgrn.datasets.krumsiek11()
    return a, truth


@pytest.fixture
def adata(krumsiek):
    return krumsiek[0]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _small(adata, n=120):
    a = adata[:n].copy()
    a.X = np.clip(a.X, 0, None)
    return a


# ---------------------------------------------------------------------------------------------
# 1. simulation metrics and plots match genes by name
# ---------------------------------------------------------------------------------------------
def test_realism_auc_matches_genes_by_name(adata):
    a = _small(adata)
    b = a[:, a.var_names[::-1]].copy()  # the same cells, genes in another order
    kw = {"n_pcs": 3, "n_trees": 5, "n_folds": 2}
    with pytest.warns(UserWarning, match="exact copies"):  # copies: see test_realism_auc_warns_on_copies
        assert scgrn.metrics.realism_auc(a, b, **kw) == scgrn.metrics.realism_auc(a, a.copy(), **kw)


def test_simulation_closeness_matches_genes_by_name(adata):
    a = _small(adata)
    b = a[:, a.var_names[::-1]].copy()
    res = scgrn.metrics.simulation_closeness(a, b, a)
    assert res["identical_fraction"] == 1.0 and res["nn_simulated"] == 0.0


def test_grn_consistency_matches_genes_by_name(adata):
    a = _small(adata)
    b = a[:, a.var_names[::-1]].copy()
    res = scgrn.metrics.grn_consistency(a, b, method="pearson", top=(0.05, 0.2))
    assert res["consistency"].tolist() == [1.0, 1.0]


def _other_genes(a):
    b = a.copy()
    b.var_names = [f"x{i}" if i == 0 else g for i, g in enumerate(a.var_names)]
    return b


@pytest.mark.parametrize(
    "call",
    [
        lambda a, b: scgrn.metrics.realism_auc(a, b, n_pcs=3, n_trees=5),
        lambda a, b: scgrn.metrics.simulation_closeness(a, b, a),
        lambda a, b: scgrn.metrics.simulation_closeness(a, a, b),
        lambda a, b: scgrn.metrics.grn_consistency(a, b, method="pearson"),
        lambda a, b: scgrn.pl.simulation(a, b, n_pcs=3, show=False),
        lambda a, b: scgrn.pl.simulation(a, {"sim": b}, n_pcs=3, show=False),
    ],
    ids=["realism_auc", "closeness_simulated", "closeness_heldout", "grn_consistency", "pl", "pl_dict"],
)
def test_different_genes_are_refused_naming_them(adata, call):
    a = _small(adata)
    with pytest.raises(ValueError, match=r"same genes.*'Gata2'.*'x0'"):
        call(a, _other_genes(a))


def test_pl_simulation_accepts_reordered_genes(adata):
    a = _small(adata)
    ax = scgrn.pl.simulation(a, a[:, a.var_names[::-1]].copy(), n_pcs=3, n_neighbors=5, show=False)
    assert ax.get_xlabel() == "UMAP1"


# ---------------------------------------------------------------------------------------------
# 2. group labels that print the same are refused; mixed types sort by text
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("categorical", [True, False])
def test_labels_written_the_same_are_refused(adata, categorical):
    labels = np.array([1, "1"], dtype=object)[np.arange(adata.n_obs) % 2]
    adata.obs["g"] = pd.Categorical(labels) if categorical else labels
    with pytest.raises(ValueError, match=r"written the same \(1 \(int\) and '1' \(str\)\)"):
        scgrn.tl.correlation(adata, groupby="g")
    assert "pearson" not in adata.uns and not list(adata.varp)


def test_mixed_type_labels_sort_by_text(adata):
    adata.obs["g"] = np.array([1, "y", "x"], dtype=object)[np.arange(adata.n_obs) % 3]
    scgrn.tl.correlation(adata, groupby="g")
    assert list(adata.uns["pearson"]["groups"]) == ["1", "x", "y"]
    assert sorted(adata.varp) == ["pearson_1", "pearson_x", "pearson_y"]
    _, cells = obs_groups(adata, "g")
    assert sum(len(c) for c in cells) == adata.n_obs


# ---------------------------------------------------------------------------------------------
# 3. finite float64 values beyond the float32 range
# ---------------------------------------------------------------------------------------------
def _overflowing(adata, kind="dense"):
    X = adata.X.astype(np.float64)
    X[0, 0] = 1e39
    adata.X = sparse.csr_matrix(X) if kind == "csr" else X
    return adata


@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_checked_matrix_refuses_values_beyond_float32(adata, kind):
    with pytest.raises(ValueError, match=r"1 value\(s\) beyond the float32 range.*'Gata2'"):
        checked_matrix(_overflowing(adata, kind))


@pytest.mark.parametrize(
    "tool",
    [
        lambda a: scgrn.tl.correlation(a),
        lambda a: scgrn.tl.partial_correlation(a),
        lambda a: scgrn.tl.grnboost2(a, n_estimators=5, show_progress_bar=False),
        lambda a: scgrn.tl.deepsem(a, **FAST_DEEPSEM),
        lambda a: scgrn.pp.select_genes(a, tfs=["Gata1"]),
    ],
    ids=["correlation", "partial_correlation", "grnboost2", "deepsem", "select_genes"],
)
def test_tools_refuse_values_beyond_float32(adata, tool):
    with pytest.raises(ValueError, match="beyond the float32 range"):
        tool(_overflowing(adata))
    assert not list(adata.varp)


def test_large_values_within_float32_pass(adata):
    X = adata.X.astype(np.float64)
    X[0, 0] = 1e30
    adata.X = X
    checked_matrix(adata)


# ---------------------------------------------------------------------------------------------
# 4. per-group errors name the group and the cause
# ---------------------------------------------------------------------------------------------
def test_group_whose_tfs_are_all_constant_is_named(adata):
    adata.X = np.clip(adata.X, 0, None)
    adata.X[(adata.obs["cell_type"] == "Ery").to_numpy(), adata.var_names.get_loc("Gata1")] = 0
    with pytest.raises(ValueError, match=r"group 'Ery'.*every TF given \('Gata1'\) is constant"):
        scgrn.tl.deepsem(adata, tfs=["Gata1"], groupby="cell_type", **FAST_DEEPSEM)


@pytest.mark.parametrize("tool", [scgrn.tl.correlation, scgrn.tl.pidc])
def test_group_whose_genes_are_all_constant_is_named(adata, tool):
    adata.obs["g"] = np.where(np.arange(adata.n_obs) < 20, "flat", "rest")
    adata.X[:20] = 1.0
    with pytest.raises(ValueError, match=r"group 'flat'.*\(20 cells\) every gene is constant"):
        tool(adata, groupby="g")
    assert not list(adata.varp)


# ---------------------------------------------------------------------------------------------
# 5. tfs as a one-shot iterator
# ---------------------------------------------------------------------------------------------
TFS = ["Gata1", "Pu.1"]


@pytest.mark.parametrize(
    "tool",
    [
        lambda a, tfs: scgrn.tl.correlation(a, tfs=tfs, copy=True).varp["pearson"],
        lambda a, tfs: scgrn.tl.partial_correlation(a, tfs=tfs, copy=True).varp["partial_correlation"],
        lambda a, tfs: scgrn.tl.pidc(a, tfs=tfs, copy=True, show_progress_bar=False).varp["pidc"],
        lambda a, tfs: scgrn.tl.genie3(a, tfs=tfs, copy=True, n_estimators=5, show_progress_bar=False).varp["genie3"],
        lambda a, tfs: scgrn.tl.deepsem(a, tfs=tfs, copy=True, **FAST_DEEPSEM).varp["deepsem"],
        lambda a, tfs: scgrn.tl.correlation(a, tfs=tfs, groupby="cell_type", copy=True).varp["pearson_Ery"],
        lambda a, tfs: scgrn.pp.select_genes(a, tfs=tfs, n_top=3, copy=True).var["scgrn_selected"].to_numpy(),
        lambda a, tfs: scgrn.metrics.grn_consistency(a[:200], a[200:400], method="pearson", tfs=tfs)["consistency"].to_numpy(),
    ],
    ids=["correlation", "partial_correlation", "pidc", "genie3", "deepsem", "grouped", "select_genes", "grn_consistency"],
)
def test_tfs_generator_is_read_once(adata, tool):
    expected = tool(adata.copy(), list(TFS))
    got = tool(adata.copy(), (g for g in TFS))
    np.testing.assert_array_equal(got, expected)


def test_dyngenie3_tfs_generator(adata):
    ts, _ = scgrn.datasets.planted_time_series(n_genes=6, n_series=3, n_times=5)
    kw = {"n_estimators": 5, "show_progress_bar": False, "copy": True}
    expected = scgrn.tl.dyngenie3(ts, tfs=["g0", "g1"], **kw).varp["dyngenie3"]
    got = scgrn.tl.dyngenie3(ts, tfs=iter(["g0", "g1"]), **kw).varp["dyngenie3"]
    np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------------------------------------
# 6. flags are True/False (None where documented), never truthy strings or 0/1
# ---------------------------------------------------------------------------------------------
def _grn(adata):
    scgrn.tl.correlation(adata, tfs=["Gata1", "Pu.1"])
    return adata


def _grouped(adata):
    scgrn.tl.correlation(adata, groupby="cell_type")
    return adata


def _perturbed(adata):
    p = adata[:60].copy()
    p.layers["delta"] = np.zeros(p.shape, dtype=np.float32)
    p.var["delta"] = 0.0
    return p


BAD_FLAGS = {
    "edges_tfs_only": ("tfs_only", lambda a, v: scgrn.get.edges(_grn(a), key="pearson", tfs_only=v)),
    "edge_differences_tfs_only": (
        "tfs_only",
        lambda a, v: scgrn.get.edge_differences(_grouped(a), key="pearson", groups=("Ery", "Mk"), tfs_only=v),
    ),
    "deepsem_bar": ("show_progress_bar", lambda a, v: scgrn.tl.deepsem(a, n_models=2, n_epochs=2, show_progress_bar=v)),
    "deepsem_grouped_bar": (
        "show_progress_bar",
        lambda a, v: scgrn.tl.deepsem(a, n_models=2, n_epochs=2, groupby="cell_type", show_progress_bar=v),
    ),
    "grnboost2_bar": ("show_progress_bar", lambda a, v: scgrn.tl.grnboost2(a, n_estimators=5, show_progress_bar=v)),
    "genie3_bar": ("show_progress_bar", lambda a, v: scgrn.tl.genie3(a, n_estimators=5, show_progress_bar=v)),
    "pidc_bar": ("show_progress_bar", lambda a, v: scgrn.tl.pidc(a, show_progress_bar=v)),
    "simulate_bar": ("show_progress_bar", lambda a, v: scgrn.tl.simulate(a, n_models=1, n_epochs=1, show_progress_bar=v)),
    "perturb_bar": (
        "show_progress_bar",
        lambda a, v: scgrn.tl.perturb(a, perturbations={"Gata1": 0.0}, n_models=1, n_epochs=1, show_progress_bar=v),
    ),
    "perturbode_bar": ("show_progress_bar", lambda a, v: scgrn.tl.perturbode(a, show_progress_bar=v)),
    "dyngenie3_bar": ("show_progress_bar", lambda a, v: scgrn.tl.dyngenie3(a, show_progress_bar=v)),
    "pair_classifier_bar": ("show_progress_bar", lambda a, v: scgrn.tl.pair_classifier(a, train=[], show_progress_bar=v)),
    "history_log": ("log", lambda a, v: scgrn.pl.training_history({"loss": np.arange(1.0, 4.0)}, log=v, show=False)),
    "grn_show": ("show", lambda a, v: scgrn.pl.grn(_grn(a), key="pearson", show=v)),
    "grn_return_fig": ("return_fig", lambda a, v: scgrn.pl.grn(_grn(a), key="pearson", return_fig=v, show=False)),
    "perturbation_include": (
        "include_perturbed",
        lambda a, v: scgrn.pl.perturbation(_perturbed(a), kind="bar", include_perturbed=v, show=False),
    ),
    "early_precision_ties": ("include_ties", lambda a, v: scgrn.metrics.early_precision([1, 0], [0.9, 0.1], include_ties=v)),
    "select_genes_subset": ("subset", lambda a, v: scgrn.pp.select_genes(a, tfs=["Gata1"], subset=v)),
}


@pytest.mark.parametrize("value", ["no", 1, "True"])
@pytest.mark.parametrize("case", list(BAD_FLAGS))
def test_flags_refuse_non_bools(adata, case, value):
    name, call = BAD_FLAGS[case]
    with pytest.raises(ParameterTypeError, match=rf"^{name} must be True(,| or) False"):
        call(adata, value)
    assert not [k for k in adata.varp if not k.startswith("pearson")]


@pytest.mark.parametrize("value", ["no", 1])
@pytest.mark.parametrize(
    "call",
    [
        lambda a, v: scgrn.models.DeepSEM(a, tfs=["Gata1"], tf_rows_only=v),
        lambda a, v: scgrn.tl.deepsem(a, embedding=v, **FAST_DEEPSEM),
        lambda a, v: scgrn.tl.partial_correlation(a, shrinkage=v),
    ],
    ids=["tf_rows_only", "embedding", "shrinkage"],
)
def test_flags_or_auto_refuse_other_values(adata, call, value):
    """``True``, ``False`` or ``"auto"``: ``1`` is not ``True`` here either."""
    with pytest.raises(ValueError, match=r"must be one of \['auto', True, False\]"):
        call(adata, value)


def test_flags_accept_numpy_bools_and_none(adata):
    scgrn.tl.correlation(adata)
    adata.uns["pearson"]["tfs"] = ["Gata1", "Pu.1"]
    assert set(scgrn.get.edges(adata, key="pearson", tfs_only=np.False_)["source"]) > {"Gata1", "Pu.1"}
    assert set(scgrn.get.edges(adata, key="pearson", tfs_only=None)["source"]) == {"Gata1", "Pu.1"}
    assert set(scgrn.get.edges(adata, key="pearson", tfs_only=np.True_)["source"]) == {"Gata1", "Pu.1"}
    scgrn.tl.pidc(adata, show_progress_bar=np.False_)


def test_settings_show_progress_bar_is_checked_when_set():
    before = scgrn.settings.show_progress_bar
    with pytest.raises(ParameterTypeError, match=r"scgrn.settings.show_progress_bar must be True or False.*'no'"):
        scgrn.settings.show_progress_bar = "no"
    assert scgrn.settings.show_progress_bar is before
    scgrn.settings.show_progress_bar = np.False_
    try:
        assert scgrn.settings.show_progress_bar is False
    finally:
        scgrn.settings.show_progress_bar = before


# ---------------------------------------------------------------------------------------------
# 7. scgrn.settings.n_threads is gone, with a message
# ---------------------------------------------------------------------------------------------
def test_settings_n_threads_is_removed_with_a_message():
    with pytest.raises(AttributeError, match="n_threads was removed.*OMP_NUM_THREADS"):
        scgrn.settings.n_threads = 2
    with pytest.raises(AttributeError, match="n_threads was removed"):
        scgrn.settings.n_threads  # noqa: B018
    with pytest.raises(AttributeError, match="no setting 'shwo_progress_bar'"):
        scgrn.settings.shwo_progress_bar = False


# ---------------------------------------------------------------------------------------------
# 8. pp.select_genes checks var[pvalue_key]
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "values, match",
    [
        (np.nan, "NaN for all 11 genes"),
        (-1.0, r"outside \[0, 1\]"),
        (2.0, r"outside \[0, 1\]"),
        ("0.001", "numeric p-values"),
    ],
    ids=["all_nan", "negative", "above_one", "strings"],
)
@pytest.mark.parametrize("subset", [False, True])
def test_select_genes_refuses_bad_pvalues(adata, values, match, subset):
    adata.var["pv"] = values
    with pytest.raises(ValueError, match=match):
        scgrn.pp.select_genes(adata, tfs=["Gata1"], pvalue_key="pv", subset=subset)
    assert adata.shape == (640, 11) and "scgrn_selected" not in adata.var


def test_select_genes_nan_pvalue_of_a_tf_warns_naming_it(adata):
    adata.var["pv"] = 0.0
    adata.var.loc["Gata1", "pv"] = np.nan
    with pytest.warns(UserWarning, match=r"NaN for 1 of 11 genes, among them 1 TF\(s\) \('Gata1'\)"):
        scgrn.pp.select_genes(adata, tfs=["Gata1", "Pu.1"], pvalue_key="pv")
    assert not adata.var.loc["Gata1", "scgrn_selected"] and adata.var.loc["Pu.1", "scgrn_selected"]


def test_select_genes_empty_selection(adata):
    adata.var["pv"] = 0.5  # nothing significant
    with pytest.raises(ValueError, match="No gene is selected.*subset=True would leave 0 genes"):
        scgrn.pp.select_genes(adata, tfs=["Gata1"], pvalue_key="pv", subset=True)
    assert adata.n_vars == 11 and "scgrn_selected" not in adata.var
    with pytest.warns(UserWarning, match="No gene is selected"):
        scgrn.pp.select_genes(adata, tfs=["Gata1"], pvalue_key="pv")


# ---------------------------------------------------------------------------------------------
# 9. get.edges_from_matrix refuses duplicated names
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_edges_from_matrix_refuses_duplicated_names(fmt):
    W = np.arange(9.0).reshape(3, 3)
    W = sparse.csr_matrix(W) if fmt == "csr" else W
    with pytest.raises(ValueError, match=r"duplicated gene name\(s\) \('a'\)"):
        scgrn.get.edges_from_matrix(W, ["a", "a", "b"])


# ---------------------------------------------------------------------------------------------
# 10. package errors instead of raw ones
# ---------------------------------------------------------------------------------------------
RAW_ERRORS = {
    "pl_grn_consistency_table": (ValueError, r"no column\(s\) \['top', 'consistency'\]", lambda a, t: scgrn.pl.grn_consistency(pd.DataFrame({"x": [1]}), show=False)),
    "pl_grn_consistency_type": (TypeError, "must be a DataFrame", lambda a, t: scgrn.pl.grn_consistency({"s": [1, 2]}, show=False)),
    "top_edge_overlap_names": (
        ParameterTypeError,
        "regulators must be integer row positions.*gene names",
        lambda a, t: scgrn.metrics.top_edge_overlap(np.eye(3), np.eye(3), regulators=np.array(["Gata1"])),
    ),
    "top_edge_overlap_range": (
        ValueError, "outside the 3 genes", lambda a, t: scgrn.metrics.top_edge_overlap(np.eye(3), np.eye(3), regulators=[5]),
    ),
    "random_baseline_seed": (
        ParameterTypeError, "^random_state must be an integer seed",
        lambda a, t: scgrn.metrics.random_baseline(t, a.var_names, random_state="x"),
    ),
    "realism_seed": (
        ParameterTypeError, "^random_state must be",
        lambda a, t: scgrn.metrics.realism_auc(a.X, a.X, random_state=1.5),
    ),
    "sinkhorn_seed": (ParameterTypeError, "^random_state must be", lambda a, t: scgrn.metrics.sinkhorn_w2(a.X, a.X, random_state="0")),
    "pl_grn_seed": (ParameterTypeError, "^random_state must be", lambda a, t: scgrn.pl.grn(_grn(a), key="pearson", random_state="x", show=False)),
    "pl_simulation_seed": (ParameterTypeError, "^random_state must be", lambda a, t: scgrn.pl.simulation(a, a, random_state="x", show=False)),
    "realism_n_folds": (ValueError, r"^n_folds must be an integer >= 2, got 1", lambda a, t: scgrn.metrics.realism_auc(a.X, a.X, n_folds=1)),
    "realism_log1p": (ValueError, r"^log1p must be one of", lambda a, t: scgrn.metrics.realism_auc(a.X, a.X, log1p=1)),
    "pl_grn_ax": (ParameterTypeError, r"^ax must be a matplotlib Axes or None, got 'left'", lambda a, t: scgrn.pl.grn(_grn(a), key="pearson", ax="left")),
    "pl_history_ax": (ParameterTypeError, r"^ax must be", lambda a, t: scgrn.pl.training_history({"loss": [1.0, 2.0]}, ax=["x"])),
    "pl_box_ax": (
        ParameterTypeError, r"^ax must be",
        lambda a, t: scgrn.pl.benchmark_box(pd.DataFrame({"method": ["m"], "dataset": ["d"], "AUROC": [0.5]}), metric="AUROC", convention=None, ax=1),
    ),
}


@pytest.mark.parametrize("case", list(RAW_ERRORS))
def test_errors_name_the_argument(krumsiek, case):
    a, truth = krumsiek
    kind, match, call = RAW_ERRORS[case]
    with pytest.raises(kind, match=match):
        call(a, truth)


def test_tf_activity_refuses_unknown_kwargs(adata):
    pytest.importorskip("decoupler")
    _grn(adata)
    with pytest.raises(TypeError, match=r"\['foo'\] that decoupler.mt.ulm does not take; its options are \[.*'bsize'"):
        scgrn.tl.tf_activity(adata, key="pearson", n_targets=5, tmin=3, foo=1)
    assert "tf_activity" not in adata.obsm


# ---------------------------------------------------------------------------------------------
# 11. messages that said the wrong thing
# ---------------------------------------------------------------------------------------------
def test_pl_grn_all_nan_network_says_nan(adata):
    adata.varp["bad"] = np.full((adata.n_vars, adata.n_vars), np.nan, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match=r"\d+ NaN weight\(s\).*training\s+diverged"):
            scgrn.pl.grn(adata, key="bad", show=False)


def test_pl_grn_empty_genes(adata):
    scgrn.tl.correlation(adata)  # no TF list recorded
    with pytest.raises(ValueError, match="`genes` is empty"):
        scgrn.pl.grn(adata, key="pearson", genes=[], show=False)


def test_simulate_dict_n_obs_needs_groupby(adata):
    for tool in (scgrn.tl.simulate, scgrn.tl.simulate_baseline):
        with pytest.raises(ValueError, match=r"dict of cells per group, which needs groupby="):
            tool(adata, n_obs={"Ery": 5})


# ---------------------------------------------------------------------------------------------
# 12. cells and genes swapped
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tool",
    [lambda a: scgrn.tl.correlation(a), lambda a: scgrn.tl.pidc(a, show_progress_bar=False), lambda a: scgrn.tl.deepsem(a, **FAST_DEEPSEM)],
    ids=["correlation", "pidc", "deepsem"],
)
def test_transposed_matrix_with_unnamed_genes_is_refused(adata, tool):
    b = adata.T.copy()  # 11 'cells' (the genes) x 640 'genes' named '0', ..., '0-1', ...
    with pytest.raises(ValueError, match=r"var_names are row numbers.*look like gene symbols.*adata = adata.T"):
        tool(b)
    assert not list(b.varp)


def _named(n_obs, n_vars, obs, var):
    X = np.random.default_rng(0).gamma(2.0, 1.0, size=(n_obs, n_vars)).astype(np.float32)
    return ad.AnnData(X, obs=pd.DataFrame(index=obs), var=pd.DataFrame(index=var))


@pytest.mark.parametrize(
    "obs, var",
    [
        ([f"HSPC_{i:03d}" for i in range(12)], [str(i) for i in range(20)]),  # cells with underscores
        ([f"{r}{c}" for r in "AB" for c in range(1, 7)], [str(i) for i in range(20)]),  # plate wells
        ([f"HSC{i}" for i in range(12)], [str(i) for i in range(20)]),  # an enumeration
        (["Gata1", "Pu.1", "Fli1", "Klf1", "Spi1", "Cebpa", "Gfi1", "Ikzf1", "Tal1", "Runx1", "Myb", "Meis1"],
         [str(7157 + 13 * i) for i in range(20)]),  # numeric gene ids (Entrez) are not row numbers
    ],
    ids=["underscored_cells", "wells", "enumerated_cells", "entrez_genes"],
)
def test_orientation_heuristic_does_not_misfire(obs, var):
    a = _named(len(obs), len(var), obs, var)
    scgrn.tl.correlation(a)
    assert a.varp["pearson"].shape == (20, 20)


def test_read_beeline_folder_refuses_cells_in_rows(tmp_path):
    genes = [f"g{i}" for i in range(5)]
    x = np.random.default_rng(0).random((30, 5))
    pd.DataFrame(x, index=[f"cell{i}" for i in range(30)], columns=genes).to_csv(tmp_path / "ExpressionData.csv")
    pd.DataFrame({"Gene1": ["g0", "g1"], "Gene2": ["g1", "g2"]}).to_csv(tmp_path / "refNetwork.csv", index=False)
    with pytest.raises(ValueError, match=r"None of the 3 genes of refNetwork.csv is a row.*3 are among its columns.*transpose"):
        scgrn.datasets.read_beeline_folder(tmp_path)
    pd.DataFrame(x.T, index=genes, columns=[f"cell{i}" for i in range(30)]).to_csv(tmp_path / "ExpressionData.csv")
    adata, net = scgrn.datasets.read_beeline_folder(tmp_path)
    assert adata.shape == (30, 5) and len(net) == 2


# ---------------------------------------------------------------------------------------------
# 13. key hygiene
# ---------------------------------------------------------------------------------------------
def test_grouped_run_does_not_overwrite_unrelated_result(adata):
    scgrn.tl.correlation(adata, key_added="x_Ery", method="spearman")
    before = adata.varp["x_Ery"].copy()
    with pytest.raises(ValueError, match=r"would write its networks to \['x_Ery'\].*key_added="):
        scgrn.tl.correlation(adata, key_added="x", groupby="cell_type")
    np.testing.assert_array_equal(adata.varp["x_Ery"], before)
    assert adata.uns["x_Ery"]["method"] == "spearman" and "x" not in adata.uns


def test_grouped_run_is_refused_before_training(adata, monkeypatch):
    adata.varp["deepsem_Ery"] = np.zeros((adata.n_vars,) * 2, dtype=np.float32)

    def fail(*args, **kwargs):
        raise AssertionError("trained before the key check")

    monkeypatch.setattr(scgrn.models.DeepSEM, "train", fail)
    with pytest.raises(ValueError, match="would write its networks to"):
        scgrn.tl.deepsem(adata, groupby="cell_type", **FAST_DEEPSEM)


def test_grouped_rerun_overwrites_its_own_keys(adata):
    scgrn.tl.correlation(adata, groupby="cell_type")
    scgrn.tl.correlation(adata, groupby="cell_type", method="pearson")
    adata.uns.pop("pearson")  # an index lost (e.g. an older run): the records still name the run
    scgrn.tl.correlation(adata, groupby="cell_type")
    assert len(adata.uns["pearson"]["keys"]) == 5


def test_ungrouped_run_removes_the_grouped_runs_keys(adata):
    scgrn.tl.correlation(adata, groupby="cell_type")
    scgrn.tl.correlation(adata)
    assert list(adata.varp) == ["pearson"]
    assert not [k for k in adata.uns if k.startswith("pearson_")]
    assert "groupby" not in adata.uns["pearson"]


def _ref_with_nan(column):
    ref = pd.DataFrame({"source": ["Gata1", "Pu.1"], "target": ["Gata2", "Fli1"]})
    ref.loc[1, column] = np.nan
    return ref


@pytest.mark.parametrize("column", ["source", "target"])
@pytest.mark.parametrize(
    "call",
    [
        lambda a, ref: scgrn.metrics.evaluate_grn(a, ref, key="pearson"),
        lambda a, ref: scgrn.metrics.random_baseline(ref, a.var_names, n_repeats=1),
        lambda a, ref: scgrn.metrics.precision_recall_at_k(a, ref, key="pearson"),
        lambda a, ref: scgrn.metrics.evaluate_grn(ref.assign(weight=1.0), ref.fillna("Gata2"), var_names=a.var_names),
        lambda a, ref: scgrn.tl._pair_classifier.reference_adjacency(ref, a.var_names),
    ],
    ids=["evaluate_grn", "random_baseline", "precision_recall_at_k", "long_grn", "reference_adjacency"],
)
def test_reference_rows_with_nan_names_are_refused(adata, column, call):
    scgrn.tl.correlation(adata)
    adata.var_names = [*adata.var_names[:-1], "nan"]  # a gene named 'nan' would match the NaN
    with pytest.raises(ValueError, match=rf"1 row\(s\) with a missing gene name \(NaN\) in '{column}'"):
        call(adata, _ref_with_nan(column))


# =============================================================================================
# Second adversarial run (cases_g): one section per finding
# =============================================================================================
def _counts_log(n_cells=300, n_genes=60, seed=0):
    """Log-normalised expression of simulated counts (genes of very different levels)."""
    rng = np.random.default_rng(seed)
    mean = rng.lognormal(0.0, 1.5, size=n_genes)
    counts = rng.poisson(mean * rng.gamma(2.0, 0.5, size=(n_cells, 1)))
    x = np.log1p(counts / np.maximum(counts.sum(1, keepdims=True), 1) * 1e4)
    return ad.AnnData(x.astype(np.float32), var=pd.DataFrame(index=[f"G{i}" for i in range(n_genes)]))


# ---------------------------------------------------------------------------------------------
# 1. pp.select_genes refuses z-scored data (variance ranking would be rounding noise)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "scale",
    [
        lambda a: sc.pp.scale(a),
        lambda a: sc.pp.scale(a, max_value=2),  # clipped: some genes lose their unit variance
        lambda a: sc.pp.scale(a, zero_center=False),  # no negative values, still unit variance
        lambda a: setattr(a, "X", sparse.csr_matrix((a.X - a.X.mean(0)) / a.X.std(0))),
    ],
    ids=["scale", "max_value", "not_centred", "csr_population_sd"],
)
def test_select_genes_refuses_z_scored_data(adata, scale):
    adata.X = np.clip(adata.X, 0, None)
    scale(adata)
    with pytest.raises(ValueError, match=r"adata.X looks z-scored.*variance 1.*layer='log'.*adata.raw"):
        scgrn.pp.select_genes(adata, tfs=["Gata1"], n_top=3)
    assert "scgrn_selected" not in adata.var


def test_select_genes_on_the_log_layer_of_scaled_data(adata):
    adata.X = np.clip(adata.X, 0, None)
    adata.layers["log"] = adata.X.copy()
    sc.pp.scale(adata)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scgrn.pp.select_genes(adata, tfs=["Gata1"], n_top=3, layer="log")
    assert adata.var["scgrn_selected"].sum() == 4


def test_z_scored_sparse_data_with_clipped_rare_genes_is_detected():
    """Most genes rare: sc.pp.scale(max_value=10) clips them, and only a minority keeps variance 1."""
    rng = np.random.default_rng(0)
    x = rng.poisson(0.002, size=(3000, 200)) * rng.integers(1, 4, size=(3000, 200))  # rare genes
    x[:, :12] = rng.poisson(2.0, size=(3000, 12))  # a few common ones
    b = ad.AnnData(np.log1p(x).astype(np.float32))
    b = b[:, np.asarray((b.X > 0).sum(0)).ravel() > 0].copy()
    sc.pp.scale(b, max_value=10)
    with pytest.raises(ValueError, match="looks z-scored"):
        checked_matrix(b, refuse_z_scored="why.", min_cells=1)


@pytest.mark.parametrize(
    "make",
    [
        lambda a: _small(a, 640),
        lambda a: scgrn.datasets.planted_network(n_genes=30, n_cells=200)[0],
        lambda a: _counts_log(),
        lambda a: _counts_log(n_genes=2000, seed=1),
        lambda a: ad.AnnData(_counts_log().X - _counts_log().X.mean(0), var=_counts_log().var),  # centred only
    ],
    ids=["krumsiek11", "planted", "log_counts", "log_counts_2000_genes", "centred_not_scaled"],
)
def test_select_genes_on_log_data_does_not_warn(adata, make):
    a = make(adata)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scgrn.pp.select_genes(a, tfs=list(a.var_names[:2]), n_top=5)
    assert a.var["scgrn_selected"].sum() >= 5


# ---------------------------------------------------------------------------------------------
# 2. get.edges_from_matrix reads a DataFrame by its labels
# ---------------------------------------------------------------------------------------------
def _labelled(order):
    W = pd.DataFrame(0.0, index=order, columns=order)
    W.loc["C", "B"] = 1.0  # C -> B
    W.loc["A", "C"] = -0.5  # A -| C
    return W


@pytest.mark.parametrize("order", [list("CBA"), list("BAC"), list("ABC")])
def test_edges_from_matrix_reads_dataframe_labels(order):
    got = scgrn.get.edges_from_matrix(_labelled(order), ["A", "B", "C"])
    assert got[["source", "target"]].values.tolist() == [["C", "B"], ["A", "C"]]
    assert got["weight"].tolist() == [1.0, -0.5]


def test_edges_from_matrix_agrees_with_evaluate_grn_on_a_dataframe():
    W = _labelled(list("CBA"))
    ref = pd.DataFrame({"source": ["C", "A"], "target": ["B", "B"]})
    via_edges = scgrn.get.edges_from_matrix(W, list("ABC"))
    direct = scgrn.metrics.evaluate_grn(W, ref)
    assert direct == scgrn.metrics.evaluate_grn(via_edges, ref, var_names=list("ABC"))
    assert direct["EP"] == 0.5  # C -> B found; read by position, A -> B would have been the top edge
    assert scgrn.metrics.evaluate_grn(W, ref, var_names=list("ABC")) == direct  # labels, in that order
    with pytest.raises(ValueError, match="does not match"):
        scgrn.metrics.evaluate_grn(W, ref, var_names=list("ABD"))


@pytest.mark.parametrize(
    "frame, match",
    [
        (_labelled(list("CBA")).set_axis(list("CBX"), axis=0), r"index \(rows\) does not match.*\('A'\).*\('X'\)"),
        (_labelled(list("CBA")).set_axis(list("CBX"), axis=1), r"columns does not match.*\('A'\).*\('X'\)"),
    ],
    ids=["index", "columns"],
)
def test_edges_from_matrix_refuses_dataframe_labels_that_differ(frame, match):
    with pytest.raises(ValueError, match=match + ".*read by its labels"):
        scgrn.get.edges_from_matrix(frame, ["A", "B", "C"])


def test_edges_from_matrix_reads_an_unlabelled_dataframe_by_position():
    W = np.zeros((3, 3))
    W[2, 1] = 1.0
    got = scgrn.get.edges_from_matrix(pd.DataFrame(W), ["A", "B", "C"])
    assert got[["source", "target"]].values.tolist() == [["C", "B"]]


def test_top_edge_overlap_matches_labelled_dataframes():
    w = np.random.default_rng(0).normal(size=(6, 6))
    genes = list("abcdef")
    a = pd.DataFrame(w, index=genes, columns=genes)
    b = a.loc[genes[::-1], genes[::-1]]
    assert scgrn.metrics.top_edge_overlap(a, b, top=(0.1, 0.3))["consistency"].tolist() == [1.0, 1.0]


# ---------------------------------------------------------------------------------------------
# 3. metrics.realism_auc explains an AUC far below 0.5 (simulated cells copying real ones)
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
# 4. pl.perturbation checks key= against the records tl.perturb wrote
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


# ---------------------------------------------------------------------------------------------
# 5. datasets.read_beeline_folder: no silent coercion of bad values
# ---------------------------------------------------------------------------------------------
def _beeline_folder(tmp_path, *, types=("+", "-"), pseudotime=None, expression=None):
    cells = [f"c{i}" for i in range(12)]
    x = expression if expression is not None else pd.DataFrame(
        np.random.default_rng(0).random((3, 12)).round(3), index=list("ABC"), columns=cells
    )
    x.to_csv(tmp_path / "ExpressionData.csv")
    if pseudotime is not None:
        pd.DataFrame({"PseudoTime": pseudotime}, index=cells).to_csv(tmp_path / "PseudoTime.csv")
    pd.DataFrame({"Gene1": ["A", "B"], "Gene2": ["B", "C"], "Type": list(types)}).to_csv(
        tmp_path / "refNetwork.csv", index=False
    )
    return tmp_path


def test_read_beeline_folder_warns_on_unknown_edge_types(tmp_path):
    _beeline_folder(tmp_path, types=("activation", "repression"))
    with pytest.warns(UserWarning, match=r"'Type' column of refNetwork.csv.*2 of 2 edge\(s\).*'activation' \(1\), 'repression' \(1\).*sign is set to 0"):
        _, net = scgrn.datasets.read_beeline_folder(tmp_path)
    assert net["sign"].tolist() == [0, 0]


def test_read_beeline_folder_reads_signs_and_missing_pseudotime_quietly(tmp_path):
    _beeline_folder(tmp_path, pseudotime=[0.1, np.nan] * 6)  # NaN: a cell off this trajectory
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adata, net = scgrn.datasets.read_beeline_folder(tmp_path)
    assert net["sign"].tolist() == [1, -1] and int(adata.obs["PseudoTime"].isna().sum()) == 6


def test_read_beeline_folder_refuses_non_numeric_pseudotime(tmp_path):
    _beeline_folder(tmp_path, pseudotime=["early", "late"] * 6)
    with pytest.raises(ValueError, match=r"PseudoTime.csv.*12 pseudotime value\(s\) that are not numbers.*'early' in row 'c0' \(cell\), column 'PseudoTime'"):
        scgrn.datasets.read_beeline_folder(tmp_path)


def test_read_beeline_folder_refuses_non_numeric_expression(tmp_path):
    x = pd.DataFrame(np.random.default_rng(0).random((3, 12)).round(3).astype(object), index=list("ABC"),
                     columns=[f"c{i}" for i in range(12)])
    x.iloc[1, 4] = "n/a?"
    _beeline_folder(tmp_path, expression=x)
    with pytest.raises(ValueError, match=r"ExpressionData.csv.*1 value\(s\) that are not numbers.*'n/a\?' in row 'B' \(gene\), column 'c4' \(cell\)"):
        scgrn.datasets.read_beeline_folder(tmp_path)


@pytest.mark.parametrize("name", ["ExpressionData.csv", "PseudoTime.csv", "refNetwork.csv"])
def test_read_beeline_folder_refuses_an_empty_file_naming_it(tmp_path, name):
    _beeline_folder(tmp_path, pseudotime=[0.5] * 12)
    (tmp_path / name).write_text("")
    with pytest.raises(ValueError, match=rf"{name} .* is empty"):
        scgrn.datasets.read_beeline_folder(tmp_path)


# ---------------------------------------------------------------------------------------------
# 6. get.edges: infinite weights, min_abs_weight=True, an inconsistent group index
# ---------------------------------------------------------------------------------------------
def _with_bad_weight(value, fmt="dense"):
    a = ad.AnnData(np.zeros((4, 3), dtype=np.float32), var=pd.DataFrame(index=list("ABC")))
    W = np.arange(9.0).reshape(3, 3)
    W[0, 1] = value
    a.varp["g"] = sparse.csr_matrix(W) if fmt == "csr" else W
    a.uns["g"] = {"method": "manual"}
    return a


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("value, kind", [(np.inf, "infinite"), (-np.inf, "infinite"), (np.nan, "NaN")])
def test_edges_drop_non_finite_weights_with_a_warning(value, kind, fmt):
    with pytest.warns(RuntimeWarning, match=rf"1 {kind} weight\(s\); they are dropped.*diverged"):
        got = scgrn.get.edges(_with_bad_weight(value, fmt), key="g")
    assert np.isfinite(got["weight"]).all() and len(got) == 5
    assert ("A", "B") not in set(zip(got["source"], got["target"]))


@pytest.mark.parametrize("value", [True, np.True_, "1", np.nan, -1.0])
def test_edges_refuse_min_abs_weight_that_is_not_a_number(value):
    with pytest.raises(ValueError, match=r"^min_abs_weight must be a finite number >= 0"):
        scgrn.get.edges(_with_bad_weight(1.0), key="g", min_abs_weight=value)


def _bad_index(groups, keys):
    a = _with_bad_weight(1.0)
    a.varp["g_A"] = np.ones((3, 3))
    a.varp["g_B"] = np.ones((3, 3))
    a.uns["h"] = {"groupby": "x", "groups": groups, "keys": keys}
    return a


@pytest.mark.parametrize(
    "groups, keys, problem",
    [(["A", "B"], ["g_A"], "2 groups but 1 keys"), (["A"], ["g_A", "g_B"], "1 groups but 2 keys"), (["A", "A"], ["g_A", "g_B"], "a group named twice")],
    ids=["more_groups", "more_keys", "duplicate_group"],
)
@pytest.mark.parametrize("group", [None, "A"])
def test_edges_refuse_an_inconsistent_group_index(groups, keys, problem, group):
    with pytest.raises(ValueError, match=rf"adata.uns\['h'\] indexes per-group networks but is inconsistent \({problem}"):
        scgrn.get.edges(_bad_index(groups, keys), key="h", group=group)


def test_edges_read_a_consistent_group_index():
    got = scgrn.get.edges(_bad_index(["A", "B"], ["g_A", "g_B"]), key="h")
    assert got["group"].unique().tolist() == ["A", "B"]


# ---------------------------------------------------------------------------------------------
# 7. package errors instead of raw IndexError / sklearn / decoupler / pandas ones
# ---------------------------------------------------------------------------------------------
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


@pytest.mark.parametrize("value, kind", [(np.inf, "infinite"), (np.nan, "NaN")])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_tf_activity_refuses_a_non_finite_network(adata, value, kind, fmt):
    pytest.importorskip("decoupler")
    scgrn.tl.correlation(adata)
    W = np.array(adata.varp["pearson"])
    W[1, 2] = value
    adata.varp["pearson"] = sparse.csr_matrix(W) if fmt == "csr" else W
    with pytest.raises(ValueError, match=rf"adata.varp\['pearson'\] has 1 {kind} weight\(s\).*diverged"):
        scgrn.tl.tf_activity(adata, key="pearson", n_targets=5, tmin=3)
    assert "tf_activity" not in adata.obsm and "tf_activity" not in adata.uns


@pytest.mark.parametrize("column", ["weight", "EdgeWeight"])
def test_evaluate_grn_names_a_non_numeric_weight_column(krumsiek, column):
    a, truth = krumsiek
    scgrn.tl.correlation(a)
    e = scgrn.get.edges(a, key="pearson").rename(columns={"weight": column})
    e[column] = e[column].astype(object)
    e.loc[3, column] = "high"
    with pytest.raises(ValueError, match=rf"'{column}' column must hold numeric edge weights.*1 of its \d+ values.*'high'; the first in row 3"):
        scgrn.metrics.evaluate_grn(e, truth)


def test_evaluate_grn_accepts_numeric_strings_as_weights(krumsiek):
    a, truth = krumsiek
    scgrn.tl.correlation(a)
    e = scgrn.get.edges(a, key="pearson")
    expected = scgrn.metrics.evaluate_grn(e, truth)
    assert scgrn.metrics.evaluate_grn(e.assign(weight=e["weight"].astype(str)), truth)["EP"] == expected["EP"]


# ---------------------------------------------------------------------------------------------
# 8. messages that said the wrong thing
# ---------------------------------------------------------------------------------------------
def test_edges_when_the_recorded_tfs_are_gone(adata):
    scgrn.tl.correlation(adata, tfs=["Gata1"])
    b = adata[:, [g for g in adata.var_names if g != "Gata1"]].copy()
    with pytest.raises(ValueError, match=r"recorded by the run in adata.uns\['pearson'\]\['tfs'\] \('Gata1'\).*tfs_only=False"):
        scgrn.get.edges(b, key="pearson")
    assert list(scgrn.get.edges(b, key="pearson", tfs_only=False).columns) == ["source", "target", "weight"]


def test_to_prediction_with_an_empty_tf_list(adata):
    scgrn.tl.correlation(adata, tfs=["Gata1"])
    with pytest.raises(ValueError, match=r"^tfs is empty.*tfs=None"):
        scgrn.get.to_prediction(adata, key="pearson", tfs=[])
    b = adata[:, [g for g in adata.var_names if g != "Gata1"]].copy()
    with pytest.raises(ValueError, match=r"recorded by the run in adata.uns\['pearson'\]\['tfs'\].*Pass tfs="):
        scgrn.get.to_prediction(b, key="pearson")


@pytest.mark.parametrize(
    "call",
    [
        lambda f, mp: scgrn.datasets.read_beeline_folder(f),
        lambda f, mp: scgrn.datasets.data_dir(f),
        lambda f, mp: (mp.setenv("SCGRN_DATA_DIR", str(f)), scgrn.datasets.beeline("hESC")),
        lambda f, mp: (mp.setenv("SCGRN_DATA_DIR", str(f)), scgrn.datasets.dream4(1)),
    ],
    ids=["read_beeline_folder", "data_dir", "env_beeline", "env_dream4"],
)
def test_a_file_where_a_folder_is_expected(tmp_path, monkeypatch, call):
    from scgrn.datasets._paths import NotAFolderError

    f = tmp_path / "refNetwork.csv"
    f.write_text("Gene1,Gene2\nA,B\n")
    with pytest.raises(NotAFolderError, match=r"refNetwork.csv' .*is a file, not a folder") as err:
        call(f, monkeypatch)
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, NotADirectoryError)
    assert "does not exist" not in str(err.value)


@pytest.mark.parametrize(
    "names, kind",
    [(lambda g: (x for x in g), "generator.*read only once"), (lambda g: set(g), "set.*no fixed order"), (lambda g: iter(g), "iterator")],
    ids=["generator", "set", "iterator"],
)
@pytest.mark.parametrize(
    "call",
    [
        lambda a, t, names: scgrn.metrics.evaluate_grn(a.varp["pearson"], t, var_names=names),
        lambda a, t, names: scgrn.metrics.random_baseline(t, names, n_repeats=1),
        lambda a, t, names: scgrn.metrics.precision_recall_at_k(a.varp["pearson"], t, var_names=names),
        lambda a, t, names: scgrn.get.edges_from_matrix(a.varp["pearson"], names),
    ],
    ids=["evaluate_grn", "random_baseline", "precision_recall_at_k", "edges_from_matrix"],
)
def test_var_names_must_be_an_ordered_sequence(krumsiek, names, kind, call):
    a, truth = krumsiek
    scgrn.tl.correlation(a)
    with pytest.raises(ParameterTypeError, match=rf"^var_names must be an ordered sequence of gene names.*{kind}"):
        call(a, truth, names(list(a.var_names)))


# ---------------------------------------------------------------------------------------------
# 9. third adversarial run: one reference reader, categorical var_names, grouped histories,
#    stale embeddings, TF-list messages, linear-scale data
# ---------------------------------------------------------------------------------------------
def _labelled_reference(truth, genes, n_negatives=30):
    """The true edges labelled 1 plus some listed non-edges labelled 0 (DREAM gold-standard layout)."""
    pos = set(zip(truth.source, truth.target))
    neg = [(s, t) for s in genes for t in genes if s != t and (s, t) not in pos][:n_negatives]
    return pd.concat(
        [truth[["source", "target"]].assign(weight=1), pd.DataFrame(neg, columns=["source", "target"]).assign(weight=0)],
        ignore_index=True,
    )


@pytest.mark.parametrize(
    "layout",
    [
        lambda r: r,  # 'weight' of 0/1
        lambda r: r.rename(columns={"weight": "label"}),
        lambda r: r.assign(weight=r.weight.astype(bool)),
        lambda r: r.assign(weight=r.weight.astype(str)),  # '0' / '1' as text (read_csv(dtype=str))
        lambda r: r.rename(columns={"source": "regulator"}),
        lambda r: r.rename(columns={"source": "TF"}),
        lambda r: r.rename(columns={"source": "Gene1", "target": "Gene2"}),
        lambda r: r.set_axis([0, 1, 2], axis=1),  # a DREAM file read with header=None
    ],
    ids=["weight01", "label01", "bool", "text01", "regulator", "TF", "Gene1Gene2", "header_none"],
)
@pytest.mark.parametrize(
    "score",
    [
        lambda a, ref: scgrn.metrics.evaluate_grn(a, ref, key="pearson")["EPR"],
        lambda a, ref: scgrn.metrics.evaluate_grn(a, ref, key="pearson", convention="beeline")["AUROC"],
        lambda a, ref: scgrn.metrics.random_baseline(ref, a.var_names, n_repeats=2)["k"],
        lambda a, ref: scgrn.metrics.precision_recall_at_k(a, ref, key="pearson")["n_true"],
        lambda a, ref: int(reference_adjacency(ref, a.var_names).sum()),
    ],
    ids=["evaluate_grn", "evaluate_beeline", "random_baseline", "precision_recall_at_k", "reference_adjacency"],
)
def test_reference_rows_labelled_0_are_not_edges(krumsiek, layout, score):
    a, truth = krumsiek
    scgrn.tl.correlation(a)
    ref = layout(_labelled_reference(truth, list(a.var_names)))
    assert score(a, ref) == pytest.approx(score(a, truth))


def test_reference_reader_is_shared_and_scores_stay_the_same(krumsiek):
    """Guards: the plain layouts score as before (krumsiek11: EPR 2.115 for pearson), signed or
    confidence weights keep every non-zero row, and the readers are one function."""
    from scgrn._reference import read_reference

    a, truth = krumsiek
    scgrn.tl.correlation(a)
    plain = scgrn.metrics.evaluate_grn(a, truth, key="pearson")
    assert plain["k"] == 26 and plain["EPR"] == pytest.approx(2.115, abs=1e-3)
    signed = truth.assign(weight=np.where(np.arange(len(truth)) % 2, -1.0, 1.0))
    assert scgrn.metrics.evaluate_grn(a, signed, key="pearson") == plain
    confidence = truth.assign(weight=np.linspace(0.1, 0.9, len(truth)))
    assert scgrn.metrics.evaluate_grn(a, confidence, key="pearson") == plain
    assert read_reference(truth.assign(weight="activation")).shape == (26, 2)  # text weights: ignored


@pytest.mark.parametrize(
    "ref, match",
    [
        (pd.DataFrame({"source": ["Gata1"], "target": ["Fog1"], "label": [0]}), r"no true edge: all 1 rows are labelled 0"),
        (pd.DataFrame({"source": ["Gata1"], "target": ["Fog1"], "label": [0.5]}), r"'label' column must hold 0/1.*0.5"),
        (pd.DataFrame({"source": ["Gata1"], "target": ["Fog1"], "label": ["maybe"]}), r"'label' column must hold 0/1.*'maybe'"),
        (pd.DataFrame({"Source": ["Gata1"], "Target": ["Fog1"]}), r"no regulator \(source\) and target column.*capitalisation.*str.lower"),
        (pd.DataFrame({"from": ["Gata1"], "to": ["Fog1"]}), r"no regulator \(source\) and target column.*'regulator' / 'TF'.*got columns \['from', 'to'\]"),
        (pd.DataFrame({"target": ["Fog1"]}, index=pd.Index(["Gata1"], name="source")), r"index is named 'source'.*reset_index"),
        (pd.DataFrame(np.eye(2), index=["Gata1", "Fog1"], columns=["Gata1", "Fog1"]), r"square genes x genes matrix.*stack"),
    ],
    ids=["all_negative", "label_not_01", "label_text", "capitalised", "unknown", "source_as_index", "wide"],
)
@pytest.mark.parametrize(
    "call",
    [
        lambda a, ref: scgrn.metrics.evaluate_grn(a, ref, key="pearson"),
        lambda a, ref: scgrn.metrics.precision_recall_at_k(a, ref, key="pearson"),
        lambda a, ref: reference_adjacency(ref, a.var_names),
    ],
    ids=["evaluate_grn", "precision_recall_at_k", "reference_adjacency"],
)
def test_unknown_reference_layouts_are_refused(adata, ref, match, call):
    scgrn.tl.correlation(adata)
    with pytest.raises(ValueError, match=match):
        call(adata, ref)


def test_dream4_gold_standard_keeps_only_positive_rows(tmp_path):
    """datasets.dream4 reads its gold standard through the same reader: only label-1 rows."""
    from scgrn.datasets._dream4 import _example_tree

    root = _example_tree(str(tmp_path))
    _, gold = scgrn.datasets.dream4(1, size=10, data_dir=root)
    gs = next(tmp_path.rglob("*GoldStandard*.tsv"))
    raw = pd.read_csv(gs, sep="\t", header=None)
    expected = raw[(raw[2] == 1) & (raw[0] != raw[1])]
    assert len(gold) == len(expected) and list(gold.columns) == ["source", "target"]
    # the same file given to evaluate_grn with header=None scores as the loader's table
    assert reference_adjacency(raw, sorted(set(raw[0]) | set(raw[1]))).sum() == len(expected)


def test_categorical_var_names_are_read_as_strings(adata):
    a = adata.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # anndata: "expects .var.index to contain strings"
        a.var = a.var.assign(sym=pd.Categorical(list(a.var_names))).set_index("sym")
    assert isinstance(a.var_names, pd.CategoricalIndex)
    scgrn.tl.correlation(a, tfs=["Gata1"])
    b = adata.copy()
    scgrn.tl.correlation(b, tfs=["Gata1"])
    pd.testing.assert_frame_equal(scgrn.get.edges(a, key="pearson"), scgrn.get.edges(b, key="pearson"))


@pytest.mark.parametrize(
    "names, match",
    [
        (pd.CategoricalIndex(["a", "b"]), None),
        (pd.CategoricalIndex([1, 2]), r"must be strings.*all 2 are not.*tfs=\['1', \.\.\.\]"),
        (pd.Index(["a", 3], dtype=object), r"1 of 2 are not.*tfs=\['3', \.\.\.\]"),
        (pd.Index([np.str_("a"), "b"]), None),
    ],
    ids=["categorical_str", "categorical_int", "mixed", "numpy_str"],
)
def test_check_var_names_never_indexes_an_empty_list(names, match):
    from scgrn._validate import check_var_names

    if match is None:
        assert check_var_names(names).tolist() == [str(n) for n in names]
    else:
        with pytest.raises(ValueError, match=match):
            check_var_names(names)


def test_training_history_of_a_grouped_run(adata):
    a = _small(adata, 200)
    scgrn.tl.deepsem(a, groupby="cell_type", max_steps=2, **FAST_DEEPSEM)
    groups = list(a.uns["deepsem"]["groups"])
    with pytest.raises(KeyError, match=rf"index of a groupby='cell_type' run.*group= one of '{groups[0]}'.*key='deepsem_{groups[0]}'"):
        scgrn.pl.training_history(a, show=False)
    axes = scgrn.pl.training_history(a, group=groups[0], show=False)
    ref = scgrn.pl.training_history(a, key=f"deepsem_{groups[0]}", show=False)
    assert [x.get_title() for x in axes] == [x.get_title() for x in ref]
    with pytest.raises(KeyError, match="No group 'nope'"):
        scgrn.pl.training_history(a, group="nope", show=False)
    b = _small(adata)
    scgrn.tl.deepsem(b, max_steps=2, **FAST_DEEPSEM)
    with pytest.raises(ValueError, match="not the index of per-group networks"):
        scgrn.pl.training_history(b, group="Ery", show=False)


@pytest.mark.parametrize(
    "first, second, kept_obsm",
    [
        (lambda a: scgrn.tl.deepsem(a, key_added="grn", max_steps=2, **FAST_DEEPSEM),
         lambda a: scgrn.tl.correlation(a, key_added="grn"), []),
        (lambda a: scgrn.tl.deepsem(a, max_steps=2, **FAST_DEEPSEM),
         lambda a: scgrn.tl.deepsem(a, groupby="cell_type", max_steps=2, **FAST_DEEPSEM), []),
        (lambda a: scgrn.tl.deepsem(a, max_steps=2, **FAST_DEEPSEM),
         lambda a: scgrn.tl.correlation(a, groupby="cell_type", key_added="deepsem"), []),
        # guards: a rerun that writes an embedding keeps (rewrites) it; another key is untouched
        (lambda a: scgrn.tl.deepsem(a, max_steps=2, **FAST_DEEPSEM),
         lambda a: scgrn.tl.deepsem(a, max_steps=2, **FAST_DEEPSEM), ["X_deepsem"]),
        (lambda a: scgrn.tl.deepsem(a, max_steps=2, **FAST_DEEPSEM),
         lambda a: scgrn.tl.correlation(a), ["X_deepsem"]),
    ],
    ids=["correlation_over_deepsem", "grouped_over_ungrouped", "grouped_correlation_over_deepsem", "deepsem_again", "other_key"],
)
def test_rewriting_a_key_removes_the_earlier_runs_embedding(adata, first, second, kept_obsm):
    a = _small(adata, 200)
    first(a)
    second(a)
    assert sorted(a.obsm) == kept_obsm


def test_a_foreign_key_keeps_its_embedding(adata):
    """uns['mine'] written by someone else is not an scgrn record: a run with key_added='mine'
    leaves obsm['X_mine']. (scanpy's own keys, such as 'pca', are refused outright.)"""
    a = _small(adata)
    a.uns["mine"] = {"params": {"n_comps": 3}}
    a.obsm["X_mine"] = np.zeros((a.n_obs, 3))
    scgrn.tl.correlation(a, key_added="mine")
    assert "X_mine" in a.obsm


def test_tfs_as_a_dataframe_is_refused(adata):
    from scgrn._validate import TFsTypeError

    tfs = pd.DataFrame({"TF": ["Gata1", "Pu.1"]})
    for call in (
        lambda: scgrn.tl.correlation(adata, tfs=tfs),
        lambda: scgrn.tl.correlation(adata, tfs=tfs, groupby="cell_type"),
        lambda: scgrn.pp.select_genes(adata, tfs=tfs),
    ):
        with pytest.raises(TFsTypeError, match=r"not a DataFrame.*column names.*tfs=df\['TF'\]"):
            call()
    scgrn.tl.correlation(adata, tfs=tfs["TF"])  # the column is fine
    assert adata.uns["pearson"]["tfs"] == ["Gata1", "Pu.1"]


@pytest.mark.parametrize(
    "genes, tfs, match, no_filter",
    [
        (["Gata1.2", "Pu.1.1", "Fog1.3"], ["Gata1"], r"version suffixes \('Gata1' -> 'Gata1.2'\).*full.get\(t, t\).*str.replace", True),
        (["Gata1.2", "Pu.1", "Fog1"], ["Gata1", "Fog1"], r"Fix: `tfs = \[t for t in tfs.*version suffixes \('Gata1' -> 'Gata1.2'\)", False),
        (["Gata1", "Pu.1", "Fog1"], ["GATA1"], r"None of them.*capitalisation \('GATA1' -> 'Gata1'\)", True),
        (["Gata1", "Pu.1", "Fog1"], ["ENSG1"], r"None of them is in adata.var_names: check.*Ensembl.*'Gata1', 'Pu.1', 'Fog1'", True),
        (["A", "B", "C"], ["A", "X"], r"1 of 2 TFs.*'X'.*Fix: `tfs = \[t for t in tfs if t in adata.var_names\]`", False),
    ],
    ids=["suffix_none_found", "suffix_some_found", "case_none_found", "unknown_none_found", "plain_some_found"],
)
def test_tf_messages_name_the_likely_cause(genes, tfs, match, no_filter):
    from scgrn._validate import check_tfs

    with pytest.raises(ValueError, match=match) as err:
        check_tfs(tfs, pd.Index(genes))
    # the filter is only suggested when it leaves some TFs (it would empty the list otherwise)
    assert ("t for t in tfs if t in adata.var_names" in str(err.value)) is not no_filter


def _normalised_unlogged(n_cells=200, n_genes=40):
    a, _ = scgrn.datasets.planted_counts(n_genes=n_genes, n_cells=n_cells, n_tfs=8)
    b = a.copy()
    b.X = np.asarray(b.layers["counts"].toarray(), dtype=np.float32)
    del b.layers["counts"]
    sc.pp.normalize_total(b, target_sum=1e4)  # no sc.pp.log1p
    return a, b


@pytest.mark.parametrize("sparse_x", [False, True], ids=["dense", "csr"])
def test_normalised_but_unlogged_data_warn(sparse_x):
    _, b = _normalised_unlogged()
    if sparse_x:
        b.X = sparse.csr_matrix(b.X)
    with pytest.warns(UserWarning, match=r"looks normalised but not log-transformed.*sc.pp.log1p"):
        scgrn.tl.correlation(b)


def test_log_data_do_not_warn_about_the_scale(adata):
    """Guards: log1p of 10^4-normalised counts (max ~9.2), log1p of 10^6 (CPM, max ~13.8), the
    bundled data, scaled-by-a-factor log data, and raw counts (their own warning) stay as they were."""
    a, b = _normalised_unlogged()
    c = b.copy()
    sc.pp.log1p(c)
    cpm = b.copy()
    sc.pp.normalize_total(cpm, target_sum=1e6)
    sc.pp.log1p(cpm)
    log2 = b.copy()
    log2.X = np.log2(b.X + 1)
    for d in (a, c, cpm, log2, adata):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            checked_matrix(d)
    counts = a.copy()
    counts.X = counts.layers["counts"]
    with pytest.warns(UserWarning, match="looks like raw counts") as rec:
        checked_matrix(counts)
    assert not any("not log-transformed" in str(w.message) for w in rec)


def test_simulate_on_unlogged_data_warns_clearly_without_numpy_overflow():
    _, b = _normalised_unlogged()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        sim = scgrn.tl.simulate(b, n_obs=20, max_steps=2, **FAST_DEEPSEM)
    messages = [str(w.message) for w in rec]
    assert any("looks normalised but not log-transformed" in m for m in messages)
    assert not [m for m in messages if "overflow" in m or "invalid value" in m], messages
    assert np.isfinite(sim.X).all()


# --- fifth pass (a fourth adversarial run) ----------------------------------------------------


@pytest.mark.parametrize("key", ["umap", "pca", "neighbors", "tsne"])
def test_key_added_refuses_scanpy_keys(key):
    from scgrn._params import check_key

    with pytest.raises(ValueError, match="scanpy's own tools"):
        check_key("key_added", key)
    assert check_key("key_added", key, allow_scanpy_keys=True) == key  # leiden_matched's labels
    assert check_key("key", key) == key  # reading a key is not writing it


def test_grn_tool_with_scanpy_key_writes_nothing():
    adata, _ = scgrn.datasets.krumsiek11()
    sc.pp.pca(adata, n_comps=5)
    before = adata.obsm["X_pca"].copy()
    with pytest.raises(ValueError, match="key_added='scgrn_pca'"):
        scgrn.tl.correlation(adata, key_added="pca")
    np.testing.assert_array_equal(adata.obsm["X_pca"], before)
    assert "pca" not in adata.varp


@pytest.mark.filterwarnings("ignore:adata.X has negative values")
def test_simulate_refuses_groupby_simulated():
    adata, _ = scgrn.datasets.krumsiek11()
    adata.obs["simulated"] = adata.obs["cell_type"].astype(str)
    with pytest.raises(ValueError, match="flag simulated cells"):
        scgrn.tl.simulate(adata, groupby="simulated", n_obs=10, n_models=2, n_epochs=1, show_progress_bar=False)


def test_from_array_sparse_and_duplicate_names():
    from scipy import sparse as sp

    x = np.random.default_rng(0).gamma(1.0, 1.0, size=(6, 3)).astype(np.float32)
    with pytest.raises(TypeError, match="toarray"):
        scgrn.models.DeepSEM.from_array(sp.csr_matrix(x), ["a", "b", "c"])
    with pytest.raises(ValueError, match="unique"):
        scgrn.models.DeepSEM.from_array(x, ["a", "a", "b"])


@pytest.mark.parametrize("argv, message", [
    (["--n-models", "0"], "--n-models must be >= 1"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--out", "FILE"], "is a file"),
])
def test_demo_cli_usage_errors(argv, message, tmp_path, capsys):
    from scgrn.__main__ import main

    (tmp_path / "f.txt").write_text("x")
    argv = [str(tmp_path / "f.txt") if a == "FILE" else a for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


# --- sixth pass (a fifth adversarial run; issue 18) -------------------------------------------
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


@pytest.mark.parametrize(
    "values, match",
    [
        (lambda x: x.astype(np.complex128), r"adata.X has dtype complex128; .*real-valued.*adata.X = adata.X.real"),
        (lambda x: sparse.csr_matrix(x.astype(np.complex64)), r"adata.X has dtype complex64"),
        (lambda x: x.astype(str).astype(object), r"adata.X has dtype object; .*stored as objects.*astype\(np.float32\)"),
        (lambda x: x.astype(str), r"adata.X has dtype <U\d+; .*stored as text"),
    ],
    ids=["complex", "csr_complex", "object", "text"],
)
def test_non_real_dtypes_are_refused(adata, values, match):
    a = _small(adata)
    a.X = values(a.X)
    with pytest.raises(ValueError, match=match):
        checked_matrix(a)
    with pytest.raises(ValueError, match=match):
        scgrn.tl.correlation(a)


def test_non_real_dtypes_are_refused_by_every_reader(adata):
    a = _small(adata)
    b = a.copy()
    b.X = b.X.astype(np.complex128)
    with pytest.raises(ValueError, match=r"^simulated.X has dtype complex128"):
        scgrn.metrics.simulation_closeness(a, b, a)
    with pytest.raises(ValueError, match=r"^x has dtype complex128"):
        scgrn.models.DeepSEM.from_array(b.X, list(b.var_names))
    checked_matrix(ad.AnnData(a.X.astype(np.float16)))  # float16, ints and bools are real
    checked_matrix(ad.AnnData(np.round(np.abs(a.X) * 3).astype(np.uint8) + 1), expect=None)


@pytest.mark.parametrize(
    "kwargs, kind, match",
    [
        ({"n_iter": -5}, ValueError, r"^n_iter must be an integer >= 1, got -5"),
        ({"n_iter": 0}, ValueError, r"^n_iter must be an integer >= 1"),
        ({"n_iter": 2.0}, ParameterTypeError, r"^n_iter must be an integer"),
        ({"epsilon": np.nan}, ValueError, r"^epsilon must be a finite number > 0, got nan"),
        ({"epsilon": 0}, ValueError, r"^epsilon must be a finite number > 0"),
        ({"epsilon": "0.1"}, ParameterTypeError, r"^epsilon must be"),
        ({"max_cells": 0}, ValueError, r"^max_cells must be an integer >= 2 or None, got 0"),
        ({"max_cells": -1}, ValueError, r"^max_cells must be an integer >= 2"),
        ({"max_cells": 2.5}, ParameterTypeError, r"^max_cells must be an integer >= 2 or None, got 2.5"),
    ],
    ids=["n_iter_negative", "n_iter_0", "n_iter_float", "epsilon_nan", "epsilon_0", "epsilon_text",
         "max_cells_0", "max_cells_negative", "max_cells_float"],
)
def test_sinkhorn_checks_its_arguments(kwargs, kind, match):
    x = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(kind, match=match):
        scgrn.metrics.sinkhorn_w2(x, x + 1, **kwargs)


BENCH_ERRORS = {
    "dream_aupr_nan": (lambda: scgrn.bench.dream_aupr([1, 0, 1, 0], [np.nan, 0.1, 0.5, 0.2]), r"^scores has 1 NaN or infinite"),
    "dream_aupr_inf": (lambda: scgrn.bench.dream_aupr([1, 0, 1, 0], [np.inf, 0.1, 0.5, 0.2]), r"^scores has 1 NaN or infinite"),
    "score_network_shape": (
        lambda: scgrn.bench.score_network(np.eye(4, k=1, dtype=bool), np.ones((3, 3))),
        r"^scores must have the shape of truth, \(4, 4\).*got \(3, 3\)",
    ),
    "score_network_truth": (lambda: scgrn.bench.score_network(np.ones(4, bool), np.ones(4)), r"^truth must be a square"),
    "score_network_nan": (
        lambda: scgrn.bench.score_network(np.eye(4, k=1, dtype=bool), np.where(np.eye(4, k=2) > 0, np.nan, 0.5)),
        r"^scores has 2 NaN or infinite",
    ),
    "summarise_clustering_status": (
        lambda: scgrn.bench.summarise_clustering(pd.DataFrame({"dataset": ["d"], "method": ["pca"], "ARI": [0.5],
                                                               "NMI": [0.5], "seconds": [1.0]})),
        r"^table has no column\(s\) \['status'\]",
    ),
    "summarise_clustering_metric": (
        lambda: scgrn.bench.summarise_clustering(pd.DataFrame({"dataset": ["d"], "method": ["pca"], "status": ["ok"]}),
                                                 metrics=["ARI"]),
        r"^table has no column\(s\) \['ARI'\]",
    ),
    "score_embedding_rows": (
        lambda: scgrn.bench.score_embedding(ad.AnnData(np.zeros((20, 2)), obs=pd.DataFrame({"label": ["a"] * 20},
                                                       index=[str(i) for i in range(20)])), np.zeros((5, 3))),
        r"^x must be a cells x dimensions representation with one row per cell of adata \(20 cells\), got shape \(5, 3\)",
    ),
}


@pytest.mark.parametrize("case", list(BENCH_ERRORS))
def test_bench_helpers_check_their_inputs(case):
    call, match = BENCH_ERRORS[case]
    with pytest.raises(ValueError, match=match):
        call()


def test_score_network_ignores_the_diagonal():
    truth = np.eye(4, k=1, dtype=bool)
    scores = truth + np.arange(16).reshape(4, 4) / 100
    rows = scgrn.bench.score_network(truth, scores, n_balanced_draws=2)
    np.fill_diagonal(scores, np.nan)  # self-loops are not scored, so a NaN there is fine
    assert scgrn.bench.score_network(truth, scores, n_balanced_draws=2) == rows


@pytest.fixture
def backed_pair(tmp_path):
    a, _ = scgrn.datasets.planted_counts(n_genes=20, n_cells=80, n_tfs=4, n_programs=2)
    b, _ = scgrn.datasets.planted_counts(n_genes=20, n_cells=80, n_tfs=4, n_programs=2, random_state=1)
    path = tmp_path / "a.h5ad"
    a.write_h5ad(path)
    return a, ad.read_h5ad(path, backed="r"), b


def test_realism_metrics_read_backed_anndata(backed_pair):
    a, backed, b = backed_pair
    assert sparse.issparse(a.X)  # the backed matrix is anndata's on-disk sparse dataset
    kw = {"n_pcs": 3, "n_trees": 5, "n_folds": 2}
    assert scgrn.metrics.realism_auc(backed, b, **kw) == scgrn.metrics.realism_auc(a, b, **kw)
    assert scgrn.metrics.simulation_closeness(backed, b, b) == scgrn.metrics.simulation_closeness(a, b, b)
    assert scgrn.metrics.simulation_closeness(b, b, backed) == scgrn.metrics.simulation_closeness(b, b, a)


def test_pl_simulation_reads_backed_anndata(backed_pair):
    """pl.simulation reads its inputs with the helper the metrics use (a UMAP is too slow here)."""
    from scgrn.metrics._realism import _aligned

    a, backed, b = backed_pair
    on_disk, names = _aligned([backed, b], ["real", "simulated"])
    in_memory, _ = _aligned([a, b], ["real", "simulated"])
    np.testing.assert_array_equal(on_disk[0], in_memory[0])
    assert names.equals(a.var_names)


@pytest.mark.parametrize(
    "tfs, match",
    [
        (np.array([["Gata1", "Pu.1"]]), r"^tfs must be 1-D .*got shape \(1, 2\); use `tfs.ravel\(\)`"),
        ([["Gata1", "Pu.1"]], r"^tfs must be a flat list of gene names, but one entry is a list"),
    ],
    ids=["2d_array", "nested_list"],
)
def test_tfs_must_be_one_dimensional(adata, tfs, match):
    from scgrn._validate import TFsTypeError

    with pytest.raises(TFsTypeError, match=match):
        scgrn.tl.correlation(adata, tfs=tfs)
    scgrn.tl.correlation(adata, tfs=np.asarray(tfs).ravel())


@pytest.mark.parametrize(
    "genes, tfs, match",
    [
        (["g0", "g1", "g12 "], ["g12"], r"None of them.*whitespace \('g12' -> 'g12 '\).*`adata.var_names = adata.var_names.str.strip\(\)`"),
        (["Gata1", "Pu.1"], ["Gata1 ", "Pu.1"], r"1 of 2.*whitespace \('Gata1 ' -> 'Gata1'\).*`tfs = \[t.strip\(\) for t in tfs\]`"),
    ],
    ids=["gene_has_space", "tf_has_space"],
)
def test_tf_message_names_surrounding_whitespace(genes, tfs, match):
    from scgrn._validate import check_tfs

    with pytest.raises(ValueError, match=match):
        check_tfs(tfs, pd.Index(genes))


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


@pytest.mark.parametrize(
    "top, kind, match",
    [
        ((), ValueError, r"^top is empty"),
        (0.1, ParameterTypeError, r"^top must be a sequence of fractions.*top=\(0.1,\)"),
        ((0.1, 1.5), ValueError, r"^top\[1\] must be a finite number in \(0, 1\], got 1.5"),
    ],
    ids=["empty", "number", "out_of_range"],
)
def test_top_edge_overlap_checks_top(top, kind, match):
    w = np.random.default_rng(0).random((4, 4))
    with pytest.raises(kind, match=match):
        scgrn.metrics.top_edge_overlap(w, w, top=top)


# --- seventh pass (a sixth adversarial run; issue 18) -----------------------------------------
def _grouped_pearson(adata):
    a = adata[::3][:200].copy()
    scgrn.tl.correlation(a, groupby="cell_type")
    return a, list(a.uns["pearson"]["groups"])[:2], a.uns["pearson"]["keys"][0]


@pytest.mark.parametrize("normalize", ["max", None])
@pytest.mark.parametrize("value, found", [(np.nan, "1 NaN"), (np.inf, "1 infinite")], ids=["nan", "inf"])
@pytest.mark.parametrize("as_sparse", [False, True], ids=["dense", "csr"])
def test_edge_differences_refuses_a_nonfinite_network(adata, normalize, value, found, as_sparse):
    """normalize='max' scaled the other network only (max |weight| was NaN), mixing scales."""
    a, (ga, gb), key_a = _grouped_pearson(adata)
    W = np.asarray(a.varp[key_a], dtype=np.float32).copy()
    W[0, 1] = value
    a.varp[key_a] = sparse.csr_matrix(W) if as_sparse else W
    match = rf"^The network of group '{ga}' \(adata.varp\['{key_a}'\]\) has {found} weight\(s\), so its edges cannot be compared with group '{gb}'"
    with pytest.raises(ValueError, match=match):
        scgrn.get.edge_differences(a, key="pearson", groups=(ga, gb), normalize=normalize)
    with pytest.raises(ValueError, match=match):
        scgrn.pl.edge_differences(a, key="pearson", groups=(ga, gb), normalize=normalize, show=False)


def test_edge_differences_scales_both_networks_to_one(adata):
    a, groups, _ = _grouped_pearson(adata)
    d = scgrn.get.edge_differences(a, key="pearson", groups=groups, top_k=None)
    assert d["weight_a"].abs().max() == pytest.approx(1.0) and d["weight_b"].abs().max() == pytest.approx(1.0)


BENCH_TABLE = pd.DataFrame({"method": ["a", "b", "a", "b"], "dataset": ["x", "x", "y", "y"], "EPR": [1.5, 2.0, 0.5, 3.0]})


@pytest.mark.parametrize("plot", [scgrn.pl.benchmark_heatmap, scgrn.pl.benchmark_box], ids=["heatmap", "box"])
def test_benchmark_plots_refuse_kinds_they_cannot_apply(plot):
    """kinds= was silently ignored on a table without a 'kind' column (every row drawn)."""
    with pytest.raises(ValueError, match=r"^kinds='synthetic' filters on the column 'kind', but results has none \(columns: \['method', 'dataset', 'EPR'\]\).*kinds=None"):
        plot(BENCH_TABLE, kinds="synthetic", convention=None, show=False)
    df = BENCH_TABLE.assign(kind=["synthetic", "synthetic", "curated", "curated"])
    with pytest.raises(ValueError, match=r"^kinds=\['synthetic', 'nonsense'\] names \['nonsense'\], which is not in results\['kind'\]; the kinds there are \['curated', 'synthetic'\]"):
        plot(df, kinds=["synthetic", "nonsense"], convention=None, show=False)
    with pytest.raises(ParameterTypeError, match=r"^kinds must be a dataset kind"):
        plot(df, kinds=3, convention=None, show=False)
    fig = plot(df, kinds="synthetic", convention=None, return_fig=True)  # a valid filter still works
    assert fig is not None


@pytest.mark.parametrize(
    "plot, kwargs, kind, match",
    [
        (scgrn.pl.benchmark_heatmap, {"fmt": "{:d}"}, ValueError, r"^fmt='\{:d\}' cannot format the annotated values, which are floats .*fmt='\{:.2f\}'"),
        (scgrn.pl.benchmark_heatmap, {"fmt": "{0} {1}"}, ValueError, r"^fmt='\{0\} \{1\}' cannot format"),
        (scgrn.pl.benchmark_heatmap, {"fmt": 2}, ParameterTypeError, r"^fmt must be a format string"),
        (scgrn.pl.benchmark_heatmap, {"agg": "mode"}, ValueError, r"^agg must be one of \['median', 'mean', 'min', 'max'\], got 'mode'"),
        (scgrn.pl.benchmark_box, {"agg": "average"}, ValueError, r"^agg must be one of \['median', 'mean', 'min', 'max'\], got 'average'"),
    ],
    ids=["fmt_int_code", "fmt_two_fields", "fmt_not_text", "heatmap_agg", "box_agg"],
)
def test_benchmark_plots_check_fmt_and_agg(plot, kwargs, kind, match):
    with pytest.raises(kind, match=match):
        plot(BENCH_TABLE, convention=None, show=False, **kwargs)


def test_benchmark_heatmap_takes_every_documented_agg():
    for agg in ("median", "mean", "min", "max"):
        scgrn.pl.benchmark_heatmap(BENCH_TABLE, convention=None, agg=agg, fmt="{:.0f}", show=False)


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


@pytest.mark.parametrize(
    "kwargs, kind, match",
    [
        ({"node_size": -100}, ValueError, r"^node_size must be a finite number > 0, got -100"),
        ({"node_size": 0}, ValueError, r"^node_size must be a finite number > 0"),
        ({"node_size": np.nan}, ValueError, r"^node_size must be a finite number > 0, got nan"),
        ({"node_size": "big"}, ParameterTypeError, r"^node_size must be a finite number"),
        ({"font_size": 0}, ValueError, r"^font_size must be a finite number > 0"),
        ({"top_k": 0}, ValueError, r"^top_k must be an integer >= 1, got 0"),
    ],
    ids=["node_size_negative", "node_size_0", "node_size_nan", "node_size_text", "font_size_0", "top_k_0"],
)
def test_pl_grn_checks_its_numbers(adata, kwargs, kind, match):
    scgrn.tl.correlation(adata)
    with pytest.raises(kind, match=match):
        scgrn.pl.grn(adata, key="pearson", show=False, **kwargs)


def test_marker_sizes_are_checked(adata):
    a = _small(adata)
    with pytest.raises(ValueError, match=r"^size must be a finite number > 0, got -1"):
        scgrn.pl.simulation(a, a, size=-1, show=False)
    with pytest.raises(ValueError, match=r"^size must be a finite number > 0, got 0"):
        scgrn.pl.perturbation(a, size=0, show=False)


def test_pl_edge_differences_refuses_top_k_0(adata):
    """top_k=0 said 'No edge differs between groups', which was false."""
    a, groups, _ = _grouped_pearson(adata)
    with pytest.raises(ValueError, match=r"^top_k must be an integer >= 1, got 0"):
        scgrn.pl.edge_differences(a, key="pearson", groups=groups, top_k=0, show=False)
    assert scgrn.get.edge_differences(a, key="pearson", groups=groups, top_k=0).empty  # the table may be empty


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


def _expression_csv(folder):
    pd.DataFrame([[0.1, 0.5, 0.9], [1.0, 0.2, 0.0]], index=["g1", "g2"], columns=["c1", "c2", "c3"]).to_csv(
        folder / "ExpressionData.csv"
    )


@pytest.mark.parametrize(
    "make, kind, match",
    [
        (lambda f: (f / "ExpressionData.csv").mkdir(), FileNotFoundError, r"^The file '.*ExpressionData.csv' is a folder, not a file"),
        (lambda f: (f / "ExpressionData.csv").write_bytes(b"PK\x03\x04\x81\x82\xff" * 50), ValueError,
         r"^ExpressionData.csv \('.*'\) is not a text CSV file \(UnicodeDecodeError.*binary content"),
        (lambda f: (f / "ExpressionData.csv.gz").write_bytes(b"not gzip at all"), ValueError,
         r"^ExpressionData.csv.gz \('.*'\) is not a gzip-compressed CSV file"),
        (lambda f: (f / "ExpressionData.csv").write_text("g,c1,c2\ng1,1,2\ng2,1,2,3,4\n"), ValueError,
         r"^ExpressionData.csv \('.*'\) is not a valid CSV file: .*Expected 3 fields in line 3, saw 5"),
        (lambda f: (_expression_csv(f), (f / "PseudoTime.csv").mkdir()), FileNotFoundError,
         r"^The file '.*PseudoTime.csv' is a folder, not a file"),
        (lambda f: (_expression_csv(f), (f / "refNetwork.csv").mkdir()), FileNotFoundError,
         r"^The network file '.*refNetwork.csv' is a folder, not a file"),
    ],
    ids=["expression_is_a_folder", "expression_is_binary", "gz_not_gzip", "ragged_rows", "pseudotime_is_a_folder",
         "network_is_a_folder"],
)
def test_read_beeline_folder_names_a_bad_file(tmp_path, make, kind, match):
    """A folder named ExpressionData.csv was reported missing; a binary one gave a bare UnicodeDecodeError."""
    make(tmp_path)
    network = "refNetwork.csv" if "network" in match else None
    with pytest.raises(kind, match=match):
        scgrn.datasets.read_beeline_folder(tmp_path, network_file=network)


@pytest.mark.parametrize("network", [0, 6, True, 2.0])
def test_dream4_network_is_1_to_5(tmp_path, network):
    """dream4(6) blamed the data folder."""
    with pytest.raises(ValueError, match=rf"^network={network!r} must be an integer from 1 to 5 \(DREAM4 has networks 1-5"):
        scgrn.datasets.dream4(network, data_dir=tmp_path)


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


# --- eighth pass (a seventh adversarial run; issue 18) -----------------------------------------
# DeepSEM save/load statistics: tests/test_model_io.py; embedding of new cells: tests/test_deepsem.py;
# tl.perturb with a layer-trained model: tests/test_perturb.py.
def test_reference_names_with_whitespace_get_a_strip_hint():
    genes = ["a", "b", "c", "d", "e"]
    w = np.random.default_rng(0).normal(size=(5, 5)).astype(np.float32)
    ref = pd.DataFrame({"source": ["a ", "a ", "b ", "c "], "target": ["b", "c", "d", "e"]})
    with pytest.raises(ValueError, match=r"No reference edge is left.*only after stripping surrounding "
                       r"whitespace \('a ' -> 'a'.*s\.str\.strip\(\)"), pytest.warns(UserWarning):
        scgrn.metrics.evaluate_grn(w, ref, var_names=genes)
    ref.loc[0, "source"] = "a"  # one edge left: the warning carries the hint
    with pytest.warns(UserWarning, match="3 of 4 reference edges were dropped.*only after stripping"):
        scgrn.metrics.evaluate_grn(w, ref, var_names=genes)


# --- ninth pass (an eighth adversarial run; issue 18) -----------------------------------------
@pytest.mark.parametrize("metric", ["energy_distance", "sinkhorn_w2"])
def test_distribution_metrics_refuse_anndata_and_name_the_alternative(adata, metric):
    a = _small(adata, 60)
    with pytest.raises(TypeError, match="x is an AnnData.*simulation_closeness"):
        getattr(scgrn.metrics, metric)(a, a)
    assert getattr(scgrn.metrics, metric)(a.X, a.X) == pytest.approx(0.0, abs=1e-6)


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
