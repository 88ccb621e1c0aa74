"""Labelled scRNA-seq sets from the benchmark data folder (``clustering/``)."""

from __future__ import annotations

import os

from anndata import AnnData

from ._paths import _subdir, data_dir as _data_dir

__all__ = ["mouse_bladder"]


def mouse_bladder(*, data_dir: str | os.PathLike | None = None) -> AnnData:
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
    import anndata as ad

    root = _data_dir(data_dir)
    path = _subdir(root, "clustering", "mouse_bladder_2100.h5ad", what="file")
    adata = ad.read_h5ad(path)
    adata.obs["label"] = adata.obs["label"].astype(str).astype("category")
    return adata
