"""Shared input checks: every error names the problem and the fix."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from scgrn._validate import check_tfs, expression_matrix


def _adata(n_cells=30, n_genes=8, seed=0, X=None):
    rng = np.random.default_rng(seed)
    if X is None:
        X = rng.gamma(2.0, 1.0, size=(n_cells, n_genes)).astype(np.float32)
    n_cells, n_genes = X.shape
    return ad.AnnData(
        X=X,
        obs=pd.DataFrame(index=[f"HSPC_{i:03d}" for i in range(n_cells)]),
        var=pd.DataFrame(index=[f"GENE{j}" for j in range(n_genes)]),
    )


def test_valid_data_passes_and_adata_unchanged():
    adata = _adata()
    before = adata.X.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        X = expression_matrix(adata)
    assert X.dtype == np.float32 and X.shape == adata.shape
    X[:] = -1  # the result is a copy
    np.testing.assert_array_equal(adata.X, before)


def test_sparse_input_densified_copy():
    adata = _adata()
    dense = adata.X.copy()
    adata.X = sparse.csr_matrix(dense)
    X = expression_matrix(adata)
    assert isinstance(X, np.ndarray)
    np.testing.assert_allclose(X, dense)
    assert sparse.issparse(adata.X)


def test_layer_used_and_unknown_layer():
    adata = _adata()
    adata.layers["log"] = adata.X * 2
    np.testing.assert_allclose(expression_matrix(adata, layer="log"), adata.X * 2)
    with pytest.raises(ValueError, match=r"layer='counts'.*available layers: \['log'\]"):
        expression_matrix(adata, layer="counts")


def test_nan_and_inf():
    adata = _adata()
    adata.X[3, 2] = np.nan
    adata.X[4, 2] = np.inf
    with pytest.raises(ValueError, match=r"2 NaN or infinite.*GENE2.*isfinite") as e:
        expression_matrix(adata)
    assert "1 gene" in str(e.value)


def test_all_zero_genes():
    adata = _adata(n_genes=10)
    adata.X[:, [1, 4]] = 0
    with pytest.raises(ValueError, match=r"2 gene\(s\) are zero.*GENE1.*GENE4") as e:
        expression_matrix(adata)
    assert "sc.pp.filter_genes(adata, min_cells=1)" in str(e.value)


def test_all_zero_names_capped_at_five():
    adata = _adata(n_genes=10)
    adata.X[:, :8] = 0
    with pytest.raises(ValueError, match=r"8 gene\(s\).*3 more") as e:
        expression_matrix(adata)
    assert "GENE5" not in str(e.value)


def test_duplicate_var_names():
    adata = _adata()
    adata.var_names = ["A", "B", "A", "C", "D", "E", "F", "G"]
    with pytest.raises(ValueError, match=r"duplicated.*'A'.*var_names_make_unique\(\)"):
        expression_matrix(adata)


def test_too_few_cells():
    adata = _adata(n_cells=5)
    with pytest.raises(ValueError, match=r"only 5 cell.*min_cells=10"):
        expression_matrix(adata)
    assert expression_matrix(adata, min_cells=5).shape == (5, 8)


def test_transposed_detected_from_tfs():
    adata = _adata(n_cells=30, n_genes=8)
    # genes x cells passed by mistake: gene symbols end up in obs_names
    t = ad.AnnData(X=adata.X.T.copy(), obs=pd.DataFrame(index=adata.var_names),
                   var=pd.DataFrame(index=adata.obs_names))
    with pytest.raises(ValueError, match=r"obs_names but none in adata.var_names.*adata = adata\.T"):
        expression_matrix(t, tfs=["GENE0", "GENE3"], min_cells=1)


def test_transposed_detected_when_obs_are_mostly_tfs():
    X = np.random.default_rng(0).random((12, 40)).astype(np.float32)
    tfs = [f"TF{i}" for i in range(12)]
    obs = pd.DataFrame(index=tfs)
    var = pd.DataFrame(index=[f"TF{i}" for i in range(1)] + [f"X{i}" for i in range(39)])
    with pytest.raises(ValueError, match=r"12 of 12 obs_names are TF names.*adata\.T"):
        expression_matrix(ad.AnnData(X=X, obs=obs, var=var), tfs=tfs)


@pytest.mark.parametrize("barcodes", [
    [f"AAACCTGAGAAGG{i:02d}-1" for i in range(10)],
    [f"cell_{i}" for i in range(10)],
])
def test_transposed_detected_from_barcodes(barcodes):
    X = np.random.default_rng(0).random((12, 10)).astype(np.float32)
    a = ad.AnnData(X=X, obs=pd.DataFrame(index=[f"Gata{i}" for i in range(12)]),
                   var=pd.DataFrame(index=barcodes))
    with pytest.raises(ValueError, match=r"look like cell barcodes.*adata = adata\.T"):
        expression_matrix(a)


def test_cell_like_obs_names_are_fine():
    X = np.random.default_rng(0).random((12, 10)).astype(np.float32)
    a = ad.AnnData(X=X, obs=pd.DataFrame(index=[f"cell{i}" for i in range(12)]),
                   var=pd.DataFrame(index=[f"gene{i}" for i in range(10)]))
    assert expression_matrix(a).shape == (12, 10)


def test_raw_counts_warn():
    counts = np.random.default_rng(0).poisson(20, size=(30, 8)).astype(np.float32)
    counts[0, 0] = 100
    adata = _adata(X=counts)
    with pytest.warns(UserWarning, match=r"raw counts.*normalize_total.*log1p"):
        expression_matrix(adata)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expression_matrix(adata, expect=None)
        expression_matrix(adata, expect="counts")


def test_small_integers_do_not_warn():
    counts = np.random.default_rng(0).poisson(3, size=(30, 8)).astype(np.float32) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expression_matrix(_adata(X=np.minimum(counts, 30)))


def test_check_tfs():
    genes = pd.Index(["A", "B", "C"])
    assert check_tfs(None, genes) is None
    assert check_tfs(["B", "A", "B"], genes) == ["B", "A"]
    assert check_tfs(pd.Series(["C"]), genes) == ["C"]
    with pytest.raises(TypeError, match=r"list of gene names.*tfs=\['A'\]"):
        check_tfs("A", genes)
    with pytest.raises(ValueError):  # also a ValueError
        check_tfs("A", genes)
    with pytest.raises(ValueError, match=r"2 of 3 TFs are not in adata.var_names.*'X'.*'Y'") as e:
        check_tfs(["A", "X", "Y"], genes)
    assert "tfs = [t for t in tfs if t in adata.var_names]" in str(e.value)
    with pytest.raises(ValueError, match="empty"):
        check_tfs([], genes)


def test_check_tfs_lists_at_most_ten():
    genes = pd.Index(["A"])
    with pytest.raises(ValueError, match=r"15 of 15.*\(5 more\)"):
        check_tfs([f"T{i}" for i in range(15)], genes)
