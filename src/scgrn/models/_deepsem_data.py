"""Cells for DeepSEM training, z-scored a mini-batch at a time from the matrix as stored.

The input may be a dense array, a scipy sparse matrix or a backed (on-disk) matrix. Only the
rows of the current mini-batch (or, for a backed matrix, of the current block of cells) are
ever dense, so memory does not grow with the number of cells beyond the input itself.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import sparse

from .._matrix import (
    ColumnSummary,
    gene_moments,
    is_backed,
    read_rows,
    row_blocks,
    summarise_columns,
)
from .._validate import check_real_dtype

#: cells read from disk at a time when the input is backed; mini-batches are drawn within a block
BACKED_BLOCK_CELLS = 16384


def scale_rows(x: np.ndarray, mean: np.ndarray, std: np.ndarray, mode: str) -> np.ndarray:
    """Z-score rows with per-gene ``mean`` and ``std``; ``mode="nonzero"`` also clips to +-20
    (as DeepSEM's cell-type-specific code does)."""
    scaled = (np.asarray(x, dtype=np.float32) - mean) / std
    if mode == "nonzero":
        scaled = np.clip(scaled, -20, 20)
    return scaled.astype(np.float32, copy=False)


def check_unchanged(matrix, summary: ColumnSummary | None, layer: str | None) -> None:
    """Raise a ``ValueError`` when ``matrix`` no longer matches the ``summary`` of it taken when the
    model was built: a :class:`DeepSEM` keeps a reference to ``adata.X`` (or the layer), not a
    copy, so an in-place change (``sc.pp.log1p(adata)``, ``adata.X[0, 0] = np.nan``) would be used
    with the checks and per-gene moments of the old values. One pass over the matrix; ``summary``
    ``None`` (:meth:`DeepSEM.from_array`, no summary kept) checks nothing.

    Examples
    --------
    >>> x = np.ones((3, 2), dtype=np.float32)
    >>> s = summarise_columns(x)
    >>> check_unchanged(x, s, None)
    >>> x[0, 0] = 2.0
    >>> check_unchanged(x, s, None)
    Traceback (most recent call last):
    ...
    ValueError: adata.X changed since DeepSEM(adata) was built (its per-gene sums differ), but the model keeps a reference to it, not a copy, with the checks and per-gene moments of the earlier values; build the model again on the changed data: `model = scgrn.models.DeepSEM(adata, ...)`.
    """
    if summary is None:
        return
    now = summarise_columns(matrix)
    same = now.n_rows == summary.n_rows and now.max == summary.max and now.min == summary.min and all(
        np.array_equal(getattr(now, f), getattr(summary, f)) for f in ("nonfinite", "nonzero", "total", "total_sq")
    )
    if same:
        return
    where = f"adata.layers[{layer!r}]" if layer is not None else "adata.X"
    n_bad = int(now.nonfinite.sum())
    what = f"it now holds {n_bad} NaN or infinite value(s)" if n_bad else "its per-gene sums differ"
    raise ValueError(
        f"{where} changed since DeepSEM(adata) was built ({what}), but the model keeps a reference to it, "
        "not a copy, with the checks and per-gene moments of the earlier values; build the model again on "
        "the changed data: `model = scgrn.models.DeepSEM(adata, ...)`."
    )


@torch.no_grad()
def checked_dense_array(x, var_names) -> np.ndarray:
    """``x`` as float32 after the checks of :meth:`DeepSEM.from_array`: dense, two-dimensional,
    finite, at least 2 cells, one column per name, names unique."""
    if sparse.issparse(x):
        raise TypeError("x must be a dense array; for a scipy sparse matrix pass x.toarray(), or build the "
                        "model from an AnnData (DeepSEM(adata)), which reads sparse data without densifying.")
    check_real_dtype(np.asarray(x), "x")
    x = np.asarray(x, dtype=np.float32)
    if len(set(map(str, var_names))) != len(var_names):
        raise ValueError("var_names must be unique; rename duplicates first (e.g. anndata's var_names_make_unique).")
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] != len(var_names) or not np.isfinite(x).all():
        raise ValueError(f"x must be a dense, finite cells x genes array with at least 2 cells and one column "
                         f"per var_name; got shape {x.shape} for {len(var_names)} var_names.")
    return x


def member_signs(module, block: np.ndarray, mean: np.ndarray, std: np.ndarray, mode: str) -> torch.Tensor:
    """Per member, ``+1`` or ``-1``: the sign that aligns its latent to the first member's on the
    cells of ``block`` (a member's shared encoder may learn the mirrored latent, a global flip,
    which a block of cells settles as well as all of them). :meth:`DeepSEM.get_latent_representation`
    reads it once, from the training cells' first block, and keeps it with the model."""
    scaled = torch.from_numpy(scale_rows(block, mean, std, mode))
    mu = module.encode_cells(scaled, module.grn_layer(), grid=module.config.mlp_grid)[0]  # (E, cells, genes)
    signs = torch.sign((mu * mu[:1]).sum(dim=(1, 2)))
    signs[signs == 0] = 1
    return signs


def sign_aligned_latent(module, x, mean: np.ndarray, std: np.ndarray, mode: str, block_cells: int,
                        signs: torch.Tensor) -> np.ndarray:
    """Posterior means after the GRN layer, ``(n_cells, n_genes)``, averaged over the members
    of ``module`` after multiplying each by its sign (:func:`member_signs`, fixed for the model,
    so a cell's embedding does not depend on the other cells encoded with it; what
    :meth:`DeepSEM.get_latent_representation` returns), ``block_cells`` cells at a time."""
    layer = module.grn_layer()
    latent = np.empty(x.shape, dtype=np.float32)
    for start, block in row_blocks(x, block_cells):
        scaled = torch.from_numpy(scale_rows(block, mean, std, mode))
        mu = module.encode_cells(scaled, layer, grid=module.config.mlp_grid)[0]  # (E, cells, genes)
        latent[start : start + mu.shape[1]] = (mu * signs[:, None, None]).mean(0).numpy()
    return latent


def standardise(x, mode: str, summary: ColumnSummary | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-score genes (columns) of a whole matrix (for the dense paths: embedding, simulation).

    Returns the scaled matrix, the mask of observed (non-zero) entries and, per gene, the
    value a raw zero maps to (what dropout augmentation writes). ``mode="all"``: mean and
    standard deviation over all cells; ``"nonzero"``: over each gene's non-zero values, then
    clipped to +-20. The statistics are the ones training uses (:class:`CellBatches`).

    Examples
    --------
    >>> scaled, observed, zero = standardise(np.array([[0.0, 1.0], [2.0, 3.0]]), "all")
    >>> scaled.tolist(), zero.tolist()
    ([[-1.0, -1.0], [1.0, 1.0]], [-1.0, -2.0])
    """
    summary = summarise_columns(x) if summary is None else summary
    mean, std = gene_moments(summary, mode)
    x = read_rows(x, slice(None)) if not isinstance(x, np.ndarray) else np.asarray(x, dtype=np.float32)
    return scale_rows(x, mean, std, mode), x != 0, scale_rows(np.zeros((1, len(mean))), mean, std, mode)[0]


class CellBatches:
    """Mini-batches of z-scored cells drawn from a matrix as stored.

    Parameters
    ----------
    x
        Cells x genes: dense, scipy sparse (CSR is fastest) or backed.
    mode
        Standardisation, ``"all"`` or ``"nonzero"`` (see :func:`standardise`).
    loss_on
        ``"nonzero"``: the observed mask marks the non-zero entries; ``"all"``: every entry.
    summary
        A :func:`~scgrn._matrix.summarise_columns` pass over ``x``, if already made.

    Examples
    --------
    >>> from scipy import sparse
    >>> batches = CellBatches(sparse.csr_matrix(np.array([[0.0, 1.0], [2.0, 3.0]])), "all", "nonzero")
    >>> xb, observed = batches.rows(np.array([[1, 0]]))  # (members, cells) of row positions
    >>> xb.shape, observed.tolist()
    (torch.Size([1, 2, 2]), [[[True, True], [False, True]]])
    """

    def __init__(self, x, mode: str, loss_on: str, summary: ColumnSummary | None = None):
        self.x = x
        self.mode = mode
        self.loss_on = loss_on
        summary = summarise_columns(x) if summary is None else summary
        self.mean, self.std = gene_moments(summary, mode)
        self.zero_value = scale_rows(np.zeros((1, len(self.mean))), self.mean, self.std, mode)[0]
        self.n_cells, self.n_genes = x.shape
        self.block_cells = BACKED_BLOCK_CELLS if is_backed(x) else self.n_cells

    def block_spans(self) -> list[tuple[int, int]]:
        """Blocks of consecutive cells, ``(start, stop)``: one for an in-memory matrix, runs
        of about ``BACKED_BLOCK_CELLS`` cells for a backed one."""
        n_blocks = max(1, -(-self.n_cells // self.block_cells))
        edges = np.linspace(0, self.n_cells, n_blocks + 1).round().astype(int)
        return list(zip(edges[:-1].tolist(), edges[1:].tolist()))

    def blocks(self, generator: torch.Generator) -> list[tuple[int, int]]:
        """One epoch's blocks in a random order (one block draws no random number).

        An in-memory matrix is one block (every member shuffles all cells); a backed one is
        read a block at a time, and mini-batches are drawn within the block.
        """
        spans = self.block_spans()
        if len(spans) == 1:
            return spans
        return [spans[i] for i in torch.randperm(len(spans), generator=generator).tolist()]

    def load(self, start: int, stop: int):
        """The block's rows as they will be indexed: the matrix itself when in memory."""
        if start == 0 and stop == self.n_cells and not is_backed(self.x):
            return self.x
        return self.x[start:stop]

    def rows(self, positions: np.ndarray, block=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Z-scored rows ``positions`` (members, cells) of ``block`` (default: the matrix)
        -> ``(x, observed)``, each (members, cells, genes)."""
        e, b = positions.shape
        raw = read_rows(self.x if block is None else block, positions.reshape(-1))
        observed = raw != 0 if self.loss_on == "nonzero" else np.ones(raw.shape, dtype=bool)
        scaled = scale_rows(raw, self.mean, self.std, self.mode)
        return (
            torch.from_numpy(scaled).reshape(e, b, self.n_genes),
            torch.from_numpy(observed).reshape(e, b, self.n_genes),
        )


def steps_in_blocks(spans: list[tuple[int, int]], batch_size: int) -> int:
    """Mini-batches in an epoch over these blocks (each block drops its ragged end)."""
    return sum(max(1, (stop - start) // min(batch_size, stop - start)) for start, stop in spans)


def warn_constant_genes(summary, var_names, layer: str | None) -> None:
    """Warn naming the genes that have one value in every cell (all-zero ones are refused before).

    They carry no information, yet DeepSEM gives them edges: the z-scored input is 0 in every cell,
    so their weights are not learned from the data, and they ranked among a network's strongest
    (3rd of 90 edges for 10 genes at the default settings). Grouped runs (``groupby=``) leave a
    group's constant genes out of its model, so they have no edge there.
    """
    n = max(summary.n_rows, 1)
    mean = summary.total / n
    var = np.maximum(summary.total_sq / n - mean**2, 0.0)
    constant = ~(var > 1e-10 * mean**2)  # E[x^2] - mean^2 leaves rounding residue on a constant gene
    if not constant.any():
        return
    names = [str(g) for g in np.asarray(var_names)[constant]]
    shown = ", ".join(repr(g) for g in names[:5]) + (f", ... ({len(names) - 5} more)" if len(names) > 5 else "")
    where = "adata.X" if layer is None else f"adata.layers[{layer!r}]"
    warnings.warn(
        f"{len(names)} gene(s) have the same value in every cell of {where} ({shown}). They carry no "
        "information, but DeepSEM still gives them edges, not learned from the data, which can rank among the "
        "strongest. Leave them out first: `adata = adata[:, ~adata.var_names.isin(constant)].copy()` with "
        "constant the genes named here.",
        UserWarning,
        stacklevel=3,
    )
