"""Shared input checks used by every scgrn tool.

Every check raises an error whose message says what is wrong *and* how to fix it, so a user
who hits it never has to read scgrn's source code.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet

import numpy as np
import pandas as pd
from scipy import sparse

from ._matrix import FLOAT32_MAX, ColumnSummary, summarise_columns
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

__all__ = [
    "expression_matrix",
    "checked_matrix",
    "as_tf_list",
    "check_tfs",
    "check_var_names",
    "check_adata",
    "check_copy",
    "check_gene_names",
    "check_uns_record",
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

#: Patterns that look like cell identifiers rather than gene symbols: 10x-style barcodes
#: (a run of 8 or more nucleotides) and generic ``cell...`` / ``barcode...`` names.
_CELL_ID_PATTERN = re.compile(r"[ACGT]{8,}|^(cell|barcode)([\W_]*\d+)?([\W_].*)?$", re.IGNORECASE)

_EXPECT = ("log", "counts", None)


class TFsTypeError(TypeError, ValueError):
    """``tfs`` was given as a single string instead of a list of gene names.

    Subclasses both :class:`TypeError` and :class:`ValueError` so either can be caught.
    """


#: non-negative integers with a maximum above this look like raw counts (log1p of counts stays
#: far below it); the one rule for the warning here, tl.simulate's scale and the realism metric
COUNTS_MIN_MAX = 30


def looks_like_counts(x: np.ndarray) -> bool:
    """Whether a dense matrix looks like raw counts: non-negative integers, maximum above
    :data:`COUNTS_MIN_MAX`.

    Examples
    --------
    >>> looks_like_counts(np.array([[0.0, 3.0], [41.0, 7.0]])), looks_like_counts(np.log1p([[0.0, 41.0]]))
    (True, False)
    """
    return bool(x.size and (x >= 0).all() and np.all(x == np.round(x)) and float(x.max()) > COUNTS_MIN_MAX)


#: non-negative, non-integer values above this are not on a log scale: log1p of any count stays far
#: below it (log1p(10^4) = 9.2, log1p(10^6) = 13.8; log2(TPM + 1) < 20), while normalised but
#: unlogged data (`sc.pp.normalize_total` without `sc.pp.log1p`) reach hundreds to thousands
LINEAR_MIN_MAX = 50


def looks_linear_scale(peak: float, low: float, nonneg_integer: bool) -> bool:
    """Whether a matrix looks normalised but not log-transformed: non-negative, not all
    integers (raw counts are :func:`looks_like_counts`), maximum above :data:`LINEAR_MIN_MAX`.

    Examples
    --------
    >>> looks_linear_scale(5955.3, 0.0, False), looks_linear_scale(9.2, 0.0, False)
    (True, False)
    """
    return (not nonneg_integer) and low >= 0 and peak > LINEAR_MIN_MAX


def warn_linear_scale(where: str, peak: float, *, stacklevel: int) -> None:
    """The warning for data that :func:`looks_linear_scale` where log-normalised data are expected."""
    warnings.warn(
        f"{where} looks normalised but not log-transformed (non-negative, non-integer values up to "
        f"{peak:g}; log-normalised expression stays below {LINEAR_MIN_MAX}: log1p of 10^4 counts is "
        "9.2), but log-normalised expression is expected. Was `sc.pp.log1p(adata)` skipped after "
        "`sc.pp.normalize_total(adata)`? Run it, or pass the log-normalised layer with layer=.",
        UserWarning,
        stacklevel=stacklevel + 1,
    )


#: a gene's variance within this relative distance of 1 (population or sample variance) is "unit"
UNIT_VARIANCE_TOL = 1e-3


def _unit_variance_genes(summary: ColumnSummary) -> tuple[int, int, float]:
    """``(genes with unit variance, genes with any variance, largest variance)`` from a
    :func:`summarise_columns` pass.

    "Unit" allows both conventions of scaling: population variance 1, or sample variance 1
    (``sc.pp.scale`` divides by the sample standard deviation, which leaves a population
    variance of ``(n - 1) / n``)."""
    n = summary.n_rows
    if n < 2:
        return 0, 0, 0.0
    mean = summary.total / n
    var = np.maximum(summary.total_sq / n - mean**2, 0.0)
    varying = var > 1e-8 * np.maximum(1.0, mean**2)
    unit = varying & (
        (np.abs(var - 1.0) <= UNIT_VARIANCE_TOL) | (np.abs(var * n / (n - 1) - 1.0) <= UNIT_VARIANCE_TOL)
    )
    return int(unit.sum()), int(varying.sum()), float(var.max(initial=0.0))


def looks_z_scored(summary: ColumnSummary) -> bool:
    """Whether a matrix looks scaled per gene (z-scored, e.g. by ``sc.pp.scale``).

    At least 3 genes have a variance within :data:`UNIT_VARIANCE_TOL` (0.1 %) of 1, and
    either a fifth of the varying genes do, or 2 % do while no gene's variance exceeds 1
    (``sc.pp.scale(max_value=)`` clips the rare genes, which lowers their variance, so on
    sparse data only a minority keeps exactly 1, but none ends above it).

    Log-normalised expression has gene variances spread over orders of magnitude: a few land
    within 0.1 % of 1 by chance (0.1-0.3 % of the genes in real data sets), never a fifth,
    nor 2 % with every other gene below. Centring (negative values) is not required:
    ``sc.pp.scale(zero_center=False)`` equalises the variances just the same.

    Examples
    --------
    >>> from scgrn._matrix import summarise_columns
    >>> x = np.random.default_rng(0).gamma(1.0, size=(200, 30))
    >>> looks_z_scored(summarise_columns(np.log1p(x)))
    False
    >>> looks_z_scored(summarise_columns((x - x.mean(0)) / x.std(0)))
    True
    """
    unit, varying, top = _unit_variance_genes(summary)
    if unit < 3:
        return False
    return unit >= 0.2 * varying or (unit >= 0.02 * varying and top <= 1.0 + UNIT_VARIANCE_TOL)


def check_not_z_scored(summary: ColumnSummary, where: str, why: str) -> None:
    """Refuse a matrix that :func:`looks_z_scored`, for a tool whose result ``why`` explains
    scaling destroys (e.g. ranking genes by their variance)."""
    if not looks_z_scored(summary):
        return
    unit, varying, _ = _unit_variance_genes(summary)
    centred = ", and it has negative values (centred)" if summary.min < 0 else ""
    raise ValueError(
        f"{where} looks z-scored (scaled per gene, e.g. by `sc.pp.scale`): {unit} of its {varying} "
        f"varying genes have variance 1{centred}. {why} Pass log-normalised expression instead: a "
        "layer kept before scaling (`adata.layers['log'] = adata.X.copy()` before `sc.pp.scale`, "
        "then layer='log'), or the log data in adata.raw, e.g. `full = adata.raw.to_adata()` and "
        "run on `full`, then subset adata to the genes it selects."
    )


def _fmt_names(names: Sequence[str], limit: int = 5) -> str:
    names = [str(n) for n in names]
    shown = ", ".join(repr(n) for n in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names) - limit} more)"
    return shown


def check_adata(adata, what: str = "adata") -> None:
    """Raise a TypeError unless ``adata`` is an :class:`~anndata.AnnData`."""
    from anndata import AnnData

    if not isinstance(adata, AnnData):
        raise TypeError(
            f"{what} must be an AnnData (cells x genes), got {type(adata).__name__}. Wrap a "
            "matrix as `anndata.AnnData(X)` with gene names in var_names."
        )


def check_var_names(var_names, what: str = "adata.var_names") -> pd.Index:
    """Raise unless every gene name is a string; return the names as a :class:`pandas.Index`.

    scgrn matches genes by name (TF lists, reference networks, perturbation labels, edge
    tables). With integer names (e.g. ``adata.var_names = pd.RangeIndex(n)``) ``0`` and
    ``"0"`` are different genes, so a name given one way silently matches nothing, or the
    wrong position; every tool therefore refuses non-string names with the one-line fix.

    Examples
    --------
    >>> check_var_names(["Gata1", "Pu.1"]).tolist()
    ['Gata1', 'Pu.1']
    >>> check_var_names(pd.RangeIndex(3))
    Traceback (most recent call last):
    ...
    ValueError: adata.var_names must be strings (gene names), but all 3 are not (e.g. 0, 1, 2 of type int). scgrn matches genes by name (TFs, reference networks, edge tables), and 0 and '0' are different names. Fix: `adata.var_names = adata.var_names.astype(str)` and give gene names as strings (tfs=['0', ...]).
    """
    names = var_names if isinstance(var_names, pd.Index) else pd.Index(list(var_names))
    if isinstance(names, pd.CategoricalIndex):
        # e.g. `adata.var.set_index(<categorical column>)` (h5ad stores string columns as
        # categoricals): the names are its categories' values; read them as a plain Index
        names = pd.Index(np.asarray(names, dtype=object), dtype=object, name=names.name)
    if len(names) == 0 or pd.api.types.infer_dtype(names, skipna=False) == "string":
        return names
    bad = [v for v in names if not isinstance(v, str)]
    if not bad:  # every name is a str, only the index type is unusual: read them as strings
        return pd.Index([str(v) for v in names], dtype=object, name=names.name)
    count = f"all {len(names)}" if len(bad) == len(names) else f"{len(bad)} of {len(names)}"
    kinds = sorted({type(v).__name__ for v in bad})
    raise ValueError(
        f"{what} must be strings (gene names), but {count} are not (e.g. "
        f"{', '.join(repr(v) for v in bad[:3])} of type {'/'.join(kinds)}). scgrn matches genes by "
        "name (TFs, reference networks, edge tables), and 0 and '0' are different names. Fix: "
        "`adata.var_names = adata.var_names.astype(str)` and give gene names as strings "
        f"(tfs=[{str(bad[0])!r}, ...])."
    )


def check_gene_names(value, what: str = "var_names") -> pd.Index:
    """Gene names that label a matrix's rows/columns **by position**, as a :class:`pandas.Index`.

    A list, tuple, numpy array, pandas Index or Series is accepted (one-dimensional). A
    generator or other one-shot iterator, a set or a dict is refused with a
    :class:`ParameterTypeError`: the names are matched to the matrix by their order, which a
    set does not have, and a generator would be used up by the first check that reads it.
    Unlike ``tfs`` (a collection matched by name), these are not read into a list silently.

    Examples
    --------
    >>> check_gene_names(("a", "b")).tolist()
    ['a', 'b']
    >>> check_gene_names(g for g in "ab")
    Traceback (most recent call last):
    ...
    scgrn._params.ParameterTypeError: var_names must be an ordered sequence of gene names (a list, numpy array or pandas Index such as adata.var_names), got a generator. The names label the matrix's rows and columns by position. A generator can be read only once: pass list(...) of it.
    """
    if isinstance(value, (str, bytes)):
        raise ParameterTypeError(
            f"{what} must be a sequence of gene names, not a single string ({value!r}). Fix: {what}=[{value!r}]."
        )
    if not isinstance(value, (pd.Index, pd.Series, np.ndarray)) and (
        isinstance(value, (Iterator, AbstractSet, Mapping)) or not isinstance(value, Sequence)
    ):
        kind = type(value).__name__
        if isinstance(value, Iterator):
            extra = f" A {kind} can be read only once: pass list(...) of it."
        elif isinstance(value, AbstractSet):
            extra = f" A {kind} has no fixed order: pass a list in the order of the rows."
        elif isinstance(value, Mapping):
            extra = " Pass the names as a list, in the order of the rows."
        else:
            extra = ""
        raise ParameterTypeError(
            f"{what} must be an ordered sequence of gene names (a list, numpy array or pandas Index "
            f"such as adata.var_names), got a{'n' if kind[:1] in 'aeiou' else ''} {kind}. The names label "
            f"the matrix's rows and columns by position.{extra}"
        )
    arr = np.asarray(value, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional (one name per row/column), got shape {arr.shape}.")
    return pd.Index(arr, dtype=object)


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
    """Check ``copy=`` before any work: a bool, and not ``True`` on a backed AnnData
    (copying would load the whole matrix into memory, and anndata refuses without a filename)."""
    copy = check_bool("copy", copy)
    if copy and getattr(adata, "isbacked", False):
        raise ValueError(
            "copy=True on a backed AnnData would load its matrix into memory. Use copy=False (the "
            "results go to the in-memory var/varp/obs/uns; X stays on disk), or `adata = "
            "adata.to_memory()` first."
        )
    return copy


def _get_matrix(adata, layer: str | None = None):
    """Return ``adata.X`` or ``adata.layers[layer]`` as stored (no copy), with a helpful error."""
    if layer is not None:
        if layer not in adata.layers:
            available = list(adata.layers.keys())
            raise ValueError(
                f"layer={layer!r} is not in adata.layers (available layers: "
                f"{available if available else 'none'}). Pass one of those, or layer=None to use "
                "adata.X."
            )
        X = adata.layers[layer]
    else:
        X = adata.X
    if X is None:
        raise ValueError(
            "adata.X is None: there is no expression matrix. Put the expression values in "
            "adata.X or pass layer=<name of a layer>."
        )
    return X


def _looks_like_cell_ids(names: pd.Index | Sequence[str]) -> bool:
    """True when more than half of ``names`` look like cell barcodes / cell identifiers."""
    names = [str(n) for n in names]
    if not names:
        return False
    hits = sum(bool(_CELL_ID_PATTERN.search(n)) for n in names)
    return hits > len(names) / 2


#: a gene symbol: letters first, then letters and digits, optionally joined by '.' or '-'
#: ('Gata1', 'Pu.1', 'HLA-A', 'ENSG00000141510'); not cell names such as 'HSPC_001' or 'cell_7'
_GENE_SYMBOL_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[.\-][A-Za-z0-9]+)*$")
_ENUMERATED = re.compile(r"^([A-Za-z]+)\d+$")
_WELL = re.compile(r"^[A-Za-z]\d+$")  # plate wells ('A1', 'H12') name cells, not genes
_ROW_NUMBER = re.compile(r"^(\d+)(?:-\d+)?$")


def _is_default_index(names: pd.Index) -> bool:
    """True for row numbers rather than names: anndata's default ``'0', '1', ..., 'n-1'``, also
    after ``var_names_make_unique`` of concatenated objects (``'0-1'``). Identifiers that are
    numbers, such as Entrez gene IDs, are not row numbers: they run far beyond ``n``."""
    n = len(names)
    if n == 0:
        return False
    found = [_ROW_NUMBER.match(str(v)) for v in names]
    return all(found) and max(int(m.group(1)) for m in found) < n


def _looks_like_gene_symbols(names: pd.Index) -> bool:
    """True when (nearly) all ``names`` look like gene symbols and are not an enumeration such as
    ``c1, c2, ...`` (one prefix and a number), nor cell IDs: a conservative test, used only
    together with unnamed genes."""
    names = [str(n) for n in names]
    if len(names) < 2 or _looks_like_cell_ids(names):
        return False
    symbols = [n for n in names if len(n) <= 15 and _GENE_SYMBOL_PATTERN.match(n) and not _WELL.match(n)]
    if len(symbols) < 0.9 * len(names):
        return False
    prefixes = [m.group(1) for m in map(_ENUMERATED.match, names) if m]
    enumerated = len(prefixes) > len(names) / 2 and len(set(prefixes)) == 1
    return not enumerated


def _check_orientation(adata, tfs: Iterable[str] | None) -> None:
    """Raise if ``adata`` looks like a genes x cells matrix (the transpose of what is wanted)."""
    fix = (
        "scgrn expects cells in rows (adata.obs_names) and genes in columns (adata.var_names); "
        "this AnnData looks transposed (genes x cells). Fix: `adata = adata.T`."
    )
    if tfs is not None and not isinstance(tfs, str):
        tf_set = {str(t) for t in tfs}
        if tf_set:
            in_obs = int(adata.obs_names.isin(tf_set).sum())
            in_var = int(adata.var_names.isin(tf_set).sum())
            if in_obs > 0 and in_var == 0:
                raise ValueError(
                    f"{in_obs} of the given TFs (e.g. "
                    f"{_fmt_names(list(adata.obs_names[adata.obs_names.isin(tf_set)]), 3)}) are "
                    f"found in adata.obs_names but none in adata.var_names. {fix}"
                )
            if adata.n_obs > 0 and in_obs > adata.n_obs / 2 and in_obs > in_var:
                raise ValueError(
                    f"{in_obs} of {adata.n_obs} obs_names are TF names (gene symbols). {fix}"
                )
    if _looks_like_cell_ids(adata.var_names) and not _looks_like_cell_ids(adata.obs_names):
        raise ValueError(
            "adata.var_names look like cell barcodes / cell IDs (e.g. "
            f"{_fmt_names(list(adata.var_names[:3]), 3)}) while adata.obs_names do not. {fix}"
        )
    if (
        adata.n_vars > adata.n_obs
        and _is_default_index(adata.var_names)
        and _looks_like_gene_symbols(adata.obs_names)
    ):
        raise ValueError(
            f"adata.var_names are row numbers (e.g. {_fmt_names(list(adata.var_names[:3]), 3)}: the "
            "genes were never named) while adata.obs_names look like gene symbols (e.g. "
            f"{_fmt_names(list(adata.obs_names[:3]), 3)}), and there are more columns "
            f"({adata.n_vars}) than rows ({adata.n_obs}). {fix} If the cells really are in rows, "
            "give the genes their names first: `adata.var_names = gene_names` (a GRN's edges are "
            "named by var_names)."
        )


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
    X, _ = checked_matrix(adata, layer=layer, min_cells=min_cells, tfs=tfs, expect=expect, _stacklevel=3)
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
    check_adata(adata)
    min_cells = check_int("min_cells", min_cells, min=0)
    X = _get_matrix(adata, layer)
    where = f"adata.layers[{layer!r}]" if layer is not None else "adata.X"

    # before the orientation check: integer var_names next to the default string obs_names
    # ('0', '1', ...) would otherwise read as a transposed matrix. A one-shot iterator of TFs is
    # read once here; callers that use tfs afterwards pass `as_tf_list(tfs)` (read once, first).
    check_var_names(adata.var_names)
    _check_orientation(adata, as_tf_list(tfs))

    if not adata.var_names.is_unique:
        dups = adata.var_names[adata.var_names.duplicated()].unique()
        raise ValueError(
            f"adata.var_names has {len(dups)} duplicated gene name(s) ({_fmt_names(list(dups))}). "
            "Gene names must be unique. Fix: `adata.var_names_make_unique()` (or aggregate the "
            "duplicated genes)."
        )

    if adata.n_obs < min_cells:
        raise ValueError(
            f"adata has only {adata.n_obs} cell(s); at least min_cells={min_cells} are needed. "
            "Use a dataset with more cells, or lower min_cells= if you know what you are doing. "
            "(If your cells are in columns, transpose first: `adata = adata.T`.)"
        )
    if adata.n_vars == 0:
        raise ValueError("adata has no genes (n_vars == 0). Select some genes first.")

    summary = summarise_columns(X)

    if summary.nonfinite.any():
        n_bad = int(summary.nonfinite.sum())
        bad_genes = adata.var_names[summary.nonfinite > 0]
        raise ValueError(
            f"{where} contains {n_bad} NaN or infinite value(s), in {len(bad_genes)} gene(s) "
            f"(e.g. {_fmt_names(list(bad_genes), 1)}). Remove or impute them first, e.g. drop the "
            "affected genes with `adata = adata[:, np.isfinite(X).all(axis=0)].copy()` "
            "(X the dense matrix), or replace them: `X[~np.isfinite(X)] = 0`."
        )

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


def _check_float32_range(summary: ColumnSummary, var_names: pd.Index, where: str) -> None:
    """Raise when finite values exceed the float32 range: every tool computes in float32, where
    they would become infinite and silently zero (or break) the genes holding them."""
    big = summary.beyond_float32
    if big is None or not big.any():
        return
    genes = var_names[big > 0]
    raise ValueError(
        f"{where} contains {int(big.sum())} value(s) beyond the float32 range (|x| > "
        f"{FLOAT32_MAX:.3g}), in {len(genes)} gene(s) (e.g. {_fmt_names(list(genes), 3)}). scgrn "
        "computes in float32, where they would become infinite. Such values are not expression "
        "levels: log-normalise the data (`sc.pp.normalize_total(adata); sc.pp.log1p(adata)`), or "
        "remove or clip them, e.g. `X = np.clip(X, -1e30, 1e30)`."
    )


def as_tf_list(tfs) -> list | None:
    """``tfs`` read once into a list (``None`` stays ``None``), before any check looks at it.

    A generator or other one-shot iterator can be read only once; every tool therefore calls
    this first, so that the orientation check and :func:`check_tfs` see the same names.

    Raises
    ------
    TFsTypeError
        For a single string (``tfs="Gata1"``) or a value that is not a collection of names.

    Examples
    --------
    >>> as_tf_list(g for g in ["Gata1", "Pu.1"])
    ['Gata1', 'Pu.1']
    >>> as_tf_list(None) is None
    True
    """
    if tfs is None:
        return None
    if isinstance(tfs, (str, bytes)):
        raise TFsTypeError(
            f"tfs must be a list of gene names, not a single string ({tfs!r}). "
            f"Fix: tfs=[{tfs!r}]."
        )
    if isinstance(tfs, pd.DataFrame):  # iterating a table gives its column names, not the TFs
        col = repr(tfs.columns[0]) if tfs.shape[1] else "'TF'"
        raise TFsTypeError(
            f"tfs must be a list of gene names, not a DataFrame (columns {list(tfs.columns)[:5]}): "
            f"iterating a table gives its column names. Pass the column that holds the TF names, "
            f"e.g. tfs=df[{col}]."
        )
    if not isinstance(tfs, Iterable):
        raise TFsTypeError(f"tfs must be a list of gene names (or None), got {type(tfs).__name__}.")
    return list(tfs)


#: a version suffix on a gene identifier ('ENSG00000141510.16', 'Gata1.2')
_VERSION_SUFFIX = re.compile(r"\.\d+$")


def _tf_near_matches(missing: Sequence[str], genes: pd.Index) -> tuple[dict[str, str], dict[str, str]]:
    """``(by version suffix, by capitalisation)``: var_names that a missing TF probably means,
    ``{tf: gene}``; a TF is matched to a gene whose name is the TF plus a version suffix
    (``'Gata1'`` -> ``'Gata1.2'``), or the TF in other capitals (``'GATA1'`` -> ``'Gata1'``)."""
    stripped: dict[str, str] = {}
    lower: dict[str, str] = {}
    for g in genes:
        g = str(g)
        base = _VERSION_SUFFIX.sub("", g)
        if base != g:
            stripped.setdefault(base, g)
        lower.setdefault(g.lower(), g)
    by_suffix = {t: stripped[t] for t in missing if t in stripped}
    by_case = {t: lower[t.lower()] for t in missing if t not in by_suffix and t.lower() in lower}
    return by_suffix, by_case


def check_tfs(tfs: Iterable[str] | None, var_names: Iterable[str]) -> list[str] | None:
    """Check a list of transcription factors against the genes of a dataset.

    Parameters
    ----------
    tfs
        Transcription factor names (list, tuple, pandas Index/Series, numpy array) or ``None``.
    var_names
        The gene names of the dataset, usually ``adata.var_names``.

    Returns
    -------
    ``None`` if ``tfs`` is ``None``, else the names as a list of ``str`` with duplicates removed
    (first occurrence kept, order preserved).

    Raises
    ------
    TypeError
        If ``tfs`` is a single string (also a :class:`ValueError`).
    ValueError
        If ``tfs`` is empty or names genes that are not in ``var_names``.

    Examples
    --------
    >>> from scgrn._validate import check_tfs
    >>> check_tfs(["Gata1", "Pu.1", "Gata1"], ["Gata1", "Pu.1", "Fog1"])
    ['Gata1', 'Pu.1']
    >>> check_tfs(None, ["Gata1"]) is None
    True
    """
    tfs = as_tf_list(tfs)
    if tfs is None:
        return None
    genes = check_var_names(var_names)
    out = list(dict.fromkeys(str(t) for t in tfs))
    if not out:
        raise ValueError("tfs is empty. Pass tfs=None to treat every gene as a candidate regulator.")
    missing = [t for t in out if t not in genes]
    if missing:
        by_suffix, by_case = _tf_near_matches(missing, genes)
        hints = []
        if by_suffix:
            pairs = ", ".join(f"{t!r} -> {g!r}" for t, g in list(by_suffix.items())[:3])
            hints.append(
                f"adata.var_names carry version suffixes ({pairs}): map the TFs onto them, "
                r"`full = {re.sub(r'\.\d+$', '', g): g for g in adata.var_names}; "
                "tfs = [full.get(t, t) for t in tfs]`, or strip the suffixes from the genes, "
                r"`adata.var_names = adata.var_names.str.replace(r'\.\d+$', '', regex=True)` "
                "(check that no symbol ends in its own '.<number>', such as 'Pu.1', and run "
                "`adata.var_names_make_unique()` after)"
            )
        if by_case:
            pairs = ", ".join(f"{t!r} -> {g!r}" for t, g in list(by_case.items())[:3])
            hints.append(f"some differ only in capitalisation ({pairs}), e.g. human 'GATA1' vs mouse 'Gata1'")
        if len(missing) < len(out):
            fix = "Fix: `tfs = [t for t in tfs if t in adata.var_names]`"
            fix += f" ({'; '.join(hints)})." if hints else " (check the capitalisation too, e.g. human 'GATA1' vs mouse 'Gata1')."
        elif hints:
            fix = "None of them is in adata.var_names as given: " + "; ".join(hints) + "."
        else:
            fix = (
                "None of them is in adata.var_names: check that the TFs and the genes use the same "
                "identifiers (symbols vs Ensembl IDs, species capitalisation such as human 'GATA1' vs "
                f"mouse 'Gata1'; genes here look like {_fmt_names(list(genes[:3]), 3)})."
            )
        raise ValueError(
            f"{len(missing)} of {len(out)} TFs are not in adata.var_names: "
            f"{_fmt_names(missing, 10)}. {fix}"
        )
    return out


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
