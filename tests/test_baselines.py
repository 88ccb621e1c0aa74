"""Baseline GRN tools: grnboost2, genie3, correlation, partial_correlation, pidc."""

from __future__ import annotations

import itertools

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import scgrn
from scgrn.tl._information import _context, _puc_scores, discretize
from scgrn.tl._registry import GRN_METHODS

#: small settings that keep the whole file fast
FAST = {"genie3": {"n_estimators": 10}}
#: registered expression methods tested elsewhere with their own settings
ELSEWHERE = {"deepsem": "trained in tests/test_deepsem.py"}


def _params():
    """``(name, function, kwargs)`` for every registered method that reads expression only."""
    out = []
    for name, m in GRN_METHODS.items():
        if m.input != "expression":
            continue
        kw = {**m.kwargs, **FAST.get(name, {})}
        if m.parallel:
            kw["n_jobs"] = 1
        if m.progress_bar:
            kw["show_progress_bar"] = False
        marks = [pytest.mark.skip(reason=ELSEWHERE[name])] if name in ELSEWHERE else []
        out.append(pytest.param(name, m.function, kw, id=name, marks=marks))
    return out


METHODS = _params()


@pytest.fixture(scope="module")
def planted():
    return scgrn.datasets.planted_network(n_genes=30, n_cells=300, random_state=3)


def _run(fn, adata, kwargs, **extra):
    return fn(adata, key_added="k", copy=True, **kwargs, **extra)


@pytest.mark.parametrize(("name", "fn", "kwargs"), METHODS)
def test_beats_random_on_planted_network(planted, name, fn, kwargs):
    adata, truth = planted
    out = _run(fn, adata, kwargs)
    res = scgrn.metrics.evaluate_grn(out, truth, key="k", convention="beeline")
    base = scgrn.metrics.random_baseline(truth, adata.var_names, convention="beeline", n_repeats=20)
    assert res["AUROC"] > base["AUROC"] + 0.2
    assert res["EPR"] > 3 * base["EPR"]
    assert res["AUPRC_ratio"] > 3 * base["AUPRC_ratio"]


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "fn", "kwargs"), METHODS)
def test_beats_random_on_boolode_dyn_li(shared_data_dir, name, fn, kwargs):
    adata, truth = scgrn.datasets.beeline_synthetic("dyn-LI", n_cells=500, replicate=0)
    out = _run(fn, adata, kwargs)
    res = scgrn.metrics.evaluate_grn(out, truth, key="k", convention="beeline")
    base = scgrn.metrics.random_baseline(truth, adata.var_names, convention="beeline", n_repeats=200)
    assert res["AUROC"] > base["AUROC"] + 0.1
    assert res["AUPRC_ratio"] > 1.3 * base["AUPRC_ratio"]


@pytest.mark.parametrize(("name", "fn", "kwargs"), METHODS)
def test_contract_uns_copy_and_h5ad(planted, tmp_path, name, fn, kwargs):
    adata, _ = planted
    before = adata.X.copy()
    assert fn(adata, key_added="k", copy=False, **kwargs) is None
    W = adata.varp["k"]
    assert W.dtype == np.float32 and W.shape == (adata.n_vars, adata.n_vars)
    assert np.all(np.diag(W) == 0) and np.isfinite(W).all() and np.abs(W).sum() > 0
    rec = adata.uns["k"]
    assert rec["method"] == ("partial_correlation" if name == "partial_correlation" else name)
    assert rec["version"] == scgrn.__version__ and rec["params"]["layer"] == "X"
    assert "tfs" not in rec
    np.testing.assert_array_equal(adata.X, before)  # X untouched
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad")
    np.testing.assert_array_equal(back.varp["k"], W)
    assert back.uns["k"]["method"] == rec["method"]
    # copy=True leaves the input alone
    fresh = adata.copy()
    del fresh.varp["k"], fresh.uns["k"]
    new = fn(fresh, key_added="k2", copy=True, **kwargs)
    assert "k2" in new.varp and "k2" not in fresh.varp and "k2" not in fresh.uns
    np.testing.assert_array_equal(new.varp["k2"], W)  # deterministic
    del adata.varp["k"], adata.uns["k"]


@pytest.mark.parametrize(("name", "fn", "kwargs"), METHODS)
def test_tfs_mask_rows(planted, name, fn, kwargs):
    adata, truth = planted
    tfs = list(truth["source"].unique())
    out = _run(fn, adata, kwargs, tfs=tfs)
    W = out.varp["k"]
    is_tf = adata.var_names.isin(tfs)
    assert np.all(W[~is_tf] == 0)
    assert np.all(np.abs(W[is_tf]).sum(axis=1) > 0)
    assert out.uns["k"]["tfs"] == tfs
    # a TF list restricts regulators: true edges still rank on top
    res = scgrn.metrics.evaluate_grn(out, truth, key="k")
    assert res["EPR"] > 2


def test_default_keys_and_layer(planted):
    adata, _ = planted
    a = adata.copy()
    a.layers["alt"] = a.X * 2.0
    scgrn.tl.correlation(a)
    scgrn.tl.correlation(a, method="spearman", layer="alt")
    scgrn.tl.partial_correlation(a)
    scgrn.tl.pidc(a, show_progress_bar=False)
    assert {"pearson", "spearman", "partial_correlation", "pidc"} <= set(a.varp)
    assert a.uns["spearman"]["params"]["layer"] == "alt"


@pytest.mark.parametrize(("name", "fn", "kwargs"), METHODS)
def test_orientation_row_is_regulator(planted, name, fn, kwargs):
    """With the true regulators as TFs, their out-edges sit in their rows: the stored matrix
    ranks the true edges on top and its transpose does not."""
    adata, truth = planted
    tfs = list(truth["source"].unique())
    W = _run(fn, adata, kwargs, tfs=tfs).varp["k"]
    good = scgrn.metrics.evaluate_grn(W, truth, var_names=adata.var_names)
    flipped = scgrn.metrics.evaluate_grn(W.T, truth, var_names=adata.var_names)
    assert good["EPR"] > 3 and good["AUROC"] > 0.8
    assert flipped["EPR"] < 1 and flipped["AUROC"] < good["AUROC"] - 0.2


def test_grnboost2_engines_agree_and_are_deterministic():
    adata, _ = scgrn.datasets.planted_network(n_genes=25, n_cells=150, random_state=5)
    a = scgrn.tl.grnboost2(adata, copy=True, n_jobs=1, show_progress_bar=False)
    b = scgrn.tl.grnboost2(adata, copy=True, n_jobs=2, show_progress_bar=False)
    np.testing.assert_array_equal(a.varp["grnboost2"], b.varp["grnboost2"])
    s = scgrn.tl.grnboost2(adata, copy=True, engine="sklearn", n_jobs=1, show_progress_bar=False)
    # same random stream: same number of trees per target, nearly the same importances
    assert np.mean(a.uns["grnboost2"]["n_trees"] == s.uns["grnboost2"]["n_trees"]) > 0.9
    off = ~np.eye(adata.n_vars, dtype=bool)
    rho = stats.spearmanr(a.varp["grnboost2"][off], s.varp["grnboost2"][off])[0]
    assert rho > 0.95
    other = scgrn.tl.grnboost2(adata, copy=True, random_state=1, n_jobs=1, show_progress_bar=False)
    assert not np.array_equal(other.varp["grnboost2"], a.varp["grnboost2"])
    # arboreto's normalisation: each target's in-weights sum to its number of trees
    n_trees = a.uns["grnboost2"]["n_trees"]
    np.testing.assert_allclose(a.varp["grnboost2"].sum(axis=0), n_trees, rtol=1e-5)


def test_tree_methods_on_a_dask_client():
    distributed = pytest.importorskip("distributed")
    adata, _ = scgrn.datasets.planted_network(n_genes=12, n_cells=80, n_regulators=2)
    ref = scgrn.tl.grnboost2(adata, n_jobs=1, show_progress_bar=False, copy=True)
    g_ref = scgrn.tl.genie3(adata, n_estimators=5, n_jobs=1, show_progress_bar=False, copy=True)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        out = scgrn.tl.grnboost2(adata, client=c, show_progress_bar=False, copy=True)
        g = scgrn.tl.genie3(adata, n_estimators=5, client=c, show_progress_bar=False, copy=True)
    np.testing.assert_array_equal(out.varp["grnboost2"], ref.varp["grnboost2"])
    np.testing.assert_array_equal(g.varp["genie3"], g_ref.varp["genie3"])


def test_tree_methods_errors(planted):
    adata, _ = planted
    with pytest.raises(ValueError, match="engine"):
        scgrn.tl.grnboost2(adata, engine="xgboost")
    with pytest.raises(ValueError, match="subsample"):
        scgrn.tl.grnboost2(adata, subsample=1.0)
    with pytest.raises(ValueError, match="n_estimators"):
        scgrn.tl.genie3(adata, n_estimators=0)
    with pytest.raises(TypeError, match="random_state"):  # a Generator gives a seed; a string never does
        scgrn.tl.genie3(adata, random_state="0")
    with pytest.raises(ValueError, match="not in adata.var_names"):
        scgrn.tl.grnboost2(adata, tfs=["nope"])
    with pytest.raises(ValueError, match="n_jobs"):
        scgrn.tl.grnboost2(adata, n_jobs=0)


def test_correlation_matches_numpy_and_scipy(planted):
    adata, _ = planted
    X = np.asarray(adata.X, dtype=np.float64)
    out = scgrn.tl.correlation(adata, copy=True)
    ref = np.corrcoef(X, rowvar=False)
    np.fill_diagonal(ref, 0)
    np.testing.assert_allclose(out.varp["pearson"], ref, atol=1e-5)
    out = scgrn.tl.correlation(adata, method="spearman", copy=True)
    ref = stats.spearmanr(X).statistic
    np.fill_diagonal(ref, 0)
    np.testing.assert_allclose(out.varp["spearman"], ref, atol=1e-5)
    with pytest.raises(ValueError, match="method"):
        scgrn.tl.correlation(adata, method="kendall")


def test_partial_correlation_formula_and_shrinkage(planted):
    adata, _ = planted
    X = np.asarray(adata.X, dtype=np.float64)
    out = scgrn.tl.partial_correlation(adata, copy=True)
    P = np.linalg.inv(np.corrcoef(X, rowvar=False))
    ref = -P / np.sqrt(np.outer(np.diag(P), np.diag(P)))
    np.fill_diagonal(ref, 0)
    np.testing.assert_allclose(out.varp["partial_correlation"], ref, atol=1e-4)
    assert out.uns["partial_correlation"]["shrinkage_intensity"] == 0.0
    # more genes than cells: Ledoit-Wolf shrinkage kicks in and the result stays finite
    wide = adata[:20].copy()
    res = scgrn.tl.partial_correlation(wide, copy=True)
    assert res.uns["partial_correlation"]["shrinkage_intensity"] > 0
    assert np.isfinite(res.varp["partial_correlation"]).all()
    forced = scgrn.tl.partial_correlation(adata, shrinkage=True, copy=True)
    assert forced.uns["partial_correlation"]["shrinkage_intensity"] > 0
    with pytest.raises(ValueError, match="shrinkage"):
        scgrn.tl.partial_correlation(adata, shrinkage="oas")


# ----------------------------------------------------------------------------------------
# PIDC: the vectorised scores equal a literal transcription of the per-triple algorithm
# ----------------------------------------------------------------------------------------
def _reference_puc(bins: np.ndarray, n_bins: int) -> np.ndarray:
    n, G = bins.shape
    p = [np.bincount(bins[:, g], minlength=n_bins) / n for g in range(G)]
    mi = np.zeros((G, G))
    si = {}  # si[(source, target)][t]: specific information source gives about target state t
    for i, j in itertools.permutations(range(G), 2):
        joint = np.zeros((n_bins, n_bins))
        np.add.at(joint, (bins[:, i], bins[:, j]), 1.0 / n)
        s = np.zeros(n_bins)
        for t in range(n_bins):
            if p[j][t] == 0:
                continue
            for a in range(n_bins):
                if joint[a, t] > 0:
                    s[t] += joint[a, t] / p[j][t] * np.log(joint[a, t] / (p[i][a] * p[j][t]))
        si[(i, j)] = s
        mi[i, j] = float(np.dot(p[j], s))
    puc = np.zeros((G, G))

    def add(x, z, m, red):
        u = (m - red) / m if m > 0 else 0.0
        u = u if np.isfinite(u) and u >= 0 else 0.0
        puc[x, z] += u
        puc[z, x] += u

    for i, j, k in itertools.combinations(range(G), 3):
        for tgt, s1, s2 in ((k, i, j), (j, i, k), (i, j, k)):
            red = float(np.dot(p[tgt], np.minimum(si[(s1, tgt)], si[(s2, tgt)])))
            add(s1, tgt, mi[s1, tgt], red)
            add(s2, tgt, mi[s2, tgt], red)
    return puc


def test_pidc_puc_matches_triple_loop():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(120, 1))
    X = np.hstack([z + 0.5 * rng.normal(size=(120, 3)), rng.normal(size=(120, 3))])
    bins = discretize(X, 4)
    fast, _ = _puc_scores(bins, 4, batch_size=2, show_progress_bar=False)
    np.testing.assert_allclose(fast, _reference_puc(bins, 4), rtol=1e-8, atol=1e-10)


def test_pidc_context_is_gamma_cdf_sum():
    rng = np.random.default_rng(1)
    A = rng.gamma(2.0, 1.0, size=(8, 8)) + 0.1
    puc = (A + A.T) / 2
    np.fill_diagonal(puc, 0)
    W = _context(puc)
    def cdf(k, x):  # gamma fitted by maximum likelihood to gene k's scores (no diagonal)
        a, _, scale = stats.gamma.fit(np.delete(puc[:, k], k), floc=0)
        return stats.gamma.cdf(x, a, scale=scale)

    for i, j in ((0, 3), (5, 2)):
        assert W[i, j] == pytest.approx(cdf(i, puc[i, j]) + cdf(j, puc[i, j]), abs=1e-4)
    np.testing.assert_allclose(W, W.T)


def test_pidc_symmetric_and_options(planted):
    adata, _ = planted
    out = scgrn.tl.pidc(adata, n_bins=5, discretizer="uniform", copy=True, show_progress_bar=False)
    W = out.varp["pidc"]
    np.testing.assert_array_equal(W, W.T)
    assert out.uns["pidc"]["params"] == {"n_bins": 5, "discretizer": "uniform", "layer": "X"}
    with pytest.raises(ValueError, match="discretizer"):
        scgrn.tl.pidc(adata, discretizer="bayesian_blocks")
    with pytest.raises(ValueError, match="n_bins"):
        scgrn.tl.pidc(adata, n_bins=1)


def test_discretize_keeps_ties_together():
    X = np.array([[0, 0, 0, 0, 1, 2, 3, 4]], dtype=float).T
    b = discretize(X, 4)[:, 0]
    assert len(set(b[:4])) == 1 and b[4] > b[0] and np.all(np.diff(b[4:]) >= 0)


def test_bad_input_messages():
    adata = ad.AnnData(np.ones((5, 3), dtype=np.float32), var=pd.DataFrame(index=list("abc")))
    with pytest.raises(ValueError, match="min_cells"):
        scgrn.tl.correlation(adata)
    with pytest.raises(TypeError, match="AnnData"):
        scgrn.tl.pidc(np.ones((20, 3)))
