"""Silently wrong results found by the eighth adversarial sweep (rows at the end of docs/bad_inputs.md).

Each test fails on the behaviour that was found (a number without a word that does not mean what it
says) and passes with the fix in the one function concerned:

- ``metrics.precision_recall_at_k``: NaN / infinite weights were ranked (NaN last, inf first), a
  fractional ``k`` truncated, and an all-tied network scored by the gene order without a word;
- ``metrics.top_edge_overlap``: NaN weights were ranked, and two all-zero networks agreed perfectly;
- ``tl.partial_correlation(shrinkage=False)``: a constant gene got edges of |r| up to 1 (rounding
  residue of the pseudo-inverse divided by its ~0 diagonal);
- ``pp.select_genes`` on a sparse or backed matrix: a constant TF counted as varying (variance
  ``E[x^2] - mean^2`` of ~1e-17) and was selected, unlike from the same dense matrix;
- ``models.DeepSEM`` / ``tl.deepsem``: a gene with one value in every cell got edges that are not
  learned from the data (3rd strongest of 90 at the default settings), without a word.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import scgrn

TINY_DEEPSEM = {"n_models": 1, "n_epochs": 1, "hidden_dim": 4}


def _cells(n_obs=80, n_vars=5, constant=None, value=1.5, seed=0):
    rng = np.random.default_rng(seed)
    x = np.log1p(rng.poisson(3.0, size=(n_obs, n_vars))).astype(np.float32)
    if constant is not None:
        x[:, constant] = np.float32(value)
    a = ad.AnnData(x)
    a.var_names = [f"G{i}" for i in range(n_vars)]
    a.obs_names = [f"c{i}" for i in range(n_obs)]
    return a


# ---------------------------------------------------------------------------------------------
# metrics.precision_recall_at_k
# ---------------------------------------------------------------------------------------------
_GENES = ["a", "b", "c"]
_REF = pd.DataFrame({"source": ["a", "a"], "target": ["b", "c"]})


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("fmt", [np.asarray, sparse.csr_matrix])
def test_precision_recall_at_k_refuses_non_finite_weights(value, fmt):
    """NaN on the true edge a -> b was ranked last (precision 0), inf first (precision 0.5)."""
    w = np.array([[0, value, 0.1], [0.8, 0, 0], [0, 0.5, 0]])
    with pytest.raises(ValueError, match=r"1 NaN or infinite weight\(s\) among its candidate pairs.*nan_to_num"):
        scgrn.metrics.precision_recall_at_k(fmt(w), _REF, var_names=_GENES)


def test_precision_recall_at_k_ignores_non_finite_self_pairs():
    """The diagonal is never a candidate: a NaN there changes nothing (as in evaluate_grn)."""
    w = np.array([[0, 0.9, 0.1], [0.8, 0, 0], [0, 0.5, 0]])
    expected = scgrn.metrics.precision_recall_at_k(w, _REF, var_names=_GENES)
    w[2, 2] = np.nan
    assert scgrn.metrics.precision_recall_at_k(w, _REF, var_names=_GENES) == expected


@pytest.mark.parametrize("k", [2.9, "2", True])
def test_precision_recall_at_k_refuses_a_k_that_is_not_an_integer(k):
    """k=2.9 was truncated to 2 (and True read as 1) without a word."""
    w = np.array([[0, 0.9, 0.1], [0.8, 0, 0], [0, 0.5, 0]])
    with pytest.raises(TypeError, match=r"k must be an integer"):
        scgrn.metrics.precision_recall_at_k(w, _REF, var_names=_GENES, k=k)
    assert scgrn.metrics.precision_recall_at_k(w, _REF, var_names=_GENES, k=np.int64(3))["k"] == 3


def test_precision_recall_at_k_warns_when_reference_edges_are_dropped():
    """A reference edge naming a gene outside the GRN was dropped and recall computed over the rest,
    with only ``n_reference_dropped`` in the result to tell (evaluate_grn warns)."""
    w = np.array([[0, 0.9, 0.1], [0.8, 0, 0], [0, 0.5, 0]])
    ref = pd.concat([_REF, pd.DataFrame({"source": ["a", "Zz"], "target": ["Yy", "b"]})], ignore_index=True)
    with pytest.warns(UserWarning, match=r"2 of 4 reference edges were dropped because 2 of their genes.*'Yy'.*count only the 2 edges left"):
        res = scgrn.metrics.precision_recall_at_k(w, ref, var_names=_GENES)
    assert res["n_reference_dropped"] == 2 and res["n_true"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every edge inside the GRN: no warning
        scgrn.metrics.precision_recall_at_k(w, _REF, var_names=_GENES)


def test_precision_recall_at_k_warns_on_an_all_tied_network():
    """An all-zero GRN scored precision 1.0: its 'top' pairs were the first ones in gene order, which
    happened to be the true edges a -> b, a -> c."""
    with pytest.warns(UserWarning, match=r"All 6 candidate pairs have the same \|weight\|.*precision and recall"):
        res = scgrn.metrics.precision_recall_at_k(np.zeros((3, 3)), _REF, var_names=_GENES)
    assert res["precision"] == 1.0  # the number itself is unchanged: the warning says what it is worth
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scgrn.metrics.precision_recall_at_k(np.arange(9.0).reshape(3, 3), _REF, var_names=_GENES)


# ---------------------------------------------------------------------------------------------
# metrics.top_edge_overlap
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("which", ["grn_a", "grn_b"])
def test_top_edge_overlap_refuses_non_finite_weights(value, which):
    w = np.random.default_rng(0).normal(size=(6, 6))
    bad = w.copy()
    bad[0, 1] = value
    a, b = (bad, w) if which == "grn_a" else (w, bad)
    with pytest.raises(ValueError, match=rf"{which} contains 1 NaN or infinite weight"):
        scgrn.metrics.top_edge_overlap(a, b, top=(0.1, 0.5))
    bad[0, 0] = np.nan  # a self-pair is no candidate: only the off-diagonal one is counted
    with pytest.raises(ValueError, match=rf"{which} contains 1 NaN"):
        scgrn.metrics.top_edge_overlap(a, b, top=(0.1, 0.5))


def test_top_edge_overlap_warns_on_an_all_tied_network():
    """Two all-zero networks had consistency 1.0 at every fraction (both 'top' sets were the first
    pairs in gene order)."""
    zero = np.zeros((6, 6))
    with pytest.warns(UserWarning, match=r"All 30 candidate edges of grn_a have the same \|weight\|.*the overlaps"):
        scgrn.metrics.top_edge_overlap(zero, np.random.default_rng(0).normal(size=(6, 6)), top=(0.1,))
    with pytest.warns(UserWarning, match="grn_b"):
        scgrn.metrics.top_edge_overlap(np.random.default_rng(0).normal(size=(6, 6)), zero, top=(0.1,))
    w = np.random.default_rng(1).normal(size=(6, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scgrn.metrics.top_edge_overlap(w, w, top=(0.1,))["consistency"].tolist() == [1.0]


# ---------------------------------------------------------------------------------------------
# tl.partial_correlation with a constant gene
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shrinkage", [False, "auto", True])
@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_partial_correlation_gives_a_constant_gene_no_edge(shrinkage, method):
    """shrinkage=False gave the constant gene G2 partial correlations of -0.98, 0.22, ... with the
    others; now its row and column are zero, and the other genes' network is the one without it."""
    a = _cells(constant=2)
    scgrn.tl.partial_correlation(a, shrinkage=shrinkage, method=method)
    W = a.varp["partial_correlation"]
    assert not W[2].any() and not W[:, 2].any()
    kept = [0, 1, 3, 4]
    b = a[:, kept].copy()
    scgrn.tl.partial_correlation(b, shrinkage=shrinkage, method=method)
    np.testing.assert_allclose(W[np.ix_(kept, kept)], b.varp["partial_correlation"], atol=1e-6)


# ---------------------------------------------------------------------------------------------
# pp.select_genes: a constant gene in a sparse or backed matrix
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("store", ["dense", "csr", "csc", "backed"])
def test_select_genes_never_selects_a_constant_tf(store, tmp_path):
    """The constant TF g3 was selected from CSR / CSC / backed input (variance ~3e-18 > 0), not from
    the same dense matrix: the selection depended on how the matrix was stored."""
    rng = np.random.default_rng(0)
    x = np.log1p(rng.poisson(2, size=(1000, 8))).astype(np.float32)
    x[:, 3] = np.float32(0.01)
    stored = {"dense": x, "csr": sparse.csr_matrix(x), "csc": sparse.csc_matrix(x), "backed": sparse.csr_matrix(x)}[store]
    a = ad.AnnData(stored)
    a.var_names = [f"g{i}" for i in range(8)]
    if store == "backed":
        a.write_h5ad(tmp_path / "a.h5ad")
        a = ad.read_h5ad(tmp_path / "a.h5ad", backed="r")
    scgrn.pp.select_genes(a, tfs=["g3", "g0"], n_top=2)
    assert a.var["scgrn_selected_variance"].iloc[3] == 0.0
    assert a.var["scgrn_selected"].tolist() == [True, False, False, False, True, False, False, True]
    if store == "backed":
        a.file.close()


# ---------------------------------------------------------------------------------------------
# DeepSEM with a constant gene
# ---------------------------------------------------------------------------------------------
def test_deepsem_warns_naming_constant_genes():
    a = _cells(constant=2, value=0.7)
    with pytest.warns(UserWarning, match=r"1 gene\(s\) have the same value in every cell of adata.X \('G2'\).*no information"):
        scgrn.tl.deepsem(a, show_progress_bar=False, **TINY_DEEPSEM)
    a.layers["log"] = a.X.copy()
    with pytest.warns(UserWarning, match=r"every cell of adata.layers\['log'\] \('G2'\)"):
        scgrn.models.DeepSEM(a, layer="log", **TINY_DEEPSEM)
    a.X = sparse.csr_matrix(a.X)  # from the stored values: a sparse matrix is not densified
    with pytest.warns(UserWarning, match=r"\('G2'\)"):
        scgrn.models.DeepSEM(a, **TINY_DEEPSEM)


def test_deepsem_without_constant_genes_or_grouped_does_not_warn():
    """Varying genes give no warning; a grouped run leaves a group's constant genes out of its model,
    so it has nothing to warn about."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*same value in every cell")
        scgrn.models.DeepSEM(_cells(), **TINY_DEEPSEM)
        a = _cells(constant=2)
        a.obs["half"] = np.where(np.arange(a.n_obs) < 40, "x", "y")
        scgrn.tl.deepsem(a, groupby="half", show_progress_bar=False, **TINY_DEEPSEM)
    assert a.uns["deepsem_x"]["constant_genes"] == ["G2"]
