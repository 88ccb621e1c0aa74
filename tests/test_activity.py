"""tl.tf_activity: TF activities from an inferred GRN with decoupler 2.x."""

from __future__ import annotations

import sys

import anndata as ad
import decoupler as dc  # in the `test` extra: these tests run in CI
import numpy as np
import pandas as pd
import pytest
from scipy import sparse, stats

import scgrn
from scgrn.tl._activity import _bh, _regulons


@pytest.fixture(scope="module")
def planted_data():
    """Three independent regulators, each driving 8 targets with signed weights (linear)."""
    adata, truth = scgrn.datasets.planted_network(
        n_genes=60, n_cells=300, n_regulators=3, targets_per_regulator=8, nonlinear=False, random_state=0
    )
    W = np.zeros((adata.n_vars, adata.n_vars), dtype=np.float32)
    idx = adata.var_names.get_indexer
    W[idx(truth["source"]), idx(truth["target"])] = truth["weight"].to_numpy()
    adata.varp["truth"] = W
    adata.uns["truth"] = {"method": "planted", "params": {}}
    return adata, truth


@pytest.fixture
def planted(planted_data):
    adata, truth = planted_data
    return adata.copy(), truth


def _regulators(truth) -> list[str]:
    return sorted(truth["source"].unique())


def test_keys_shapes_and_record(planted, tmp_path):
    adata, truth = planted
    assert scgrn.tl.tf_activity(adata, key="truth") is None
    acts, padj = adata.obsm["tf_activity"], adata.obsm["tf_activity_padj"]
    regulators = _regulators(truth)
    assert isinstance(acts, pd.DataFrame) and isinstance(padj, pd.DataFrame)
    assert list(acts.index) == list(adata.obs_names) and list(padj.index) == list(adata.obs_names)
    # only the 3 regulators have out-edges: only they are scored
    assert sorted(acts.columns) == regulators and list(padj.columns) == list(acts.columns)
    assert np.isfinite(acts.to_numpy()).all()
    assert ((padj.to_numpy() >= 0) & (padj.to_numpy() <= 1)).all()
    rec = adata.uns["tf_activity"]
    assert rec["method"] == "ulm" and rec["grn_key"] == "truth" and rec["version"] == scgrn.__version__
    assert rec["decoupler_version"] == dc.__version__
    assert rec["params"] == {"method": "ulm", "n_targets": 50, "tmin": 5, "layer": "X", "key": "truth", "kwargs": {}}
    assert rec["tfs"] == list(acts.columns) and rec["n_targets_used"] == [8, 8, 8]
    # the same as calling decoupler on the regulons directly
    ref = adata.copy()
    dc.mt.ulm(ref, _regulons(adata, "truth", 50), tmin=5)
    pd.testing.assert_frame_equal(acts, ref.obsm["score_ulm"], check_names=False)
    pd.testing.assert_frame_equal(padj, ref.obsm["padj_ulm"], check_names=False)
    # h5ad round trip
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad")
    pd.testing.assert_frame_equal(back.obsm["tf_activity"], acts, check_names=False)
    assert list(back.uns["tf_activity"]["tfs"]) == rec["tfs"]
    # decoupler's helper for plotting with scanpy
    view = dc.pp.get_obsm(adata, key="tf_activity")
    assert view.shape == acts.shape and list(view.var_names) == list(acts.columns)


def test_activity_tracks_the_regulator_on_a_planted_network(planted):
    """A regulator's targets move with it (signed), so its activity follows its expression."""
    adata, truth = planted
    scgrn.tl.tf_activity(adata, key="truth")
    acts, expr = adata.obsm["tf_activity"], adata.to_df()
    for tf in _regulators(truth):
        assert acts[tf].corr(expr[tf]) > 0.9, tf  # its own regulator
        for other in _regulators(truth):
            if other != tf:
                assert abs(acts[tf].corr(expr[other])) < 0.3, (tf, other)  # independent ones


def test_sign_and_orientation_matter(planted):
    adata, truth = planted
    adata.varp["flipped"] = -adata.varp["truth"]
    scgrn.tl.tf_activity(adata, key="flipped")
    expr = adata.to_df()
    for tf in _regulators(truth):
        assert adata.obsm["tf_activity"][tf].corr(expr[tf]) < -0.9, tf
    # read as column = regulator, every gene has one regulator edge: nothing has 5 targets
    adata.varp["transposed"] = adata.varp["truth"].T.copy()
    with pytest.raises(ValueError, match=r"at least tmin=5 targets.*larger n_targets"):
        scgrn.tl.tf_activity(adata, key="transposed")


def test_regulons_keep_the_strongest_targets_per_regulator(planted):
    adata, truth = planted
    net = _regulons(adata, "truth", 3)
    assert list(net.columns) == ["source", "target", "weight"]
    assert net.groupby("source").size().tolist() == [3, 3, 3]
    for tf, group in truth.groupby("source"):
        strongest = group.assign(a=group["weight"].abs()).nlargest(3, "a")
        got = net[net["source"] == tf]
        assert set(got["target"]) == set(strongest["target"])
        np.testing.assert_allclose(np.sort(got["weight"]), np.sort(strongest["weight"]), rtol=1e-6)
    assert len(_regulons(adata, "truth", None)) == len(truth)


def test_n_targets_and_tmin(planted):
    adata, _ = planted
    scgrn.tl.tf_activity(adata, key="truth", n_targets=6, tmin=6, key_added="six")
    assert adata.uns["six"]["n_targets_used"] == [6, 6, 6]
    with pytest.raises(ValueError, match=r"at least tmin=9 targets.*larger n_targets.*lower tmin"):
        scgrn.tl.tf_activity(adata, key="truth", tmin=9)
    with pytest.raises(ValueError, match="n_targets=3 is below tmin=5"):
        scgrn.tl.tf_activity(adata, key="truth", n_targets=3)
    assert "tf_activity" not in adata.obsm and "tf_activity" not in adata.uns


def test_recorded_tfs_restrict_the_regulators():
    adata, _ = scgrn.datasets.krumsiek11()
    scgrn.tl.correlation(adata)
    scgrn.tl.tf_activity(adata, key="pearson", n_targets=6)
    assert adata.obsm["tf_activity"].shape == (adata.n_obs, adata.n_vars)
    scgrn.tl.correlation(adata, tfs=["Gata1", "Pu.1"], key_added="tf_pearson")
    scgrn.tl.tf_activity(adata, key="tf_pearson", n_targets=6, key_added="two")
    assert sorted(adata.obsm["two"].columns) == ["Gata1", "Pu.1"]
    pd.testing.assert_frame_equal(adata.obsm["two"], adata.obsm["tf_activity"][adata.obsm["two"].columns])


def test_copy_leaves_the_input_untouched(planted):
    adata, _ = planted
    before = adata.copy()
    out = scgrn.tl.tf_activity(adata, key="truth", copy=True)
    assert isinstance(out, ad.AnnData) and out is not adata
    assert "tf_activity" in out.obsm and "tf_activity_padj" in out.obsm and "tf_activity" in out.uns
    assert list(adata.obsm) == list(before.obsm) and list(adata.uns) == list(before.uns)
    np.testing.assert_array_equal(adata.X, before.X)
    np.testing.assert_array_equal(out.X, before.X)
    # in place: only the documented keys are added, X is not touched
    scgrn.tl.tf_activity(adata, key="truth", key_added="act")
    assert set(adata.obsm) - set(before.obsm) == {"act", "act_padj"}
    assert set(adata.uns) - set(before.uns) == {"act"} and set(adata.varp) == set(before.varp)
    np.testing.assert_array_equal(adata.X, before.X)


def test_sparse_grn_and_sparse_x_give_the_same_result(planted):
    adata, _ = planted
    scgrn.tl.tf_activity(adata, key="truth")
    adata.varp["truth_csr"] = sparse.csr_matrix(adata.varp["truth"])
    adata.uns["truth_csr"] = {"method": "planted", "params": {}}
    scgrn.tl.tf_activity(adata, key="truth_csr", key_added="csr")
    pd.testing.assert_frame_equal(adata.obsm["csr"], adata.obsm["tf_activity"])
    pd.testing.assert_frame_equal(adata.obsm["csr_padj"], adata.obsm["tf_activity_padj"])
    sp = adata.copy()
    sp.X = sparse.csr_matrix(sp.X)
    scgrn.tl.tf_activity(sp, key="truth", key_added="spx")
    np.testing.assert_allclose(sp.obsm["spx"], adata.obsm["tf_activity"], rtol=1e-6, atol=1e-8)


def test_layer_is_read(planted):
    adata, _ = planted
    scgrn.tl.tf_activity(adata, key="truth")
    adata.layers["expr"] = adata.X.copy()
    adata.X = np.random.default_rng(0).normal(size=adata.shape).astype(np.float32)
    scgrn.tl.tf_activity(adata, key="truth", layer="expr", key_added="from_layer")
    pd.testing.assert_frame_equal(adata.obsm["from_layer"], adata.obsm["tf_activity"])
    assert adata.uns["from_layer"]["params"]["layer"] == "expr"
    with pytest.raises(ValueError, match="layer"):
        scgrn.tl.tf_activity(adata, key="truth", layer="nope")


def test_backed_input(planted, tmp_path):
    adata, _ = planted
    scgrn.tl.tf_activity(adata, key="truth")
    adata.write_h5ad(tmp_path / "a.h5ad")
    backed = ad.read_h5ad(tmp_path / "a.h5ad", backed="r")
    backed.obsm["score_ulm"] = np.zeros((backed.n_obs, 2))  # decoupler's own key: left as it was
    scgrn.tl.tf_activity(backed, key="truth", key_added="bk")
    np.testing.assert_allclose(backed.obsm["bk"], adata.obsm["tf_activity"], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(backed.obsm["score_ulm"], 0.0)
    assert "padj_ulm" not in backed.obsm
    with pytest.raises(ValueError, match="backed"):
        scgrn.tl.tf_activity(backed, key="truth", copy=True)
    backed.file.close()


@pytest.mark.parametrize("method", ["mlm", "viper", "waggr"])
def test_other_methods_score_signed_regulons(planted, method):
    adata, truth = planted
    kwargs = {"times": 0} if method == "waggr" else {}  # no permutations: fast
    scgrn.tl.tf_activity(adata, key="truth", method=method, **kwargs)
    acts, expr = adata.obsm["tf_activity"], adata.to_df()
    assert adata.uns["tf_activity"]["method"] == method
    assert adata.uns["tf_activity"]["params"]["kwargs"] == kwargs
    assert "tf_activity_padj" in adata.obsm
    for tf in _regulators(truth):
        assert acts[tf].corr(expr[tf]) > 0.8, (method, tf)


def test_mlm_p_values_are_adjusted(planted):
    """decoupler 2.2 names mlm's raw p-values padj_mlm: scgrn adjusts them (BH, per cell).

    If decoupler starts adjusting them itself, the first assertion fails: drop scgrn's step."""
    adata, _ = planted
    ref = adata.copy()
    dc.mt.mlm(ref, _regulons(adata, "truth", 50), tmin=5)
    t = ref.obsm["score_mlm"].to_numpy()
    df = adata.n_vars - t.shape[1] - 1
    np.testing.assert_allclose(ref.obsm["padj_mlm"], 2 * stats.t.sf(np.abs(t), df), rtol=1e-6, atol=1e-12)
    scgrn.tl.tf_activity(adata, key="truth", method="mlm")
    np.testing.assert_allclose(adata.obsm["tf_activity"], ref.obsm["score_mlm"])
    np.testing.assert_allclose(adata.obsm["tf_activity_padj"], _bh(ref.obsm["padj_mlm"].to_numpy()))


def test_bh_matches_scipy():
    p = np.random.default_rng(0).uniform(size=(5, 12)) ** 3
    expected = np.vstack([stats.false_discovery_control(row) for row in p])
    np.testing.assert_allclose(_bh(p), expected)


def test_empty_cells_are_nan_with_a_warning(planted):
    adata, _ = planted
    adata.X[0] = 0.0
    with pytest.warns(UserWarning, match="1 cell"):
        scgrn.tl.tf_activity(adata, key="truth")
    acts = adata.obsm["tf_activity"]
    assert acts.shape[0] == adata.n_obs and acts.iloc[0].isna().all() and acts.iloc[1:].notna().all().all()


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------
def test_no_grn_at_key(planted):
    adata, _ = planted
    with pytest.raises(KeyError, match=r"No GRN found at adata.varp\['deepsem'\].*truth"):
        scgrn.tl.tf_activity(adata)


def test_raw_counts_warn(planted):
    adata, _ = planted
    rng = np.random.default_rng(0)
    adata.X = rng.poisson(20, size=adata.shape).astype(np.float32)
    with pytest.warns(UserWarning, match="raw counts"):
        scgrn.tl.tf_activity(adata, key="truth")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "gsea"}, ValueError, "method must be one of"),
        ({"method": "wsum"}, ValueError, "method='waggr', fun='wsum'"),
        ({"n_targets": 0}, ValueError, "n_targets"),
        ({"n_targets": 2.5}, TypeError, "n_targets"),
        ({"tmin": 0}, ValueError, "tmin"),
        ({"key_added": "a/b"}, ValueError, "key_added"),
        ({"key": 3}, TypeError, "key"),
        ({"raw": True}, TypeError, "sets"),
        ({"verbose": True}, TypeError, "sets"),
    ],
)
def test_bad_arguments_refused_before_any_work(planted, kwargs, error, match):
    adata, _ = planted
    before = set(adata.obsm), set(adata.uns)
    with pytest.raises(error, match=match):
        scgrn.tl.tf_activity(adata, **{"key": "truth", **kwargs})
    assert (set(adata.obsm), set(adata.uns)) == before


def test_mlm_failure_is_explained():
    adata, _ = scgrn.datasets.krumsiek11()
    scgrn.tl.correlation(adata)
    with pytest.raises(ValueError, match=r"decoupler.mt.mlm refused the input.*method='ulm'"):
        scgrn.tl.tf_activity(adata, key="pearson", method="mlm")
    assert "tf_activity" not in adata.obsm


def test_missing_decoupler_names_the_extra(planted, monkeypatch):
    adata, _ = planted
    monkeypatch.setitem(sys.modules, "decoupler", None)  # makes `import decoupler` fail
    with pytest.raises(ImportError, match=r"pip install 'scgrn\[decoupler\]'"):
        scgrn.tl.tf_activity(adata, key="truth")


def test_torch_thread_count_is_left_as_it_was():
    """decoupler's numba kernels reset the OpenMP thread count torch uses; tf_activity restores it."""
    import torch

    adata, _ = scgrn.datasets.krumsiek11()
    scgrn.tl.correlation(adata)
    before = torch.get_num_threads()
    scgrn.tl.tf_activity(adata, key="pearson", n_targets=6)
    assert torch.get_num_threads() == before
