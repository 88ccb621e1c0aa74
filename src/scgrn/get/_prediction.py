"""Export a GRN as a prediction file of the community GRN benchmark (geneRNIB / Open Problems).

The format, as the benchmark (``openproblems-bio/task_grn_inference``) documents and checks it:
an AnnData with no data (``X=None``, 0 x 0) whose ``uns`` holds ``method_id`` and ``dataset_id``
(strings) and ``prediction``, a DataFrame with exactly the columns ``source`` (a TF), ``target``
and ``weight``, the weight **stored as strings** (object dtype; the evaluation converts it back
with :func:`pandas.to_numeric`). Only TF -> gene edges are scored, self-loops are dropped, and
only the 50,000 edges with the largest ``|weight|`` are evaluated.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys
from .._validate import (
    ParameterTypeError,
    TFsTypeError,
    as_tf_list,
    check_adata,
    check_int,
    check_key,
    check_var_names,
)
from ._edges import _COLUMNS, check_grn_key, edges_from_matrix
from ._group_index import resolve_group

__all__ = ["to_prediction"]

#: number of edges the benchmark evaluates (its ``max_n_links``)
BENCHMARK_N_EDGES = 50_000
#: ``dataset_id`` when none is given and the AnnData records none
UNKNOWN_DATASET = "unknown"


def to_prediction(
    adata: AnnData,
    *,
    key: str = _keys.DEEPSEM,
    n_edges: int = BENCHMARK_N_EDGES,
    method_id: str | None = None,
    dataset_id: str | None = None,
    tfs: Iterable[str] | None = None,
    group: str | None = None,
) -> AnnData:
    """A GRN as the prediction file of the community GRN benchmark (geneRNIB).

    Builds the AnnData that Open Problems' GRN inference task (geneRNIB) takes as a method's
    prediction: no data (``X`` is ``None``, 0 x 0), and in ``uns`` the ``method_id``, the
    ``dataset_id`` and the ``prediction`` table of the strongest TF -> gene edges of
    ``adata.varp[key]`` (row = regulator/source, column = target). A dense or scipy sparse GRN
    gives the same table; a sparse one is read from its stored entries, never densified.
    Write it with ``pred.write_h5ad("prediction.h5ad")``.

    Parameters
    ----------
    adata
        Annotated data matrix holding a GRN in ``adata.varp[key]`` (dense array or scipy sparse
        matrix).
    key
        Key of the GRN in ``adata.varp`` and of its record in ``adata.uns``.
    n_edges
        Keep at most this many edges, those with the largest ``|weight|`` (ties broken in
        row-major order, as in :func:`scgrn.get.edges`). The benchmark evaluates the top 50,000
        (the default); a larger value only makes the file bigger.
    method_id
        Name of the method in the benchmark. Default: ``adata.uns[key]['method']`` when the
        tool recorded it, else ``key``.
    dataset_id
        Name of the dataset the network was inferred from (the benchmark's ids: ``"op"``,
        ``"norman"``, ``"replogle"``, ...). Default: ``adata.uns['dataset_id']`` (set in the
        benchmark's inference data), else ``adata.uns['dataset']['name']`` (set by the
        :mod:`scgrn.datasets` loaders), else ``"unknown"``.
    tfs
        Transcription factors allowed as sources (the benchmark scores TF -> gene edges only).
        Default: the list recorded in ``adata.uns[key]['tfs']`` by the method (``tfs=`` of
        :func:`scgrn.tl.deepsem` and the baselines). Names absent from ``adata.var_names`` are
        ignored; one of the two is required, and at least one TF must be among the genes.
        A boolean mask over ``adata.var_names`` (e.g. ``adata.var['is_tf']``) selects the genes
        where it is ``True``.

    group
        For a tool run with ``groupby=`` under ``key``: the group whose network to export.

    Returns
    -------
    :class:`~anndata.AnnData` with ``n_obs = n_vars = 0`` and ``X = None``, whose ``uns`` holds

    ``uns['prediction']``
        :class:`pandas.DataFrame` with exactly the columns ``source`` (a TF), ``target`` and
        ``weight`` (signed), all of object dtype holding ``str``, the weight written as the
        shortest decimal that reads back to the stored float (``pd.to_numeric`` gives the
        numbers); at most ``n_edges`` rows, sorted by ``|weight|`` descending, with a
        ``RangeIndex``. Self-loops, exact-zero and NaN weights are excluded (an empty table,
        with a warning, when no TF has an edge).
    ``uns['method_id']``, ``uns['dataset_id']``
        ``str``.

    Raises
    ------
    KeyError
        If ``adata.varp[key]`` does not exist.
    ValueError
        If no TF list is given or recorded, ``tfs`` is empty, none of the TFs is among ``adata.var_names``,
        ``n_edges < 1``, ``var_names`` are not unique strings, or an id is an empty string.

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
    >>> adata.uns["deepsem"] = {"method": "deepsem", "params": {}, "tfs": ["Gata1", "Fli1"]}
    >>> pred = scgrn.get.to_prediction(adata, dataset_id="toy")
    >>> pred.uns["prediction"]
      source target weight
    0  Gata1   Klf1   0.75
    1  Gata1   Fli1   -0.5
    2   Fli1  Gata1  -0.25
    >>> pred.uns["method_id"], pred.uns["dataset_id"]
    ('deepsem', 'toy')
    >>> scgrn.get.to_prediction(adata, n_edges=1, tfs=["Fli1"]).uns["prediction"]
      source target weight
    0   Fli1  Gata1  -0.25
    """
    check_adata(adata)
    key = check_key("key", key)
    n_edges = check_int("n_edges", n_edges, min=1)
    names = check_var_names(adata.var_names)
    if group is not None:
        key = resolve_group(adata, key, group)
    check_grn_key(adata, key)
    if not names.is_unique:
        dups = names[names.duplicated()].unique()
        raise ValueError(
            f"adata.var_names has {len(dups)} duplicated gene name(s) (e.g. {dups[0]!r}), so edges "
            "would not be identified by their names. Fix: `adata.var_names_make_unique()` before "
            "inferring the network."
        )
    meta = adata.uns.get(key)
    meta = meta if isinstance(meta, dict) else {}
    method_id = _check_id("method_id", method_id, default=_default_method_id(meta, key))
    dataset_id = _check_id("dataset_id", dataset_id, default=_default_dataset_id(adata))
    sources = _sources(tfs, meta, key, names)

    net = edges_from_matrix(adata.varp[key], names, top_k=n_edges, sources=sources)
    if net.empty:
        warnings.warn(
            f"adata.varp[{key!r}] has no non-zero edge out of the {len(sources)} TF(s); the "
            "prediction is empty and the benchmark cannot score it.",
            UserWarning,
            stacklevel=2,
        )
    prediction = pd.DataFrame(
        {
            "source": pd.Series(net["source"].to_numpy(dtype=object), dtype=object),
            "target": pd.Series(net["target"].to_numpy(dtype=object), dtype=object),
            # shortest round-trip repr of the stored float (float32 stays float32-short)
            "weight": pd.Series(np.asarray(net["weight"].to_numpy()).astype(str).astype(object), dtype=object),
        },
        columns=_COLUMNS,
    )
    return AnnData(X=None, uns={"method_id": method_id, "dataset_id": dataset_id, "prediction": prediction})


def _default_method_id(meta: dict, key: str) -> str:
    method = meta.get("method")
    return method if isinstance(method, str) and method.strip() else key


def _default_dataset_id(adata: AnnData) -> str:
    dataset_id = adata.uns.get("dataset_id")
    if isinstance(dataset_id, str) and dataset_id.strip():
        return dataset_id
    record = adata.uns.get("dataset")
    name = record.get("name") if isinstance(record, dict) else None
    if isinstance(name, str) and name.strip():
        return name
    return UNKNOWN_DATASET


def _check_id(name: str, value, *, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise ParameterTypeError(
            f"{name} must be a string or None, got {value!r} ({type(value).__name__}). "
            f"Fix: {name}={str(value)!r}."
        )
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}. Pass None for the default.")
    return value


def _sources(tfs, meta: dict, key: str, names: pd.Index) -> list[str]:
    """The TFs (in ``var_names``) allowed as sources: ``tfs=``, else the recorded list."""
    if tfs is None:
        recorded = meta.get("tfs")
        if recorded is None or len(np.atleast_1d(recorded)) == 0:
            raise ValueError(
                f"No TF list: the benchmark scores TF -> gene edges only, and adata.uns[{key!r}] "
                "records no 'tfs'. Pass the transcription factors, e.g. "
                "`scgrn.get.to_prediction(adata, tfs=tf_list)` with the benchmark's tf_all.csv "
                "(`tf_list = pd.read_csv('tf_all.csv', header=None)[0]`), or rerun the method "
                "with `tfs=`."
            )
        tfs, given = np.atleast_1d(recorded), f"adata.uns[{key!r}]['tfs']"
    else:
        if isinstance(tfs, (str, bytes)):
            raise TFsTypeError(f"tfs must be a list of gene names, not a single string. Fix: tfs=[{tfs!r}].")
        tfs = as_tf_list(tfs, names)  # a boolean mask: the genes where True; refuses a DataFrame (its iteration gives the column names)
        given = "tfs"
    try:
        wanted = list(dict.fromkeys(str(t) for t in tfs))
    except TypeError:
        raise TFsTypeError(f"tfs must be a list of gene names (or None), got {type(tfs).__name__}.") from None
    if not wanted:
        raise ValueError(
            f"tfs is empty: the benchmark scores TF -> gene edges only, so at least one TF is needed. "
            f"Pass the transcription factors, or tfs=None for the TFs recorded in adata.uns[{key!r}]['tfs']."
        )
    present = [t for t in wanted if t in names]
    if not present and given != "tfs":
        raise ValueError(
            f"None of the {len(wanted)} TF(s) recorded by the run in {given} ({', '.join(repr(t) for t in wanted[:5])}"
            f"{', ...' if len(wanted) > 5 else ''}) is among adata.var_names (were the genes subset "
            "after the run?). Pass tfs= (TFs among adata.var_names), or rerun the method on this AnnData."
        )
    if not present:
        shown = ", ".join(repr(t) for t in wanted[:5]) + (", ..." if len(wanted) > 5 else "")
        raise ValueError(
            f"None of the {len(wanted)} TFs in {given} ({shown or 'empty'}) is among adata.var_names "
            f"(e.g. {', '.join(repr(g) for g in names[:3])}). Check the gene naming (symbols vs "
            "Ensembl ids, human 'GATA1' vs mouse 'Gata1')."
        )
    return present
