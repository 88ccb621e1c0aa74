"""Shared input checks used by every scgrn tool.

Every check raises an error whose message says what is wrong *and* how to fix it, so a user
who hits it never has to read scgrn's source code.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import sparse

from ._matrix import ColumnSummary, is_backed, summarise_columns
from ._names import (  # noqa: F401  (re-exported)
    TFsTypeError,
    _check_orientation,
    _fmt_names,
    as_tf_list,
    check_gene_names,
    check_tfs,
    check_var_names,
)
from ._params import (  # noqa: F401  (re-exported: one place to import every check from)
    ParameterTypeError,
    check_bool,
    check_choice,
    check_device,
    check_float,
    check_int,
    check_key,
    check_random_state,
)
from ._scale_checks import (  # noqa: F401  (re-exported)
    COUNTS_MIN_MAX,
    LINEAR_MIN_MAX,
    _check_float32_range,
    check_not_z_scored,
    looks_like_counts,
    looks_linear_scale,
    looks_z_scored,
    warn_linear_scale,
)

__all__ = [
    "expression_matrix",
    "checked_matrix",
    "checked_array",
    "refuse_nonfinite",
    "as_tf_list",
    "check_tfs",
    "check_var_names",
    "check_adata",
    "check_copy",
    "check_writable",
    "check_gene_names",
    "check_uns_record",
    "check_real_dtype",
    "embedding_matrix",
    "looks_z_scored",
    "ParameterTypeError",
    "check_int",
    "check_float",
    "check_bool",
    "check_choice",
    "check_key",
    "check_random_state",
    "check_device",
]


_EXPECT = ("log", "counts", None)


def check_adata(adata, what: str = "adata") -> None:
    """Raise a TypeError unless ``adata`` is an :class:`~anndata.AnnData`."""
    from anndata import AnnData

    if not isinstance(adata, AnnData):
        raise TypeError(
            f"{what} must be an AnnData (cells x genes), got {type(adata).__name__}. Wrap a "
            "matrix as `anndata.AnnData(X)` with gene names in var_names."
        )


def check_uns_record(adata, key, *, what: str, is_record, producer: str) -> dict:
    """``adata.uns[key]``, checked to be a record that ``producer`` writes (``is_record(value)``).

    Raises a ``KeyError`` naming the records of that kind found in ``adata.uns`` when ``key``
    is missing or holds something else, so a typo in ``key=`` never silently reads nothing.
    """
    key = check_key("key", key)
    found = [str(k) for k, v in adata.uns.items() if is_record(v)]
    value = adata.uns.get(key)
    if value is not None and is_record(value):
        return value
    problem = f"adata.uns[{key!r}] is not a {what}" if key in adata.uns else f"adata.uns has no {key!r}"
    hint = f"the {what}s here are {found}: pass key= one of them" if found else f"there is no {what} in adata.uns"
    raise KeyError(f"{problem}; {hint} (key is the key_added of {producer}).")


def embedding_matrix(adata, obsm_key: str, *, n_dims: int = 2, basis_arg: str = "basis") -> np.ndarray:
    """``adata.obsm[obsm_key]`` as a float64 cells x ``n_dims`` array: its first ``n_dims``
    columns, checked to exist and to be finite (plots place every cell by them)."""
    emb = adata.obsm[obsm_key]
    emb = emb.to_numpy() if isinstance(emb, pd.DataFrame) else emb
    emb = emb.toarray() if sparse.issparse(emb) else np.asarray(emb)
    if emb.ndim != 2 or emb.shape[1] < n_dims:
        raise ValueError(
            f"adata.obsm[{obsm_key!r}] has {emb.shape[1] if emb.ndim == 2 else 'no'} column(s), but "
            f"{n_dims} are needed to place the cells in the plane. Compute a {n_dims}-D embedding (e.g. "
            f"`sc.tl.umap(adata)`, or `sc.pp.pca(adata)` for X_pca) or pass another {basis_arg}=."
        )
    try:
        emb = emb[:, :n_dims].astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"adata.obsm[{obsm_key!r}] must hold numbers, got dtype {emb.dtype}.") from None
    bad = ~np.isfinite(emb).all(axis=1)
    if bad.any():
        raise ValueError(
            f"adata.obsm[{obsm_key!r}] has NaN or infinite coordinates in {int(bad.sum())} cell(s) "
            f"(e.g. {_fmt_names(list(adata.obs_names[bad]), 3)}), which cannot be placed. Recompute the "
            f"embedding, or drop those cells: `adata = adata[np.isfinite(adata.obsm[{obsm_key!r}]).all(1)]`."
        )
    return emb


def check_copy(adata, copy) -> bool:
    """Check ``copy=`` and the write target before any work (every writing tool calls it first).

    ``copy`` must be a bool, and not ``True`` on a backed AnnData (copying would load the whole
    matrix into memory, and anndata refuses without a filename). A *view* of a backed AnnData
    (``backed[:300]``) is refused whatever ``copy`` is: anndata cannot write results into it, so
    the tool would compute everything and then fail when writing.
    """
    copy = check_bool("copy", copy)
    check_writable(adata)
    if copy and getattr(adata, "isbacked", False):
        raise ValueError(
            "copy=True on a backed AnnData would load its matrix into memory. Use copy=False (the "
            "results go to the in-memory var/varp/obs/uns; X stays on disk), or `adata = "
            "adata.to_memory()` first."
        )
    return copy


def check_writable(adata) -> None:
    """Refuse a view of a backed AnnData, which results cannot be written into.

    anndata would have to turn the view into a new AnnData, which for a backed object needs a
    file name (``.copy(filename=...)``), so writing fails *after* the computation. Reading tools
    (``get``, ``metrics``, ``pl``) do not call this: they work on such views.
    """
    if getattr(adata, "is_view", False) and getattr(adata, "isbacked", False):
        raise ValueError(
            "adata is a view of a backed AnnData (e.g. `backed[:300]` or `backed[backed.obs.cell_type "
            "== 'Ery']`), which results cannot be written into: anndata would have to copy the file. "
            "Nothing was computed. Load the subset into memory first, `adata = adata.to_memory()` "
            "(e.g. `backed[:300].to_memory()`), or write it to its own file and keep it backed: "
            "`adata = adata.copy(filename='subset.h5ad')`."
        )


def _get_matrix(adata, layer: str | None = None, what: str = "adata"):
    """Return ``adata.X`` or ``adata.layers[layer]`` as stored (no copy), with a helpful error.

    ``what`` names the AnnData in the messages: ``"adata"``, or e.g. ``"train[1][0]"`` for one
    of several AnnDatas a tool reads ``layer`` in (then the fix is to add the layer there too).
    """
    if layer is not None:
        if layer not in adata.layers:
            available = list(adata.layers.keys())
            fix = "Pass one of those, or layer=None to use adata.X." if what == "adata" else (
                f"The layer is read in every AnnData given: add it to {what} as well "
                f"(`{what}.layers[{layer!r}] = ...`, made as for the others), or pass layer=None to use .X."
            )
            raise ValueError(
                f"layer={layer!r} is not in {what}.layers (available layers: "
                f"{available if available else 'none'}). {fix}"
            )
        X = adata.layers[layer]
    else:
        X = adata.X
    if X is None:
        raise ValueError(
            f"{what}.X is None: there is no expression matrix. Put the expression values in "
            f"{what}.X or pass layer=<name of a layer>."
        )
    return X


def check_real_dtype(X, where: str = "adata.X") -> None:
    """Refuse a matrix whose values are not real numbers: complex, text or Python objects.

    Decided once, for every reader of expression: a complex matrix would silently lose its
    imaginary part when cast to float (numpy only warns), and strings fail deep inside numpy.
    Bool, integer and float dtypes (float16 too) pass; an object without a ``dtype`` is not checked.

    Examples
    --------
    >>> check_real_dtype(np.zeros((2, 2), dtype=np.uint8))
    >>> check_real_dtype(np.zeros((2, 2), dtype=complex))
    Traceback (most recent call last):
    ...
    ValueError: adata.X has dtype complex128; scgrn needs real-valued expression (bool, integer or float). If the imaginary parts are noise, keep the real part: `adata.X = adata.X.real`.
    """
    dtype = getattr(X, "dtype", None)
    if dtype is None:
        return
    try:
        kind = np.dtype(dtype).kind
    except TypeError:  # a dtype numpy does not know (e.g. pandas' extension dtypes)
        return
    if kind in "biuf":
        return
    if kind == "c":
        fix = f"If the imaginary parts are noise, keep the real part: `{where} = {where}.real`."
    else:
        fix = f"If the values are numbers stored as {'text' if kind in 'US' else 'objects'}, convert them: " \
              f"`{where} = {where}.astype(np.float32)`."
    raise ValueError(f"{where} has dtype {np.dtype(dtype)}; scgrn needs real-valued expression (bool, integer or "
                     f"float). {fix}")


def _to_dense_float32(X) -> np.ndarray:
    """A float32 dense *copy* of ``X`` (dense array, sparse matrix, or array-like)."""
    if sparse.issparse(X):
        return np.asarray(X.toarray(), dtype=np.float32)
    if hasattr(X, "to_memory"):  # anndata backed arrays
        X = X.to_memory()
    if hasattr(X, "toarray") and not isinstance(X, np.ndarray):
        X = X.toarray()
    return np.array(X, dtype=np.float32, copy=True)


def expression_matrix(
    adata,
    *,
    layer: str | None = None,
    min_cells: int = 10,
    tfs: Iterable[str] | None = None,
    expect: str | None = "log",
    what: str = "adata",
) -> np.ndarray:
    """Validate an AnnData and return its expression as a dense float32 cells x genes array.

    The check every scgrn tool runs before touching the data (:func:`checked_matrix`), then a
    dense copy. ``adata`` is never modified: the returned array is always a copy (sparse
    matrices are densified). Tools that stream over cells use :func:`checked_matrix` instead.

    Parameters
    ----------
    adata
        Annotated data matrix, cells x genes.
    layer
        Use ``adata.layers[layer]`` instead of ``adata.X``.
    min_cells
        Minimum number of cells required.
    tfs
        Optional list of transcription-factor names; only used to detect a transposed
        (genes x cells) matrix passed by mistake.
    expect
        ``"log"`` (default): warn if the data look like raw counts (all non-negative integers
        with a maximum above 30), or normalised but not log-transformed (non-negative,
        non-integer, maximum above 50, :func:`looks_linear_scale`). ``"counts"``: warn if the data are not non-negative integers.
        ``None``: no check of the scale.
    what
        The AnnData's name in the messages (``"adata"``; e.g. ``"train[1][0]"`` for a second one).

    Returns
    -------
    Dense ``float32`` array of shape ``(adata.n_obs, adata.n_vars)``.

    Raises
    ------
    ValueError
        For an unknown layer, a likely transposed matrix, duplicate ``var_names``, fewer than
        ``min_cells`` cells, NaN/inf values or all-zero genes. Each message names the fix.

    Warns
    -----
    UserWarning
        When ``expect="log"`` and the data look like raw counts.

    Examples
    --------
    >>> import scgrn
    >>> from scgrn._validate import expression_matrix
    >>> adata, _ = scgrn.datasets.planted_network(n_genes=30, n_cells=200)
    >>> X = expression_matrix(adata)
    >>> X.shape, X.dtype
    ((200, 30), dtype('float32'))
    """
    X, _ = checked_matrix(adata, layer=layer, min_cells=min_cells, tfs=tfs, expect=expect, what=what, _stacklevel=3)
    return _to_dense_float32(X)


def checked_matrix(
    adata,
    *,
    layer: str | None = None,
    min_cells: int = 10,
    tfs: Iterable[str] | None = None,
    expect: str | None = "log",
    allow_zero_genes: bool = False,
    refuse_z_scored: str | None = None,
    what: str = "adata",
    _stacklevel: int = 2,
) -> tuple[object, ColumnSummary]:
    """Validate an AnnData's expression without copying it: the matrix as stored, and its summary.

    The same checks and messages as :func:`expression_matrix`, computed in one pass over
    blocks of cells, so a sparse (CSR/CSC) or backed (``backed="r"``) matrix is checked
    without ever being densified.

    ``allow_zero_genes=True`` lets genes that are zero in every cell pass (gene selection
    over a whole transcriptome); every other check is the same.

    ``refuse_z_scored``: for a tool that needs unscaled (log-normalised) expression, the reason
    (one sentence); a matrix that :func:`looks_z_scored` is then refused with it and the fix.

    ``what`` names the AnnData in the messages (``"adata"``, the default).

    Returns
    -------
    ``(X, summary)``: ``adata.X`` or the layer, not copied, and its
    :class:`~scgrn._matrix.ColumnSummary` (per-gene counts and moments).

    Examples
    --------
    >>> import scgrn
    >>> from scipy import sparse
    >>> from scgrn._validate import checked_matrix
    >>> adata, _ = scgrn.datasets.planted_network(n_genes=30, n_cells=200)
    >>> adata.X = sparse.csr_matrix(adata.X)
    >>> X, summary = checked_matrix(adata)
    >>> sparse.issparse(X), summary.nonzero.shape
    (True, (30,))
    """
    if expect not in _EXPECT:
        raise ValueError(f"expect={expect!r} is not one of {_EXPECT}.")
    check_adata(adata, what)
    min_cells = check_int("min_cells", min_cells, min=0)
    X = _get_matrix(adata, layer, what)
    where = f"{what}.layers[{layer!r}]" if layer is not None else f"{what}.X"
    check_real_dtype(X, where)

    # before the orientation check: integer var_names next to the default string obs_names
    # ('0', '1', ...) would otherwise read as a transposed matrix. A one-shot iterator of TFs is
    # read once here; callers that use tfs afterwards pass `as_tf_list(tfs)` (read once, first).
    check_var_names(adata.var_names)
    _check_orientation(adata, as_tf_list(tfs, adata.var_names))

    if not adata.var_names.is_unique:
        dups = adata.var_names[adata.var_names.duplicated()].unique()
        raise ValueError(
            f"{what}.var_names has {len(dups)} duplicated gene name(s) ({_fmt_names(list(dups))}). "
            "Gene names must be unique. Fix: `adata.var_names_make_unique()` (or aggregate the "
            "duplicated genes)."
        )

    if adata.n_obs < min_cells:
        raise ValueError(
            f"{what} has only {adata.n_obs} cell(s); at least min_cells={min_cells} are needed. "
            "Use a dataset with more cells, or lower min_cells= if you know what you are doing. "
            "(If your cells are in columns, transpose first: `adata = adata.T`.)"
        )
    if adata.n_vars == 0:
        raise ValueError(f"{what} has no genes (n_vars == 0). Select some genes first.")

    summary = summarise_columns(X)
    refuse_nonfinite(summary, where, adata.var_names)
    _check_float32_range(summary, adata.var_names, where)
    if refuse_z_scored is not None:
        check_not_z_scored(summary, where, refuse_z_scored)

    zero = summary.nonzero == 0
    if zero.any() and not allow_zero_genes:
        names = adata.var_names[zero]
        raise ValueError(
            f"{len(names)} gene(s) are zero in every cell ({_fmt_names(list(names))}) in {where}. "
            "They carry no information and break per-gene scaling. Fix: "
            "`sc.pp.filter_genes(adata, min_cells=1)`."
        )

    if expect is not None and adata.n_obs * adata.n_vars:
        nonneg_int = summary.nonneg_integer
        peak = max(summary.max, 0.0)  # implicit zeros of a sparse matrix count too
        if expect == "log" and nonneg_int and peak > COUNTS_MIN_MAX:
            warnings.warn(
                f"{where} looks like raw counts (non-negative integers, max "
                f"{peak:g}), but log-normalised expression is expected. Consider "
                "`sc.pp.normalize_total(adata); sc.pp.log1p(adata)` first.",
                UserWarning,
                stacklevel=_stacklevel,
            )
        elif expect == "log" and looks_linear_scale(peak, summary.min, nonneg_int):
            warn_linear_scale(where, peak, stacklevel=_stacklevel)
        elif expect == "counts" and not nonneg_int:
            warnings.warn(
                f"{where} is expected to hold raw counts but has negative or non-integer values. "
                "Pass the raw counts, e.g. layer='counts'.",
                UserWarning,
                stacklevel=_stacklevel,
            )
    return X, summary


def refuse_nonfinite(summary: ColumnSummary, where: str, var_names: pd.Index | None = None) -> None:
    """Raise naming ``where``, the count and the genes when the matrix ``summary`` was taken of holds
    NaN or infinite values; ``var_names`` ``None``: a bare matrix, its genes named by column.

    Examples
    --------
    >>> refuse_nonfinite(summarise_columns(np.array([[1.0, np.nan], [2.0, 3.0]])), "x")
    Traceback (most recent call last):
    ...
    ValueError: x contains 1 NaN or infinite value(s), in 1 gene(s) (e.g. column 1). Remove or impute them first, e.g. drop the affected genes with `x = x[:, np.isfinite(x).all(axis=0)]` (x dense), or replace them: `x[~np.isfinite(x)] = 0`.
    """
    if not summary.nonfinite.any():
        return
    n_bad, bad = int(summary.nonfinite.sum()), np.flatnonzero(summary.nonfinite)
    if var_names is not None:
        raise ValueError(
            f"{where} contains {n_bad} NaN or infinite value(s), in {len(bad)} gene(s) "
            f"(e.g. {_fmt_names(list(var_names[bad]), 1)}). Remove or impute them first, e.g. drop the "
            "affected genes with `adata = adata[:, np.isfinite(X).all(axis=0)].copy()` "
            "(X the dense matrix), or replace them: `X[~np.isfinite(X)] = 0`."
        )
    raise ValueError(
        f"{where} contains {n_bad} NaN or infinite value(s), in {len(bad)} gene(s) (e.g. column {bad[0]}). "
        f"Remove or impute them first, e.g. drop the affected genes with `{where} = {where}[:, "
        f"np.isfinite({where}).all(axis=0)]` ({where} dense), or replace them: `{where}[~np.isfinite({where})] = 0`."
    )


def checked_array(
    x, *, where: str = "x", min_cells: int = 2, min_genes: int = 2, summary: ColumnSummary | None = None
) -> tuple[object, ColumnSummary]:
    """A bare cells x genes matrix (no AnnData) checked as :func:`checked_matrix` checks expression.

    Real-valued, two-dimensional, at least ``min_cells`` rows and ``min_genes`` columns, no NaN
    or infinite value and none beyond the float32 range. A dense, scipy sparse or backed matrix
    is checked as stored, in blocks (never densified); anything else (a list, a DataFrame) is
    read with :func:`numpy.asarray`, by position.

    Parameters
    ----------
    x
        The matrix, cells x genes.
    where
        Its name in the messages (the argument's name).
    min_cells, min_genes
        The fewest rows and columns accepted.
    summary
        A :func:`~scgrn._matrix.summarise_columns` pass over ``x`` if already made (then no pass
        is made here: the checks read the summary).

    Returns
    -------
    ``(x, summary)``: the matrix as stored and its summary.

    Examples
    --------
    >>> x, s = checked_array(np.ones((3, 2)))
    >>> s.n_rows
    3
    >>> checked_array(np.ones(3))
    Traceback (most recent call last):
    ...
    ValueError: x must be a 2-D cells x genes matrix (a row per cell, a column per gene), got shape (3,). Pass the whole matrix (`x.reshape(n_cells, n_genes)` if it was flattened); at least 2 cells and 2 genes are needed.
    """
    if not (isinstance(x, np.ndarray) or sparse.issparse(x) or is_backed(x)):
        x = np.asarray(x)
    check_real_dtype(x, where)
    shape = tuple(x.shape)
    if len(shape) != 2:
        raise ValueError(
            f"{where} must be a 2-D cells x genes matrix (a row per cell, a column per gene), got shape {shape}. "
            f"Pass the whole matrix (`{where}.reshape(n_cells, n_genes)` if it was flattened); at least "
            f"{min_cells} cells and {min_genes} genes are needed."
        )
    if shape[0] < min_cells or shape[1] < min_genes:
        raise ValueError(
            f"{where} has {shape[0]} cell(s) (rows) and {shape[1]} gene(s) (columns); at least {min_cells} cells "
            f"and {min_genes} genes are needed. (If the cells are in columns, transpose first: `{where} = {where}.T`.)"
        )
    summary = summarise_columns(x) if summary is None else summary
    refuse_nonfinite(summary, where)
    if summary.beyond_float32 is not None and summary.beyond_float32.any():
        _check_float32_range(summary, pd.Index([f"column {i}" for i in range(shape[1])]), where)
    return x, summary


def obs_groups(adata, groupby: str, *, min_cells: int = 1) -> tuple[list, list[np.ndarray]]:
    """The groups of cells named by ``adata.obs[groupby]``: their labels and cell indices.

    Groups come in category order for a categorical column, sorted otherwise (by their text
    when the labels cannot be compared, e.g. mixed numbers and strings); empty categories are
    dropped. Results are stored under each label's text (``f"{key}_{label}"``), so two labels
    with the same text (``1`` and ``"1"``) are refused rather than merged.

    Examples
    --------
    >>> import anndata as ad
    >>> a = ad.AnnData(np.zeros((4, 1)), obs=pd.DataFrame({"g": ["b", "a", "b", "a"]}, index=list("1234")))
    >>> labels, cells = obs_groups(a, "g")
    >>> labels, [c.tolist() for c in cells]
    (['a', 'b'], [[1, 3], [0, 2]])
    """
    if not isinstance(groupby, str):
        raise TypeError(f"groupby must be the name of a column of adata.obs, got {type(groupby).__name__}.")
    if groupby not in adata.obs:
        raise KeyError(f"groupby={groupby!r} is not a column of adata.obs (columns: {list(adata.obs.columns)}).")
    labels = adata.obs[groupby]
    if labels.isna().any():
        raise ValueError(
            f"adata.obs[{groupby!r}] has {int(labels.isna().sum())} missing values; drop those cells "
            f"first: `adata = adata[adata.obs[{groupby!r}].notna()]`."
        )
    if isinstance(labels.dtype, pd.CategoricalDtype):
        cats = list(labels.cat.categories)
        codes = labels.cat.codes.to_numpy()
        pairs = [(c, np.flatnonzero(codes == k)) for k, c in enumerate(cats)]
    else:
        cats = _sorted_labels(labels.unique())
        values = labels.to_numpy()
        pairs = [(c, np.flatnonzero(values == c)) for c in cats]
    pairs = [(c, i) for c, i in pairs if len(i) > 0]
    _check_distinct_labels([c for c, _ in pairs], groupby)
    small = [f"{c!s} ({len(i)})" for c, i in pairs if len(i) < min_cells]
    if small:
        raise ValueError(
            f"group(s) {', '.join(small)} of adata.obs[{groupby!r}] have fewer than {min_cells} cells; "
            f"drop them first, e.g. `adata = adata[~adata.obs[{groupby!r}].isin([...])]`, or merge them."
        )
    return [c for c, _ in pairs], [i for _, i in pairs]


def _sorted_labels(labels) -> list:
    """Labels in their natural order, or by their text when they cannot be compared."""
    labels = list(labels)
    try:
        return sorted(labels)
    except TypeError:  # e.g. 1 and 'x' in one object column
        return sorted(labels, key=lambda v: (str(v), type(v).__name__))


def _check_distinct_labels(labels: list, groupby: str) -> None:
    """Refuse labels that are written as the same text (``1`` and ``'1'``): their results would
    share one key (``f"{key}_{label}"``) and one group's network would silently replace the other's."""
    seen: dict[str, list] = {}
    for label in labels:
        seen.setdefault(str(label), []).append(label)
    clashes = {text: found for text, found in seen.items() if len(found) > 1}
    if clashes:
        shown = "; ".join(
            " and ".join(f"{v!r} ({type(v).__name__})" for v in found) for found in clashes.values()
        )
        raise ValueError(
            f"adata.obs[{groupby!r}] has different labels that are written the same ({shown}); their "
            "results would be stored under one key and one group would replace the other. Make the "
            f"labels distinct, e.g. rename them, or merge them on purpose with `adata.obs[{groupby!r}] = "
            f"adata.obs[{groupby!r}].astype(str)`."
        )
