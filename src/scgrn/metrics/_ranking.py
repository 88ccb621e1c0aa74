"""Ranking metrics on arrays: early precision, EPR, AUPRC (ratio) and AUROC.

Each metric takes the true labels ``y_true`` (is the item a true edge) and ``scores`` of
the same length, higher meaning more confident. :class:`_Ranking` sorts them once by
decreasing score and is shared by every metric; :func:`scgrn.metrics.evaluate_grn` builds
the labels and scores of a GRN's candidate edges (see :mod:`scgrn.metrics._grn`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._params import check_bool

__all__ = ["auprc", "auprc_ratio", "auroc", "early_precision", "epr"]

_AUPRC_METHODS = ("average_precision", "trapezoid")


# ---------------------------------------------------------------------------
# Low-level ranking metrics (arrays)
# ---------------------------------------------------------------------------


def warn_if_all_tied(scores: Any, *, what: str, affected: str, stacklevel: int = 2) -> bool:
    """Warn when every score is the same (e.g. an all-zero GRN): it ranks nothing.

    Shared by :func:`scgrn.metrics.evaluate_grn` and :func:`scgrn.bench.score_network`.

    Parameters
    ----------
    scores
        The scores of the candidates.
    what
        What they are, completing "All n ...", e.g. ``"candidate edges have the same |weight|"``.
    affected
        The metrics that then only reflect the order of the genes.
    stacklevel
        As in :func:`warnings.warn`, counted from the caller of this function.

    Returns
    -------
    Whether it warned.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warn_if_all_tied(np.zeros(4), what="scores are the same", affected="AUPRC")
    True
    >>> str(w[0].message)[:62]
    'All 4 scores are the same (0; e.g. an all-zero GRN): the netwo'
    """
    s = np.asarray(scores)
    if s.size < 2 or s.min() != s.max():
        return False
    warnings.warn(
        f"All {s.size} {what} ({float(s.flat[0]):g}; e.g. an all-zero GRN): the network ranks nothing, so "
        f"{affected} only reflect the order of the genes. Check that the method ran on enough cells and "
        "regulators.",
        UserWarning,
        stacklevel=stacklevel + 1,
    )
    return True


def _by_label(y_true: Any, scores: Any) -> tuple[Any, Any]:
    """Two pandas Series are matched by their labels, as pandas matches them: ``scores`` is put in
    the order of ``y_true``'s index (anything else is read by position, as scikit-learn does).
    Labels that differ, or repeat where the orders differ, raise a ``ValueError``.

    Examples
    --------
    >>> y = pd.Series([1, 0], index=["a", "b"])
    >>> _by_label(y, pd.Series([0.1, 0.9], index=["b", "a"]))[1].tolist()
    [0.9, 0.1]
    """
    if not (isinstance(y_true, pd.Series) and isinstance(scores, pd.Series)) or y_true.index.equals(scores.index):
        return y_true, scores
    yi, si = y_true.index, scores.index
    if not (yi.is_unique and si.is_unique):
        raise ValueError(
            "y_true and scores are pandas Series with their labels in different orders, and some labels repeat, "
            "so they cannot be matched by label. Align them first (e.g. `scores = scores.loc[y_true.index]` "
            "with unique labels), or pass arrays (`y_true.to_numpy(), scores.to_numpy()`) to read them by position."
        )
    missing, extra = yi.difference(si, sort=False), si.difference(yi, sort=False)
    if len(missing) or len(extra):
        raise ValueError(
            f"y_true and scores are pandas Series with different labels: {len(missing)} of y_true's labels are "
            f"not in scores (e.g. {list(missing[:3])}) and {len(extra)} of scores' are not in y_true (e.g. "
            f"{list(extra[:3])}). Series are matched by label: give both the same items, or pass arrays "
            "(`.to_numpy()`) to read them by position."
        )
    return y_true, scores.reindex(yi)


class _Ranking:
    """Labels sorted by decreasing score; one sort shared by every metric."""

    __slots__ = ("y", "s", "n_pos", "n")

    def __init__(self, y_true: Any, scores: Any) -> None:
        y_true, scores = _by_label(y_true, scores)
        y = np.asarray(y_true)
        s = np.asarray(scores)
        if y.ndim != 1 or s.ndim != 1:
            raise ValueError(
                f"y_true and scores must be 1-D arrays, got shapes {y.shape} and {s.shape}."
            )
        if y.shape != s.shape:
            raise ValueError(
                f"y_true and scores must have the same length, got {y.size} and {s.size}."
            )
        if y.size == 0:
            raise ValueError("y_true and scores are empty.")
        if y.dtype != bool:
            if not np.isin(y, (0, 1)).all():
                raise ValueError("y_true must be boolean or contain only 0 and 1.")
            y = y.astype(bool)
        if not np.issubdtype(s.dtype, np.number) or np.issubdtype(s.dtype, np.complexfloating):
            raise ValueError(f"scores must be real numbers, got dtype {s.dtype}.")
        if not np.isfinite(s).all():
            raise ValueError("scores contain NaN or infinite values.")
        # stable descending sort: ties keep their input order
        order = np.argsort(-s, kind="stable")
        self.y = y[order]
        self.s = s[order]
        self.n = int(y.size)
        self.n_pos = int(np.count_nonzero(y))

    # -- helpers ----------------------------------------------------------
    def _require_positives(self, what: str) -> None:
        if self.n_pos == 0:
            raise ValueError(f"{what} is undefined: y_true has no positive entries.")

    @property
    def density(self) -> float:
        return self.n_pos / self.n

    def _resolve_k(self, k: int | None) -> int:
        if k is None:
            self._require_positives("early precision with k=None")
            return self.n_pos
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}.")
        return min(int(k), self.n)

    def _curve(self) -> tuple[np.ndarray, np.ndarray]:
        """True/false positive counts at each distinct score threshold."""
        distinct = np.flatnonzero(np.diff(self.s))
        ends = np.r_[distinct, self.n - 1]
        tps = np.cumsum(self.y, dtype=np.int64)[ends]
        fps = (ends + 1) - tps
        return tps.astype(np.float64), fps.astype(np.float64)

    # -- metrics ----------------------------------------------------------
    def early_precision(self, k: int | None = None, include_ties: bool = False) -> float:
        k = self._resolve_k(k)
        if not check_bool("include_ties", include_ties):
            return float(np.count_nonzero(self.y[:k]) / k)
        cutoff = self.s[k - 1]
        predicted = (self.s >= cutoff) & (self.s != 0)
        n_pred = int(np.count_nonzero(predicted))
        if n_pred == 0:
            return 0.0
        return float(np.count_nonzero(self.y[predicted]) / n_pred)

    def auprc(self, method: str = "average_precision") -> float:
        if method not in _AUPRC_METHODS:
            raise ValueError(f"Unknown AUPRC method {method!r}; choose one of {_AUPRC_METHODS}.")
        self._require_positives("AUPRC")
        tps, fps = self._curve()
        precision = tps / (tps + fps)
        recall = tps / self.n_pos
        d_recall = np.diff(np.r_[0.0, recall])
        if method == "average_precision":
            return float(max(0.0, np.sum(d_recall * precision)))
        # trapezoid, starting from sklearn's (recall=0, precision=1) point
        prev_precision = np.r_[1.0, precision[:-1]]
        return float(np.sum(d_recall * (precision + prev_precision) / 2.0))

    def auroc(self) -> float:
        if self.n_pos == 0 or self.n_pos == self.n:
            warnings.warn(
                "Only one class is present in y_true; AUROC is undefined, returning NaN.",
                stacklevel=3,
            )
            return float("nan")
        tps, fps = self._curve()
        tpr = np.r_[0.0, tps / self.n_pos]
        fpr = np.r_[0.0, fps / (self.n - self.n_pos)]
        return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def early_precision(
    y_true: Any, scores: Any, *, k: int | None = None, include_ties: bool = False
) -> float:
    """Precision among the top-``k`` scored items.

    Parameters
    ----------
    y_true
        1-D boolean (or 0/1) array: is the item a true edge.
    scores
        1-D array of the same length; higher means more confident. Pass
        absolute edge weights for a signed network. When ``y_true`` and
        ``scores`` are both pandas Series they are matched by their labels
        (different labels raise a ``ValueError``); otherwise by position.
    k
        Cut-off. Defaults to the number of positives in ``y_true``; clipped
        to the number of items.
    include_ties
        ``False`` (DeepSEM): exactly the first ``k`` items of a stable sort by
        decreasing score are predicted, so ties keep their input order.
        ``True`` (BEELINE): every item scoring at least the ``k``-th largest
        score is predicted, except items scoring exactly 0, which never are.

    Returns
    -------
    float
        True items among the predicted ones / number predicted (0.0 when
        nothing is predicted).

    Examples
    --------
    >>> from scgrn.metrics import early_precision
    >>> y = [True, False, True, False]
    >>> early_precision(y, [0.9, 0.8, 0.1, 0.0])
    0.5
    >>> early_precision(y, [0.9, 0.5, 0.5, 0.0], include_ties=True)
    0.6666666666666666
    """
    return _Ranking(y_true, scores).early_precision(k, include_ties)


def epr(
    y_true: Any, scores: Any, *, k: int | None = None, include_ties: bool = False
) -> float:
    """Early precision ratio: :func:`early_precision` divided by the density.

    The density is the fraction of positives in ``y_true`` (the expected
    precision of a random ranking), so a random predictor scores about 1.

    Parameters
    ----------
    y_true, scores, k, include_ties
        As in :func:`early_precision`.

    Returns
    -------
    float

    Examples
    --------
    >>> from scgrn.metrics import epr
    >>> epr([True, False, False, False], [0.9, 0.2, 0.1, 0.0])
    4.0
    """
    r = _Ranking(y_true, scores)
    r._require_positives("EPR")
    return r.early_precision(k, include_ties) / r.density


def auprc(y_true: Any, scores: Any, *, method: str = "average_precision") -> float:
    """Area under the precision-recall curve.

    Parameters
    ----------
    y_true, scores
        As in :func:`early_precision`.
    method
        ``"average_precision"``: step-function integral, identical to
        :func:`sklearn.metrics.average_precision_score` (DeepSEM).
        ``"trapezoid"``: trapezoidal area under
        :func:`sklearn.metrics.precision_recall_curve`, as
        ``sklearn.metrics.auc(recall, precision)`` (BEELINE).

    Returns
    -------
    float

    Examples
    --------
    >>> from scgrn.metrics import auprc
    >>> round(auprc([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]), 4)
    0.8333
    >>> round(auprc([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], method="trapezoid"), 4)
    0.7917
    """
    return _Ranking(y_true, scores).auprc(method)


def auprc_ratio(y_true: Any, scores: Any, *, method: str = "average_precision") -> float:
    """:func:`auprc` divided by the density (fraction of positives).

    A random ranking scores about 1.

    Parameters
    ----------
    y_true, scores, method
        As in :func:`auprc`.

    Returns
    -------
    float

    Examples
    --------
    >>> from scgrn.metrics import auprc_ratio
    >>> auprc_ratio([1, 0, 0, 0], [0.9, 0.8, 0.7, 0.1])
    4.0
    """
    r = _Ranking(y_true, scores)
    return r.auprc(method) / r.density


def auroc(y_true: Any, scores: Any) -> float:
    """Area under the ROC curve (same value as :func:`sklearn.metrics.roc_auc_score`).

    Returns NaN with a warning when ``y_true`` holds a single class.

    Parameters
    ----------
    y_true, scores
        As in :func:`early_precision`.

    Returns
    -------
    float

    Examples
    --------
    >>> from scgrn.metrics import auroc
    >>> auroc([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])
    0.75
    """
    return _Ranking(y_true, scores).auroc()
