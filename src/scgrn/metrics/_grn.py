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

The array-level metrics (:func:`early_precision`, :func:`epr`, :func:`auprc`,
:func:`auprc_ratio`, :func:`auroc`) live in :mod:`scgrn.metrics._ranking`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._grn_matrix import frame_values, grn_block, grn_matrix
from .._keys import DEEPSEM
from .._names import _tf_near_matches, space_hint
from .._params import check_random_state
from .._reference import edge_names, read_reference
from .._validate import check_gene_names
from ._ranking import _Ranking, auprc, auprc_ratio, auroc, early_precision, epr, warn_if_all_tied

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

_SOURCE_COLS = ("source", "Gene1")
_TARGET_COLS = ("target", "Gene2")
_WEIGHT_COLS = ("weight", "EdgeWeight")


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
    names = check_gene_names(var_names, "var_names").astype(str)
    if n is not None and len(names) != n:
        raise ValueError(
            f"var_names has {len(names)} entries but the GRN matrix has {n} rows/columns."
        )
    if not names.is_unique:
        dup = names[names.duplicated()].unique()[:5].tolist()
        raise ValueError(f"var_names must be unique; duplicated e.g. {dup}.")
    return names


def _numeric_weights(df: pd.DataFrame, column: str) -> np.ndarray:
    """The ``column`` of an edge table as float64, or a ``ValueError`` naming the column and
    the first values that are not numbers (bools are not weights either)."""
    values = df[column]
    if pd.api.types.is_bool_dtype(values):
        raise ValueError(
            f"The long-format GRN's {column!r} column holds booleans; it must hold numeric edge "
            f"weights (ranked by |weight|). Convert it if intended: `df[{column!r}] = df[{column!r}].astype(float)`."
        )
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        shown = ", ".join(repr(v) for v in values[bad].unique()[:3])
        raise ValueError(
            f"The long-format GRN's {column!r} column must hold numeric edge weights, but "
            f"{int(bad.sum())} of its {len(values)} values are not numbers (e.g. {shown}; the first in row "
            f"{df.index[bad.to_numpy()].tolist()[0]!r}). Convert them, e.g. `df[{column!r}] = "
            f"pd.to_numeric(df[{column!r}])`, or map the labels to scores first."
        )
    return numbers.to_numpy(dtype=np.float64)


def _matrix_from_long(df: pd.DataFrame, var_names: Any) -> tuple[np.ndarray, pd.Index]:
    src_col = _pick_column(df, _SOURCE_COLS, "A long-format GRN DataFrame")
    tgt_col = _pick_column(df, _TARGET_COLS, "A long-format GRN DataFrame")
    w_col = _pick_column(df, _WEIGHT_COLS, "A long-format GRN DataFrame")
    src, tgt = edge_names(df, src_col, tgt_col, "The long-format GRN")
    w = _numeric_weights(df, w_col)
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
        if var_names is not None:  # read by its labels, in the order of var_names
            names = _check_names(var_names)
            return grn_matrix(frame_values(grn, names), len(names), dense=dense), names
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
        ref = read_reference(reference)
        n_clean = len(ref)
        if n_clean == 0:
            raise ValueError("The reference network has no edges (after dropping self-loops and rows labelled 0).")
        src = names.get_indexer(ref["source"].to_numpy())
        tgt = names.get_indexer(ref["target"].to_numpy())
        keep = (src >= 0) & (tgt >= 0)
        n_lost = int(n_clean - keep.sum())
        hint = ""
        if n_lost:
            missing = pd.unique(
                np.concatenate(
                    [ref["source"].to_numpy()[src < 0], ref["target"].to_numpy()[tgt < 0]]
                )
            )
            by_space = _tf_near_matches([str(g) for g in missing], names)[0]
            if by_space:  # a CSV artefact: the names print the same
                hint = " " + space_hint(
                    by_space, "`ref[['source', 'target']] = ref[['source', 'target']].apply(lambda s: s.str.strip())`",
                    "`adata.var_names = adata.var_names.str.strip()` (or strip var_names=)",
                    lead="Some reference gene names match var_names only after stripping surrounding whitespace",
                ) + "."
            warnings.warn(
                f"{n_lost} of {n_clean} reference edges were dropped because {len(missing)} of "
                f"their genes are not in var_names (e.g. {list(missing[:5])}).{hint}",
                stacklevel=stacklevel,
            )
        src, tgt = src[keep], tgt[keep]
        if src.size == 0:
            raise ValueError(
                "No reference edge is left: none of the reference edges has both genes in "
                f"var_names ({n_clean} edges checked). "
                + (hint.lstrip() if hint else "Check that gene identifiers match (symbols vs Ensembl IDs, case).")
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
    warn_if_all_tied(  # _score <- evaluate_grn <- caller
        s_tf, what="candidate edges have the same |weight|", affected="EP, EPR and AUPRC", stacklevel=3
    )
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
        - a square genes x genes DataFrame (index = regulators), read by its labels (with
          ``var_names``: put in that order, and its labels must be the same genes).
    reference
        The true edges, a DataFrame with a regulator column ``source`` (or
        BEELINE's ``Gene1``, or ``regulator``, ``TF``) and a target column
        ``target`` (or ``Gene2``). A ``label`` or ``weight`` column of 0/1
        (or booleans) marks true and false pairs, as in the DREAM gold
        standards (``regulator, target, 0/1``; also read with
        ``header=None``): **only the rows labelled 1 are true edges**, and
        rows of weight 0 are dropped from any numeric ``weight`` column.
        Other columns are ignored; any other layout raises a ``ValueError``
        naming the columns accepted. Self-loops and duplicated edges are
        dropped; edges whose genes are missing from the GRN's gene names are
        dropped with a warning. The same reader
        (:func:`scgrn._reference.read_reference`) serves
        :func:`random_baseline`, :func:`precision_recall_at_k`,
        ``tl.pair_classifier`` and ``datasets.dream4``.
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
        Integer seed, ``None`` (a fresh seed) or a :class:`numpy.random.Generator` /
        ``RandomState`` (a seed drawn from it).

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
    random_state = check_random_state(random_state)
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
