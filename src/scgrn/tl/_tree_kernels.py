"""Numba kernels of ``tl.grnboost2``'s ``engine="numba"``: sklearn's GradientBoostingRegressor.

A re-implementation of :class:`sklearn.ensemble.GradientBoostingRegressor` (squared error)
with its depth-first tree builder and BestSplitter (MSE criterion, in-bag / out-of-bag
masks) and arboreto's early-stopping monitor, fed by the NumPy random stream sklearn draws
(:func:`_random_stream`). Each regulator is sorted once for all trees instead of at every
node. The public tools live in :mod:`scgrn.tl._trees`, the per-batch workers in
:mod:`scgrn.tl._tree_workers`.
"""

from __future__ import annotations

import numba
import numpy as np

#: sklearn's RAND_R_MAX (tree/_utils.pxd): the tree seed is randint(0, RAND_R_MAX)
_RAND_R_MAX = 2147483647
#: sklearn's FEATURE_THRESHOLD (tree/_partitioner.pxd), a float32
_FEATURE_THRESHOLD = np.float32(1e-7)
#: sklearn's EPSILON in tree/_tree.pyx
_EPSILON = float(np.finfo(np.float64).eps)


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
