"""Supervised gene-pair classifiers on time series (no AnnData here).

Haque, Kondaveeti & Schmittling, "Using Neural Networks to Identify Gene Regulatory
Relationships": learn, from networks whose edges are known, which ordered gene pairs
``(regulator, target)`` are direct causal edges, using the two genes' time courses; then
score every ordered pair of a new network. Three architectures, all with a sigmoid output:

``"lstm"``
    The ``T x 2`` sequence (regulator, target) into an LSTM layer, dropout 0.2, a dense
    sigmoid unit; Adam with learning rate 0.01 (the paper's settings).
``"cnn"``
    The pair as a one-channel ``2 x T`` image into a LeNet-5-style network (two
    convolution + average-pooling stages with 6 and 16 maps, dense 120 -> 84 -> 1).
``"ae"``
    An autoencoder compresses every gene's time course to a ``latent_dim``-vector (3 in the
    paper); a two-branch network (one branch per gene of the pair, concatenated, then three
    dense layers) classifies the pair. Batch size, epochs and optimiser are chosen by a
    small grid search with inner leave-one-network-out validation on the training networks.

Data layout: a network's expression is an array ``x[series, time, gene]`` (a DREAM4 network
has 10 series of 21 time points) and its truth an adjacency matrix ``A[regulator, target]``.

How the series of a pair are combined (``combine=``; the default depends on the
architecture, see :data:`ARCH_DEFAULTS`):

``"average"`` (LSTM, AE + NN)
    As in the paper, every (series, ordered pair) is one training sample: the model sees one
    series' two time courses at a time. At prediction the pair's probability is averaged
    over its series (``aggregate="mean"``; ``"max"`` is the alternative).
``"pool"`` (CNN)
    A sample is an ordered pair with all its series: the per-series network runs on each
    series and its representation (the 120-unit layer of the LeNet) is averaged over the
    series before the output layers, so that the model can weigh evidence across series
    (in DREAM4 a regulator moves only in the series that perturb it). Any number of series
    works. With one series this is exactly the single-series model.

Labels: 1 for a direct edge ``i -> j``, 0 otherwise (the reverse direction and indirect /
feed-forward pairs are 0); self-pairs are never used. Training epochs are balanced: all
positives plus ``neg_ratio`` (1) times as many negatives, redrawn every epoch so that all
negatives get used over the epochs. By default (``negatives="matched"``) each negative
shares its regulator or its target with a positive: with uniformly drawn negatives the
networks learn mostly "does this course look like a regulator's" from the few regulators
of the training networks, which does not transfer to a new network (measured on DREAM4).
An ensemble of ``n_models`` (5) independently seeded classifiers is averaged.

Normalisation (per network, before anything else; ``normalize=``):
``"gene"`` (default) z-scores each gene over all series and time points of its network, so
a course keeps its level and amplitude relative to the gene's overall behaviour (in DREAM4
the perturbed series stand out); ``"series"`` z-scores each (series, gene) course on its own
(shape only; the standard deviation is floored at 0.1 x the gene's overall one so that flat
courses are not blown up into noise); ``"minmax"`` maps each gene to ``[0, 1]`` over its
network; ``"none"`` uses the values as given.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .. import __version__
from .._settings import resolve_device, resolve_progress_bar

__all__ = [
    "PairClassifier",
    "PairClassifierConfig",
    "pair_labels",
    "balanced_sample",
    "normalize_series",
    "ARCHS",
]

ARCHS = ("lstm", "cnn", "ae")
NORMALIZATIONS = ("gene", "series", "minmax", "none")
AGGREGATES = ("mean", "max")
COMBINES = ("pool", "average")
NEGATIVES = ("random", "matched", "mixed")
OPTIMIZERS = ("adam", "rmsprop", "sgd")

#: Per-architecture defaults, applied where the config leaves a field at ``None``.
ARCH_DEFAULTS = {
    "lstm": {"lr": 0.01, "n_epochs": 30, "batch_size": 128, "optimizer": "adam", "combine": "average"},
    "cnn": {"lr": 1e-3, "n_epochs": 100, "batch_size": 128, "optimizer": "adam", "combine": "pool"},
    "ae": {"lr": 1e-3, "n_epochs": 60, "batch_size": 128, "optimizer": "adam", "combine": "average"},
}

#: The AE classifier's grid (batch size x epochs x optimiser), searched when ``grid_search``.
AE_GRID = {"batch_size": [64, 256], "n_epochs": [20, 60], "optimizer": ["adam", "rmsprop"]}


@dataclass
class PairClassifierConfig:
    """Hyperparameters of a :class:`PairClassifier`.

    Attributes
    ----------
    arch
        ``"lstm"``, ``"cnn"`` or ``"ae"``.
    normalize
        ``"gene"``, ``"series"``, ``"minmax"`` or ``"none"`` (see the module docstring).
    n_epochs, batch_size, lr, optimizer
        Training of the classifier; ``None`` takes the architecture's default
        (:data:`ARCH_DEFAULTS`; LSTM: Adam, lr 0.01, as in the paper). For ``"ae"`` with
        ``grid_search`` the grid decides ``n_epochs``, ``batch_size`` and ``optimizer``.
    hidden_dim
        LSTM units, and the width of the AE's hidden layers.
    dropout
        Dropout after the LSTM layer (0.2 in the paper) and in the dense heads.
    latent_dim
        Size of the AE's latent vector per time course (3 in the paper).
    ae_epochs, ae_lr
        Training of the autoencoder (MSE reconstruction, Adam, batches of 256).
    neg_ratio
        Negatives per positive in each epoch (1: balanced).
    negatives
        How negatives are drawn: ``"random"`` (uniformly among all non-edges),
        ``"matched"`` (pairs that share the regulator or the target of a positive, so that
        single-gene features cannot separate the classes) or ``"mixed"`` (half each).
    resample_negatives
        Redraw the negatives every epoch (else one draw for the whole training).
    combine
        How the series of a pair are combined: ``"pool"`` (a sample is a pair with all its
        series; the per-series representation is averaged inside the network before the
        output layers) or ``"average"`` (a sample is one series of a pair, as in the paper;
        at prediction the per-series probabilities are aggregated, see ``aggregate``).
        ``None``: the architecture's default (CNN ``"pool"``, LSTM and AE ``"average"``).
    aggregate
        ``combine="average"`` only: ``"mean"`` or ``"max"`` of the per-series probabilities.
    augment
        Label-preserving augmentation in training: each sample's regulator and target
        courses are negated at random, independently (the label says whether ``i``
        regulates ``j``, not with which sign, so an activator mirrored is a repressor and
        still an edge). Time is never reversed (that would flip the direction).
    grid_search
        ``"ae"`` only: choose batch size, epochs and optimiser on :data:`AE_GRID` by inner
        leave-one-network-out validation (average precision over all ordered pairs of the
        held-out training network; a random 25 % of the pairs if only one network is given).
    n_models
        Ensemble members: independently seeded classifiers (on the same autoencoder for
        ``"ae"``) whose probabilities are averaged. Trained one after the other.
    weight_decay
        L2 penalty of the classifier's optimiser.
    clip_grad
        Gradient-norm clipping of the classifier (0: none).

    Examples
    --------
    >>> from scgrn.models import PairClassifierConfig
    >>> cfg = PairClassifierConfig(arch="cnn", n_models=2)
    >>> cfg.arch, cfg.n_models, cfg.negatives
    ('cnn', 2, 'matched')
    >>> PairClassifierConfig(arch="gru")
    Traceback (most recent call last):
    ...
    ValueError: arch='gru' is not one of ('lstm', 'cnn', 'ae').
    """

    arch: str = "lstm"
    normalize: str = "gene"
    n_epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    hidden_dim: int = 32
    dropout: float = 0.2
    latent_dim: int = 3
    ae_epochs: int = 300
    ae_lr: float = 1e-3
    neg_ratio: float = 1.0
    negatives: str = "matched"
    resample_negatives: bool = True
    combine: str | None = None
    aggregate: str = "mean"
    augment: bool = True
    grid_search: bool = True
    n_models: int = 5
    weight_decay: float = 0.0
    clip_grad: float = 1.0
    grid: dict = field(default_factory=lambda: {k: list(v) for k, v in AE_GRID.items()})

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch={self.arch!r} is not one of {ARCHS}.")
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize={self.normalize!r} is not one of {NORMALIZATIONS}.")
        if self.negatives not in NEGATIVES:
            raise ValueError(f"negatives={self.negatives!r} is not one of {NEGATIVES}.")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate={self.aggregate!r} is not one of {AGGREGATES}.")
        defaults = ARCH_DEFAULTS[self.arch]
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.combine not in COMBINES:
            raise ValueError(f"combine={self.combine!r} is not one of {COMBINES}.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r} is not one of {OPTIMIZERS}.")
        for name in ("n_epochs", "batch_size", "hidden_dim", "latent_dim", "ae_epochs", "n_models"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}={v!r} must be a positive integer.")
        if not (self.lr > 0 and self.ae_lr > 0):
            raise ValueError("lr and ae_lr must be positive.")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout={self.dropout!r} must be in [0, 1).")
        if not self.neg_ratio > 0:
            raise ValueError(f"neg_ratio={self.neg_ratio!r} must be positive.")
        unknown = set(self.grid) - {"batch_size", "n_epochs", "optimizer", "lr"}
        if unknown:
            raise ValueError(f"grid has unknown keys {sorted(unknown)}; use batch_size, n_epochs, optimizer, lr.")

    def to_dict(self) -> dict:
        """All fields (h5ad-writable; the grid as lists)."""
        d = asdict(self)
        d["grid"] = {k: list(v) for k, v in self.grid.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PairClassifierConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# --------------------------------------------------------------------------------------------
# labels, sampling, normalisation (numpy, vectorised)
# --------------------------------------------------------------------------------------------
def pair_labels(adjacency: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ordered pairs ``(i, j)``, ``i != j``, of a network and their labels.

    Parameters
    ----------
    adjacency
        ``(n, n)`` boolean (or 0/1) matrix, ``adjacency[i, j]`` true for a direct edge
        regulator ``i`` -> target ``j``.

    Returns
    -------
    regulators, targets, labels
        Three arrays of length ``n (n - 1)`` in row-major order; ``labels`` is 1 exactly where
        ``adjacency`` is (so the reverse of an edge is 0 unless it is an edge itself, and an
        indirect or feed-forward pair is 0). Self-pairs are excluded.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.zeros((3, 3), bool); A[0, 1] = True
    >>> reg, tgt, y = pair_labels(A)
    >>> [(int(r), int(t), int(l)) for r, t, l in zip(reg, tgt, y)]
    [(0, 1, 1), (0, 2, 0), (1, 0, 0), (1, 2, 0), (2, 0, 0), (2, 1, 0)]
    """
    a = np.asarray(adjacency)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"adjacency must be a square (n, n) matrix, got shape {a.shape}.")
    n = a.shape[0]
    reg, tgt = np.nonzero(~np.eye(n, dtype=bool))
    return reg, tgt, (a[reg, tgt] != 0).astype(np.int8)


def balanced_sample(
    labels: np.ndarray, *, neg_ratio: float = 1.0, rng: np.random.Generator | int | None = 0
) -> np.ndarray:
    """Indices of all positives plus ``neg_ratio`` times as many random negatives.

    Negatives are drawn without replacement (all of them if there are fewer than asked).
    The result is shuffled.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    >>> idx = balanced_sample(y, rng=0)
    >>> len(idx), int(y[idx].sum())
    (4, 2)
    """
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    y = np.asarray(labels)
    pos = np.flatnonzero(y == 1)
    neg = np.flatnonzero(y != 1)
    k = min(neg.size, int(round(neg_ratio * pos.size)))
    picked = rng.choice(neg, size=k, replace=False) if k else neg[:0]
    out = np.concatenate([pos, picked])
    return out[rng.permutation(out.size)]


def normalize_series(x: np.ndarray, how: str = "gene") -> np.ndarray:
    """Normalise one network's ``x[series, time, gene]`` (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((2, 5, 3))
    >>> z = normalize_series(x, "gene")
    >>> np.allclose(z.reshape(-1, 3).mean(0), 0, atol=1e-6)
    True
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"x must be (series, time, gene), got shape {x.shape}.")
    if how == "none":
        out = x
    elif how == "gene":
        mu = x.mean(axis=(0, 1), keepdims=True)
        sd = x.std(axis=(0, 1), keepdims=True)
        out = (x - mu) / np.where(sd > 0, sd, 1.0)
    elif how == "series":
        sd_gene = x.std(axis=(0, 1), keepdims=True)
        mu = x.mean(axis=1, keepdims=True)
        sd = np.maximum(x.std(axis=1, keepdims=True), 0.1 * sd_gene)
        out = (x - mu) / np.where(sd > 0, sd, 1.0)
    elif how == "minmax":
        lo = x.min(axis=(0, 1), keepdims=True)
        hi = x.max(axis=(0, 1), keepdims=True)
        out = (x - lo) / np.where(hi > lo, hi - lo, 1.0)
    else:
        raise ValueError(f"normalize={how!r} is not one of {NORMALIZATIONS}.")
    return out.astype(np.float32)


# --------------------------------------------------------------------------------------------
# torch modules
# --------------------------------------------------------------------------------------------
class LSTMPair(nn.Module):
    """Each series' ``(T, 2)`` sequence -> LSTM (last state) -> mean over series -> dropout -> logit.

    Inputs ``a``, ``b``: ``(B, S, T)`` courses of the regulator and of the target in ``S``
    series (``S = 1``: the paper's single-sequence model).
    """

    def __init__(self, hidden_dim: int = 32, dropout: float = 0.2):
        super().__init__()
        self.lstm = nn.LSTM(2, hidden_dim, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_dim, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        n, s, t = a.shape
        _, (h, _) = self.lstm(torch.stack([a, b], dim=-1).reshape(n * s, t, 2))
        h = h[-1].reshape(n, s, -1).mean(1)
        return self.out(self.dropout(h)).squeeze(-1)


class LeNetPair(nn.Module):
    """LeNet-5 on a one-channel ``2 x T`` image per series: conv(6) -> pool -> conv(16) -> pool
    -> 120 -> (mean over series) -> 84 -> 1.

    The first convolution (kernel ``2 x 5``, padding 1 row / 2 columns) sees both genes at
    once; each average pooling halves the time axis.
    """

    def __init__(self, n_times: int, dropout: float = 0.2):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=(2, 5), padding=(1, 2)),  # -> 6 x 3 x T
            nn.ReLU(),
            nn.AvgPool2d((1, 2)),  # -> 6 x 3 x T//2
            nn.Conv2d(6, 16, kernel_size=(2, 5), padding=(0, 2)),  # -> 16 x 2 x T//2
            nn.ReLU(),
            nn.AvgPool2d((1, 2)),  # -> 16 x 2 x T//4
            nn.Flatten(),
        )
        width = max(1, (n_times // 2) // 2)
        self.fc = nn.Sequential(nn.Linear(16 * 2 * width, 120), nn.ReLU())
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 1)
        )

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        n, s, t = a.shape
        img = torch.stack([a, b], dim=2).reshape(n * s, 1, 2, t)
        h = self.fc(self.features(img)).reshape(n, s, -1).mean(1)
        return self.head(h).squeeze(-1)


class CourseAutoencoder(nn.Module):
    """Time course ``T`` -> hidden -> ``latent_dim`` -> hidden -> ``T``."""

    def __init__(self, n_times: int, hidden_dim: int = 32, latent_dim: int = 3):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_times, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, n_times)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class TwoBranchPair(nn.Module):
    """Latent of the regulator and of the target through separate branches, concatenated,
    (mean over series), then three dense layers (the last one the logit)."""

    def __init__(self, latent_dim: int = 3, hidden_dim: int = 32, dropout: float = 0.2):
        super().__init__()

        def branch():
            return nn.Sequential(
                nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim), nn.ReLU()
            )

        self.branch_a = branch()
        self.branch_b = branch()
        self.head = nn.Sequential(
            nn.Linear(2 * hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim // 2),
            nn.ReLU(),
            nn.Linear(hidden_dim // 2, 1),
        )

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self.branch_a(a), self.branch_b(b)], dim=-1).mean(1)  # (B, S, 2H) -> (B, 2H)
        return self.head(h).squeeze(-1)


# --------------------------------------------------------------------------------------------
# training helpers
# --------------------------------------------------------------------------------------------
@dataclass
class _Network:
    """One normalised network: its courses ``(S * G, T)`` and pair labels."""

    courses: np.ndarray  # (S*G, T) float32, course id = s * G + g
    n_series: int
    n_genes: int
    reg: np.ndarray
    tgt: np.ndarray
    y: np.ndarray
    #: for a network restricted to some of its pairs: full pair index -> position (-1: absent)
    pair_pos: np.ndarray | None = None

    def subset(self, keep: np.ndarray) -> "_Network":
        """The same network restricted to the pairs where ``keep`` is true."""
        pos = np.full(self.reg.size, -1, dtype=np.int64)
        pos[keep] = np.arange(int(keep.sum()))
        return _Network(self.courses, self.n_series, self.n_genes, self.reg[keep], self.tgt[keep], self.y[keep], pos)


def _as_network(x: np.ndarray, adjacency: np.ndarray | None, normalize: str) -> _Network:
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"Expression must be an array (series, time, gene); got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError("Expression contains NaN or infinite values.")
    s, t, g = x.shape
    if g < 2:
        raise ValueError(f"A network needs at least 2 genes; got {g}.")
    xn = normalize_series(x, normalize)
    courses = np.ascontiguousarray(xn.transpose(0, 2, 1).reshape(s * g, t))
    if adjacency is None:
        reg, tgt = np.nonzero(~np.eye(g, dtype=bool))
        y = np.zeros(reg.size, dtype=np.int8)
    else:
        adjacency = np.asarray(adjacency)
        if adjacency.shape != (g, g):
            raise ValueError(
                f"The adjacency matrix is {adjacency.shape} but the expression has {g} genes; "
                "it must be (n_genes, n_genes), row = regulator, column = target."
            )
        reg, tgt, y = pair_labels(adjacency)
    return _Network(courses, s, g, reg, tgt, y)


def _course_ids(net: _Network, offset: int, pairs: np.ndarray, series: np.ndarray | None):
    """Course ids ``(n, S')`` of the regulator and the target of ``pairs``.

    ``series=None``: all series of each pair (``S' = S``, combine="pool"); else one given
    series per sample (``S' = 1``, combine="average").
    """
    if series is None:
        s = np.arange(net.n_series)[None, :] * net.n_genes
    else:
        s = (np.asarray(series) * net.n_genes)[:, None]
    a = offset + s + net.reg[pairs][:, None]
    b = offset + s + net.tgt[pairs][:, None]
    return a, b


def _pair_index(i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    """Position of the ordered pair ``(i, j)``, ``i != j``, in the row-major order of :func:`pair_labels`."""
    return i * (n - 1) + np.where(j < i, j, j - 1)


def _matched_negatives(net: _Network, pos: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` negative pairs that share a gene with a positive: ``(i, j')`` (same regulator) or
    ``(i', j)`` (same target), half each, drawn by vectorised rejection sampling."""
    n = net.n_genes
    adj = np.zeros((n, n), dtype=bool)
    adj[net.reg[net.y == 1], net.tgt[net.y == 1]] = True
    src = pos[rng.integers(0, pos.size, size=k)]
    i, j = net.reg[src].copy(), net.tgt[src].copy()
    same_reg = rng.random(k) < 0.5
    todo = np.ones(k, dtype=bool)
    ni, nj = i.copy(), j.copy()
    for _ in range(50):
        m = int(todo.sum())
        if m == 0:
            break
        cand = rng.integers(0, n, size=m)
        ci = np.where(same_reg[todo], i[todo], cand)
        cj = np.where(same_reg[todo], cand, j[todo])
        ok = (ci != cj) & ~adj[ci, cj]
        if net.pair_pos is not None:  # only pairs present in this (restricted) network
            ok &= net.pair_pos[np.where(ok, _pair_index(ci, cj, n), 0)] >= 0
        where = np.flatnonzero(todo)[ok]
        ni[where], nj[where] = ci[ok], cj[ok]
        todo[where] = False
    out = _pair_index(ni, nj, n)
    if net.pair_pos is not None:
        out = net.pair_pos[np.where(todo, 0, out)]
    if todo.any():  # a gene linked to every other one: fall back to random negatives
        neg = np.flatnonzero(net.y == 0)
        out[todo] = neg[rng.integers(0, neg.size, size=int(todo.sum()))]
    return out


def _epoch_batches(
    nets: list[_Network],
    offsets: np.ndarray,
    *,
    combine: str,
    negatives: str,
    neg_ratio: float,
    batch_size: int,
    rng: np.random.Generator,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One balanced epoch as shuffled mini-batches ``(ids_a, ids_b, y)``.

    ``combine="pool"``: a sample is an ordered pair with all its series; all positive pairs
    plus ``neg_ratio`` times as many negative pairs. ``combine="average"``: a sample is one
    (series, pair); all positive (series, pair) combinations plus as many negative ones.
    ``negatives="random"`` draws negatives uniformly (without replacement);
    ``"matched"`` draws half of them among pairs sharing the regulator of a positive and
    half among pairs sharing its target (so that "is this gene a regulator at all" cannot
    separate the classes); ``"mixed"``: half random, half matched. A batch holds samples of
    one network (networks may differ in series).
    """
    batches = []
    for net, off in zip(nets, offsets):
        pos = np.flatnonzero(net.y == 1)
        per = 1 if combine == "pool" else net.n_series
        k = int(round(neg_ratio * pos.size * per))
        if negatives == "random":
            labels = net.y if combine == "pool" else np.tile(net.y, net.n_series)
            idx = balanced_sample(labels, neg_ratio=neg_ratio, rng=rng)
            pairs, series = idx % net.y.size, idx // net.y.size
        else:
            k_matched = k if negatives == "matched" else k // 2
            neg = _matched_negatives(net, pos, k_matched, rng)
            if k - k_matched:
                pool = np.flatnonzero(net.y == 0)
                neg = np.concatenate([neg, rng.choice(pool, size=min(pool.size, k - k_matched), replace=False)])
            pos_all = np.tile(pos, per)
            pairs = np.concatenate([pos_all, neg])
            series = np.concatenate(
                [np.repeat(np.arange(per), pos.size), rng.integers(0, per, size=neg.size)]
            )
            perm = rng.permutation(pairs.size)
            pairs, series = pairs[perm], series[perm]
        a, b = _course_ids(net, int(off), pairs, None if combine == "pool" else series)
        y = net.y[pairs].astype(np.float32)
        for start in range(0, y.size, batch_size):
            sl = slice(start, start + batch_size)
            batches.append((a[sl], b[sl], y[sl]))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def _make_optimizer(name: str, params, lr: float, weight_decay: float):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)


def _train_classifier(
    module: nn.Module,
    inputs: torch.Tensor,
    nets: list[_Network],
    offsets: np.ndarray,
    *,
    combine: str,
    negatives: str,
    n_epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str,
    weight_decay: float,
    clip_grad: float,
    neg_ratio: float,
    resample: bool,
    augment: bool,
    rng: np.random.Generator,
    device: torch.device,
    show_progress_bar: bool,
    desc: str = "epochs",
) -> list[float]:
    """Mini-batch BCE training on balanced epochs; returns the mean loss of every epoch."""
    module.to(device).train()
    opt = _make_optimizer(optimizer, module.parameters(), lr, weight_decay)
    loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
    history = []
    kw = dict(combine=combine, negatives=negatives, neg_ratio=neg_ratio, batch_size=batch_size)
    batches = _epoch_batches(nets, offsets, rng=rng, **kw)
    for epoch in tqdm(range(n_epochs), disable=not show_progress_bar, desc=desc):
        if epoch > 0:
            if resample:
                batches = _epoch_batches(nets, offsets, rng=rng, **kw)
            else:
                batches = [batches[i] for i in rng.permutation(len(batches))]
        total, count = 0.0, 0
        for a, b, y in batches:
            ta = torch.as_tensor(a, device=device)
            tb = torch.as_tensor(b, device=device)
            ty = torch.as_tensor(y, device=device)
            if augment:  # inputs[1] holds the features of the negated courses
                fa = torch.as_tensor(rng.integers(0, 2, size=(y.size, 1)), device=device)
                fb = torch.as_tensor(rng.integers(0, 2, size=(y.size, 1)), device=device)
                xa, xb = inputs[fa, ta], inputs[fb, tb]
            else:
                xa, xb = inputs[0, ta], inputs[0, tb]
            loss = loss_fn(module(xa, xb), ty)
            opt.zero_grad(set_to_none=True)
            (loss / y.size).backward()
            if clip_grad > 0:
                nn.utils.clip_grad_norm_(module.parameters(), clip_grad)
            opt.step()
            total += float(loss.detach())
            count += y.size
        history.append(total / max(count, 1))
    module.eval()
    return history


@torch.no_grad()
def _predict_network(
    modules,
    inputs: torch.Tensor,
    net: _Network,
    *,
    combine: str,
    aggregate: str,
    batch: int = 2048,
) -> np.ndarray:
    """Probability of each pair of ``net`` (order of ``net.reg`` / ``net.tgt``).

    All course ids are built at once with numpy indexing; pairs are scored in large
    batches. ``modules`` is one classifier or an ensemble (iterable) whose probabilities
    are averaged. ``combine="average"`` scores each series separately and aggregates the
    probabilities over series (mean or max).
    """
    modules = list(modules) if isinstance(modules, nn.ModuleList) else [modules]
    for module in modules:
        module.eval()
    inputs = inputs[0]
    pairs = np.arange(net.reg.size)
    a, b = _course_ids(net, 0, pairs, None)  # (P, S)
    ta = torch.as_tensor(a, device=inputs.device)
    tb = torch.as_tensor(b, device=inputs.device)
    if combine != "pool":
        ta, tb = ta.reshape(-1, 1), tb.reshape(-1, 1)  # every (pair, series) on its own
        batch *= 8
    probs = torch.zeros(ta.shape[0], device=inputs.device)
    for start in range(0, ta.shape[0], batch):
        sl = slice(start, start + batch)
        xa, xb = inputs[ta[sl]], inputs[tb[sl]]
        for module in modules:
            probs[sl] += torch.sigmoid(module(xa, xb))
    probs /= len(modules)
    if combine != "pool":
        probs = probs.reshape(pairs.size, net.n_series)
        probs = probs.mean(1) if aggregate == "mean" else probs.max(1).values
    return probs.cpu().numpy().astype(np.float32)


def _average_precision(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, s)) if y.any() else float("nan")


# --------------------------------------------------------------------------------------------
# the model class
# --------------------------------------------------------------------------------------------
class PairClassifier:
    """A supervised regulator -> target pair classifier on time series (LSTM, CNN or AE + NN).

    Trained on networks with known edges (:meth:`fit`), it scores every ordered gene pair of
    another network (:meth:`predict`). Works on arrays ``x[series, time, gene]``; use
    :func:`scgrn.tl.pair_classifier` for AnnData.

    Parameters
    ----------
    arch
        ``"lstm"``, ``"cnn"`` or ``"ae"`` (see :mod:`scgrn.models._pair_classifier`).
    random_state
        Seed of initialisation, negative sampling and dropout; the same seed gives the same
        model on CPU.
    device
        ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.
    **hyperparameters
        Any field of :class:`PairClassifierConfig`.

    Examples
    --------
    >>> import numpy as np
    >>> from scgrn.models import PairClassifier
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((3, 21, 6)).astype("float32")      # 3 series, 21 times, 6 genes
    >>> A = np.zeros((6, 6), bool); A[0, 1] = A[2, 3] = True
    >>> clf = PairClassifier("cnn", n_epochs=2, n_models=1).fit([(x, A)], show_progress_bar=False)
    >>> clf.predict(x).shape
    (6, 6)
    """

    def __init__(self, arch: str = "lstm", *, random_state: int = 0, device="auto", **hyperparameters):
        self.config = PairClassifierConfig(arch=arch, **hyperparameters)
        self.random_state = int(random_state)
        self.device = resolve_device(device)
        self.module: nn.Module | None = None
        self.autoencoder: CourseAutoencoder | None = None
        self.n_times: int | None = None
        self.history: dict[str, list[float]] = {}
        self.grid_results: list[dict] = []
        self.chosen: dict = {}
        self.fit_seconds: float = float("nan")
        self.fit_cpu_seconds: float = float("nan")
        self.n_train_networks: int = 0

    # -- building blocks -------------------------------------------------------------------
    def _new_module(self) -> nn.Module:
        c = self.config
        if c.arch == "lstm":
            return LSTMPair(c.hidden_dim, c.dropout)
        if c.arch == "cnn":
            return LeNetPair(self.n_times, c.dropout)
        return TwoBranchPair(c.latent_dim, c.hidden_dim, c.dropout)

    def _inputs(self, courses: np.ndarray) -> torch.Tensor:
        """What the classifier indexes into, ``(2, n_courses, d)``: the courses (or their AE
        latents) and those of the negated courses (for the sign-flip augmentation)."""
        t = torch.as_tensor(courses, device=self.device)
        t = torch.stack([t, -t])
        if self.config.arch != "ae":
            return t
        with torch.no_grad():
            return self.autoencoder.encoder(t)

    def _train_autoencoder(self, courses: np.ndarray, rng: np.random.Generator, show: bool) -> None:
        c = self.config
        self.autoencoder = CourseAutoencoder(self.n_times, c.hidden_dim, c.latent_dim).to(self.device)
        opt = torch.optim.Adam(self.autoencoder.parameters(), lr=c.ae_lr)
        data = torch.as_tensor(courses, device=self.device)
        hist = []
        for _ in tqdm(range(c.ae_epochs), disable=not show, desc="autoencoder"):
            perm = torch.as_tensor(rng.permutation(data.shape[0]), device=self.device)
            total = 0.0
            for start in range(0, data.shape[0], 256):
                xb = data[perm[start : start + 256]]
                loss = ((self.autoencoder(xb) - xb) ** 2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * xb.shape[0]
            hist.append(total / data.shape[0])
        self.autoencoder.eval()
        self.history["autoencoder_loss"] = hist

    # -- fit / predict ---------------------------------------------------------------------
    def fit(self, networks, *, show_progress_bar: bool | None = None) -> "PairClassifier":
        """Train on networks with known edges.

        Parameters
        ----------
        networks
            A list of ``(x, adjacency)``: ``x`` an array ``(series, time, gene)`` (or
            ``(time, gene)`` for a single series), ``adjacency`` a boolean ``(gene, gene)``
            matrix, row = regulator, column = target. Networks may differ in genes and
            series but must share the number of time points.
        show_progress_bar
            Progress bar over epochs (``None``: ``scgrn.settings.show_progress_bar``).

        Returns
        -------
        ``self`` (fitted).

        Examples
        --------
        >>> import numpy as np
        >>> from scgrn.models import PairClassifier
        >>> x = np.random.default_rng(0).random((3, 21, 6)).astype("float32")
        >>> A = np.zeros((6, 6), bool); A[0, 1] = A[2, 3] = True
        >>> clf = PairClassifier("lstm", n_epochs=1, n_models=1).fit([(x, A)], show_progress_bar=False)
        >>> clf.n_times
        21
        """
        c = self.config
        show = resolve_progress_bar(show_progress_bar)
        if isinstance(networks, tuple) and len(networks) == 2 and not isinstance(networks[0], tuple):
            networks = [networks]
        networks = list(networks)
        if not networks:
            raise ValueError("networks is empty: pass at least one (x, adjacency) pair to train on.")
        nets = [_as_network(x, a, c.normalize) for x, a in networks]
        n_times = {n.courses.shape[1] for n in nets}
        if len(n_times) > 1:
            raise ValueError(
                f"All training networks must have the same number of time points; got {sorted(n_times)}."
            )
        if any(int(n.y.sum()) == 0 for n in nets):
            raise ValueError("A training network has no true edge; each needs at least one positive pair.")
        self.n_times = n_times.pop()
        self.n_train_networks = len(nets)
        t0, c0 = time.perf_counter(), time.process_time()
        rng = np.random.default_rng(self.random_state)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            courses = np.concatenate([n.courses for n in nets])
            offsets = np.cumsum([0] + [n.courses.shape[0] for n in nets[:-1]])
            if c.arch == "ae":
                self._train_autoencoder(courses, rng, show)
            inputs = self._inputs(courses)
            settings = {"n_epochs": c.n_epochs, "batch_size": c.batch_size, "optimizer": c.optimizer, "lr": c.lr}
            if c.arch == "ae" and c.grid_search:
                settings.update(self._grid_search(nets, inputs, offsets, rng))
            self.chosen = dict(settings)
            self.module = nn.ModuleList([self._new_module() for _ in range(c.n_models)])
            self.history["loss"] = []
            for m, member in enumerate(self.module):
                self.history["loss"].append(self._train_member(member, inputs, nets, offsets, settings, rng, show, m))
        self.fit_seconds = time.perf_counter() - t0
        self.fit_cpu_seconds = time.process_time() - c0
        return self

    def _train_member(self, member, inputs, nets, offsets, settings, rng, show, m) -> list[float]:
        c = self.config
        return _train_classifier(
            member, inputs, nets, offsets, combine=c.combine, negatives=c.negatives,
            n_epochs=int(settings["n_epochs"]), batch_size=int(settings["batch_size"]),
            lr=float(settings["lr"]), optimizer=str(settings["optimizer"]),
            weight_decay=c.weight_decay, clip_grad=c.clip_grad, neg_ratio=c.neg_ratio,
            resample=c.resample_negatives, augment=c.augment, rng=rng, device=self.device,
            show_progress_bar=show and m == 0, desc=f"member {m + 1}/{c.n_models}",
        )

    def _grid_search(self, nets, inputs, offsets, rng) -> dict:
        """Inner validation of the AE classifier's grid; returns the best setting."""
        c = self.config
        grid = {"batch_size": [c.batch_size], "n_epochs": [c.n_epochs], "optimizer": [c.optimizer], "lr": [c.lr]}
        grid.update({k: list(v) for k, v in c.grid.items()})
        keys = list(grid)
        combos = [dict(zip(keys, vals)) for vals in itertools.product(*(grid[k] for k in keys))]
        # folds: leave one training network out; a single network: hold out 25 % of its pairs
        folds = []
        if len(nets) >= 2:
            for v in range(len(nets)):
                tr = [i for i in range(len(nets)) if i != v]
                folds.append(([nets[i] for i in tr], offsets[tr], nets[v], offsets[v]))
        else:
            net = nets[0]
            val = np.zeros(net.y.size, bool)
            val[rng.choice(net.y.size, size=max(1, net.y.size // 4), replace=False)] = True
            train_net, val_net = net.subset(~val), net.subset(val)
            folds.append(([train_net], offsets[:1], val_net, offsets[0]))
        self.grid_results = []
        for combo in combos:
            scores = []
            for tr_nets, tr_off, val_net, val_off in folds:
                module = self._new_module()
                _train_classifier(
                    module, inputs, tr_nets, np.asarray(tr_off), combine=c.combine, negatives=c.negatives,
                    n_epochs=int(combo["n_epochs"]), batch_size=int(combo["batch_size"]),
                    lr=float(combo["lr"]), optimizer=str(combo["optimizer"]),
                    weight_decay=c.weight_decay, clip_grad=c.clip_grad, neg_ratio=c.neg_ratio,
                    resample=c.resample_negatives, augment=c.augment, rng=rng, device=self.device,
                    show_progress_bar=False,
                )
                # the validation network's course ids start at its offset in ``inputs``
                p = _predict_network(
                    module, inputs[:, int(val_off):], val_net, combine=c.combine, aggregate=c.aggregate
                )
                scores.append(_average_precision(val_net.y, p))
            self.grid_results.append({**{k: combo[k] for k in keys}, "val_average_precision": float(np.nanmean(scores))})
        best = max(self.grid_results, key=lambda r: (np.nan_to_num(r["val_average_precision"], nan=-1.0)))
        return {k: best[k] for k in keys}

    def _require_fitted(self) -> nn.Module:
        if self.module is None:
            raise RuntimeError("The PairClassifier is not fitted yet: call `.fit(networks)` first.")
        return self.module

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probability of every ordered pair being a direct edge, as a ``(gene, gene)`` matrix.

        Parameters
        ----------
        x
            ``(series, time, gene)`` (or ``(time, gene)``) expression of the network to score;
            normalised like the training networks. The number of time points must match
            training.

        Returns
        -------
        float32 ``(n_genes, n_genes)``, row = regulator, column = target, diagonal 0; each
        entry the per-series probabilities aggregated by ``config.aggregate``.

        Examples
        --------
        >>> import numpy as np
        >>> from scgrn.models import PairClassifier
        >>> x = np.random.default_rng(0).random((3, 21, 6)).astype("float32")
        >>> A = np.zeros((6, 6), bool); A[0, 1] = A[2, 3] = True
        >>> clf = PairClassifier("cnn", n_epochs=1, n_models=1).fit([(x, A)], show_progress_bar=False)
        >>> p = clf.predict(x)
        >>> p.shape, float(p.diagonal().max()), bool(((p >= 0) & (p <= 1)).all())
        ((6, 6), 0.0, True)
        """
        module = self._require_fitted()
        net = _as_network(x, None, self.config.normalize)
        if net.courses.shape[1] != self.n_times:
            raise ValueError(
                f"The model was trained on {self.n_times} time points but x has "
                f"{net.courses.shape[1]}. Use the same time grid."
            )
        inputs = self._inputs(net.courses)
        p = _predict_network(module, inputs, net, combine=self.config.combine, aggregate=self.config.aggregate)
        out = np.zeros((net.n_genes, net.n_genes), dtype=np.float32)
        out[net.reg, net.tgt] = p
        return out

    def params(self) -> dict:
        """Every hyperparameter, the settings actually used (grid choice) and the seed.

        Examples
        --------
        >>> import numpy as np
        >>> from scgrn.models import PairClassifier
        >>> x = np.random.default_rng(0).random((3, 21, 6)).astype("float32")
        >>> A = np.zeros((6, 6), bool); A[0, 1] = A[2, 3] = True
        >>> clf = PairClassifier("cnn", n_epochs=1, n_models=1).fit([(x, A)], show_progress_bar=False)
        >>> clf.params()["arch"], clf.params()["random_state"]
        ('cnn', 0)
        """
        chosen = {f"used_{k}": v for k, v in self.chosen.items()}
        return {**self.config.to_dict(), **chosen, "random_state": self.random_state}

    # -- persistence -----------------------------------------------------------------------
    def save(self, dir_path: str | Path, *, overwrite: bool = False) -> None:
        """Save weights, hyperparameters and training history to a folder.

        Examples
        --------
        >>> import tempfile, numpy as np
        >>> from scgrn.models import PairClassifier
        >>> x = np.random.default_rng(0).random((2, 21, 5)).astype("float32")
        >>> A = np.eye(5, k=1, dtype=bool)
        >>> clf = PairClassifier("lstm", n_epochs=1, n_models=2).fit([(x, A)], show_progress_bar=False)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     clf.save(d, overwrite=True)
        ...     same = PairClassifier.load(d)
        >>> bool(np.array_equal(same.predict(x), clf.predict(x)))
        True
        """
        module = self._require_fitted()
        path = Path(dir_path)
        if path.exists() and any(path.iterdir()) and not overwrite:
            raise FileExistsError(f"{path} is not empty; pass overwrite=True to replace it.")
        path.mkdir(parents=True, exist_ok=True)
        state = {"module": module.state_dict()}
        if self.autoencoder is not None:
            state["autoencoder"] = self.autoencoder.state_dict()
        torch.save(state, path / "model.pt")
        meta = {
            "scgrn_version": __version__,
            "config": self.config.to_dict(),
            "random_state": self.random_state,
            "n_times": self.n_times,
            "history": self.history,
            "grid_results": self.grid_results,
            "chosen": self.chosen,
            "fit_seconds": self.fit_seconds,
            "fit_cpu_seconds": self.fit_cpu_seconds,
            "n_train_networks": self.n_train_networks,
        }
        (path / "model.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, dir_path: str | Path, *, device="auto") -> "PairClassifier":
        """Load a model saved with :meth:`save`."""
        path = Path(dir_path)
        if not (path / "model.json").exists():
            raise FileNotFoundError(f"No saved PairClassifier in {path} (model.json missing).")
        meta = json.loads((path / "model.json").read_text())
        model = cls.__new__(cls)
        model.config = PairClassifierConfig.from_dict(meta["config"])
        model.random_state = int(meta["random_state"])
        model.device = resolve_device(device)
        model.n_times = int(meta["n_times"])
        model.history = {k: list(v) for k, v in meta["history"].items()}
        model.grid_results = list(meta["grid_results"])
        model.chosen = dict(meta["chosen"])
        model.fit_seconds = float(meta["fit_seconds"])
        model.fit_cpu_seconds = float(meta.get("fit_cpu_seconds", "nan"))
        model.n_train_networks = int(meta["n_train_networks"])
        state = torch.load(path / "model.pt", map_location=model.device)
        model.autoencoder = None
        if "autoencoder" in state:
            model.autoencoder = CourseAutoencoder(model.n_times, model.config.hidden_dim, model.config.latent_dim)
            model.autoencoder.load_state_dict(state["autoencoder"])
            model.autoencoder.to(model.device).eval()
        model.module = nn.ModuleList([model._new_module() for _ in range(model.config.n_models)])
        model.module.load_state_dict(state["module"])
        model.module.to(model.device).eval()
        return model

    def __repr__(self) -> str:
        state = "fitted" if self.module is not None else "unfitted"
        return f"PairClassifier({state}, arch={self.config.arch!r}, normalize={self.config.normalize!r})"
