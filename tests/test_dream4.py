"""DREAM4 loader, time-series baselines (time-lagged correlation, dynGENIE3-style) and the DREAM4 bench."""

from __future__ import annotations

import shutil

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

import scgrn
import scgrn.bench
from scgrn.bench import dream_aupr, score_network
from scgrn.datasets._dream4 import _example_tree
from scgrn.tl._pair_classifier import reference_adjacency
from scgrn.tl._timeseries import estimate_decay_rates, series_tensor


def _auroc(truth, scores):
    off = ~np.eye(truth.shape[0], dtype=bool)
    return roc_auc_score(truth[off], scores[off])


# -- loader -------------------------------------------------------------------------------------
def test_dream4_loader_on_a_written_folder(tmp_path):
    root = _example_tree(tmp_path)
    adata, gold = scgrn.datasets.dream4(1, size=10, data_dir=root)
    assert adata.shape == (42, 10)
    assert list(adata.obs["series"].cat.categories) == ["1", "2"]
    assert adata.obs["time"].max() == 1000 and adata.obs_names.is_unique
    assert adata.X.dtype == np.float32 and "wildtype" in adata.var
    assert gold.columns.tolist() == ["source", "target"]
    assert set(map(tuple, gold.to_numpy())) == {("G1", "G2"), ("G2", "G3"), ("G3", "G1")}
    assert adata.uns["dataset"]["network"] == 1


def test_dream4_loader_errors(tmp_path):
    root = _example_tree(tmp_path)
    with pytest.raises(FileNotFoundError, match="network 2"):
        scgrn.datasets.dream4(2, size=10, data_dir=root)
    with pytest.raises(ValueError, match="size"):
        scgrn.datasets.dream4(1, size=50, data_dir=root)
    with pytest.raises(ValueError, match="network"):
        scgrn.datasets.dream4(0, size=10, data_dir=root)


@pytest.mark.realdata
def test_dream4_real_shapes(shared_data_dir):
    adata, gold = scgrn.datasets.dream4(1, size=10)
    assert adata.shape == (105, 10)
    assert len(gold) == 15
    assert adata.obs["series"].nunique() == 5
    assert sorted(adata.obs["time"].unique()) == list(np.arange(0, 1001, 50.0))
    assert set(gold["source"]) | set(gold["target"]) <= set(adata.var_names)
    st = series_tensor(adata)
    assert st.x.shape == (5, 21, 10)
    for k, n_edges in ((1, 176), (2, 249), (3, 195)):
        adata, gold = scgrn.datasets.dream4(k, size=100)
        assert adata.shape == (210, 100) and len(gold) == n_edges
        assert not (gold["source"] == gold["target"]).any()
        assert ((adata.X >= 0) & (adata.X <= 1.0001)).all()


# -- simulator and the series tensor ----------------------------------------------------------
def test_planted_time_series_is_reproducible():
    a1, n1 = scgrn.datasets.planted_time_series(n_genes=10, n_series=3, random_state=5)
    a2, n2 = scgrn.datasets.planted_time_series(n_genes=10, n_series=3, random_state=5)
    a3, _ = scgrn.datasets.planted_time_series(n_genes=10, n_series=3, random_state=6)
    np.testing.assert_array_equal(a1.X, a2.X)
    pd.testing.assert_frame_equal(n1, n2)
    assert not np.array_equal(a1.X, a3.X)
    assert a1.shape == (63, 10) and np.isfinite(a1.X).all()
    assert (n1["source"] != n1["target"]).all() and len(n1) > 0


def test_series_tensor_orders_by_series_and_time():
    adata, _ = scgrn.datasets.planted_time_series(n_genes=6, n_series=3, random_state=0)
    ref = series_tensor(adata)
    shuffled = adata[np.random.default_rng(0).permutation(adata.n_obs)].copy()
    np.testing.assert_array_equal(series_tensor(shuffled).x, ref.x)
    assert ref.x.shape == (3, 21, 6) and ref.series == ["1", "2", "3"]
    np.testing.assert_array_equal(ref.x[1, :, 2], adata[adata.obs["series"] == "2"].X[:, 2])
    single = adata[adata.obs["series"] == "1"].copy()
    assert series_tensor(single, series_key=None).x.shape == (1, 21, 6)


def test_series_tensor_errors():
    adata, _ = scgrn.datasets.planted_time_series(n_genes=6, n_series=3, random_state=0)
    ragged = adata[~((adata.obs["series"] == "2") & (adata.obs["time"] == 0))].copy()
    with pytest.raises(ValueError, match="same number of time points"):
        series_tensor(ragged)
    dup = adata.copy()
    dup.obs["series"] = "all"
    dup.obs.loc[dup.obs_names[21:], "time"] = dup.obs["time"].to_numpy()[:42]  # times repeat
    with pytest.raises(ValueError, match="duplicated time"):
        series_tensor(dup, series_key="series")
    with pytest.raises(ValueError, match="obs\\['batch'\\]"):
        series_tensor(adata, series_key="batch")


# -- time-lagged correlation ------------------------------------------------------------------
def _lagged_pair(n_series=5, n_times=30, seed=0):
    """g0 drives g1 with a one-step delay; g2 is noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_series, n_times, 3))
    x[:, 1:, 1] = x[:, :-1, 0] + 0.3 * rng.standard_normal((n_series, n_times - 1))
    obs = pd.DataFrame({
        "series": pd.Categorical(np.repeat(np.arange(n_series), n_times).astype(str)),
        "time": np.tile(np.arange(n_times, dtype=float), n_series),
    })
    obs.index = obs.index.astype(str)
    return ad.AnnData(x.reshape(-1, 3).astype(np.float32), obs=obs, var=pd.DataFrame(index=["g0", "g1", "g2"]))


def test_time_lagged_correlation_orientation_and_keys():
    adata = _lagged_pair()
    X = adata.X.copy()
    out = scgrn.tl.time_lagged_correlation(adata, copy=True)
    assert "time_lagged_correlation" not in adata.varp
    np.testing.assert_array_equal(adata.X, X)
    C = out.varp["time_lagged_correlation"]
    assert C.dtype == np.float32 and (np.diag(C) == 0).all()
    assert C[0, 1] > 0.9 and C[1, 0] < 0.3  # row = the gene that moves first
    assert C[0, 1] > 3 * max(C[0, 2], C[2, 1])
    assert out.uns["time_lagged_correlation"]["params"]["max_lag"] == 1
    scgrn.tl.time_lagged_correlation(adata, max_lag=3, absolute=False, key_added="tlc3")
    assert adata.varp["tlc3"][0, 1] >= C[0, 1] - 1e-6
    with pytest.raises(ValueError, match="max_lag"):
        scgrn.tl.time_lagged_correlation(adata, max_lag=0)


# -- dynGENIE3-style ----------------------------------------------------------------------------
def test_decay_rates_recover_an_exponential():
    t = np.linspace(0, 10, 21)
    x = np.stack([np.exp(-0.3 * t) + 1.0, np.exp(-0.7 * t) + 1.0], axis=1)[None]  # (1, T, 2)
    x = np.concatenate([x, np.zeros((1, 1, 2)) + 1.0], axis=1)  # C_min = 1 at one extra point
    times = np.r_[t, 10.5][None]
    alpha = estimate_decay_rates(x[:, :-1], times[:, :-1])
    assert alpha[1] > alpha[0] > 0


def test_dyngenie3_recovers_a_lagged_edge_and_beats_chance():
    adata = _lagged_pair()
    scgrn.tl.dyngenie3(adata, n_estimators=50, show_progress_bar=False)
    G = adata.varp["dyngenie3"]
    assert G[0, 1] == G[:, 1].max() and G[0, 1] > G[1, 0]
    rec = adata.uns["dyngenie3"]
    assert rec["params"]["n_estimators"] == 50 and rec["alphas"].shape == (3,)

    aucs = []
    for seed in (0, 1):
        a, net = scgrn.datasets.planted_time_series(n_genes=15, n_series=8, weight_range=(3, 6), random_state=seed)
        scgrn.tl.dyngenie3(a, n_estimators=50, show_progress_bar=False, random_state=0)
        aucs.append(_auroc(reference_adjacency(net, a.var_names), a.varp["dyngenie3"]))
        # deterministic
        again = scgrn.tl.dyngenie3(a, n_estimators=50, show_progress_bar=False, random_state=0, copy=True)
        np.testing.assert_array_equal(again.varp["dyngenie3"], a.varp["dyngenie3"])
    assert np.mean(aucs) > 0.65, aucs


def test_dyngenie3_tfs_and_alpha_options():
    adata = _lagged_pair()
    scgrn.tl.dyngenie3(adata, tfs=["g0"], alpha=0.0, n_estimators=10, show_progress_bar=False)
    G = adata.varp["dyngenie3"]
    assert (G[1:] == 0).all() and G[0, 1] > 0
    assert adata.uns["dyngenie3"]["tfs"] == ["g0"]
    with pytest.raises(ValueError, match="alpha"):
        scgrn.tl.dyngenie3(adata, alpha="guess", show_progress_bar=False)
    with pytest.raises(ValueError, match="alpha"):
        scgrn.tl.dyngenie3(adata, alpha=-1.0, show_progress_bar=False)


# -- scoring and the bench ---------------------------------------------------------------------
def test_dream_aupr_matches_the_challenge_loop_and_bounds():
    rng = np.random.default_rng(1)
    y = rng.random(400) < 0.1
    s = rng.random(400)
    order = np.argsort(-s, kind="stable")
    g, P, area, fp = y[order], y.sum(), 0.0, 0
    for k in range(1, len(g) + 1):  # the D3/D4 scoring script, literally
        if g[k - 1]:
            area += (1 / P) if k == 1 else (1 - fp * np.log(k / (k - 1))) / P
        else:
            fp += 1
    assert dream_aupr(y, s) == pytest.approx(area)
    assert dream_aupr(y, y.astype(float)) == pytest.approx(1.0)
    assert dream_aupr(y, s) == pytest.approx(average_precision_score(y, s), abs=0.05)


def test_score_network_settings():
    rng = np.random.default_rng(0)
    A = rng.random((12, 12)) < 0.15
    np.fill_diagonal(A, False)
    perfect = A.astype(float) + 0.01 * rng.random(A.shape)
    rows = pd.DataFrame(score_network(A, perfect, n_balanced_draws=3))
    assert set(rows["setting"]) == {"all_pairs", "balanced"}
    assert set(rows.loc[rows.setting == "all_pairs", "metric"]) == {"auroc", "aupr_ap", "aupr_trapezoid", "aupr_dream"}
    assert np.allclose(rows["value"], 1.0)
    bal = rows[rows.setting == "balanced"].iloc[0]
    assert bal["n_neg"] == bal["n_pos"] == A.sum()
    noise = pd.DataFrame(score_network(A, rng.random(A.shape), n_balanced_draws=3)).set_index(["setting", "metric"])
    # all-pairs AUPR sits near the density, the balanced one near 0.5
    assert noise.loc[("all_pairs", "aupr_ap"), "value"] < 0.4
    assert noise.loc[("balanced", "aupr_ap"), "value"] > 0.3


def test_bench_dream4_leave_one_out_on_written_folders(tmp_path):
    root = _example_tree(tmp_path)
    src = root / "dream4" / "size10" / "insilico_size10_1"
    dst = root / "dream4" / "size10" / "insilico_size10_2"
    shutil.copytree(src, dst)
    (dst / "DREAM4_GoldStandard_InSilico_Size10_1.tsv").rename(dst / "DREAM4_GoldStandard_InSilico_Size10_2.tsv")
    df, scores = scgrn.bench.dream4(
        networks=(1, 2), size=10, archs=("cnn",), data_dir=root, baselines=("pearson", "time_lagged_correlation"),
        n_balanced_draws=2, pair_kwargs={"n_epochs": 1, "n_models": 1}, return_scores=True,
    )
    assert set(df["method"]) == {"cnn", "pearson", "time_lagged_correlation"}
    assert set(df["network"]) == {1, 2}
    sup = df[df["kind"] == "supervised"]
    assert set(sup["train_networks"]) == {"1", "2"} and (sup["fit_seconds"] > 0).all()
    assert scores[1]["cnn"].shape == (10, 10) and scores[1]["truth"].sum() == 3
    with pytest.raises(ValueError, match="at least two"):
        scgrn.bench.dream4(networks=(1,), size=10, archs=("cnn",), data_dir=root)
    with pytest.raises(ValueError, match="Unknown"):
        scgrn.bench.dream4(networks=(1, 2), size=10, archs=("gru",), data_dir=root)


@pytest.mark.realdata
def test_bench_dream4_real_size10_smoke(shared_data_dir):
    df = scgrn.bench.dream4(
        networks=(1, 2, 3), size=10, archs=("lstm",), baselines=("time_lagged_correlation",),
        n_balanced_draws=2, pair_kwargs={"n_epochs": 2, "n_models": 1},
    )
    allp = df[(df.setting == "all_pairs") & (df.metric == "auroc")]
    assert len(allp) == 6 and allp["value"].between(0, 1).all()
    assert (df.loc[df.setting == "all_pairs", "n_pos"].groupby(df["network"]).first().to_dict() == {1: 15, 2: 16, 3: 15})
