"""One network per group of cells: ``groupby=`` of the GRN tools, ``get.edges(group=)``,
``get.edge_differences`` and ``pl.edge_differences``."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import scgrn
from scgrn.tl._registry import GRN_METHODS

DEEPSEM_FAST = {"n_models": 2, "n_epochs": 2, "show_progress_bar": False}


@pytest.fixture
def adata():
    a, _ = scgrn.datasets.krumsiek11()
    a.obs["half"] = pd.Categorical(np.where(np.arange(a.n_obs) % 2 == 0, "even", "odd"))
    return a


def _subset_network(tool, adata, label, groupby="half", **kwargs):
    sub = adata[adata.obs[groupby] == label].copy()
    return tool(sub, copy=True, key_added="direct", **kwargs).varp["direct"]


def test_correlation_per_group_is_the_network_of_the_group(adata):
    scgrn.tl.correlation(adata, groupby="half")
    index = adata.uns["pearson"]
    assert index["groupby"] == "half" and list(index["groups"]) == ["even", "odd"]
    assert list(index["keys"]) == ["pearson_even", "pearson_odd"] and list(index["n_cells"]) == [320, 320]
    assert "pearson" not in adata.varp
    for g in ("even", "odd"):
        np.testing.assert_array_equal(adata.varp[f"pearson_{g}"], _subset_network(scgrn.tl.correlation, adata, g))
        assert adata.uns[f"pearson_{g}"]["group"] == g and adata.uns[f"pearson_{g}"]["method"] == "pearson"
    # the two halves differ, so a bug that wrote one network twice would show
    assert not np.array_equal(adata.varp["pearson_even"], adata.varp["pearson_odd"])


def test_deepsem_per_group_same_seed_same_network_and_no_embedding(adata):
    before = adata.X.copy()
    out = scgrn.tl.deepsem(adata, groupby="half", copy=True, random_state=3, **DEEPSEM_FAST)
    np.testing.assert_array_equal(adata.X, before)
    assert "deepsem" not in adata.uns and not any(k.startswith("deepsem") for k in adata.varp)
    assert "X_deepsem" not in out.obsm
    direct = _subset_network(scgrn.tl.deepsem, adata, "odd", random_state=3, **DEEPSEM_FAST)
    np.testing.assert_array_equal(out.varp["deepsem_odd"], direct)
    assert out.uns["deepsem"]["params"]["random_state"] == 3


def test_dask_local_cluster_gives_the_same_networks(adata):
    distributed = pytest.importorskip("distributed")
    sequential = scgrn.tl.deepsem(adata, groupby="half", copy=True, **DEEPSEM_FAST)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        parallel = scgrn.tl.deepsem(adata, groupby="half", client=client, copy=True, **DEEPSEM_FAST)
        trees = scgrn.tl.grnboost2(adata, groupby="half", client=client, n_estimators=20, copy=True)
    for g in ("even", "odd"):
        np.testing.assert_array_equal(parallel.varp[f"deepsem_{g}"], sequential.varp[f"deepsem_{g}"])
    alone = scgrn.tl.grnboost2(adata[adata.obs["half"] == "even"].copy(), n_estimators=20, copy=True,
                               show_progress_bar=False)
    np.testing.assert_array_equal(trees.varp["grnboost2_even"], alone.varp["grnboost2"])


def test_random_state_none_draws_one_seed_for_all_groups(adata):
    scgrn.tl.deepsem(adata, groupby="half", random_state=None, **DEEPSEM_FAST)
    seeds = {adata.uns[f"deepsem_{g}"]["params"]["random_state"] for g in ("even", "odd")}
    assert len(seeds) == 1


@pytest.mark.parametrize("name", [n for n, m in GRN_METHODS.items() if m.groupby and n != "deepsem"])
def test_every_groupable_baseline_runs_per_group(adata, name):
    m = GRN_METHODS[name]
    kwargs = dict(m.kwargs)
    if name in ("grnboost2", "genie3"):
        kwargs.update(n_estimators=10, n_jobs=1)
    if m.progress_bar:
        kwargs["show_progress_bar"] = False
    out = m.function(adata, groupby="cell_type", key_added="net", copy=True, **kwargs)
    groups = list(adata.obs["cell_type"].cat.categories)
    assert list(out.uns["net"]["groups"]) == groups
    for g in groups:
        assert out.varp[f"net_{g}"].shape == (adata.n_vars, adata.n_vars)


def test_h5ad_round_trip_and_get_edges(adata, tmp_path):
    scgrn.tl.correlation(adata, groupby="half", tfs=["Gata2", "Pu.1"])
    path = tmp_path / "g.h5ad"
    adata.write_h5ad(path)
    back = ad.read_h5ad(path)
    one = scgrn.get.edges(back, key="pearson", group="odd")
    assert set(one["source"]) <= {"Gata2", "Pu.1"}
    pd.testing.assert_frame_equal(one, scgrn.get.edges(adata, key="pearson_odd"))
    both = scgrn.get.edges(back, key="pearson", top_k=3)
    assert both.columns.tolist() == ["source", "target", "weight", "group"]
    assert both["group"].tolist() == ["even"] * 3 + ["odd"] * 3
    fig = scgrn.pl.grn(back, key="pearson", group="even", return_fig=True)
    assert "pearson (even)" in fig.axes[0].get_title()


def test_rerun_removes_stale_networks(adata):
    scgrn.tl.correlation(adata)  # an ungrouped network first
    scgrn.tl.correlation(adata, groupby="cell_type")
    assert "pearson" not in adata.varp
    scgrn.tl.correlation(adata, groupby="half")
    assert sorted(k for k in adata.varp if k.startswith("pearson")) == ["pearson_even", "pearson_odd"]
    assert not any(k.startswith("pearson_Ery") for k in adata.uns)


def test_edge_differences_match_the_two_networks(adata):
    scgrn.tl.correlation(adata, groupby="cell_type")
    diff = scgrn.get.edge_differences(adata, key="pearson", groups=("Ery", "Mk"), top_k=None, normalize=None)
    a, b = adata.varp["pearson_Ery"], adata.varp["pearson_Mk"]
    rows = adata.var_names.get_indexer(diff["source"])
    cols = adata.var_names.get_indexer(diff["target"])
    np.testing.assert_allclose(diff["weight_a"], a[rows, cols], rtol=1e-6)
    np.testing.assert_allclose(diff["weight_b"], b[rows, cols], rtol=1e-6)
    d = np.abs(a - b)
    np.fill_diagonal(d, 0)
    assert np.isclose(np.abs(diff["difference"].iloc[0]), d.max(), rtol=1e-6)
    assert (np.diff(np.abs(diff["difference"].to_numpy())) <= 1e-7).all()
    scaled = scgrn.get.edge_differences(adata, key="pearson", groups=("Ery", "Mk"), top_k=5)
    assert scaled[["weight_a", "weight_b"]].abs().to_numpy().max() <= 1.0
    ax = scgrn.pl.edge_differences(adata, key="pearson", groups=("Ery", "Mk"), top_k=5, show=False)
    assert len(ax.get_yticklabels()) == 5


def test_edge_differences_on_sparse_networks(adata):
    scgrn.tl.correlation(adata, groupby="half")
    dense = scgrn.get.edge_differences(adata, key="pearson", groups=("even", "odd"), top_k=10)
    for k in ("pearson_even", "pearson_odd"):
        adata.varp[k] = sparse.csr_matrix(adata.varp[k])
    sparse_diff = scgrn.get.edge_differences(adata, key="pearson", groups=("even", "odd"), top_k=10)
    pd.testing.assert_frame_equal(dense, sparse_diff, check_exact=False, rtol=1e-5)


def test_errors_name_the_problem(adata):
    with pytest.raises(KeyError, match="not a column of adata.obs"):
        scgrn.tl.correlation(adata, groupby="nope")
    adata.obs["few"] = pd.Categorical(["a"] * 5 + ["b"] * (adata.n_obs - 5))
    with pytest.raises(ValueError, match=r"a \(5\).*fewer than 10 cells"):
        scgrn.tl.correlation(adata, groupby="few")
    adata.obs["slash"] = np.where(adata.obs["half"] == "even", "B/T", "NK")
    with pytest.raises(ValueError, match="'/'"):
        scgrn.tl.correlation(adata, groupby="slash")
    adata.obs["gap"] = adata.obs["half"].astype(object)
    adata.obs.iloc[0, adata.obs.columns.get_loc("gap")] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        scgrn.tl.correlation(adata, groupby="gap")
    with pytest.raises(ValueError, match="pass groupby= too"):
        scgrn.tl.correlation(adata, client=object())
    scgrn.tl.correlation(adata)
    with pytest.raises(ValueError, match="not the index of per-group networks"):
        scgrn.get.edges(adata, key="pearson", group="even")
    scgrn.tl.correlation(adata, groupby="half")
    with pytest.raises(KeyError, match="No group 'Ery'"):
        scgrn.get.edges(adata, key="pearson", group="Ery")
    with pytest.raises(KeyError, match="pass group="):
        scgrn.pl.grn(adata, key="pearson")
    with pytest.raises(ValueError, match="two different group names"):
        scgrn.get.edge_differences(adata, key="pearson", groups=("even", "even"))


def test_an_error_inside_a_group_names_the_group(adata):
    with pytest.raises(ValueError, match="NotAGene"):  # checked on all genes, before any group runs
        scgrn.tl.correlation(adata, groupby="half", tfs=["NotAGene"])
    adata.X[0, 0] = np.nan  # cell 0 is in group "even"
    with pytest.raises(ValueError, match="NaN") as info:
        scgrn.tl.correlation(adata, groupby="half")
    assert "in group even of adata.obs['half']" in "\n".join(getattr(info.value, "__notes__", []))


@pytest.mark.parametrize("fmt", ["dense", "sparse"])
def test_genes_constant_in_a_group_have_no_edges_there(adata, fmt):
    adata.X[adata.obs["half"] == "odd", 3] = 0.0  # gene 3 is not expressed in group "odd"
    if fmt == "sparse":
        adata.X = sparse.csr_matrix(adata.X)
    gene = adata.var_names[3]
    tfs = [gene, "Gata2", "Pu.1"]
    scgrn.tl.deepsem(adata, groupby="half", tfs=tfs, grn_format=fmt, **DEEPSEM_FAST)
    odd, even = adata.varp["deepsem_odd"], adata.varp["deepsem_even"]
    odd = odd.toarray() if sparse.issparse(odd) else odd
    even = even.toarray() if sparse.issparse(even) else even
    assert odd.shape == (adata.n_vars, adata.n_vars)
    assert not odd[3].any() and not odd[:, 3].any() and odd.any()
    assert even[3].any()  # expressed in "even": a regulator there
    assert adata.uns["deepsem_odd"]["constant_genes"] == [gene]
    assert adata.uns["deepsem_even"]["constant_genes"] == []
    assert gene not in adata.uns["deepsem_odd"]["tfs"]


def test_to_prediction_of_one_group(adata):
    scgrn.tl.correlation(adata, groupby="half", tfs=["Gata2", "Pu.1"])
    pred = scgrn.get.to_prediction(adata, key="pearson", group="odd", n_edges=5)
    assert set(pred.uns["prediction"]["source"]) <= {"Gata2", "Pu.1"} and len(pred.uns["prediction"]) == 5
    top = scgrn.get.edges(adata, key="pearson", group="odd", top_k=5)
    assert pred.uns["prediction"]["target"].tolist() == top["target"].tolist()


def test_tf_activity_with_one_groups_network(adata):
    pytest.importorskip("decoupler")
    scgrn.tl.correlation(adata, groupby="half")
    scgrn.tl.tf_activity(adata, key="pearson", group="odd", n_targets=6)
    direct = scgrn.tl.tf_activity(adata, key="pearson_odd", n_targets=6, copy=True)
    pd.testing.assert_frame_equal(adata.obsm["tf_activity"], direct.obsm["tf_activity"])
    assert adata.uns["tf_activity"]["grn_key"] == "pearson_odd"


def test_concat_of_grouped_runs_names_the_unindexed_network(adata):
    # ad.concat keeps one run's uns: the other run's groups are in varp but not in the index
    a = adata[adata.obs["half"] == "even"].copy()
    a.obs["part"] = "first"
    b = adata[adata.obs["half"] == "odd"].copy()
    b.obs["part"] = "second"
    scgrn.tl.correlation(a, groupby="part")
    scgrn.tl.correlation(b, groupby="part")
    both = ad.concat([a, b], axis=0, merge="same", uns_merge="first")
    both.varp["pearson_second"] = b.varp["pearson_second"]  # as a user copying it over would
    with pytest.raises(KeyError, match=r"adata.varp\['pearson_second'\] exists but the index does not list it"):
        scgrn.get.edges(both, key="pearson", group="second")
    edges = scgrn.get.edges(both, key="pearson_second")  # the way out the message names
    assert len(edges) > 0
