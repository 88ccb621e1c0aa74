"""Labelled scRNA-seq sets for clustering benchmarks (ARI / NMI), log-normalised on load."""

from __future__ import annotations

import os

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from .._params import check_bool
from ._paths import _subdir, data_dir as _data_dir

__all__ = ["clustering", "list_clustering", "mouse_bladder", "CLUSTERING_SETS", "PBMC68K"]

#: name of scanpy's bundled PBMC set, loadable offline (no data folder needed)
PBMC68K = "pbmc68k_reduced"

#: What each file of ``clustering/`` holds and how it is brought to log-normalised expression.
#: ``scale``: ``"counts"`` (``normalize_total`` to 1e4 then ``log1p``), ``"linear"`` (already
#: depth-normalised, e.g. RPKM: ``log1p`` only) or ``"log"`` (used as stored).
CLUSTERING_SETS: dict[str, dict] = {
    "yan2013_human_embryo": {"labels": "cell_type", "scale": "linear"},  # RPKM (SC3)
    "pollen2014_human_11types": {"labels": "label", "scale": "log"},  # SIMLR's log-scale matrix
    "buettner2015_mESC_cellcycle": {"labels": "label", "scale": "log"},  # SIMLR's log-scale matrix
    "mouse_bladder_2100": {"labels": "label", "scale": "counts"},  # raw UMI counts
    "worm_neuron_2100": {"labels": "label", "scale": "counts"},  # sci-RNA-seq counts
}


def _guess_scale(x) -> str:
    """For files not in :data:`CLUSTERING_SETS`: integers -> counts, large values -> linear, else log."""
    values = x.data if sparse.issparse(x) else np.asarray(x).ravel()
    values = values[:100_000]
    if values.size == 0:
        return "log"
    if np.allclose(values, np.round(values)):
        return "counts"
    return "linear" if float(values.max()) > 50 else "log"


def list_clustering(data_dir: str | os.PathLike | None = None, *, include_pbmc: bool = True) -> list[str]:
    """Names of the labelled sets available for :func:`clustering`.

    The ``.h5ad`` files in ``clustering/`` of the benchmark data folder (``data_dir`` or
    ``$SCGRN_DATA_DIR``), sorted, plus ``"pbmc68k_reduced"`` (bundled with scanpy).

    Examples
    --------
    >>> import scgrn
    >>> scgrn.datasets.list_clustering()  # doctest: +SKIP
    ['buettner2015_mESC_cellcycle', 'mouse_bladder_2100', ..., 'pbmc68k_reduced']
    """
    include_pbmc = check_bool("include_pbmc", include_pbmc)
    folder = _subdir(_data_dir(data_dir), "clustering", what="clustering folder")
    names = sorted(p.name[: -len(".h5ad")] for p in folder.glob("*.h5ad"))
    return names + [PBMC68K] if include_pbmc else names


def _pbmc68k() -> ad.AnnData:
    import scanpy as sc

    raw = sc.datasets.pbmc68k_reduced()
    # X is scaled; .raw holds the log-normalised expression of the same 765 genes
    x = raw.raw.X
    x = x.toarray() if sparse.issparse(x) else np.asarray(x)
    adata = ad.AnnData(
        X=x.astype(np.float32),
        obs=raw.obs[["bulk_labels"]].copy(),
        var=pd.DataFrame(index=raw.raw.var_names.copy()),
    )
    adata.obs["label"] = adata.obs["bulk_labels"].astype(str).astype("category")
    adata.uns["dataset"] = {
        "name": PBMC68K,
        "labels_key": "bulk_labels",
        "scale": "log",
        "source": "scanpy.datasets.pbmc68k_reduced(), .raw (log-normalised); labels obs['bulk_labels']",
    }
    return adata


def clustering(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    labels_key: str | None = None,
) -> ad.AnnData:
    """A labelled scRNA-seq set with log-normalised expression in ``X``.

    Reads ``clustering/<name>.h5ad`` of the benchmark data folder (``data_dir`` or
    ``$SCGRN_DATA_DIR``); ``name="pbmc68k_reduced"`` loads scanpy's bundled PBMC subset
    instead (its ``.raw``, labels ``bulk_labels``; no data folder needed). The files hold
    different scales, brought to one here (see :data:`CLUSTERING_SETS`):

    - raw counts (``mouse_bladder_2100``, ``worm_neuron_2100``): ``normalize_total`` to
      1e4 per cell, then ``log1p``; the counts stay in ``layers["counts"]``;
    - RPKM (``yan2013_human_embryo``): ``log1p`` only (already depth-normalised);
    - log-scale as preprocessed by SIMLR (``pollen2014_human_11types``,
      ``buettner2015_mESC_cellcycle``): used as stored.

    Files not in that table are classified by their values (integers: counts; values above
    50: linear; otherwise log).

    Parameters
    ----------
    name
        File stem (see :func:`list_clustering`) or ``"pbmc68k_reduced"``.
    data_dir
        Benchmark data folder (``None``: ``$SCGRN_DATA_DIR``).
    labels_key
        Column of ``obs`` holding the true labels (``None``: the known column of the file,
        else ``"cell_type"`` or ``"label"``).

    Returns
    -------
    AnnData, cells x genes, dense float32 log-normalised ``X``; ``obs["label"]``
    (categorical strings, the true labels), ``uns["dataset"]`` (``name``, ``labels_key``,
    ``scale`` and ``source``).

    Examples
    --------
    >>> import scgrn
    >>> adata = scgrn.datasets.clustering("pbmc68k_reduced")
    >>> adata.shape, adata.obs["label"].nunique()
    ((700, 765), 10)
    """
    if name == PBMC68K:
        return _pbmc68k()
    root = _data_dir(data_dir)
    folder = _subdir(root, "clustering", what="clustering folder")
    path = folder / f"{name}.h5ad"
    if not path.is_file():
        available = sorted(p.name[: -len(".h5ad")] for p in folder.glob("*.h5ad"))
        raise FileNotFoundError(
            f"No clustering set {name!r} in {str(folder)!r}; available: {available + [PBMC68K]}."
        )
    raw = ad.read_h5ad(path)
    known = CLUSTERING_SETS.get(name, {})
    if labels_key is None:
        labels_key = known.get("labels")
        if labels_key is None:
            labels_key = next((c for c in ("cell_type", "label") if c in raw.obs), None)
    if labels_key is None or labels_key not in raw.obs:
        raise KeyError(
            f"No label column {labels_key!r} in {name!r}; obs columns: {list(raw.obs.columns)}. "
            "Pass labels_key=."
        )
    scale = known.get("scale") or _guess_scale(raw.X)
    x = raw.X.toarray() if sparse.issparse(raw.X) else np.asarray(raw.X)
    x = x.astype(np.float32)
    adata = ad.AnnData(X=x, obs=raw.obs.copy(), var=raw.var.copy())
    if scale == "counts":
        adata.layers["counts"] = x.copy()
        size = x.sum(1, keepdims=True)
        adata.X = np.log1p(1e4 * x / np.where(size > 0, size, 1.0)).astype(np.float32)
    elif scale == "linear":
        adata.X = np.log1p(np.maximum(x, 0.0)).astype(np.float32)
    adata.obs["label"] = raw.obs[labels_key].astype(str).astype("category")
    adata.uns["dataset"] = {
        "name": name,
        "labels_key": labels_key,
        "scale": scale,
        "source": str(raw.uns.get("source", path.name)),
    }
    return adata


def mouse_bladder(*, data_dir: str | os.PathLike | None = None) -> ad.AnnData:
    """Mouse bladder cells (Mouse Cell Atlas, Han et al. 2018), 2100 cells x 20670 genes.

    Raw UMI counts (float32, integer-valued), ``obs['label']``: 16 cell types as numeric
    codes (gene and cell names are placeholders: the source file holds none). The file is
    scDeepCluster's ``mouse_bladder_cell_select_2100.h5``, stored as
    ``clustering/mouse_bladder_2100.h5ad`` in the benchmark data folder.

    Parameters
    ----------
    data_dir
        The benchmark data folder; ``None`` reads ``$SCGRN_DATA_DIR``.

    Raises
    ------
    FileNotFoundError
        When the folder or the file is missing (the message says which and how to fix it).

    Examples
    --------
    >>> import scgrn
    >>> try:
    ...     adata = scgrn.datasets.mouse_bladder()
    ... except FileNotFoundError:
    ...     pass
    """
    root = _data_dir(data_dir)
    path = _subdir(root, "clustering", "mouse_bladder_2100.h5ad", what="file")
    adata = ad.read_h5ad(path)
    adata.obs["label"] = adata.obs["label"].astype(str).astype("category")
    return adata
