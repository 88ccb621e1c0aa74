"""``scgrn.tl.simulate``: simulate cells through a DeepSEM GRN; ``tl.simulate_baseline``:
two simple reference simulators (per-gene independent resampling, Gaussian copula)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from anndata import AnnData
from scanpy import logging as logg
from scipy import sparse
from scipy.special import ndtr, ndtri

from .. import __version__
from .._settings import resolve_device, resolve_progress_bar
from .._validate import (
    _to_dense_float32,
    check_adata,
    check_bool,
    check_choice,
    check_int,
    check_key,
    check_random_state,
    expression_matrix,
    looks_like_counts,
    looks_linear_scale,
    obs_groups,
    warn_linear_scale,
)
from ..models import DeepSEM
from ..models._deepsem_config import make_config
from ..models._simulate import (
    DEFAULT_SPREAD,
    check_sampling,
    log_normalise,
    quantile_map,
)

__all__ = ["simulate", "simulate_baseline"]

SIMULATE = "simulate"
SCALES = ("auto", "counts", "log")
#: fewest cells a group may have
MIN_GROUP_CELLS = 2
BASELINES = ("independent", "copula")
#: DeepSEM settings for simulation, under any the user passes: one member (simulation
#: needs no GRN ensemble), a faster MLP learning rate and smaller batches, because a
#: simulator must reconstruct its cells well, which the GRN presets' 30 epochs do not reach;
#: the narrow exact MLP (hidden 32, no interpolation grid) is the benchmarked simulator
SIMULATION_DEFAULTS = dict(n_models=1, lr_nn=1e-3, batch_size=32, hidden_dim=32, mlp_grid=None, max_steps=None)
#: ``n_epochs=None``: enough epochs for about this many optimiser steps (30 to 300 epochs)
AUTO_STEPS = 1000


def _auto_epochs(n_cells: int, batch_size: int) -> int:
    steps_per_epoch = max(1, n_cells // min(batch_size, n_cells))
    return int(np.clip(np.ceil(AUTO_STEPS / steps_per_epoch), 30, 300))


def _in_memory(adata: AnnData) -> AnnData:
    """A backed AnnData loaded into memory: simulation reads every cell densely anyway (its
    output is as large), and the input on disk is left as it is."""
    return adata.to_memory() if adata.isbacked else adata


def _read_input(adata: AnnData, *, layer: str | None, scale: str) -> tuple[np.ndarray, str]:
    """Validated dense matrix and its scale (``"counts"`` or ``"log"``), checked."""
    check_adata(adata)
    check_choice("scale", scale, SCALES)
    stored = adata.layers[layer] if layer is not None and layer in adata.layers else adata.X
    nonzero = np.asarray((stored != 0).sum(0)).ravel() > 0 if stored is not None else None
    if nonzero is not None and 0 < nonzero.sum() < adata.n_vars:
        # genes that are zero in every cell are allowed here (they simulate as zeros): check the rest
        expression_matrix(adata[:, nonzero], layer=layer, min_cells=MIN_GROUP_CELLS, expect=None)
        x = _to_dense_float32(stored)
    else:
        x = expression_matrix(adata, layer=layer, min_cells=MIN_GROUP_CELLS, expect=None)
    where = f"adata.layers[{layer!r}]" if layer is not None else "adata.X"
    if scale == "auto":
        scale = "counts" if looks_like_counts(x) else "log"
    if scale == "counts":
        if (x < 0).any() or not np.all(x == np.round(x)):
            raise ValueError(
                f"scale='counts' but {where} has negative or non-integer values. Pass raw counts "
                "(e.g. layer='counts') or scale='log' for log-normalised data."
            )
    else:
        if (x < 0).any():
            warnings.warn(
                f"{where} has negative values: it may be scaled (z-scored) rather than "
                "log-normalised. The simulated cells will be on the same scale; for realistic "
                "cells simulate from log-normalised expression (e.g. `adata.raw.to_adata()` or a "
                "layer before `sc.pp.scale`) or from raw counts.",
                UserWarning,
                stacklevel=3,
            )
        if x.size and looks_linear_scale(float(x.max()), float(x.min()), False):
            warn_linear_scale(where, float(x.max()), stacklevel=3)
        if looks_like_counts(x):
            warnings.warn(
                f"{where} looks like raw counts but scale='log' was given; the output will be "
                "treated as log-normalised. Use scale='auto' or 'counts' for counts.",
                UserWarning,
                stacklevel=3,
            )
    return x, scale


def _groups(adata: AnnData, groupby: str | None) -> tuple[list, list[np.ndarray]]:
    if groupby == "simulated":
        raise ValueError(
            "groupby='simulated' names the column the output uses to flag simulated cells "
            "(obs['simulated'] = True), so the group labels would replace the flag. Copy the column "
            "under another name first, e.g. `adata.obs['group'] = adata.obs['simulated']`, and pass "
            "groupby='group'."
        )
    if groupby is None:
        return [None], [np.arange(adata.n_obs)]
    return obs_groups(adata, groupby, min_cells=MIN_GROUP_CELLS)


def _check_n_obs(n_obs, groupby: str | None) -> None:
    """``n_obs`` before any work: ``None``, a positive integer, or (with ``groupby``) a dict."""
    if isinstance(n_obs, dict):
        if groupby is None:
            raise ValueError(
                f"n_obs={n_obs!r} is a dict of cells per group, which needs groupby= (the column of "
                "adata.obs naming the groups, e.g. groupby='cell_type'). Without groupby, pass the "
                "number of cells: n_obs=100."
            )
    elif n_obs is not None:
        check_int("n_obs", n_obs, min=1)


def _allocate(n_obs, groups: list, sizes: list[int]) -> list[int]:
    """Cells to simulate per group: ``None`` = as many as real, an int split in proportion
    to the group sizes (largest remainders), or a ``{group: n}`` mapping."""
    if n_obs is None:
        return list(sizes)
    if isinstance(n_obs, dict):
        missing = [g for g in n_obs if g not in groups]
        if missing:
            raise ValueError(f"n_obs names unknown group(s) {missing}; groups are {groups}.")
        out = [check_int(f"n_obs[{g!r}]", n_obs.get(g, 0), min=0) for g in groups]
        if sum(out) == 0:
            raise ValueError("n_obs asks for no cell in any group; give at least one group a positive count.")
        return out
    n_obs = check_int("n_obs", n_obs, min=1)
    share = np.asarray(sizes, dtype=float) / sum(sizes) * n_obs
    out = np.floor(share).astype(int)
    out[np.argsort(-(share - out))[: n_obs - out.sum()]] += 1
    return out.tolist()


def _counts_from_log(
    y: np.ndarray, library: np.ndarray, target_sum: float, reference: np.ndarray, calibrate: bool, rng
) -> np.ndarray:
    """Log-normalised simulated cells -> integer counts with each cell's library size.

    Expected counts ``expm1(y) * library / target_sum``; with ``calibrate`` each gene takes
    the training cells' counts by the rank of its expected count, else a Poisson draw.
    """
    rate = np.expm1(np.clip(y, 0, None)) * (library / target_sum)[:, None]
    if calibrate:
        return quantile_map(rate, reference, rng)
    return rng.poisson(rate).astype(np.float64)


def _assemble(adata, parts, groups, groupby, scale, x_dtype, sparse_in, record, key_added, obs_extra=None):
    x = np.concatenate([p for p in parts], axis=0) if parts else np.zeros((0, adata.n_vars))
    if scale == "counts":
        x = np.rint(x)
        dtype = x_dtype if np.issubdtype(x_dtype, np.integer) else np.float32
    else:
        dtype = np.float32
    x = x.astype(dtype)
    n = x.shape[0]
    obs = pd.DataFrame({"simulated": np.ones(n, dtype=bool)}, index=pd.Index([f"sim-{i}" for i in range(n)]))
    if groupby is not None:
        labels = np.concatenate([[g] * len(p) for g, p in zip(groups, parts)]) if parts else []
        obs[groupby] = pd.Categorical(labels, categories=groups)
    for k, v in (obs_extra or {}).items():
        obs[k] = v
    sim = AnnData(sparse.csr_matrix(x) if sparse_in else x, obs=obs, var=adata.var.copy())
    sim.uns[key_added] = record
    return sim


def simulate(
    adata: AnnData,
    *,
    n_obs: int | dict | None = None,
    groupby: str | None = None,
    layer: str | None = None,
    scale: str = "auto",
    mode: str = "posterior",
    noise_scale: float | str = "auto",
    spread: float = DEFAULT_SPREAD,
    neighbours: int | str = "auto",
    technical_noise: str = "auto",
    calibrate: bool = True,
    preset: str = "default",
    key_added: str = SIMULATE,
    random_state: int = 0,
    device: str = "auto",
    show_progress_bar: bool | None = None,
    **hyperparameters,
) -> AnnData:
    """Simulate realistic cells through a learned GRN (DeepSEM's "scRNA-seq simulation").

    A DeepSEM model is trained on the cells (one model **per group** when ``groupby`` is
    given, so every cell type gets its own GRN, as in the DeepSEM paper); each simulated
    cell starts from a training cell ``s`` of its group, perturbs the latent
    ``z = mu_s + noise_scale * (sigma_s * n + spread * (mu_t - mu_u) / sqrt(2))`` (the
    paper's ``mu + sigma * n``, optionally plus a data-shaped part: ``t, u`` are two random
    training cells of the group), where ``mu_s`` averages the latent means of ``s`` and its
    nearest training cells (``neighbours``) so that the source's own technical noise is
    averaged away, and is decoded through the inverse GRN layer. Fresh technical noise is
    then drawn in count space (``technical_noise``) and the cell is mapped back to the
    input's scale:

    - **log-normalised input**: the z-scoring is undone; counts are drawn around the
      decoded profile with the source cell's size factor (when the data are
      ``log1p(normalised counts)``, from which counts can be recovered) and log-normalised
      again; with ``calibrate=True`` (default) every gene then takes the training cells'
      values by rank (the model decides which cells are high or low in each gene, jointly
      across genes; the training cells decide the values, so zeros and the marginal of
      every gene are reproduced).
    - **raw counts**: the model is trained on ``log1p(counts / library * median library)``;
      a simulated cell's counts are drawn around ``expm1(y) * library / median``, with the
      library size of its source cell; with ``calibrate=True`` every gene then takes the
      training cells' integer counts by rank.

    Parameters
    ----------
    adata
        Cells x genes: raw counts or log-normalised expression (``adata.X`` or ``layer``).
        Select genes first (a few hundred to ~2000; training cost grows with genes cubed).
    n_obs
        Cells to simulate: ``None`` (as many as the real cells of each group), an int
        (split over groups in proportion to their sizes) or ``{group: n}``.
    groupby
        Column of ``adata.obs`` with the cell types; one model per group. The group label
        is copied to the simulated cells.
    layer
        Read this layer instead of ``adata.X``.
    scale
        ``"auto"`` (counts when all values are non-negative integers with a maximum above
        30, else log-normalised), ``"counts"`` or ``"log"``; checked against the data
        (negative values warn: the data may be scaled rather than log-normalised).
    mode
        ``"posterior"`` (the paper's scheme) or ``"prior"`` (``z ~ N(0, I)``, no source
        cell; library sizes drawn from the training cells).
    noise_scale
        Multiplies the latent noise; ``"auto"`` picks, per group, the smallest value (and,
        with ``neighbours="auto"``, the fewest neighbours) for which simulated cells are (in
        median) as far from their nearest training cell as training cells are from each
        other, so the simulator does not replay its input (see
        :meth:`scgrn.models.DeepSEM.simulate`).
    spread
        Weight of the data-shaped part of the noise (0: the paper's scheme only).
    neighbours
        Training cells (the source and its nearest ones in the latent space) whose latent
        means are averaged into the source's; ``1`` uses the source alone; ``"auto"``
        chooses it per group together with ``noise_scale``.
    technical_noise
        ``"poisson"``, ``"none"`` or ``"auto"`` (Poisson when the input is counts or
        log-normalised counts whose counts can be recovered, else none); see
        :meth:`scgrn.models.DeepSEM.simulate`.
    calibrate
        Per-gene calibration to the training distribution (above).
    preset
        DeepSEM preset (:data:`scgrn.models.PRESETS`).
    key_added
        Key of the provenance record in the returned ``uns``.
    random_state
        Seed of training and sampling; the same seed gives the same cells on CPU. ``None``
        draws a fresh seed, recorded in ``uns[key_added]['params']['random_state']``.
    device
        ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.
    show_progress_bar
        Progress bar over epochs (``None``: ``scgrn.settings.show_progress_bar``).
    **hyperparameters
        Any :class:`scgrn.models.DeepSEMConfig` field (``n_models``, ``n_epochs``, ...),
        over the preset and over simulation's own defaults ``n_models=1, lr_nn=1e-3,
        batch_size=32, hidden_dim=32, mlp_grid=None`` and ``n_epochs`` for about 1000
        optimiser steps per group (30 to 300 epochs).

    Returns
    -------
    A new AnnData with ``adata``'s ``var``; ``X`` on the input's scale (float32
    log-normalised, or integer-valued counts: an integer dtype when the input had one,
    sparse when the input was sparse); ``obs['simulated'] = True``; ``obs[groupby]``
    when ``groupby`` is given; ``uns['simulate' | key_added]``: ``method``, ``version``,
    ``scale``, ``groupby``, ``groups``, ``n_obs`` per group, ``params`` (every
    hyperparameter, mode, noise scale, neighbours, calibration, seed), and per group
    ``final_loss``, ``noise_scale``, ``neighbours`` and ``technical_noise`` (as resolved)
    and ``n_epochs``.

    Examples
    --------
    >>> import scgrn
    >>> adata, _ = scgrn.datasets.krumsiek11()
    >>> adata.X = adata.X.clip(0)  # krumsiek11 has tiny negative values
    >>> sim = scgrn.tl.simulate(adata, groupby="cell_type", n_obs=200, n_models=2, n_epochs=2,
    ...                         show_progress_bar=False)
    >>> sim.shape, bool(sim.obs["simulated"].all()), sim.uns["simulate"]["scale"]
    ((200, 11), True, 'log')
    """
    # every argument is checked before the data are read or a model trained
    check_adata(adata)
    key_added = check_key("key_added", key_added)
    seed = check_random_state(random_state)
    calibrate = check_bool("calibrate", calibrate)
    bar = resolve_progress_bar(show_progress_bar)
    noise_scale, neighbours, spread = check_sampling(mode, noise_scale, neighbours, technical_noise, spread)
    dev = resolve_device(device)
    probe = {**SIMULATION_DEFAULTS, **hyperparameters}
    if probe.get("n_epochs") is None:
        probe["n_epochs"] = 1  # "auto": resolved per group below
    make_config(preset, **probe)  # unknown or out-of-range hyperparameters fail now
    _check_n_obs(n_obs, groupby)
    start = logg.info(f"simulating cells with DeepSEM (mode={mode!r})")
    adata = _in_memory(adata)
    x, scale = _read_input(adata, layer=layer, scale=scale)
    stored = adata.layers[layer] if layer is not None else adata.X
    sparse_in = sparse.issparse(stored)
    x_dtype = stored.dtype
    groups, index = _groups(adata, groupby)
    sizes = _allocate(n_obs, groups, [len(i) for i in index])
    rng = np.random.default_rng(seed)
    parts, final_loss, params, noise_used, epochs_used, technical_used, neighbours_used = [], {}, None, {}, {}, {}, {}
    for g, idx, n in zip(groups, index, sizes):
        if n == 0:
            parts.append(np.zeros((0, adata.n_vars)))
            continue
        xg = x[idx]
        if scale == "counts":
            xlog, library, target_sum = log_normalise(xg)
        else:
            xlog = xg
        hp = {**SIMULATION_DEFAULTS, **hyperparameters}
        if hp.get("n_epochs") is None:
            hp["n_epochs"] = _auto_epochs(len(idx), int(hp["batch_size"]))
        model = DeepSEM.from_array(xlog, adata.var_names, preset=preset, **hp)
        model.train(random_state=seed, device=dev, show_progress_bar=bar)
        params = model.params()
        final_loss[str(g)] = float(model.history["reconstruction"][-1].mean())
        if scale == "counts":  # log_normalise gives x = log1p(counts * s), s = target_sum / library
            size_factors = None if technical_noise == "none" else target_sum / np.where(library > 0, library, target_sum)
        else:
            size_factors = model.get_size_factors(technical_noise=technical_noise)
        cells = model.sample_cells(
            n, mode=mode, noise_scale=noise_scale, spread=spread, neighbours=neighbours,
            size_factors=size_factors, rng=rng,
        )
        y, counts, source = cells.values, cells.counts, cells.source
        noise_used[str(g)], neighbours_used[str(g)] = cells.noise_scale, cells.neighbours
        technical_used[str(g)] = "none" if size_factors is None else "poisson"
        epochs_used[str(g)] = int(hp["n_epochs"])
        if scale == "counts" and counts is not None:
            parts.append(quantile_map(counts, xg, rng) if calibrate else counts)
        elif scale == "counts":
            parts.append(_counts_from_log(y, library[source], target_sum, xg, calibrate, rng))
        elif calibrate:
            parts.append(quantile_map(y, xg, rng))
        else:
            parts.append(np.clip(y, xg.min(0), xg.max(0)))
        logg.debug(f"    group {g!r}: {len(idx)} cells -> {n} simulated")
    record = {
        "method": "deepsem",
        "version": __version__,
        "scale": scale,
        "groupby": "" if groupby is None else groupby,
        "groups": [str(g) for g in groups] if groupby is not None else [],
        "n_obs": [int(s) for s in sizes],
        "params": {
            **{k: v for k, v in (params or {}).items() if v is not None},
            "layer": "X" if layer is None else layer,
            "mode": mode,
            "noise_scale": str(noise_scale),
            "spread": float(spread),
            "neighbours": str(neighbours),
            "technical_noise": technical_noise,
            "calibrate": bool(calibrate),
            "random_state": seed,
            "models": "one per group" if groupby is not None else "one",
        },
        "final_loss": final_loss,
        "noise_scale": noise_used,
        "neighbours": neighbours_used,
        "technical_noise": technical_used,
        "n_epochs": epochs_used,
    }
    zero = ~(x != 0).any(0)
    for part in parts:  # genes never seen expressed stay zero (uncalibrated Poisson draws included)
        part[:, zero] = 0
    sim = _assemble(adata, parts, groups, groupby, scale, x_dtype, sparse_in, record, key_added)
    logg.info(
        "    finished",
        time=start,
        deep=f"returned {sim.n_obs} simulated cells x {sim.n_vars} genes ({scale}); 'uns[{key_added!r}]', provenance",
    )
    return sim


def _copula_sample(xg: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian copula: normal scores of the ranks, Ledoit-Wolf correlation, empirical marginals."""
    from sklearn.covariance import ledoit_wolf

    m = xg.shape[0]
    jitter = np.argsort(rng.random(xg.shape), axis=0)
    shuffled = np.take_along_axis(xg, jitter, axis=0)
    order = np.take_along_axis(jitter, np.argsort(shuffled, axis=0, kind="stable"), axis=0)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(m)[:, None].repeat(xg.shape[1], 1), axis=0)
    scores = ndtri((ranks + 0.5) / m)
    cov, _ = ledoit_wolf(scores)
    d = np.sqrt(np.clip(np.diag(cov), 1e-12, None))
    corr = cov / d[:, None] / d[None, :]
    vals, vecs = np.linalg.eigh(corr)
    root = vecs * np.sqrt(np.clip(vals, 0, None))
    z = rng.standard_normal((n, xg.shape[1])) @ root.T
    u = ndtr(z)
    ref = np.sort(xg, axis=0)
    idx = np.minimum((u * m).astype(np.int64), m - 1)
    return np.take_along_axis(ref, idx, axis=0)


def simulate_baseline(
    adata: AnnData,
    *,
    method: str = "copula",
    n_obs: int | dict | None = None,
    groupby: str | None = None,
    layer: str | None = None,
    scale: str = "auto",
    key_added: str = SIMULATE,
    random_state: int = 0,
) -> AnnData:
    """Simulate cells with a simple reference simulator (baselines for :func:`simulate`).

    Both work on the input's own scale (counts stay integer counts) and per group:

    - ``"independent"``: every gene of every simulated cell is drawn at random from that
      gene's values in the real cells of the group (perfect marginals, no gene-gene
      dependence).
    - ``"copula"``: a Gaussian copula (scDesign2-like): normal scores of each gene's ranks
      (ties broken at random), their Ledoit-Wolf-shrunk correlation, multivariate normal
      draws mapped back through each gene's empirical quantiles.

    Parameters
    ----------
    adata
        Cells x genes, counts or log-normalised.
    method
        ``"independent"`` or ``"copula"``.
    n_obs, groupby, layer, scale, key_added, random_state
        As in :func:`simulate`.

    Returns
    -------
    A new AnnData shaped like :func:`simulate`'s output; ``uns[key_added]['method']`` is
    ``"independent"`` or ``"copula"``.

    Examples
    --------
    >>> import scgrn
    >>> adata, _ = scgrn.datasets.krumsiek11()
    >>> adata.X = adata.X.clip(0)
    >>> sim = scgrn.tl.simulate_baseline(adata, method="copula", groupby="cell_type")
    >>> sim.shape == adata.shape
    True
    """
    check_adata(adata)
    method = check_choice("method", method, BASELINES)
    key_added = check_key("key_added", key_added)
    seed = check_random_state(random_state)
    _check_n_obs(n_obs, groupby)
    adata = _in_memory(adata)
    x, scale = _read_input(adata, layer=layer, scale=scale)
    stored = adata.layers[layer] if layer is not None else adata.X
    sparse_in = sparse.issparse(stored)
    x_dtype = stored.dtype
    groups, index = _groups(adata, groupby)
    sizes = _allocate(n_obs, groups, [len(i) for i in index])
    rng = np.random.default_rng(seed)
    parts = []
    for idx, n in zip(index, sizes):
        xg = x[idx].astype(np.float64)
        if method == "independent":
            pick = rng.integers(len(idx), size=(n, xg.shape[1]))
            parts.append(np.take_along_axis(xg, pick, axis=0))
        else:
            parts.append(_copula_sample(xg, n, rng))
    record = {
        "method": method,
        "version": __version__,
        "scale": scale,
        "groupby": "" if groupby is None else groupby,
        "groups": [str(g) for g in groups] if groupby is not None else [],
        "n_obs": [int(s) for s in sizes],
        "params": {"random_state": seed, "layer": "X" if layer is None else layer},
    }
    return _assemble(adata, parts, groups, groupby, scale, x_dtype, sparse_in, record, key_added)
