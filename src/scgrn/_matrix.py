"""Chunked access to an expression matrix as it is stored: dense, scipy sparse or backed.

A scanpy user's matrix can be 10^5-10^6 cells x 2*10^4 genes held sparse, or an h5ad opened
with ``backed="r"``. Tools that stream over cells read it through these helpers, a block of
rows at a time, so that no dense cells x genes copy is ever made.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

#: rows read at a time when a whole matrix is scanned
SCAN_ROWS = 4096
#: the largest finite float32: every tool computes in float32, where larger values become infinite
FLOAT32_MAX = float(np.finfo(np.float32).max)


def is_backed(x) -> bool:
    """True for a matrix that lives on disk (an h5py dataset or anndata's backed sparse dataset).

    Examples
    --------
    >>> is_backed(np.zeros((2, 2)))
    False
    """
    if isinstance(x, np.ndarray) or sparse.issparse(x):
        return False
    module = type(x).__module__
    return module.startswith("h5py") or hasattr(x, "to_memory") or "sparse_dataset" in module


def read_rows(x, rows: np.ndarray | slice) -> np.ndarray:
    """Rows of ``x`` as a dense float32 array; ``rows``: a slice or integer positions.

    Backed matrices are read in increasing order (HDF5 needs it) and put back in the order asked.

    Examples
    --------
    >>> read_rows(sparse.csr_matrix(np.eye(3)), np.array([2, 0]))
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    if isinstance(rows, slice) or not is_backed(x):
        block = x[rows]
    else:
        rows = np.asarray(rows)
        unique, inverse = np.unique(rows, return_inverse=True)
        block = x[unique]
        block = block[inverse]
    if sparse.issparse(block):
        block = block.toarray()
    return np.asarray(block, dtype=np.float32)


def row_blocks(x, block_rows: int = SCAN_ROWS) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, dense float32 block)`` over all rows of ``x``, ``block_rows`` at a time.

    Examples
    --------
    >>> [(start, b.shape) for start, b in row_blocks(np.zeros((5, 2)), block_rows=2)]
    [(0, (2, 2)), (2, (2, 2)), (4, (1, 2))]
    """
    n = x.shape[0]
    for start in range(0, n, block_rows):
        yield start, read_rows(x, slice(start, min(start + block_rows, n)))


@dataclass
class ColumnSummary:
    """What one pass over a matrix learns about its columns (genes) and values.

    Attributes
    ----------
    n_rows
        Rows (cells) scanned.
    nonfinite
        Per column, the count of NaN or infinite values.
    nonzero
        Per column, the count of non-zero (finite) values.
    total, total_sq
        Per column, the sum and sum of squares of the finite values (float64).
    nonneg_integer
        Whether every finite value is a non-negative integer.
    max
        Largest finite value (``-inf`` for an empty matrix).
    min
        Smallest finite stored value (``inf`` for an empty matrix; the implicit zeros of a
        sparse matrix are not included).
    beyond_float32
        Per column, the count of finite values whose magnitude exceeds :data:`FLOAT32_MAX`
        (finite in float64, infinite once cast to float32).
    """

    n_rows: int
    nonfinite: np.ndarray
    nonzero: np.ndarray
    total: np.ndarray
    total_sq: np.ndarray
    nonneg_integer: bool
    max: float
    beyond_float32: np.ndarray | None = field(default=None)
    min: float = field(default=np.inf)


def _add_values(values: np.ndarray, columns: np.ndarray, n_cols: int, acc: dict) -> None:
    """Accumulate the stored values of one block (``values[i]`` sits in column ``columns[i]``)."""
    finite = np.isfinite(values)
    if not finite.all():
        acc["nonfinite"] += np.bincount(columns[~finite], minlength=n_cols)
        values, columns = values[finite], columns[finite]
    v = values.astype(np.float64)
    if values.dtype.kind == "f" and values.dtype.itemsize > 4:  # only wider floats can overflow float32
        big = np.abs(v) > FLOAT32_MAX
        if big.any():
            acc["beyond_float32"] += np.bincount(columns[big], minlength=n_cols)
    acc["nonzero"] += np.bincount(columns[v != 0], minlength=n_cols)
    acc["total"] += np.bincount(columns, weights=v, minlength=n_cols)
    acc["total_sq"] += np.bincount(columns, weights=v * v, minlength=n_cols)
    if v.size:
        acc["nonneg_integer"] &= bool((v >= 0).all() and (v == np.round(v)).all())
        acc["max"] = max(acc["max"], float(v.max()))
        acc["min"] = min(acc["min"], float(v.min()))


def summarise_columns(x, block_rows: int = SCAN_ROWS) -> ColumnSummary:
    """One chunked pass over ``x`` (dense, sparse or backed): per-column counts and moments.

    Sparse blocks are summarised from their stored values only (implicit zeros add nothing
    but count as zeros), so a sparse matrix is never densified.

    Examples
    --------
    >>> s = summarise_columns(sparse.csr_matrix(np.array([[0.0, 2.0], [1.0, 0.0]])))
    >>> s.nonzero.tolist(), s.total.tolist(), s.nonneg_integer
    ([1, 1], [1.0, 2.0], True)
    """
    n_rows, n_cols = x.shape
    acc = {
        "nonfinite": np.zeros(n_cols, dtype=np.int64),
        "nonzero": np.zeros(n_cols, dtype=np.int64),
        "total": np.zeros(n_cols),
        "total_sq": np.zeros(n_cols),
        "nonneg_integer": True,
        "max": -np.inf,
        "min": np.inf,
        "beyond_float32": np.zeros(n_cols, dtype=np.int64),
    }
    for start in range(0, n_rows, block_rows):
        block = x[start : min(start + block_rows, n_rows)]
        if sparse.issparse(block):
            coo = sparse.coo_matrix(block)
            _add_values(np.asarray(coo.data), np.asarray(coo.col, dtype=np.int64), n_cols, acc)
        else:
            block = np.asarray(block)
            columns = np.broadcast_to(np.arange(n_cols), block.shape).ravel()
            _add_values(block.ravel(), columns, n_cols, acc)
    return ColumnSummary(n_rows=n_rows, **acc)


def column_variance(summary: ColumnSummary) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and population variance (float64) over all cells, from a
    :func:`summarise_columns` pass (``E[x^2] - mean^2``, floored at 0).

    Examples
    --------
    >>> [m.tolist() for m in column_variance(summarise_columns(np.array([[0.0, 2.0], [2.0, 2.0]])))]
    [[1.0, 2.0], [1.0, 0.0]]
    """
    n = max(summary.n_rows, 1)
    mean = summary.total / n
    return mean, np.maximum(summary.total_sq / n - mean**2, 0.0)


def gene_moments(summary: ColumnSummary, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and standard deviation (population) from a :func:`summarise_columns` pass.

    ``mode="all"``: over all cells; ``"nonzero"``: over each gene's non-zero values. A zero
    standard deviation is returned as 1 (a constant gene is centred, not scaled).

    Examples
    --------
    >>> s = summarise_columns(np.array([[0.0, 2.0], [2.0, 2.0]]))
    >>> [m.tolist() for m in gene_moments(s, "all")]
    [[1.0, 2.0], [1.0, 1.0]]
    >>> [m.tolist() for m in gene_moments(s, "nonzero")]
    [[2.0, 2.0], [1.0, 1.0]]
    """
    n = summary.n_rows if mode == "all" else np.maximum(summary.nonzero, 1)
    mean = summary.total / n
    var = np.maximum(summary.total_sq / n - mean**2, 0.0)
    # E[x^2] - mean^2 leaves rounding residue on a constant gene: treat that as zero spread
    std = np.where(var > 1e-10 * mean**2, np.sqrt(var), 1.0)
    std = np.where(std > 0, std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)
