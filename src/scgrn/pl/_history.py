"""Training curves recorded by scgrn models."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import _keys
from .._compat import old_positionals
from .._params import check_bool
from ..get._group_index import group_index, resolve_group
from ._grn import _show_or_return, check_plot_args

__all__ = ["training_history"]


@old_positionals("key")
def training_history(
    adata_or_history: AnnData | Mapping,
    *,
    key: str = _keys.DEEPSEM,
    group=None,
    ax: Axes | Sequence[Axes] | None = None,
    show: bool | None = None,
    return_fig: bool = False,
    log: bool = False,
) -> Figure | Axes | list[Axes] | None:
    """Plot the per-epoch training history of a model.

    Each term (``loss``, ``reconstruction``, ``kl``, ``sparsity``, ...) gets its
    own small panel, since the terms live on very different scales. For an
    ensemble, where a term is an ``epochs x members`` array, the mean is drawn
    with a min–max band.

    Parameters
    ----------
    adata_or_history
        An AnnData with ``adata.uns[key]['history']``, a history mapping
        ``{term: values}`` directly (e.g. a model's ``.history``), a
        :class:`~pandas.DataFrame` with one column per term, or an object with
        a ``.history`` attribute.
    key
        Key in ``adata.uns`` when an AnnData is given.
    group
        For a model run with ``groupby=`` under ``key`` (e.g. ``tl.deepsem(adata,
        groupby='cell_type')``): the group whose history to draw, read from
        ``adata.uns[f"{key}_{group}"]`` (as ``pl.grn(group=)``). Without it such a run raises a
        ``KeyError`` listing the groups.
    ax
        A single Axes draws every term into it with a legend; a sequence of
        Axes (one per term) draws one term per Axes. ``None`` creates a figure
        with one panel per term.
    show
        Show the plot; ``None`` uses ``scanpy.settings.autoshow``.
    return_fig
        Return the :class:`~matplotlib.figure.Figure`.
    log
        Logarithmic y axis. Terms that are not strictly positive stay linear
        (with a warning).

    Returns
    -------
    The Figure if ``return_fig``; otherwise, if ``show`` is false, the Axes
    (one panel) or a list of Axes (several panels); else ``None``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> import scgrn
    >>> history = {"loss": np.linspace(2.0, 0.5, 20), "kl": np.linspace(0.3, 0.1, 20)}
    >>> axes = scgrn.pl.training_history(history, show=False)
    >>> [a.get_title() for a in axes]
    ['loss', 'kl']
    """
    check_plot_args(ax, show, return_fig, several_axes=True)
    log = check_bool("log", log)
    terms = _curves(_get_history(adata_or_history, key, group))

    if ax is None:
        n = len(terms)
        ncols = min(n, 3)
        nrows = int(np.ceil(n / ncols))
        fig, axs = plt.subplots(
            nrows, ncols, figsize=(3.4 * ncols, 2.6 * nrows), squeeze=False,
            sharex=True, layout="constrained",
        )  # fmt: skip
        axs = axs.ravel()
        for extra in axs[n:]:
            extra.remove()
        panels = list(axs[:n])
    elif isinstance(ax, Axes):
        panels = [ax] * len(terms)
        fig = ax.figure
    else:
        panels = list(ax)
        if len(panels) != len(terms):
            raise ValueError(f"Got {len(panels)} axes for {len(terms)} history terms {list(terms)}.")
        fig = panels[0].figure
    single = isinstance(ax, Axes)

    for i, ((name, values), a) in enumerate(zip(terms.items(), panels)):
        epochs = np.arange(1, values.shape[0] + 1)
        color = f"C{i}" if single else "C0"
        if values.ndim == 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN epochs
                mean = np.nanmean(values, axis=1)
                lo, hi = np.nanmin(values, axis=1), np.nanmax(values, axis=1)
            a.fill_between(epochs, lo, hi, color=color, alpha=0.25, linewidth=0)
            label = f"{name} (mean, min–max of {values.shape[1]})"
        else:
            mean = values
            label = name
        a.plot(epochs, mean, color=color, lw=1.5, label=label)
        if log:
            finite = values[np.isfinite(values)]
            if finite.size and (finite > 0).all():
                a.set_yscale("log")
            else:
                warnings.warn(
                    f"History term {name!r} has non-positive values; its y axis stays linear.",
                    UserWarning,
                    stacklevel=2,
                )
        if not single:
            a.set_title(name if values.ndim == 1 else f"{name} (mean, min–max of {values.shape[1]})")
        a.set_xlabel("epoch")
        a.grid(alpha=0.3, lw=0.5)
    if single:
        ax.legend(fontsize="small", frameon=False)
        out = ax
    else:
        out = panels[0] if len(panels) == 1 else panels
    return _show_or_return(fig, out, show=show, return_fig=return_fig)


def _get_history(obj, key, group=None):
    if group is not None and not isinstance(obj, AnnData):
        raise ValueError(f"group={group!r} needs an AnnData (with a groupby= run under key); got {type(obj).__name__}.")
    if isinstance(obj, AnnData):
        if key not in obj.uns:
            raise KeyError(
                f"No adata.uns[{key!r}]; available uns keys: {list(obj.uns.keys()) or 'none'}. "
                "Run `scgrn.tl.deepsem(adata)` first, or pass the `key` it wrote."
            )
        index = group_index(obj, key)
        if group is not None:
            key = resolve_group(obj, key, group)
        elif index:  # a non-empty group index
            groups = list(index)
            shown = ", ".join(f"{g!r}" for g in groups[:10]) + (", ..." if len(groups) > 10 else "")
            raise KeyError(
                f"adata.uns[{key!r}] is the index of a groupby={obj.uns[key]['groupby']!r} run: each "
                f"group has its own training history, at adata.uns[{key + '_<group>'!r}]. Pass "
                f"group= one of {shown} (e.g. `group={groups[0]!r}`), or key={index[groups[0]]!r}."
            )
        meta = obj.uns[key]
        if not isinstance(meta, Mapping) or "history" not in meta:
            raise KeyError(f"adata.uns[{key!r}] has no 'history' entry (the method recorded none).")
        return meta["history"]
    if isinstance(obj, pd.DataFrame):
        return {c: obj[c].to_numpy() for c in obj.columns}
    if isinstance(obj, Mapping):
        return obj
    if hasattr(obj, "history"):
        return obj.history
    raise TypeError(
        f"Expected an AnnData, a history mapping or an object with `.history`, got {type(obj).__name__}."
    )


def _curves(history) -> dict[str, np.ndarray]:
    if isinstance(history, pd.DataFrame):
        history = {c: history[c].to_numpy() for c in history.columns}
    if not isinstance(history, Mapping):
        raise TypeError(f"History must be a mapping of term -> per-epoch values, got {type(history).__name__}.")
    out = {}
    for name, values in history.items():
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            warnings.warn(f"Skipping non-numeric history term {name!r}.", UserWarning, stacklevel=3)
            continue
        if arr.ndim == 0 or arr.ndim > 2 or arr.shape[0] == 0:
            warnings.warn(
                f"Skipping history term {name!r} with shape {arr.shape}; "
                "expected (epochs,) or (epochs, members).",
                UserWarning,
                stacklevel=3,
            )
            continue
        out[str(name)] = arr
    if not out:
        raise ValueError("The training history is empty: nothing to plot.")
    return out
