"""Expression data: beyond float32, non-real dtypes, z-scored or unlogged, p-values, backed AnnData.

Input checks from the adversarial runs (issue 18): see _inputs_helpers.py for how to read them.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from scipy import sparse

import scgrn
from scgrn._validate import checked_matrix

from _inputs_helpers import FAST_DEEPSEM, _small


# ---------------------------------------------------------------------------------------------
# finite float64 values beyond the float32 range
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
# non-real dtypes (fifth run)
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# pp.select_genes checks var[pvalue_key]
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
# pp.select_genes refuses z-scored data (variance ranking would be rounding noise; second run)
# ---------------------------------------------------------------------------------------------
def _counts_log(n_cells=300, n_genes=60, seed=0):
    """Log-normalised expression of simulated counts (genes of very different levels)."""
    rng = np.random.default_rng(seed)
    mean = rng.lognormal(0.0, 1.5, size=n_genes)
    counts = rng.poisson(mean * rng.gamma(2.0, 0.5, size=(n_cells, 1)))
    x = np.log1p(counts / np.maximum(counts.sum(1, keepdims=True), 1) * 1e4)
    return ad.AnnData(x.astype(np.float32), var=pd.DataFrame(index=[f"G{i}" for i in range(n_genes)]))


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
# normalised but not log-transformed data (third run)
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# backed AnnData (fifth run)
# ---------------------------------------------------------------------------------------------
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
