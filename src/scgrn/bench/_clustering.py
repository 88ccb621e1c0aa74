"""``scgrn.bench.clustering``: do cell representations recover known cell types?

The protocol of DeepSEM's cell-representation benchmark (Shu et al. 2021): top 1000
variable genes of the log-normalised expression -> representation -> PCA to 50 components
if it is wider -> 30-neighbour graph -> Leiden with the resolution bisected to the number of
true labels (:func:`scgrn.tl.leiden_matched`) -> ARI / NMI / AMI
(:func:`scgrn.metrics.cluster_scores`). Representations: the DeepSEM posterior
(``tl.deepsem(preset="embedding")``), PCA of the same genes, and scVI (optional:
``scvi-tools`` must be installed).
"""

from __future__ import annotations

import importlib.util
import json
import time
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scanpy import logging as logg
from tqdm.auto import tqdm

from .._params import check_bool, check_int
from .._scale_checks import COUNTS_MIN_MAX
from .._validate import checked_matrix
from .._settings import resolve_progress_bar

__all__ = ["clustering", "prepare_clustering", "embed_cells", "score_embedding", "summarise_clustering", "METHODS"]

#: representations the runner knows, in the order they are reported
METHODS = ("deepsem", "pca", "scvi")

#: scVI settings unless overridden (``scvi_kwargs``). ``max_epochs=None``:
#: ``clip(round(30000 / n_cells), 20, 150)`` epochs, 150-340 mini-batch steps of 128 cells:
#: a CPU budget of the order of DeepSEM's. scvi-tools' own default (400 epochs below 20000
#: cells) costs 20x more steps on the 2100-cell sets; pass ``max_epochs=400`` for it.
DEFAULT_SCVI_KWARGS: dict = {"n_latent": 10, "max_epochs": None}

_COLUMNS = [
    "dataset", "cells", "genes", "n_labels", "method", "seed", "ARI", "NMI", "AMI",
    "n_clusters", "resolution", "dims", "seconds", "seconds_total", "status", "params",
]


def prepare_clustering(adata: AnnData, *, n_top_genes: int = 1000) -> AnnData:
    """The protocol's input: the ``n_top_genes`` most variable genes of log-normalised ``X``.

    Genes are ranked by :func:`scanpy.pp.highly_variable_genes` (``flavor="seurat"``, on the
    log-normalised values that :func:`scgrn.datasets.clustering` puts in ``X``). A set with
    fewer genes is kept whole. Layers (e.g. ``counts``) are subset alongside.

    Examples
    --------
    >>> import scgrn
    >>> adata = scgrn.datasets.clustering("pbmc68k_reduced")
    >>> scgrn.bench.prepare_clustering(adata, n_top_genes=200).n_vars
    200
    """
    import scanpy as sc

    n_top_genes = check_int("n_top_genes", n_top_genes, min=1)
    _check_log_normalised(adata)
    if adata.n_vars <= n_top_genes:
        return adata.copy()
    hvg = sc.pp.highly_variable_genes(adata, n_top_genes=n_top_genes, flavor="seurat", inplace=False)
    keep = hvg["highly_variable"].to_numpy()
    return adata[:, keep].copy()


def _check_log_normalised(adata: AnnData) -> None:
    """Refuse raw counts and z-scored ``X``: the protocol ranks genes on log-normalised values
    (scanpy's ``flavor="seurat"`` takes ``expm1`` of them, which overflows on counts)."""
    fix = "Pass log-normalised expression: `sc.pp.normalize_total(adata); sc.pp.log1p(adata)` on the counts."
    _, summary = checked_matrix(
        adata, min_cells=2, expect=None, allow_zero_genes=True,
        refuse_z_scored=f"The clustering protocol ranks genes by their variance on the log scale. {fix}",
    )
    if summary.nonneg_integer and summary.max > COUNTS_MIN_MAX:
        raise ValueError(
            f"adata.X looks like raw counts (non-negative integers up to {summary.max:g}), but the "
            f"clustering protocol selects genes on log-normalised expression. {fix}"
        )


def _scvi_available() -> bool:
    return importlib.util.find_spec("scvi") is not None


def _counts_for_scvi(adata: AnnData) -> tuple[np.ndarray, str]:
    if "counts" in adata.layers:
        return np.asarray(adata.layers["counts"], dtype=np.float32), "counts"
    # log-normalised or log(RPKM) sets have no counts: scVI gets rounded expm1 pseudo-counts
    return np.round(np.expm1(np.asarray(adata.X, dtype=np.float64))).astype(np.float32), "pseudo-counts"


def embed_cells(
    adata: AnnData,
    method: str,
    *,
    seed: int = 0,
    n_pcs: int = 50,
    deepsem_kwargs: dict | None = None,
    scvi_kwargs: dict | None = None,
) -> tuple[np.ndarray, dict]:
    """One representation of the cells of a prepared set (see :func:`prepare_clustering`).

    ``"pca"``: :func:`scanpy.pp.pca` of ``X`` (``n_pcs`` components). ``"deepsem"``:
    ``adata.obsm["X_deepsem"]`` of :func:`scgrn.tl.deepsem` with ``preset="embedding"``
    (``deepsem_kwargs`` override it). ``"scvi"``: scVI's latent mean (``scvi-tools``
    needed; counts from ``layers["counts"]``, else rounded ``expm1(X)``).

    Returns the cells x dims matrix and the parameters used.

    Examples
    --------
    >>> import scgrn
    >>> adata = scgrn.datasets.clustering("pbmc68k_reduced")
    >>> x, params = scgrn.bench.embed_cells(adata, "pca", n_pcs=20)
    >>> x.shape
    (700, 20)
    """
    import scanpy as sc

    n_pcs = check_int("n_pcs", n_pcs, min=1)
    if method == "pca":
        n_comps = min(n_pcs, adata.n_obs - 1, adata.n_vars - 1)
        x = sc.pp.pca(np.asarray(adata.X, dtype=np.float32), n_comps=n_comps, random_state=seed)
        return np.asarray(x, dtype=np.float32), {"n_comps": int(n_comps)}
    if method == "deepsem":
        from .. import tl

        kw = {"preset": "embedding", **(deepsem_kwargs or {})}
        out = tl.deepsem(adata, random_state=seed, show_progress_bar=False, copy=True, key_added="deepsem", **kw)
        return np.asarray(out.obsm["X_deepsem"], dtype=np.float32), dict(out.uns["deepsem"]["params"])
    if method == "scvi":
        if not _scvi_available():
            raise ImportError(
                "The scVI arm needs scvi-tools, which is not installed: "
                "`pip install scvi-tools` (an optional extra; scgrn itself does not depend on it)."
            )
        import scvi

        kw = {**DEFAULT_SCVI_KWARGS, **(scvi_kwargs or {})}
        max_epochs = kw.pop("max_epochs")
        if max_epochs is None:
            max_epochs = int(np.clip(round(30_000 / adata.n_obs), 20, 150))
        counts, kind = _counts_for_scvi(adata)
        data = AnnData(X=counts, obs=pd.DataFrame(index=adata.obs_names.copy()))
        import torch

        threads = torch.get_num_threads()  # Lightning may change torch's thread count: restore it
        scvi.settings.seed = int(seed)
        scvi.model.SCVI.setup_anndata(data)
        model = scvi.model.SCVI(data, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.train(max_epochs=max_epochs, accelerator="cpu", enable_progress_bar=False)
        x = model.get_latent_representation()
        torch.set_num_threads(threads)
        return np.asarray(x, dtype=np.float32), {**kw, "max_epochs": max_epochs, "input": kind}
    raise ValueError(f"Unknown method {method!r}; choose from {METHODS}.")


def _check_finite_rows(x: np.ndarray, obs_names) -> None:
    """Refuse NaN or infinite values in the representation ``x``, naming the count and the cells."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    cells = np.flatnonzero(bad.any(axis=1))
    shown = ", ".join(f"{obs_names[i]!r} (row {i})" for i in cells[:3]) + (", ..." if len(cells) > 3 else "")
    raise ValueError(
        f"x has {int(bad.sum())} NaN or infinite value(s), in {len(cells)} cell(s): {shown}. The embedding "
        "failed for them (or overflowed float32); rerun it, or drop those cells from both: "
        "`keep = np.isfinite(x).all(axis=1); adata, x = adata[keep].copy(), x[keep]`."
    )


def score_embedding(
    adata: AnnData,
    x: np.ndarray,
    *,
    labels_key: str = "label",
    n_pcs: int = 50,
    n_neighbors: int = 30,
    seed: int = 0,
) -> dict:
    """Cluster a representation as the protocol does and score it against the labels.

    PCA to ``n_pcs`` components if ``x`` is wider, a ``n_neighbors`` graph, Leiden matched
    to the number of labels, then ARI / NMI / AMI.

    Parameters
    ----------
    adata
        The cells, with their labels in ``obs[labels_key]``.
    x
        Cells x dimensions representation of these cells, in ``adata``'s order: finite numbers
        (a NaN or infinite value, e.g. from an embedding that failed, raises a ``ValueError``
        naming ``x``, the count and the cells).
    labels_key
        Column of ``adata.obs`` with the true labels.
    n_pcs, n_neighbors
        Components kept when ``x`` is wider; neighbours of the graph.
    seed
        Seed of PCA and Leiden.

    Returns
    -------
    ``ARI``, ``NMI``, ``AMI``, ``n_clusters`` (:func:`scgrn.metrics.cluster_scores`), the Leiden
    ``resolution`` and the ``dims`` clustered.

    Examples
    --------
    >>> import scgrn
    >>> adata = scgrn.datasets.clustering("pbmc68k_reduced")
    >>> x, _ = scgrn.bench.embed_cells(adata, "pca")
    >>> s = scgrn.bench.score_embedding(adata, x)  # doctest: +SKIP
    >>> s["n_clusters"], round(s["ARI"], 2)  # doctest: +SKIP
    (10, 0.5)
    """
    from sklearn.decomposition import PCA

    from ..metrics import cluster_scores
    from ..tl import leiden_matched

    with np.errstate(over="ignore"):  # values beyond float32 become inf: refused below, by name
        x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] != adata.n_obs:
        raise ValueError(
            f"x must be a cells x dimensions representation with one row per cell of adata ({adata.n_obs} "
            f"cells), got shape {x.shape}. Pass the embedding of these cells in adata's order."
        )
    _check_finite_rows(x, adata.obs_names)
    if labels_key not in adata.obs:
        raise KeyError(f"labels_key={labels_key!r} is not a column of adata.obs (columns: {list(adata.obs.columns)}).")
    n_pcs = check_int("n_pcs", n_pcs, min=1)
    if x.shape[1] > n_pcs:
        x = PCA(n_components=n_pcs, random_state=seed).fit_transform(x).astype(np.float32)
    b = AnnData(X=np.zeros((adata.n_obs, 1), dtype=np.float32), obs=adata.obs[[labels_key]].copy())
    b.obsm["X_rep"] = x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a missed target count shows in n_clusters
        leiden_matched(b, groupby=labels_key, use_rep="X_rep", n_neighbors=n_neighbors, random_state=seed,
                       key_added="cluster")
    scores = cluster_scores(b, labels_key=labels_key, cluster_key="cluster")
    return {**scores, "resolution": b.uns["cluster"]["resolution"], "dims": int(x.shape[1])}


def clustering(
    datasets: Sequence[str] | None = None,
    *,
    methods: Sequence[str] = METHODS,
    seeds: Sequence[int] = (0, 1, 2),
    data_dir=None,
    n_top_genes: int = 1000,
    n_pcs: int = 50,
    n_neighbors: int = 30,
    deepsem_kwargs: dict | None = None,
    scvi_kwargs: dict | None = None,
    return_embeddings: bool = False,
    show_progress_bar: bool | None = None,
) -> pd.DataFrame | tuple[pd.DataFrame, dict]:
    """Run the clustering benchmark: ARI / NMI of each representation on labelled sets.

    For each set (:func:`scgrn.datasets.clustering`), method and seed: prepare the top
    ``n_top_genes`` variable genes (:func:`prepare_clustering`), embed the cells
    (:func:`embed_cells`), then cluster and score (:func:`score_embedding`). ``"scvi"`` is
    skipped with a warning, and a ``status`` saying why, when scvi-tools is not installed.

    Parameters
    ----------
    datasets
        Names for :func:`scgrn.datasets.clustering`; ``None``: every ``.h5ad`` of the
        ``clustering/`` folder plus ``"pbmc68k_reduced"``.
    methods
        Among ``"deepsem"``, ``"pca"``, ``"scvi"``.
    seeds
        One run per seed (model initialisation, PCA solver, Leiden).
    data_dir
        Benchmark data folder (``None``: ``$SCGRN_DATA_DIR``).
    n_top_genes, n_pcs, n_neighbors
        The protocol's 1000 genes, 50 components and 30 neighbours.
    deepsem_kwargs, scvi_kwargs
        Overrides of the DeepSEM ``"embedding"`` preset and of the scVI settings
        (``n_latent=10``, epochs scaled to about 850 steps, see ``DEFAULT_SCVI_KWARGS``).
    return_embeddings
        Also return ``{(dataset, method): AnnData}`` holding the first seed's
        representation in ``obsm["X_" + method]`` and the labels in ``obs["label"]``.
    show_progress_bar
        Progress bar over runs.

    Returns
    -------
    A table, one row per dataset x method x seed: ``ARI``, ``NMI``, ``AMI``, ``n_clusters``
    (found), ``resolution``, ``dims`` (after PCA), ``seconds`` (computing the representation),
    ``seconds_total`` (with clustering), ``status`` (``"ok"`` or why not), ``params`` (JSON).
    With ``return_embeddings=True``, the pair (table, embeddings).

    Examples
    --------
    >>> import scgrn
    >>> table = scgrn.bench.clustering(["pbmc68k_reduced"], methods=["pca"], seeds=[0],
    ...                                show_progress_bar=False)  # doctest: +SKIP
    >>> table[["dataset", "method", "n_clusters"]].values.tolist()  # doctest: +SKIP
    [['pbmc68k_reduced', 'pca', 10]]
    """
    from ..datasets import clustering as load, list_clustering

    methods = list(methods)
    return_embeddings = check_bool("return_embeddings", return_embeddings)
    show = resolve_progress_bar(show_progress_bar)
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"Unknown method(s) {sorted(unknown)}; choose from {METHODS}.")
    if datasets is None:
        datasets = list_clustering(data_dir)
    skip_scvi = "scvi" in methods and not _scvi_available()
    if skip_scvi:
        warnings.warn(
            "scvi-tools is not installed: the scVI arm is skipped (`pip install scvi-tools`).",
            UserWarning,
            stacklevel=2,
        )
    start = logg.info(f"clustering benchmark: {len(datasets)} sets x {methods} x {len(seeds)} seeds")
    rows, embeddings = [], {}
    bar = tqdm(total=len(datasets) * len(methods) * len(seeds), disable=not show,
               desc="clustering", unit="run")
    for name in datasets:
        adata = prepare_clustering(load(name, data_dir), n_top_genes=n_top_genes)
        base = {"dataset": name, "cells": adata.n_obs, "genes": adata.n_vars,
                "n_labels": int(adata.obs["label"].nunique())}
        for method in methods:
            for i, seed in enumerate(seeds):
                bar.set_postfix_str(f"{name} {method} {seed}")
                row = {**base, "method": method, "seed": int(seed)}
                if method == "scvi" and skip_scvi:
                    rows.append({**row, "status": "skipped: scvi-tools not installed"})
                    bar.update()
                    continue
                t0 = time.perf_counter()
                x, params = embed_cells(adata, method, seed=seed, n_pcs=n_pcs, deepsem_kwargs=deepsem_kwargs,
                                        scvi_kwargs=scvi_kwargs)
                t1 = time.perf_counter()
                scores = score_embedding(adata, x, n_pcs=n_pcs, n_neighbors=n_neighbors, seed=seed)
                t2 = time.perf_counter()
                rows.append({**row, **{k: scores[k] for k in ("ARI", "NMI", "AMI", "n_clusters", "resolution", "dims")},
                             "seconds": t1 - t0, "seconds_total": t2 - t0, "status": "ok",
                             "params": json.dumps(params, default=str, sort_keys=True)})
                logg.info(f"    {name} {method} seed {seed}: ARI {scores['ARI']:.3f}, NMI {scores['NMI']:.3f}, "
                          f"{t1 - t0:.1f} s")
                if return_embeddings and i == 0:
                    e = AnnData(X=np.zeros((adata.n_obs, 0), dtype=np.float32), obs=adata.obs[["label"]].copy())
                    e.obsm[f"X_{method}"] = x
                    embeddings[(name, method)] = e
                bar.update()
    bar.close()
    table = pd.DataFrame(rows).reindex(columns=_COLUMNS)
    logg.info("    finished", time=start)
    return (table, embeddings) if return_embeddings else table


def summarise_clustering(table: pd.DataFrame, *, metrics: Sequence[str] = ("ARI", "NMI", "seconds")) -> pd.DataFrame:
    """Mean and standard deviation over seeds, one row per dataset x method.

    Columns ``<metric>_mean``, ``<metric>_sd`` and ``n_seeds``; failed or skipped runs are
    left out.

    Examples
    --------
    >>> import pandas as pd, scgrn
    >>> t = pd.DataFrame({"dataset": ["d", "d"], "method": ["pca", "pca"], "seed": [0, 1],
    ...                   "ARI": [0.5, 0.7], "NMI": [0.6, 0.6], "seconds": [1.0, 1.0], "status": "ok"})
    >>> scgrn.bench.summarise_clustering(t)["ARI_mean"].round(2).tolist()
    [0.6]
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a DataFrame (what scgrn.bench.clustering returns), got {type(table).__name__}.")
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    missing = [c for c in ("dataset", "method", "status", *metrics) if c not in table.columns]
    if missing:
        raise ValueError(
            f"table has no column(s) {missing}; it needs 'dataset', 'method', 'status' ('ok' for the runs to "
            f"summarise) and the metrics {metrics} (columns here: {list(table.columns)}). Pass the table "
            "scgrn.bench.clustering returns, or metrics= the columns to average."
        )
    ok = table[table["status"] == "ok"]
    grouped = ok.groupby(["dataset", "method"], sort=False)
    out = grouped[list(metrics)].agg(["mean", "std"])
    out.columns = [f"{m}_{'sd' if s == 'std' else s}" for m, s in out.columns]
    out["n_seeds"] = grouped.size()
    return out.reset_index()
