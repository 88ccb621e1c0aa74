import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import scgrn
from scgrn.get import edges, edges_from_matrix

GENES = ["A", "B", "C", "D"]


def _adata(W, tfs=None, key="deepsem"):
    adata = ad.AnnData(np.zeros((5, len(GENES)), dtype=np.float32), var=pd.DataFrame(index=GENES))
    adata.varp[key] = np.asarray(W, dtype=np.float32)
    adata.uns[key] = {"method": "manual", "params": {}}
    if tfs is not None:
        adata.uns[key]["tfs"] = tfs
    return adata


@pytest.fixture
def W():
    W = np.zeros((4, 4), dtype=np.float32)
    W[0, 1] = 0.5  # A -> B
    W[0, 2] = -2.0  # A -| C
    W[1, 0] = 1.0  # B -> A
    W[1, 3] = -0.25  # B -| D
    W[2, 3] = 0.75  # C -> D
    W[3, 3] = 9.0  # self-loop, must be excluded
    return W


def test_columns_dtypes_and_order(W):
    df = edges(_adata(W))
    assert list(df.columns) == ["source", "target", "weight"]
    assert list(df.index) == list(range(len(df)))
    assert all(isinstance(s, str) for s in df["source"]) and all(isinstance(t, str) for t in df["target"])
    np.testing.assert_allclose(df["weight"], [-2.0, 1.0, 0.75, 0.5, -0.25])
    assert np.all(np.diff(np.abs(df["weight"].to_numpy())) <= 0)


def test_orientation_row_is_source(W):
    df = edges(_adata(W))
    first = df.iloc[0]
    assert (first.source, first.target, first.weight) == ("A", "C", -2.0)  # varp[0, 2]
    pairs = set(zip(df.source, df.target))
    assert ("B", "A") in pairs and ("A", "B") in pairs
    assert ("C", "A") not in pairs  # varp[2, 0] == 0
    assert float(df.query("source == 'B' and target == 'A'").weight.iloc[0]) == 1.0


def test_self_pairs_and_zeros_excluded(W):
    df = edges(_adata(W))
    assert not (df.source == df.target).any()
    assert len(df) == 5  # 16 entries, 10 zeros, 1 diagonal
    assert (df.weight != 0).all()


def test_ties_are_stable_row_major():
    W = np.zeros((4, 4), dtype=np.float32)
    W[2, 0] = W[0, 3] = W[1, 2] = -1.0
    W[3, 1] = 1.0
    df = edges(_adata(W))
    assert list(zip(df.source, df.target)) == [("A", "D"), ("B", "C"), ("C", "A"), ("D", "B")]
    # top_k at a tie keeps the head of the same ordering
    head = edges(_adata(W), top_k=2)
    pd.testing.assert_frame_equal(head, df.head(2))


def test_top_k(W):
    full = edges(_adata(W))
    for k in (0, 1, 3, 5, 100):
        df = edges(_adata(W), top_k=k)
        pd.testing.assert_frame_equal(df, full.head(k).reset_index(drop=True))
    with pytest.raises(ValueError, match="non-negative"):
        edges(_adata(W), top_k=-1)
    with pytest.raises(TypeError, match="top_k"):
        edges(_adata(W), top_k=2.5)


def test_top_k_large_matrix_matches_full_sort():
    rng = np.random.default_rng(0)
    n = 300
    M = rng.normal(size=(n, n)).astype(np.float32)
    M[rng.random((n, n)) < 0.3] = 0
    names = [f"g{i}" for i in range(n)]
    full = edges_from_matrix(M, names)
    top = edges_from_matrix(M, names, top_k=1000)
    pd.testing.assert_frame_equal(top, full.head(1000))
    assert len(full) == np.count_nonzero(M) - np.count_nonzero(np.diag(M))


def test_min_abs_weight(W):
    df = edges(_adata(W), min_abs_weight=0.75)
    np.testing.assert_allclose(df.weight, [-2.0, 1.0, 0.75])
    with pytest.raises(ValueError, match="min_abs_weight"):
        edges(_adata(W), min_abs_weight=-1)


def test_tfs_only_default_uses_recorded_tfs(W):
    adata = _adata(W, tfs=["A", "C"])
    df = edges(adata)
    assert set(df.source) == {"A", "C"}
    assert set(edges(adata, tfs_only=False).source) == {"A", "B", "C"}
    # without a record, every gene is a source
    assert set(edges(_adata(W)).source) == {"A", "B", "C"}


def test_tfs_as_array_after_roundtrip(W, tmp_path):
    adata = _adata(W, tfs=np.array(["B"]))
    path = tmp_path / "x.h5ad"
    adata.write_h5ad(path)
    back = ad.read_h5ad(path)
    assert set(edges(back).source) == {"B"}
    pd.testing.assert_frame_equal(edges(back), edges(adata))


def test_tfs_only_true_without_tfs_raises(W):
    with pytest.raises(ValueError, match=r"no TF list is recorded.*tfs_only=False"):
        edges(_adata(W), tfs_only=True)


def test_missing_key_message(W):
    adata = _adata(W, key="other")
    with pytest.raises(KeyError, match=r"varp\['deepsem'\].*other.*scgrn\.tl\.deepsem"):
        edges(adata)
    assert len(edges(adata, key="other")) == 5


def test_sparse_varp(W):
    adata = _adata(W)
    adata.varp["deepsem"] = sparse.csr_matrix(W)
    pd.testing.assert_frame_equal(edges(adata), edges(_adata(W)))


def test_edges_from_matrix_checks_and_sources(W):
    with pytest.raises(ValueError, match="square"):
        edges_from_matrix(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="var_names"):
        edges_from_matrix(np.zeros((3, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="None of the sources"):
        edges_from_matrix(W, GENES, sources=["X"])
    df = edges_from_matrix(W, GENES, sources=["B", "X"])
    assert set(df.source) == {"B"}
    df = edges_from_matrix(W, GENES, targets=["D"])
    assert set(df.target) == {"D"}
    # integer matrices are accepted
    assert edges_from_matrix(np.array([[0, 2], [0, 0]]), ["a", "b"]).weight.dtype.kind == "f"


def test_nan_weights_dropped_with_warning(W):
    W = W.copy()
    W[2, 1] = np.nan
    with pytest.warns(RuntimeWarning, match="NaN"):
        df = edges(_adata(W))
    assert len(df) == 5 and df.weight.notna().all()


def test_public_namespace():
    assert scgrn.get.edges is edges
    assert scgrn.get.edges_from_matrix is edges_from_matrix


# ---------------------------------------------------------------------------
# sparse GRNs: the same table as the dense matrix, read from the stored entries
# ---------------------------------------------------------------------------

SPARSE_GENES = [f"g{i}" for i in range(12)]


def _random_grn(seed=0, n=12):
    """Random weights with zeros, ties at several |w| (both signs) and a non-zero diagonal."""
    rng = np.random.default_rng(seed)
    W = np.round(rng.normal(size=(n, n)), 1).astype(np.float32)
    W[rng.random((n, n)) < 0.4] = 0
    W[1, 2], W[4, 0], W[0, 3] = 0.7, -0.7, 0.7
    np.fill_diagonal(W, 5.0)
    return W


def _sparse_adata(M, tfs=None):
    adata = ad.AnnData(
        np.zeros((3, len(SPARSE_GENES)), dtype=np.float32), var=pd.DataFrame(index=SPARSE_GENES)
    )
    adata.varp["deepsem"] = M
    adata.uns["deepsem"] = {"method": "manual", "params": {}}
    if tfs is not None:
        adata.uns["deepsem"]["tfs"] = tfs
    return adata


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"top_k": 0}, {"top_k": 5}, {"top_k": 1000}, {"min_abs_weight": 0.7}, {"tfs_only": False}],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_sparse_csr_varp_matches_dense(seed, kwargs):
    W = _random_grn(seed)
    tfs = ["g0", "g1", "g4", "g7"]
    dense = edges(_sparse_adata(W, tfs=tfs), **kwargs)
    got = edges(_sparse_adata(sparse.csr_matrix(W), tfs=tfs), **kwargs)
    pd.testing.assert_frame_equal(got, dense)
    assert len(edges(_sparse_adata(W), top_k=1000)) == np.count_nonzero(W) - np.count_nonzero(np.diag(W))


@pytest.mark.parametrize(
    "fmt", [sparse.csr_matrix, sparse.csc_matrix, sparse.coo_matrix, sparse.csr_array, sparse.coo_array]
)
def test_sparse_formats_match_dense(fmt):
    W = _random_grn(2)
    for kwargs in ({}, {"top_k": 4}, {"sources": ["g2", "g5"], "targets": SPARSE_GENES[3:]}):
        pd.testing.assert_frame_equal(
            edges_from_matrix(fmt(W), SPARSE_GENES, **kwargs), edges_from_matrix(W, SPARSE_GENES, **kwargs)
        )


def test_sparse_duplicates_unsorted_and_explicit_zeros():
    # CSR as a writer may leave it: unsorted column indices, a duplicate (summed, as
    # toarray does), an explicit zero and a stored self-loop
    data = np.array([0.5, 2.0, 0.25, 0.0, -1.0, 3.0], dtype=np.float32)
    indices = np.array([2, 1, 2, 3, 0, 3])
    indptr = np.array([0, 3, 4, 5, 6])
    M = sparse.csr_matrix((data, indices, indptr), shape=(4, 4))
    before = (M.data.copy(), M.indices.copy())
    df = edges_from_matrix(M, GENES)
    pd.testing.assert_frame_equal(df, edges_from_matrix(M.toarray(), GENES))
    assert list(zip(df.source, df.target, df.weight)) == [("A", "B", 2.0), ("C", "A", -1.0), ("A", "C", 0.75)]
    np.testing.assert_array_equal(M.data, before[0])  # the caller's matrix is left alone
    np.testing.assert_array_equal(M.indices, before[1])


def test_sparse_is_not_densified():
    class NoDense(sparse.csr_matrix):
        def toarray(self, *args, **kwargs):
            raise AssertionError("densified")

        todense = toarray

    W = _random_grn(3)
    pd.testing.assert_frame_equal(edges(_sparse_adata(NoDense(W)), top_k=6), edges(_sparse_adata(W), top_k=6))


def test_sparse_nan_weights_dropped_with_warning():
    W = _random_grn(4)
    W[2, 5] = np.nan
    with pytest.warns(RuntimeWarning, match="1 NaN"):
        got = edges_from_matrix(sparse.csr_matrix(W), SPARSE_GENES)
    with pytest.warns(RuntimeWarning, match="1 NaN"):
        pd.testing.assert_frame_equal(got, edges_from_matrix(W, SPARSE_GENES))


def test_sparse_varp_h5ad_roundtrip(tmp_path):
    W = _random_grn(5)
    adata = _sparse_adata(sparse.csr_matrix(W), tfs=np.array(["g0", "g3", "g8"]))
    adata.write_h5ad(tmp_path / "sparse.h5ad")
    back = ad.read_h5ad(tmp_path / "sparse.h5ad")
    assert sparse.issparse(back.varp["deepsem"])
    expected = edges(_sparse_adata(W, tfs=["g0", "g3", "g8"]), top_k=7)
    pd.testing.assert_frame_equal(edges(back, top_k=7), expected)


def test_asarray_of_sparse_gives_a_clear_error():
    M = sparse.csr_matrix(_random_grn(6))
    with pytest.raises(ValueError, match=r"0-d object array.*sparse matrix itself"):
        edges_from_matrix(np.asarray(M), SPARSE_GENES)
    with pytest.raises(ValueError, match="12 x 12 but 11 var_names"):
        edges_from_matrix(M, SPARSE_GENES[:11])
