"""``scgrn.tl.leiden_matched``: Leiden clustering with the resolution bisected to a target count."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from anndata import AnnData
from scanpy import logging as logg
from scipy import sparse

from .._keys import LEIDEN_MATCHED
from .._validate import (
    _get_matrix,
    check_adata,
    check_copy,
    check_float,
    check_int,
    check_key,
    check_random_state,
)

__all__ = ["leiden_matched"]


def _require_leiden() -> None:
    import importlib.util

    missing = [m for m in ("igraph", "leidenalg") if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"tl.leiden_matched needs {' and '.join(missing)}: "
            '`pip install igraph leidenalg` (or `pip install "scgrn[clustering]"`).'
        )


def _representation(adata: AnnData, use_rep: str) -> AnnData:
    """A side AnnData holding only ``use_rep`` (``"X"`` or an ``obsm`` key), checked to be
    finite, for :func:`scanpy.pp.neighbors` to build the graph on without touching ``adata``."""
    if use_rep == "X":
        rep = _get_matrix(adata)
        side = AnnData(X=rep, obs=pd.DataFrame(index=adata.obs_names.copy()))
        where = "adata.X"
    else:
        if use_rep not in adata.obsm:
            raise KeyError(
                f"use_rep={use_rep!r} is not in adata.obsm (keys: {list(adata.obsm.keys())}); pass one "
                "of them or use_rep='X'."
            )
        rep = adata.obsm[use_rep]
        side = AnnData(obs=pd.DataFrame(index=adata.obs_names.copy()))
        side.obsm[use_rep] = rep
        where = f"adata.obsm[{use_rep!r}]"
    values = rep.data if sparse.issparse(rep) else np.asarray(rep)
    if np.issubdtype(values.dtype, np.number) and not np.isfinite(values).all():
        n_bad = int((~np.isfinite(values)).sum())
        raise ValueError(
            f"{where} has {n_bad} NaN or infinite value(s); a neighbour graph cannot be built on it. "
            "Recompute the representation (e.g. a DeepSEM run that diverged, or PCA on data with NaN) "
            "or drop the affected cells."
        )
    return side


def neighbor_connectivities(adata: AnnData, neighbors_key: str = "neighbors"):
    """The connectivities of the :func:`scanpy.pp.neighbors` graph under ``neighbors_key``, read
    as scanpy reads them.

    ``adata.uns[neighbors_key]['connectivities_key']`` names the ``obsp`` entry; an ``uns`` entry
    written by an older scanpy (only ``params``, as in ``sc.datasets.pbmc68k_reduced()``) falls
    back to ``obsp['connectivities']`` (``obsp[f'{neighbors_key}_connectivities']`` for another
    key), then to a matrix kept in the ``uns`` entry itself (scanpy < 1.5).

    Raises
    ------
    KeyError
        No graph under ``neighbors_key``, naming it, the ``obsp`` keys and ``sc.pp.neighbors``.

    Examples
    --------
    >>> from scipy import sparse
    >>> adata = AnnData(np.zeros((3, 2)))
    >>> adata.uns["neighbors"] = {"params": {}}  # written by an older scanpy
    >>> adata.obsp["connectivities"] = sparse.csr_matrix(np.ones((3, 3)))
    >>> neighbor_connectivities(adata).shape
    (3, 3)
    """
    entry = adata.uns.get(neighbors_key)
    fix = (
        f"compute it with `sc.pp.neighbors(adata{'' if neighbors_key == 'neighbors' else f', key_added={neighbors_key!r}'})`, "
        "or pass use_rep= to build one here"
    )
    if not isinstance(entry, Mapping):
        raise KeyError(
            f"No neighbour graph {neighbors_key!r} in adata.uns (neighbors_key={neighbors_key!r}); {fix}."
        )
    default = "connectivities" if neighbors_key == "neighbors" else f"{neighbors_key}_connectivities"
    conn_key = entry.get("connectivities_key", default)
    if conn_key in adata.obsp:
        return adata.obsp[conn_key]
    if sparse.issparse(entry.get("connectivities")):  # scanpy < 1.5 kept the graph in uns
        return entry["connectivities"]
    named = "names" if "connectivities_key" in entry else "holds no 'connectivities_key', so (as in scanpy) names"
    raise KeyError(
        f"adata.uns[{neighbors_key!r}] (neighbors_key={neighbors_key!r}) {named} the graph "
        f"adata.obsp[{conn_key!r}], which is missing (obsp keys: {list(adata.obsp.keys())}); {fix}."
    )


def _graph(adata: AnnData, neighbors_key: str):
    import igraph as ig

    adjacency = sparse.coo_matrix(neighbor_connectivities(adata, neighbors_key))
    upper = adjacency.row < adjacency.col  # symmetric: keep one direction
    g = ig.Graph(n=adata.n_obs, edges=list(zip(adjacency.row[upper], adjacency.col[upper])), directed=False)
    g.es["weight"] = adjacency.data[upper].astype(float)
    return g


def _leiden(graph, resolution: float, seed: int) -> np.ndarray:
    import leidenalg

    partition = leidenalg.find_partition(
        graph,
        leidenalg.RBConfigurationVertexPartition,
        weights="weight",
        resolution_parameter=float(resolution),
        n_iterations=-1,
        seed=int(seed),
    )
    return np.asarray(partition.membership)


def leiden_matched(
    adata: AnnData,
    *,
    n_clusters: int | None = None,
    groupby: str | None = None,
    use_rep: str | None = None,
    n_neighbors: int = 30,
    neighbors_key: str | None = None,
    key_added: str = LEIDEN_MATCHED,
    resolution_range: tuple[float, float] = (0.0, 3.0),
    max_steps: int = 40,
    random_state: int = 0,
    copy: bool = False,
) -> AnnData | None:
    """Leiden clustering whose resolution is bisected until it gives ``n_clusters`` clusters.

    This is the protocol of embedding benchmarks such as DeepSEM's (Shu et al. 2021):
    clusterings of different representations are compared at the same number of clusters,
    the number of true cell types, so that ARI/NMI measure the representation rather than
    the resolution.

    The graph is the existing one under ``neighbors_key`` if given; otherwise, if
    ``use_rep`` is given (or no graph exists), a ``n_neighbors`` graph is built on
    ``use_rep`` (``None``: ``X_pca`` if present, else ``X``) with :func:`scanpy.pp.neighbors`
    and stored under ``key_added + "_neighbors"``.

    Parameters
    ----------
    adata
        Cells x genes.
    n_clusters
        Target number of clusters.
    groupby
        Instead of ``n_clusters``: a column of ``obs`` whose number of categories is the target.
    use_rep
        Representation to build the graph on (e.g. ``"X_deepsem"``).
    n_neighbors
        Neighbours of the graph when one is built (the protocol uses 30).
    neighbors_key
        Use this existing :func:`scanpy.pp.neighbors` result (``"neighbors"`` for the default),
        read as scanpy reads it (an entry of an older scanpy, with only ``params``, uses
        ``obsp['connectivities']``); a missing graph raises a ``KeyError`` naming the fix.
    key_added
        Where results go (see Returns).
    resolution_range
        Initial bracket of the bisection; the upper end is doubled until it gives at least
        ``n_clusters`` clusters.
    max_steps
        Leiden runs allowed for the search. If no resolution gives exactly ``n_clusters``,
        the closest count found is kept and a warning says so.
    random_state
        Seed of the graph and of every Leiden run; ``None`` draws a fresh seed, recorded in
        ``uns[key_added]['params']['random_state']``.
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Writes

    ``adata.obs['leiden_matched' | key_added]``
        categorical cluster labels ``"0"``, ``"1"``, ... (largest cluster first).
    ``adata.uns['leiden_matched' | key_added]``
        ``resolution``, ``n_clusters`` (found), ``target``, ``n_steps``, ``params``.
    ``adata.obsp`` / ``adata.uns[key_added + '_neighbors']``
        the graph, when one was built here.

    Examples
    --------
    >>> import scanpy as sc, scgrn
    >>> adata = sc.datasets.pbmc68k_reduced()
    >>> scgrn.tl.leiden_matched(adata, groupby="bulk_labels", use_rep="X_pca")
    >>> adata.obs["leiden_matched"].nunique()
    10
    """
    import scanpy as sc

    # every argument is checked first; the neighbour graph is built on a side object, so
    # nothing is written to adata until the clustering is done
    check_adata(adata)
    key_added = check_key("key_added", key_added, allow_scanpy_keys=True)  # obs labels, as sc.tl.leiden
    copy = check_copy(adata, copy)
    seed = check_random_state(random_state)
    n_neighbors = check_int("n_neighbors", n_neighbors, min=2)
    max_steps = check_int("max_steps", max_steps, min=1)
    if (n_clusters is None) == (groupby is None):
        raise ValueError("Give exactly one of n_clusters= and groupby=.")
    if groupby is not None:
        if groupby not in adata.obs:
            raise KeyError(f"{groupby!r} is not a column of adata.obs.")
        n_clusters = int(adata.obs[groupby].dropna().nunique())
    n_clusters = check_int("n_clusters", n_clusters, min=1)
    if adata.n_obs < 2:
        raise ValueError(f"leiden_matched needs at least 2 cells to build a neighbour graph; adata has {adata.n_obs}.")
    if not 1 <= n_clusters <= adata.n_obs:
        raise ValueError(f"n_clusters must be between 1 and the number of cells, got {n_clusters}.")
    try:
        lo, hi = resolution_range
    except (TypeError, ValueError):
        raise ValueError(f"resolution_range must be a pair (low, high), got {resolution_range!r}.") from None
    lo = check_float("resolution_range[0]", lo, min=0)
    hi = check_float("resolution_range[1]", hi, min=lo, min_open=True)

    _require_leiden()
    start = logg.info(f"running Leiden with the resolution matched to {n_clusters} clusters")
    built = side = None
    if neighbors_key is None and (use_rep is not None or "neighbors" not in adata.uns):
        if use_rep is None:
            use_rep = "X_pca" if "X_pca" in adata.obsm else "X"
        side = _representation(adata, use_rep)
        built = f"{key_added}_neighbors"
        sc.pp.neighbors(side, n_neighbors=n_neighbors, use_rep=use_rep, key_added=built, random_state=seed)
        neighbors_key = built
    neighbors_key = neighbors_key or "neighbors"
    source = side if built else adata
    graph = _graph(source, neighbors_key)

    cache: dict[float, np.ndarray] = {}

    def run(resolution: float) -> int:
        if resolution not in cache:
            cache[resolution] = _leiden(graph, resolution, seed)
        return len(np.unique(cache[resolution]))

    steps = 0
    best = None  # (|count - target|, resolution)
    # grow the bracket until the upper end gives enough clusters
    while run(hi) < n_clusters and steps < max_steps and hi < 1e4:
        lo, hi = hi, hi * 2
        steps += 1
    for _ in range(max_steps - steps):
        for r in (lo, hi):
            if r in cache:
                gap = abs(len(np.unique(cache[r])) - n_clusters)
                if best is None or gap < best[0]:
                    best = (gap, r)
        if best is not None and best[0] == 0:
            break
        mid = 0.5 * (lo + hi)
        count = run(mid)
        steps += 1
        if count < n_clusters:
            lo = mid
        elif count > n_clusters:
            hi = mid
        else:
            best = (0, mid)
            break
    if best is None or best[0] != 0:
        for r, labels in cache.items():
            gap = abs(len(np.unique(labels)) - n_clusters)
            if best is None or gap < best[0]:
                best = (gap, r)
    resolution = best[1]
    membership = cache[resolution]
    found = len(np.unique(membership))
    if found != n_clusters:
        warnings.warn(
            f"leiden_matched: no resolution in {steps} steps gave {n_clusters} clusters; "
            f"kept {found} (resolution {resolution:.4g}).",
            UserWarning,
            stacklevel=2,
        )
    # relabel by size, largest first, as scanpy does
    sizes = np.bincount(membership)
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    labels = rank[membership].astype(str)
    categories = [str(i) for i in range(len(order))]
    adata = adata.copy() if copy else adata
    if built:  # the graph built above, under the keys sc.pp.neighbors(adata, key_added=built) uses
        adata.uns[built] = side.uns[built]
        for k in (side.uns[built]["connectivities_key"], side.uns[built]["distances_key"]):
            adata.obsp[k] = side.obsp[k]
    adata.obs[key_added] = pd.Categorical(labels, categories=categories)
    adata.uns[key_added] = {
        "resolution": float(resolution),
        "n_clusters": int(found),
        "target": int(n_clusters),
        "n_steps": int(steps),
        "params": {
            "groupby": groupby,
            "use_rep": use_rep,
            "n_neighbors": int(n_neighbors),
            "neighbors_key": neighbors_key,
            "random_state": seed,
        },
    }
    logg.info(
        "    finished",
        time=start,
        deep=(
            f"added\n    'obs[{key_added!r}]', {found} clusters at resolution {resolution:.4g}\n"
            f"    'uns[{key_added!r}]', resolution and parameters"
            + (f"\n    'uns[{built!r}]', 'obsp', the neighbour graph" if built else "")
        ),
    )
    return adata if copy else None
