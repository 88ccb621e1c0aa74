"""Agreement between a clustering and true labels: ARI, NMI, AMI."""

from __future__ import annotations

import numpy as np
from anndata import AnnData

__all__ = ["cluster_scores"]


def cluster_scores(adata: AnnData, *, labels_key: str, cluster_key: str) -> dict[str, float]:
    """Score a clustering against true labels.

    Cells whose label or cluster is missing (NaN) are left out.

    Parameters
    ----------
    adata
        AnnData whose ``obs`` holds both columns.
    labels_key
        Column of ``adata.obs`` with the true labels.
    cluster_key
        Column of ``adata.obs`` with the clusters (e.g. from :func:`scgrn.tl.leiden_matched`).

    Returns
    -------
    ``{"ARI": ..., "NMI": ..., "AMI": ..., "n_cells": ..., "n_labels": ..., "n_clusters": ...}``:
    adjusted Rand index, normalised mutual information (arithmetic normalisation, sklearn's
    default and the usual one in scRNA-seq papers) and adjusted mutual information. ARI and
    AMI are about 0 for a random clustering; all three are 1 for identical partitions.

    Examples
    --------
    >>> import anndata as ad, numpy as np, pandas as pd
    >>> import scgrn
    >>> obs = pd.DataFrame({"truth": list("aabbcc"), "cluster": list("001122")})
    >>> adata = ad.AnnData(np.zeros((6, 1)), obs=obs)
    >>> scgrn.metrics.cluster_scores(adata, labels_key="truth", cluster_key="cluster")["ARI"]
    1.0
    """
    from sklearn.metrics import (
        adjusted_mutual_info_score,
        adjusted_rand_score,
        normalized_mutual_info_score,
    )

    for key in (labels_key, cluster_key):
        if key not in adata.obs:
            raise KeyError(f"{key!r} is not a column of adata.obs (columns: {list(adata.obs.columns)}).")
    labels = adata.obs[labels_key]
    clusters = adata.obs[cluster_key]
    keep = (labels.notna() & clusters.notna()).to_numpy()
    if keep.sum() < 2:
        raise ValueError("Fewer than two cells have both a label and a cluster.")
    y = np.asarray(labels.astype(str))[keep]
    c = np.asarray(clusters.astype(str))[keep]
    return {
        "ARI": float(adjusted_rand_score(y, c)),
        "NMI": float(normalized_mutual_info_score(y, c)),
        "AMI": float(adjusted_mutual_info_score(y, c)),
        "n_cells": int(keep.sum()),
        "n_labels": int(len(np.unique(y))),
        "n_clusters": int(len(np.unique(c))),
    }
