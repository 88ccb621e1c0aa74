"""DeepSEM (scgrn) against its peers on every BEELINE scRNA-seq set that has expression.

Peers: regdiffusion (defaults, 1000 steps) and both configurations grn-dazzle ships
(DEFAULT_DEEPSEM_CONFIGS, its CPU re-implementation of DeepSEM; DEFAULT_DAZZLE_CONFIGS,
DeepSEM with dropout augmentation). Scores: EPR, AUPRC ratio and AUROC in both
conventions (scgrn.metrics: "deepsem" and "beeline"), plus wall time.

Usage::

    SCGRN_DATA_DIR=../shared/data python benchmarks/beeline.py [--fresh-peers] [--out benchmarks/results]
        [--tf-rows-only] [--no-tfs] [--hyper JSON] [--recorded-peers benchmarks/results/beeline_deepsem.csv]

scgrn is given the data's TF list (every ground truth's TFs.csv) unless ``--no-tfs``.

Peer matrices come from ``benchmarks/cache`` when present (see benchmarks/peers.py);
regdiffusion on mHSC-L TFs+1000 is always re-run here so that the speed ratio compares two
runs of this script on the same machine under the same load.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
import peers  # noqa: E402

import scgrn  # noqa: E402

SPEED_DATASET = "mHSC-L-1000"


def score(grn, var_names, reference) -> list[dict]:
    rows = []
    for convention in ("deepsem", "beeline"):
        m = scgrn.metrics.evaluate_grn(grn, reference, var_names=var_names, convention=convention)
        rows.append({"convention": convention, **{k: m[k] for k in ("EP", "EPR", "AUPRC_ratio", "AUROC", "k", "density")}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--fresh-peers", action="store_true", help="re-run every peer instead of reading the cache")
    parser.add_argument("--datasets", nargs="+", default=list(peers.DATASETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-tfs", action="store_true",
                        help="train on every gene as a regulator (the genes x genes model) instead of tfs=the TF list")
    parser.add_argument("--tf-rows-only", action="store_true",
                        help="the TF-rows model (tf_rows_only=True) instead of tl.deepsem's 'auto' choice")
    parser.add_argument("--hyper", default="{}", help="JSON dict of tl.deepsem overrides, e.g. '{\"coexpression_rank\": 0}'")
    parser.add_argument("--recorded-peers", metavar="CSV",
                        help="take the peers' rows from this earlier results CSV instead of running them")
    args = parser.parse_args()
    recorded = pd.read_csv(args.recorded_peers) if args.recorded_peers else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    rows = []
    for dataset in args.datasets:
        cell_type, n_genes, ground_truths = peers.DATASETS[dataset]
        adata, _ = scgrn.datasets.beeline(cell_type, n_genes=n_genes, ground_truth=ground_truths[0])
        loaded = {gt: scgrn.datasets.beeline(cell_type, n_genes=n_genes, ground_truth=gt) for gt in ground_truths}
        references = {gt: net for gt, (_, net) in loaded.items()}
        # the TF list: every ground truth's TFs.csv (they differ by a TF or two)
        is_tf = np.any([a.var["is_tf"].to_numpy() for a, _ in loaded.values()], axis=0)
        x = np.asarray(adata.X, dtype=np.float32)
        names = adata.var_names

        results = {}
        t0 = time.perf_counter()
        tfs = None if args.no_tfs else list(names[is_tf])
        scgrn.tl.deepsem(adata, tfs=tfs, tf_rows_only=True if args.tf_rows_only else "auto",
                         random_state=args.seed, show_progress_bar=False, **json.loads(args.hyper))
        results["scgrn DeepSEM"] = (adata.varp["deepsem"], time.perf_counter() - t0, False)
        print(f"{dataset}: scgrn {results['scgrn DeepSEM'][1]:.1f} s", flush=True)
        if recorded is not None:
            peer_rows = recorded[(recorded.dataset == dataset) & (recorded.method != "scgrn DeepSEM")]
            rows += [{**r, "peer_from_cache": True} for r in peer_rows.to_dict("records")]
        for method in peers.PEERS if recorded is None else []:
            refresh = args.fresh_peers or (method == "regdiffusion" and dataset == SPEED_DATASET)
            results[method] = peers.peer_result(method, dataset, x, seed=args.seed, refresh=refresh)
            print(f"{dataset}: {method} {results[method][1]:.1f} s{' (cached)' if results[method][2] else ''}", flush=True)

        for method, (grn, seconds, cached) in results.items():
            for gt, reference in references.items():
                for r in score(grn, names, reference):
                    rows.append({"dataset": dataset, "cells": adata.n_obs, "genes": adata.n_vars, "ground_truth": gt,
                                 "method": method, "seconds": seconds, "peer_from_cache": cached, **r})

    table = pd.DataFrame(rows)
    table.to_csv(out / "beeline_deepsem.csv", index=False)
    (out / "beeline_deepsem.md").write_text(summary(table, " ".join(sys.argv)))
    print(summary(table, " ".join(sys.argv)))


def summary(table: pd.DataFrame, command: str) -> str:
    d = table[table.convention == "deepsem"]
    epr = d.pivot_table(index=["dataset", "ground_truth"], columns="method", values="EPR")
    peer_cols = [c for c in epr.columns if c != "scgrn DeepSEM"]
    epr["best peer"] = epr[peer_cols].max(axis=1)
    epr["scgrn / best peer"] = epr["scgrn DeepSEM"] / epr["best peer"]
    n_ok = int((epr["scgrn / best peer"] >= 0.98).sum())
    times = table.drop_duplicates(["dataset", "method"]).pivot_table(index="dataset", columns="method", values="seconds")
    lines = [
        "# DeepSEM on BEELINE: scgrn vs peers",
        "",
        f"Command: `{command}`",
        f"Machine: {platform.machine()}, {torch.get_num_threads()} torch threads, {platform.platform()}; "
        f"python {platform.python_version()}, torch {torch.__version__}, scgrn {scgrn.__version__}",
        "",
        "## EPR (\"deepsem\" convention)",
        "",
        epr.round(3).to_markdown(),
        "",
        f"scgrn >= 0.98 x best peer on {n_ok} of {len(epr)} combinations; "
        f"median ratio scgrn / best peer = {epr['scgrn / best peer'].median():.3f}.",
        "",
        "## Wall time (s, one call each; peers marked cached in the CSV were timed in an earlier run)",
        "",
        times.round(1).to_markdown(),
    ]
    if SPEED_DATASET in times.index:
        r = times.loc[SPEED_DATASET]
        lines += ["", f"Speed on {SPEED_DATASET}: scgrn (all members) / regdiffusion = "
                      f"{r['scgrn DeepSEM'] / r['regdiffusion']:.2f} (both run in this invocation)."]
    for convention in ("deepsem", "beeline"):
        c = table[table.convention == convention]
        for metric in ("AUPRC_ratio", "AUROC"):
            lines += ["", f"## {metric} (\"{convention}\" convention)", "",
                      c.pivot_table(index=["dataset", "ground_truth"], columns="method", values=metric).round(3).to_markdown()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
