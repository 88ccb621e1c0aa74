"""Plots for simulated cells: real vs simulated on one UMAP, and the GRN-consistency curve."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._params import check_float, check_int, check_random_state
from ._grn import _show_or_return, check_plot_args

__all__ = ["simulation", "grn_consistency"]


def simulation(
    real: AnnData,
    simulated: AnnData | Mapping[str, AnnData],
    *,
    color: str | None = None,
    layer: str | None = None,
    n_pcs: int = 30,
    n_neighbors: int = 15,
    random_state: int = 0,
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
    size: float = 8.0,
) -> Figure | Axes | None:
    """Real and simulated cells on one UMAP.

    Both are put on one log-normalised scale (counts are normalised to the real cells'
    median library size and log1p-transformed), embedded together (PCA on the union,
    neighbours, UMAP) and drawn with real cells in grey and simulated cells coloured by
    simulator (or by ``obs[color]`` of the simulated cells). Well-mixed clouds mean the
    simulated cells occupy the same states as the real ones.

    Parameters
    ----------
    real
        Real cells.
    simulated
        Simulated cells with the same genes, matched by ``var_names`` (any order; different
        genes raise a ``ValueError`` naming them), or ``{name: AnnData}`` for several simulators.
    color
        Column of the simulated cells' ``obs`` to colour by (e.g. the group label); every
        simulated set must have it (else a ``ValueError`` listing its columns).
    layer
        Layer of both inputs instead of ``X``.
    n_pcs, n_neighbors, random_state
        Embedding settings.
    ax, show, return_fig
        scanpy's plotting convention.
    size
        Marker size (a finite number > 0).

    Returns
    -------
    The Figure if ``return_fig``; the Axes if ``show`` is false; else ``None``.

    Examples
    --------
    >>> import scgrn
    >>> adata, _ = scgrn.datasets.krumsiek11()
    >>> adata.X = adata.X.clip(0)
    >>> sim = scgrn.tl.simulate_baseline(adata[:200], n_obs=100)
    >>> ax = scgrn.pl.simulation(adata[:200], sim, n_pcs=5, show=False)
    """
    import scanpy as sc

    from ..metrics._realism import _aligned, _comparable, simulated_sets

    check_plot_args(ax, show, return_fig)
    n_pcs = check_int("n_pcs", n_pcs, min=1)
    n_neighbors = check_int("n_neighbors", n_neighbors, min=2)
    random_state = check_random_state(random_state)
    size = check_float("size", size, min=0, min_open=True)
    sims, many = simulated_sets(simulated)
    labels = ["real"] + [f"simulated[{k!r}]" if many else "simulated" for k in sims]
    if color is not None:
        _check_color(color, sims, labels[1:])
    mats, _ = _aligned([real, *sims.values()], labels, layer)
    mats = _comparable(mats, "auto")
    labels = ["real"] * mats[0].shape[0]
    for (name, s), m in zip(sims.items(), mats[1:]):
        if color is not None:
            labels += [f"{name}: {v}" for v in s.obs[color].astype(str)]
        else:
            labels += [name] * m.shape[0]
    ad = AnnData(np.vstack(mats).astype(np.float32))
    ad.obs["kind"] = pd.Categorical(labels)
    k = int(min(n_pcs, ad.n_obs - 1, ad.n_vars - 1))
    sc.pp.pca(ad, n_comps=k, random_state=random_state)
    sc.pp.neighbors(ad, n_neighbors=min(n_neighbors, ad.n_obs - 1), n_pcs=k, random_state=random_state)
    sc.tl.umap(ad, random_state=random_state)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 4.5))
    emb = ad.obsm["X_umap"]
    is_real = ad.obs["kind"].to_numpy() == "real"
    ax.scatter(emb[is_real, 0], emb[is_real, 1], s=size, c="0.7", label="real", linewidths=0)
    cmap = plt.get_cmap("tab10")
    for i, name in enumerate(c for c in ad.obs["kind"].cat.categories if c != "real"):
        sel = ad.obs["kind"].to_numpy() == name
        ax.scatter(emb[sel, 0], emb[sel, 1], s=size, color=cmap(i % 10), label=name, alpha=0.7, linewidths=0)
    ax.set_xlabel("UMAP1")
    ax.set_ylabel("UMAP2")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, markerscale=2, frameon=False, loc="best")
    return _show_or_return(fig, ax, show=show, return_fig=return_fig)


def _check_color(color, sims: dict, labels: list[str]) -> None:
    """Refuse a ``color`` that is not a column of every simulated set's ``obs`` (before any work)."""
    for label, s in zip(labels, sims.values()):
        obs = getattr(s, "obs", None)
        if obs is None:
            raise ValueError(
                f"color={color!r} is a column of the simulated cells' obs, but {label} is an array "
                "without obs. Pass AnnData, or color=None."
            )
        if color not in obs.columns:
            raise ValueError(
                f"color={color!r} is not a column of {label}.obs (columns: {list(obs.columns)}). "
                "Pass one of them, or color=None (colour by simulator)."
            )


def grn_consistency(
    results: pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
) -> Figure | Axes | None:
    """GRN consistency against the top-edge fraction, one line per simulator.

    Parameters
    ----------
    results
        The output of :func:`scgrn.metrics.grn_consistency`, a ``{simulator: DataFrame}``
        mapping of them, or one long DataFrame with a ``simulator`` column. The random
        expectation (``random`` column) is drawn dashed.
    ax, show, return_fig
        scanpy's plotting convention.

    Returns
    -------
    The Figure if ``return_fig``; the Axes if ``show`` is false; else ``None``.

    Examples
    --------
    >>> import numpy as np, scgrn
    >>> w = np.random.default_rng(0).normal(size=(40, 40))
    >>> res = scgrn.metrics.top_edge_overlap(w, w + 0.5 * np.random.default_rng(1).normal(size=w.shape))
    >>> ax = scgrn.pl.grn_consistency({"noisy copy": res}, show=False)
    """
    check_plot_args(ax, show, return_fig)
    if isinstance(results, Mapping):
        for name, df in results.items():
            _check_consistency_table(df, f"results[{name!r}]")
        frames = dict(results)
    else:
        _check_consistency_table(results, "results")
        if "simulator" in results.columns:
            frames = {k: g for k, g in results.groupby("simulator", sort=False)}
        else:
            frames = {"simulated": results}
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 3.8))
    random_line = None
    for name, df in frames.items():
        df = df.sort_values("top")
        ax.plot(100 * df["top"], df["consistency"], marker="o", ms=3, label=str(name))
        random_line = df
    if random_line is not None and "random" in random_line:
        ax.plot(100 * random_line["top"], random_line["random"], ls="--", c="0.5", label="random")
    ax.set_xlabel("top edges (%)")
    ax.set_ylabel("GRN consistency (shared top edges)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, frameon=False)
    return _show_or_return(fig, ax, show=show, return_fig=return_fig)


def _check_consistency_table(df, what: str) -> None:
    """A table of :func:`scgrn.metrics.grn_consistency`: a DataFrame with ``top`` and ``consistency``."""
    fix = (
        "Pass the output of scgrn.metrics.grn_consistency (or metrics.top_edge_overlap), or a "
        "{simulator: table} dict of them."
    )
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} must be a DataFrame, got {type(df).__name__}. {fix}")
    missing = [c for c in ("top", "consistency") if c not in df.columns]
    if missing:
        raise ValueError(f"{what} has no column(s) {missing} (it has {list(df.columns)}). {fix}")
