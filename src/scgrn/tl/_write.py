"""The one writer of the GRN tools: every result into the AnnData at once, after all is computed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from anndata import AnnData
from scanpy import logging as logg

from .._keys import embedding_key

__all__ = ["write_grn", "grouped_run_keys", "remove_owned_entries"]

GRN_NOTE = "GRN (row = regulator, column = target)"


def grouped_run_keys(adata: AnnData, key: str) -> list[str]:
    """The per-group keys of an earlier ``groupby=`` run indexed at ``adata.uns[key]`` (``[]`` when
    ``uns[key]`` is not such an index).

    Examples
    --------
    >>> import numpy as np, anndata as ad
    >>> a = ad.AnnData(np.zeros((2, 2), dtype=np.float32))
    >>> a.uns["x"] = {"groupby": "g", "groups": ["A"], "keys": ["x_A"]}
    >>> grouped_run_keys(a, "x")
    ['x_A']
    """
    index = adata.uns.get(key)
    if not isinstance(index, Mapping) or "groupby" not in index:
        return []
    return [str(k) for k in index.get("keys", [])]


#: per-gene results a tool may write under its key besides varp/uns (tl.perturbode's)
_VARM_SUFFIXES = ("_A", "_B")
_VAR_SUFFIXES = ("_decay", "_knockout_level", "_shift")


def owned_entries(key: str) -> list[tuple[str, str]]:
    """Every ``(slot, name)`` a tool run with ``key_added=key`` may write besides ``varp[key]`` /
    ``uns[key]``: the cell embedding ``obsm['X_' + key]`` and per-gene results."""
    return [
        ("obsm", embedding_key(key)),
        *(("varm", key + s) for s in _VARM_SUFFIXES),
        *(("var", key + s) for s in _VAR_SUFFIXES),
    ]


def remove_owned_entries(adata: AnnData, key: str, keep=()) -> list[tuple[str, str]]:
    """Remove the entries an earlier scgrn run under ``key`` wrote and the new run does not rewrite
    (``keep``): a tool owns every entry under its key, so rewriting the key must not leave, e.g.,
    DeepSEM's ``obsm['X_<key>']`` beside a correlation network. Only done when ``uns[key]`` is an
    scgrn record (a ``method`` or a group index), so a key of another package (``uns['pca']``
    next to ``obsm['X_pca']``) keeps its entries. Returns what was removed.

    Examples
    --------
    >>> import numpy as np, anndata as ad
    >>> a = ad.AnnData(np.zeros((2, 2), dtype=np.float32))
    >>> a.obsm["X_grn"], a.uns["grn"] = np.zeros((2, 1)), {"method": "deepsem"}
    >>> remove_owned_entries(a, "grn"), list(a.obsm)
    ([('obsm', 'X_grn')], [])
    """
    previous = adata.uns.get(key)
    if not isinstance(previous, Mapping) or not ("method" in previous or "groupby" in previous):
        return []
    keep = set(keep)
    removed = []
    for slot, name in owned_entries(key):
        if (slot, name) in keep:
            continue
        store = getattr(adata, slot)
        if name in store:
            del store[name]
            removed.append((slot, name))
    return removed


def write_grn(
    adata: AnnData,
    grn,
    record: dict,
    *,
    key_added: str,
    copy: bool,
    start,
    also: Mapping[tuple[str, str], tuple[object, str]] | None = None,
    remove: Sequence[tuple[str, str]] = (),
    note: str = GRN_NOTE,
    record_note: str = "parameters",
) -> AnnData | None:
    """Write a GRN tool's results and log the finish naming every key written.

    Called once, after every result is computed, so that a failure leaves ``adata`` as it
    was. Writes ``varp[key_added] = grn`` and ``uns[key_added] = record``, plus ``also``:
    ``{(slot, key): (value, description)}`` with ``slot`` one of ``obsm``, ``varm``, ``var``,
    and removes the ``remove`` entries ``(slot, key)`` of a mapping slot (``obsm``, ``varm``, ``varp``; results an earlier run left that this
    one does not write). When ``uns[key_added]`` is the index of an earlier ``groupby=`` run, that
    run's per-group ``varp`` / ``uns`` entries are removed too (they would be left unindexed), and
    so is every entry of an earlier scgrn run under ``key_added`` that this one does not rewrite
    (:func:`remove_owned_entries`: e.g. DeepSEM's ``obsm['X_<key>']`` under a correlation network).
    Returns the new AnnData with ``copy=True``, else ``None``.

    Examples
    --------
    >>> import numpy as np, anndata as ad
    >>> a = ad.AnnData(np.zeros((2, 2), dtype=np.float32))
    >>> a.var_names = ["g1", "g2"]
    >>> write_grn(a, np.eye(2, dtype=np.float32), {"method": "demo"}, key_added="demo", copy=False, start=None)
    >>> list(a.varp), a.uns["demo"]["method"]
    (['demo'], 'demo')
    """
    also = dict(also or {})
    adata = adata.copy() if copy else adata
    # the tool owns every entry under its key: the earlier run's that this one does not rewrite go
    remove_owned_entries(adata, key_added, keep=also.keys())
    # an earlier groupby= run under this key: its per-group networks would be left unindexed
    for key in grouped_run_keys(adata, key_added):
        if key != key_added:
            adata.varp.pop(key, None)
            adata.uns.pop(key, None)
    adata.varp[key_added] = grn
    for (slot, key), (value, _) in also.items():
        getattr(adata, slot)[key] = value
    for slot, key in remove:
        getattr(adata, slot).pop(key, None)
    adata.uns[key_added] = record
    lines = [f"    'varp[{key_added!r}]', {note}"]
    lines += [f"    '{slot}[{key!r}]', {what}" for (slot, key), (_, what) in also.items()]
    lines.append(f"    'uns[{key_added!r}]', {record_note}")
    if start is not None:
        logg.info("    finished", time=start, deep="added\n" + "\n".join(lines))
    return adata if copy else None
