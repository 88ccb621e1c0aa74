"""DREAM4 time-series benchmark: supervised pair classifiers vs. unsupervised baselines.

Leave-one-network-out: for each held-out network the three pair classifiers
(:func:`scgrn.tl.pair_classifier`: LSTM, CNN, AE + NN) are trained on the other networks and
score all ordered pairs of the held-out one; the baselines (Pearson correlation,
time-lagged correlation, mutual information, dynGENIE3-style forests) need no training and
run on the held-out network alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scanpy import logging as logg

from .._grn_matrix import grn_matrix, paired_values, refuse_wrong_kind
from .._params import check_bool, check_int, check_random_state

__all__ = ["dream4", "dream_aupr", "score_network"]

SUPERVISED = ("lstm", "cnn", "ae")
BASELINES = ("pearson", "time_lagged_correlation", "mutual_information", "dyngenie3")


# --------------------------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------------------------
def _finite_scores(name: str, scores, mask: np.ndarray | None = None) -> np.ndarray:
    """``scores`` as float64, refused when not real numbers or NaN / infinite (where ``mask``), as
    :func:`scgrn.metrics.auprc` does: a diverged method's NaN would be ranked as a valid score."""
    s = np.asarray(scores)
    if s.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {s.dtype}.")
    s = s.astype(np.float64)
    bad = ~np.isfinite(s if mask is None else s[mask])
    if bad.any():
        raise ValueError(
            f"{name} has {int(bad.sum())} NaN or infinite value(s), which cannot be ranked (a method that "
            "diverged?). Rerun the method that produced them, or give them the lowest score on purpose."
        )
    return s


def dream_aupr(y_true, scores) -> float:
    """AUPR as the DREAM3/DREAM4 scoring code computes it, for a complete ranked list.

    Re-implements the integral of Stolovitzky & Prill's scoring script (dreamtools
    ``D3D4ROC``): edges are ranked by decreasing score (ties in input order) and at each true
    positive at rank ``k`` the area grows by ``(1 - FP_k * ln(k / (k - 1))) / P`` (``1 / P``
    at ``k = 1``), the exact area under the precision-recall curve with precision
    interpolated between consecutive ranks. Vectorised.

    Examples
    --------
    >>> from scgrn.bench import dream_aupr
    >>> round(dream_aupr([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]), 4)
    0.7973
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"y_true and scores must be 1-D arrays of the same length, got shapes {y.shape} and {s.shape}.")
    s = _finite_scores("scores", s)
    n_pos = int(y.sum())
    if n_pos == 0:
        raise ValueError("AUPR is undefined without positives.")
    yk = y[np.argsort(-s, kind="stable")]
    k = np.arange(1, yk.size + 1, dtype=np.float64)
    fp = np.cumsum(~yk)
    with np.errstate(divide="ignore"):
        step = np.where(k == 1, 1.0, 1.0 - fp * np.log(k / np.maximum(k - 1, 1)))
    return float(step[yk].sum() / n_pos)


def score_network(
    truth: np.ndarray,
    scores: np.ndarray,
    *,
    n_balanced_draws: int = 20,
    random_state: int = 0,
) -> list[dict]:
    """Metrics of one score matrix against one true adjacency (all ordered non-self pairs).

    ``setting="all_pairs"``: the honest, imbalanced DREAM setting, every ordered pair
    ``i != j``: ``auroc`` (sklearn ``roc_auc_score``), ``aupr_ap`` (sklearn
    ``average_precision_score``), ``aupr_trapezoid`` (trapezoid under the precision-recall
    curve, :func:`scgrn.metrics.auprc` with ``method="trapezoid"``) and ``aupr_dream`` (the
    DREAM3/4 challenge integral, :func:`dream_aupr`). ``setting="balanced"``: the paper's
    setting, all positives plus as many random negatives of the same network, ``auroc`` and
    ``aupr_ap`` averaged over ``n_balanced_draws`` draws (``sd`` their standard deviation).
    Scores are ranked as given (higher = more likely an edge); when every off-diagonal score is
    the same (e.g. an all-zero matrix from a failed method) a ``UserWarning`` says that the
    network ranks nothing, as :func:`scgrn.metrics.evaluate_grn` does.

    ``truth`` and ``scores`` are square genes x genes matrices, row = regulator, column =
    target. Two DataFrames labelled by gene are matched **by their labels** (``scores`` is put in
    the order of ``truth``'s rows; labels that differ raise a ``ValueError`` naming them). An
    array has no gene names and is read **by position**: it must be in the gene order of the
    other argument (a labelled DataFrame's rows; one whose columns are in another order than its
    rows is then refused, as the array's column order cannot be known).

    Examples
    --------
    >>> import numpy as np
    >>> from scgrn.bench import score_network
    >>> truth = np.zeros((4, 4), bool); truth[0, 1] = truth[2, 3] = True
    >>> scores = truth + np.random.default_rng(0).random((4, 4)) * 0.5  # edges score higher
    >>> rows = score_network(truth, scores, n_balanced_draws=3)
    >>> [(r["setting"], r["metric"], round(r["value"], 2)) for r in rows][:2]
    [('all_pairs', 'auroc', 1.0), ('all_pairs', 'aupr_ap', 1.0)]
    >>> import pandas as pd
    >>> g = ["a", "b", "c", "d"]
    >>> t, s = pd.DataFrame(truth, index=g, columns=g), pd.DataFrame(scores, index=g, columns=g)
    >>> round(score_network(t, s.iloc[::-1, ::-1], n_balanced_draws=3)[0]["value"], 2)  # matched by label
    1.0
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    from ..metrics import auprc
    from ..metrics._ranking import warn_if_all_tied

    random_state = check_random_state(random_state)
    n_balanced_draws = check_int("n_balanced_draws", n_balanced_draws, min=1)
    refuse_wrong_kind(truth, "truth")  # an AnnData or an edge table, named before numpy reads it
    refuse_wrong_kind(scores, "scores")
    truth, scores = paired_values(truth, scores, ("truth", "scores"))  # labelled frames: by label
    truth = np.asarray(truth)
    if truth.ndim != 2 or truth.shape[0] != truth.shape[1]:
        raise ValueError(f"truth must be a square genes x genes adjacency matrix, got shape {truth.shape}.")
    if np.shape(scores) != truth.shape:
        raise ValueError(f"scores must have the shape of truth, {truth.shape} (regulators x targets, in the same "
                         f"gene order), got {np.shape(scores)}.")
    n = truth.shape[0]
    off = ~np.eye(n, dtype=bool)
    y = truth[off].astype(bool)
    s = _finite_scores("scores", scores, off)[off]  # the diagonal (self-loops) is not scored
    warn_if_all_tied(
        s, what="scores off the diagonal are the same", stacklevel=2,
        affected="aupr_trapezoid and aupr_dream (ties are taken in input order; auroc is 0.5, aupr_ap the edge density)",
    )
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    rows = [
        {"setting": "all_pairs", "metric": "auroc", "value": roc_auc_score(y, s)},
        {"setting": "all_pairs", "metric": "aupr_ap", "value": average_precision_score(y, s)},
        {"setting": "all_pairs", "metric": "aupr_trapezoid", "value": auprc(y, s, method="trapezoid")},
        {"setting": "all_pairs", "metric": "aupr_dream", "value": dream_aupr(y, s)},
    ]
    for r in rows:
        r.update(sd=np.nan, n_pos=n_pos, n_neg=n_neg)
    rng = np.random.default_rng(random_state)
    pos = np.flatnonzero(y)
    neg = np.flatnonzero(~y)
    au, ap = [], []
    for _ in range(n_balanced_draws):
        idx = np.concatenate([pos, rng.choice(neg, size=min(pos.size, neg.size), replace=False)])
        au.append(roc_auc_score(y[idx], s[idx]))
        ap.append(average_precision_score(y[idx], s[idx]))
    for metric, vals in (("auroc", au), ("aupr_ap", ap)):
        rows.append(
            {"setting": "balanced", "metric": metric, "value": float(np.mean(vals)),
             "sd": float(np.std(vals)), "n_pos": n_pos, "n_neg": min(pos.size, neg.size)}
        )
    return rows


# --------------------------------------------------------------------------------------------
# unsupervised baselines not exposed as tools
# --------------------------------------------------------------------------------------------
def _pearson(x: np.ndarray) -> np.ndarray:
    """|Pearson correlation| over all observations (symmetric)."""
    c = np.corrcoef(x.T)
    return np.abs(np.nan_to_num(c))


def _mutual_information(x: np.ndarray, n_bins: int = 8) -> np.ndarray:
    """Plug-in mutual information of quantile-binned genes, all pairs in one matrix product."""
    n, g = x.shape
    ranks = x.argsort(0).argsort(0)
    bins = np.minimum(ranks * n_bins // n, n_bins - 1)  # (n, g) equal-frequency bins
    onehot = np.zeros((n, g * n_bins))
    onehot[np.arange(n)[:, None], np.arange(g)[None, :] * n_bins + bins] = 1.0
    joint = (onehot.T @ onehot / n).reshape(g, n_bins, g, n_bins)
    marg = onehot.mean(0).reshape(g, n_bins)
    denom = marg[:, :, None, None] * marg[None, None, :, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / denom), 0.0)
    return terms.sum(axis=(1, 3))


# --------------------------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------------------------
def dream4(
    networks: Sequence[int] = (1, 2, 3),
    size: int = 100,
    archs: Sequence[str] = SUPERVISED,
    data_dir: str | os.PathLike | None = None,
    random_state: int = 0,
    *,
    baselines: Sequence[str] = BASELINES,
    n_balanced_draws: int = 20,
    dyngenie3_trees: int = 500,
    pair_kwargs: dict | None = None,
    device: str = "auto",
    show_progress_bar: bool = False,
    return_scores: bool = False,
):
    """Leave-one-network-out DREAM4 benchmark of the pair classifiers and the baselines.

    For every network in ``networks`` (held out in turn), each architecture in ``archs`` is
    trained on all the other networks (:func:`scgrn.tl.pair_classifier`) and scores the
    held-out network; each baseline runs on the held-out network alone: ``"pearson"``
    (absolute correlation over all observations), ``"time_lagged_correlation"``
    (:func:`scgrn.tl.time_lagged_correlation`, lag 1), ``"mutual_information"`` (plug-in
    MI of 8 equal-frequency bins) and ``"dyngenie3"`` (:func:`scgrn.tl.dyngenie3`).
    Metrics: :func:`score_network` (the honest all-pairs setting with three AUPR
    conventions, and the paper's balanced subset).

    Parameters
    ----------
    networks
        DREAM4 network numbers (at least two: one is held out, the others train).
    size
        Network size, 10 or 100.
    archs
        Architectures to train (any of ``"lstm"``, ``"cnn"``, ``"ae"``).
    data_dir
        The benchmark data folder (``None``: ``$SCGRN_DATA_DIR``).
    random_state
        Seed of the classifiers, the forests and the balanced draws.
    baselines
        Which baselines to run.
    n_balanced_draws
        Random negative subsets averaged in the balanced setting.
    dyngenie3_trees
        Trees per target of the dynGENIE3-style baseline.
    pair_kwargs
        Hyperparameters passed to every pair classifier, or a dict keyed by architecture
        (``{"cnn": {...}}``).
    device
        Torch device of the classifiers.
    show_progress_bar
        Progress bars of the training.
    return_scores
        Also return the score matrices (for curves).

    Returns
    -------
    A tidy DataFrame, one row per (held-out ``network``, ``method``, ``setting``,
    ``metric``) with ``value``, ``sd`` (balanced draws), ``kind`` (``"supervised"`` /
    ``"baseline"``), ``train_networks``, ``fit_seconds`` (training time of a classifier, or
    run time of a baseline; wall clock), ``cpu_seconds`` (the same as process CPU time, which
    other jobs on the machine do not inflate), ``settings`` (a classifier's training settings as used, e.g.
    the AE's grid choice), ``n_pos``, ``n_neg``. With ``return_scores``, also a dict
    ``{network: {"truth": adjacency, method: score matrix, ...}}``.

    Examples
    --------
    >>> import tempfile
    >>> from scgrn.bench import dream4
    >>> from scgrn.datasets._dream4 import _example_tree
    >>> root = _example_tree(tempfile.mkdtemp())
    >>> df = dream4(networks=(1,), size=10, archs=(), data_dir=root, baselines=("pearson",),
    ...             n_balanced_draws=2)
    >>> sorted(df["setting"].unique())
    ['all_pairs', 'balanced']
    """
    import torch

    from .. import tl
    from ..datasets import dream4 as load_dream4
    from ..tl._pair_classifier import reference_adjacency

    random_state = check_random_state(random_state)
    show_progress_bar = check_bool("show_progress_bar", show_progress_bar)
    return_scores = check_bool("return_scores", return_scores)
    networks = [int(k) for k in networks]
    archs = list(archs)
    unknown = (set(archs) - set(SUPERVISED)) | (set(baselines) - set(BASELINES))
    if unknown:
        raise ValueError(f"Unknown method(s) {sorted(unknown)}; archs from {SUPERVISED}, baselines from {BASELINES}.")
    if archs and len(networks) < 2:
        raise ValueError("Leave-one-network-out needs at least two networks when archs are given.")
    pair_kwargs = dict(pair_kwargs or {})
    per_arch = any(k in SUPERVISED for k in pair_kwargs)

    data = {k: load_dream4(k, size=size, data_dir=data_dir) for k in networks}
    truth = {k: reference_adjacency(g, a.var_names) for k, (a, g) in data.items()}
    rows, scores = [], {}

    def add(k, method, kind, mat, seconds, cpu, train="", settings=""):
        mat = grn_matrix(mat, dense=True)  # a varp GRN may be stored sparse
        scores.setdefault(k, {"truth": truth[k]})[method] = np.asarray(mat, dtype=np.float32)
        for r in score_network(truth[k], mat, n_balanced_draws=n_balanced_draws, random_state=random_state):
            rows.append({"network": k, "method": method, "kind": kind, "train_networks": train,
                         "fit_seconds": float(seconds), "cpu_seconds": float(cpu), "settings": settings, **r})

    for k in networks:
        adata = data[k][0].copy()
        start = logg.info(f"DREAM4 size {size}, network {k}: baselines")
        for name in baselines:
            t0, c0 = time.perf_counter(), time.process_time()
            if name == "pearson":
                mat = _pearson(np.asarray(adata.X, dtype=np.float64))
            elif name == "mutual_information":
                mat = _mutual_information(np.asarray(adata.X, dtype=np.float64))
            elif name == "time_lagged_correlation":
                tl.time_lagged_correlation(adata, max_lag=1)
                mat = adata.varp["time_lagged_correlation"]
            else:
                tl.dyngenie3(adata, n_estimators=dyngenie3_trees, random_state=random_state,
                             show_progress_bar=show_progress_bar)
                mat = adata.varp["dyngenie3"]
            add(k, name, "baseline", mat, time.perf_counter() - t0, time.process_time() - c0)
        train_ids = [j for j in networks if j != k]
        for arch in archs:
            kw = pair_kwargs.get(arch, {}) if per_arch else pair_kwargs
            logg.info(f"DREAM4 network {k}: training {arch} on networks {train_ids}")
            tl.pair_classifier(
                adata, train=[data[j] for j in train_ids], arch=arch, random_state=random_state,
                device=device, show_progress_bar=show_progress_bar, **kw,
            )
            key = f"pair_{arch}"
            used = adata.uns[key]["params"]
            settings = ",".join(f"{p[5:]}={used[p]}" for p in sorted(used) if p.startswith("used_"))
            add(k, arch, "supervised", adata.varp[key], adata.uns[key]["fit_seconds"],
                adata.uns[key]["fit_cpu_seconds"], ",".join(map(str, train_ids)), settings)
        logg.info(f"    network {k} done", time=start)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    df = pd.DataFrame(rows)
    cols = ["network", "method", "kind", "setting", "metric", "value", "sd", "train_networks",
            "fit_seconds", "cpu_seconds", "settings", "n_pos", "n_neg"]
    df = df[cols] if len(df) else pd.DataFrame(columns=cols)
    return (df, scores) if return_scores else df
