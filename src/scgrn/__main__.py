"""Command line entry point: ``scgrn demo``, ``scgrn bench beeline``, ``scgrn --version`` (and ``python -m scgrn ...``)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import scgrn

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    adata, truth = scgrn.datasets.krumsiek11()
    sys.stdout.write(
        f"krumsiek11: {adata.n_obs} cells x {adata.n_vars} genes, "
        f"true network of {len(truth)} edges (Krumsiek et al. 2011)\n"
    )
    t0 = time.perf_counter()
    scgrn.tl.deepsem(adata, n_models=args.n_models, random_state=args.seed, show_progress_bar=not args.quiet)
    seconds = time.perf_counter() - t0
    sys.stdout.write(f"DeepSEM ({args.n_models} members) trained in {seconds:.1f} s\n\n")

    scores = scgrn.metrics.evaluate_grn(adata, truth, convention="beeline")
    scgrn.tl.correlation(adata)  # the simplest baseline, for scale: Pearson r ranked by |r|
    pearson = scgrn.metrics.evaluate_grn(adata, truth, key="pearson", convention="beeline")
    random = scgrn.metrics.random_baseline(truth, adata.var_names, convention="beeline", n_repeats=100)
    sys.stdout.write("metric        DeepSEM   Pearson |r|   random ranking   (BEELINE convention)\n")
    for name in ("EPR", "AUPRC_ratio", "AUROC"):
        sys.stdout.write(f"{name:<12}{scores[name]:>9.2f}{pearson[name]:>14.2f}{random[name]:>17.2f}\n")
    top = scgrn.get.edges(adata, top_k=10)
    true_pairs = set(zip(truth["source"], truth["target"]))
    top["in_truth"] = [(s, t) in true_pairs for s, t in zip(top["source"], top["target"])]
    sys.stdout.write("\nTop 10 edges:\n" + top.to_string(index=False) + "\n")
    fig = scgrn.pl.grn(adata, top_k=20, return_fig=True)
    fig.savefig(out / "grn.png", dpi=120, bbox_inches="tight")
    top.to_csv(out / "top_edges.csv", index=False)
    sys.stdout.write(f"\nWrote {out / 'grn.png'} and {out / 'top_edges.csv'}\n")
    return 0


def _bench_beeline(args: argparse.Namespace) -> int:
    from .bench._beeline_cli import _cli_beeline

    return _cli_beeline(args)


def _version() -> str:
    """scgrn's installed version (``importlib.metadata``; the package's ``__version__`` when
    it runs from a source tree without metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scgrn")
    except PackageNotFoundError:
        from . import __version__

        return __version__


def main(argv: list[str] | None = None) -> int:
    """Run the ``scgrn`` command line."""
    parser = argparse.ArgumentParser(prog="scgrn", description="scgrn command line")
    parser.add_argument("--version", action="version", version=f"scgrn {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="infer the krumsiek11 network with DeepSEM and score it")
    demo.add_argument("--out", default="scgrn_demo", help="output folder (default: scgrn_demo)")
    demo.add_argument("--n-models", type=int, default=8, dest="n_models",
                      help="DeepSEM ensemble members, >= 1 (default: 8)")
    demo.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default: 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=_demo)
    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="benchmark", required=True)
    bl = bench.add_parser("beeline", help="run GRN methods on the BEELINE datasets; write a CSV and figures")
    bl.add_argument("--methods", nargs="+", default=None, help="default: every scgrn method")
    bl.add_argument("--datasets", nargs="+", default=["all"], help="all, real, synthetic, curated, names")
    bl.add_argument("--out", default="scgrn_beeline", help="output folder (default: scgrn_beeline)")
    bl.add_argument("--data-dir", default=None, dest="data_dir", help="default: $SCGRN_DATA_DIR")
    bl.add_argument("--n-replicates", type=int, default=1, dest="n_replicates",
                    help="first k replicates per simulated family, >= 0 (default 1; 0 = all); "
                         "sets named by folder name always run")
    bl.add_argument("--n-cells", type=int, nargs="*", default=[2000], dest="n_cells",
                    help="cell counts of simulated sets, >= 1 (default 2000; none given = all); "
                         "sets named by folder name always run")
    bl.add_argument("--n-repeats", type=int, default=1, dest="n_repeats", help="runs per method and set, >= 1")
    bl.add_argument("--n-jobs", type=int, default=None, dest="n_jobs",
                    help="processes of the tree methods, non-zero (default all cores)")
    bl.add_argument("--seed", type=int, default=0, help="seed of the first repeat, >= 0 (default: 0)")
    bl.add_argument("--quiet", action="store_true", help="no progress bar")
    bl.set_defaults(func=_bench_beeline)
    args = parser.parse_args(argv)
    if args.command == "demo":
        _check_demo_args(demo, args)
    else:
        from .bench._beeline_cli import check_args

        check_args(bl, args)
    return args.func(args)


def _check_demo_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors (exit status 2, no traceback) for values argparse's types let through."""
    from ._params import out_folder_problem

    problem = out_folder_problem(args.out, "the figure and table")
    if problem:
        parser.error(problem)
    if args.n_models < 1:
        parser.error(f"--n-models must be >= 1, got {args.n_models}.")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}.")


if __name__ == "__main__":
    raise SystemExit(main())
