"""Simulation through a trained DeepSEM ensemble (no AnnData here).

DeepSEM's third use (Shu et al. 2021, "scRNA-seq simulation"): encode a real cell, perturb
its latent ``z = mu + sigma * n`` (``n ~ N(0, I)``), and decode it through the inverse GRN
layer ``z (I - W)^-1`` and the decoder MLP. The decoded cell is on the model's z-scored
scale; :func:`unstandardise` maps it back to the training scale and :func:`quantile_map`
optionally puts each gene onto the training cells' empirical distribution (the rank of a
simulated value decides which training value it takes, so the dependence between genes
comes from the model while every gene's marginal matches the training cells, zeros
included).

Two steps make simulated cells look like new cells rather than noisy copies of their
sources: the source's latent mean is averaged with those of its nearest training cells
(``neighbours``), which removes most of the source's own technical noise, and
:func:`poisson_observe` then draws fresh count noise around the decoded profile, with the
source's size factor (:func:`count_size_factors` recovers size factors from
``log1p(normalised counts)`` data).

These helpers use only the ensemble's public ``encode``/``decode`` methods;
:func:`sample_cells` is what :meth:`DeepSEM.sample_cells <scgrn.models.DeepSEM.sample_cells>`
(and through it :meth:`DeepSEM.simulate <scgrn.models.DeepSEM.simulate>` and
:func:`scgrn.tl.simulate`) runs.
"""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from .. import __version__
from .._matrix import gene_moments, summarise_columns
from .._params import check_choice, check_float, check_int
from ._deepsem_data import standardise

SIMULATION_MODES = ("posterior", "prior")


def log_normalise(counts: np.ndarray, target_sum: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """``log1p(counts / library * target_sum)`` per cell; returns (log data, library sizes, target_sum).

    ``target_sum=None`` takes the median library size (scanpy's ``normalize_total`` default).

    Examples
    --------
    >>> x, lib, ts = log_normalise(np.array([[1.0, 3.0], [2.0, 2.0]]))
    >>> lib.tolist(), ts
    ([4.0, 4.0], 4.0)
    """
    counts = np.asarray(counts, dtype=np.float64)
    library = counts.sum(1)
    if target_sum is None:
        target_sum = float(np.median(library[library > 0])) if (library > 0).any() else 1.0
    safe = np.where(library > 0, library, 1.0)
    x = np.log1p(counts / safe[:, None] * target_sum)
    return x.astype(np.float32), library, float(target_sum)


#: log1p of any realistic count is far below this (log1p(10^6) = 13.8); larger values are not
#: log-normalised counts, and expm1 of them overflows float64 above ~709
LOG_COUNTS_MAX = 50.0


def count_size_factors(x: np.ndarray, tol: float = 0.15, min_share: float = 0.99, max_count: int = 64) -> np.ndarray | None:
    """Per-cell factors ``s`` with ``x = log1p(s * counts)``, or ``None`` when ``x`` is not of that form.

    ``normalize_total`` + ``log1p`` data keep integer counts up to one factor per cell: the
    smallest non-zero ``expm1(x)`` of a cell is usually one count (else ``k`` counts, with
    ``k`` the smallest integer up to ``max_count`` that makes the cell's values integers).
    The data count as recoverable when at least ``min_share`` of the cells resolve, each
    with all its non-zero entries within ``tol`` of an integer; the others get the median
    factor. Cells without any expression get ``s = 1``.

    Examples
    --------
    >>> counts = np.array([[1.0, 0.0, 3.0], [2.0, 3.0, 0.0]])
    >>> s = count_size_factors(np.log1p(counts / counts.sum(1, keepdims=True) * 10))
    >>> np.round(s, 3).tolist()
    [2.5, 2.0]
    >>> rng = np.random.default_rng(0)
    >>> count_size_factors(np.log1p(rng.gamma(1.0, 1.0, size=(20, 5)))) is None  # not counts
    True
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all() or x.max(initial=0.0) > LOG_COUNTS_MAX:
        return None  # not log1p of counts (e.g. normalised but unlogged data): expm1 would overflow
    e = np.expm1(x)
    positive = e > 0
    if not positive.any() or (e < 0).any():
        return None
    smallest = np.where(positive, e, np.inf).min(1)
    expressed = np.isfinite(smallest)
    units = np.where(positive, e / np.where(expressed, smallest, 1.0)[:, None], 0.0)

    def resolves(rows, k):  # do these cells hold integers when their smallest value is k counts?
        scaled = units[rows] * k
        return (np.abs(scaled - np.round(scaled)) <= tol).all(1)

    k_min = np.where(resolves(slice(None), 1), 1, 0)
    for k in range(2, max_count + 1):  # rare: cells whose smallest count is above one
        todo = np.flatnonzero(expressed & (k_min == 0))
        if not len(todo):
            break
        k_min[todo[resolves(todo, k)]] = k
    ok = ~expressed | (k_min > 0)
    if ok.mean() < min_share:
        return None
    s = np.ones(len(e))
    s[expressed & ok] = smallest[expressed & ok] / k_min[expressed & ok]
    s[~ok] = np.median(s[expressed & ok])
    return s


def poisson_observe(y: np.ndarray, size_factor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Counts drawn around decoded log profiles: ``Poisson(expm1(y) / size_factor)`` per cell.

    ``y`` is on the ``log1p(size_factor * counts)`` scale (negative values count as 0);
    ``log1p(size_factor * counts)`` of the result is back on that scale.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> counts = poisson_observe(np.log1p(np.array([[0.0, 20.0]])), np.array([2.0]), rng)
    >>> counts.shape, float(counts[0, 0])  # a zero profile gives zero counts; the other gene ~ Poisson(10)
    ((1, 2), 0.0)
    """
    rate = np.expm1(np.clip(np.asarray(y, dtype=np.float64), 0, None)) / np.asarray(size_factor)[:, None]
    return rng.poisson(rate).astype(np.float64)


def standardisation_stats(x: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and standard deviation exactly as the DeepSEM trainer z-scores genes.

    Mirrors :func:`scgrn.models._deepsem_data.standardise` (``"all"`` or ``"nonzero"``
    values; a zero standard deviation becomes 1), so ``scaled * std + mean`` undoes it.
    """
    return gene_moments(summarise_columns(np.asarray(x, dtype=np.float32)), mode)


def unstandardise(scaled: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Invert the z-scoring: ``scaled * std + mean``."""
    return np.asarray(scaled, dtype=np.float32) * std + mean


def quantile_map(values: np.ndarray, reference: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Give each gene (column) of ``values`` the empirical distribution of ``reference``'s column.

    The simulated cell with the ``r``-th smallest value of a gene (ties broken at random)
    takes the reference's ``(r + 0.5) / n``-quantile of that gene (lower empirical
    quantile, so the output only holds values seen in ``reference``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> quantile_map(np.array([[0.3], [0.1], [0.2]]), np.array([[5.0], [0.0], [9.0]]), rng).ravel()
    array([9., 0., 5.])
    """
    values = np.asarray(values, dtype=np.float64)
    reference = np.sort(np.asarray(reference), axis=0)
    n, n_ref = values.shape[0], reference.shape[0]
    # random tie-breaking: shuffle rows at random, then a stable sort per column
    jitter_order = np.argsort(rng.random(values.shape), axis=0)
    shuffled = np.take_along_axis(values, jitter_order, axis=0)
    order = np.take_along_axis(jitter_order, np.argsort(shuffled, axis=0, kind="stable"), axis=0)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(n)[:, None].repeat(values.shape[1], 1), axis=0)
    idx = np.minimum(((ranks + 0.5) / n * n_ref).astype(np.int64), n_ref - 1)
    return np.take_along_axis(reference, idx, axis=0)


@torch.no_grad()
def decode_samples(
    module,
    scaled: np.ndarray,
    n: int,
    *,
    mode: str = "posterior",
    noise_scale: float = 1.0,
    spread: float = 0.0,
    neighbours: int = 1,
    rng: np.random.Generator,
    chunk: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``n`` simulated cells on the model's z-scored scale.

    Cell ``j`` is decoded by ensemble member ``j % n_models`` (every member carries its own
    GRN). ``mode="posterior"`` (the paper's scheme): cell ``j`` starts from training cell
    ``source[j]`` (training cells taken in a random order, each about ``n / n_cells`` times),
    ``z = mu + noise_scale * sigma * n`` (``n ~ N(0, I)``), plus, when ``spread > 0``,
    ``noise_scale * spread * (mu_t - mu_u) / sqrt(2)`` for two training cells ``t, u`` drawn
    at random: a draw with the training cells' own latent covariance, so the perturbation
    moves along the directions in which real cells of the group differ, not only gene by
    gene. With ``neighbours > 1`` the source's ``mu`` is replaced by the mean ``mu`` of its
    ``neighbours`` nearest training cells in the member's latent space (itself included),
    which averages away most of the source cell's own technical noise.
    ``mode="prior"``: ``z = noise_scale * n``, no source cell (``source`` is then
    drawn at random and used only for library sizes).

    Returns the decoded cells ``(n, n_genes)`` and the source cell of each.
    """
    if mode not in SIMULATION_MODES:
        raise ValueError(f"mode must be one of {SIMULATION_MODES}, got {mode!r}.")
    if noise_scale < 0 or spread < 0:
        raise ValueError(f"noise_scale and spread must be >= 0, got {noise_scale!r} and {spread!r}.")
    if int(neighbours) < 1:
        raise ValueError(f"neighbours must be a positive integer, got {neighbours!r}.")
    n_cells, n_genes = scaled.shape
    e = module.config.n_models
    reps = int(np.ceil(n / n_cells))
    source = np.concatenate([rng.permutation(n_cells) for _ in range(reps)])[:n]
    member = np.arange(n) % e
    layer = module.grn_layer()
    out = np.empty((n, n_genes), dtype=np.float32)
    per_member = [np.flatnonzero(member == k) for k in range(e)]
    width = max(len(p) for p in per_member)
    seed = int(rng.integers(2**31 - 1))
    generator = torch.Generator().manual_seed(seed)
    data = torch.as_tensor(np.asarray(scaled, dtype=np.float32))
    if mode == "posterior":
        mu_cells, logvar_all = module.encode_cells(data, layer, chunk)
        mu_all = _neighbour_means(mu_cells, int(min(neighbours, n_cells))) if neighbours > 1 else mu_cells
    for start in range(0, width, chunk):
        cols = [p[start : start + chunk] for p in per_member]
        b = max(len(c) for c in cols)
        if b == 0:
            break
        # pad members with fewer cells by repeating their first index (results discarded)
        padded = np.stack([np.concatenate([c, np.full(b - len(c), c[0] if len(c) else 0)]) for c in cols])
        eps = torch.randn((e, b, n_genes), generator=generator)
        if mode == "posterior":
            rows = torch.as_tensor(source[padded])  # (E, b) training cells
            z = _rows(mu_all, rows) + noise_scale * torch.exp(0.5 * _rows(logvar_all, rows)) * eps
            if spread > 0:
                pair = torch.as_tensor(rng.integers(n_cells, size=(2, e, b)))
                z = z + noise_scale * spread * (_rows(mu_cells, pair[0]) - _rows(mu_cells, pair[1])) / math.sqrt(2.0)
        else:
            z = noise_scale * eps
        dec = module.decode(z, layer).numpy()
        for k, c in enumerate(cols):
            out[c] = dec[k, : len(c)]
    return out, source


def _rows(values: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``values[m, rows[m, j]]`` for every member ``m``: (E, cells, G), (E, b) -> (E, b, G)."""
    return torch.gather(values, 1, rows[..., None].expand(-1, -1, values.shape[-1]))


def _neighbour_means(mu: torch.Tensor, k: int) -> torch.Tensor:
    """Per member, each cell's latent mean averaged over its ``k`` nearest cells (itself included)."""
    from sklearn.neighbors import NearestNeighbors

    out = torch.empty_like(mu)
    for m in range(mu.shape[0]):  # a few members; the search itself is vectorised
        points = mu[m].numpy()
        _, nbr = NearestNeighbors(n_neighbors=k).fit(points).kneighbors(points)
        out[m] = torch.as_tensor(points[nbr].mean(1))
    return out


def nearest_distances(reference: np.ndarray, query: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distance of each query cell to its nearest reference cell; ``query=None``:
    of each reference cell to its nearest *other* reference cell (leave-one-out)."""
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=1 if query is not None else 2).fit(reference)
    if query is not None:
        return nn.kneighbors(query)[0][:, 0]
    return nn.kneighbors(reference)[0][:, 1]


#: noise scales tried by ``noise_scale="auto"``
AUTO_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 16.0, 24.0)


#: default weight of the data-shaped latent noise in :meth:`DeepSEM.simulate`
DEFAULT_SPREAD = 0.0
#: training cells whose latent means ``neighbours="auto"`` tries averaging into a source's
NEIGHBOUR_GRID = (1, 2, 3, 5, 8, 12, 20)
#: ``technical_noise`` values of :meth:`DeepSEM.simulate` and :func:`scgrn.tl.simulate`
TECHNICAL_NOISE = ("auto", "poisson", "none")


def check_sampling(mode, noise_scale, neighbours, technical_noise, spread=DEFAULT_SPREAD):
    """Validate the sampling arguments of :meth:`DeepSEM.simulate` / :func:`scgrn.tl.simulate`
    (before any training, so a typo fails at once); return ``(noise_scale, neighbours, spread)``
    as ``"auto"`` or plain ``float`` / ``int`` / ``float``.

    Examples
    --------
    >>> check_sampling("posterior", 0.5, "auto", "none", 1)
    (0.5, 'auto', 1.0)
    >>> check_sampling("posterior", float("nan"), "auto", "none")
    Traceback (most recent call last):
    ...
    ValueError: noise_scale must be a finite number >= 0, got nan.
    """
    check_choice("mode", mode, SIMULATION_MODES)
    check_choice("technical_noise", technical_noise, TECHNICAL_NOISE)
    for name, value in (("noise_scale", noise_scale), ("neighbours", neighbours)):
        if isinstance(value, str) and value != "auto":
            raise ValueError(f"{name} must be a number or 'auto', got {value!r}.")
    if noise_scale != "auto":
        noise_scale = check_float("noise_scale", noise_scale, min=0)
    if neighbours != "auto":
        neighbours = check_int("neighbours", neighbours, min=1)
    return noise_scale, neighbours, check_float("spread", spread, min=0)


def training_size_factors(x: np.ndarray, technical_noise: str) -> np.ndarray | None:
    """Size factors for Poisson technical noise from log training data, or ``None`` for none
    (``technical_noise``: see :data:`TECHNICAL_NOISE`)."""
    if technical_noise == "none":
        return None
    s = count_size_factors(x)
    if s is None and technical_noise == "poisson":
        raise ValueError(
            "technical_noise='poisson' needs counts, but the training data are not "
            "log1p(normalised counts) (scanpy's normalize_total + log1p), so no counts can be "
            "recovered. Simulate from raw counts with scgrn.tl.simulate, or pass "
            "technical_noise='auto' or 'none'."
        )
    return s


class SimulatedCells(NamedTuple):
    """Cells drawn by :meth:`scgrn.models.DeepSEM.sample_cells`, before any calibration.

    Attributes
    ----------
    values
        ``(n_obs, n_genes)`` float32 on the training scale (log-normalised): the decoded
        profiles, or with ``size_factors`` the log-normalised Poisson counts drawn around them.
    counts
        ``(n_obs, n_genes)`` float64 counts drawn with the source cells' size factors, or
        ``None`` (no ``size_factors``: no technical noise).
    source
        The training cell (row index) each simulated cell started from; in ``"prior"`` mode
        drawn at random and used only for size factors.
    noise_scale
        The latent noise scale used (``"auto"`` resolved).
    neighbours
        The training cells averaged into each source's latent mean (``"auto"`` resolved).
    """

    values: np.ndarray
    counts: np.ndarray | None
    source: np.ndarray
    noise_scale: float
    neighbours: int


def _user_stacklevel() -> int:
    """``stacklevel`` that makes a warning raised by the calling function point at the first
    frame outside scgrn (the user's line), however deep inside scgrn the call is."""
    package = Path(__file__).resolve().parents[1]  # src/scgrn
    frame, level = sys._getframe(1), 1
    while frame is not None and Path(frame.f_code.co_filename).resolve().is_relative_to(package):
        frame, level = frame.f_back, level + 1
    return level


def _decoded_cells(module, x, standardise_mode, n_obs, *, mode, noise_scale, spread, neighbours, rng):
    """Decoded cells on the training scale (before calibration) and their source cells."""
    scaled, _, _ = standardise(x, standardise_mode)
    decoded, source = decode_samples(
        module, scaled, int(n_obs), mode=mode, noise_scale=noise_scale, spread=spread,
        neighbours=neighbours, rng=rng,
    )
    mean, std = standardisation_stats(x, standardise_mode)
    return unstandardise(decoded, mean, std), source


def observed_cells(module, x, standardise_mode, n_obs, *, mode, noise_scale, spread, neighbours, size_factors, rng):
    """Decoded cells after the observation step: (log values, counts or ``None``, sources).

    ``x`` is the dense training matrix, ``standardise_mode`` the model's ``standardise``.
    With ``size_factors`` (the training cells' ``s`` in ``x = log1p(s * counts)``) each
    cell's counts are drawn around its decoded profile with its source cell's factor.
    """
    y, source = _decoded_cells(
        module, x, standardise_mode, n_obs, mode=mode, noise_scale=noise_scale, spread=spread,
        neighbours=neighbours, rng=rng,
    )
    if size_factors is None:
        return y, None, source
    s = np.asarray(size_factors, dtype=np.float64)[source]
    counts = poisson_observe(y, s, rng)
    return np.log1p(counts * s[:, None]).astype(np.float32), counts, source


def resolve_sampling(
    module, x, standardise_mode, noise_scale, neighbours, *, mode, spread, size_factors, rng, n_probe: int = 200
) -> tuple[float, int]:
    """Resolve ``"auto"`` noise scale and neighbours: the least departure from the source
    cells for which simulated cells are, in median, as far from their nearest training
    cell as a training cell is from its nearest other training cell (a stand-in for a new
    real cell). Neighbours are tried first (:data:`NEIGHBOUR_GRID`, at the smallest noise),
    then the noise scale (:data:`AUTO_GRID`, at the most neighbours)."""
    scales = list(AUTO_GRID) if noise_scale == "auto" else [float(noise_scale)]
    counts = [k for k in NEIGHBOUR_GRID if k <= x.shape[0]] if neighbours == "auto" else [int(neighbours)]
    if len(scales) == 1 and len(counts) == 1:
        return scales[0], counts[0]
    if x.shape[0] < 3:
        return (1.0 if noise_scale == "auto" else scales[0]), counts[0]
    target = float(np.median(nearest_distances(x)))
    n_probe = int(min(n_probe, max(x.shape[0], 50)))
    for c, k in [(scales[0], k) for k in counts] + [(c, counts[-1]) for c in scales[1:]]:
        y, _, _ = observed_cells(
            module, x, standardise_mode, n_probe, mode=mode, noise_scale=c, spread=spread, neighbours=k,
            size_factors=size_factors, rng=rng,
        )
        if float(np.median(nearest_distances(x, quantile_map(y, x, rng)))) >= target:
            return float(c), int(k)
    warnings.warn(
        f"noise_scale/neighbours='auto' reached the largest values tried ({scales[-1]}, {counts[-1]}) "
        "before simulated cells were as far from the training cells as these are from each other; "
        "the simulated cells may sit closer to the training cells than new real cells would. Check "
        "with scgrn.metrics.simulation_closeness, or raise `spread`.",
        UserWarning,
        stacklevel=_user_stacklevel(),  # the user's line, whichever public entry they called
    )
    return float(scales[-1]), int(counts[-1])


def sample_cells(
    module, x, standardise_mode, n_obs, *, mode, noise_scale, spread, neighbours, size_factors, rng
) -> SimulatedCells:
    """Resolve ``"auto"`` settings (:func:`resolve_sampling`), then draw ``n_obs`` cells
    (:func:`observed_cells`), all from ``rng``, in that order."""
    if size_factors is not None:
        size_factors = np.asarray(size_factors, dtype=np.float64)
        if size_factors.shape != (x.shape[0],) or not (np.isfinite(size_factors) & (size_factors > 0)).all():
            raise ValueError(
                f"size_factors must be {x.shape[0]} positive finite numbers (one per training cell), "
                f"got an array of shape {size_factors.shape} or with zero, negative or non-finite values."
            )
    noise_scale, neighbours = resolve_sampling(
        module, x, standardise_mode, noise_scale, neighbours, mode=mode, spread=spread,
        size_factors=size_factors, rng=rng,
    )
    values, counts, source = observed_cells(
        module, x, standardise_mode, n_obs, mode=mode, noise_scale=noise_scale, spread=spread,
        neighbours=neighbours, size_factors=size_factors, rng=rng,
    )
    return SimulatedCells(values, counts, source, noise_scale, neighbours)


def simulated_anndata(values: np.ndarray, source, var_names, params: dict):
    """:meth:`DeepSEM.simulate`'s output: float32 ``X``, ``obs['simulated']``,
    ``obs['source_cell']`` (``source``: an array or ``-1``) and ``uns['simulate']``."""
    obs = pd.DataFrame(
        {"simulated": True, "source_cell": source}, index=pd.Index([f"sim-{i}" for i in range(len(values))])
    )
    sim = AnnData(np.asarray(values, dtype=np.float32), obs=obs, var=pd.DataFrame(index=pd.Index(var_names).copy()))
    sim.uns["simulate"] = {"method": "deepsem", "version": __version__, "params": params}
    return sim
