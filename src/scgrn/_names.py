"""Gene and TF names: ``var_names`` as strings, the TF list, and the check that cells are in
rows (a genes x cells matrix is refused by what its names look like)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet

import numpy as np
import pandas as pd

from ._params import ParameterTypeError

#: Patterns that look like cell identifiers rather than gene symbols: 10x-style barcodes
#: (a run of 8 or more nucleotides) and generic ``cell...`` / ``barcode...`` names.
_CELL_ID_PATTERN = re.compile(r"[ACGT]{8,}|^(cell|barcode)([\W_]*\d+)?([\W_].*)?$", re.IGNORECASE)


class TFsTypeError(TypeError, ValueError):
    """``tfs`` was given as a single string instead of a list of gene names.

    Subclasses both :class:`TypeError` and :class:`ValueError` so either can be caught.
    """


def _fmt_names(names: Sequence[str], limit: int = 5) -> str:
    names = [str(n) for n in names]
    shown = ", ".join(repr(n) for n in names[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names) - limit} more)"
    return shown


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
        if _all_integers(list(tfs)) and not adata.var_names.isin(tf_set).any():
            tf_set = set()  # positions, not names (as_tf_list says so): obs_names '0', '1', ... prove nothing
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


def as_tf_list(tfs, var_names=None) -> list | None:
    """``tfs`` read once into a list (``None`` stays ``None``), before any check looks at it.

    A generator or other one-shot iterator can be read only once; every tool therefore calls
    this first, so that the orientation check and :func:`check_tfs` see the same names.

    A boolean mask (numpy or pandas bool dtype, or a list of ``True`` / ``False``), such as
    ``adata.var['is_tf']``, is read as scanpy reads masks: the genes of ``var_names`` where it is
    ``True`` (:func:`tf_mask_names`). Without ``var_names`` a mask is refused (nothing to apply it to).

    Integers are gene names (``tfs=[0, 3]``: genes ``'0'`` and ``'3'``); integers of which string
    ``var_names`` hold none are refused as positions (:func:`_refuse_positions`).

    Raises
    ------
    TFsTypeError
        For a single string (``tfs="Gata1"``) or a value that is not a collection of names; for a
        boolean mask when ``var_names`` is not given; for integer positions (above).
    ValueError
        For a boolean mask that does not fit ``var_names`` (see :func:`tf_mask_names`).

    Examples
    --------
    >>> as_tf_list(g for g in ["Gata1", "Pu.1"])
    ['Gata1', 'Pu.1']
    >>> as_tf_list(None) is None
    True
    >>> as_tf_list(np.array([True, False, True]), ["Gata1", "Fog1", "Pu.1"])
    ['Gata1', 'Pu.1']
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
    if getattr(tfs, "ndim", 1) > 1:  # a 2-D array (or table-like) would be read row by row
        raise TFsTypeError(f"tfs must be 1-D (a list of gene names), got shape {tfs.shape}; use `tfs.ravel()`.")
    out = list(tfs)
    if _is_bool_mask(tfs, out):
        return tf_mask_names(tfs, out, var_names)
    _refuse_positions(out, var_names)
    nested = next((t for t in out if isinstance(t, (list, tuple, set, np.ndarray, pd.Series, pd.Index))), None)
    if nested is not None:
        raise TFsTypeError(
            f"tfs must be a flat list of gene names, but one entry is a {type(nested).__name__} "
            f"({nested!r:.60}). Flatten it first, e.g. `tfs = [t for group in tfs for t in group]`."
        )
    return out


def _all_integers(values: list) -> bool:
    """True for a non-empty list of integers (Python or numpy; ``True`` / ``False`` are not)."""
    return bool(values) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values
    )


def _refuse_positions(values: list, var_names) -> None:
    """Refuse integer TFs that look like positions: string ``var_names`` with none of them.

    Integers are read as gene names (``tfs=[0, 3]`` means genes ``'0'`` and ``'3'``, documented
    for genes named by numbers), so ``np.array([1, 7])`` meant as positions (``adata[:, [1, 7]]``)
    would be blamed on the identifiers, or on a transposed AnnData. Nothing is converted.

    Examples
    --------
    >>> _refuse_positions([1, 7], ["Gata1", "Pu.1"])
    Traceback (most recent call last):
    ...
    scgrn._names.TFsTypeError: tfs holds integer positions ([1, 7]); pass gene names, e.g. tfs=adata.var_names[[1, 7]]. Integers in tfs are read as gene names (tfs=[0, 3] means the genes named '0' and '3'), and adata.var_names has none of these.
    >>> _refuse_positions([1, 7], ["1", "7", "x"])  # genes named by numbers: names
    """
    if var_names is None or not _all_integers(values):
        return
    genes = var_names if isinstance(var_names, pd.Index) else pd.Index(list(var_names))
    if len(genes) == 0 or pd.api.types.infer_dtype(genes, skipna=False) != "string":
        return  # integer var_names: their own check names the fix
    if genes.isin({str(v) for v in values}).any():
        return
    shown = [int(v) for v in values]
    pick = f"[{', '.join(map(str, shown))}]" if len(shown) <= 5 else "tfs"
    raise TFsTypeError(
        f"tfs holds integer positions ({_fmt_list(shown)}); pass gene names, e.g. tfs=adata.var_names[{pick}]. "
        "Integers in tfs are read as gene names (tfs=[0, 3] means the genes named '0' and '3'), and "
        "adata.var_names has none of these."
    )


def _fmt_list(values: list[int], limit: int = 5) -> str:
    shown = ", ".join(map(str, values[:limit]))
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


def _is_bool_mask(tfs, values: list) -> bool:
    """True for a boolean mask: a bool dtype, or entries that are all ``True`` / ``False`` (``pd.NA``
    allowed, as in pandas' nullable ``boolean``)."""
    dtype = getattr(tfs, "dtype", None)
    if dtype is not None and not isinstance(dtype, pd.CategoricalDtype) and pd.api.types.is_bool_dtype(dtype):
        return True
    flags = [isinstance(v, (bool, np.bool_)) for v in values]
    return any(flags) and all(f or v is pd.NA for f, v in zip(flags, values))


def tf_mask_names(mask, values: list, var_names) -> list[str]:
    """The genes of ``var_names`` where the boolean mask ``tfs`` is ``True``.

    ``values``: the mask's entries, read once. A pandas Series indexed by gene names is matched by
    name (its index must hold the same genes, in any order); otherwise the mask is positional and
    must have one entry per gene.

    Examples
    --------
    >>> mask = pd.Series([True, False], index=["Fog1", "Gata1"])
    >>> tf_mask_names(mask, list(mask), ["Gata1", "Fog1"])
    ['Fog1']
    """
    fix = "pass the names instead: `tfs=adata.var_names[mask]`"
    if var_names is None:
        raise TFsTypeError(
            f"tfs is a boolean mask ({len(values)} True/False values), but here it cannot be matched "
            f"to genes: {fix} (a list of TF names)."
        )
    genes = check_var_names(var_names)
    if any(v is pd.NA for v in values):
        raise ValueError(
            f"tfs is a boolean mask with {sum(v is pd.NA for v in values)} missing value(s); fill them "
            "first, e.g. `tfs=adata.var['is_tf'].fillna(False)`."
        )
    flags = np.asarray(values, dtype=bool)
    index = mask.index if isinstance(mask, pd.Series) and not isinstance(mask.index, pd.RangeIndex) else None
    if index is not None and not index.astype(str).equals(genes):
        shared = index.astype(str)
        if not shared.is_unique or set(shared) != set(genes):
            odd = shared[~shared.isin(genes)] if len(shared[~shared.isin(genes)]) else shared
            raise ValueError(
                f"tfs is a boolean Series indexed by names that are not adata.var_names (e.g. "
                f"{_fmt_names(list(odd), 3)}): it is another AnnData's mask. "
                f"Use this AnnData's column (e.g. `adata.var['is_tf']`), or {fix} of that AnnData."
            )
        flags = pd.Series(flags, index=shared).reindex(genes).to_numpy(dtype=bool)
    if len(flags) != len(genes):
        raise ValueError(
            f"tfs is a boolean mask of length {len(flags)}, but adata has {len(genes)} genes: a mask needs "
            f"one True/False per gene of adata.var_names (e.g. `adata.var['is_tf']`); or {fix}."
        )
    if not flags.any():
        raise ValueError(
            f"tfs is a boolean mask with no True value among the {len(flags)} genes, so it names no TF. "
            "Check the column, or pass tfs=None to treat every gene as a candidate regulator."
        )
    return [str(g) for g in genes[flags]]


#: a version suffix on a gene identifier ('ENSG00000141510.16', 'Gata1.2')
_VERSION_SUFFIX = re.compile(r"\.\d+$")


def _tf_near_matches(missing: Sequence[str], genes: pd.Index) -> tuple[dict[str, str], ...]:
    """``(by whitespace, by version suffix, by capitalisation)``: var_names that a missing TF
    probably means, ``{tf: gene}``; a TF is matched to a gene that differs from it only in
    surrounding whitespace (``'Gata1'`` -> ``'Gata1 '``, a CSV artefact, on either side), whose
    name is the TF plus a version suffix (``'Gata1'`` -> ``'Gata1.2'``), or the TF in other
    capitals (``'GATA1'`` -> ``'Gata1'``)."""
    stripped: dict[str, str] = {}
    lower: dict[str, str] = {}
    spaced: dict[str, str] = {}
    for g in genes:
        g = str(g)
        base = _VERSION_SUFFIX.sub("", g)
        if base != g:
            stripped.setdefault(base, g)
        lower.setdefault(g.lower(), g)
        spaced.setdefault(g.strip(), g)
    by_space = {t: spaced[t.strip()] for t in missing if t.strip() in spaced}
    by_suffix = {t: stripped[t] for t in missing if t not in by_space and t in stripped}
    by_case = {t: lower[t.lower()] for t in missing if t not in by_space and t not in by_suffix and t.lower() in lower}
    return by_space, by_suffix, by_case


def space_hint(by_space: Mapping[str, str], fix_names: str,
               fix_genes: str = "`adata.var_names = adata.var_names.str.strip()`",
               lead: str = "some differ only in surrounding whitespace") -> str:
    """The hint for names that match genes only after stripping surrounding whitespace (a CSV
    artefact): ``by_space`` ``{name: gene}`` (from :func:`_tf_near_matches`), with the fix for the
    names and for the genes, each suggested where that side carries the whitespace.

    Examples
    --------
    >>> space_hint({"a ": "a"}, "`names = [n.strip() for n in names]`")
    "some differ only in surrounding whitespace ('a ' -> 'a'): strip it, `names = [n.strip() for n in names]`"
    """
    pairs = ", ".join(f"{t!r} -> {g!r}" for t, g in list(by_space.items())[:3])
    fixes = [fix_genes if any(g != g.strip() for g in by_space.values()) else "",
             fix_names if any(t != t.strip() for t in by_space) else ""]
    return f"{lead} ({pairs}): strip it, " + " and ".join(f for f in fixes if f)


def check_tfs(tfs: Iterable[str] | None, var_names: Iterable[str]) -> list[str] | None:
    """Check a list of transcription factors against the genes of a dataset.

    Parameters
    ----------
    tfs
        Transcription factor names (list, tuple, pandas Index/Series, numpy array) or ``None``;
        or a boolean mask over ``var_names`` (e.g. ``adata.var['is_tf']``): the genes where it is
        ``True``.
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
    tfs = as_tf_list(tfs, var_names)
    if tfs is None:
        return None
    genes = check_var_names(var_names)
    out = list(dict.fromkeys(str(t) for t in tfs))
    if not out:
        raise ValueError("tfs is empty. Pass tfs=None to treat every gene as a candidate regulator.")
    missing = [t for t in out if t not in genes]
    if missing:
        by_space, by_suffix, by_case = _tf_near_matches(missing, genes)
        hints = []
        if by_space:
            hints.append(space_hint(by_space, "`tfs = [t.strip() for t in tfs]`"))
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
