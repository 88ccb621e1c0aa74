"""Command line of the BEELINE runner: ``scgrn bench beeline`` (parser in :mod:`scgrn.__main__`).

:func:`_cli_beeline` runs :func:`scgrn.bench.beeline` with the parsed arguments and writes
``beeline_results.csv``, the heatmaps and box plots of every metric and convention,
``summary.csv`` (medians per method) and ``run_info.json`` (the command, versions, timing)
to ``--out``.
"""

from __future__ import annotations

import json
import os
import time

import pandas as pd
from scanpy import logging as logg

from .. import __version__
from ._beeline import beeline


def _summary(table: pd.DataFrame) -> pd.DataFrame:
    """Median of each metric per method and convention over heatmap rows."""
    ok = table[table["status"] == "ok"]
    per_row = ok.groupby(["convention", "group", "method"], sort=False)[
        ["EPR", "AUPRC_ratio", "AUROC", "seconds"]].median()
    out = per_row.groupby(["convention", "method"], sort=False).median()
    out["datasets"] = per_row.groupby(["convention", "method"], sort=False).size()
    return out.reset_index()


def check_args(parser, args) -> None:
    """Usage errors (exit status 2, no traceback) for ``scgrn bench beeline`` values that argparse's
    types let through, checked before any dataset is read: ``--out`` naming a file (or a path under
    one), counts out of range, unknown methods and dataset selectors, and selectors whose every set
    ``--n-cells`` removes."""
    from .._params import out_folder_problem
    from ._beeline import _all_datasets, _check_methods, _select

    problem = out_folder_problem(args.out, "the results and figures")
    if problem:
        parser.error(problem)
    if args.n_replicates < 0:
        parser.error(f"--n-replicates must be >= 0 (0 = every replicate), got {args.n_replicates}.")
    bad = [c for c in args.n_cells or [] if c < 1]
    if bad:
        parser.error(f"--n-cells values must be >= 1, got {bad[0]} (give no value for every cell count).")
    if args.n_repeats < 1:
        parser.error(f"--n-repeats must be >= 1, got {args.n_repeats}.")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}.")
    if args.n_jobs == 0:
        parser.error("--n-jobs must be a non-zero number of processes (-1: every core), got 0.")
    try:
        _check_methods(args.methods)
        _select(args.datasets, _all_datasets(args.data_dir), _n_replicates(args), _n_cells(args))
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))


def _n_replicates(args) -> int | None:
    return args.n_replicates if args.n_replicates > 0 else None


def _n_cells(args) -> list[int] | None:
    return args.n_cells if args.n_cells else None


def _cli_beeline(args) -> int:
    import platform
    import sys
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    from .. import pl

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    table = beeline(
        args.methods, args.datasets, data_dir=args.data_dir,
        n_replicates=_n_replicates(args), n_cells=_n_cells(args), n_repeats=args.n_repeats,
        n_jobs=args.n_jobs, random_state=args.seed, errors="warn",
        show_progress_bar=not args.quiet,
    )
    wall = time.perf_counter() - t0
    table.to_csv(out / "beeline_results.csv", index=False)
    written = ["beeline_results.csv"]
    for convention in ("beeline", "deepsem"):
        if convention not in set(table["convention"]) or not (table["status"] == "ok").any():
            continue
        for metric in ("EPR", "AUPRC_ratio", "AUROC"):
            for kind, plot in (("heatmap", pl.benchmark_heatmap), ("box", pl.benchmark_box)):
                try:
                    fig = plot(table, metric=metric, convention=convention, return_fig=True)
                except ValueError as err:  # e.g. every run of a convention failed
                    logg.warning(f"no {kind} of {metric} ({convention}): {err}")
                    continue
                name = f"{kind}_{metric}_{convention}.png"
                fig.savefig(out / name, dpi=130, bbox_inches="tight")
                matplotlib.pyplot.close(fig)
                written.append(name)
    summary = _summary(table)
    summary.to_csv(out / "summary.csv", index=False)
    written.append("summary.csv")
    info = {
        "command": _command(args),
        "scgrn": __version__, "python": platform.python_version(), "machine": platform.platform(),
        "cpu_count": os.cpu_count(), "wall_seconds": round(wall, 1),
        "versions": _versions(),
    }
    (out / "run_info.json").write_text(json.dumps(info, indent=2))
    written.append("run_info.json")
    sys.stdout.write(
        f"BEELINE benchmark: {table['dataset'].nunique()} datasets, {table['method'].nunique()} "
        f"methods, {wall / 60:.1f} min\n\n"
        + summary.to_string(index=False, float_format=lambda v: f"{v:.3f}") + "\n\n"
        + f"Wrote {', '.join(written)} to {out}\n"
    )
    failed = table.loc[table["status"] != "ok", ["dataset", "method", "status"]].drop_duplicates()
    if len(failed):
        sys.stdout.write(f"\n{len(failed)} failed run(s):\n{failed.to_string(index=False)}\n")
    return 0


def _command(args) -> str:
    """The command line that reproduces this run."""
    parts = ["scgrn bench beeline"]
    if args.methods:
        parts.append("--methods " + " ".join(args.methods))
    parts.append("--datasets " + " ".join(args.datasets))
    parts.append(f"--n-replicates {args.n_replicates}")
    parts.append("--n-cells" + "".join(f" {c}" for c in (args.n_cells or [])))
    parts.append(f"--n-repeats {args.n_repeats} --seed {args.seed}")
    if args.n_jobs is not None:
        parts.append(f"--n-jobs {args.n_jobs}")
    if args.data_dir:
        parts.append(f"--data-dir {args.data_dir}")
    parts.append(f"--out {args.out}")
    return " ".join(parts)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("numpy", "scipy", "scikit-learn", "numba", "torch", "anndata", "scanpy",
                "regdiffusion", "grn-dazzle"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
