"""tl.simulate / DeepSEM.simulate / tl.simulate_baseline and the simulation metrics."""

import copy

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy import sparse

import scgrn
from scgrn.models._deepsem_data import standardise
from scgrn.models._simulate import quantile_map, standardisation_stats, unstandardise

FAST = dict(n_models=2, n_epochs=3, hidden_dim=8, show_progress_bar=False)


def _counts(n_cells=120, n_genes=25, seed=0):
    """Counts with two cell types and a correlated gene module (library sizes vary)."""
    rng = np.random.default_rng(seed)
    kind = np.repeat(["a", "b"], [n_cells - n_cells // 3, n_cells // 3])
    base = rng.gamma(1.0, 1.0, size=n_genes)
    module = rng.normal(size=(n_cells, 1))
    rate = base * np.exp(0.6 * module * (np.arange(n_genes) < 8))
    rate[kind == "b", 10:15] *= 8
    lib = rng.lognormal(0, 0.4, size=(n_cells, 1)) * 20
    x = rng.poisson(rate * lib / base.sum() * 4).astype(np.float32)
    x[:, (x.sum(0) == 0)] = 1  # no all-zero genes
    x[0, :] = np.maximum(x[0, :], 40)  # a max above 30: looks like counts
    ad = AnnData(x, obs=pd.DataFrame({"kind": pd.Categorical(kind)}, index=[f"c{i}" for i in range(n_cells)]),
                 var=pd.DataFrame(index=[f"G{i}" for i in range(n_genes)]))
    return ad


def _log(ad):
    out = ad.copy()
    lib = out.X.sum(1, keepdims=True)
    out.X = np.log1p(out.X / lib * np.median(lib)).astype(np.float32)
    return out


@pytest.fixture(scope="module")
def counts():
    return _counts()


@pytest.fixture(scope="module")
def _log_model(counts):
    model = scgrn.models.DeepSEM(_log(counts), n_models=2, n_epochs=2, hidden_dim=8)
    model.train(show_progress_bar=False)
    return model


@pytest.fixture
def log_model(_log_model):
    """``DeepSEM(_log(counts), n_models=2, n_epochs=2, hidden_dim=8)``, trained once: a deep copy."""
    return copy.deepcopy(_log_model)


@pytest.mark.filterwarnings("ignore:noise_scale/neighbours='auto' reached")  # a 3-epoch model
def test_counts_output_scale_names_integers(counts, tmp_path):
    sim = scgrn.tl.simulate(counts, groupby="kind", n_obs=90, random_state=1, **FAST)
    assert sim.n_obs == 90 and list(sim.var_names) == list(counts.var_names)
    assert sim.obs["simulated"].all() and sim.obs["simulated"].dtype == bool
    assert set(sim.obs["kind"]) == {"a", "b"}
    assert (sim.obs["kind"] == "a").sum() == 60  # split in proportion to group sizes (80:40)
    x = sim.X
    assert np.all(x >= 0) and np.all(x == np.round(x))
    assert x.max() > 1  # counts, not log values
    rec = sim.uns["simulate"]
    assert rec["scale"] == "counts" and rec["groupby"] == "kind" and rec["groups"] == ["a", "b"]
    assert rec["params"]["random_state"] == 1 and rec["params"]["n_models"] == 2
    assert set(rec["final_loss"]) == {"a", "b"}
    from scgrn.models._simulate import AUTO_GRID

    assert all(v in AUTO_GRID for v in rec["noise_scale"].values())  # resolved per group
    from scgrn.models._simulate import NEIGHBOUR_GRID

    assert all(v in NEIGHBOUR_GRID for v in rec["neighbours"].values())
    assert set(rec["technical_noise"].values()) == {"poisson"}  # counts in, Poisson noise
    sim.write_h5ad(tmp_path / "sim.h5ad")  # h5ad-writable provenance


def test_log_output_scale_and_calibration(counts):
    ad = _log(counts)
    sim = scgrn.tl.simulate(ad, n_obs=200, **FAST)
    assert sim.uns["simulate"]["scale"] == "log" and sim.X.dtype == np.float32
    assert not np.all(sim.X == np.round(sim.X))
    # calibrated: every value of a gene is one of that gene's real values
    for g in range(0, ad.n_vars, 6):
        assert np.isin(sim.X[:, g], ad.X[:, g]).all()
    raw = scgrn.tl.simulate(ad, n_obs=50, calibrate=False, **FAST)
    assert raw.X.min() >= ad.X.min() - 1e-6 and raw.X.max() <= ad.X.max() + 1e-6


def test_sparse_int_input_kept(counts):
    ad = counts.copy()
    ad.X = sparse.csr_matrix(ad.X.astype(np.int64))
    sim = scgrn.tl.simulate_baseline(ad, method="independent", n_obs=30)
    assert sparse.issparse(sim.X) and np.issubdtype(sim.X.dtype, np.integer)


def test_determinism(counts):
    a = scgrn.tl.simulate(counts, n_obs=40, random_state=3, **FAST)
    b = scgrn.tl.simulate(counts, n_obs=40, random_state=3, **FAST)
    c = scgrn.tl.simulate(counts, n_obs=40, random_state=4, **FAST)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)


def test_model_simulate_and_modes(counts, log_model):
    ad = _log(counts)
    with pytest.raises(RuntimeError, match="train"):
        scgrn.models.DeepSEM(ad, n_models=2, n_epochs=2, hidden_dim=8).simulate(5)
    model = log_model
    sim = model.simulate(30, random_state=0)
    assert sim.shape == (30, ad.n_vars) and (sim.obs["source_cell"] >= 0).all()
    prior = model.simulate(30, mode="prior", random_state=0)
    assert (prior.obs["source_cell"] == -1).all()
    np.testing.assert_array_equal(sim.X, model.simulate(30, random_state=0).X)
    with pytest.raises(ValueError, match="mode"):
        model.simulate(5, mode="nope")
    with pytest.raises(ValueError, match="noise_scale"):
        model.simulate(5, noise_scale="big")
    # more latent noise moves simulated cells further from the training cells
    from scgrn.models._simulate import nearest_distances

    near = model.simulate(60, noise_scale=0.0, spread=0.0, calibrate=False).X
    far = model.simulate(60, noise_scale=4.0, calibrate=False).X
    assert np.median(nearest_distances(ad.X, far)) > np.median(nearest_distances(ad.X, near))


def test_input_checks(counts):
    with pytest.raises(ValueError, match="non-integer"):
        scgrn.tl.simulate(_log(counts), scale="counts", **FAST)
    with pytest.raises(KeyError, match="groupby"):
        scgrn.tl.simulate(counts, groupby="missing", **FAST)
    with pytest.warns(UserWarning, match="negative"):
        scaled = _log(counts)
        scaled.X = scaled.X - scaled.X.mean(0)
        scgrn.tl.simulate_baseline(scaled, n_obs=10)
    with pytest.raises(ValueError, match="unknown group"):
        scgrn.tl.simulate_baseline(counts, groupby="kind", n_obs={"zzz": 3})


def test_standardisation_inverse():
    x = np.abs(np.random.default_rng(0).normal(size=(50, 6))).astype(np.float32)
    x[x < 0.5] = 0
    for mode in ("all", "nonzero"):
        scaled, _, _ = standardise(x, mode)
        mean, std = standardisation_stats(x, mode)
        np.testing.assert_allclose(unstandardise(scaled, mean, std), x, atol=1e-5)


def test_quantile_map_marginals():
    rng = np.random.default_rng(0)
    ref = rng.poisson(0.5, size=(200, 4)).astype(float)
    out = quantile_map(rng.normal(size=(200, 4)), ref, rng)
    np.testing.assert_array_equal(np.sort(out, 0), np.sort(ref, 0))  # same n: same multiset


def test_baselines(counts):
    for method in ("independent", "copula"):
        sim = scgrn.tl.simulate_baseline(counts, method=method, groupby="kind", random_state=0)
        assert sim.shape == counts.shape and sim.uns["simulate"]["method"] == method
        assert np.all(sim.X == np.round(sim.X))
        again = scgrn.tl.simulate_baseline(counts, method=method, groupby="kind", random_state=0)
        np.testing.assert_array_equal(sim.X, again.X)
    with pytest.raises(ValueError, match="method"):
        scgrn.tl.simulate_baseline(counts, method="gan")


# -- metrics ---------------------------------------------------------------------------------
def test_realism_auc_halves_and_different():
    rng = np.random.default_rng(0)
    x = rng.poisson(rng.gamma(1, 2, size=30), size=(300, 30)).astype(float)
    x[0, 0] = 50
    half = scgrn.metrics.realism_auc(x[:150], x[150:], n_pcs=10, n_trees=50)
    assert 0.35 < half < 0.65
    other = x.copy()
    other[:, :10] = rng.poisson(8, size=(300, 10))
    assert scgrn.metrics.realism_auc(x, other, n_pcs=10, n_trees=50) > 0.95


def test_simulation_closeness_detects_copies():
    rng = np.random.default_rng(0)
    train, held = rng.normal(size=(100, 8)), rng.normal(size=(40, 8))
    copies = scgrn.metrics.simulation_closeness(train, train[:40] + 1e-3, held)
    assert copies["ratio"] < 0.1 and copies["closer_than_heldout_p5"] == 1.0
    fresh = scgrn.metrics.simulation_closeness(train, rng.normal(size=(40, 8)), held)
    assert fresh["identical_fraction"] == 0.0 and 0.6 < fresh["ratio"] < 1.6


def test_grn_consistency_identical_and_independent(counts):
    ad = _log(counts)
    same = scgrn.metrics.grn_consistency(ad, ad, method="pearson")
    assert (same["consistency"] == 1.0).all() and list(same.columns) == ["top", "k", "consistency", "random"]
    ind = scgrn.tl.simulate_baseline(ad, method="independent", random_state=0)
    res = scgrn.metrics.grn_consistency(ad, ind, method="spearman", top=(0.05,))
    assert res["consistency"].iloc[0] < 0.6
    trees = scgrn.metrics.grn_consistency(ad, ad, method="genie3", n_estimators=20, top=(0.02, 0.1))
    assert (trees["consistency"] == 1.0).all()
    with pytest.raises(ValueError, match="method"):
        scgrn.metrics.grn_consistency(ad, ad, method="magic")


def test_top_edge_overlap_known():
    a = np.zeros((4, 4))
    a[0, 1], a[2, 3] = 5, 4
    b = np.zeros((4, 4))
    b[0, 1], b[3, 2] = 5, 4
    res = scgrn.metrics.top_edge_overlap(a, b, top=(2 / 12,))
    assert res["k"].iloc[0] == 2 and res["consistency"].iloc[0] == 0.5


def test_mouse_bladder_loader_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="mouse_bladder_2100"):
        scgrn.datasets.mouse_bladder(data_dir=tmp_path)


def test_mouse_bladder_loader(shared_data_dir):
    adata = scgrn.datasets.mouse_bladder()
    assert adata.shape == (2100, 20670) and adata.obs["label"].nunique() == 16


def test_augmentation_bench(counts):
    res = scgrn.bench.augmentation(
        counts, groupby="kind", target="b", fractions=(0.5, 0.04), n_added=60, n_trees=20, n_pcs=10,
        arms=("none", "upsample", "simulate", "copula"), simulate_kwargs=dict(n_epochs=3, hidden_dim=8),
    )
    assert len(res) == 8 and set(res["arm"]) == {"none", "upsample", "simulate", "copula"}
    kept = res.set_index(["fraction", "arm"])["n_target_kept"]
    assert kept[(0.5, "none")] == 16 and kept[(0.04, "none")] == 1
    one = res[(res["fraction"] == 0.04) & (res["arm"].isin(["simulate", "copula"]))]
    assert one["aupr"].isna().all()  # one kept cell: nothing to simulate from
    ok = res.dropna()
    assert ((ok["aupr"] >= 0) & (ok["aupr"] <= 1)).all()
    assert (res.loc[res["arm"] == "upsample", "n_added"] == 60).all()
    with pytest.raises(ValueError, match="arm"):
        scgrn.bench.augmentation(counts, groupby="kind", target="b", arms=("gan",))


def test_plots(counts):
    import matplotlib

    matplotlib.use("Agg")
    sims = {"copula": scgrn.tl.simulate_baseline(counts, n_obs=60, groupby="kind")}
    ax = scgrn.pl.simulation(counts, sims, color="kind", n_pcs=5, show=False)
    assert len(ax.collections) == 3  # real + two groups
    res = scgrn.metrics.top_edge_overlap(np.eye(10) + np.arange(100).reshape(10, 10), np.arange(100).reshape(10, 10))
    fig = scgrn.pl.grn_consistency({"a": res}, return_fig=True)
    assert fig.axes[0].get_ylabel().startswith("GRN consistency")


def test_auto_noise_warning_points_at_the_caller(counts, monkeypatch):
    """The end-of-grid warning is attributed to the user's line, not to scgrn's internals."""
    import scgrn.models._simulate as simulate_module

    def never_far_enough(reference, query=None):  # training cells infinitely far apart: grid exhausted
        n = len(reference) if query is None else len(query)
        return np.full(n, np.inf if query is None else 0.0)

    monkeypatch.setattr(simulate_module, "nearest_distances", never_far_enough)
    with pytest.warns(UserWarning, match="reached the largest values") as record:
        scgrn.tl.simulate(_log(counts), n_obs=20, **FAST)
    assert {w.filename for w in record if "reached the largest" in str(w.message)} == {__file__}
    model = scgrn.models.DeepSEM(_log(counts), n_models=1, n_epochs=2, hidden_dim=8)
    model.train(show_progress_bar=False)
    with pytest.warns(UserWarning, match="reached the largest values") as record:
        model.simulate(20)
    assert {w.filename for w in record if "reached the largest" in str(w.message)} == {__file__}
    with pytest.warns(UserWarning, match="reached the largest values") as record:
        model.sample_cells(20)  # one level less deep inside scgrn: still the caller's line
    assert {w.filename for w in record if "reached the largest" in str(w.message)} == {__file__}


def test_count_size_factors_recover_normalised_counts(counts):
    from scgrn.models._simulate import count_size_factors

    x = counts.X[1:]  # the fixture's first cell has no count below 40: its unit is ambiguous
    x = np.vstack([x, [2, 3, 5] + [0] * (x.shape[1] - 3)])  # smallest count 2: found by the search
    lib = x.sum(1)
    s = count_size_factors(np.log1p(x / lib[:, None] * 100.0).astype(np.float32))
    np.testing.assert_allclose(s, 100.0 / lib, rtol=1e-4)
    assert count_size_factors(np.log1p(np.random.default_rng(0).gamma(1.0, 1.0, (20, 5)))) is None


@pytest.mark.filterwarnings("ignore:noise_scale/neighbours='auto' reached")  # a 3-epoch model
def test_technical_noise_resolution(counts):
    logged = _log(counts)
    sim = scgrn.tl.simulate(logged, n_obs=30, noise_scale=0.5, **FAST)
    assert set(sim.uns["simulate"]["technical_noise"].values()) == {"poisson"}
    scaled = logged.copy()
    scaled.X = np.sqrt(scaled.X)  # not log1p(normalised counts): no counts to recover
    sim = scgrn.tl.simulate(scaled, n_obs=30, noise_scale=0.5, **FAST)
    assert set(sim.uns["simulate"]["technical_noise"].values()) == {"none"}
    with pytest.raises(ValueError, match="technical_noise='poisson' needs counts"):
        scgrn.tl.simulate(scaled, n_obs=30, technical_noise="poisson", **FAST)
    with pytest.raises(ValueError, match="technical_noise must be"):
        scgrn.tl.simulate(logged, technical_noise="gaussian", **FAST)


def test_neighbours_average_the_source_latent(counts, log_model):
    ad = _log(counts)
    model = log_model
    kw = dict(noise_scale=0.0, technical_noise="none", calibrate=False)
    own = model.simulate(40, neighbours=1, **kw).X
    pooled = model.simulate(40, neighbours=ad.n_obs, **kw).X  # every source averages all cells
    assert len(np.unique(own.round(5), axis=0)) > 2
    assert len(np.unique(pooled.round(5), axis=0)) <= 2  # one profile per ensemble member
    with pytest.raises(ValueError, match="neighbours"):
        model.simulate(5, neighbours=0)


def test_poisson_noise_moves_cells_off_their_decoded_profile(counts):
    ad = _log(counts)
    model = scgrn.models.DeepSEM(ad, n_models=1, n_epochs=2, hidden_dim=8)
    model.train(show_progress_bar=False)
    kw = dict(noise_scale=0.0, neighbours=1, calibrate=False, random_state=0)
    plain = model.simulate(40, technical_noise="none", **kw)
    noisy = model.simulate(40, technical_noise="poisson", **kw)
    assert noisy.uns["simulate"]["params"]["technical_noise"] == "poisson"
    np.testing.assert_array_equal(plain.obs["source_cell"], noisy.obs["source_cell"])
    assert np.abs(noisy.X - plain.X).mean() > 0.05


# -- the public sampling API of DeepSEM (what tl.simulate uses) ---------------------------------
def test_tl_simulate_uses_only_public_deepsem_api():
    """tl.simulate reaches no private attribute or method of anything (``obj._name``; the
    DeepSEM model included) and never assigns a model's ``module``: it builds, trains and
    samples through DeepSEM.from_array, .train, .get_size_factors and .sample_cells."""
    import ast
    import inspect

    import scgrn.tl._simulate as tl_simulate

    tree = ast.parse(inspect.getsource(tl_simulate))
    private = sorted(
        {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
         and node.attr.startswith("_") and not node.attr.startswith("__")}
    )
    assert not private, f"tl/_simulate.py reaches private attributes: {private}"
    assigned = [
        target.attr for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        for target in ([target] if not isinstance(target, ast.Tuple) else target.elts)
        if isinstance(target, ast.Attribute)
    ]
    assert "module" not in assigned and "history" not in assigned
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert {"from_array", "train", "get_size_factors", "sample_cells"} <= used


def test_from_array(counts):
    ad = _log(counts)
    x = np.asarray(ad.X[:5], dtype=np.float32)  # fewer cells than DeepSEM(adata) accepts
    x[:, 0] = 0.0  # and an all-zero gene
    model = scgrn.models.DeepSEM.from_array(x, ad.var_names, n_models=1, n_epochs=2, hidden_dim=8)
    assert repr(model).startswith("DeepSEM(untrained")
    assert model.var_names.equals(ad.var_names) and model.params()["n_epochs"] == 2
    model.train(random_state=4, show_progress_bar=False)
    assert model.params()["random_state"] == 4 and model.get_grn().shape == (ad.n_vars, ad.n_vars)
    for bad in (x[:1], x[:, :-1], np.where(x > 1, np.nan, x), x[0]):
        with pytest.raises(ValueError, match="cells x genes"):
            scgrn.models.DeepSEM.from_array(bad, ad.var_names)
    with pytest.raises(TypeError, match="nope"):
        scgrn.models.DeepSEM.from_array(x, ad.var_names, nope=1)


def test_get_size_factors(counts, log_model):
    lib = counts.X.sum(1)
    s = log_model.get_size_factors()
    assert s is not None and s.shape == (counts.n_obs,)
    ok = counts.X.min(1, initial=np.inf, where=counts.X > 0) == 1  # cells with a count of one
    np.testing.assert_allclose(s[ok], (np.median(lib) / lib)[ok], rtol=1e-4)
    assert log_model.get_size_factors(technical_noise="none") is None
    scaled = scgrn.models.DeepSEM.from_array(np.sqrt(_log(counts).X), counts.var_names)
    assert scaled.get_size_factors() is None  # no counts to recover
    with pytest.raises(ValueError, match="technical_noise='poisson' needs counts"):
        scaled.get_size_factors(technical_noise="poisson")


def test_sample_cells(counts, log_model):
    model = log_model
    kw = dict(noise_scale=0.5, neighbours=2, spread=0.2)
    a = model.sample_cells(30, rng=3, **kw)
    assert isinstance(a, scgrn.models.SimulatedCells)
    assert a.values.shape == (30, counts.n_vars) and a.values.dtype == np.float32
    assert a.counts is None and a.source.shape == (30,) and (a.noise_scale, a.neighbours) == (0.5, 2)
    np.testing.assert_array_equal(a.values, model.sample_cells(30, rng=3, **kw).values)  # a seed
    rng = np.random.default_rng(3)  # a Generator is used, and advanced, in place
    np.testing.assert_array_equal(a.values, model.sample_cells(30, rng=rng, **kw).values)
    assert not np.array_equal(a.values, model.sample_cells(30, rng=rng, **kw).values)
    assert model.sample_cells(rng=0, **kw).values.shape[0] == counts.n_obs  # n_obs=None
    # with size factors: Poisson counts around each decoded profile, log-normalised again
    s = model.get_size_factors()
    b = model.sample_cells(30, size_factors=s, rng=3, **kw)
    assert b.counts is not None and np.all(b.counts == np.round(b.counts))
    np.testing.assert_allclose(b.values, np.log1p(b.counts * s[b.source][:, None]), rtol=1e-5)
    # "auto" settings are resolved, and simulate() is sample_cells + calibration
    c = model.sample_cells(25, size_factors=s, rng=np.random.default_rng(7))
    from scgrn.models._simulate import AUTO_GRID, NEIGHBOUR_GRID

    assert c.noise_scale in AUTO_GRID and c.neighbours in NEIGHBOUR_GRID
    sim = model.simulate(25, calibrate=False, random_state=7)
    x = np.asarray(_log(counts).X)
    np.testing.assert_array_equal(sim.X, np.clip(c.values, x.min(0), x.max(0)).astype(np.float32))
    np.testing.assert_array_equal(sim.obs["source_cell"], c.source)
    assert sim.uns["simulate"]["params"]["noise_scale"] == c.noise_scale
    for bad in (s[:-1], -s, np.where(s > np.median(s), np.nan, s)):
        with pytest.raises(ValueError, match="size_factors must be"):
            model.sample_cells(5, size_factors=bad, **kw)
    with pytest.raises(ValueError, match="mode"):
        model.sample_cells(5, mode="nope")
    with pytest.raises(RuntimeError, match="train"):
        scgrn.models.DeepSEM(_log(counts), n_models=1, n_epochs=1).sample_cells(5, **kw)


def test_simulate_reads_a_backed_anndata(tmp_path):
    import anndata

    adata, _ = scgrn.datasets.krumsiek11()
    adata.X = sparse.csr_matrix(adata.X)
    adata.write_h5ad(tmp_path / "k.h5ad")
    backed = anndata.read_h5ad(tmp_path / "k.h5ad", backed="r")
    in_memory = anndata.read_h5ad(tmp_path / "k.h5ad")
    kw = dict(n_obs=50, n_epochs=2, show_progress_bar=False, random_state=0)
    np.testing.assert_array_equal(scgrn.tl.simulate(backed, **kw).X.toarray(),
                                  scgrn.tl.simulate(in_memory, **kw).X.toarray())
    base = scgrn.tl.simulate_baseline(backed, n_obs=50)
    assert base.n_obs == 50 and backed.isbacked
