"""Command line entry point: ``scgrn demo`` (and ``python -m scgrn demo``)."""

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
    random = scgrn.metrics.random_baseline(truth, adata.var_names, convention="beeline", n_repeats=100)
    sys.stdout.write("metric        DeepSEM   random ranking   (BEELINE convention)\n")
    for name in ("EPR", "AUPRC_ratio", "AUROC"):
        sys.stdout.write(f"{name:<12}{scores[name]:>9.2f}{random[name]:>17.2f}\n")
    top = scgrn.get.edges(adata, top_k=10)
    true_pairs = set(zip(truth["source"], truth["target"]))
    top["in_truth"] = [(s, t) in true_pairs for s, t in zip(top["source"], top["target"])]
    sys.stdout.write("\nTop 10 edges:\n" + top.to_string(index=False) + "\n")
    fig = scgrn.pl.grn(adata, top_k=20, return_fig=True)
    fig.savefig(out / "grn.png", dpi=120, bbox_inches="tight")
    top.to_csv(out / "top_edges.csv", index=False)
    sys.stdout.write(f"\nWrote {out / 'grn.png'} and {out / 'top_edges.csv'}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``scgrn`` command line."""
    parser = argparse.ArgumentParser(prog="scgrn", description="scgrn command line")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="infer the krumsiek11 network with DeepSEM and score it")
    demo.add_argument("--out", default="scgrn_demo", help="output folder (default: scgrn_demo)")
    demo.add_argument("--n-models", type=int, default=8, dest="n_models")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
