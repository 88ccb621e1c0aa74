"""Gene pairs of time-series networks for the pair classifiers (numpy, vectorised): labels,
normalisation, and the balanced mini-batches of a training epoch (no torch here)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._params import ParameterTypeError
from ._pair_classifier_config import NORMALIZATIONS


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
    """Normalise one network's ``x[series, time, gene]`` (see :mod:`scgrn.models._pair_classifier`).

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


def _kind(value) -> str:
    """A short description of what a value is, for messages: ``'AnnData'``, ``'DataFrame'``, ``'ndarray of shape (2, 3)'``."""
    shape = getattr(value, "shape", None)
    if shape is None or hasattr(value, "obs") or hasattr(value, "columns"):
        return type(value).__name__
    return f"{type(value).__name__} of shape {tuple(shape)}"


def _a(noun: str) -> str:
    """``noun`` with its indefinite article: ``'an AnnData'``, ``'a DataFrame'``."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


_PAIR_FORMAT = (
    "PairClassifier.train takes (x, adjacency) arrays: x of shape (series, time, gene) (or (time, gene)), "
    "adjacency a boolean (gene, gene) matrix, row = regulator, column = target"
)


def _is_annotated(value) -> bool:
    """An AnnData or a long edge table (``source`` / ``target`` columns): the inputs of
    :func:`scgrn.tl.pair_classifier`, not of the model (a square DataFrame adjacency is fine)."""
    if hasattr(value, "obs") and hasattr(value, "var"):
        return True
    columns = getattr(value, "columns", None)
    return columns is not None and {"source", "target"} <= set(map(str, columns))


_ANNDATA_HINT = (
    " For (AnnData, reference edge table) pairs use scgrn.tl.pair_classifier(adata, train=[(adata_1, reference_1), "
    "...]), which converts them (and scores adata), or pass the arrays."
)


def network_pairs(networks) -> list[tuple]:
    """The ``(x, adjacency)`` pairs of :meth:`PairClassifier.train`, checked for their types.

    One pair may be given bare. A pair that is not two items, or that holds an AnnData or a
    long edge table (the ``(AnnData, reference)`` pairs of :func:`scgrn.tl.pair_classifier`), is
    refused naming ``networks[k]``, what it holds and the two ways to train.

    Examples
    --------
    >>> x, a = np.zeros((1, 3, 2)), np.eye(2, dtype=bool)
    >>> len(network_pairs((x, a))), len(network_pairs([(x, a), (x, a)]))
    (1, 2)
    >>> network_pairs([(x, a, 1)])
    Traceback (most recent call last):
    ...
    scgrn._params.ParameterTypeError: networks[0] holds 3 items (ndarray of shape (1, 3, 2), ndarray of shape (2, 2), int); PairClassifier.train takes (x, adjacency) arrays: x of shape (series, time, gene) (or (time, gene)), adjacency a boolean (gene, gene) matrix, row = regulator, column = target.
    """
    if isinstance(networks, tuple) and len(networks) == 2 and not isinstance(networks[0], tuple):
        networks = [networks]
    if hasattr(networks, "obs") or isinstance(networks, (str, bytes)) or not hasattr(networks, "__iter__"):
        raise ParameterTypeError(f"networks is {_a(_kind(networks))}, not a list of pairs; {_PAIR_FORMAT}.")
    networks = list(networks)
    if not networks:
        raise ValueError("networks is empty: pass at least one (x, adjacency) pair to train on.")
    for k, item in enumerate(networks):
        is_pair = isinstance(item, (tuple, list)) and len(item) == 2
        parts = list(item) if isinstance(item, (tuple, list)) else [item]
        annotated = any(_is_annotated(v) for v in parts)
        if is_pair and not annotated:
            continue
        if is_pair:
            held = f"({_kind(item[0])}, {_kind(item[1])})"
        elif isinstance(item, (tuple, list)):
            held = f"{len(item)} items ({', '.join(_kind(v) for v in item)})"
        else:
            held = _a(_kind(item))
        hint = _ANNDATA_HINT if annotated else ""
        raise ParameterTypeError(f"networks[{k}] holds {held}; {_PAIR_FORMAT}.{hint}")
    return networks


def _as_network(x: np.ndarray, adjacency: np.ndarray | None, normalize: str) -> _Network:
    if hasattr(x, "obs") and hasattr(x, "var"):
        raise ParameterTypeError(
            "x is an AnnData; the model takes an array (series, time, gene). To score an AnnData, use "
            "scgrn.tl.pair_classifier(adata, train=model), which arranges its time series."
        )
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

