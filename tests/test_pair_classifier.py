"""Supervised time-series pair classifiers (scgrn.models.PairClassifier, scgrn.tl.pair_classifier)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import scgrn
from scgrn.models import PairClassifier, PairClassifierConfig
from scgrn.models._pair_classifier import (
    _as_network,
    _epoch_batches,
    balanced_sample,
    normalize_series,
    pair_labels,
)
from scgrn.tl._pair_classifier import reference_adjacency
from scgrn.tl._timeseries import series_tensor

N_GENES = 20


def _planted(seed: int, n_genes: int = N_GENES):
    adata, net = scgrn.datasets.planted_time_series(
        n_genes=n_genes, n_series=10, weight_range=(3.0, 6.0), random_state=seed
    )
    return adata, net


def _arrays(seed: int, n_genes: int = N_GENES):
    adata, net = _planted(seed, n_genes)
    return series_tensor(adata).x, reference_adjacency(net, adata.var_names)


@pytest.fixture(scope="module")
def train_arrays():
    return [_arrays(s) for s in (1, 2, 3, 4)]


@pytest.fixture(scope="module")
def test_arrays():
    return [_arrays(s) for s in (100, 200)]


def _auroc(truth, scores):
    off = ~np.eye(truth.shape[0], dtype=bool)
    return roc_auc_score(truth[off], scores[off])


# -- labels and sampling ------------------------------------------------------------------------
def test_pair_labels_reverse_and_indirect_are_negative_and_no_self_pairs():
    # 0 -> 1 -> 2 (a cascade: 0 -> 2 is indirect), and 3 <-> 4 (a genuine two-way edge)
    A = np.zeros((5, 5), bool)
    A[0, 1] = A[1, 2] = A[3, 4] = A[4, 3] = True
    reg, tgt, y = pair_labels(A)
    assert len(y) == 5 * 4
    assert not (reg == tgt).any()
    lab = {(int(r), int(t)): int(v) for r, t, v in zip(reg, tgt, y)}
    assert lab[(0, 1)] == 1 and lab[(1, 2)] == 1
    assert lab[(1, 0)] == 0  # reverse direction
    assert lab[(0, 2)] == 0  # indirect / feed-forward
    assert lab[(3, 4)] == 1 and lab[(4, 3)] == 1
    assert sum(lab.values()) == 4
    with pytest.raises(ValueError, match="square"):
        pair_labels(np.zeros((2, 3)))


def test_balanced_sample_counts_and_ratio():
    rng = np.random.default_rng(0)
    y = (rng.random(1000) < 0.05).astype(int)
    idx = balanced_sample(y, rng=0)
    assert len(np.unique(idx)) == len(idx)
    assert y[idx].sum() == y.sum()  # every positive kept
    assert (y[idx] == 0).sum() == y.sum()  # as many negatives
    idx2 = balanced_sample(y, neg_ratio=2.0, rng=0)
    assert (y[idx2] == 0).sum() == 2 * y.sum()
    # fewer negatives than asked: all of them
    y_small = np.array([1, 1, 1, 0])
    assert sorted(balanced_sample(y_small, rng=0).tolist()) == [0, 1, 2, 3]


@pytest.mark.parametrize("negatives", ["random", "matched", "mixed"])
@pytest.mark.parametrize("combine", ["pool", "average"])
def test_epochs_are_balanced_and_matched_negatives_share_a_gene(negatives, combine):
    x, A = _arrays(1)
    net = _as_network(x, A, "gene")
    batches = _epoch_batches([net], np.array([0]), combine=combine, negatives=negatives,
                             neg_ratio=1.0, batch_size=32, rng=np.random.default_rng(0))
    a = np.concatenate([b[0] for b in batches])
    b = np.concatenate([b[1] for b in batches])
    y = np.concatenate([b[2] for b in batches])
    n_pos = int(A.sum()) * (1 if combine == "pool" else x.shape[0])
    assert y.sum() == n_pos and (y == 0).sum() == n_pos
    n_series = x.shape[0] if combine == "pool" else 1
    assert a.shape == (2 * n_pos, n_series)
    g = N_GENES
    reg, tgt = a[:, 0] % g, b[:, 0] % g
    assert (a // g == b // g).all()  # both courses from the same series
    assert (reg != tgt).all()
    assert (A[reg, tgt] == (y == 1)).all()  # labels agree with the adjacency
    if negatives == "matched":
        neg = y == 0
        regulators, targets = set(np.flatnonzero(A.any(1))), set(np.flatnonzero(A.any(0)))
        shares = [(r in regulators) or (t in targets) for r, t in zip(reg[neg], tgt[neg])]
        assert all(shares)


def test_normalize_series_modes():
    x = np.random.default_rng(0).random((3, 7, 4)) * 5
    z = normalize_series(x, "gene").reshape(-1, 4)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-4)
    s = normalize_series(x, "series")
    np.testing.assert_allclose(s.mean(1), 0, atol=1e-5)
    mm = normalize_series(x, "minmax").reshape(-1, 4)
    assert mm.min() == 0 and np.isclose(mm.max(), 1)
    with pytest.raises(ValueError, match="normalize"):
        normalize_series(x, "nope")


def test_reference_adjacency_orientation_and_unknown_genes():
    ref = pd.DataFrame({"Gene1": ["a", "a", "x"], "Gene2": ["b", "a", "b"]})
    with pytest.warns(UserWarning, match="not in the data"):
        A = reference_adjacency(ref, ["a", "b"])
    assert A.tolist() == [[False, True], [False, False]]  # row = regulator, self-loop dropped
    with pytest.raises(ValueError, match="source"):
        reference_adjacency(pd.DataFrame({"u": ["a"], "v": ["b"]}), ["a", "b"])


# -- learning -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arch", "kwargs", "threshold"),
    [
        ("cnn", {"n_epochs": 30}, 0.62),
        ("lstm", {"n_epochs": 30}, 0.57),
        ("ae", {"n_epochs": 30, "ae_epochs": 100, "grid_search": False}, 0.58),
    ],
)
def test_planted_network_is_learned_above_chance(train_arrays, test_arrays, arch, kwargs, threshold):
    clf = PairClassifier(arch, n_models=1, random_state=0, **kwargs).train(train_arrays, show_progress_bar=False)
    scores = [_auroc(A, clf.predict(x)) for x, A in test_arrays]
    assert np.mean(scores) > threshold, scores
    P = clf.predict(test_arrays[0][0])
    assert P.dtype == np.float32 and P.shape == (N_GENES, N_GENES)
    assert (np.diag(P) == 0).all() and ((P >= 0) & (P <= 1)).all()


def test_grid_search_records_every_setting(train_arrays):
    clf = PairClassifier(
        "ae", n_models=1, ae_epochs=20, grid={"batch_size": [64], "n_epochs": [2, 4], "optimizer": ["adam", "rmsprop"]}
    ).train(train_arrays[:2], show_progress_bar=False)
    assert len(clf.grid_results) == 4
    assert {"batch_size", "n_epochs", "optimizer", "val_average_precision"} <= set(clf.grid_results[0])
    best = max(clf.grid_results, key=lambda r: r["val_average_precision"])
    assert clf.chosen["n_epochs"] == best["n_epochs"] and clf.chosen["optimizer"] == best["optimizer"]
    # a single training network: validation on held-out pairs
    one = PairClassifier("ae", n_models=1, ae_epochs=5, grid={"n_epochs": [1, 2]}).train(
        train_arrays[:1], show_progress_bar=False
    )
    assert len(one.grid_results) == 2


@pytest.mark.parametrize("arch", ["lstm", "cnn", "ae"])
def test_save_load_roundtrip(tmp_path, train_arrays, arch):
    clf = PairClassifier(arch, n_models=2, n_epochs=2, ae_epochs=5, grid={"n_epochs": [1]}).train(
        train_arrays[:2], show_progress_bar=False
    )
    clf.save(tmp_path / "m")
    with pytest.raises(FileExistsError):
        clf.save(tmp_path / "m")
    loaded = PairClassifier.load(tmp_path / "m", device="cpu")
    x = train_arrays[2][0]
    np.testing.assert_array_equal(loaded.predict(x), clf.predict(x))
    assert loaded.config == clf.config and loaded.history == clf.history
    with pytest.raises(FileNotFoundError):
        PairClassifier.load(tmp_path / "missing")


def test_same_seed_same_model(train_arrays):
    x = train_arrays[2][0]
    p1 = PairClassifier("lstm", n_models=1, n_epochs=2, random_state=3).train(train_arrays[:2], show_progress_bar=False).predict(x)
    p2 = PairClassifier("lstm", n_models=1, n_epochs=2, random_state=3).train(train_arrays[:2], show_progress_bar=False).predict(x)
    p3 = PairClassifier("lstm", n_models=1, n_epochs=2, random_state=4).train(train_arrays[:2], show_progress_bar=False).predict(x)
    np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(p1, p3)


def test_config_and_input_errors(train_arrays):
    with pytest.raises(ValueError, match="arch"):
        PairClassifierConfig(arch="gru")
    with pytest.raises(ValueError, match="combine"):
        PairClassifierConfig(combine="concat")
    with pytest.raises(ValueError, match="n_epochs"):
        PairClassifierConfig(n_epochs=0)
    with pytest.raises(RuntimeError, match="train"):
        PairClassifier().predict(train_arrays[0][0])
    x, A = train_arrays[0]
    with pytest.raises(ValueError, match="adjacency"):
        PairClassifier(n_epochs=1).train([(x, A[:-1, :-1])], show_progress_bar=False)
    with pytest.raises(ValueError, match="no true edge"):
        PairClassifier(n_epochs=1).train([(x, np.zeros_like(A))], show_progress_bar=False)
    clf = PairClassifier("cnn", n_epochs=1, n_models=1).train([(x, A)], show_progress_bar=False)
    with pytest.raises(ValueError, match="time points"):
        clf.predict(x[:, :10])


# -- the tool -----------------------------------------------------------------------------------
def test_tool_writes_documented_keys_and_h5ad_roundtrip(tmp_path):
    train = [_planted(1, 12), _planted(2, 12)]
    adata, truth = _planted(0, 12)
    X_before = adata.X.copy()
    out = scgrn.tl.pair_classifier(adata, train=train, arch="ae", n_models=1, ae_epochs=5,
                                   grid={"n_epochs": [1, 2]}, show_progress_bar=False, copy=True)
    assert "pair_ae" not in adata.varp and out is not None
    np.testing.assert_array_equal(adata.X, X_before)
    G = out.varp["pair_ae"]
    assert G.dtype == np.float32 and G.shape == (12, 12) and (np.diag(G) == 0).all()
    rec = out.uns["pair_ae"]
    assert rec["method"] == "pair_classifier" and rec["arch"] == "ae"
    assert rec["params"]["random_state"] == 0 and rec["params"]["series_key"] == "series"
    assert len(rec["grid_search"]["val_average_precision"]) == 2
    out.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad")
    np.testing.assert_array_equal(back.varp["pair_ae"], G)
    assert back.uns["pair_ae"]["arch"] == "ae"

    # a trained model is reused as is; custom key
    model = PairClassifier("cnn", n_epochs=1, n_models=1).train(
        [(series_tensor(a).x, reference_adjacency(r, a.var_names)) for a, r in train], show_progress_bar=False
    )
    assert scgrn.tl.pair_classifier(adata, train=model, key_added="mine") is None
    np.testing.assert_array_equal(adata.varp["mine"], model.predict(series_tensor(adata).x))
    assert adata.uns["mine"]["arch"] == "cnn"


def test_tool_errors():
    adata, _ = _planted(0, 8)
    train = [_planted(1, 8)]
    with pytest.raises(ValueError, match="arch"):
        scgrn.tl.pair_classifier(adata, train=train, arch="gru")
    with pytest.raises(TypeError, match="list of"):
        scgrn.tl.pair_classifier(adata, train=[adata])
    with pytest.raises(ValueError, match="obs\\['when'\\]"):
        scgrn.tl.pair_classifier(adata, train=train, time_key="when")
    short = adata[adata.obs["time"] < 5].copy()
    with pytest.raises(ValueError, match="time points"):
        scgrn.tl.pair_classifier(short, train=train, n_epochs=1)
    ref = pd.DataFrame({"source": ["nope"], "target": ["g1"]})
    with pytest.raises(ValueError, match="no edge"), pytest.warns(UserWarning):
        scgrn.tl.pair_classifier(adata, train=[(train[0][0], ref)], n_epochs=1)
