"""Scoring of inferred gene regulatory networks against a reference network.

Orientation contract: a GRN matrix has **row = regulator (source)** and
**column = target**. Weights are ranked by absolute value.

Two published evaluation conventions are implemented:

``"deepsem"``
    DeepSEM / DAZZLE / RegDiffusion. Candidates are every pair
    ``(regulator, gene)`` with the regulator in the reference's ``source`` set
    and the gene in the reference's gene set (sources and targets), without
    self-pairs. EP is the precision of the top ``k`` candidates (``k`` = true
    edges, ties broken by a stable sort), AUPRC is sklearn-style average
    precision, AUROC is over the same candidates.
``"beeline"``
    BEELINE's ``BLEval``. EP/EPR over the same regulator-to-gene candidates,
    but ties at the cut-off are predicted too (and zero weights never are).
    AUPRC (trapezoid under the precision-recall curve) and AUROC are computed
    over all ordered pairs of distinct reference genes.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._grn_matrix import grn_block, grn_matrix
from .._keys import DEEPSEM

__all__ = [
    "evaluate_grn",
    "random_baseline",
    "early_precision",
    "epr",
    "auprc",
    "auprc_ratio",
    "auroc",
    "CONVENTIONS",
]

#: Evaluation conventions understood by :func:`evaluate_grn`.
CONVENTIONS = ("deepsem", "beeline")
_AUPRC_METHODS = ("average_precision", "trapezoid")

_SOURCE_COLS = ("source", "Gene1")
_TARGET_COLS = ("target", "Gene2")
_WEIGHT_COLS = ("weight", "EdgeWeight")


# ---------------------------------------------------------------------------
# Low-level ranking metrics (arrays)
# ---------------------------------------------------------------------------


class _Ranking:
    """Labels sorted by decreasing score; one sort shared by every metric."""

    __slots__ = ("y", "s", "n_pos", "n")

    def __init__(self, y_true: Any, scores: Any) -> None:
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
        if not include_ties:
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
        absolute edge weights for a signed network.
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


# ---------------------------------------------------------------------------
# Input normalisation
# ---------------------------------------------------------------------------


def _pick_column(df: pd.DataFrame, options: Sequence[str], what: str) -> str:
    for col in options:
        if col in df.columns:
            return col
    raise ValueError(
        f"{what} needs one of the columns {list(options)}; got columns {list(df.columns)}."
    )


def _is_long(df: pd.DataFrame) -> bool:
    return any(c in df.columns for c in _SOURCE_COLS) and any(
        c in df.columns for c in _TARGET_COLS
    )


def _check_names(var_names: Any, n: int | None = None) -> pd.Index:
    names = pd.Index(np.asarray(var_names, dtype=object).ravel()).astype(str)
    if np.ndim(var_names) != 1:
        raise ValueError("var_names must be one-dimensional.")
    if n is not None and len(names) != n:
        raise ValueError(
            f"var_names has {len(names)} entries but the GRN matrix has {n} rows/columns."
        )
    if not names.is_unique:
        dup = names[names.duplicated()].unique()[:5].tolist()
        raise ValueError(f"var_names must be unique; duplicated e.g. {dup}.")
    return names


def _matrix_from_long(df: pd.DataFrame, var_names: Any) -> tuple[np.ndarray, pd.Index]:
    src_col = _pick_column(df, _SOURCE_COLS, "A long-format GRN DataFrame")
    tgt_col = _pick_column(df, _TARGET_COLS, "A long-format GRN DataFrame")
    w_col = _pick_column(df, _WEIGHT_COLS, "A long-format GRN DataFrame")
    src = df[src_col].astype(str).to_numpy()
    tgt = df[tgt_col].astype(str).to_numpy()
    w = pd.to_numeric(df[w_col], errors="raise").to_numpy(dtype=np.float64)
    if var_names is None:
        names = _check_names(pd.unique(np.concatenate([src, tgt])))
    else:
        names = _check_names(var_names)
    i = names.get_indexer(src)
    j = names.get_indexer(tgt)
    keep = (i >= 0) & (j >= 0)
    if not keep.all():
        warnings.warn(
            f"{int((~keep).sum())} of {len(keep)} GRN edges involve genes absent from "
            "var_names and were ignored.",
            stacklevel=4,
        )
        i, j, w = i[keep], j[keep], w[keep]
    flat = i * len(names) + j
    if len(np.unique(flat)) != len(flat):
        raise ValueError(
            "The long-format GRN has duplicated (source, target) rows; aggregate them first, "
            "e.g. df.groupby(['source', 'target'], as_index=False)['weight'].max()."
        )
    mat = np.zeros((len(names), len(names)), dtype=np.float64)
    mat[i, j] = w
    return mat, names


def _grn_matrix(grn: Any, key: str, var_names: Any, dense: bool = False) -> tuple[Any, pd.Index]:
    """Return ``(matrix, names)`` with row = regulator, column = target.

    The matrix is a dense array, or a canonical CSR for sparse input unless ``dense``
    (see :func:`scgrn._grn_matrix.grn_matrix`).
    """
    from anndata import AnnData

    if isinstance(grn, AnnData):
        if var_names is not None:
            raise ValueError(
                "var_names is only used with array or DataFrame input; an AnnData "
                "brings its own adata.var_names."
            )
        if key not in grn.varp:
            raise KeyError(
                f"adata.varp has no key {key!r}; available varp keys: {list(grn.varp.keys())}. "
                "Run the GRN tool first or pass key=..."
            )
        mat, var_names = grn.varp[key], grn.var_names
    elif isinstance(grn, pd.DataFrame):
        if _is_long(grn):
            return _matrix_from_long(grn, var_names)
        if var_names is not None:
            raise ValueError(
                "var_names cannot be combined with a square DataFrame GRN (its index "
                "holds the gene names)."
            )
        index, columns = grn.index.astype(str), grn.columns.astype(str)
        if grn.shape[0] != grn.shape[1] or set(index) != set(columns):
            raise ValueError(
                "A DataFrame GRN must be long format (columns 'source', 'target', 'weight') "
                "or a square genes x genes matrix whose index and columns hold the same genes "
                f"(rows = regulators); got shape {grn.shape}, columns {list(columns[:5])}."
            )
        var_names = index
        mat = grn.set_axis(index, axis=0).set_axis(columns, axis=1).loc[:, index].to_numpy()
    else:
        if var_names is None:
            raise ValueError(
                "var_names is required when grn is an array: pass the gene names of its "
                "rows/columns (row = regulator, column = target), e.g. var_names=adata.var_names."
            )
        mat = grn
    mat = grn_matrix(mat, dense=dense)
    return mat, _check_names(var_names, mat.shape[0])


def _check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(
            f"Unknown convention {convention!r}; choose one of {list(CONVENTIONS)}."
        )
    return convention


class _Universe:
    """Reference edges mapped onto matrix indices, plus candidate masks."""

    def __init__(self, reference: pd.DataFrame, names: pd.Index, stacklevel: int = 3) -> None:
        if not isinstance(reference, pd.DataFrame):
            raise TypeError(
                "reference must be a pandas DataFrame with columns 'source', 'target' "
                f"(or BEELINE's 'Gene1', 'Gene2'); got {type(reference).__name__}."
            )
        src_col = _pick_column(reference, _SOURCE_COLS, "The reference network")
        tgt_col = _pick_column(reference, _TARGET_COLS, "The reference network")
        ref = pd.DataFrame(
            {"source": reference[src_col].astype(str), "target": reference[tgt_col].astype(str)}
        )
        ref = ref[ref["source"] != ref["target"]].drop_duplicates()
        n_clean = len(ref)
        if n_clean == 0:
            raise ValueError("The reference network has no edges (after dropping self-loops).")
        src = names.get_indexer(ref["source"].to_numpy())
        tgt = names.get_indexer(ref["target"].to_numpy())
        keep = (src >= 0) & (tgt >= 0)
        n_lost = int(n_clean - keep.sum())
        if n_lost:
            missing = pd.unique(
                np.concatenate(
                    [ref["source"].to_numpy()[src < 0], ref["target"].to_numpy()[tgt < 0]]
                )
            )
            warnings.warn(
                f"{n_lost} of {n_clean} reference edges were dropped because {len(missing)} of "
                f"their genes are not in var_names (e.g. {list(missing[:5])}).",
                stacklevel=stacklevel,
            )
        src, tgt = src[keep], tgt[keep]
        if src.size == 0:
            raise ValueError(
                "No reference edge is left: none of the reference edges has both genes in "
                f"var_names ({n_clean} edges checked). Check that gene identifiers match "
                "(symbols vs Ensembl IDs, case)."
            )
        self.n_vars = len(names)
        self.n_edges = int(src.size)
        self.tfs = np.unique(src)
        self.genes = np.unique(np.concatenate([src, tgt]))
        # TF universe: regulators x reference genes, no self-pairs
        r = np.searchsorted(self.tfs, src)
        c = np.searchsorted(self.genes, tgt)
        truth = np.zeros((self.tfs.size, self.genes.size), dtype=bool)
        truth[r, c] = True
        self.tf_mask = self.tfs[:, None] != self.genes[None, :]
        self.y_tf = truth[self.tf_mask]
        # all ordered pairs of distinct reference genes
        r_all = np.searchsorted(self.genes, src)
        truth_all = np.zeros((self.genes.size, self.genes.size), dtype=bool)
        truth_all[r_all, c] = True
        self.all_mask = ~np.eye(self.genes.size, dtype=bool)
        self.y_all = truth_all[self.all_mask]

    # Only the candidate block is read (densified for a sparse GRN).
    def scores_tf(self, mat: Any) -> np.ndarray:
        return np.abs(grn_block(mat, self.tfs, self.genes)[self.tf_mask])

    def scores_all(self, mat: Any) -> np.ndarray:
        return np.abs(grn_block(mat, self.genes, self.genes)[self.all_mask])


def _score(mat: Any, uni: _Universe, convention: str) -> dict[str, Any]:
    s_tf = uni.scores_tf(mat)
    if not np.isfinite(s_tf).all():
        raise ValueError("The GRN matrix contains NaN or infinite weights.")
    tf_rank = _Ranking(uni.y_tf, s_tf)
    k, n_cand = tf_rank.n_pos, tf_rank.n
    density = k / n_cand
    out: dict[str, Any]
    if convention == "deepsem":
        ep = tf_rank.early_precision()
        ap = tf_rank.auprc("average_precision")
        out = {
            "EP": ep,
            "EPR": ep / density,
            "AUPRC": ap,
            "AUPRC_ratio": ap / density,
            "AUROC": tf_rank.auroc(),
        }
    else:
        ep = tf_rank.early_precision(include_ties=True)
        s_all = uni.scores_all(mat)
        if not np.isfinite(s_all).all():
            raise ValueError("The GRN matrix contains NaN or infinite weights.")
        all_rank = _Ranking(uni.y_all, s_all)
        ap = all_rank.auprc("trapezoid")
        out = {
            "EP": ep,
            "EPR": ep / density,
            "AUPRC": ap,
            "AUPRC_ratio": ap / all_rank.density,
            "AUROC": all_rank.auroc(),
        }
    out.update(k=int(k), n_candidates=int(n_cand), density=float(density), convention=convention)
    if convention == "beeline":
        out.update(
            n_candidates_all_pairs=int(all_rank.n), density_all_pairs=float(all_rank.density)
        )
    return out


# ---------------------------------------------------------------------------
# Public network-level API
# ---------------------------------------------------------------------------


def evaluate_grn(
    grn: Any,
    reference: pd.DataFrame,
    *,
    key: str = DEEPSEM,
    var_names: Sequence[str] | pd.Index | None = None,
    convention: str = "deepsem",
) -> dict[str, Any]:
    """Score an inferred GRN against a reference (ground-truth) network.

    Parameters
    ----------
    grn
        The inferred network, **row = regulator (source), column = target**,
        weights ranked by absolute value. One of

        - an :class:`~anndata.AnnData`: the matrix ``adata.varp[key]`` (a
          dense array or a scipy sparse matrix) with gene names
          ``adata.var_names``;
        - a square array, dense or scipy sparse (CSR, CSC, COO; an entry that
          is not stored weighs 0), together with ``var_names``. A sparse GRN
          is only densified at the candidate pairs;
        - a long :class:`~pandas.DataFrame` with columns ``source``,
          ``target``, ``weight`` (decoupler; BEELINE's ``Gene1``, ``Gene2``,
          ``EdgeWeight`` also work). Absent pairs weigh 0; genes come from
          ``var_names`` if given, else from the table;
        - a square genes x genes DataFrame (index = regulators).
    reference
        DataFrame with columns ``source`` and ``target`` (or BEELINE's
        ``Gene1``, ``Gene2``); other columns are ignored. Self-loops and
        duplicated edges are dropped; edges whose genes are missing from the
        GRN's gene names are dropped with a warning.
    key
        ``adata.varp`` key, for AnnData input.
    var_names
        Gene names of the matrix rows/columns, for array input.
    convention
        ``"deepsem"`` (DeepSEM / DAZZLE / RegDiffusion) or ``"beeline"``
        (BEELINE's BLEval); see the module docstring.

    Returns
    -------
    dict
        ``EP``, ``EPR``, ``AUPRC``, ``AUPRC_ratio``, ``AUROC``, ``k`` (true
        edges among the candidates), ``n_candidates``, ``density``
        (``k / n_candidates``) and ``convention``. Candidates are regulator
        x reference-gene pairs without self-pairs. With ``"beeline"``, AUPRC
        and AUROC are over all ordered pairs of distinct reference genes, and
        ``n_candidates_all_pairs`` / ``density_all_pairs`` describe that
        universe (``AUPRC_ratio = AUPRC / density_all_pairs``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scgrn.metrics import evaluate_grn
    >>> genes = ["a", "b", "c", "d"]
    >>> ref = pd.DataFrame({"source": ["a", "a", "b"], "target": ["b", "c", "d"]})
    >>> w = np.zeros((4, 4), dtype=np.float32)
    >>> w[0, 1], w[0, 2], w[1, 2] = 0.9, -0.8, 0.5   # row = regulator
    >>> res = evaluate_grn(w, ref, var_names=genes)
    >>> res["k"], res["n_candidates"], round(res["EP"], 3), round(res["EPR"], 3)
    (3, 6, 0.667, 1.333)
    >>> round(evaluate_grn(w, ref, var_names=genes, convention="beeline")["AUROC"], 3)
    0.815
    """
    convention = _check_convention(convention)
    mat, names = _grn_matrix(grn, key, var_names)
    uni = _Universe(reference, names)
    return _score(mat, uni, convention)


def random_baseline(
    reference: pd.DataFrame,
    var_names: Sequence[str] | pd.Index,
    *,
    convention: str = "deepsem",
    n_repeats: int = 10,
    random_state: int | np.random.Generator | None = 0,
) -> dict[str, Any]:
    """Mean metrics of random edge rankings, the "vs random" baseline.

    Each repeat draws i.i.d. uniform weights for every gene pair and scores
    them with :func:`evaluate_grn`; EPR and AUPRC ratio are about 1 and AUROC
    about 0.5.

    Parameters
    ----------
    reference
        Reference network, as in :func:`evaluate_grn`.
    var_names
        Gene names of the network being compared.
    convention
        ``"deepsem"`` or ``"beeline"``.
    n_repeats
        Number of random rankings averaged.
    random_state
        Seed or :class:`numpy.random.Generator`.

    Returns
    -------
    dict
        The keys of :func:`evaluate_grn` (metrics averaged over repeats) plus
        ``n_repeats``.

    Examples
    --------
    >>> import pandas as pd
    >>> from scgrn.metrics import random_baseline
    >>> ref = pd.DataFrame({"source": ["a", "a", "b"], "target": ["b", "c", "d"]})
    >>> base = random_baseline(ref, ["a", "b", "c", "d"], n_repeats=5)
    >>> base["n_repeats"], base["k"]
    (5, 3)
    """
    convention = _check_convention(convention)
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, (int, np.integer)) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive integer, got {n_repeats!r}.")
    names = _check_names(var_names)
    uni = _Universe(reference, names)
    rng = np.random.default_rng(random_state)
    n = len(names)
    mat = np.zeros((n, n), dtype=np.float32)
    idx = np.ix_(uni.genes, uni.genes)
    runs = []
    for _ in range(int(n_repeats)):
        mat[idx] = rng.random((uni.genes.size, uni.genes.size), dtype=np.float32)
        runs.append(_score(mat, uni, convention))
    out = dict(runs[0])
    for name in ("EP", "EPR", "AUPRC", "AUPRC_ratio", "AUROC"):
        out[name] = float(np.mean([r[name] for r in runs]))
    out["n_repeats"] = int(n_repeats)
    return out
