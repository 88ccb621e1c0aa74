"""The one check of a GRN weight matrix, dense or scipy sparse, shared by every reader.

A GRN is ``n_vars x n_vars`` with **row = regulator (source), column = target**. It is a
dense numpy array or, for large inputs, a scipy sparse matrix in which an entry that is not
stored weighs 0 (no edge). Readers call :func:`grn_matrix` once and then either work on
the stored entries (sparse) or on the array, and take blocks with :func:`grn_block`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from ._params import ParameterTypeError
from ._reference import SOURCE_COLUMNS, TARGET_COLUMNS

__all__ = ["grn_matrix", "grn_block", "frame_values", "paired_values", "nonfinite_counts"]

_SQUARE = "n_vars x n_vars, row = regulator, column = target"


def grn_matrix(matrix: Any, n_vars: int | None = None, *, dense: bool = False, names: Sequence[str] | None = None) -> Any:
    """Check a GRN weight matrix and return it in a form every reader can use.

    Parameters
    ----------
    matrix
        Square weights, row = regulator, column = target: a numpy array (or anything
        :func:`numpy.asarray` turns into one) or a scipy sparse matrix or array in any
        format (CSR, CSC, COO, ...), whose entries that are not stored weigh 0. A
        :class:`pandas.DataFrame` is read **by its labels** (see :func:`frame_values`).
    n_vars
        Expected number of genes (rows and columns); ``None`` skips this check.
    names
        The gene names the rows and columns must be in, for a labelled DataFrame.
    dense
        Return a dense array for sparse input too, for readers that need the whole matrix.

    Returns
    -------
    A 2-D :class:`numpy.ndarray` for dense input (or with ``dense=True``); otherwise a CSR
    matrix of the input's class family (``csr_matrix`` or ``csr_array``) in canonical form:
    sorted column indices and duplicate entries summed, as densifying would. Boolean and
    integer weights become float64; float input is not copied.

    Raises
    ------
    ValueError
        If the matrix is not 2-D and square, does not have ``n_vars`` rows, or its weights
        are not real numbers.
    ParameterTypeError
        (A ``TypeError`` and a ``ValueError``.) For an AnnData (its network is
        ``adata.varp[key]``) or a long edge table (columns ``source`` / ``target``), named as
        such with the fix (:func:`refuse_wrong_kind`).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> W = sparse.coo_matrix(([0.5, 0.25, -1.0], ([0, 0, 1], [1, 1, 0])), shape=(3, 3))
    >>> M = grn_matrix(W, 3)
    >>> M.format, M.nnz, float(M[0, 1])  # the duplicate (0, 1) entries are summed
    ('csr', 2, 0.75)
    >>> grn_matrix(W, dense=True)[0].tolist()
    [0.0, 0.75, 0.0]
    >>> grn_matrix(np.zeros((2, 3)))
    Traceback (most recent call last):
    ...
    ValueError: The GRN matrix must be square (n_vars x n_vars, row = regulator, column = target); got shape (2, 3).
    """
    refuse_wrong_kind(matrix)
    if isinstance(matrix, pd.DataFrame):
        matrix = frame_values(matrix, names)
    if sparse.issparse(matrix):
        _check_shape(matrix.shape, n_vars)
        _check_dtype(matrix.dtype)
        if dense:
            return _as_float(matrix.toarray())
        mat = matrix.tocsr()
        if not mat.has_canonical_format:
            mat = mat.copy() if mat is matrix else mat
            mat.sum_duplicates()
        return _as_float(mat)
    mat = np.asarray(matrix)
    if mat.ndim == 0 and mat.dtype == object and sparse.issparse(mat.item()):
        raise ValueError(
            "The GRN matrix is a 0-d object array wrapping a scipy sparse matrix (what "
            "np.asarray(sparse_matrix) returns); pass the sparse matrix itself, or "
            "sparse_matrix.toarray()."
        )
    _check_shape(mat.shape, n_vars)
    _check_dtype(mat.dtype)
    return _as_float(mat)


def _edge_columns(frame: pd.DataFrame) -> tuple[Any, Any] | None:
    """``(source, target)`` column names of a long edge table, ``None`` for anything else (a
    square genes x genes frame whose genes happen to be called ``'source'`` is not a table)."""
    source = next((c for c in SOURCE_COLUMNS if c in frame.columns), None)
    target = next((c for c in TARGET_COLUMNS if c in frame.columns), None)
    if source is None or target is None:
        return None
    square = frame.shape[0] == frame.shape[1] and set(frame.index.astype(str)) == set(frame.columns.astype(str))
    return None if square else (source, target)


def refuse_wrong_kind(matrix: Any, what: str = "The GRN matrix") -> None:
    """Refuse, before any work, the two objects most often passed where a square GRN belongs.

    - An AnnData: :func:`numpy.asarray` of it took seconds and failed with numpy's "setting an
      array element with a sequence"; its network is ``adata.varp[key]``.
    - A long edge table (``source`` / ``target`` columns, as :func:`scgrn.get.edges` returns):
      it was read as a square DataFrame and refused with advice for one.

    Examples
    --------
    >>> edges = pd.DataFrame({"source": ["a"], "target": ["b"], "weight": [0.5]})
    >>> refuse_wrong_kind(edges)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    scgrn._params.ParameterTypeError: The GRN matrix is a long edge table (columns 'source', 'target', 'weight': one row per edge, as scgrn.get.edges returns), not a square genes x genes matrix. ...
    """
    from anndata import AnnData

    if isinstance(matrix, AnnData):
        keys = [str(k) for k in matrix.varp.keys()]
        found = f"its varp keys: {keys}" if keys else "this AnnData has no varp entry: run a GRN tool first"
        raise ParameterTypeError(
            f"{what} is an AnnData; pass its network, `adata.varp[key]` ({found}), with `adata.var_names` "
            "where gene names are asked for. To read an AnnData's network as an edge table, use "
            "`scgrn.get.edges(adata, key=key)`."
        )
    if not isinstance(matrix, pd.DataFrame) or (cols := _edge_columns(matrix)) is None:
        return
    source, target = cols
    weight = next((c for c in ("weight", "EdgeWeight") if c in matrix.columns), "weight")
    raise ParameterTypeError(
        f"{what} is a long edge table (columns {_fmt(matrix.columns)}: one row per edge, as "
        "scgrn.get.edges returns), not a square genes x genes matrix. Pass the square matrix it came "
        f"from (`adata.varp[key]`), or build one: `frame.pivot(index={source!r}, columns={target!r}, "
        f"values={weight!r}).reindex(index=genes, columns=genes).fillna(0)` with genes = adata.var_names. "
        "scgrn.metrics.evaluate_grn and precision_recall_at_k read edge tables as they are."
    )


def _is_unlabelled(frame: pd.DataFrame) -> bool:
    """Rows and columns both pandas' default ``0, 1, ..., n-1`` (e.g. ``pd.DataFrame(array)``)."""
    return all(
        isinstance(axis, pd.RangeIndex) and axis.start == 0 and axis.step == 1 for axis in (frame.index, frame.columns)
    )


def _fmt(labels, limit: int = 5) -> str:
    labels = [str(v) for v in labels]
    return ", ".join(repr(v) for v in labels[:limit]) + (f", ... ({len(labels) - limit} more)" if len(labels) > limit else "")


def frame_values(
    frame: pd.DataFrame, names: Sequence[str] | None = None, *, what: str = "The GRN DataFrame", names_are: str | None = None
) -> np.ndarray:
    """The values of a square DataFrame GRN, **ordered by its labels**, never by position.

    - An unlabelled frame (both axes pandas' default ``0..n-1``, e.g. ``pd.DataFrame(W)``)
      is read as it stands.
    - Otherwise its rows and its columns must each hold every gene of ``names`` once (matched
      as text; any order) and nothing else; they are put in the order of ``names``. Without
      ``names``, the columns are put in the order of the rows, and must hold the same genes.

    A ``ValueError`` names the labels that do not match; ``what`` names the frame in it
    (``"The GRN DataFrame's index ..."``) and ``names_are`` the names (default: "the n gene
    names given").

    Examples
    --------
    >>> W = pd.DataFrame([[0.0, 1.0], [0.0, 0.0]], index=["B", "A"], columns=["B", "A"])  # B -> A
    >>> frame_values(W, ["A", "B"]).tolist()  # row A, row B
    [[0.0, 0.0], [1.0, 0.0]]
    >>> frame_values(W, ["A", "C"])
    Traceback (most recent call last):
    ...
    ValueError: The GRN DataFrame's index (rows) does not match the 2 gene names given: 1 of the names are not among its labels ('C') and 1 of its labels are not among the names ('B'). A DataFrame is read by its labels, not by position: fix the names (or the labels), or pass frame.to_numpy() to read it by position.
    """
    if _is_unlabelled(frame):
        return frame.to_numpy()
    rows, cols = frame.index.astype(str), frame.columns.astype(str)
    if names is None:
        want, given = rows, "its own index (rows)"
    else:
        want = pd.Index([str(n) for n in names])
        given = names_are or f"the {len(names)} gene names given"
    for axis, labels in (("index (rows)", rows), ("columns", cols)):
        if not labels.is_unique:
            dups = labels[labels.duplicated()].unique()
            raise ValueError(
                f"{what}'s {axis} has duplicated labels ({_fmt(dups)}); each gene needs one "
                "row and one column. Aggregate or rename them first."
            )
        if names is None and axis.startswith("index"):
            continue
        missing, extra = want.difference(labels, sort=False), labels.difference(want, sort=False)
        if len(missing) or len(extra):
            raise ValueError(
                f"{what}'s {axis} does not match {given}: {len(missing)} of the names are "
                f"not among its labels ({_fmt(missing) or 'none'}) and {len(extra)} of its labels are not "
                f"among the names ({_fmt(extra) or 'none'}). A DataFrame is read by its labels, not by "
                "position: fix the names (or the labels), or pass frame.to_numpy() to read it by position."
            )
    frame = frame.set_axis(rows, axis=0).set_axis(cols, axis=1)
    return frame.loc[want, want].to_numpy()


def paired_values(first: Any, second: Any, what: tuple[str, str] = ("truth", "scores")) -> tuple[Any, Any]:
    """Two square genes x genes matrices over the same genes, in one gene order.

    - Two labelled DataFrames are matched **by their labels**: both are put in the order of the
      first one's rows (:func:`frame_values`); labels that differ raise a ``ValueError`` naming them.
    - A labelled DataFrame and an array (or a frame with pandas' default ``0..n-1`` labels): the
      array has no gene names, so it is read **by position**, in the order of the frame's rows. A
      frame whose columns are not in the order of its rows is then refused: which column of the
      array is which gene cannot be known.
    - Otherwise both are returned as given (read by position).

    ``what`` names the two arguments in the messages.

    Examples
    --------
    >>> g = ["a", "b"]
    >>> truth = pd.DataFrame([[0, 1], [0, 0]], index=g, columns=g)  # a -> b
    >>> scores = pd.DataFrame([[0.0, 0.0], [0.9, 0.0]], index=g[::-1], columns=g[::-1])  # a -> b, reordered
    >>> [m.tolist() for m in paired_values(truth, scores)]
    [[[0, 1], [0, 0]], [[0.0, 0.9], [0.0, 0.0]]]
    """
    labelled = [isinstance(m, pd.DataFrame) and not _is_unlabelled(m) for m in (first, second)]
    if all(labelled):
        a = frame_values(first, what=f"The {what[0]} DataFrame")
        names_are = f"the labels of {what[0]}'s {len(first.index)} rows"
        return a, frame_values(second, list(first.index.astype(str)), what=f"The {what[1]} DataFrame", names_are=names_are)
    if any(labelled):
        k = 0 if labelled[0] else 1
        frame, other = (first, second)[k], (first, second)[1 - k]
        if not frame.index.astype(str).equals(frame.columns.astype(str)):
            kind = "a DataFrame with the default 0..n-1 labels" if isinstance(other, pd.DataFrame) else "an array"
            raise ValueError(
                f"{what[k]} is a DataFrame labelled by gene whose columns are not in the order of its rows, and "
                f"{what[1 - k]} is {kind}, without gene names: which of its columns is which gene cannot be known. "
                f"Pass {what[1 - k]} as a DataFrame labelled by gene (it is then matched by name), or put "
                f"{what[k]}'s columns in the order of its rows: `{what[k]}.loc[:, {what[k]}.index]`."
            )
    return tuple(
        frame_values(m, what=f"The {w} DataFrame") if isinstance(m, pd.DataFrame) else m for m, w in zip((first, second), what)
    )


def nonfinite_counts(matrix: Any) -> tuple[int, int]:
    """``(NaN weights, infinite weights)`` of a GRN checked by :func:`grn_matrix` (stored
    entries only for a sparse one).

    Examples
    --------
    >>> nonfinite_counts(np.array([[0.0, np.nan], [np.inf, -np.inf]]))
    (1, 2)
    """
    values = matrix.data if sparse.issparse(matrix) else np.asarray(matrix)
    return int(np.isnan(values).sum()), int(np.isinf(values).sum())


def grn_block(matrix: Any, rows: Sequence[int], cols: Sequence[int] | None = None) -> np.ndarray:
    """Dense block ``matrix[rows][:, cols]`` of a GRN checked by :func:`grn_matrix`.

    ``rows`` and ``cols`` are integer positions; ``cols=None`` takes every column. Only
    the block is densified, so a sparse GRN is read at the candidate pairs alone.

    Examples
    --------
    >>> from scipy import sparse
    >>> M = grn_matrix(sparse.csr_matrix([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0], [0.0, 0.0, 0.0]]))
    >>> grn_block(M, [1, 0], [2, 1]).tolist()
    [[3.0, 0.0], [0.0, 2.0]]
    """
    rows = np.asarray(rows, dtype=np.intp)
    if sparse.issparse(matrix):
        block = matrix[rows]
        if cols is not None:
            block = block[:, np.asarray(cols, dtype=np.intp)]
        return block.toarray()
    if cols is None:
        return matrix[rows]
    return matrix[np.ix_(rows, np.asarray(cols, dtype=np.intp))]


def _check_shape(shape: tuple[int, ...], n_vars: int | None) -> None:
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"The GRN matrix must be square ({_SQUARE}); got shape {tuple(shape)}.")
    if n_vars is not None and shape[0] != n_vars:
        raise ValueError(
            f"The GRN matrix is {shape[0]} x {shape[1]} but {n_vars} var_names were given: "
            "it needs one row and one column per gene, in the order of var_names."
        )


def _check_dtype(dtype: np.dtype) -> None:
    if dtype.kind not in "biuf":
        raise ValueError(
            f"The GRN matrix must hold real-valued weights, got dtype {dtype}; convert it "
            "first, e.g. matrix.astype(np.float32)."
        )


def _as_float(mat: Any) -> Any:
    return mat if mat.dtype.kind == "f" else mat.astype(np.float64)


def regulator_rows_csr(
    grn: np.ndarray, rows: np.ndarray, n_genes: int, edges_per_target: int | None = None
) -> sparse.csr_matrix:
    """The regulators' rows ``grn`` (regulators x genes) as a genes x genes CSR matrix,
    optionally only the ``edges_per_target`` largest ``|weight|`` entries of each column
    (what a model that learns only its regulators' rows writes to ``varp``).

    Examples
    --------
    >>> regulator_rows_csr(np.array([[0.0, 2.0, -3.0]]), np.array([1]), 3).toarray()
    array([[ 0.,  0.,  0.],
           [ 0.,  2., -3.],
           [ 0.,  0.,  0.]], dtype=float32)
    """
    keep = grn != 0
    if edges_per_target is not None:
        k = int(edges_per_target)
        if k < 1:
            raise ValueError(f"edges_per_target must be a positive integer, got {edges_per_target!r}.")
        if k < grn.shape[0]:
            top = np.argpartition(-np.abs(grn), k - 1, axis=0)[:k]  # the k largest |w| of each target
            in_top = np.zeros_like(keep)
            in_top[top, np.arange(grn.shape[1])] = True
            keep &= in_top
    r, c = np.nonzero(keep)
    return sparse.csr_matrix((grn[r, c].astype(np.float32), (rows[r], c)), shape=(n_genes, n_genes))
