"""Tree-ensemble GRN baselines: ``tl.grnboost2`` and ``tl.genie3`` (arboreto's recipes).

Both regress every target gene on the regulators (all genes, or the given TFs, minus the
target itself) and take the regressor's feature importances as the edge weights, exactly
as arboreto 0.1.6 (``arboreto.core``) does:

* GRNBoost2: :class:`sklearn.ensemble.GradientBoostingRegressor` with
  ``learning_rate=0.01``, ``n_estimators=5000``, ``max_features=0.1``, ``subsample=0.9``
  (depth-3 trees), stopped early once the mean out-of-bag improvement over the last 25
  trees is negative; the importances (sklearn normalises them to sum 1) are multiplied by
  the number of trees fitted, so targets that were learnt for longer weigh more.
* GENIE3: :class:`sklearn.ensemble.RandomForestRegressor` with ``n_estimators=1000`` and
  ``max_features="sqrt"``; importances as sklearn returns them (sum 1 per target).

Every target's regressor is seeded with ``random_state``, as arboreto seeds every target
with its ``seed``. GRNBoost2 has two engines. ``engine="sklearn"`` runs sklearn itself.
``engine="numba"`` (default) is a re-implementation of the same algorithm (sklearn's
GradientBoostingRegressor with its depth-first BestSplitter, MSE criterion, in-bag /
out-of-bag masks and arboreto's early-stopping monitor), fed by the same NumPy random
stream: it fits the same trees for the same seed, but sorts each regulator once for all
trees instead of at every node. Floating-point sums are added in a different order, so
where two candidate splits improve the loss equally (e.g. two genes separating the same
cells) the tie can break the other way; on BEELINE mESC the per-target importances have a
Spearman correlation of about 0.98 with sklearn's. See benchmarks/grnboost2_fidelity.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numba
import numpy as np
from anndata import AnnData
from scanpy import logging as logg
from tqdm.auto import tqdm

from .._settings import resolve_progress_bar
from ._correlation import _baseline_input, _check_random_state, _mask_rows, _store

__all__ = ["grnboost2", "genie3"]

_ENGINES = ("numba", "sklearn")
#: sklearn's RAND_R_MAX (tree/_utils.pxd): the tree seed is randint(0, RAND_R_MAX)
_RAND_R_MAX = 2147483647
#: sklearn's FEATURE_THRESHOLD (tree/_partitioner.pxd), a float32
_FEATURE_THRESHOLD = np.float32(1e-7)
#: sklearn's EPSILON in tree/_tree.pyx
_EPSILON = float(np.finfo(np.float64).eps)
#: boosting iterations of random numbers drawn up front (extended when a target needs more)
_FIRST_STREAM = 128


# ============================================================================================
# numba kernels: sklearn's GradientBoostingRegressor (squared error) + BestSplitter
# ============================================================================================
@numba.njit(nogil=True, cache=True)
def _pairwise_block(a, lo, n):
    if n < 8:
        r = -0.0
        for i in range(n):
            r += a[lo + i]
        return r
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@numba.njit(nogil=True, cache=True)
def _pairwise_sum(a, lo, n):
    """NumPy's pairwise summation of ``a[lo:lo+n]`` (bit-identical to ``np.sum``).

    Written without recursion (numba cannot cache recursive functions safely).
    """
    if n <= 128:
        return _pairwise_block(a, lo, n)
    s_lo = np.empty(64, np.int64)
    s_n = np.empty(64, np.int64)
    s_stage = np.zeros(64, np.int64)
    s_left = np.empty(64, np.float64)
    top = 0
    s_lo[0] = lo
    s_n[0] = n
    while True:
        cn = s_n[top]
        if cn <= 128:
            val = _pairwise_block(a, s_lo[top], cn)
            top -= 1
            while top >= 0:
                if s_stage[top] == 0:
                    s_left[top] = val
                    s_stage[top] = 1
                    n2 = s_n[top] // 2
                    n2 -= n2 % 8
                    top += 1
                    s_lo[top] = s_lo[top - 1] + n2
                    s_n[top] = s_n[top - 1] - n2
                    s_stage[top] = 0
                    break
                val = s_left[top] + val
                top -= 1
            if top < 0:
                return val
        else:
            n2 = cn // 2
            n2 -= n2 % 8
            top += 1
            s_lo[top] = s_lo[top - 1]
            s_n[top] = n2
            s_stage[top] = 0


@numba.njit(nogil=True, cache=True)
def _rand_r(state):
    """sklearn's ``our_rand_r`` (xorshift on a uint32 state) modulo ``RAND_R_MAX + 1``."""
    s = state[0]
    if s == 0:
        s = 1
    s ^= (s << 13) & 0xFFFFFFFF
    s ^= s >> 17
    s ^= (s << 5) & 0xFFFFFFFF
    state[0] = s
    return s % (_RAND_R_MAX + 1)


@numba.njit(nogil=True, cache=True)
def _node_split(X, orders, vsorted, resid, feat_cols, samples, start, end, n_known, features,
                const_features, max_features, state, mark, stamp, fv, yv, sum_total, wn):
    """sklearn's ``node_split_best`` on ``samples[start:end]`` (unit weights, MSE).

    Returns ``(best_pos, best_column, best_threshold, n_constant_features)``; ``best_pos``
    is relative to ``start`` and equals the node size when no split is valid.
    """
    m = end - start
    n = X.shape[0]
    f_i = features.shape[0]
    n_visited = 0
    n_found = 0
    n_drawn = 0
    n_total = n_known
    best_proxy = -np.inf
    best_pos = m
    best_col = -1
    best_thr = 0.0
    for q in range(start, end):
        mark[samples[q]] = stamp
    while f_i > n_total and (n_visited < max_features or n_visited <= n_found + n_drawn):
        n_visited += 1
        f_j = n_drawn + _rand_r(state) % (f_i - n_found - n_drawn)
        if f_j < n_known:
            tmp = features[n_drawn]
            features[n_drawn] = features[f_j]
            features[f_j] = tmp
            n_drawn += 1
            continue
        f_j += n_found
        col = feat_cols[features[f_j]]
        # values of this regulator in the node, in increasing order (global presort)
        k = 0
        oc = orders[col]
        vc = vsorted[col]
        for r in range(n):
            s = oc[r]
            if mark[s] == stamp:
                fv[k] = vc[r]
                yv[k] = resid[s]
                k += 1
        if fv[m - 1] <= fv[0] + _FEATURE_THRESHOLD:
            tmp = features[f_j]
            features[f_j] = features[n_total]
            features[n_total] = tmp
            n_found += 1
            n_total += 1
            continue
        f_i -= 1
        tmp = features[f_i]
        features[f_i] = features[f_j]
        features[f_j] = tmp
        pos = 0
        sum_left = 0.0
        wl = 0.0
        p = 0
        while p < m:
            p += 1
            while p < m and fv[p] <= fv[p - 1] + _FEATURE_THRESHOLD:
                p += 1
            if p >= m:
                break
            if (p - pos) <= (m - p):
                for q in range(pos, p):
                    sum_left += yv[q]
                    wl += 1.0
            else:
                sum_left = sum_total
                wl = wn
                for q in range(m - 1, p - 1, -1):
                    sum_left -= yv[q]
                    wl -= 1.0
            pos = p
            wr = wn - wl
            sum_right = sum_total - sum_left
            proxy = sum_left * sum_left / wl + sum_right * sum_right / wr
            if proxy > best_proxy:
                best_proxy = proxy
                best_pos = p
                best_col = col
                best_thr = np.float64(fv[p - 1]) / 2.0 + np.float64(fv[p]) / 2.0
    for q in range(n_known):
        features[q] = const_features[q]
    for q in range(n_known, n_known + n_found):
        const_features[q] = features[q]
    return best_pos, best_col, best_thr, n_total


@numba.njit(nogil=True, cache=True)
def _build_tree(X, orders, vsorted, resid, feat_cols, samples, n_inbag, max_depth, max_features,
                seed, mark, stamp, fv, yv, t_feat, t_thr, t_left, t_right, t_value, t_imp, t_w,
                features, const_features):
    """sklearn's DepthFirstTreeBuilder; returns ``(node_count, stamp)``."""
    state = np.empty(1, dtype=np.int64)
    state[0] = seed
    for q in range(feat_cols.shape[0]):
        features[q] = q
    cap = 2 * max_depth + 4
    st_start = np.empty(cap, np.int64)
    st_end = np.empty(cap, np.int64)
    st_depth = np.empty(cap, np.int64)
    st_parent = np.empty(cap, np.int64)
    st_isleft = np.empty(cap, np.int64)
    st_imp = np.empty(cap, np.float64)
    st_nconst = np.empty(cap, np.int64)
    st_start[0] = 0
    st_end[0] = n_inbag
    st_depth[0] = 0
    st_parent[0] = -1
    st_isleft[0] = 0
    st_imp[0] = np.inf
    st_nconst[0] = 0
    top = 1
    first = True
    node_count = 0
    w_root = 1.0
    while top > 0:
        top -= 1
        start = st_start[top]
        end = st_end[top]
        depth = st_depth[top]
        parent = st_parent[top]
        is_left = st_isleft[top]
        imp = st_imp[top]
        n_known = st_nconst[top]
        m = end - start
        sum_total = 0.0
        sq_total = 0.0
        wn = 0.0
        for q in range(start, end):
            yq = resid[samples[q]]
            sum_total += yq
            sq_total += yq * yq
            wn += 1.0
        is_leaf = depth >= max_depth or m < 2
        if first:
            imp = sq_total / wn - (sum_total / wn) ** 2.0
            w_root = wn
            first = False
        is_leaf = is_leaf or imp <= _EPSILON
        best_pos = m
        best_col = -1
        best_thr = 0.0
        imp_l = 0.0
        imp_r = 0.0
        nconst = n_known
        if not is_leaf:
            stamp += 1
            best_pos, best_col, best_thr, nconst = _node_split(
                X, orders, vsorted, resid, feat_cols, samples, start, end, n_known, features,
                const_features, max_features, state, mark, stamp, fv, yv, sum_total, wn)
            if best_pos < m:
                ps = start
                pe = end
                while ps < pe:
                    if np.float64(X[samples[ps], best_col]) <= best_thr:
                        ps += 1
                    else:
                        pe -= 1
                        tmp = samples[ps]
                        samples[ps] = samples[pe]
                        samples[pe] = tmp
                pos_abs = start + best_pos
                if best_pos <= (m - best_pos):
                    sl = 0.0
                    wl = 0.0
                    for q in range(start, pos_abs):
                        sl += resid[samples[q]]
                        wl += 1.0
                else:
                    sl = sum_total
                    wl = wn
                    for q in range(end - 1, pos_abs - 1, -1):
                        sl -= resid[samples[q]]
                        wl -= 1.0
                wr = wn - wl
                sr = sum_total - sl
                sq_l = 0.0
                for q in range(start, pos_abs):
                    yq = resid[samples[q]]
                    sq_l += yq * yq
                imp_l = sq_l / wl - (sl / wl) ** 2.0
                imp_r = (sq_total - sq_l) / wr - (sr / wr) ** 2.0
                improvement = (wn / w_root) * (imp - (wr / wn * imp_r) - (wl / wn * imp_l))
                if improvement + _EPSILON < 0.0:
                    is_leaf = True
            else:
                is_leaf = True
        node_id = node_count
        node_count += 1
        if parent >= 0:
            if is_left:
                t_left[parent] = node_id
            else:
                t_right[parent] = node_id
        t_value[node_id] = sum_total / wn
        t_imp[node_id] = imp
        t_w[node_id] = wn
        t_left[node_id] = -1
        t_right[node_id] = -1
        if is_leaf:
            t_feat[node_id] = -1
        else:
            t_feat[node_id] = best_col
            t_thr[node_id] = best_thr
            st_start[top] = start + best_pos
            st_end[top] = end
            st_depth[top] = depth + 1
            st_parent[top] = node_id
            st_isleft[top] = 0
            st_imp[top] = imp_r
            st_nconst[top] = nconst
            top += 1
            st_start[top] = start
            st_end[top] = start + best_pos
            st_depth[top] = depth + 1
            st_parent[top] = node_id
            st_isleft[top] = 1
            st_imp[top] = imp_l
            st_nconst[top] = nconst
            top += 1
    return node_count, stamp


@numba.njit(nogil=True, cache=True)
def _gbm_target(X, orders, vsorted, y, excl, U, S, n_inbag, learning_rate, n_estimators,
                max_depth, max_features_frac, window, imp_out):
    """GRNBoost2 for one target: returns ``(n_trees, complete)``, importances in ``imp_out``.

    ``complete`` is False when the random stream ``U``/``S`` ran out before the early stop.
    """
    n, R = X.shape
    n_feat = R - 1 if excl >= 0 else R
    feat_cols = np.empty(n_feat, np.int64)
    k = 0
    for c in range(R):
        if c != excl:
            feat_cols[k] = c
            k += 1
    max_features = max(1, int(max_features_frac * n_feat))
    raw = np.full(n, _pairwise_sum(y, 0, n) / n)
    resid = np.empty(n)
    samples = np.empty(n, np.int64)
    inbag = np.zeros(n, np.bool_)
    mark = np.zeros(n, np.int64)
    fv = np.empty(n, np.float32)
    yv = np.empty(n, np.float64)
    cap = 2 ** (max_depth + 1)
    t_feat = np.empty(cap, np.int64)
    t_thr = np.empty(cap, np.float64)
    t_left = np.empty(cap, np.int64)
    t_right = np.empty(cap, np.int64)
    t_value = np.empty(cap, np.float64)
    t_imp = np.empty(cap, np.float64)
    t_w = np.empty(cap, np.float64)
    features = np.empty(n_feat, np.int64)
    const_features = np.empty(n_feat, np.int64)
    imp_sum = np.zeros(R)
    tree_imp = np.zeros(R)
    n_rel = 0
    oob_loss = np.empty(n)
    improvement = np.zeros(n_estimators)
    prev_loss = 0.0
    stamp = 0
    n_trees = 0
    for it in range(n_estimators):
        if it >= U.shape[0]:
            imp_out[:] = 0.0
            return n_trees, False
        # sklearn's _random_sample_mask
        n_bagged = 0
        for i in range(n):
            if U[it, i] * (n - i) < (n_inbag - n_bagged):
                inbag[i] = True
                n_bagged += 1
            else:
                inbag[i] = False
        if it == 0:
            k = 0
            for i in range(n):
                if not inbag[i]:
                    d = raw[i] - y[i]
                    oob_loss[k] = 0.5 * d * d
                    k += 1
            prev_loss = 2.0 * (_pairwise_sum(oob_loss, 0, k) / k)
        k = 0
        for i in range(n):
            resid[i] = -(raw[i] - y[i])
            if inbag[i]:
                samples[k] = i
                k += 1
        node_count, stamp = _build_tree(
            X, orders, vsorted, resid, feat_cols, samples, n_inbag, max_depth, max_features,
            S[it], mark, stamp, fv, yv, t_feat, t_thr, t_left, t_right, t_value, t_imp, t_w,
            features, const_features)
        for i in range(n):
            node = 0
            while t_feat[node] >= 0:
                if np.float64(X[i, t_feat[node]]) <= t_thr[node]:
                    node = t_left[node]
                else:
                    node = t_right[node]
            raw[i] += learning_rate * t_value[node]
        if node_count > 1:
            tree_imp[:] = 0.0
            for nd in range(node_count):
                if t_feat[nd] >= 0:
                    lc = t_left[nd]
                    rc = t_right[nd]
                    tree_imp[t_feat[nd]] += (
                        t_w[nd] * t_imp[nd] - t_w[lc] * t_imp[lc] - t_w[rc] * t_imp[rc])
            for c in range(R):
                imp_sum[c] += tree_imp[c] / t_w[0]
            n_rel += 1
        k = 0
        for i in range(n):
            if not inbag[i]:
                d = raw[i] - y[i]
                oob_loss[k] = 0.5 * d * d
                k += 1
        cur = 2.0 * (_pairwise_sum(oob_loss, 0, k) / k)
        improvement[it] = prev_loss - cur
        prev_loss = cur
        n_trees = it + 1
        if it >= window - 1:
            if _pairwise_sum(improvement, it - window + 1, window) / window < 0:
                break
    imp_out[:] = 0.0
    if n_rel == 0:
        return n_trees, True
    avg = np.empty(n_feat)
    for f in range(n_feat):
        avg[f] = imp_sum[feat_cols[f]] / n_rel
    total = _pairwise_sum(avg, 0, n_feat)
    if total > 0:
        for f in range(n_feat):
            imp_out[feat_cols[f]] = avg[f] / total * n_trees
    return n_trees, True


@numba.njit(nogil=True, cache=True)
def _gbm_batch(X, orders, vsorted, Y, excl, U, S, n_inbag, learning_rate, n_estimators,
               max_depth, max_features_frac, window, out, n_trees, complete):
    for b in range(Y.shape[0]):
        nt, ok = _gbm_target(X, orders, vsorted, Y[b], excl[b], U, S, n_inbag, learning_rate,
                             n_estimators, max_depth, max_features_frac, window, out[b])
        n_trees[b] = nt
        complete[b] = ok


def _random_stream(seed: int, n_samples: int, n_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """The draws sklearn's GradientBoostingRegressor(random_state=seed) makes per iteration:
    ``uniform(size=n_samples)`` for the subsample mask, then ``randint(0, RAND_R_MAX)`` for the
    tree's splitter seed."""
    rs = np.random.RandomState(seed)
    U = np.empty((n_iter, n_samples))
    S = np.empty(n_iter, dtype=np.int64)
    for i in range(n_iter):
        U[i] = rs.uniform(size=n_samples)
        S[i] = rs.randint(0, _RAND_R_MAX)
    return U, S


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
    (nothing to learn) get zero in-edges without fitting."""
    n_genes = X.shape[1]
    W = np.zeros((n_genes, n_genes), dtype=np.float32)
    n_trees = np.zeros(n_genes, dtype=np.int64)
    variable = np.flatnonzero(X.max(axis=0) > X.min(axis=0))
    if variable.size:
        imp, nt = _run_targets(fn, shared, variable, **run_kwargs)
        W[np.ix_(regulators, variable)] = imp.T
        n_trees[variable] = nt
    return W, n_trees


def _check_n_estimators(n_estimators):
    if isinstance(n_estimators, bool) or not isinstance(n_estimators, (int, np.integer)) or n_estimators < 1:
        raise ValueError(f"n_estimators must be a positive int, got {n_estimators!r}.")


# ============================================================================================
# public tools
# ============================================================================================
def grnboost2(
    adata: AnnData,
    *,
    tfs: Sequence[str] | None = None,
    layer: str | None = None,
    key_added: str = "grnboost2",
    learning_rate: float = 0.01,
    n_estimators: int = 5000,
    max_features: float = 0.1,
    subsample: float = 0.9,
    max_depth: int = 3,
    early_stop_window_length: int = 25,
    engine: str = "numba",
    n_jobs: int | None = None,
    client=None,
    random_state: int | None = 0,
    show_progress_bar: bool | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Infer a GRN with GRNBoost2 (Moerman et al., Bioinformatics 2019; arboreto's recipe).

    For every target gene, a stochastic gradient-boosting regressor (depth-3 trees,
    learning rate 0.01, 10 % of the regulators drawn per split, 90 % of the cells per tree)
    predicts the target from the regulators, and stops once the mean out-of-bag improvement
    over the last ``early_stop_window_length`` trees turns negative. The edge weight
    regulator -> target is the regulator's importance times the number of trees fitted,
    exactly as ``arboreto.core`` computes it (BEELINE's GRNBoost2).

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression.
    tfs
        Transcription factors: the candidate regulators (others get zero rows). ``None``:
        every gene regulates every other gene.
    layer
        Read this layer instead of ``adata.X``.
    key_added
        Where results go (see Returns).
    learning_rate, n_estimators, max_features, subsample, max_depth
        Parameters of :class:`sklearn.ensemble.GradientBoostingRegressor` (arboreto's
        ``SGBM_KWARGS``; ``n_estimators`` is a cap, early stopping decides). ``subsample``
        must be below 1 (the early stop needs out-of-bag cells).
    early_stop_window_length
        Trees in arboreto's early-stopping window.
    engine
        ``"numba"`` (default): scgrn's compiled re-implementation of sklearn's algorithm, fed
        by the same random stream: the same trees for the same seed, up to how exact ties
        between equally good splits are broken, about 5x faster per core (the regulators
        are sorted once for all trees). ``"sklearn"``: sklearn's
        GradientBoostingRegressor itself, as arboreto runs it.
    n_jobs
        Parallel workers over targets (threads for ``"numba"``, processes for
        ``"sklearn"``); ``None``: all cores.
    client
        A :class:`dask.distributed.Client` to spread the targets over a cluster instead
        (needs ``dask[distributed]``; workers need scgrn installed).
    random_state
        Seed of every target's regressor (arboreto seeds every target alike); the same
        seed gives the same matrix whatever ``n_jobs``. ``None`` draws one and records it.
    show_progress_bar
        Progress bar over targets (``None``: ``scgrn.settings.show_progress_bar``).
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Writes

    ``adata.varp['grnboost2' | key_added]``
        float32 genes x genes importances (non-negative), row = regulator, column = target.
    ``adata.uns['grnboost2' | key_added]``
        ``method``, ``version``, ``params`` (every hyperparameter, engine and seed),
        ``n_trees`` (trees fitted per target, 0 for constant genes) and ``tfs`` if given.

    Examples
    --------
    >>> import scgrn
    >>> adata, truth = scgrn.datasets.planted_network(n_genes=12, n_cells=100, n_regulators=2)
    >>> scgrn.tl.grnboost2(adata, n_jobs=1, show_progress_bar=False)
    >>> adata.varp["grnboost2"].shape, adata.uns["grnboost2"]["method"]
    ((12, 12), 'grnboost2')
    """
    if engine not in _ENGINES:
        raise ValueError(f"engine={engine!r} is not one of {list(_ENGINES)}.")
    _check_n_estimators(n_estimators)
    if not 0.0 < float(subsample) < 1.0:
        raise ValueError(
            f"subsample={subsample!r} must be strictly between 0 and 1: GRNBoost2's early stop "
            "reads the out-of-bag cells (arboreto uses 0.9)."
        )
    if not 0.0 < float(max_features) <= 1.0:
        raise ValueError(f"max_features={max_features!r} must be a fraction in (0, 1].")
    if not 0.0 < float(learning_rate):
        raise ValueError(f"learning_rate={learning_rate!r} must be positive.")
    for name, value in (("max_depth", max_depth), ("early_stop_window_length", early_stop_window_length)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    seed = _check_random_state(random_state)
    start = logg.info(f"running GRNBoost2 (engine={engine!r})")
    X, tf_list, regulators = _baseline_input(adata, tfs=tfs, layer=layer)
    n_cells = X.shape[0]
    params = {
        "learning_rate": float(learning_rate),
        "n_estimators": int(n_estimators),
        "max_features": float(max_features),
        "subsample": float(subsample),
        "max_depth": int(max_depth),
        "early_stop_window_length": int(early_stop_window_length),
        "random_state": seed,
    }
    shared = {"X": X, "regulators": regulators, "params": params}
    if engine == "numba":
        Xr = np.ascontiguousarray(X[:, regulators])
        orders = np.ascontiguousarray(np.argsort(Xr, axis=0, kind="stable").T)
        excl = np.full(X.shape[1], -1, dtype=np.int64)
        excl[regulators] = np.arange(regulators.size)
        U, S = _random_stream(seed, n_cells, min(_FIRST_STREAM, int(n_estimators)))
        shared.update(
            Xr=Xr, orders=orders, vsorted=np.ascontiguousarray(np.take_along_axis(Xr, orders.T, 0).T),
            excl=excl, U=U, S=S, n_inbag=max(1, int(float(subsample) * n_cells)),
        )
        fn, prefer = _grnboost2_numba_batch, "threads"
    else:
        fn, prefer = _grnboost2_sklearn_batch, "threads"
    W, n_trees = _tree_grn(
        X, regulators, fn, shared, n_jobs=_resolve_n_jobs(n_jobs), client=client, prefer=prefer,
        show_progress_bar=resolve_progress_bar(show_progress_bar), desc="GRNBoost2",
    )
    record_params = {**params, "engine": engine, "layer": "X" if layer is None else layer}
    return _store(adata, _mask_rows(W, regulators), key_added=key_added, method="grnboost2",
                  params=record_params, tfs=tf_list, copy=copy, start=start,
                  extra={"n_trees": n_trees.astype(np.int32)})


def genie3(
    adata: AnnData,
    *,
    tfs: Sequence[str] | None = None,
    layer: str | None = None,
    key_added: str = "genie3",
    n_estimators: int = 1000,
    max_features: str | float | int = "sqrt",
    n_jobs: int | None = None,
    client=None,
    random_state: int | None = 0,
    show_progress_bar: bool | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Infer a GRN with GENIE3 (Huynh-Thu et al., PLoS ONE 2010; arboreto's recipe).

    For every target gene, a random forest (:class:`sklearn.ensemble.RandomForestRegressor`,
    ``n_estimators`` trees, ``max_features`` regulators drawn per split) predicts the target
    from the regulators; the edge weight regulator -> target is the regulator's impurity
    importance (summing to 1 per target), as ``arboreto.core`` computes it (BEELINE's
    GENIE3). Random forests are slow: about 5 s per target with 1000 trees on 421 cells x
    620 regulators on one core, so use ``n_jobs``, a ``client`` or fewer trees for large
    gene sets.

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression.
    tfs
        Transcription factors: the candidate regulators (others get zero rows). ``None``:
        every gene regulates every other gene.
    layer
        Read this layer instead of ``adata.X``.
    key_added
        Where results go (see Returns).
    n_estimators
        Trees per target (arboreto: 1000).
    max_features
        Regulators drawn at each split, as sklearn's ``max_features`` (arboreto: ``"sqrt"``).
    n_jobs
        Parallel worker processes over targets; ``None``: all cores.
    client
        A :class:`dask.distributed.Client` to spread the targets over a cluster instead.
    random_state
        Seed of every target's forest (as arboreto); the same seed gives the same matrix
        whatever ``n_jobs``. ``None`` draws one and records it.
    show_progress_bar
        Progress bar over targets (``None``: ``scgrn.settings.show_progress_bar``).
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Writes

    ``adata.varp['genie3' | key_added]``
        float32 genes x genes importances (non-negative), row = regulator, column = target.
    ``adata.uns['genie3' | key_added]``
        ``method``, ``version``, ``params`` (every hyperparameter and the seed) and ``tfs``.

    Examples
    --------
    >>> import scgrn
    >>> adata, truth = scgrn.datasets.planted_network(n_genes=12, n_cells=100, n_regulators=2)
    >>> scgrn.tl.genie3(adata, n_estimators=20, n_jobs=1, show_progress_bar=False)
    >>> adata.varp["genie3"].shape
    (12, 12)
    """
    _check_n_estimators(n_estimators)
    if isinstance(max_features, str) and max_features not in ("sqrt", "log2"):
        raise ValueError(f"max_features={max_features!r}: use 'sqrt', 'log2', an int or a fraction.")
    seed = _check_random_state(random_state)
    start = logg.info(f"running GENIE3 ({n_estimators} trees per target)")
    X, tf_list, regulators = _baseline_input(adata, tfs=tfs, layer=layer)
    params = {"n_estimators": int(n_estimators), "max_features": max_features, "random_state": seed}
    W, _ = _tree_grn(
        X, regulators, _genie3_batch, {"X": X, "regulators": regulators, "params": params},
        n_jobs=_resolve_n_jobs(n_jobs), client=client, prefer="threads",
        show_progress_bar=resolve_progress_bar(show_progress_bar), desc="GENIE3",
    )
    record_params = {**params, "layer": "X" if layer is None else layer}
    return _store(adata, _mask_rows(W, regulators), key_added=key_added, method="genie3",
                  params=record_params, tfs=tf_list, copy=copy, start=start)
