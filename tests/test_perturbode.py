"""tl.perturbode, models.PerturbODE and the distribution / top-k metrics."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from anndata import AnnData

import scgrn
from scgrn.metrics import energy_distance, precision_recall_at_k, sinkhorn_w2
from scgrn.models import PerturbODE
from scgrn.models._perturbode import PerturbODEConfig, PerturbODEModule

FAST = dict(n_modules=4, n_epochs=5, batch_size=16, show_progress_bar=False)


@pytest.fixture(scope="module")
def screen():
    return scgrn.datasets.simulate_perturbation_screen(
        n_genes=12, n_perturbations=5, n_double=2, n_cells_per_perturbation=30, n_control=80,
        random_state=0,
    )


@pytest.fixture(scope="module")
def _screen_model(screen):
    model = PerturbODE(screen[0], n_modules=4, n_epochs=5, batch_size=16)
    model.train(show_progress_bar=False)
    return model


@pytest.fixture
def screen_model(_screen_model):
    """``PerturbODE(n_modules=4, n_epochs=5, batch_size=16)`` trained once on ``screen``: a deep copy."""
    return copy.deepcopy(_screen_model)


def _planted_pair(n=300, seed=0):
    """Genes a -> b (activation) and an unconnected gene c; knockouts of a and of b."""
    rng = np.random.default_rng(seed)

    def cells(ko):
        a = np.clip(2.0 + 0.2 * rng.standard_normal(n), 0, None) * (0.0 if "a" in ko else 1.0)
        b = np.clip(0.5 + 0.8 * a + 0.15 * rng.standard_normal(n), 0, None) * (0.0 if "b" in ko else 1.0)
        c = np.clip(1.5 + 0.2 * rng.standard_normal(n), 0, None)
        return np.stack([a, b, c], 1)

    X = np.concatenate([cells(()), cells(("a",)), cells(("b",))]).astype(np.float32)
    obs = pd.DataFrame({"perturbation": ["control"] * n + ["a"] * n + ["b"] * n})
    obs.index = [f"c{i}" for i in range(len(obs))]
    return AnnData(X, obs=obs, var=pd.DataFrame(index=["a", "b", "c"]))


def test_planted_edge_recovered_with_direction():
    adata = _planted_pair()
    model = PerturbODE(adata, n_modules=2, n_epochs=250, batch_size=64)
    model.train(random_state=0, show_progress_bar=False)
    grn = model.get_grn()
    # row = regulator: a -> b must be the strongest entry, and stronger than b -> a
    assert np.unravel_index(np.abs(grn).argmax(), grn.shape) == (0, 1)
    assert grn[0, 1] > 0  # activation
    assert abs(grn[0, 1]) > 3 * abs(grn[1, 0])
    # knocking out a lowers b in the prediction; knocking out b leaves a alone
    pa, pb = model.predict("a", n_obs=200), model.predict("b", n_obs=200)
    ctrl = adata.X[:300]
    assert pa.X[:, 1].mean() < 0.7 * ctrl[:, 1].mean()
    assert abs(pb.X[:, 0].mean() - ctrl[:, 0].mean()) < 0.2 * ctrl[:, 0].mean()


def test_l1_warmup_keeps_a_strong_penalty_from_zeroing_the_network():
    # A -> B effects are products of two small initial weights: a strong L1 pull from the first
    # step zeroes them all; ramping the penalty up lets the planted edge grow first.
    adata = _planted_pair()
    kw = dict(n_modules=2, n_epochs=250, batch_size=64, l1=0.3)
    cold = PerturbODE(adata, l1_warmup=0.0, **kw)
    cold.train(random_state=0, show_progress_bar=False)
    warm = PerturbODE(adata, l1_warmup=0.2, **kw)
    warm.train(random_state=0, show_progress_bar=False)
    assert np.abs(cold.get_grn()).max() < 0.05
    grn = warm.get_grn()
    assert np.unravel_index(np.abs(grn).argmax(), grn.shape) == (0, 1) and grn[0, 1] > 0


def test_integrator_stable_at_defaults():
    torch.manual_seed(0)
    cfg = PerturbODEConfig()
    n_genes = 30
    module = PerturbODEModule(n_genes, 16, mu=torch.full((n_genes,), 5.0), config=cfg)
    with torch.no_grad():  # large weights and extreme states must not blow up
        module.A.mul_(50.0)
        module.B.mul_(50.0)
        module.decay_raw.fill_(10.0)  # decay at its upper bound
    x0 = torch.rand(4, 64, n_genes) * 20
    mask = torch.zeros(4, n_genes)
    mask[1, 0] = 1.0
    mask[2, [3, 4]] = 1.0
    for solver in ("rk4", "euler"):
        module.config = PerturbODEConfig(solver=solver, n_time_steps=12 if solver == "rk4" else 24)
        end = module.integrate(x0, mask)
        assert torch.isfinite(end).all()
        # knocked-out genes stay clamped at rho * x0
        rho = module.knockout_level[0]
        assert torch.allclose(end[1, :, 0], rho * x0[1, :, 0])


def test_unstable_config_rejected():
    with pytest.raises(ValueError, match="stability"):
        PerturbODEConfig(max_decay=50.0, n_time_steps=4).validate(10)


def test_tool_keys_and_uns(screen, tmp_path):
    adata, _ = screen
    adata = adata.copy()
    before = adata.X.copy()
    assert scgrn.tl.perturbode(adata, **FAST) is None
    assert np.array_equal(adata.X, before)
    grn = adata.varp["perturbode"]
    assert grn.shape == (12, 12) and grn.dtype == np.float32 and np.all(np.diag(grn) == 0)
    assert adata.varm["perturbode_A"].shape == (12, 4) and adata.varm["perturbode_B"].shape == (12, 4)
    ko = adata.var["perturbode_knockout_level"]
    assert ko.notna().sum() == 5 and ((ko.dropna() > 0) & (ko.dropna() < 1)).all()
    rec = adata.uns["perturbode"]
    assert rec["method"] == "perturbode" and rec["version"] == scgrn.__version__
    assert rec["params"]["n_modules"] == 4 and rec["params"]["random_state"] == 0
    assert rec["history"]["loss"].shape == (5,) and len(rec["perturbations"]) == 7
    adata.write_h5ad(tmp_path / "a.h5ad")  # everything h5ad-writable
    import anndata as ad

    again = ad.read_h5ad(tmp_path / "a.h5ad")
    assert np.array_equal(again.varp["perturbode"], grn)
    out = scgrn.tl.perturbode(adata, copy=True, key_added="po2", intervention="shift", **FAST)
    assert "po2" in out.varp and "po2" not in adata.varp and "po2_shift" in out.var


def test_deterministic(screen):
    adata, _ = screen
    m1 = PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
    m2 = PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
    m1.train(random_state=3, show_progress_bar=False)
    m2.train(random_state=3, show_progress_bar=False)
    assert np.array_equal(m1.get_grn(), m2.get_grn())


def test_predict_shapes_and_unseen(screen, screen_model):
    adata, _ = screen
    model = screen_model
    unseen = [g for g in adata.var_names if g not in model.trained_genes][:2]
    labels = [model.perturbations[0], "+".join(unseen), "control"]
    pred = model.predict(labels, n_obs=25)
    assert pred.shape == (75, 12) and list(pred.var_names) == list(adata.var_names)
    assert pred.obs["predicted"].all() and list(pred.obs["perturbation"].cat.categories) == labels
    assert (pred.obs["perturbation"] == labels[1]).sum() == 25
    assert pred.uns["perturbode_prediction"]["unseen_genes"] == unseen
    # unseen knocked genes are clamped at the default level of their control value
    i = list(adata.var_names).index(unseen[0])
    x = pred.X[pred.obs["perturbation"] == labels[1]]
    ctrl = adata.X[adata.obs["perturbation"] == "control"]
    assert x[:, i].mean() < 0.5 * ctrl[:, i].mean()
    assert np.isfinite(pred.X).all()
    a, b = model.get_modules()
    assert a.shape == (12, 4) and b.shape == (12, 4) and list(a.index) == list(adata.var_names)
    with pytest.raises(ValueError, match="not in adata.var_names"):
        model.predict("NOPE")


def test_save_load(screen, screen_model, tmp_path):
    adata, _ = screen
    model = screen_model
    model.save(tmp_path / "m")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m")
    loaded = PerturbODE.load(tmp_path / "m", adata)
    assert np.allclose(loaded.get_grn(), model.get_grn())
    p1, p2 = model.predict("G01+G02", n_obs=10), loaded.predict("G01+G02", n_obs=10)
    assert np.allclose(p1.X, p2.X, atol=1e-5)
    assert loaded.trained_genes == model.trained_genes
    with pytest.raises(ValueError, match="var_names"):
        PerturbODE.load(tmp_path / "m", adata[:, ::-1].copy())


def test_errors(screen):
    adata, _ = screen
    bad = adata.copy()
    bad.obs["perturbation"] = bad.obs["perturbation"].cat.add_categories(["GHOST+G01"])
    bad.obs.iloc[-3:, bad.obs.columns.get_loc("perturbation")] = "GHOST+G01"
    with pytest.raises(ValueError, match="GHOST"):
        scgrn.tl.perturbode(bad, **FAST)
    with pytest.raises(ValueError, match="control cell"):
        scgrn.tl.perturbode(adata, control="ctrl", **FAST)
    nocontrol = adata[adata.obs["perturbation"] != "control"].copy()
    with pytest.raises(ValueError, match="control"):
        scgrn.tl.perturbode(nocontrol, **FAST)
    with pytest.raises(KeyError, match="guide"):
        scgrn.tl.perturbode(adata, perturbation_key="guide", **FAST)
    neg = adata.copy()
    neg.X = neg.X - 1.0
    with pytest.raises(ValueError, match="non-negative"):
        scgrn.tl.perturbode(neg, **FAST)
    with pytest.raises(ValueError, match="intervention"):
        scgrn.tl.perturbode(adata, intervention="activation", **FAST)
    with pytest.raises(ValueError, match="l1_warmup"):
        scgrn.tl.perturbode(adata, l1_warmup=1.5, **FAST)
    with pytest.raises(TypeError, match="Unknown PerturbODE hyperparameter"):
        scgrn.tl.perturbode(adata, n_epoch=3, **FAST)
    with pytest.raises(RuntimeError, match="train"):
        PerturbODE(adata).get_grn()


# -- metrics --------------------------------------------------------------------------------


def test_precision_recall_at_k_direction_and_k():
    genes = ["a", "b", "c", "d"]
    ref = pd.DataFrame({"source": ["a", "b", "a"], "target": ["b", "c", "a"]})  # self-loop dropped
    w = np.zeros((4, 4))
    w[1, 0] = 5.0  # reversed edge b -> a: a miss
    w[0, 1] = 1.0
    w[1, 2] = 0.5
    w[3, 3] = 9.0  # self-pair: never a candidate
    res = precision_recall_at_k(w, ref, var_names=genes)
    assert res["k"] == 2 and res["n_true"] == 2 and res["n_candidates"] == 12
    assert res["hits"] == 1 and res["precision"] == 0.5 and res["recall"] == 0.5
    res3 = precision_recall_at_k(w, ref, var_names=genes, k=3)
    assert res3["hits"] == 2 and res3["recall"] == 1.0
    with pytest.raises(ValueError, match="k="):
        precision_recall_at_k(w, ref, var_names=genes, k=0)


def test_distribution_distances():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 6)), rng.normal(size=(300, 6))
    assert energy_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert energy_distance(a, b) < energy_distance(a, b + 0.5) < energy_distance(a, b + 1.0)
    assert energy_distance(a, b * 2) > energy_distance(a, b)  # spread matters, not only mean
    assert sinkhorn_w2(a, a) == pytest.approx(0.0, abs=1e-6)
    s0, s1 = sinkhorn_w2(a, b), sinkhorn_w2(a, b + 1.0)
    assert s0 < s1 and 0.8 < s1 - s0 < 1.2  # a unit shift per gene adds about 1
    with pytest.raises(ValueError, match="same number of genes"):
        energy_distance(a, b[:, :3])


def test_mosaic_knockout(screen):
    adata, _ = screen
    model = PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16, knockout_mode="mosaic")
    model.train(show_progress_bar=False)
    g = model.trained_genes[0]
    i = list(adata.var_names).index(g)
    pred = model.predict(g, n_obs=400)
    rho = float(model.get_parameters().loc[g, "knockout_level"])
    ctrl = adata.X[adata.obs["perturbation"] == "control"]
    # the gene is 0 in a fraction 1 - rho of the cells and untouched in the others
    zero = (pred.X[:, i] == 0).mean()
    assert abs(zero - (1 - rho)) < 0.08
    kept = pred.X[pred.X[:, i] > 0, i]
    assert kept.min() >= ctrl[:, i].min() - 1e-5
    with pytest.raises(ValueError, match="knockout_mode"):
        PerturbODE(adata, knockout_mode="partial")
