"""Notebook workflows: pseudotime columns, backed files and views of them, series keys, TF masks, group pairs.

Input checks found by the ninth adversarial run (issue 18, "tenth pass"; rows in docs/bad_inputs.md).
One section per finding; each test fails on the behaviour that was found (a raw numpy error, a message
that names the wrong cause, or a full computation that fails when writing) and passes with the fix in
the shared checks (``scgrn._validate``, ``scgrn._names``) or in the one function concerned. The module
is self-contained: its fixtures are defined here.
"""

from __future__ import annotations

import warnings

import anndata as ad
import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import scgrn
from _registry_helpers import REGISTRY, call_method, method_data
from scgrn._names import TFsTypeError, as_tf_list

matplotlib.use("Agg")


@pytest.fixture
def counts():
    """30 log-normalised genes x 150 cells with 5 TFs (``var['is_tf']``), in memory."""
    adata, _ = scgrn.datasets.planted_counts(n_genes=30, n_cells=150, n_tfs=5, random_state=0)
    return adata


def _tfs(adata) -> list[str]:
    return list(adata.var_names[adata.var["is_tf"]])


def _pseudotime_along_a_tf(adata) -> np.ndarray:
    """A pseudotime that follows the first TF's expression (noisy), so that TF varies along it."""
    X = adata.X.toarray() if sparse.issparse(adata.X) else np.asarray(adata.X)
    tf = int(np.flatnonzero(adata.var["is_tf"])[0])
    return X[:, tf] + np.random.default_rng(0).normal(scale=0.1, size=adata.n_obs)


def _backed(adata, tmp_path, name="a.h5ad") -> ad.AnnData:
    path = tmp_path / name
    adata.write_h5ad(path)
    return ad.read_h5ad(path, backed="r")


# ---------------------------------------------------------------------------------------------
# run 9, UNCLEAR 1: pp.select_genes(pseudotime_key=) with a text / categorical / all-NaN column
# raised numpy's IndexError after four RuntimeWarnings
# ---------------------------------------------------------------------------------------------
def _pseudotime_columns(n: int) -> dict:
    half = np.arange(n) % 2 == 1
    few = np.full(n, np.nan)
    few[:5] = np.arange(5)
    return {
        "categorical_text": (pd.Categorical(np.where(half, "early", "late")), r"dtype is category.*'late'"),
        "object_text": (np.where(half, "early", "0.5").astype(object), r"dtype is object.*75 of 150.*'early'"),
        "bool": (half, r"True/False \(dtype bool\)"),
        "all_nan": (np.full(n, np.nan), r"no finite pseudotime in any of the 150 cells"),
        "constant": (np.full(n, 0.3), r"the same value \(0\.3\) in all 150 cells"),
        "five_cells": (few, r"Only 5 of 150 cells have a finite pseudotime.*at least \d+ are needed"),
    }


@pytest.mark.parametrize("case", list(_pseudotime_columns(150)))
def test_select_genes_refuses_a_non_numeric_pseudotime_before_reading_the_data(counts, case, monkeypatch):
    column, match = _pseudotime_columns(counts.n_obs)[case]
    counts.obs["pt"] = column

    def _not_reached(*args, **kwargs):
        raise AssertionError("the expression was read before the pseudotime was checked")

    monkeypatch.setattr(scgrn.pp._select_genes, "checked_matrix", _not_reached)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's "Mean of empty slice" came first
        with pytest.raises(ValueError, match=r"adata\.obs\['pt'\]") as info:
            scgrn.pp.select_genes(counts, tfs=_tfs(counts), n_top=10, pseudotime_key="pt")
    assert info.match(match) and info.match(r"dpt_pseudotime.*sc\.tl\.dpt")
    assert "scgrn_selected" not in counts.var


def test_select_genes_reads_a_pseudotime_of_numeric_text_as_numbers(counts):
    t = _pseudotime_along_a_tf(counts)
    counts.obs["pt"] = t
    counts.obs["pt_text"] = [f"{v:.17g}" for v in t]
    a = scgrn.pp.select_genes(counts, tfs=_tfs(counts), n_top=10, pseudotime_key="pt", copy=True)
    b = scgrn.pp.select_genes(counts, tfs=_tfs(counts), n_top=10, pseudotime_key="pt_text", copy=True)
    assert a.var["scgrn_selected"].any()
    np.testing.assert_array_equal(a.var["scgrn_selected"], b.var["scgrn_selected"])


# ---------------------------------------------------------------------------------------------
# run 9, UNCLEAR 2: pp.select_genes on a backed AnnData with sparse X: numpy's "setting an array
# element with a sequence" (np.asarray of anndata's _CSRDataset)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("store", ["sparse", "dense"])
@pytest.mark.parametrize("pseudotime", [False, True])
def test_select_genes_on_a_backed_file_equals_in_memory(counts, store, pseudotime, tmp_path):
    dense = counts.X.toarray() if sparse.issparse(counts.X) else np.asarray(counts.X)
    counts.X = sparse.csr_matrix(dense) if store == "sparse" else dense
    if pseudotime:  # NaN cells are left out of the test, block by block
        t = _pseudotime_along_a_tf(counts)
        t[::7] = np.nan
        counts.obs["pt"] = t
    kwargs = dict(tfs=_tfs(counts), n_top=10, pseudotime_key="pt" if pseudotime else None)
    memory = scgrn.pp.select_genes(counts, copy=True, **kwargs)
    assert memory.var["scgrn_selected"].any()
    backed = _backed(counts, tmp_path)
    try:
        scgrn.pp.select_genes(backed, **kwargs)
        np.testing.assert_array_equal(backed.var["scgrn_selected"], memory.var["scgrn_selected"])
        np.testing.assert_allclose(backed.var["scgrn_selected_variance"], memory.var["scgrn_selected_variance"],
                                   rtol=1e-5, atol=1e-7)
        assert backed.uns["scgrn_selected"]["method"] == ("pseudotime" if pseudotime else "variance")
    finally:
        backed.file.close()


def test_select_genes_pseudotime_pvalues_on_a_backed_file_equal_in_memory(counts, tmp_path):
    from scgrn.pp._select_genes import _checked_pseudotime, _pseudotime_pvalues

    counts.X = sparse.csr_matrix(counts.X)
    counts.obs["pt"] = np.where(np.arange(counts.n_obs) % 5 == 0, np.nan, np.linspace(0, 1, counts.n_obs))
    ok, Q = _checked_pseudotime(counts, "pt")
    backed = _backed(counts, tmp_path)
    try:
        np.testing.assert_allclose(_pseudotime_pvalues(backed.X, Q, ok), _pseudotime_pvalues(counts.X, Q, ok),
                                   rtol=1e-6, atol=1e-12)
    finally:
        backed.file.close()


# ---------------------------------------------------------------------------------------------
# run 9, UNCLEAR 3: a tool on a view of a backed AnnData (backed[:300]) computed everything, then
# failed in anndata's writer ("To copy an AnnData object in backed mode, pass a filename")
# ---------------------------------------------------------------------------------------------
_VIEW = r"view of a backed AnnData.*Nothing was computed.*to_memory\(\).*copy\(filename="


def _refuse_reading(monkeypatch):
    def _not_reached(*args, **kwargs):
        raise AssertionError("the expression was read before the write target was checked")

    monkeypatch.setattr(scgrn._validate, "summarise_columns", _not_reached)


@pytest.mark.parametrize("name", list(REGISTRY.index))
@pytest.mark.parametrize("copy", [False, True])
def test_every_grn_tool_refuses_a_backed_view_before_any_work(name, copy, tmp_path, monkeypatch):
    backed = _backed(method_data(REGISTRY.loc[name, "input"]), tmp_path)
    view = backed[: backed.n_obs - 2]
    _refuse_reading(monkeypatch)
    try:
        with pytest.raises(ValueError, match=_VIEW):
            call_method(name, view, key_added="k", copy=copy)
        assert "k" not in view.varp and "k" not in view.uns
    finally:
        backed.file.close()


def test_other_writing_tools_refuse_a_backed_view(counts, tmp_path, monkeypatch):
    counts.obs["half"] = np.where(np.arange(counts.n_obs) < 75, "a", "b")
    scgrn.tl.correlation(counts, key_added="net")
    backed = _backed(counts, tmp_path)
    view = backed[:100]
    _refuse_reading(monkeypatch)
    calls = {
        "select_genes": lambda: scgrn.pp.select_genes(view, tfs=_tfs(counts), n_top=5),
        "groupby": lambda: scgrn.tl.correlation(view, groupby="half"),
        "tf_activity": lambda: scgrn.tl.tf_activity(view, key="net", n_targets=3, tmin=1),
    }
    try:
        for name, call in calls.items():
            with pytest.raises(ValueError, match=_VIEW):
                call()
            assert "scgrn_selected" not in view.var and "pearson" not in view.varp, name
    finally:
        backed.file.close()


def test_reading_tools_still_work_on_a_backed_view_and_the_fix_runs(tmp_path):
    adata, _ = scgrn.datasets.krumsiek11()
    adata.X = np.clip(adata.X, 0, None)
    scgrn.tl.correlation(adata)
    scgrn.tl.correlation(adata, groupby="cell_type", key_added="grouped")
    backed = _backed(adata, tmp_path)
    view = backed[:300]
    try:
        assert len(scgrn.get.edges(view, key="pearson")) > 0
        assert len(scgrn.get.edge_differences(view, key="grouped", groups=("Ery", "Mk"), top_k=3)) == 3
        scgrn.pl.grn(view, key="pearson", show=False)
        memory = view.to_memory()  # the fix the message names
        scgrn.tl.correlation(memory, key_added="subset")
        assert memory.varp["subset"].shape == (adata.n_vars, adata.n_vars)
        on_disk = view.copy(filename=tmp_path / "subset.h5ad")  # the other fix: still backed, not a view
        scgrn.tl.correlation(on_disk, key_added="subset")
        np.testing.assert_allclose(on_disk.varp["subset"], memory.varp["subset"])
        on_disk.file.close()
    finally:
        backed.file.close()


# ---------------------------------------------------------------------------------------------
# run 9, UNCLEAR 4: series_key=None on data with several series said "... labels in obs[None]"
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def series_data():
    adata, _ = scgrn.datasets.planted_time_series(n_genes=6, n_series=4, n_times=8, random_state=0)
    return adata


@pytest.mark.parametrize("tool", [scgrn.tl.time_lagged_correlation, scgrn.tl.dyngenie3], ids=lambda f: f.__name__)
def test_series_key_none_names_the_series_column(series_data, tool):
    with pytest.raises(ValueError, match=r"series_key is None.*obs\['time'\].*series_key='series'") as info:
        tool(series_data, series_key=None)
    assert "obs[None]" not in str(info.value)


def test_series_key_none_suggests_a_renamed_series_column_or_how_to_add_one(series_data):
    series_data.obs["replicate"] = series_data.obs.pop("series")
    with pytest.raises(ValueError, match=r"series_key='replicate'"):
        scgrn.tl.time_lagged_correlation(series_data, series_key=None)
    del series_data.obs["replicate"]
    with pytest.raises(ValueError, match=r"series_key is None.*adata\.obs\['series'\] = \.\.\..*series_key='series'"):
        scgrn.tl.time_lagged_correlation(series_data, series_key=None)


# ---------------------------------------------------------------------------------------------
# run 9, UNCLEAR 5: tfs=adata.var['is_tf'] (a boolean mask) was read as the gene names 'True' / 'False'
# ---------------------------------------------------------------------------------------------
_MASKS = {
    "series": lambda a: a.var["is_tf"],
    "ndarray": lambda a: a.var["is_tf"].to_numpy(),
    "list": lambda a: a.var["is_tf"].tolist(),
    "nullable": lambda a: a.var["is_tf"].astype("boolean"),
    "series_reordered": lambda a: a.var["is_tf"].iloc[::-1],  # matched by gene name
    "series_range_index": lambda a: a.var["is_tf"].reset_index(drop=True),  # by position
}


@pytest.mark.parametrize("mask", list(_MASKS))
@pytest.mark.parametrize(
    "tool",
    [
        lambda a, tfs: scgrn.tl.correlation(a, tfs=tfs, copy=True).varp["pearson"],
        lambda a, tfs: scgrn.tl.pidc(a, tfs=tfs, copy=True).varp["pidc"],
        lambda a, tfs: scgrn.tl.deepsem(a, tfs=tfs, copy=True, random_state=0, n_models=1, n_epochs=1,
                                        hidden_dim=4, show_progress_bar=False).uns["deepsem"]["tfs"],
        lambda a, tfs: scgrn.tl.correlation(a, tfs=tfs, groupby="half", copy=True).varp["pearson_a"],
        lambda a, tfs: scgrn.pp.select_genes(a, tfs=tfs, n_top=3, copy=True).var["scgrn_selected"].to_numpy(),
        lambda a, tfs: scgrn.metrics.grn_consistency(a, a, method="pearson", tfs=tfs, top=(0.1,))[["k", "consistency"]].to_numpy(),
    ],
    ids=["correlation", "pidc", "deepsem", "grouped", "select_genes", "grn_consistency"],
)
def test_tfs_as_a_boolean_mask_selects_the_genes_where_true(counts, mask, tool):
    counts.obs["half"] = np.where(np.arange(counts.n_obs) < 75, "a", "b")
    names = _tfs(counts)
    assert len(names) < counts.n_vars
    expected, got = tool(counts, names), tool(counts, _MASKS[mask](counts))
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def test_tfs_mask_recorded_and_usable_downstream(counts):
    scgrn.tl.correlation(counts, tfs=counts.var["is_tf"])
    assert counts.uns["pearson"]["tfs"] == _tfs(counts)
    scgrn.tl.correlation(counts, key_added="all")
    pred = scgrn.get.to_prediction(counts, key="all", tfs=counts.var["is_tf"], n_edges=10)
    assert set(pred.uns["prediction"]["source"]) <= set(_tfs(counts))


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda a: a.var["is_tf"].to_numpy()[:-1], ValueError, r"boolean mask of length 29, but adata has 30 genes"),
        (lambda a: np.zeros(a.n_vars, bool), ValueError, r"boolean mask with no True value.*tfs=None"),
        (lambda a: a.var["is_tf"].astype("boolean").mask(a.var_names == a.var_names[0], pd.NA), ValueError,
         r"1 missing value.*fillna\(False\)"),
        (lambda a: pd.Series(a.var["is_tf"].to_numpy(), index=[f"x{i}" for i in range(a.n_vars)]), ValueError,
         r"indexed by names that are not adata\.var_names \(e\.g\. 'x0'.*another AnnData's mask"),
    ],
    ids=["wrong_length", "no_true", "missing", "foreign_index"],
)
def test_tfs_mask_that_does_not_fit_is_refused_clearly(counts, make, error, match):
    for call in (lambda t: scgrn.tl.correlation(counts, tfs=t), lambda t: scgrn.pp.select_genes(counts, tfs=t)):
        with pytest.raises(error, match=match):
            call(make(counts))
    assert "pearson" not in counts.varp and "scgrn_selected" not in counts.var


def test_tfs_mask_without_genes_to_apply_it_to_is_refused():
    with pytest.raises(TFsTypeError, match=r"boolean mask.*tfs=adata\.var_names\[mask\]"):
        as_tf_list(np.array([True, False]))
    x = np.abs(np.random.default_rng(0).normal(size=(40, 4))).astype(np.float32)
    with pytest.raises(TFsTypeError, match="boolean mask"):  # arrays carry no gene names
        scgrn.metrics.grn_consistency(x, x, method="pearson", tfs=np.array([True, False, True, False]))


# ---------------------------------------------------------------------------------------------
# run 9, UNCLEAR 6: get/pl.edge_differences(groups=<numpy array, Categorical, ...>) said "must be
# two different group names" for two different names
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def grouped():
    adata, _ = scgrn.datasets.krumsiek11()
    scgrn.tl.correlation(adata, groupby="cell_type")
    return adata


_PAIRS = {
    "ndarray": lambda a: np.array(["Ery", "Mk"]),
    "object_ndarray": lambda a: np.array(["Ery", "Mk"], dtype=object),
    "index": lambda a: pd.Index(["Ery", "Mk"]),
    "series_other_index": lambda a: pd.Series(["Ery", "Mk"], index=[5, 9]),  # read by position
    "categorical": lambda a: pd.Categorical(["Ery", "Mk"], categories=a.obs["cell_type"].cat.categories),
    "unique_slice": lambda a: pd.Categorical(a.obs["cell_type"].unique()[:2]),
}


@pytest.mark.parametrize("pair", list(_PAIRS))
def test_edge_differences_accepts_any_sequence_of_two_names(grouped, pair):
    groups = _PAIRS[pair](grouped)
    expected = scgrn.get.edge_differences(grouped, key="pearson", groups=tuple(np.asarray(groups)), top_k=5)
    got = scgrn.get.edge_differences(grouped, key="pearson", groups=groups, top_k=5)
    pd.testing.assert_frame_equal(got, expected)
    ax = scgrn.pl.edge_differences(grouped, key="pearson", groups=groups, top_k=5, show=False)
    assert len(ax.get_yticklabels()) == 5
    matplotlib.pyplot.close("all")


@pytest.mark.parametrize(
    "groups, match",
    [
        ("Ery", r"got the single string 'Ery'"),
        ({"Ery", "Mk"}, r"ordered sequence.*got set"),
        (np.array(["Ery", "Mk", "Mo"]), r"ndarray given holds 3"),
        (np.array([["Ery", "Mk"]]), r"one-dimensional.*shape \(1, 2\)"),
        (pd.Index(["Ery", "Ery"]), r"two different group names, but both are 'Ery'"),
    ],
    ids=["string", "set", "three", "two_d", "same_twice"],
)
def test_edge_differences_says_what_was_received(grouped, groups, match):
    for call in (scgrn.get.edge_differences, scgrn.pl.edge_differences):
        with pytest.raises(ValueError, match=match):
            call(grouped, key="pearson", groups=groups)
