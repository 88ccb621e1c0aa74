"""Distances between cell populations, and precision / recall of a GRN's top-k edges.

:func:`sinkhorn_w2` is built on the batched torch core :func:`sinkhorn_divergence` (log-domain,
vectorised over a leading batch dimension, epsilon-scaling; it lives in :mod:`scgrn._sinkhorn`,
re-exported here), which is also the training loss of :class:`scgrn.models.PerturbODE`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._params import check_float, check_int, check_random_state
from .._reference import read_reference
from .._sinkhorn import sinkhorn_divergence
from ._grn import _grn_matrix
from ._ranking import warn_if_all_tied

__all__ = ["precision_recall_at_k", "energy_distance", "sinkhorn_w2", "sinkhorn_divergence"]


# ---------------------------------------------------------------------------
# precision / recall at k
# ---------------------------------------------------------------------------


def precision_recall_at_k(
    grn: Any,
    reference: pd.DataFrame,
    *,
    k: int | None = None,
    var_names=None,
    key: str = "perturbode",
) -> dict[str, Any]:
    """Precision and recall of the ``k`` strongest edges of a GRN, over all directed pairs.

    Candidates are all ordered pairs ``(regulator, target)`` of distinct genes of the GRN
    (no self-pairs), ranked by ``|weight|`` (ties broken by a stable sort, in row-major
    order). Unlike :func:`evaluate_grn`, the candidates are *not* restricted to the
    reference's regulators: a method must find the regulators too, and direction counts
    (predicting ``b -> a`` for a true ``a -> b`` is a miss).

    Parameters
    ----------
    grn
        The network, row = regulator, column = target: an AnnData (``varp[key]``), a square
        array with ``var_names``, a square DataFrame, or a long ``source``/``target``/``weight``
        table (as in :func:`evaluate_grn`). ``varp[key]`` and the array may be dense or scipy
        sparse (an entry that is not stored weighs 0); every pair is a candidate, so a sparse
        GRN is densified. NaN or infinite weights raise a ``ValueError``; when every candidate
        has the same ``|weight|`` (e.g. an all-zero GRN) a ``UserWarning`` says that the top
        ``k`` are then only the first pairs in gene order.
    reference
        True edges, read as in :func:`evaluate_grn`: columns ``source`` / ``target`` (or
        ``Gene1`` / ``Gene2``, ``regulator`` / ``TF``); with a 0/1 ``label`` or ``weight`` column
        only the rows labelled 1 are edges. Self-loops and duplicates are dropped; edges with genes outside the GRN are dropped with a
        ``UserWarning`` (counted in ``n_reference_dropped``).
    k
        Number of top edges kept, an integer (default: the number of true edges).
    var_names
        Gene names of an array GRN.
    key
        ``adata.varp`` key for AnnData input.

    Returns
    -------
    dict with ``precision`` (hits / k), ``recall`` (hits / true edges), ``hits``, ``k``,
    ``n_true``, ``n_candidates``, ``random_precision`` (= edge density, the expected
    precision of a random ranking) and ``n_reference_dropped``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scgrn.metrics import precision_recall_at_k
    >>> ref = pd.DataFrame({"source": ["a", "a"], "target": ["b", "c"]})
    >>> w = np.array([[0, .9, .1], [.8, 0, 0], [0, .5, 0]])   # row = regulator
    >>> res = precision_recall_at_k(w, ref, var_names=["a", "b", "c"])
    >>> res["k"], res["hits"], res["precision"], res["recall"]
    (2, 1, 0.5, 0.5)
    """
    k = check_int("k", k, allow_none=True)  # 2.9 was truncated to 2 without a word
    mat, names = _grn_matrix(grn, key, var_names, dense=True)  # every pair is a candidate
    mat = np.abs(np.asarray(mat, dtype=np.float64))
    ref = read_reference(reference).rename(columns={"source": "s", "target": "t"})
    i = names.get_indexer(ref["s"].to_numpy())
    j = names.get_indexer(ref["t"].to_numpy())
    source_known, target_known = i >= 0, j >= 0
    keep = source_known & target_known
    n_dropped = int((~keep).sum())
    i, j = i[keep], j[keep]
    n = len(names)
    n_true = int(i.size)
    if n_dropped and n_true:  # recall is then over the kept edges only: say so, as evaluate_grn does
        missing = pd.unique(np.concatenate([ref["s"].to_numpy()[~source_known], ref["t"].to_numpy()[~target_known]]))
        warnings.warn(
            f"{n_dropped} of {len(keep)} reference edges were dropped because {len(missing)} of their genes "
            f"are not among the GRN's genes (e.g. {list(missing[:5])}); precision and recall count only the "
            f"{n_true} edges left. Check that gene identifiers match (symbols vs Ensembl IDs, case).",
            stacklevel=2,
        )
    if n_true == 0:
        raise ValueError(
            "No reference edge has both genes among the GRN's genes (after dropping "
            "self-loops): check that gene names match."
        )
    truth = np.zeros((n, n), dtype=bool)
    truth[i, j] = True
    off = ~np.eye(n, dtype=bool)
    scores, labels = mat[off], truth[off]
    n_bad = int(np.count_nonzero(~np.isfinite(scores)))
    if n_bad:  # NaN sorted last and inf first: a ranking that means nothing, without a word
        raise ValueError(
            f"The GRN matrix contains {n_bad} NaN or infinite weight(s) among its candidate pairs, which "
            "cannot be ranked (a run that diverged?). Rerun the method, or drop them explicitly: "
            "`W = np.nan_to_num(W, nan=0.0, posinf=0.0, neginf=0.0)`."
        )
    n_cand = int(scores.size)
    k = n_true if k is None else k
    if not 1 <= k <= n_cand:
        raise ValueError(f"k={k} must be between 1 and the number of candidate pairs ({n_cand}).")
    warn_if_all_tied(  # then the top k are the first pairs in row-major order: the gene order decides
        scores, what="candidate pairs have the same |weight|", affected="precision and recall", stacklevel=2
    )
    order = np.argsort(-scores, kind="stable")[:k]
    hits = int(labels[order].sum())
    return {
        "precision": hits / k,
        "recall": hits / n_true,
        "hits": hits,
        "k": k,
        "n_true": n_true,
        "n_candidates": n_cand,
        "random_precision": n_true / n_cand,
        "n_reference_dropped": n_dropped,
    }


# ---------------------------------------------------------------------------
# distances between point clouds
# ---------------------------------------------------------------------------


def _as_2d(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "obs") and hasattr(x, "var"):  # an AnnData: which genes pair up is not ours to guess
        raise TypeError(
            f"{name} is an AnnData; this metric takes cells x genes arrays with the genes in the same "
            f"order. Pass matrices (e.g. `{name}=a.X` after `a = a[:, genes]` for both), or use "
            "scgrn.metrics.simulation_closeness, which takes AnnData and matches genes by name."
        )
    if hasattr(x, "toarray"):
        x = x.toarray()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (cells x genes); got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def _check_pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must have the same number of genes (columns); got {x.shape[1]} and {y.shape[1]}."
        )
    return x, y


def _mean_pairwise_distance(x: np.ndarray, y: np.ndarray, chunk: int = 1024) -> float:
    total = 0.0
    yt = torch.as_tensor(y)
    for s in range(0, x.shape[0], chunk):
        total += float(torch.cdist(torch.as_tensor(x[s : s + chunk]), yt).sum())
    return total / (x.shape[0] * y.shape[0])


def energy_distance(x: Any, y: Any) -> float:
    """Squared energy distance between two samples of cells (Szekely & Rizzo).

    ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` with Euclidean distances over genes, estimated
    by the V-statistic (all pairs, zero diagonal included): non-negative, zero only for
    identical samples, and sensitive to differences in mean *and* spread.

    Parameters
    ----------
    x, y
        Cells x genes arrays (dense or sparse) with the same genes.

    Returns
    -------
    The squared energy distance (float, in the units of the data).

    Examples
    --------
    >>> import numpy as np
    >>> from scgrn.metrics import energy_distance
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(200, 5)), rng.normal(size=(200, 5))
    >>> energy_distance(a, b) < energy_distance(a, b + 1.0)
    True
    """
    x, y = _check_pair(x, y)
    return float(
        2.0 * _mean_pairwise_distance(x, y)
        - _mean_pairwise_distance(x, x)
        - _mean_pairwise_distance(y, y)
    )


def sinkhorn_w2(
    x: Any,
    y: Any,
    *,
    epsilon: float = 0.01,
    n_iter: int = 50,
    max_cells: int | None = 4000,
    random_state: int = 0,
) -> float:
    """Debiased Sinkhorn divergence with squared-Euclidean cost: an entropic estimate of W2^2.

    ``S(x, y) = OT_eps(x, y) - (OT_eps(x, x) + OT_eps(y, y)) / 2`` between the uniform
    empirical distributions of two samples of cells, with cost ``|x - y|^2 / n_genes``
    (the *per-gene* mean squared difference, so values compare across gene panels) and
    entropic regularisation ``epsilon`` in those units. It is non-negative, zero for
    identical samples, and tends to ``W2^2 / n_genes`` as ``epsilon -> 0``.
    Log-domain and float64, so small ``epsilon`` is stable.

    Parameters
    ----------
    x, y
        Cells x genes arrays with the same genes (standardise genes first if their scales
        differ, e.g. divide by the control cells' standard deviation).
    epsilon
        Entropic regularisation, in per-gene squared units (a finite number > 0).
    n_iter
        Sinkhorn updates at the final ``epsilon`` (after epsilon-scaling); an integer >= 1.
    max_cells
        Subsample each side to at most this many cells (memory grows as n^2; an integer >= 2);
        ``None``: all.
    random_state
        Seed of the subsampling.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from scgrn.metrics import sinkhorn_w2
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    >>> round(sinkhorn_w2(a, a), 6)
    0.0
    >>> 0.9 < sinkhorn_w2(a, b + 1.0) < 1.2     # a shift of 1 in every gene
    True
    """
    epsilon = check_float("epsilon", epsilon, min=0, min_open=True)
    n_iter = check_int("n_iter", n_iter, min=1)
    max_cells = check_int("max_cells", max_cells, min=2, allow_none=True)
    rng = np.random.default_rng(check_random_state(random_state))
    x, y = _check_pair(x, y)
    if max_cells is not None:
        if x.shape[0] > max_cells:
            x = x[rng.choice(x.shape[0], max_cells, replace=False)]
        if y.shape[0] > max_cells:
            y = y[rng.choice(y.shape[0], max_cells, replace=False)]
    with torch.no_grad():
        val = sinkhorn_divergence(
            torch.as_tensor(x),
            torch.as_tensor(y),
            epsilon=epsilon,
            n_iter=n_iter,
            cost_scale=float(x.shape[1]),
        )
    return max(float(val), 0.0)
