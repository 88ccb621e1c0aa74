"""Per-batch workers of ``tl.grnboost2`` / ``tl.genie3`` and their parallel runner.

A worker ``fn(shared, targets)`` returns the importances (``len(targets)`` x regulators) and
the trees fitted per target for a batch of targets; :func:`_run_targets` spreads the batches
over joblib workers or a dask.distributed client and :func:`_tree_grn` assembles the genes x
genes matrix.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from ._tree_kernels import _gbm_batch, _random_stream


# ============================================================================================
# per-batch workers
# ============================================================================================
def _grnboost2_numba_batch(shared: dict, targets: np.ndarray):
    """Importances (len(targets) x n_regulators) and tree counts for a batch of targets."""
    X, Xr = shared["X"], shared["Xr"]
    p = shared["params"]
    Y = np.ascontiguousarray(X[:, targets].T, dtype=np.float64)
    excl = shared["excl"][targets]
    out = np.zeros((len(targets), Xr.shape[1]))
    n_trees = np.zeros(len(targets), dtype=np.int64)
    U, S = shared["U"], shared["S"]
    todo = np.arange(len(targets))
    while True:
        o = np.zeros((len(todo), Xr.shape[1]))
        nt = np.zeros(len(todo), dtype=np.int64)
        ok = np.zeros(len(todo), dtype=np.bool_)
        _gbm_batch(Xr, shared["orders"], shared["vsorted"], np.ascontiguousarray(Y[todo]),
                   np.ascontiguousarray(excl[todo]), U, S, shared["n_inbag"], p["learning_rate"],
                   p["n_estimators"], p["max_depth"], p["max_features"],
                   p["early_stop_window_length"], o, nt, ok)
        out[todo[ok]] = o[ok]
        n_trees[todo[ok]] = nt[ok]
        todo = todo[~ok]
        if todo.size == 0:
            return out, n_trees
        # a target outlived the random numbers drawn so far: draw a longer stream
        n_iter = min(2 * U.shape[0], p["n_estimators"])
        U, S = _random_stream(p["random_state"], X.shape[0], n_iter)


class _EarlyStopMonitor:
    """arboreto's EarlyStopMonitor: stop once the mean OOB improvement over the last
    ``window_length`` boosting rounds is negative."""

    def __init__(self, window_length: int = 25):
        self.window_length = window_length

    def __call__(self, current_round, regressor, _):
        if current_round >= self.window_length - 1:
            lo = max(0, current_round - self.window_length + 1)
            return np.mean(regressor.oob_improvement_[lo : current_round + 1]) < 0
        return False


def _grnboost2_sklearn_batch(shared: dict, targets: np.ndarray):
    from sklearn.ensemble import GradientBoostingRegressor

    X, reg = shared["X"], shared["regulators"]
    p = shared["params"]
    out = np.zeros((len(targets), reg.size))
    n_trees = np.zeros(len(targets), dtype=np.int64)
    for b, j in enumerate(targets):
        keep = reg != j
        model = GradientBoostingRegressor(
            learning_rate=p["learning_rate"], n_estimators=p["n_estimators"],
            max_features=p["max_features"], subsample=p["subsample"], max_depth=p["max_depth"],
            random_state=p["random_state"],
        )
        model.fit(X[:, reg[keep]], X[:, j].astype(np.float64),
                  monitor=_EarlyStopMonitor(p["early_stop_window_length"]))
        n_trees[b] = len(model.estimators_)
        out[b, keep] = model.feature_importances_ * n_trees[b]
    return out, n_trees


def _genie3_batch(shared: dict, targets: np.ndarray):
    from sklearn.ensemble import RandomForestRegressor

    X, reg = shared["X"], shared["regulators"]
    p = shared["params"]
    out = np.zeros((len(targets), reg.size))
    n_trees = np.full(len(targets), p["n_estimators"], dtype=np.int64)
    for b, j in enumerate(targets):
        keep = reg != j
        model = RandomForestRegressor(
            n_estimators=p["n_estimators"], max_features=p["max_features"], n_jobs=1,
            random_state=p["random_state"],
        )
        model.fit(X[:, reg[keep]], X[:, j])
        out[b, keep] = model.feature_importances_
    return out, n_trees


# ============================================================================================
# running per-target work in parallel (joblib, or a dask.distributed client)
# ============================================================================================
def _resolve_n_jobs(n_jobs: int | None) -> int:
    import joblib

    if n_jobs is None:
        return max(1, joblib.cpu_count())
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero int or None (all cores), got {n_jobs!r}.")
    return int(joblib.effective_n_jobs(int(n_jobs)))


def _split(targets: np.ndarray, n_workers: int, min_batch: int = 1) -> list[np.ndarray]:
    n_batches = max(1, min(len(targets), 8 * n_workers, math.ceil(len(targets) / min_batch)))
    return [b for b in np.array_split(targets, n_batches) if b.size]


def _run_targets(
    fn: Callable,
    shared: dict,
    targets: np.ndarray,
    *,
    n_jobs: int,
    client,
    prefer: str,
    show_progress_bar: bool,
    desc: str,
    min_batch: int = 1,
):
    """Run ``fn(shared, batch)`` over batches of targets; results in target order."""
    results: dict[int, tuple] = {}
    with tqdm(total=len(targets), desc=desc, unit="target", disable=not show_progress_bar) as bar:
        if client is not None:
            try:
                from distributed import as_completed
            except ImportError as err:  # pragma: no cover - only without dask installed
                raise ImportError(
                    "client= needs dask.distributed: `pip install 'dask[distributed]'`."
                ) from err
            n_workers = max(1, sum(client.ncores().values()))
            batches = _split(targets, n_workers, min_batch)
            [shared_f] = client.scatter([shared], broadcast=True)
            futures = {client.submit(fn, shared_f, b, pure=False): i for i, b in enumerate(batches)}
            for fut in as_completed(list(futures)):
                results[futures[fut]] = fut.result()
                bar.update(len(batches[futures[fut]]))
        else:
            batches = _split(targets, n_jobs, min_batch)
            if n_jobs == 1:
                for i, b in enumerate(batches):
                    results[i] = fn(shared, b)
                    bar.update(len(b))
            else:
                from joblib import Parallel, delayed

                def _job(i, b):
                    return i, fn(shared, b)

                parallel = Parallel(n_jobs=n_jobs, prefer=prefer, return_as="generator_unordered")
                for i, res in parallel(delayed(_job)(i, b) for i, b in enumerate(batches)):
                    results[i] = res
                    bar.update(len(batches[i]))
    out = np.concatenate([results[i][0] for i in range(len(batches))])
    n_trees = np.concatenate([results[i][1] for i in range(len(batches))])
    return out, n_trees


def _tree_grn(X: np.ndarray, regulators: np.ndarray, fn: Callable, shared: dict, **run_kwargs):
    """Genes x genes matrix (row = regulator) from per-target importances; constant targets
    (nothing to learn) and a lone regulator as its own target (no other regulator to learn
    from) get zero in-edges without fitting."""
    n_genes = X.shape[1]
    W = np.zeros((n_genes, n_genes), dtype=np.float32)
    n_trees = np.zeros(n_genes, dtype=np.int64)
    variable = np.flatnonzero(X.max(axis=0) > X.min(axis=0))
    if regulators.size == 1:
        variable = variable[variable != regulators[0]]
    if variable.size:
        imp, nt = _run_targets(fn, shared, variable, **run_kwargs)
        W[np.ix_(regulators, variable)] = imp.T
        n_trees[variable] = nt
    return W, n_trees
