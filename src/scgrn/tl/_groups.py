"""One network per group of cells: the ``groupby=`` (and ``client=``) of the GRN tools.

:func:`groupable` wraps a GRN tool. Without ``groupby`` the tool runs as written. With it, the
tool runs once per group of ``adata.obs[groupby]`` on a lean AnnData holding only that group's
cells (the expression matrix, or the ``layer``, with the gene and cell names), in sequence or on a
dask.distributed ``client``, every group with the same seed. Nothing is written until every group
has finished; then each group's network is stored like an ungrouped one under its own key, and
``uns[key_added]`` becomes the index of the groups:

``adata.varp[f"{key_added}_{group}"]``, ``adata.uns[f"{key_added}_{group}"]``
    the group's GRN and record, as the tool writes them, so every reader (``get.edges``,
    ``pl.grn``, ``metrics``) takes the per-group key as it is;
``adata.uns[key_added]``
    ``method``, ``version``, ``groupby``, ``groups``, ``keys`` (the per-group keys, in group
    order), ``n_cells`` and ``params`` (the first group's).

One ``varp`` per group keeps each network in the AnnData contract (genes x genes, row =
regulator) and sparse where the tool makes it sparse; :func:`scgrn.get.edges` with no ``group``
gives the long table over all groups, with a ``group`` column.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping

import numpy as np
from anndata import AnnData
from scanpy import logging as logg
from scipy import sparse

from .. import __version__
from .._settings import resolve_progress_bar
from .._validate import _fmt_names, as_tf_list, check_adata, check_copy, check_random_state, check_tfs, obs_groups
from ._write import grouped_run_keys, remove_owned_entries

__all__ = ["GROUP_MIN_CELLS", "group_key", "groupable"]

#: the fewest cells a group may have (DeepSEM's minimum; a tool may ask for more)
GROUP_MIN_CELLS = 10

_GROUPBY_DOC = """\
    groupby
        A column of ``adata.obs`` (e.g. cell types or clusters): infer one network per group of
        cells instead of one for all, each from that group's cells alone and with the same
        seed. Written to ``varp`` / ``uns[f"{{key_added}}_{{group}}"]``, with the index of the
        groups in ``uns[key_added]`` (``groupby``, ``groups``, ``keys``, ``n_cells``); only
        networks are written (no cell embedding). Read one group with
        ``scgrn.get.edges(adata, key=key_added, group=...)``. Every group needs at least
        {min_cells} cells; genes constant within a group (e.g. not expressed there) are left
        out of that group's model and have no edge in its network.
"""
_CLIENT_DOC = """\
    client
        A :class:`dask.distributed.Client`: with ``groupby``, the groups run in parallel on its
        workers (which need scgrn installed), with progress bars off; without it, in sequence.
        The networks are the same either way.
"""
_RETURNS_DOC = """
    With ``groupby``, per group ``g``: ``adata.varp[f"{key_added}_{g}"]`` and
    ``adata.uns[f"{key_added}_{g}"]`` as above (the record adds ``groupby``, ``group``,
    ``n_cells`` and ``constant_genes``, the genes left out of the group's model), and
    ``adata.uns[key_added]`` holds the index of the groups instead.
"""
_NATIVE_CLIENT_NOTE = """\
        With ``groupby``, the groups are spread over the client instead (one group a task),
        and each group runs its targets in sequence; the networks are the same either way.
"""


def group_key(key_added: str, group) -> str:
    """The ``varp`` / ``uns`` key of one group's network: ``f"{key_added}_{group}"``.

    Examples
    --------
    >>> group_key("deepsem", "B cells")
    'deepsem_B cells'
    """
    return f"{key_added}_{group}"


def groupable(tool: Callable) -> Callable:
    """Give a GRN tool ``groupby=`` and, unless it has its own, ``client=``.

    The wrapper's signature and docstring show the new parameters just before ``copy``.
    """
    signature = inspect.signature(tool)
    native_client = "client" in signature.parameters

    @functools.wraps(tool)
    def wrapper(adata: AnnData, *args, groupby: str | None = None, client=None, **kwargs):
        if groupby is None:
            if native_client:
                kwargs["client"] = client
            elif client is not None:
                raise ValueError(
                    f"{tool.__name__}: client= spreads the groups of groupby= over a dask cluster; "
                    "pass groupby= too, or leave client=None."
                )
            return tool(adata, *args, **kwargs)
        return _per_group(wrapper, signature, adata, args, kwargs, groupby=groupby, client=client)

    params = list(signature.parameters.values())
    at = next(i for i, p in enumerate(params) if p.name == "copy")
    added = [inspect.Parameter("groupby", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="str | None")]
    if not native_client:
        added.append(inspect.Parameter("client", inspect.Parameter.KEYWORD_ONLY, default=None))
    wrapper.__signature__ = signature.replace(parameters=params[:at] + added + params[at:])
    wrapper.__doc__ = _document(tool.__doc__, native_client)
    return wrapper


def _document(doc: str, native_client: bool) -> str:
    """Insert the ``groupby`` (and ``client``) entries before ``copy`` in a numpydoc docstring."""
    text = _GROUPBY_DOC.format(min_cells=GROUP_MIN_CELLS) + ("" if native_client else _CLIENT_DOC)
    doc = re.sub(r"(?m)^    copy\n", lambda m: text + m.group(0), doc, count=1)
    doc = re.sub(r"(?ms)(^    Returns\n    -+\n.*?)(?=^    \w+\n    -+\n)", lambda m: m.group(1) + _RETURNS_DOC.lstrip("\n") + "\n", doc, count=1)
    if native_client:  # the tool's own client entry ends where the next parameter starts
        doc = re.sub(r"(?ms)(^    client\n.*?)(?=^    \w)", lambda m: m.group(1) + _NATIVE_CLIENT_NOTE, doc, count=1)
    return doc


def _per_group(wrapper, signature, adata, args, kwargs, *, groupby, client):
    """Run ``wrapper`` once per group and write every network at the end (or nothing)."""
    check_adata(adata)
    copy = check_copy(adata, kwargs.pop("copy", False))
    labels, cells = obs_groups(adata, groupby, min_cells=GROUP_MIN_CELLS)
    bad = [str(g) for g in labels if "/" in str(g) or str(g) == ""]
    if bad:
        raise ValueError(
            f"adata.obs[{groupby!r}] has group label(s) {bad} that cannot be part of an h5ad key "
            f"(empty, or containing '/'); rename them, e.g. `adata.obs[{groupby!r}] = "
            f"adata.obs[{groupby!r}].astype(str).str.replace('/', '-')`."
        )
    params = signature.parameters
    if "tfs" in kwargs:  # a boolean mask is over adata's genes: read it as names here, once
        kwargs["tfs"] = as_tf_list(kwargs["tfs"], adata.var_names)
    kwargs = _shared_kwargs(params, kwargs, client)
    layer = kwargs.get("layer")
    tfs = check_tfs(kwargs.get("tfs"), adata.var_names)  # a typo fails here, not as "absent in a group"
    key_added = kwargs.get("key_added", params["key_added"].default if "key_added" in params else None)
    if isinstance(key_added, str):  # known before the run: a clash fails now, not after training
        _check_group_keys(adata, key_added, labels, groupby)

    start = logg.info(f"running {wrapper.__name__} on {len(labels)} groups of adata.obs[{groupby!r}]")
    inputs, genes = zip(*(_lean(adata, idx, layer) for idx in cells))
    for label, lean in zip(labels, inputs):
        _check_group_input(lean, label, groupby, tfs)
    group_kwargs = [
        kwargs if tfs is None else {**kwargs, "tfs": [t for t in tfs if t in set(lean.var_names)]}
        for lean in inputs
    ]
    outputs = _run(wrapper, inputs, labels, groupby, args, group_kwargs, client)

    key = next(iter(outputs[0].varp.keys()))  # the one key the tool wrote (the inputs have none)
    _check_group_keys(adata, key, labels, groupby)
    out = adata.copy() if copy else adata
    remove_owned_entries(out, key)  # e.g. an ungrouped DeepSEM run's obsm['X_<key>']: no group writes one
    stale = grouped_run_keys(out, key)
    keys = [group_key(key, g) for g in labels]
    for k in set(stale) - set(keys):
        out.varp.pop(k, None)
        out.uns.pop(k, None)
    out.varp.pop(key, None)  # an ungrouped network from an earlier run would now be stale
    for k, g, n, kept, result in zip(keys, labels, cells, genes, outputs):
        out.varp[k] = _padded(result.varp[key], kept, adata.n_vars)
        constant = adata.var_names[np.setdiff1d(np.arange(adata.n_vars), kept)].tolist()
        out.uns[k] = {**result.uns[key], "groupby": groupby, "group": str(g), "n_cells": len(n),
                      "constant_genes": constant}
    first = outputs[0].uns[key]
    out.uns[key] = {
        "method": first.get("method", wrapper.__name__),
        "version": __version__,
        "groupby": groupby,
        "groups": [str(g) for g in labels],
        "keys": keys,
        "n_cells": [len(n) for n in cells],
        "params": first.get("params", {}),
    }
    logg.info(
        "    finished",
        time=start,
        deep=f"added\n    'varp' and 'uns' [{group_key(key, '<group>')!r}] for {len(labels)} groups\n"
        f"    'uns[{key!r}]', the index of the groups",
    )
    return out if copy else None


def _shared_kwargs(params, kwargs: dict, client) -> dict:
    """The arguments every group runs with, checked once: one seed (drawn once when None), no
    embeddings (separate models share no space), the tool's own fan-out off (the groups fan out
    instead), a checked progress-bar flag (off on a client), TFs read once (a generator)."""
    kwargs = dict(kwargs)
    if "random_state" in params:
        default = params["random_state"].default
        kwargs["random_state"] = check_random_state(kwargs.get("random_state", default))
    if "embedding" in params:
        kwargs.setdefault("embedding", False)
    if "client" in params:
        kwargs["client"] = None
    if "show_progress_bar" in params:
        if client is not None:
            kwargs.setdefault("show_progress_bar", False)
        kwargs["show_progress_bar"] = resolve_progress_bar(kwargs.get("show_progress_bar"))
    if "tfs" in kwargs:
        kwargs["tfs"] = as_tf_list(kwargs["tfs"])
    return kwargs


def _check_group_keys(adata: AnnData, key: str, labels: list, groupby: str) -> None:
    """Refuse per-group keys that would overwrite results this run does not own.

    ``varp`` / ``uns[f"{key}_{group}"]`` may be replaced when an earlier ``groupby=`` run under
    the same ``key`` wrote it (it is listed in the index ``uns[key]``, or its record names this
    key's group); anything else there (e.g. an ungrouped run with ``key_added=f"{key}_{group}"``)
    is someone else's result, and scanpy's rule is not to overwrite it silently.
    """
    owned = set(grouped_run_keys(adata, key))
    clashes = []
    for label in labels:
        k = group_key(key, label)
        if k in owned or (k not in adata.varp and k not in adata.uns):
            continue
        record = adata.uns.get(k)
        from_this_key = isinstance(record, Mapping) and "groupby" in record and group_key(key, record.get("group")) == k
        if not from_this_key:
            clashes.append(k)
    if clashes:
        raise ValueError(
            f"groupby={groupby!r} would write its networks to {clashes}, but adata.varp / adata.uns "
            f"already hold results there that an earlier groupby run under key {key!r} did not write. "
            f"Pass another key_added= (e.g. key_added={key + '_by_' + groupby!r}), or remove the old "
            f"results first: `del adata.varp[{clashes[0]!r}]; del adata.uns[{clashes[0]!r}]`."
        )


def _check_group_input(lean: AnnData, label, groupby: str, tfs: list[str] | None) -> None:
    """Name the group and the cause when a group has nothing to infer from: every gene, or
    every TF given, is constant in its cells (left out of its model)."""
    where = f"in group {str(label)!r} of adata.obs[{groupby!r}] ({lean.n_obs} cells)"
    fix = (
        f"Drop the group (`adata = adata[adata.obs[{groupby!r}] != {str(label)!r}]`) or merge it "
        "with another"
    )
    if lean.n_vars == 0:
        raise ValueError(f"{where} every gene is constant (e.g. not expressed), so there is no network to infer. {fix}.")
    if tfs is not None and not lean.var_names.isin(tfs).any():
        raise ValueError(
            f"{where} every TF given ({_fmt_names(tfs)}) is constant (e.g. not expressed), so no "
            f"gene can regulate another there. {fix}, or pass TFs that vary in it."
        )


def _lean(adata: AnnData, idx, layer: str | None) -> tuple[AnnData, np.ndarray]:
    """One group's cells as a small AnnData (its matrix or layer, and the names) without the
    genes that are constant in the group, and the indices of the genes kept."""
    view = adata[idx]
    if adata.isbacked:
        view = view.to_memory()
    matrix = view.X if layer is None else view.layers[layer]
    kept = np.flatnonzero(~(_dense_row(matrix.max(axis=0)) <= _dense_row(matrix.min(axis=0))))  # NaN kept: the tool names it
    if len(kept) < adata.n_vars:
        matrix = matrix[:, kept]
    lean = AnnData(matrix, obs=view.obs[[]].copy(), var=view.var[[]].iloc[kept].copy())
    if layer is not None:
        lean.layers[layer] = matrix
    return lean, kept


def _dense_row(values) -> np.ndarray:
    return np.asarray(values.todense() if sparse.issparse(values) else values).ravel()


def _padded(W, kept: np.ndarray, n_vars: int):
    """A group's network over all ``n_vars`` genes: the genes left out have no edge."""
    if len(kept) == n_vars:
        return W
    if sparse.issparse(W):
        coo = W.tocoo()
        return sparse.csr_matrix((coo.data, (kept[coo.row], kept[coo.col])), shape=(n_vars, n_vars))
    full = np.zeros((n_vars, n_vars), dtype=W.dtype)
    full[np.ix_(kept, kept)] = W
    return full


def _run(wrapper, inputs, labels, groupby, args, group_kwargs, client) -> list[AnnData]:
    """Every group's result (a new AnnData), in order; an error names its group."""
    if client is None:
        results = []
        for lean, label, kwargs in zip(inputs, labels, group_kwargs):
            logg.info(f"    group {label!s} ({lean.n_obs} cells)")
            with _naming_group(label, groupby, lean.n_obs):
                results.append(wrapper(lean, *args, copy=True, **kwargs))
        return results
    data = client.scatter(list(inputs), hash=False)
    futures = [
        client.submit(wrapper, d, *args, copy=True, pure=False, **kwargs) for d, kwargs in zip(data, group_kwargs)
    ]
    results = []
    for future, lean, label in zip(futures, inputs, labels):
        with _naming_group(label, groupby, lean.n_obs):
            results.append(future.result())
    return results


class _naming_group:
    """Add the group to an error raised inside (as a note, keeping the error's type)."""

    def __init__(self, label, groupby: str, n_cells: int):
        self.note = f"(in group {label!s} of adata.obs[{groupby!r}], {n_cells} cells)"

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if err is not None and hasattr(err, "add_note"):
            err.add_note(self.note)
        return False
