"""How much does a smaller ensemble cost at transcriptome scale?

One default 8-member TF-rows run of ``scgrn.models.DeepSEM`` on ``datasets.planted_counts``
(10 % TFs; ``--full``: the genes x genes model, its TF rows scored); the ensemble aggregate (mean ``|W|`` signed by the mean ``W``) over subsets of its
members (all 8, two disjoint halves, four disjoint pairs, each single member), scored on the
planted network ("deepsem" convention). Members are independent, so a subset of 4 stands
for a 4-member run::

    python benchmarks/ensemble_size.py --genes 5000 --cells 5000
    python benchmarks/ensemble_size.py --genes 2000 --cells 2000 --full

One JSON line is appended to ``benchmarks/results/ensemble_size.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    import scgrn
    from scgrn.models import DeepSEM
    from scgrn.models._deepsem_module import aggregate_grn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=5000)
    parser.add_argument("--cells", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full", action="store_true", help="the genes x genes model (tf_rows_only=False)")
    args = parser.parse_args()
    g = args.genes
    adata, truth = scgrn.datasets.planted_counts(n_genes=g, n_cells=args.cells, n_tfs=g // 10, random_state=0)
    del adata.layers["counts"]
    tfs = list(adata.var_names[adata.var["is_tf"]])
    t0 = time.perf_counter()
    model = DeepSEM(adata, tfs=tfs, tf_rows_only=not args.full, n_models=8)
    model.train(random_state=args.seed, show_progress_bar=False)
    seconds = time.perf_counter() - t0
    rows = np.flatnonzero(adata.var["is_tf"].to_numpy())
    w = model.module.grn().detach().numpy()
    if args.full:
        w = w[:, rows]  # the TF rows of the genes x genes W: what tl.deepsem keeps with tfs

    def score(members):
        grn = np.zeros((g, g), dtype=np.float32)
        grn[rows] = aggregate_grn(w[members])
        m = scgrn.metrics.evaluate_grn(grn, truth, var_names=adata.var_names, convention="deepsem")
        return {k: round(float(m[k]), 3) for k in ("EPR", "AUPRC_ratio", "AUROC")}

    row = {"model": "genes x genes" if args.full else "TF rows", "genes": g, "cells": args.cells, "tfs": len(tfs), "seed": args.seed, "train_s": round(seconds, 1),
           "all8": score(list(range(8))), "halves": [score([0, 1, 2, 3]), score([4, 5, 6, 7])],
           "pairs": [score([i, i + 1]) for i in (0, 2, 4, 6)], "singles": [score([i]) for i in range(8)],
           "machine": f"{platform.machine()}, {platform.platform()}", "date": time.strftime("%Y-%m-%d %H:%M")}
    print(json.dumps(row))
    with open(RESULTS / "ensemble_size.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
