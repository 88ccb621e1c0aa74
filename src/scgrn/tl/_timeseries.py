"""Time-series GRN baselines: time-lagged correlation and a dynGENIE3-style tree method.

Both read an AnnData with one observation per (series, time point) — ``obs[series_key]``
names the series (replicate, experiment), ``obs[time_key]`` the time — and write a genes x
genes score matrix to ``adata.varp[key_added]`` (row = regulator, column = target,
diagonal 0), like every scgrn tool.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from anndata import AnnData
from scanpy import logging as logg

from .. import __version__
from .._validate import (
    check_adata,
    check_bool,
    check_copy,
    check_float,
    check_int,
    check_key,
    check_random_state,
    check_tfs,
    expression_matrix,
)
from ._correlation import warn_if_empty
from ._write import write_grn

__all__ = ["time_lagged_correlation", "dyngenie3"]


# --------------------------------------------------------------------------------------------
# AnnData -> (series, time, genes) tensor
# --------------------------------------------------------------------------------------------
@dataclass
class SeriesTensor:
    """Expression arranged as ``x[series, time, gene]`` plus the time grid of every series."""

    x: np.ndarray  # (S, T, G) float32
    times: np.ndarray  # (S, T) float64, strictly increasing along T
    series: list[str]  # series labels, in the order of x
    var_names: pd.Index


def series_tensor(
    adata: AnnData,
    *,
    series_key: str | None = "series",
    time_key: str = "time",
    layer: str | None = None,
    min_times: int = 3,
    what: str = "adata",
) -> SeriesTensor:
    """Arrange ``adata`` (one observation per series and time point) as ``(S, T, G)``.

    Series are ordered by the categories of ``obs[series_key]`` (if categorical) or sorted;
    time points by ``obs[time_key]``. Every series must have the same number ``T`` of time
    points, strictly increasing (no duplicated time within a series); the time values may
    differ between series. ``series_key=None`` treats all observations as one series.
    ``what`` names the AnnData in the messages (e.g. ``"train[1][0]"`` for a training set).

    Raises
    ------
    ValueError
        Missing keys, NaN times, unequal numbers of time points, duplicated times, or fewer
        than ``min_times`` time points; each message names the fix.
    """
    check_adata(adata, what)
    min_times = check_int("min_times", min_times, min=2)
    obs = "obs" if what == "adata" else f"{what}.obs"
    if time_key not in adata.obs:
        raise ValueError(
            f"{obs}[{time_key!r}] is missing. Time-series tools need one observation per "
            "(series, time point) with the time in adata.obs; pass time_key=<column name>."
        )
    if series_key is not None and series_key not in adata.obs:
        raise ValueError(
            f"{obs}[{series_key!r}] is missing. Pass series_key=<column naming the series / "
            "replicate> or series_key=None if all observations form a single time series."
        )
    X = expression_matrix(adata, layer=layer, min_cells=min_times, expect=None, what=what)
    time = pd.to_numeric(adata.obs[time_key], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(time).all():
        raise ValueError(f"obs[{time_key!r}] must be numeric without NaN (the time of each observation).")
    if series_key is None:
        codes = np.zeros(adata.n_obs, dtype=np.int64)
        labels = ["0"]
    else:
        col = adata.obs[series_key]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.cat.remove_unused_categories()
            codes = col.cat.codes.to_numpy().astype(np.int64)
            labels = [str(c) for c in col.cat.categories]
        else:
            codes, uniques = pd.factorize(col, sort=True)
            labels = [str(u) for u in uniques]
        if (codes < 0).any():
            raise ValueError(f"obs[{series_key!r}] has missing values; every observation needs a series.")
    counts = np.bincount(codes, minlength=len(labels))
    if (counts != counts[0]).any():
        bad = {labels[i]: int(c) for i, c in enumerate(counts) if c != counts[0]}
        raise ValueError(
            f"Every series must have the same number of time points; series {labels[0]!r} has "
            f"{int(counts[0])} but {bad}. Subset to a common time grid first."
        )
    n_series, n_times = len(labels), int(counts[0])
    if n_times < min_times:
        raise ValueError(f"Each series has {n_times} time point(s); at least {min_times} are needed.")
    order = np.lexsort((time, codes))
    x = X[order].reshape(n_series, n_times, adata.n_vars)
    times = time[order].reshape(n_series, n_times)
    if (np.diff(times, axis=1) <= 0).any():
        if series_key is None:
            raise ValueError(_one_series_repeats_times(adata, time, time_key))
        raise ValueError(
            f"Some series have duplicated time points in obs[{time_key!r}]; each (series, time) "
            "pair must occur once. Average replicates at the same time first, or give them "
            f"different series labels in obs[{series_key!r}]."
        )
    return SeriesTensor(
        x=np.ascontiguousarray(x), times=times, series=labels, var_names=pd.Index(adata.var_names)
    )


def _series_columns(adata: AnnData, time: np.ndarray, time_key: str) -> list[str]:
    """The columns of ``adata.obs`` that could name the series: 2 or more labels, none missing,
    and every (label, time) pair once. ``'series'``-like names come first."""
    found = []
    for name in adata.obs.columns:
        col = adata.obs[name]
        if name == time_key or col.isna().any() or pd.api.types.is_float_dtype(col):
            continue
        pairs = pd.DataFrame({"series": col.to_numpy(), "time": time})
        try:
            if 2 <= col.nunique() < adata.n_obs and not pairs.duplicated().any():
                found.append(str(name))
        except TypeError:  # unhashable values (lists, dicts) name no series
            continue
    return sorted(found, key=lambda c: not any(w in c.lower() for w in ("series", "replicate", "experiment")))


def _one_series_repeats_times(adata: AnnData, time: np.ndarray, time_key: str) -> str:
    """The message for ``series_key=None`` when time points repeat: several series are mixed."""
    values, counts = np.unique(time, return_counts=True)
    t0, c0 = values[np.argmax(counts)], int(counts.max())
    head = (
        f"series_key is None, so all {adata.n_obs} observations form one time series, but time points "
        f"repeat in obs[{time_key!r}] (e.g. {t0:g} occurs {c0} times): the data hold several series."
    )
    found = _series_columns(adata, time, time_key)
    if found:
        return (
            f"{head} Pass the column that names the series: series_key={found[0]!r}"
            + (f" (other candidates in adata.obs: {found[1:4]})." if len(found) > 1 else ".")
        )
    return (
        f"{head} Add a column naming each observation's series (replicate, experiment), e.g. "
        "`adata.obs['series'] = ...`, and pass series_key='series'; or average the replicates at "
        "the same time first."
    )


def _check_call(adata: AnnData, key_added, copy) -> tuple[str, bool]:
    """What every time-series tool checks first: an AnnData, a writable key, a possible copy."""
    check_adata(adata)
    return check_key("key_added", key_added), check_copy(adata, copy)


def _finish(adata: AnnData, key_added: str, grn: np.ndarray, record: dict, start, copy: bool):
    """The one write, after everything is computed."""
    grn = np.asarray(grn, dtype=np.float32)
    np.fill_diagonal(grn, 0.0)
    warn_if_empty(grn, record["method"])
    return write_grn(adata, grn, record, key_added=key_added, copy=copy, start=start)


# --------------------------------------------------------------------------------------------
# time-lagged correlation
# --------------------------------------------------------------------------------------------
def time_lagged_correlation(
    adata: AnnData,
    *,
    max_lag: int = 1,
    series_key: str | None = "series",
    time_key: str = "time",
    layer: str | None = None,
    absolute: bool = True,
    key_added: str = "time_lagged_correlation",
    copy: bool = False,
) -> AnnData | None:
    """Score ``i -> j`` by the correlation of ``x_i(t)`` with ``x_j(t + lag)``.

    For each lag ``1..max_lag`` (in time-point steps) the pairs ``(x_i(t), x_j(t + lag))``
    are pooled over all series (never across a series boundary) and their Pearson
    correlation is computed for all gene pairs at once (one matrix product). The score is
    the correlation with the largest magnitude over the lags (its absolute value if
    ``absolute``). Unlike plain correlation the matrix is not symmetric: the regulator is
    the gene that moves first.

    Parameters
    ----------
    adata
        One observation per (series, time point); see ``series_key`` / ``time_key``.
    max_lag
        Largest lag, in time points (at most ``T - 2``).
    series_key
        ``obs`` column naming the series; ``None``: a single series.
    time_key
        ``obs`` column with the (numeric) time.
    layer
        Read this layer instead of ``adata.X``.
    absolute
        Store ``|correlation|`` (a ranking of edges regardless of sign).
    key_added
        Where results go.
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Writes ``adata.varp[key_added]`` (float32
    genes x genes, row = regulator, column = target, diagonal 0) and ``adata.uns[key_added]``
    (``method``, ``version``, ``params``).

    Examples
    --------
    >>> import scgrn
    >>> adata, net = scgrn.datasets.planted_time_series(n_genes=10, n_series=4)
    >>> scgrn.tl.time_lagged_correlation(adata)
    >>> adata.varp["time_lagged_correlation"].shape
    (10, 10)
    """
    key_added, copy = _check_call(adata, key_added, copy)
    max_lag = check_int("max_lag", max_lag, min=1)
    absolute = check_bool("absolute", absolute)
    start = logg.info("computing time-lagged correlation")
    st = series_tensor(adata, series_key=series_key, time_key=time_key, layer=layer)
    x = st.x.astype(np.float64)
    n_times = x.shape[1]
    if not 1 <= max_lag <= n_times - 2:
        raise ValueError(f"max_lag={max_lag!r} must be an integer in [1, {n_times - 2}] (T - 2).")
    best = np.zeros((x.shape[2], x.shape[2]))
    for lag in range(1, int(max_lag) + 1):
        a = x[:, :-lag].reshape(-1, x.shape[2])
        b = x[:, lag:].reshape(-1, x.shape[2])
        a = a - a.mean(0)
        b = b - b.mean(0)
        sa = np.sqrt((a * a).sum(0))
        sb = np.sqrt((b * b).sum(0))
        c = (a.T @ b) / np.maximum(np.outer(sa, sb), 1e-12)
        best = np.where(np.abs(c) > np.abs(best), c, best)
    grn = np.abs(best) if absolute else best
    record = {
        "method": "time_lagged_correlation",
        "version": __version__,
        "params": {
            "max_lag": int(max_lag),
            "absolute": bool(absolute),
            "series_key": "" if series_key is None else series_key,
            "time_key": time_key,
            "layer": "X" if layer is None else layer,
        },
    }
    return _finish(adata, key_added, grn, record, start, copy)


# --------------------------------------------------------------------------------------------
# dynGENIE3-style random forests
# --------------------------------------------------------------------------------------------
def estimate_decay_rates(x: np.ndarray, times: np.ndarray) -> np.ndarray:
    """dynGENIE3's data-driven decay rates, one per gene (vectorised over series and genes).

    In each series, ``x_j(t)`` is assumed to decay as ``A exp(-alpha t) + C_min`` between its
    highest and lowest value, ``C_min`` being the smallest value in the whole data set;
    ``alpha_j`` is the largest estimate over the series (as in dynGENIE3).
    """
    c_min = x.min()
    i_min = x.argmin(axis=1)  # (S, G)
    i_max = x.argmax(axis=1)
    x_min = np.take_along_axis(x, i_min[:, None, :], axis=1)[:, 0]
    x_max = np.take_along_axis(x, i_max[:, None, :], axis=1)[:, 0]
    t_min = np.take_along_axis(times, i_min, axis=1)
    t_max = np.take_along_axis(times, i_max, axis=1)
    num = np.log(np.maximum(x_max - c_min, 1e-6)) - np.log(np.maximum(x_min - c_min, 1e-6))
    den = np.abs(t_min - t_max)
    alpha = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return alpha.max(axis=0)


def dyngenie3(
    adata: AnnData,
    *,
    tfs=None,
    alpha: str | float | np.ndarray = "from_data",
    n_estimators: int = 500,
    max_features: str | float | int = "sqrt",
    series_key: str | None = "series",
    time_key: str = "time",
    layer: str | None = None,
    n_jobs: int = 1,
    key_added: str = "dyngenie3",
    random_state: int = 0,
    show_progress_bar: bool | None = None,
    copy: bool = False,
) -> AnnData | None:
    """dynGENIE3-style GRN from time series (Huynh-Thu & Geurts, Sci. Rep. 2018).

    For every target ``j`` a random forest predicts the finite-difference derivative with a
    decay term, ``(x_j(t_{k+1}) - x_j(t_k)) / (t_{k+1} - t_k) + alpha_j x_j(t_k)``, from the
    values of all candidate regulators at the previous time point ``x(t_k)`` (pooled over all
    series, never across a series boundary). The response is scaled to unit variance and the
    weight of ``i -> j`` is the forest's mean-decrease-in-impurity importance of ``x_i`` (so a
    target's weights sum to the variance fraction its forest explains, as in GENIE3).
    This re-implements the method's recipe with scikit-learn's random forest; it is not the
    authors' code (their defaults: 1000 trees, ``K = sqrt``).

    Parameters
    ----------
    adata
        One observation per (series, time point).
    tfs
        Candidate regulators (default: every gene); other rows are 0. A boolean mask over
        ``adata.var_names`` (e.g. ``adata.var['is_tf']``) selects the genes where it is ``True``.
    alpha
        Decay rates: ``"from_data"`` (dynGENIE3's estimate, see
        :func:`~scgrn.tl._timeseries.estimate_decay_rates`), one number for all genes, or an
        array with one rate per gene.
    n_estimators
        Trees per target.
    max_features
        Features tried at each split (scikit-learn semantics; dynGENIE3's ``K``).
    series_key, time_key, layer
        Where the series, the time and the expression are.
    n_jobs
        Parallel jobs of each forest.
    key_added
        Where results go.
    random_state
        Seed of the forests; ``None`` draws a fresh seed, recorded in ``uns``.
    show_progress_bar
        Progress bar over targets (``None``: ``scgrn.settings.show_progress_bar``).
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Writes ``adata.varp[key_added]`` (float32,
    row = regulator, column = target, diagonal 0) and ``adata.uns[key_added]`` (``method``,
    ``version``, ``params``, ``alphas``, ``tfs`` if given).

    Examples
    --------
    >>> import scgrn
    >>> adata, net = scgrn.datasets.planted_time_series(n_genes=8, n_series=3)
    >>> scgrn.tl.dyngenie3(adata, n_estimators=10, show_progress_bar=False)
    >>> adata.varp["dyngenie3"].shape
    (8, 8)
    """
    from sklearn.ensemble import RandomForestRegressor
    from tqdm.auto import tqdm

    from .._settings import resolve_progress_bar
    from ._trees import _check_max_features

    key_added, copy = _check_call(adata, key_added, copy)
    show_progress_bar = resolve_progress_bar(show_progress_bar)
    n_estimators = check_int("n_estimators", n_estimators, min=1)
    max_features = _check_max_features(max_features)
    n_jobs = check_int("n_jobs", n_jobs, allow_none=True)
    if n_jobs == 0:
        raise ValueError("n_jobs must be a non-zero integer (-1: all cores) or None, got 0.")
    seed = check_random_state(random_state)
    if isinstance(alpha, str):
        if alpha != "from_data":
            raise ValueError(f"alpha={alpha!r}: use 'from_data', a number or one rate per gene.")
    elif np.ndim(alpha) == 0:
        alpha = check_float("alpha", alpha, min=0)
    start = logg.info("running dynGENIE3-style random forests")
    st = series_tensor(adata, series_key=series_key, time_key=time_key, layer=layer)
    tf_list = check_tfs(tfs, adata.var_names)
    x = st.x.astype(np.float64)
    n_genes = x.shape[2]
    if isinstance(alpha, str):
        alphas = estimate_decay_rates(x, st.times)
    else:
        try:
            alphas = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (n_genes,)).copy()
        except ValueError:
            raise ValueError(
                f"alpha must be 'from_data', one number or one rate per gene ({n_genes}), got "
                f"shape {np.shape(alpha)}."
            ) from None
        if not np.isfinite(alphas).all() or (alphas < 0).any():
            raise ValueError("alpha must be finite and non-negative.")

    dt = np.diff(st.times, axis=1)[:, :, None]  # (S, T-1, 1)
    y_all = ((x[:, 1:] - x[:, :-1]) / dt + alphas * x[:, :-1]).reshape(-1, n_genes)
    inputs = x[:, :-1].reshape(-1, n_genes)
    reg_idx = (
        np.arange(n_genes) if tf_list is None else np.flatnonzero(adata.var_names.isin(tf_list))
    )
    grn = np.zeros((n_genes, n_genes))
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**31 - 1, size=n_genes)
    for j in tqdm(range(n_genes), disable=not show_progress_bar, desc="targets"):
        cand = reg_idx[reg_idx != j]
        if cand.size == 0:
            continue
        y = y_all[:, j]
        sd = y.std()
        if sd == 0:
            continue
        forest = RandomForestRegressor(
            n_estimators=n_estimators, max_features=max_features, random_state=int(seeds[j]), n_jobs=n_jobs
        )
        forest.fit(inputs[:, cand], y / sd)
        imp = np.mean(
            [t.tree_.compute_feature_importances(normalize=False) for t in forest.estimators_], axis=0
        )
        grn[cand, j] = imp
    record = {
        "method": "dyngenie3",
        "version": __version__,
        "params": {
            "alpha": alpha if isinstance(alpha, str) else "given",
            "n_estimators": int(n_estimators),
            "max_features": str(max_features),
            "series_key": "" if series_key is None else series_key,
            "time_key": time_key,
            "layer": "X" if layer is None else layer,
            "n_jobs": "None" if n_jobs is None else int(n_jobs),
            "random_state": seed,
        },
        "alphas": alphas.astype(np.float64),
    }
    if tf_list is not None:
        record["tfs"] = list(tf_list)
    return _finish(adata, key_added, grn, record, start, copy)
