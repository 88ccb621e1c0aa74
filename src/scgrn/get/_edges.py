"""Tidy edge tables from a GRN stored in ``adata.varp`` (decoupler's long format)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from numbers import Integral

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .. import _keys
from .._compat import old_positionals
from .._grn_matrix import grn_matrix, nonfinite_counts
from .._validate import (
    check_adata,
    check_bool,
    check_float,
    check_gene_names,
    check_var_names,
)
from ._group_index import group_index, resolve_group

__all__ = ["edges", "edges_from_matrix"]

_COLUMNS = ["source", "target", "weight"]


def edges_from_matrix(
    matrix: np.ndarray | sparse.spmatrix | sparse.sparray,
    var_names: Sequence[str],
    *,
    top_k: int | None = None,
    sources: Iterable[str] | None = None,
    targets: Iterable[str] | None = None,
    min_abs_weight: float | None = None,
) -> pd.DataFrame:
    """Long-format edge table from a square weight matrix.

    ``matrix[i, j]`` is read as the edge ``var_names[i] -> var_names[j]``
    (row = regulator/source, column = target), the orientation of
    ``adata.varp`` in scgrn.

    Parameters
    ----------
    matrix
        Square ``n x n`` signed edge weights: a dense array, or a scipy sparse matrix or
        array in any format (CSR, CSC, COO, ...). A sparse matrix is read from its stored
        entries, without densifying; an entry that is not stored is no edge (weight 0).
        A :class:`pandas.DataFrame` is read by its labels: its index and columns must hold
        exactly the genes of ``var_names`` (any order; a ``ValueError`` names any that differ)
        and are put in that order. Only a frame with pandas' default ``0..n-1`` labels on both
        axes is read by position.
    var_names
        The ``n`` gene names labelling both rows and columns, in order (a list, array or
        pandas Index; not a set or a generator); they must be unique (a ``ValueError`` names
        any duplicate).
    top_k
        Keep only the ``k`` edges with the largest ``|weight|``. Ties at the
        cut-off are broken like the full ordering (row-major position).
        ``None`` keeps every edge.
    sources
        Restrict sources (rows) to these names. Names absent from
        ``var_names`` are ignored; a ``ValueError`` is raised if none is present.
    targets
        Restrict targets (columns) to these names, same rules as ``sources``.
    min_abs_weight
        Drop edges with ``|weight| < min_abs_weight`` (a finite number >= 0; ``True`` is not
        a number here).

    Returns
    -------
    :class:`pandas.DataFrame` with columns ``source``, ``target`` (str) and
    ``weight`` (the signed value), sorted by ``|weight|`` descending (stable:
    ties keep row-major order), with a fresh ``RangeIndex``. Self-pairs,
    exact zeros and non-finite weights are excluded (NaN and ``±inf``, with a
    warning: both come from a run that diverged, and an infinite weight would
    otherwise rank first).

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([[0.0, 0.5, -2.0], [1.0, 9.0, 0.0], [0.0, 0.0, 0.0]])
    >>> edges_from_matrix(W, ["A", "B", "C"])
      source target  weight
    0      A      C    -2.0
    1      B      A     1.0
    2      A      B     0.5
    """
    names = check_gene_names(var_names, "var_names").to_numpy(dtype=object)
    _check_unique(names)
    W = grn_matrix(matrix, names.shape[0], names=names)
    top_k = _check_top_k(top_k)
    min_abs_weight = check_float("min_abs_weight", min_abs_weight, min=0, allow_none=True)
    if sources is not None or targets is not None:
        check_var_names(names, "var_names")  # names are matched: 0 and '0' must not be confused
    src = None if sources is None else _name_mask(names, sources, "sources")
    tgt = None if targets is None else _name_mask(names, targets, "targets")
    thr = min_abs_weight if min_abs_weight is not None and min_abs_weight > 0 else None

    entries = _sparse_entries if sparse.issparse(W) else _dense_entries
    rows, cols, vals = entries(W, src, tgt, thr)
    n_nan, n_inf = nonfinite_counts(W)
    if n_nan or n_inf:
        found = " and ".join(
            f"{n} {kind}" for n, kind in ((n_nan, "NaN"), (n_inf, "infinite")) if n
        )
        warnings.warn(
            f"GRN matrix contains {found} weight(s); they are dropped. "
            "This usually means training diverged.",
            RuntimeWarning,
            stacklevel=3,
        )
    rows, cols, vals = _strongest(rows, cols, vals, top_k)
    return pd.DataFrame(
        {"source": names[rows], "target": names[cols], "weight": vals},
        columns=_COLUMNS,
    )


def _check_unique(names: np.ndarray) -> None:
    """Refuse duplicated gene names: edges would come out twice, and a gene's edge to its
    namesake would read as a self-edge."""
    index = pd.Index(names)
    if not index.is_unique:
        dups = index[index.duplicated()].unique()
        shown = ", ".join(repr(d) for d in dups[:5]) + (", ..." if len(dups) > 5 else "")
        raise ValueError(
            f"`var_names` has {len(dups)} duplicated gene name(s) ({shown}); each row/column of the "
            "matrix needs its own name. Fix: make them unique, e.g. `adata.var_names_make_unique()`, "
            "or aggregate the duplicated genes first."
        )


def _dense_entries(W: np.ndarray, src, tgt, thr):
    """Kept ``(rows, cols, weights)`` of a dense GRN, in row-major order (non-finite dropped)."""
    mask = (W != 0) & np.isfinite(W)
    np.fill_diagonal(mask, False)
    if src is not None:
        mask &= src[:, None]
    if tgt is not None:
        mask &= tgt[None, :]
    if thr is not None:
        mask &= np.abs(W) >= thr
    rows, cols = np.nonzero(mask)  # row-major order
    return rows, cols, W[rows, cols]


def _sparse_entries(W, src, tgt, thr):
    """Kept ``(rows, cols, weights)`` of a canonical CSR GRN, from its stored entries.

    Entries that are not stored are zeros, which the dense path drops too; canonical CSR
    (sorted indices, no duplicates) gives its COO entries in row-major order, the order of
    the dense path, so ties are broken the same way.
    """
    coo = W.tocoo()
    rows = np.asarray(coo.row, dtype=np.intp)
    cols = np.asarray(coo.col, dtype=np.intp)
    vals = coo.data
    keep = (vals != 0) & np.isfinite(vals) & (rows != cols)  # explicit zeros are no edge either
    if src is not None:
        keep &= src[rows]
    if tgt is not None:
        keep &= tgt[cols]
    if thr is not None:
        keep &= np.abs(vals) >= thr
    return rows[keep], cols[keep], vals[keep]


def _strongest(rows, cols, vals, top_k):
    """Entries sorted by ``|weight|`` descending (stable), cut to the ``top_k`` first."""
    absv = np.abs(vals)
    if top_k is not None and top_k < vals.size:
        if top_k == 0:
            keep = np.zeros(0, dtype=np.intp)
        else:
            # k-th largest |w| as threshold; take everything above it, then the
            # first ties (in row-major order) so the result is deterministic and
            # equal to the head of the full stable ordering.
            thr = absv[np.argpartition(absv, vals.size - top_k)[vals.size - top_k]]
            above = np.flatnonzero(absv > thr)
            ties = np.flatnonzero(absv == thr)[: top_k - above.size]
            keep = np.sort(np.concatenate([above, ties]))
        rows, cols, vals, absv = rows[keep], cols[keep], vals[keep], absv[keep]
    order = np.argsort(-absv, kind="stable")
    return rows[order], cols[order], vals[order]


@old_positionals("key")
def edges(
    adata: AnnData,
    *,
    key: str = _keys.DEEPSEM,
    top_k: int | None = None,
    tfs_only: bool | None = None,
    min_abs_weight: float | None = None,
    group: str | None = None,
) -> pd.DataFrame:
    """Edges of an inferred GRN as a long-format table.

    Reads ``adata.varp[key]`` (row = regulator/source, column = target), a
    dense array or a scipy sparse matrix (CSR, CSC, COO; an entry that is not
    stored is no edge), and returns decoupler's network format, ready for
    ``decoupler`` or for :func:`scgrn.metrics` functions. Both give the same
    table for the same weights; a sparse GRN is never densified.

    Parameters
    ----------
    adata
        Annotated data matrix holding a GRN in ``adata.varp[key]`` (dense array or
        scipy sparse matrix).
    key
        Key of the GRN in ``adata.varp`` and of its metadata in ``adata.uns``.
    top_k
        Keep only the ``k`` strongest edges by ``|weight|``.
    tfs_only
        Restrict sources to the TFs recorded in ``adata.uns[key]['tfs']``.
        ``None`` (default) does so when TFs are recorded and keeps all sources
        otherwise; ``True`` without recorded TFs raises a ``ValueError``, and so does
        reading the TFs when none of them is left in ``adata.var_names`` (e.g. after
        subsetting the genes: pass ``tfs_only=False``).
    min_abs_weight
        Drop edges with ``|weight| < min_abs_weight``.
    group
        For a tool run with ``groupby=`` under ``key``: the group whose network to read.
        ``None`` on such a run reads every group's network (``top_k`` per group).

    Returns
    -------
    :class:`pandas.DataFrame` with columns ``source``, ``target`` (gene names)
    and ``weight`` (signed), sorted by ``|weight|`` descending. Self-pairs and
    exact-zero weights are excluded. All groups of a ``groupby=`` run: one table after
    another, in group order, with a categorical ``group`` column last.

    Examples
    --------
    >>> import numpy as np, pandas as pd, anndata as ad
    >>> import scgrn
    >>> adata = ad.AnnData(
    ...     np.zeros((4, 3), dtype=np.float32), var=pd.DataFrame(index=["Gata1", "Fli1", "Klf1"])
    ... )
    >>> W = np.zeros((3, 3), dtype=np.float32)
    >>> W[0, 2] = 0.75  # Gata1 -> Klf1
    >>> W[0, 1] = -0.5  # Gata1 -| Fli1
    >>> W[1, 0] = -0.25  # Fli1 -| Gata1
    >>> adata.varp["deepsem"] = W
    >>> adata.uns["deepsem"] = {"method": "manual", "params": {}}
    >>> scgrn.get.edges(adata)
      source target  weight
    0  Gata1   Klf1    0.75
    1  Gata1   Fli1   -0.50
    2   Fli1  Gata1   -0.25
    >>> adata.uns["deepsem"]["tfs"] = ["Gata1"]  # now only Gata1 rows are sources
    >>> scgrn.get.edges(adata, top_k=1)
      source target  weight
    0  Gata1   Klf1    0.75

    One network per group of cells (here two halves of the cells):

    >>> adata, _ = scgrn.datasets.krumsiek11()
    >>> adata.obs["half"] = np.where(np.arange(adata.n_obs) < 320, "first", "second")
    >>> scgrn.tl.correlation(adata, groupby="half")
    >>> scgrn.get.edges(adata, key="pearson", group="second", top_k=2).shape
    (2, 3)
    >>> scgrn.get.edges(adata, key="pearson", top_k=2)["group"].tolist()
    ['first', 'first', 'second', 'second']
    """
    kwargs = {"top_k": top_k, "tfs_only": tfs_only, "min_abs_weight": min_abs_weight}
    check_adata(adata)
    if group is not None:
        return _edges(adata, resolve_group(adata, key, group), **kwargs)
    index = group_index(adata, key)
    if index is not None and key not in adata.varp:
        return _grouped_edges(adata, key, index, **kwargs)
    return _edges(adata, key, **kwargs)


def _edges(
    adata: AnnData,
    key: str,
    *,
    top_k: int | None = None,
    tfs_only: bool | None = None,
    min_abs_weight: float | None = None,
    genes: Iterable[str] | None = None,
) -> pd.DataFrame:
    """:func:`edges` with an extra ``genes`` restriction (both ends in ``genes``)."""
    check_adata(adata)
    check_var_names(adata.var_names)
    check_grn_key(adata, key)
    meta = adata.uns.get(key, {})
    tfs = meta.get("tfs") if isinstance(meta, dict) else None
    has_tfs = tfs is not None and len(np.atleast_1d(tfs)) > 0
    tfs_only = check_bool("tfs_only", tfs_only, allow_none=True)
    if tfs_only is None:
        tfs_only = has_tfs
    elif tfs_only and not has_tfs:
        raise ValueError(
            f"tfs_only=True but no TF list is recorded in adata.uns[{key!r}]['tfs']. "
            "Pass tfs_only=False to use every gene as a source, or rerun the method with `tfs=`."
        )
    sources = [str(t) for t in np.atleast_1d(tfs)] if tfs_only else None
    if sources is not None and not adata.var_names.isin(sources).any():
        shown = ", ".join(repr(t) for t in sources[:5]) + (", ..." if len(sources) > 5 else "")
        raise ValueError(
            f"None of the {len(sources)} TF(s) recorded by the run in adata.uns[{key!r}]['tfs'] ({shown}) "
            "is among adata.var_names (were the genes subset after the run?). Pass "
            "tfs_only=False to read every gene's edges, or rerun the method on this AnnData."
        )

    targets = None
    if genes is not None:
        genes = [genes] if isinstance(genes, str) else [str(g) for g in genes]
        if not genes:
            raise ValueError("`genes` is empty: pass the gene names to restrict the edges to, or genes=None for all.")
        missing = [g for g in genes if g not in adata.var_names]
        if missing:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise ValueError(f"{len(missing)} of `genes` not in adata.var_names: {shown}.")
        targets = genes
        sources = genes if sources is None else [s for s in sources if s in set(genes)]
        if not sources:
            raise ValueError(
                f"None of `genes` is a recorded TF in adata.uns[{key!r}]['tfs'] (only TFs are sources "
                "here). Include some of those TFs in `genes`."
            )

    return edges_from_matrix(
        adata.varp[key],
        adata.var_names,
        top_k=top_k,
        sources=sources,
        targets=targets,
        min_abs_weight=min_abs_weight,
    )


def _check_top_k(top_k):
    if top_k is None:
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, Integral):
        raise TypeError(f"`top_k` must be an int or None, got {type(top_k).__name__}.")
    if top_k < 0:
        raise ValueError(f"`top_k` must be non-negative, got {top_k}.")
    return int(top_k)


def _name_mask(names: np.ndarray, wanted: Iterable[str], what: str) -> np.ndarray:
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    mask = pd.Index(names).isin([str(w) for w in wanted])
    if not mask.any():
        shown = ", ".join(map(str, wanted[:5])) + (", ..." if len(wanted) > 5 else "")
        raise ValueError(f"None of the {what} ({shown}) is among the var_names.")
    return np.asarray(mask)


def _grouped_edges(adata: AnnData, key: str, index: dict[str, str], **kwargs) -> pd.DataFrame:
    """Every group's edges in one long table, with a categorical ``group`` column."""
    frames = [_edges(adata, k, **kwargs).assign(group=g) for g, k in index.items()]
    table = pd.concat(frames, ignore_index=True)
    table["group"] = pd.Categorical(table["group"], categories=list(index))
    return table


def check_grn_key(adata: AnnData, key: str) -> None:
    """Raise a ``KeyError`` naming the fix unless ``adata.varp[key]`` holds a GRN (one reader's
    check, shared by every getter)."""
    if key not in adata.varp:
        index = group_index(adata, key)
        if index is not None:
            raise KeyError(
                f"adata.uns[{key!r}] indexes one network per group of adata.obs"
                f"[{adata.uns[key]['groupby']!r}]: pass group= (one of {list(index)})."
            )
        available = list(adata.varp.keys())
        raise KeyError(
            f"No GRN found at adata.varp[{key!r}]. Available varp keys: {available or 'none'}. "
            "Run `scgrn.tl.deepsem(adata)` (or another scgrn.tl method) first, "
            "or pass the `key` it wrote."
        )
