"""The one reader of reference (ground-truth) networks given as tables.

Every function that takes a reference network (``metrics.evaluate_grn``, ``random_baseline``,
``precision_recall_at_k``, ``tl.pair_classifier``'s training references, ``datasets.dream4``'s
gold standard) reads it here, so all accept the same layouts and keep the same edges:

- the regulator column is one of :data:`SOURCE_COLUMNS` (``source``, BEELINE's ``Gene1``,
  ``regulator``, ``TF``), the target column one of :data:`TARGET_COLUMNS` (``target``,
  ``Gene2``); other columns are ignored, except a label:
- a label column (:data:`LABEL_COLUMNS`: ``label``, ``weight``) of 0/1 or booleans marks
  positives and negatives, as in the DREAM gold standards, which list every regulator/target
  pair with a 0/1 label: only the rows labelled 1 (``True``) are edges. In a numeric ``weight``
  column with other values (signed or confidence weights) rows of weight 0 are dropped too (a
  weight of 0 is no edge); text weights are ignored;
- a headerless DREAM file read with ``header=None`` (columns ``0, 1, 2``, the third 0/1) is
  read the same way;
- self-loops and duplicated edges are dropped.

Any other layout raises a ``ValueError`` naming the columns found and those accepted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SOURCE_COLUMNS", "TARGET_COLUMNS", "LABEL_COLUMNS", "read_reference", "edge_names"]

#: accepted spellings of the regulator column, in order of preference
SOURCE_COLUMNS = ("source", "Gene1", "regulator", "TF")
#: accepted spellings of the target column, in order of preference
TARGET_COLUMNS = ("target", "Gene2")
#: columns read as a 0/1 label (positives = 1); ``weight`` also drops rows of weight 0
LABEL_COLUMNS = ("label", "weight")

_ACCEPTED = (
    "columns 'source', 'target' (decoupler), BEELINE's 'Gene1', 'Gene2', or 'regulator' / 'TF' "
    "with 'target'; an optional 0/1 'label' or 'weight' column marks the true edges (DREAM)"
)


def edge_names(df: pd.DataFrame, source, target, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``source`` and ``target`` columns of an edge table as arrays of ``str``.

    A missing name (NaN / None) is refused: as text it would become the gene ``'nan'``, and
    the row would be scored as an edge of a gene of that name.

    Examples
    --------
    >>> df = pd.DataFrame({"source": ["a", None], "target": ["b", "c"]})
    >>> edge_names(df, "source", "target", "The reference network")
    Traceback (most recent call last):
    ...
    ValueError: The reference network has 1 row(s) with a missing gene name (NaN) in 'source' (e.g. row 1). Drop them first: `df = df.dropna(subset=['source', 'target'])`.
    """
    for col in (source, target):
        missing = df[col].isna().to_numpy()
        if missing.any():
            raise ValueError(
                f"{what} has {int(missing.sum())} row(s) with a missing gene name (NaN) in {col!r} "
                f"(e.g. row {df.index[missing].tolist()[0]!r}). Drop them first: "
                f"`df = df.dropna(subset=[{source!r}, {target!r}])`."
            )
    return df[source].astype(str).to_numpy(), df[target].astype(str).to_numpy()


def _first(columns: pd.Index, options) -> object | None:
    return next((c for c in options if c in columns), None)


def _positive_mask(values: pd.Series, column, *, strict: bool, what: str) -> np.ndarray | None:
    """Rows kept by a label column: ``None`` when the column is not a label (ignored)."""
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=bool)
    numbers = pd.to_numeric(values, errors="coerce")
    text = numbers.isna() & values.notna()
    if text.any():  # not numbers: not a label
        if strict:
            shown = ", ".join(repr(v) for v in values[text].unique()[:3])
            lowered = {str(v).strip().lower() for v in values.dropna().unique()}
            if lowered <= {"true", "false"}:
                return values.astype(str).str.strip().str.lower().eq("true").to_numpy()
            raise ValueError(
                f"{what}'s {column!r} column must hold 0/1 (or True/False) labels of the true edges, "
                f"but {int(text.sum())} of its values are not numbers (e.g. {shown}). Map them first, "
                f"e.g. `df[{column!r}] = df[{column!r}].map({{'yes': 1, 'no': 0}})`."
            )
        return None
    known = numbers.dropna()
    if strict and not known.isin([0, 1]).all():
        shown = ", ".join(repr(v) for v in known[~known.isin([0, 1])].unique()[:3])
        raise ValueError(
            f"{what}'s {column!r} column must hold 0/1 labels of the true edges, got other values "
            f"(e.g. {shown}). Keep the true edges yourself (`df = df[df[{column!r}] > 0]`) and drop the column."
        )
    if strict:  # a label: only the rows labelled 1 are edges
        return (numbers == 1).to_numpy()
    # a weight: a missing one counts as an edge (the row is listed); only an explicit 0 drops it
    return (numbers != 0).to_numpy() | numbers.isna().to_numpy()


def read_reference(reference, *, what: str = "The reference network") -> pd.DataFrame:
    """A reference network as a ``source``, ``target`` table of its true edges (strings).

    See the module docstring for the layouts accepted. Rows labelled 0 (``False``) are dropped,
    then self-loops and duplicates.

    Raises
    ------
    TypeError
        When ``reference`` is not a :class:`pandas.DataFrame`.
    ValueError
        For an unknown layout (naming the columns found and those accepted), a label column
        that is not 0/1, a missing gene name, or no positive edge.

    Examples
    --------
    >>> ref = pd.DataFrame({"regulator": ["a", "a", "b", "b"], "target": ["b", "c", "a", "b"],
    ...                     "weight": [1, 0, 1, 1]})
    >>> read_reference(ref)
      source target
    0      a      b
    1      b      a
    """
    if not isinstance(reference, pd.DataFrame):
        raise TypeError(
            f"{what} must be a pandas DataFrame with {_ACCEPTED}; got {type(reference).__name__}."
        )
    cols = reference.columns
    src, tgt = _first(cols, SOURCE_COLUMNS), _first(cols, TARGET_COLUMNS)
    label, strict = _first(cols, ("label",)), True
    if label is None:
        label, strict = _first(cols, ("weight",)), False
    if src is None and tgt is None and list(cols) in ([0, 1], [0, 1, 2]):
        src, tgt = 0, 1  # a headerless DREAM / edge-list file read with header=None
        label, strict = (2, True) if len(cols) == 3 else (None, True)
    if src is None or tgt is None:
        missing = "regulator (source)" if src is None else "target"
        if src is None and tgt is None:
            missing = "regulator (source) and target"
        hint = ""
        lowered = {str(c).strip().lower(): c for c in cols}
        near = [lowered[c.lower()] for c in (*SOURCE_COLUMNS, *TARGET_COLUMNS) if c.lower() in lowered]
        near = [c for c in near if c not in (src, tgt)]
        if reference.index.name in (*SOURCE_COLUMNS, *TARGET_COLUMNS):
            hint = f" Its index is named {reference.index.name!r}: make it a column, `df = df.reset_index()`."
        elif near:
            hint = (
                f" Column(s) {near} differ only in capitalisation: rename them, e.g. "
                "`df = df.rename(columns=str.lower)`."
            )
        elif reference.shape[0] == reference.shape[1] and reference.shape[0] > 0:
            hint = (
                " A square genes x genes matrix is not accepted as a reference: convert it to a long "
                "table, e.g. `df = m.stack().rename('weight').reset_index(); df.columns = "
                "['source', 'target', 'weight']; df = df[df.weight != 0]`."
            )
        raise ValueError(
            f"{what} has no {missing} column: it needs {_ACCEPTED}; got columns "
            f"{list(cols)[:10]}{' ...' if len(cols) > 10 else ''}.{hint}"
        )
    ref = reference
    if label is not None:
        keep = _positive_mask(reference[label], label, strict=strict, what=what)
        if keep is not None:
            if len(keep) and not keep.any():
                raise ValueError(
                    f"{what} has no true edge: all {len(keep)} rows are labelled 0 in its {label!r} "
                    "column (only rows labelled 1 are edges)."
                )
            ref = reference[keep]
    sources, targets = edge_names(ref, src, tgt, what)
    out = pd.DataFrame({"source": sources, "target": targets})
    out = out[out["source"] != out["target"]].drop_duplicates().reset_index(drop=True)
    return out
