"""The one writer of the GRN tools: every result into the AnnData at once, after all is computed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from anndata import AnnData
from scanpy import logging as logg

__all__ = ["write_grn", "grouped_run_keys"]

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
    run's per-group ``varp`` / ``uns`` entries are removed too (they would be left unindexed).
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
