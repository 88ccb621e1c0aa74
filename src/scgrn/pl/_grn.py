"""Network drawing of the strongest edges of an inferred GRN."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import _keys
from .._compat import old_positionals
from .._grn_matrix import grn_matrix, nonfinite_counts
from .._params import (
    ParameterTypeError,
    check_bool,
    check_float,
    check_int,
    check_random_state,
)
from ..get._edges import _edges
from ..get._group_index import resolve_group

__all__ = ["grn"]

# Colours: sign of the edge (red activation / blue repression, the usual convention)
# and node role (warm fill for regulators, neutral grey for pure targets).
ACTIVATION_COLOR = "#d62728"
REPRESSION_COLOR = "#1f77b4"
REGULATOR_COLOR = "#fdb863"
TARGET_COLOR = "#d9d9d9"
REGULATOR_SHAPE = "s"
TARGET_SHAPE = "o"
_WIDTH_RANGE = (0.8, 4.0)
_LAYOUTS = ("spring", "kamada_kawai", "circular", "shell")


@old_positionals("key")
def grn(
    adata: AnnData,
    *,
    key: str = _keys.DEEPSEM,
    top_k: int = 30,
    genes: Iterable[str] | None = None,
    layout: str | Mapping | Callable = "spring",
    node_size: float = 900,
    font_size: float = 8,
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
    random_state: int | np.random.RandomState | None = 0,
    group: str | None = None,
) -> Figure | Axes | None:
    """Draw the ``top_k`` strongest edges of a GRN as a directed network.

    Edges come from :func:`scgrn.get.edges` (so a recorded TF list restricts the
    sources). Regulators (nodes with out-edges) are drawn as orange squares,
    pure targets as grey circles; edge colour gives the sign (red activation,
    blue repression), edge width is proportional to ``|weight|`` and arrows
    point from regulator to target.

    Parameters
    ----------
    adata
        Annotated data matrix holding a GRN in ``adata.varp[key]``
        (row = regulator, column = target): a dense array or a scipy sparse
        matrix (an entry that is not stored is no edge). Only the ``top_k``
        edges are read, through :func:`scgrn.get.edges`, so a sparse GRN is
        never densified.
    key
        Key of the GRN in ``adata.varp`` / ``adata.uns``.
    top_k
        Number of strongest edges (by ``|weight|``) to draw.
    genes
        Only consider edges whose source and target are both in ``genes``
        (the ``top_k`` strongest of those are drawn).
    layout
        ``"spring"``, ``"kamada_kawai"``, ``"circular"``, ``"shell"``
        (regulators inside, targets outside), a precomputed mapping
        ``{gene: (x, y)}``, or a callable ``layout(graph) -> mapping`` (such as the networkx
        layouts) that returns the same kind of mapping for the :class:`networkx.DiGraph` of the
        drawn edges. A position missing for a drawn gene, one that is not two finite numbers,
        or a callable that returns something other than a mapping raise naming ``layout``.
    node_size
        Marker area of the nodes in points² (a finite number > 0).
    font_size
        Font size of the node labels (a finite number > 0).
    ax
        Axes to draw into; a new figure is created if ``None``.
    show
        Show the plot; ``None`` uses ``scanpy.settings.autoshow``.
    return_fig
        Return the :class:`~matplotlib.figure.Figure` instead of the Axes.
    random_state
        Seed of the spring layout, for a reproducible drawing.
    group
        For a tool run with ``groupby=`` under ``key``: the group whose network to draw.

    Returns
    -------
    The Figure if ``return_fig``; otherwise the Axes if ``show`` is false, else ``None``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, pandas as pd, anndata as ad
    >>> import scgrn
    >>> genes = ["Gata1", "Fli1", "Klf1", "Pu.1"]
    >>> adata = ad.AnnData(np.zeros((3, 4), dtype=np.float32), var=pd.DataFrame(index=genes))
    >>> W = np.zeros((4, 4), dtype=np.float32)
    >>> W[0, 2], W[0, 1], W[3, 0] = 0.9, -0.6, -0.4
    >>> adata.varp["deepsem"] = W
    >>> fig = scgrn.pl.grn(adata, return_fig=True)
    >>> type(fig).__name__
    'Figure'
    """
    top_k = check_int("top_k", top_k, min=1)
    node_size = check_float("node_size", node_size, min=0, min_open=True)
    font_size = check_float("font_size", font_size, min=0, min_open=True)
    check_plot_args(ax, show, return_fig)
    random_state = check_random_state(random_state)
    title = key if group is None else f"{key} ({group})"
    key = key if group is None else resolve_group(adata, key, group)
    df = _edges(adata, key, top_k=top_k, genes=genes)
    if df.empty:
        raise ValueError(_no_edges_message(adata, key, genes))

    G = nx.DiGraph()
    # Add nodes in a fixed order (strongest edge first) so the layout is deterministic.
    for s, t, w in df.itertuples(index=False):
        G.add_edge(s, t, weight=float(w))
    regulators = [n for n in G if G.out_degree(n) > 0]
    targets = [n for n in G if G.out_degree(n) == 0]
    pos = _layout(G, layout, regulators, targets, random_state)

    if ax is None:
        n = G.number_of_nodes()
        side = float(np.clip(3.0 + 0.7 * np.sqrt(n), 4.5, 10.0))
        fig, ax = plt.subplots(figsize=(side + 1.8, side), layout="constrained")
    else:
        fig = ax.figure
    if not isinstance(layout, Mapping):  # never move positions the user gave
        pos = _spread(pos, node_size, ax)

    absw = np.abs(df["weight"].to_numpy(dtype=float))
    lo, hi = _WIDTH_RANGE
    span = absw.max() - absw.min()
    widths = lo + (hi - lo) * (absw - absw.min()) / span if span > 0 else np.full(absw.size, (lo + hi) / 2)
    colors = np.where(df["weight"].to_numpy() > 0, ACTIVATION_COLOR, REPRESSION_COLOR)
    edgelist = list(zip(df["source"], df["target"]))
    # Curve edges slightly so that reciprocal pairs (A -> B, B -> A) stay visible.
    connectionstyle = "arc3,rad=0.12"

    for nodes, shape, color in (
        (regulators, REGULATOR_SHAPE, REGULATOR_COLOR),
        (targets, TARGET_SHAPE, TARGET_COLOR),
    ):
        if nodes:
            nx.draw_networkx_nodes(
                G, pos, nodelist=nodes, node_shape=shape, node_color=color,
                node_size=node_size, edgecolors="#4d4d4d", linewidths=0.8, ax=ax,
            )  # fmt: skip
    for nodes, shape in ((regulators, REGULATOR_SHAPE), (targets, TARGET_SHAPE)):
        # Draw per target shape so arrow heads stop at the right node border.
        node_set = set(nodes)
        sel = [i for i, (_, t) in enumerate(edgelist) if t in node_set]
        if not sel:
            continue
        nx.draw_networkx_edges(
            G, pos, edgelist=[edgelist[i] for i in sel], width=widths[sel].tolist(),
            edge_color=colors[sel].tolist(), arrows=True, arrowstyle="-|>", arrowsize=12,
            node_size=node_size, node_shape=shape, connectionstyle=connectionstyle,
            alpha=0.85, ax=ax,
        )  # fmt: skip
    nx.draw_networkx_labels(G, pos, font_size=font_size, ax=ax)

    handles = []
    if regulators:
        handles.append(_marker_handle(REGULATOR_SHAPE, REGULATOR_COLOR, f"regulator ({len(regulators)})"))
    if targets:
        handles.append(_marker_handle(TARGET_SHAPE, TARGET_COLOR, f"target ({len(targets)})"))
    if (df["weight"] > 0).any():
        handles.append(Line2D([], [], color=ACTIVATION_COLOR, lw=2, label="activation (+)"))
    if (df["weight"] < 0).any():
        handles.append(Line2D([], [], color=REPRESSION_COLOR, lw=2, label="repression (−)"))
    handles.append(
        Line2D([], [], color="none", label=f"width ∝ |weight|\n|w| {absw.min():.2g}–{absw.max():.2g}")
    )
    # Outside the axes so that it never hides nodes.
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
        fontsize="small", handlelength=1.6, borderaxespad=0.2,
    )  # fmt: skip
    ax.set_title(f"{title}: top {len(df)} edges" + (" (selected genes)" if genes is not None else ""))
    ax.set_axis_off()
    ax.margins(0.12)
    return _show_or_return(fig, ax, show=show, return_fig=return_fig)


def _no_edges_message(adata: AnnData, key: str, genes) -> str:
    """Why nothing can be drawn: NaN or infinite weights (a diverged run) or no non-zero weight."""
    n_nan, n_inf = nonfinite_counts(grn_matrix(adata.varp[key]))
    where = " among `genes`" if genes is not None else ""
    if n_nan or n_inf:
        found = " and ".join(f"{n} {kind} weight(s)" for n, kind in ((n_nan, "NaN"), (n_inf, "infinite")) if n)
        return (
            f"No edges to draw: adata.varp[{key!r}] has {found} and no finite non-zero "
            f"off-diagonal weight{where}. Such weights mean the run that wrote it failed (e.g. training "
            "diverged); rerun the tool (for DeepSEM, with smaller learning rates)."
        )
    return f"No edges to draw: adata.varp[{key!r}] has no non-zero off-diagonal weight{where}."


def _positions(pos, G, what: str = "`layout`") -> dict:
    """``{gene: array([x, y])}`` for every node of ``G`` from a mapping of positions, checked: a
    position for every node, each two finite numbers; ``what`` names the mapping in the messages."""
    missing = [n for n in G if n not in pos]
    if missing:
        raise ValueError(f"{what} has no position for {missing[:5]}.")
    out = {}
    for n in G:
        try:
            xy = np.asarray(pos[n], dtype=float)
        except (TypeError, ValueError):
            xy = None
        if xy is None or xy.shape != (2,) or not np.isfinite(xy).all():
            raise ValueError(
                f"{what} gives {n!r} the position {pos[n]!r}; a position is two finite numbers (x, y)."
            )
        out[n] = xy
    return out


def _layout(G, layout, regulators, targets, random_state):
    if isinstance(layout, Mapping):
        return _positions(layout, G)
    if callable(layout):
        pos = layout(G)
        if not isinstance(pos, Mapping):
            kind = type(pos).__name__ + (f" of length {len(pos)}" if hasattr(pos, "__len__") else "")
            raise ParameterTypeError(
                f"layout(graph) returned a {kind}; it must return a mapping {{gene: (x, y)}} with a position "
                "for every node of the graph, as networkx layouts do (e.g. layout=nx.kamada_kawai_layout). "
                "For positions in node order, return `dict(zip(graph.nodes, positions))`."
            )
        return _positions(pos, G, "The mapping layout(graph) returned")
    if layout == "spring":
        k = 2.0 / np.sqrt(max(G.number_of_nodes(), 1))
        return nx.spring_layout(G, k=k, weight=None, iterations=200, seed=random_state)
    if layout == "kamada_kawai":
        return nx.kamada_kawai_layout(G, weight=None)
    if layout == "circular":
        return nx.circular_layout(G)
    if layout == "shell":
        shells = [s for s in (regulators, targets) if s]
        return nx.shell_layout(G, nlist=shells)
    raise ValueError(f"Unknown layout {layout!r}; choose one of {_LAYOUTS}, a mapping or a callable.")


def _spread(pos, node_size, ax, iterations=100):
    """Push apart nodes that would overlap on screen (layouts work in unit space)."""
    names = list(pos)
    P = np.array([pos[n] for n in names], dtype=float)
    if len(names) < 2:
        return pos
    fig = ax.figure
    bbox = ax.get_position()
    axes_in = min(bbox.width * fig.get_figwidth(), bbox.height * fig.get_figheight())
    span = max(np.ptp(P, axis=0).max(), 1e-9)
    diameter_in = np.sqrt(node_size) / 72.0
    # Axes show the span plus margins on both sides; keep ~2.2 diameters centre to centre.
    min_dist = 2.2 * diameter_in * span * (1 + 2 * 0.12) / max(axes_in, 1e-3)
    rng = np.random.default_rng(0)
    for _ in range(iterations):
        delta = P[:, None, :] - P[None, :, :]
        dist = np.linalg.norm(delta, axis=-1)
        np.fill_diagonal(dist, np.inf)
        close = dist < min_dist
        if not close.any():
            break
        same = dist < 1e-12
        if same.any():  # coincident nodes: separate along a fixed random direction
            i, j = np.nonzero(np.triu(same))
            P[j] += rng.normal(scale=min_dist * 1e-2, size=(j.size, 2))
            continue
        push = np.zeros_like(dist)
        push[close] = (min_dist - dist[close]) / (2 * dist[close])
        P += 0.5 * (delta * push[..., None]).sum(axis=1)
    return {n: P[k] for k, n in enumerate(names)}


def _marker_handle(shape, color, label):
    return Line2D(
        [], [], marker=shape, linestyle="none", markersize=10, markerfacecolor=color,
        markeredgecolor="#4d4d4d", label=label,
    )  # fmt: skip


def check_plot_args(ax, show, return_fig, *, several_axes: bool = False) -> None:
    """scanpy's plotting arguments, checked before anything is drawn: ``ax`` an Axes (or, with
    ``several_axes``, a sequence of them) or ``None``, ``show`` a bool or ``None``, ``return_fig``
    a bool. Raises :class:`~scgrn._params.ParameterTypeError` naming the argument.

    Examples
    --------
    >>> check_plot_args(None, None, False)
    >>> check_plot_args("left", None, False)
    Traceback (most recent call last):
    ...
    scgrn._params.ParameterTypeError: ax must be a matplotlib Axes or None, got 'left' (str). Fix: ax=None (a new figure), or `fig, ax = plt.subplots()` and ax=ax.
    """
    if ax is not None and not isinstance(ax, Axes):
        many = (
            several_axes
            and isinstance(ax, (Sequence, np.ndarray))
            and not isinstance(ax, str)
            and len(ax) > 0
            and all(isinstance(a, Axes) for a in np.ravel(np.asarray(ax, dtype=object)))
        )
        if not many:
            want = "a matplotlib Axes, a sequence of Axes or None" if several_axes else "a matplotlib Axes or None"
            raise ParameterTypeError(
                f"ax must be {want}, got {ax!r} ({type(ax).__name__}). Fix: ax=None (a new figure), or "
                "`fig, ax = plt.subplots()` and ax=ax."
            )
    check_bool("show", show, allow_none=True)
    check_bool("return_fig", return_fig)


def _show_or_return(fig, axes, *, show, return_fig):
    """scanpy's plotting convention for the return value and ``show``."""
    if return_fig:
        return fig
    from scanpy import settings as sc_settings

    show = sc_settings.autoshow if show is None else show
    if show:
        plt.show()
        return None
    return axes
