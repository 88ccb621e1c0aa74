"""Where a ``groupby=`` run keeps each group's network (see ``scgrn.tl._groups``)."""

from __future__ import annotations

import numpy as np
from anndata import AnnData

__all__ = ["group_index", "grouped_runs", "resolve_group"]


def group_index(adata: AnnData, key: str) -> dict[str, str] | None:
    """``{group: varp key}`` when ``adata.uns[key]`` is the index of a ``groupby=`` run, else ``None``."""
    meta = adata.uns.get(key)
    if not isinstance(meta, dict) or "groupby" not in meta or "keys" not in meta:
        return None
    groups = [str(g) for g in np.atleast_1d(meta.get("groups", []))]
    keys = [str(k) for k in np.atleast_1d(meta["keys"])]
    problem = None
    if len(groups) != len(keys):
        problem = f"{len(groups)} groups but {len(keys)} keys"
    elif len(set(groups)) != len(groups):
        problem = "a group named twice"
    if problem:
        raise ValueError(
            f"adata.uns[{key!r}] indexes per-group networks but is inconsistent ({problem}: "
            f"groups {groups[:10]}, keys {keys[:10]}); reading it would drop or mix up groups. It is "
            f"written by a tool run with groupby=: rerun it (e.g. `scgrn.tl.deepsem(adata, "
            f"groupby={meta['groupby']!r}, key_added={key!r})`), or repair the lists so that "
            "groups[i] is stored at keys[i]."
        )
    return dict(zip(groups, keys))


def grouped_runs(adata: AnnData) -> list[str]:
    """The ``uns`` keys that index a ``groupby=`` run."""
    return [k for k in adata.uns if isinstance(adata.uns[k], dict) and {"groupby", "keys"} <= set(adata.uns[k])]


def resolve_group(adata: AnnData, key: str, group, *, argument: str = "group") -> str:
    """The ``varp`` key of ``group``'s network in the ``groupby=`` run stored under ``key``
    (``argument`` names the caller's parameter in messages, e.g. ``"groups"``)."""
    index = group_index(adata, key)
    if index is None:
        runs = grouped_runs(adata)
        found = f" The grouped runs in adata are under key={runs[0]!r}" + (
            f" (all: {runs})" if len(runs) > 1 else "") + ": pass that key." if runs else ""
        what = "holds no per-group networks" if key in adata.uns else "does not exist"
        raise ValueError(
            f"{argument}= names groups ({group!r}), but adata.uns[{key!r}] {what}, so it is not the index "
            f"of per-group networks: key={key!r} is not the key of a tool run with groupby=.{found} Otherwise run the tool with groupby= first "
            f"(e.g. `scgrn.tl.deepsem(adata, groupby='cell_type')`), or leave {argument}=None."
        )
    if str(group) not in index:
        unindexed = f"{key}_{group}"  # where a groupby= run stores that group (tl._groups.group_key)
        hint = ""
        if unindexed in adata.varp:
            hint = (
                f" adata.varp[{unindexed!r}] exists but the index does not list it, as after ad.concat of "
                "two grouped runs (anndata keeps one run's uns). Read it directly with "
                f"key={unindexed!r} and no group=, or add it to the index: "
                f"`adata.uns[{key!r}]['groups'] = [*adata.uns[{key!r}]['groups'], {str(group)!r}]` and the "
                f"same for 'keys' with {unindexed!r}."
            )
        raise KeyError(
            f"No group {group!r} in the {len(index)} networks of adata.uns[{key!r}] (groupby="
            f"{adata.uns[key]['groupby']!r}); groups: {list(index)}.{hint}"
        )
    found = index[str(group)]
    if found not in adata.varp:
        raise KeyError(f"The network of group {group!r} should be at adata.varp[{found!r}], which is missing.")
    return found
