"""Plots of benchmark tables (:func:`scgrn.bench.beeline`): heatmap and box plot."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .._compat import old_positionals
from .._params import ParameterTypeError, check_choice
from ._grn import _show_or_return, check_plot_args

__all__ = ["benchmark_heatmap", "benchmark_box"]

#: the value a random ranking scores on average; ``None``: no random level
RANDOM_LEVEL = {"EPR": 1.0, "AUPRC_ratio": 1.0, "AUROC": 0.5, "EP": None, "AUPRC": None}
_WORSE_COLOR = "#d9d9d9"
_METRIC_LABEL = {"EPR": "EPR", "AUPRC_ratio": "AUPRC ratio", "AUROC": "AUROC", "EP": "EP",
                 "AUPRC": "AUPRC"}
#: how replicates and repeats of a row may be combined (pandas reductions of one number)
AGGREGATIONS = ("median", "mean", "min", "max")


def _table(results: pd.DataFrame, metric: str, convention: str | None, kinds, agg: str):
    """``groups x methods`` table of the aggregated metric (order of first appearance)."""
    if not isinstance(results, pd.DataFrame):
        raise TypeError(
            f"results must be a DataFrame such as scgrn.bench.beeline() returns, got "
            f"{type(results).__name__}."
        )
    for col in ("method", metric):
        if col not in results.columns:
            raise ValueError(
                f"results has no column {col!r} (columns: {list(results.columns)}). Pass the "
                "table from scgrn.bench.beeline(), or a DataFrame with 'method', 'dataset' and "
                "metric columns."
            )
    df = results
    if "status" in df.columns:
        df = df[df["status"] == "ok"]
    if convention is not None and "convention" in df.columns:
        if convention not in set(df["convention"]):
            raise ValueError(
                f"No rows with convention={convention!r}; available: "
                f"{sorted(set(df['convention']))}."
            )
        df = df[df["convention"] == convention]
    if kinds is not None:
        kinds = _check_kinds(kinds, results)
        df = df[df["kind"].isin(kinds)]
    if df.empty:
        raise ValueError("No rows left to plot after filtering (convention, kinds, failed runs).")
    if "group" in df.columns:
        rows = df["group"].astype(str)
    elif "dataset" in df.columns:
        rows = df["dataset"].astype(str)
        if "ground_truth" in df.columns and df["ground_truth"].nunique() > 1:
            rows = rows + " | " + df["ground_truth"].astype(str)
    else:
        raise ValueError("results needs a 'group' or 'dataset' column for the rows.")
    df = df.assign(_row=rows.to_numpy())
    _check_values(df, metric, agg)
    table = df.pivot_table(index="_row", columns="method", values=metric, aggfunc=agg, sort=False)
    table = table.reindex(index=pd.unique(df["_row"]), columns=pd.unique(df["method"]))
    table.index.name, table.columns.name = None, None
    return table


def _check_values(df: pd.DataFrame, metric: str, agg: str) -> None:
    """Refuse a metric that is NaN in every row left to plot (the plot would be empty); warn,
    naming the rows, when only some are NaN (they are left out of the ``agg``)."""
    missing = df[metric].isna().to_numpy()
    if not missing.any():
        return
    n = len(df)
    if missing.all():
        others = [m for m in RANDOM_LEVEL if m != metric and m in df.columns and df[m].notna().any()]
        fix = f"plot a metric that has values ({' or '.join(f'metric={m!r}' for m in others)})" if others else \
            "fill in the metric, or check how the table was made"
        raise ValueError(
            f"No values left to plot: results[{metric!r}] is NaN in every one of the {n} row(s) left after "
            f"filtering (convention, kinds, failed runs), so the plot would be empty. The metric is undefined "
            f"for these runs (or was never filled in); {fix}."
        )
    pairs = pd.unique(df["_row"].astype(str)[missing] + " / " + df["method"].astype(str)[missing])
    shown = ", ".join(repr(p) for p in pairs[:5]) + (f" and {len(pairs) - 5} more" if len(pairs) > 5 else "")
    warnings.warn(
        f"results[{metric!r}] is NaN in {int(missing.sum())} of the {n} row(s) left to plot (row / method: "
        f"{shown}); they are left out of the {agg}, and a row / method with no value left is blank in the "
        "heatmap and has no point in the box plot.",
        UserWarning,
        stacklevel=5,  # _check_values < _table < benchmark_* < old_positionals' wrapper < the caller
    )


def _check_kinds(kinds, results: pd.DataFrame) -> list[str]:
    """``kinds`` as a list of the dataset kinds of ``results['kind']``; a table without that
    column, or a kind it does not have, raises naming ``kinds``."""
    given = kinds
    if isinstance(kinds, str):
        kinds = [kinds]
    elif not isinstance(kinds, (Sequence, np.ndarray, pd.Index, pd.Series, set, frozenset)):
        raise ParameterTypeError(
            f"kinds must be a dataset kind, a list of them or None, got {kinds!r} ({type(kinds).__name__})."
        )
    kinds = list(kinds)
    if "kind" not in results.columns:
        raise ValueError(
            f"kinds={given!r} filters on the column 'kind', but results has none (columns: "
            f"{list(results.columns)}). Pass the table from scgrn.bench.beeline(), which has it, add a "
            "'kind' column, or pass kinds=None."
        )
    present = sorted(set(results["kind"].dropna().astype(str)))
    if not kinds:
        raise ValueError(f"kinds is empty; pass some of the kinds in results['kind'] ({present}) or kinds=None.")
    unknown = [k for k in kinds if not isinstance(k, str) or k not in present]
    if unknown:
        raise ValueError(
            f"kinds={given!r} names {unknown!r}, which is not in results['kind']; the kinds there are "
            f"{present}. Pass some of them, or kinds=None."
        )
    return kinds


def _check_fmt(fmt) -> str:
    """``fmt`` if it formats a number (``"{:.2f}"``), else an error naming ``fmt``."""
    if not isinstance(fmt, str):
        raise ParameterTypeError(f"fmt must be a format string such as '{{:.2f}}', got {fmt!r} ({type(fmt).__name__}).")
    try:
        fmt.format(0.5)
    except (ValueError, IndexError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(
            f"fmt={fmt!r} cannot format the annotated values, which are floats ({type(err).__name__}: "
            f"{err}). Use a float format with one field, e.g. fmt='{{:.2f}}' or fmt='{{:.0f}}'."
        ) from None
    return fmt


def _check_metric(metric: str) -> str:
    if metric not in RANDOM_LEVEL:
        raise ValueError(f"metric={metric!r} is not one of {list(RANDOM_LEVEL)}.")
    return metric


@old_positionals("metric")
def benchmark_heatmap(
    results: pd.DataFrame,
    *,
    metric: str = "EPR",
    convention: str | None = "beeline",
    kinds: str | Sequence[str] | None = None,
    agg: str = "median",
    cmap: str = "YlOrRd",
    fmt: str = "{:.2f}",
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
) -> Figure | Axes | None:
    """Datasets x methods heatmap of a benchmark metric, DeepSEM Fig. 3 style.

    Each row (a real dataset with one ground truth, or a simulated family) is coloured from
    its own minimum to its own maximum, so the best method of every dataset stands out
    whatever the dataset's difficulty. Cells worse than a random ranking (EPR or AUPRC ratio
    below 1, AUROC below 0.5) are grey. Every cell is annotated with its value (the ``agg``
    over replicates and repeats).

    Parameters
    ----------
    results
        The table of :func:`scgrn.bench.beeline` (or any DataFrame with ``method``, ``group``
        or ``dataset``, and the metric column). Failed runs (``status`` not ``"ok"``) are
        left out.
    metric
        ``"EPR"``, ``"AUPRC_ratio"``, ``"AUROC"``, ``"EP"`` or ``"AUPRC"``.
    convention
        Keep rows of this evaluation convention (``"beeline"``, which every dataset has, or
        ``"deepsem"``, real datasets only); ``None`` keeps all rows.
    kinds
        Keep only these dataset kinds (``"scRNA-seq"``, ``"synthetic"``, ``"curated"``) of the
        ``kind`` column; a table without that column, or a kind it does not have, raises a
        ``ValueError``. ``None`` keeps all kinds.
    agg
        How replicates and repeats of a row are combined: ``"median"``, ``"mean"``, ``"min"``
        or ``"max"``.
    cmap
        Colour map of the per-row scale.
    fmt
        Format of the annotations, applied to floats (``"{:.2f}"``, ``"{:.0f}"``); one that
        cannot format a float (``"{:d}"``) raises a ``ValueError`` before anything is drawn.
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
    >>> import pandas as pd, scgrn
    >>> res = pd.DataFrame({"dataset": ["a", "a", "b", "b"], "method": ["x", "y", "x", "y"],
    ...                     "EPR": [2.0, 0.8, 1.5, 3.0]})
    >>> fig = scgrn.pl.benchmark_heatmap(res, convention=None, return_fig=True)
    >>> type(fig).__name__
    'Figure'
    """
    metric = _check_metric(metric)
    check_plot_args(ax, show, return_fig)
    agg, fmt = check_choice("agg", agg, AGGREGATIONS), _check_fmt(fmt)
    table = _table(results, metric, convention, kinds, agg)
    values = table.to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    lo = np.nanmin(np.where(np.isnan(values), np.inf, values), axis=1, keepdims=True)
    hi = np.nanmax(np.where(np.isnan(values), -np.inf, values), axis=1, keepdims=True)
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(span > 0, (values - lo) / np.where(span > 0, span, 1.0), 1.0)
    colormap = plt.get_cmap(cmap)
    rgba = colormap(0.1 + 0.8 * np.nan_to_num(scaled))
    level = RANDOM_LEVEL[metric]
    worse = np.zeros_like(values, dtype=bool) if level is None else values < level
    rgba[worse] = to_rgba(_WORSE_COLOR)
    rgba[np.isnan(values)] = to_rgba("white")

    if ax is None:
        label_w = max((len(str(r)) for r in table.index), default=5)
        fig, ax = plt.subplots(
            figsize=(1.5 + 0.075 * label_w + 0.85 * n_cols, 1.4 + 0.38 * n_rows),
            layout="constrained",
        )
    else:
        fig = ax.figure
    ax.imshow(rgba, aspect="auto", interpolation="nearest")
    for i in range(n_rows):
        for j in range(n_cols):
            v = values[i, j]
            if np.isnan(v):
                continue
            dark = not worse[i, j] and scaled[i, j] > 0.65
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8,
                    color="white" if dark else ("#636363" if worse[i, j] else "black"),
                    fontstyle="italic" if worse[i, j] else "normal")
    ax.set_xticks(np.arange(n_cols), labels=[str(c) for c in table.columns], rotation=40,
                  ha="right", rotation_mode="anchor")
    ax.set_yticks(np.arange(n_rows), labels=[str(r) for r in table.index])
    ax.set_xticks(np.arange(n_cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n_rows + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    name = _METRIC_LABEL[metric]
    conv = f", {convention} convention" if convention is not None else ""
    ax.set_title(f"{name} ({agg} per row{conv})\ncolour: row minimum to row maximum", fontsize=9)
    if level is not None and worse.any():
        ax.legend(handles=[Patch(facecolor=_WORSE_COLOR, label=f"worse than random ({name} < {level:g})")],
                  loc="upper left", bbox_to_anchor=(0.0, -0.02 - 0.12 * max(1, 6 / max(n_rows, 1))),
                  frameon=False, fontsize=8)
    return _show_or_return(fig, ax, show=show, return_fig=return_fig)


@old_positionals("metric")
def benchmark_box(
    results: pd.DataFrame,
    *,
    metric: str = "EPR",
    convention: str | None = "beeline",
    kinds: str | Sequence[str] | None = None,
    agg: str = "median",
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
) -> Figure | Axes | None:
    """Box and strip plot of a benchmark metric across datasets, one box per method.

    Each point is one heatmap row (a real dataset with one ground truth, or a simulated
    family; the ``agg`` over its replicates and repeats). The dashed line is the random
    ranking's level (1 for EPR and AUPRC ratio, 0.5 for AUROC).

    Parameters
    ----------
    results
        The table of :func:`scgrn.bench.beeline` (see :func:`benchmark_heatmap`).
    metric
        ``"EPR"``, ``"AUPRC_ratio"``, ``"AUROC"``, ``"EP"`` or ``"AUPRC"``.
    convention
        Keep rows of this convention; ``None`` keeps all.
    kinds
        Keep only these dataset kinds of the ``kind`` column (see :func:`benchmark_heatmap`).
    agg
        How replicates and repeats of a dataset are combined: ``"median"``, ``"mean"``,
        ``"min"`` or ``"max"``.
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
    >>> import pandas as pd, scgrn
    >>> res = pd.DataFrame({"dataset": ["a", "a", "b", "b"], "method": ["x", "y", "x", "y"],
    ...                     "AUROC": [0.7, 0.4, 0.6, 0.8]})
    >>> ax = scgrn.pl.benchmark_box(res, metric="AUROC", convention=None, show=False)
    >>> ax.get_ylabel()
    'AUROC'
    """
    metric = _check_metric(metric)
    check_plot_args(ax, show, return_fig)
    agg = check_choice("agg", agg, AGGREGATIONS)
    table = _table(results, metric, convention, kinds, agg)
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.6 + 0.75 * table.shape[1], 3.8), layout="constrained")
    else:
        fig = ax.figure
    data = [table[c].dropna().to_numpy() for c in table.columns]
    positions = np.arange(1, len(data) + 1)
    ax.boxplot(data, positions=positions, widths=0.55, showfliers=False,
               medianprops={"color": "#b2182b", "linewidth": 1.5},
               boxprops={"color": "#4d4d4d"}, whiskerprops={"color": "#4d4d4d"},
               capprops={"color": "#4d4d4d"})
    rng = np.random.default_rng(0)
    for pos, vals in zip(positions, data):
        ax.scatter(pos + rng.uniform(-0.16, 0.16, vals.size), vals, s=14, color="#2166ac",
                   alpha=0.75, zorder=3, linewidths=0)
    level = RANDOM_LEVEL[metric]
    if level is not None:
        ax.axhline(level, color="#636363", linestyle="--", linewidth=1, label="random ranking")
        ax.legend(frameon=False, fontsize=8, loc="best")
    ax.set_xticks(positions, labels=[str(c) for c in table.columns], rotation=40, ha="right",
                  rotation_mode="anchor")
    ax.set_ylabel(_METRIC_LABEL[metric])
    conv = f", {convention} convention" if convention is not None else ""
    ax.set_title(f"{_METRIC_LABEL[metric]} across {table.shape[0]} datasets{conv}", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    return _show_or_return(fig, ax, show=show, return_fig=return_fig)
