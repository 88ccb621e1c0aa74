"""The edges that differ most between two groups' networks, as a dot plot."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import _keys
from .._params import check_int
from ..get._groups import edge_differences as _edge_differences
from ..get._groups import two_groups
from ._grn import _show_or_return, check_plot_args

__all__ = ["edge_differences"]

GROUP_A_COLOR = "#d95f02"
GROUP_B_COLOR = "#1b9e77"


def edge_differences(
    adata: AnnData,
    *,
    key: str = _keys.DEEPSEM,
    groups: tuple[str, str],
    top_k: int = 20,
    normalize: str | None = "max",
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
) -> Figure | Axes | None:
    """Plot the edges whose weight differs most between two groups' networks.

    One row per edge (``regulator → target``), strongest difference on top: a dot for each
    group's weight, joined by a line whose length is the difference. Reads the table of
    :func:`scgrn.get.edge_differences`.

    Parameters
    ----------
    adata
        Annotated data matrix holding the per-group GRNs of a ``groupby=`` run.
    key
        The ``key_added`` of the ``groupby=`` run.
    groups
        The two groups ``(a, b)`` to compare: a tuple, list, numpy array, pandas Index, Series or
        Categorical of two names (as :func:`scgrn.get.edge_differences`).
    top_k
        Number of edges to show (an integer >= 1).
    normalize
        ``"max"``: each network divided by its largest ``|weight|``; ``None``: raw weights.
    ax
        Axes to draw into; a new figure is created if ``None``.
    show
        Show the plot; ``None`` uses ``scanpy.settings.autoshow``.
    return_fig
        Return the :class:`~matplotlib.figure.Figure` instead of the Axes.

    Returns
    -------
    The Figure if ``return_fig``; otherwise the Axes if ``show`` is false, else ``None``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> import scgrn
    >>> adata, _ = scgrn.datasets.krumsiek11()
    >>> scgrn.tl.correlation(adata, groupby="cell_type")
    >>> ax = scgrn.pl.edge_differences(adata, key="pearson", groups=("Ery", "Mk"), top_k=8, show=False)
    >>> len(ax.get_yticklabels())
    8
    """
    top_k = check_int("top_k", top_k, min=1)  # top_k=0 would read as "no edge differs"
    check_plot_args(ax, show, return_fig)
    groups = two_groups(groups)  # an array or a Series read by position, as in get.edge_differences
    table = _edge_differences(adata, key=key, groups=groups, top_k=top_k, normalize=normalize)
    if table.empty:
        raise ValueError(f"No edge differs between groups {groups[0]!r} and {groups[1]!r} of {key!r}.")
    table = table.iloc[::-1]  # the strongest difference on top
    y = np.arange(len(table))
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 1.2 + 0.3 * len(table)), layout="constrained")
    else:
        fig = ax.figure
    ax.hlines(y, table["weight_a"], table["weight_b"], color="#999999", lw=1.5, zorder=1)
    ax.scatter(table["weight_a"], y, color=GROUP_A_COLOR, label=str(groups[0]), zorder=2)
    ax.scatter(table["weight_b"], y, color=GROUP_B_COLOR, label=str(groups[1]), zorder=2)
    ax.axvline(0, color="#cccccc", lw=0.8, zorder=0)
    ax.set_yticks(y, [f"{s} → {t}" for s, t in zip(table["source"], table["target"])])
    ax.set_xlabel("weight / max |weight|" if normalize == "max" else "weight")
    ax.set_title(f"{key}: {groups[0]} vs {groups[1]}, top {len(table)} differences")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize="small")
    return _show_or_return(fig, ax, show=show, return_fig=return_fig)
