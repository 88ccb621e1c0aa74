"""Information-theoretic GRN baseline: ``tl.pidc`` (Chan, Stumpf & Babtie, Cell Systems 2017).

PIDC scores every gene pair ``(X, Y)`` by its *proportional unique contribution* (PUC):
for every third gene ``Z`` the partial information decomposition of what ``X`` and ``Z``
tell about ``Y`` (Williams-Beer redundancy ``I_min``) gives the information unique to
``X``, as a fraction of ``I(X; Y)``; PUC sums these fractions over ``Z`` and over both
directions. The network context is then applied: a gamma distribution is fitted to each
gene's PUC scores, and the confidence of edge ``X - Y`` is the sum of the two gamma CDFs
at its score (NetworkInference.jl's ``PIDCNetworkInference``).

Vectorised: with ``s_Z(t)`` the specific information gene ``Z`` gives about target state
``t``, the sum over all ``Z`` of ``min(s_X(t), s_Z(t))`` needs only the sorted ``s(t)``
and its cumulative sums, so the whole triple sum costs ``O(G^2 B log G)`` for ``G``
genes and ``B`` bins instead of ``O(G^3 B)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from anndata import AnnData
from scanpy import logging as logg
from scipy import special
from tqdm.auto import tqdm

from .._settings import resolve_progress_bar
from .._validate import check_choice, check_int
from ._correlation import _baseline_input, _check_call, _mask_rows, _store
from ._groups import groupable

__all__ = ["pidc"]

_DISCRETIZERS = ("quantile", "uniform")


def _n_bins_auto(n_cells: int) -> int:
    """Cube root of the number of cells, between 3 and 16."""
    return int(np.clip(round(n_cells ** (1.0 / 3.0)), 3, 16))


def discretize(X: np.ndarray, n_bins: int, discretizer: str = "quantile") -> np.ndarray:
    """Bin index (int64, 0 .. n_bins-1) of every value, per gene (column).

    ``"quantile"``: edges at the gene's ``k / n_bins`` quantiles; repeated edges (e.g. many
    zeros) are merged, so a block of equal values shares one bin. ``"uniform"``: equal-width
    bins between the gene's minimum and maximum.
    """
    X = np.asarray(X, dtype=np.float64)
    if discretizer == "uniform":
        lo = X.min(axis=0)
        span = X.max(axis=0) - lo
        scaled = np.where(span > 0, (X - lo) / np.where(span > 0, span, 1.0), 0.0)
        return np.minimum((scaled * n_bins).astype(np.int64), n_bins - 1)
    edges = np.quantile(X, np.arange(1, n_bins) / n_bins, axis=0)  # (n_bins-1, genes)
    distinct = np.ones_like(edges, dtype=bool)
    distinct[1:] = edges[1:] > edges[:-1]
    # bin = number of distinct edges strictly below the value (a block of ties stays together)
    return ((X[:, None, :] > edges[None, :, :]) & distinct[None, :, :]).sum(axis=1).astype(np.int64)


def _xlogy_ratio(p_joint: np.ndarray, p_prod: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = p_joint * np.log(p_joint / p_prod)
    out[p_joint <= 0] = 0.0
    return out


def _puc_scores(bins: np.ndarray, n_bins: int, *, batch_size: int, show_progress_bar: bool):
    """PUC matrix (genes x genes, symmetric, zero diagonal) and the MI matrix (in nats)."""
    n_cells, n_genes = bins.shape
    onehot = np.zeros((n_cells, n_genes, n_bins), dtype=np.float32)
    np.put_along_axis(onehot, bins[:, :, None], 1.0, axis=2)
    D = onehot.reshape(n_cells, n_genes * n_bins)
    p_marg = onehot.mean(axis=0, dtype=np.float64)  # (G, B)
    T1 = np.zeros((n_genes, n_genes))  # T1[X, Y] = sum_{Z != X, Y} R(Y; X, Z)
    MI = np.zeros((n_genes, n_genes))
    G = n_genes
    with tqdm(total=n_genes, desc="PIDC", unit="gene", disable=not show_progress_bar) as bar:
        for lo in range(0, n_genes, batch_size):
            hi = min(lo + batch_size, n_genes)
            b = hi - lo
            joint = (D.T @ D[:, lo * n_bins : hi * n_bins]).astype(np.float64) / n_cells
            joint = joint.reshape(G, n_bins, b, n_bins)  # p(x=a, y=t): [X, a, Y, t]
            pa = p_marg[:, :, None, None]
            pt = p_marg[lo:hi][None, None, :, :]
            with np.errstate(divide="ignore", invalid="ignore"):
                # specific information s_X(Y=t) = sum_a p(a|t) log(p(a,t) / (p(a) p(t)))
                spec = _xlogy_ratio(joint, pa * pt).sum(axis=1) / p_marg[lo:hi][None, :, :]
            spec[~np.isfinite(spec)] = 0.0  # states t never observed carry no weight
            spec = np.maximum(spec, 0.0)  # (G, b, B); specific information is >= 0
            w = p_marg[lo:hi][None, :, :]  # p(t)
            MI[:, lo:hi] = (w * spec).sum(axis=2)
            # sum over all Z of min(s_X, s_Z): sorted values and cumulative sums
            order = np.argsort(spec, axis=0, kind="stable")
            srt = np.take_along_axis(spec, order, axis=0)
            csum = np.concatenate([np.zeros((1, b, n_bins)), np.cumsum(srt, axis=0)[:-1]], axis=0)
            rank = np.empty_like(order)
            np.put_along_axis(rank, order, np.arange(G)[:, None, None], axis=0)
            total = np.take_along_axis(csum, rank, axis=0) + spec * (G - rank)
            s_self = spec[lo + np.arange(b), np.arange(b), :][None, :, :]  # s_Y(Y=t)
            total -= spec + np.minimum(spec, s_self)  # drop Z = X and Z = Y
            T1[:, lo:hi] = (w * total).sum(axis=2)
            bar.update(b)
    MI = (MI + MI.T) / 2.0  # equal up to rounding
    with np.errstate(divide="ignore", invalid="ignore"):
        puc = (2.0 * (G - 2) * MI - T1 - T1.T) / MI
    puc[~np.isfinite(puc) | (MI <= 1e-12)] = 0.0
    puc = np.maximum(puc, 0.0)
    np.fill_diagonal(puc, 0.0)
    return puc, MI


def _gamma_fit(scores: np.ndarray):
    """Vectorised maximum-likelihood gamma fit of every column: ``(shape, scale, valid)``."""
    x = scores
    valid = (x > 0).all(axis=0)
    xs = np.where(x > 0, x, 1.0)
    mean = xs.mean(axis=0)
    s = np.log(mean) - np.log(xs).mean(axis=0)
    valid &= s > 1e-12
    s = np.where(valid, s, 1.0)
    k = (3.0 - s + np.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s)  # Minka's start
    for _ in range(20):  # Newton on log(k) - digamma(k) = s
        f = np.log(k) - special.digamma(k) - s
        df = 1.0 / k - special.polygamma(1, k)
        k = np.clip(k - f / df, 1e-8, None)
    valid &= np.isfinite(k)
    return k, mean / k, valid


def _context(puc: np.ndarray) -> np.ndarray:
    """PIDC network context: ``F_X(u) + F_Y(u)`` with ``F`` each gene's fitted gamma CDF;
    CLR's z-score formula for pairs where a gamma fit is impossible (as NetworkInference.jl)."""
    G = puc.shape[0]
    off = ~np.eye(G, dtype=bool)
    cols = puc.T[off].reshape(G, G - 1).T  # scores of gene i without its diagonal, column i
    shape, scale, valid = _gamma_fit(cols)
    cdf = special.gammainc(shape[None, :], puc / scale[None, :])  # cdf[x, i] = F_i(puc[x, i])
    gamma_w = cdf + cdf.T
    mean = cols.mean(axis=0)
    var = cols.var(axis=0, ddof=1) if G > 2 else np.zeros(G)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where((var > 0)[None, :] & (puc >= mean[None, :]),
                     (puc - mean[None, :]) ** 2 / var[None, :], 0.0)
    clr_w = np.sqrt(z + z.T)
    both = valid[:, None] & valid[None, :]
    W = np.where(both, gamma_w, clr_w)
    np.fill_diagonal(W, 0.0)
    return W


@groupable
def pidc(
    adata: AnnData,
    *,
    n_bins: int | None = None,
    discretizer: str = "quantile",
    tfs: Sequence[str] | None = None,
    layer: str | None = None,
    key_added: str = "pidc",
    batch_size: int = 64,
    show_progress_bar: bool | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Infer an undirected GRN with PIDC (partial information decomposition and context).

    Chan, Stumpf & Babtie (Cell Systems 2017), as NetworkInference.jl computes it (BEELINE's
    PIDC): each gene is discretised; for every pair ``(X, Y)`` the proportional unique
    contribution sums, over every other gene ``Z``, the share of ``I(X; Y)`` that is unique
    to ``X`` about ``Y`` (and to ``Y`` about ``X``) under the Williams-Beer redundancy;
    a gamma distribution fitted per gene turns the scores into confidences (the sum of the
    two genes' gamma CDFs). Differences from NetworkInference.jl: genes are binned by
    quantiles (or equal widths) instead of Bayesian blocks, and information is in nats
    (the base does not change the ranking).

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression.
    n_bins
        Bins per gene; ``None``: the cube root of the number of cells, between 3 and 16.
    discretizer
        ``"quantile"`` (equal-frequency edges; ties such as zeros share a bin) or
        ``"uniform"`` (equal-width bins).
    tfs
        Transcription factors: only their rows are kept (the rest are zero), which makes the
        stored matrix no longer symmetric. A boolean mask over ``adata.var_names`` (e.g.
        ``adata.var['is_tf']``) selects the genes where it is ``True``.
    layer
        Read this layer instead of ``adata.X``.
    key_added
        Where results go (see Returns).
    batch_size
        Target genes processed at once (memory ~ ``genes x n_bins^2 x batch_size`` floats).
    show_progress_bar
        Progress bar over genes (``None``: ``scgrn.settings.show_progress_bar``).
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Writes

    ``adata.varp['pidc' | key_added]``
        float32 genes x genes confidences, **symmetric** (PIDC has no direction), zero
        diagonal; rows of non-TFs are zero when ``tfs`` is given.
    ``adata.uns['pidc' | key_added]``
        ``method``, ``version``, ``params`` (``n_bins``, ``discretizer``, ``layer``) and
        ``tfs`` if given.

    Examples
    --------
    >>> import scgrn
    >>> adata, truth = scgrn.datasets.planted_network(n_genes=30, n_cells=200)
    >>> scgrn.tl.pidc(adata, show_progress_bar=False)
    >>> W = adata.varp["pidc"]
    >>> W.shape, bool((W == W.T).all())
    ((30, 30), True)
    """
    key_added, copy = _check_call(adata, key_added=key_added, copy=copy)
    show_progress_bar = resolve_progress_bar(show_progress_bar)
    discretizer = check_choice("discretizer", discretizer, _DISCRETIZERS)
    batch_size = check_int("batch_size", batch_size, min=1)
    n_bins = check_int("n_bins", n_bins, min=2, allow_none=True)
    start = logg.info("running PIDC")
    X, tf_list, regulators = _baseline_input(adata, tfs=tfs, layer=layer)
    if X.shape[1] < 3:
        raise ValueError(
            f"PIDC needs at least 3 genes (it conditions every pair on the others); got {X.shape[1]}."
        )
    if n_bins is None:
        n_bins = _n_bins_auto(X.shape[0])
    if n_bins >= X.shape[0]:
        raise ValueError(
            f"n_bins={n_bins} must be below the number of cells ({X.shape[0]}): with a bin per cell "
            "every gene pair shares all its information and PIDC scores every edge 0. Use "
            f"n_bins=None (the cube root of the cells, here {_n_bins_auto(X.shape[0])}) or fewer bins."
        )
    bins = discretize(X, int(n_bins), discretizer)
    puc, _ = _puc_scores(bins, int(n_bins), batch_size=int(batch_size),
                         show_progress_bar=show_progress_bar)
    W = _context(puc)
    W = (W + W.T) / 2.0  # exactly symmetric
    params = {"n_bins": int(n_bins), "discretizer": discretizer, "layer": "X" if layer is None else layer}
    return _store(adata, _mask_rows(W, regulators), key_added=key_added, method="pidc",
                  params=params, tfs=tf_list, copy=copy, start=start,
                  note="symmetric PIDC confidences")
