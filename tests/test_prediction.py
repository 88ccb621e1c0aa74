"""``scgrn.get.to_prediction``: the prediction file of the community GRN benchmark (geneRNIB).

The format (openproblems-bio/task_grn_inference: ``src/api/file_prediction_h5ad.yaml``,
``docs/source/inference.rst``, ``agentic/know_how/grn_output_format.md``): an AnnData with
``X=None`` and ``uns['method_id']``, ``uns['dataset_id']`` (str) and ``uns['prediction']``, a
DataFrame with exactly ``source``, ``target``, ``weight``, the weight stored as strings (object
dtype), TF sources only, no self-loops, at most 50,000 edges by ``|weight|``.
"""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import scgrn
from scgrn.get import to_prediction

COLUMNS = ["source", "target", "weight"]
KRUMSIEK_TFS = ["Gata1", "Pu.1", "Fli1", "Cebpa"]


@pytest.fixture(scope="module")
def krumsiek():
    """krumsiek11 with a Pearson network from four TFs (recorded in uns['pearson']['tfs'])."""
    adata, _ = scgrn.datasets.krumsiek11()
    scgrn.tl.correlation(adata, tfs=KRUMSIEK_TFS)
    return adata


def _weights(pred: ad.AnnData) -> np.ndarray:
    return pd.to_numeric(pred.uns["prediction"]["weight"]).to_numpy()


def _toy(W, *, tfs=None, key="deepsem", method="deepsem"):
    genes = [f"g{i}" for i in range(W.shape[0])]
    adata = ad.AnnData(np.zeros((3, len(genes)), dtype=np.float32), var=pd.DataFrame(index=genes))
    adata.varp[key] = W
    adata.uns[key] = {"method": method, "params": {}}
    if tfs is not None:
        adata.uns[key]["tfs"] = tfs
    return adata


def _random_grn(n=30, n_tfs=6, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, n)).astype(np.float32)
    W[rng.random((n, n)) < 0.5] = 0  # sparse-ish, with explicit zeros on the dense side
    W[n_tfs:] = 0  # only TF rows carry edges, as tl methods write with tfs=
    np.fill_diagonal(W, 5.0)  # strong self-loops, which must never appear
    return W, [f"g{i}" for i in range(n_tfs)]


def test_schema(krumsiek):
    pred = to_prediction(krumsiek, key="pearson", n_edges=20)
    assert isinstance(pred, ad.AnnData)
    assert pred.shape == (0, 0) and pred.X is None
    assert set(pred.uns) == {"prediction", "method_id", "dataset_id"}
    assert pred.uns["method_id"] == "pearson"  # recorded by tl.correlation
    assert pred.uns["dataset_id"] == "krumsiek11"  # uns['dataset']['name'] of the loader
    assert all(isinstance(pred.uns[k], str) for k in ("method_id", "dataset_id"))

    net = pred.uns["prediction"]
    assert isinstance(net, pd.DataFrame)
    assert list(net.columns) == COLUMNS
    assert all(net[c].dtype == object for c in COLUMNS)  # the benchmark checks weight is object
    assert all(isinstance(v, str) for c in COLUMNS for v in net[c])
    assert list(net.index) == list(range(len(net)))
    assert 0 < len(net) <= 20
    assert set(net["source"]) <= set(KRUMSIEK_TFS)
    assert set(net["target"]) <= set(krumsiek.var_names)
    assert not (net["source"] == net["target"]).any()
    w = _weights(pred)
    assert np.all(np.isfinite(w)) and np.all(w != 0)
    assert np.all(np.diff(np.abs(w)) <= 0)
    assert not net.duplicated(["source", "target"]).any()


def test_default_n_edges_keeps_every_tf_edge(krumsiek):
    pred = to_prediction(krumsiek, key="pearson")
    n_tf_edges = len(scgrn.get.edges(krumsiek, key="pearson"))  # TFs recorded: TF rows only
    assert len(pred.uns["prediction"]) == n_tf_edges == len(KRUMSIEK_TFS) * (krumsiek.n_vars - 1)


def test_weights_are_exact_strings_of_the_stored_floats():
    W, tfs = _random_grn()
    pred = to_prediction(_toy(W, tfs=tfs), n_edges=10_000)
    expected = scgrn.get.edges_from_matrix(W, [f"g{i}" for i in range(30)], sources=tfs)
    net = pred.uns["prediction"]
    assert list(net["source"]) == list(expected["source"])
    assert list(net["target"]) == list(expected["target"])
    # float32 -> shortest decimal -> float32 is the identity
    np.testing.assert_array_equal(_weights(pred).astype(np.float32), expected["weight"].to_numpy())


@pytest.mark.parametrize("fmt", ["csr", "csc"])  # what anndata stores in varp
def test_sparse_and_dense_give_the_same_table(fmt):
    W, tfs = _random_grn()
    dense = to_prediction(_toy(W, tfs=tfs), n_edges=40).uns["prediction"]
    S = sparse.csr_matrix(W).asformat(fmt)
    adata = _toy(S, tfs=tfs)
    before = adata.varp["deepsem"]
    pred = to_prediction(adata, n_edges=40)
    pd.testing.assert_frame_equal(pred.uns["prediction"], dense)
    assert sparse.issparse(adata.varp["deepsem"]) and adata.varp["deepsem"] is before  # untouched


def test_sparse_explicit_zeros_and_unstored_entries_are_no_edge():
    W = np.zeros((4, 4), dtype=np.float32)
    W[0, 1], W[0, 2] = 0.5, -1.5
    S = sparse.csr_matrix(W)
    S.data = np.append(S.data, np.float32(0))  # an explicit zero stored at (0, 3)
    S.indices = np.append(S.indices, np.int32(3))
    S.indptr[1:] += 1
    pred = to_prediction(_toy(S), tfs=["g0"])
    net = pred.uns["prediction"]
    assert list(zip(net["source"], net["target"], net["weight"])) == [("g0", "g2", "-1.5"), ("g0", "g1", "0.5")]


def test_n_edges_truncates_to_the_strongest():
    W, tfs = _random_grn()
    adata = _toy(W, tfs=tfs)
    full = to_prediction(adata, n_edges=10_000).uns["prediction"]
    assert len(full) > 25
    for n in (1, 7, 25):
        top = to_prediction(adata, n_edges=n).uns["prediction"]
        assert len(top) == n
        pd.testing.assert_frame_equal(top, full.head(n))
        w_top = np.abs(pd.to_numeric(top["weight"]))
        w_rest = np.abs(pd.to_numeric(full["weight"].iloc[n:]))
        assert w_top.min() >= w_rest.max()


def test_tfs_argument_overrides_recorded_and_unknown_names_are_ignored():
    W, tfs = _random_grn()
    adata = _toy(W, tfs=tfs)
    pred = to_prediction(adata, tfs=["g1", "NOT_A_GENE", "g3", "g1"], n_edges=10_000)
    net = pred.uns["prediction"]
    assert set(net["source"]) == {"g1", "g3"}
    # a non-TF row with edges is excluded when the TF list leaves it out
    W2 = W.copy()
    W2[20, 0] = 100.0
    pred2 = to_prediction(_toy(W2), tfs=tfs)
    assert "g20" not in set(pred2.uns["prediction"]["source"])


def test_recorded_tfs_survive_h5ad(tmp_path, krumsiek):
    path = tmp_path / "grn.h5ad"
    krumsiek.write_h5ad(path)
    back = ad.read_h5ad(path)  # uns['pearson']['tfs'] is an array now
    pd.testing.assert_frame_equal(
        to_prediction(back, key="pearson").uns["prediction"],
        to_prediction(krumsiek, key="pearson").uns["prediction"],
    )


def test_ids_defaults_and_overrides():
    W, tfs = _random_grn()
    adata = _toy(W, tfs=tfs, method="grnboost2")
    pred = to_prediction(adata)
    assert (pred.uns["method_id"], pred.uns["dataset_id"]) == ("grnboost2", "unknown")
    adata.uns["dataset_id"] = "norman"  # as in the benchmark's inference data
    assert to_prediction(adata).uns["dataset_id"] == "norman"
    pred = to_prediction(adata, method_id="scgrn_deepsem", dataset_id="op")
    assert (pred.uns["method_id"], pred.uns["dataset_id"]) == ("scgrn_deepsem", "op")
    del adata.uns["deepsem"]  # no record at all: method_id falls back to the key
    assert to_prediction(adata, tfs=tfs).uns["method_id"] == "deepsem"


def test_h5ad_round_trip(tmp_path, krumsiek):
    pred = to_prediction(krumsiek, key="pearson", dataset_id="krumsiek11")
    path = tmp_path / "prediction.h5ad"
    pred.write_h5ad(path)
    back = ad.read_h5ad(path)
    assert back.shape == (0, 0)
    assert back.uns["method_id"] == "pearson" and back.uns["dataset_id"] == "krumsiek11"
    net, net_back = pred.uns["prediction"], back.uns["prediction"]
    assert list(net_back.columns) == COLUMNS
    assert dict(net_back.dtypes) == dict(net.dtypes) == {c: np.dtype(object) for c in COLUMNS}
    pd.testing.assert_frame_equal(net_back.reset_index(drop=True), net)
    np.testing.assert_array_equal(_weights(back), _weights(pred))


def test_empty_prediction_warns_and_writes(tmp_path):
    W = np.zeros((4, 4), dtype=np.float32)
    W[1, 2] = 1.0  # only a non-TF edge
    with pytest.warns(UserWarning, match="empty"):
        pred = to_prediction(_toy(W), tfs=["g0"])
    assert list(pred.uns["prediction"].columns) == COLUMNS and len(pred.uns["prediction"]) == 0
    pred.write_h5ad(tmp_path / "empty.h5ad")
    assert list(ad.read_h5ad(tmp_path / "empty.h5ad").uns["prediction"].columns) == COLUMNS


# -- errors ---------------------------------------------------------------------------------------
def test_no_tfs_raises_naming_the_fix():
    W, _ = _random_grn()
    with pytest.raises(ValueError, match=r"tfs=") as err:
        to_prediction(_toy(W))
    assert "No TF list" in str(err.value)
    adata = _toy(W, tfs=[])  # an empty record is no record
    with pytest.raises(ValueError, match="No TF list"):
        to_prediction(adata)


def test_no_tf_among_the_genes():
    W, _ = _random_grn()
    with pytest.raises(ValueError, match="None of the 2 TFs in tfs"):
        to_prediction(_toy(W), tfs=["GATA1", "SPI1"])
    with pytest.raises(ValueError, match=r"adata.uns\['deepsem'\]\['tfs'\]"):
        to_prediction(_toy(W, tfs=["GATA1"]))


def test_tfs_as_a_single_string():
    W, _ = _random_grn()
    with pytest.raises(TypeError, match=r"Fix: tfs=\['g0'\]"):
        to_prediction(_toy(W), tfs="g0")


def test_unknown_key(krumsiek):
    with pytest.raises(KeyError, match=r"adata.varp\['deepsem'\].*pearson"):
        to_prediction(krumsiek)


@pytest.mark.parametrize(
    ("n_edges", "error", "match"),
    [(0, ValueError, "n_edges must be an integer >= 1"), (-5, ValueError, ">= 1"),
     (2.0, TypeError, r"n_edges=2"), ("10", TypeError, "integer"), (None, TypeError, "integer")],
)
def test_bad_n_edges(krumsiek, n_edges, error, match):
    with pytest.raises(error, match=match):
        to_prediction(krumsiek, key="pearson", n_edges=n_edges)


def test_bad_arguments(krumsiek):
    with pytest.raises(TypeError, match="AnnData"):
        to_prediction(pd.DataFrame(), key="pearson")
    with pytest.raises(TypeError, match="key must be"):
        to_prediction(krumsiek, key=3)
    with pytest.raises(TypeError, match="method_id must be a string"):
        to_prediction(krumsiek, key="pearson", method_id=3)
    with pytest.raises(ValueError, match="dataset_id must be a non-empty"):
        to_prediction(krumsiek, key="pearson", dataset_id=" ")
    with pytest.raises(TypeError):
        to_prediction(krumsiek, "pearson")  # options are keyword-only


def test_duplicate_var_names_refused():
    W, tfs = _random_grn(n=4, n_tfs=2)
    adata = _toy(W, tfs=tfs)
    adata.var_names = ["g0", "g1", "g1", "g3"]
    with pytest.raises(ValueError, match="var_names_make_unique"):
        to_prediction(adata)
