"""Plots of an in-silico perturbation (:func:`scgrn.tl.perturb`): the genes that move most,
and each cell's predicted shift drawn on an embedding (CellOracle / scVelo style)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._params import check_bool, check_choice, check_float, check_int
from .._validate import check_uns_record, embedding_matrix
from ._grn import _show_or_return, check_plot_args

__all__ = ["perturbation"]

KINDS = ("auto", "both", "bar", "arrows")
#: floats in the largest temporary of the shift projection (cells x neighbours x genes)
_CHUNK_FLOATS = 1 << 23


def embedding_shift(
    embedding: np.ndarray, expression: np.ndarray, delta: np.ndarray, *, n_neighbors: int = 30, sigma: float = 0.05
) -> np.ndarray:
    """Project each cell's predicted expression shift onto a 2-D embedding (CellOracle's and
    scVelo's transition-probability projection).

    For cell ``i`` and each of its ``n_neighbors`` nearest cells ``j`` in the embedding:
    ``r_ij`` = Pearson correlation (over genes) between ``delta_i`` and ``x_j - x_i``;
    ``p_ij = softmax_j(r_ij / sigma)``; ``u_ij`` = the unit vector from ``i`` to ``j`` in the
    embedding; the arrow is ``sum_j p_ij u_ij - mean_j u_ij`` (the shift towards the
    neighbours whose expression differs in the predicted direction, minus the pull of an
    uninformative, uniform choice). A cell with no predicted shift gets no arrow.

    Examples
    --------
    >>> emb = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    >>> x = np.array([[0.0, 0.0], [1.0, -1.0], [-1.0, 1.0]])  # cell 1 has more of gene 0
    >>> v = embedding_shift(emb, x, np.array([[1.0, -1.0]] * 3), n_neighbors=2)
    >>> bool(v[0, 0] > 0.4), float(abs(v[0, 1]))  # cell 0 moves towards cell 1
    (True, 0.0)
    """
    emb = np.asarray(embedding, dtype=np.float64)[:, :2]
    x = np.asarray(expression, dtype=np.float32)
    d = np.asarray(delta, dtype=np.float32)
    n, g = x.shape
    k = int(min(n_neighbors, n - 1))
    if k < 1:
        return np.zeros((n, 2))
    from sklearn.neighbors import NearestNeighbors

    _, nbr = NearestNeighbors(n_neighbors=k + 1).fit(emb).kneighbors(emb)
    # drop each cell itself (not always in column 0 when cells coincide)
    own = nbr == np.arange(n)[:, None]
    drop = np.where(own.any(1), own.argmax(1), k)
    nbr = _drop_columns(nbr, drop)
    dc = d - d.mean(1, keepdims=True)
    dn = np.linalg.norm(dc, axis=1)
    out = np.zeros((n, 2))
    step = max(1, _CHUNK_FLOATS // max(k * g, 1))
    for s in range(0, n, step):
        rows = np.arange(s, min(s + step, n))
        diff = x[nbr[rows]] - x[rows, None, :]  # (c, k, G)
        diff -= diff.mean(2, keepdims=True)
        num = np.einsum("ckg,cg->ck", diff, dc[rows])
        den = np.linalg.norm(diff, axis=2) * dn[rows, None]
        corr = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        logits = corr / sigma
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        u = emb[nbr[rows]] - emb[rows, None, :]  # (c, k, 2)
        length = np.linalg.norm(u, axis=2, keepdims=True)
        u = np.divide(u, length, out=np.zeros_like(u), where=length > 0)
        arrow = (p[..., None] * u).sum(1) - u.mean(1)
        arrow[dn[rows] == 0] = 0.0
        out[rows] = arrow
    return out


def _drop_columns(nbr: np.ndarray, drop: np.ndarray) -> np.ndarray:
    keep = np.ones(nbr.shape, dtype=bool)
    keep[np.arange(len(nbr)), drop] = False
    return nbr[keep].reshape(len(nbr), -1)


def _grid_average(emb: np.ndarray, arrows: np.ndarray, n: int, min_cells: int = 3):
    """Arrows averaged over the cells of each square of an ``n x n`` grid (drawn at their mean position)."""
    lo, hi = emb.min(0), emb.max(0)
    cell = np.minimum(((emb - lo) / np.where(hi > lo, hi - lo, 1) * n).astype(int), n - 1)
    flat = cell[:, 0] * n + cell[:, 1]
    counts = np.bincount(flat, minlength=n * n)
    keep = counts >= min_cells
    mean = lambda v: np.bincount(flat, weights=v, minlength=n * n)[keep] / counts[keep]
    pos = np.column_stack([mean(emb[:, 0]), mean(emb[:, 1])])
    return pos, np.column_stack([mean(arrows[:, 0]), mean(arrows[:, 1])])


def _label(record: dict) -> str:
    pert = record.get("perturbations", {}) if isinstance(record, dict) else {}
    return ", ".join(f"{g} = {float(v):g}" for g, v in pert.items())


def _scatter(ax, adata: AnnData, emb: np.ndarray, color: str | None, size: float) -> None:
    if color is None:
        ax.scatter(emb[:, 0], emb[:, 1], s=size, c="0.8", linewidths=0)
        return
    if color not in adata.obs:
        raise ValueError(f"color={color!r} is not a column of adata.obs (columns: {list(adata.obs.columns)}).")
    values = adata.obs[color]
    if isinstance(values.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(values):
        values = values.astype("category")
        cats = list(values.cat.categories)
        stored = adata.uns.get(f"{color}_colors")
        palette = list(stored) if stored is not None and len(stored) >= len(cats) else [
            plt.get_cmap("tab20")(i % 20) for i in range(len(cats))
        ]
        for i, c in enumerate(cats):
            sel = (values == c).to_numpy()
            ax.scatter(emb[sel, 0], emb[sel, 1], s=size, color=palette[i], label=str(c), alpha=0.6, linewidths=0)
        ax.legend(fontsize=7, markerscale=2, frameon=False, loc="best")
    else:
        points = ax.scatter(emb[:, 0], emb[:, 1], s=size, c=values.to_numpy(), cmap="viridis", alpha=0.6, linewidths=0)
        ax.figure.colorbar(points, ax=ax, shrink=0.6, label=color)


def _is_record(value) -> bool:
    """A record that :func:`scgrn.tl.perturb` writes to ``uns[key_added]``."""
    return isinstance(value, Mapping) and "perturbations" in value and "genes" in value


def _record(adata: AnnData, key) -> Mapping:
    """``adata.uns[key]``, the perturbation record. A wrong ``key`` raises naming the records
    found; only the default key may be absent when there is no record at all (an AnnData made
    by hand: nothing is left out of the bars then, and there is no title)."""
    if key == "perturb" and key not in adata.uns and not any(_is_record(v) for v in adata.uns.values()):
        return {}
    return check_uns_record(
        adata, key, what="perturbation record", is_record=_is_record, producer="scgrn.tl.perturb"
    )


def _check_panel_count(n_axes: int, kind: str, asked: str, obsm_key: str) -> None:
    """Refuse ``ax`` with another number of Axes than ``kind`` draws panels, naming the fix.

    ``asked`` is the ``kind`` given (``"auto"`` becomes ``"both"`` when the embedding exists).
    """
    n_panels = 2 if kind == "both" else 1
    if n_axes == n_panels:
        return
    lead = f"kind={asked!r} draws {n_panels} panel{'s' if n_panels == 2 else ''}"
    if asked == "auto":
        lead += f" here (adata.obsm has {obsm_key!r})" if n_panels == 2 else " here (no embedding)"
    if n_panels == 2:
        raise ValueError(
            f"{lead}, the bars and the arrows, but ax has {n_axes} Axes. For one Axes pass kind='bar' or "
            "kind='arrows'; for both pass two Axes, e.g. `fig, axs = plt.subplots(1, 2)` and ax=axs."
        )
    raise ValueError(
        f"{lead}, but ax has {n_axes} Axes. Pass one Axes, or kind='both' to draw the bars and the arrows "
        f"into two (the arrows need adata.obsm[{obsm_key!r}])."
    )


def perturbation(
    adata: AnnData,
    *,
    basis: str = "umap",
    kind: str = "auto",
    n_genes: int = 20,
    include_perturbed: bool = False,
    layer: str | None = None,
    n_neighbors: int = 30,
    sigma: float = 0.05,
    grid: int | None = None,
    color: str | None = None,
    key: str = "perturb",
    size: float = 8.0,
    ax: Axes | Sequence[Axes] | None = None,
    show: bool | None = None,
    return_fig: bool = False,
) -> Figure | Axes | list[Axes] | None:
    """The predicted effect of an in-silico perturbation: the genes that move most, and each
    cell's shift on an embedding.

    - ``"bar"``: the ``n_genes`` genes with the largest ``|var['delta']|`` (mean predicted
      change in log expression), up in red, down in blue.
    - ``"arrows"``: the cells on ``obsm['X_' + basis]`` (first two dimensions, which must be
      finite) with an arrow
      per cell (or per square of a ``grid``): its predicted shift ``layers['delta']``
      projected onto the embedding as CellOracle and scVelo do. For each cell, the Pearson
      correlation of its shift with the expression differences to its ``n_neighbors``
      nearest cells in the embedding gives softmax weights (``exp(r / sigma)``); the arrow is
      the weighted mean of the unit vectors to those neighbours minus their unweighted mean.

    Parameters
    ----------
    adata
        The output of :func:`scgrn.tl.perturb` (``layers['delta']``, ``var['delta']``; for the
        arrows an embedding, copied by ``tl.perturb`` from its input's ``obsm``).
    basis
        Embedding ``obsm['X_' + basis]`` (e.g. ``"umap"``, ``"pca"``).
    kind
        ``"bar"``, ``"arrows"``, ``"both"`` (side by side) or ``"auto"`` (both when the
        embedding exists, else the bars).
    n_genes
        Genes in the bar plot.
    include_perturbed
        Include the clamped genes (``uns[key]['genes']``) in the bars and in the correlation
        of the arrows; by default they are left out, since their change is set, not predicted.
    layer
        Expression whose differences between neighbours the shifts are correlated with
        (``None``: ``layers['unperturbed']``, the model's own prediction without the
        perturbation, a denoised profile as CellOracle's imputed one).
    n_neighbors
        Neighbours per cell in the embedding.
    sigma
        Softmax temperature of the correlations (CellOracle's 0.05).
    grid
        Average the arrows over the cells of each square of a ``grid x grid`` lattice
        (squares with at least 3 cells); ``None``: one arrow per cell.
    color
        Column of ``obs`` to colour the cells by.
    key
        ``uns`` key of the perturbation record (``tl.perturb``'s ``key_added``). A key that
        holds no such record raises a ``KeyError`` naming the records there (only the default
        ``"perturb"`` may be missing, on an AnnData without any record).
    size
        Marker size (a finite number > 0).
    ax
        An Axes (``"bar"`` or ``"arrows"``) or two (``"both"``); ``None``: a new figure.
    show
        Show the figure (``None``: scanpy's ``settings.autoshow``).
    return_fig
        Return the Figure.

    Returns
    -------
    The Figure if ``return_fig``; else, if ``show`` is false, the Axes (a list of the bar and
    arrow Axes for two panels); else ``None``.

    Examples
    --------
    >>> import scanpy as sc, scgrn
    >>> adata, _ = scgrn.datasets.krumsiek11()
    >>> adata.X = adata.X.clip(0)
    >>> sc.pp.pca(adata, n_comps=2)
    >>> model = scgrn.models.DeepSEM(adata, n_models=2, n_epochs=5)
    >>> model.train(show_progress_bar=False)
    >>> out = scgrn.tl.perturb(adata, perturbations={"Gata1": 0.0}, model=model)
    >>> bars, arrows = scgrn.pl.perturbation(out, basis="pca", color="cell_type", show=False)
    """
    kind = check_choice("kind", kind, KINDS)
    check_plot_args(ax, show, return_fig, several_axes=True)
    include_perturbed = check_bool("include_perturbed", include_perturbed)
    n_genes = check_int("n_genes", n_genes, min=1)
    n_neighbors = check_int("n_neighbors", n_neighbors, min=1)
    sigma = check_float("sigma", sigma, min=0, min_open=True)
    size = check_float("size", size, min=0, min_open=True)
    if grid is not None:
        grid = check_int("grid", grid, min=1)
    if "delta" not in adata.layers or "delta" not in adata.var:
        raise ValueError(
            "adata has no layers['delta'] / var['delta']: pass the AnnData returned by "
            "scgrn.tl.perturb (the perturbed cells), not its input."
        )
    obsm_key = f"X_{basis}"
    has_embedding = obsm_key in adata.obsm
    asked = kind
    if kind == "auto":
        kind = "both" if has_embedding else "bar"
    if kind in ("both", "arrows") and not has_embedding:
        raise ValueError(
            f"adata.obsm has no {obsm_key!r} (it has {list(adata.obsm.keys())}). Compute the embedding on the "
            "cells before scgrn.tl.perturb (it copies obsm), e.g. `sc.pp.neighbors(adata); sc.tl.umap(adata)`, "
            "pass another basis=, or kind='bar'."
        )
    emb = embedding_matrix(adata, obsm_key) if kind in ("both", "arrows") else None
    record = _record(adata, key)
    clamped = [g for g in record.get("genes", []) if g in adata.var_names]
    n_panels = 2 if kind == "both" else 1
    if ax is None:
        fig, axes = plt.subplots(1, n_panels, figsize=(4.5 * n_panels + (1 if n_panels == 2 else 0), 4.5))
        axes = list(np.atleast_1d(axes))
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
        _check_panel_count(len(axes), kind, asked, obsm_key)
        fig = axes[0].figure
    title = _label(record)
    panels = {"bar": axes[0]} if kind == "bar" else {"arrows": axes[0]} if kind == "arrows" else dict(zip(("bar", "arrows"), axes))
    keep = np.ones(adata.n_vars, dtype=bool) if include_perturbed else ~adata.var_names.isin(clamped)
    if "bar" in panels:
        a = panels["bar"]
        delta = adata.var["delta"].to_numpy(dtype=np.float64)[keep]
        names = adata.var_names[keep]
        top = np.argsort(-np.abs(delta), kind="stable")[:n_genes][::-1]
        a.barh(np.arange(len(top)), delta[top], color=np.where(delta[top] > 0, "#d62728", "#1f77b4"))
        a.set_yticks(np.arange(len(top)), [str(n) for n in names[top]], fontsize=7)
        a.axvline(0, color="0.3", lw=0.8)
        a.set_xlabel("mean predicted change (log expression)")
        a.set_title(title or "perturbation", fontsize=9)
    if "arrows" in panels:
        a = panels["arrows"]
        if layer is None:
            x = adata.layers["unperturbed"] if "unperturbed" in adata.layers else np.asarray(adata.X) - adata.layers["delta"]
        else:
            if layer not in adata.layers:
                raise ValueError(f"layer={layer!r} is not in adata.layers ({list(adata.layers.keys())}).")
            x = adata.layers[layer]
        x = x.toarray() if hasattr(x, "toarray") else np.asarray(x)
        d = np.asarray(adata.layers["delta"])
        arrows = embedding_shift(emb, x[:, keep], d[:, keep], n_neighbors=n_neighbors, sigma=sigma)
        _scatter(a, adata, emb, color, size)
        pos, vec = (emb, arrows) if grid is None else _grid_average(emb, arrows, grid)
        a.quiver(pos[:, 0], pos[:, 1], vec[:, 0], vec[:, 1], angles="xy", color="0.15", width=0.003)
        a.set_xlabel(f"{basis.upper()}1")
        a.set_ylabel(f"{basis.upper()}2")
        a.set_xticks([])
        a.set_yticks([])
        a.set_title(f"predicted shift: {title}" if title else "predicted shift", fontsize=9)
    if ax is None:
        fig.tight_layout()
    out_axes = axes[0] if n_panels == 1 else axes
    return _show_or_return(fig, out_axes, show=show, return_fig=return_fig)
