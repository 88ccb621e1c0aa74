"""How DeepSEM's ensemble members are combined: one training, several aggregations of the members' W.

For each shared BEELINE set, ``models.DeepSEM`` is trained once per seed and model (the
genes x genes model, ``full``; the TF-rows model, ``tfrows``) with the TF list of every ground
truth, and the members' ``W`` (TF rows, no self-loops) are combined in several ways, each
scored (EPR, AUPRC ratio, AUROC; "deepsem" convention) on every reference network:

- ``mean_abs``: mean ``|W|`` (the library's aggregate)
- ``mean_rank``: mean of each member's ranks of ``|W|``
- ``mean_z``: mean of ``|W|`` divided by each member's standard deviation of ``|W|``
- ``mean_maxnorm``: mean of ``|W|`` divided by each member's largest ``|W|``
- ``median_abs``: median ``|W|``; ``abs_mean``: ``|mean W|``
- ``mean_minus_sd``: mean ``|W|`` minus its standard deviation over members (agreement)
- ``mean_abs_even`` / ``mean_abs_odd``: mean ``|W|`` of members 0, 2, ... / 1, 3, ... alone (where
  TFs are half the genes or more, the odd members are the TFs-only ones of ``tfs_only_start``)

``--save-members DIR`` also writes each training's members' ``W`` to ``DIR`` (``.npz``), for
aggregations tried after the fact.

Usage::

    SCGRN_DATA_DIR=../shared/data OMP_NUM_THREADS=1 python benchmarks/aggregation.py \\
        --seeds 0 --models tfrows full --out benchmarks/results/aggregation.csv
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).parent))
import peers  # noqa: E402

import scgrn  # noqa: E402


def aggregates(w: np.ndarray, candidates: np.ndarray) -> dict[str, np.ndarray]:
    """The aggregations of ``w`` (members, genes, genes) over the ``candidates`` entries."""
    a = np.abs(w)
    cand = [m[candidates] for m in a]
    ranks = np.zeros_like(a)
    for e, values in enumerate(cand):
        ranks[e][candidates] = rankdata(values) / len(values)
    sd = np.array([v.std() for v in cand])[:, None, None]
    top = np.array([v.max() for v in cand])[:, None, None]
    return {
        "mean_abs": a.mean(0), "mean_rank": ranks.mean(0), "mean_z": (a / sd).mean(0),
        "mean_maxnorm": (a / top).mean(0), "median_abs": np.median(a, 0), "abs_mean": np.abs(w.mean(0)),
        "mean_minus_sd": a.mean(0) - a.std(0), "mean_abs_even": a[0::2].mean(0), "mean_abs_odd": a[1::2].mean(0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--models", nargs="+", default=["tfrows", "full"], choices=["tfrows", "full"])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "aggregation.csv"))
    parser.add_argument("--datasets", nargs="+", default=list(peers.DATASETS))
    parser.add_argument("--save-members", default=None, help="folder for each training's members' W (.npz)")
    args = parser.parse_args()
    rows = []
    for dataset, (cell_type, n_genes, ground_truths) in peers.DATASETS.items():
        if dataset not in args.datasets:
            continue
        loaded = {gt: scgrn.datasets.beeline(cell_type, n_genes=n_genes, ground_truth=gt) for gt in ground_truths}
        adata = loaded[ground_truths[0]][0]
        is_tf = np.any([a.var["is_tf"].to_numpy() for a, _ in loaded.values()], axis=0)
        candidates = np.zeros((adata.n_vars, adata.n_vars), bool)
        candidates[is_tf] = True
        np.fill_diagonal(candidates, False)
        for model_kind in args.models:
            for seed in args.seeds:
                t0 = time.perf_counter()
                model = scgrn.models.DeepSEM(adata, tfs=list(adata.var_names[is_tf]),
                                             tf_rows_only=model_kind == "tfrows")
                model.train(random_state=seed, show_progress_bar=False)
                w = model.get_grn(members=True)
                if args.save_members:
                    Path(args.save_members).mkdir(parents=True, exist_ok=True)
                    np.savez_compressed(Path(args.save_members) / f"{dataset}_{model_kind}_{seed}.npz", w=w,
                                        candidates=candidates, var_names=np.asarray(adata.var_names))
                for name, grn in aggregates(w, candidates).items():
                    grn = np.where(candidates, grn, 0).astype(np.float32)
                    for gt, (_, reference) in loaded.items():
                        m = scgrn.metrics.evaluate_grn(grn, reference, var_names=adata.var_names, convention="deepsem")
                        rows.append({"dataset": dataset, "ground_truth": gt, "model": model_kind, "seed": seed,
                                     "aggregate": name, "EPR": m["EPR"], "AUPRC_ratio": m["AUPRC_ratio"],
                                     "AUROC": m["AUROC"]})
                print(dataset, model_kind, seed, f"{time.perf_counter() - t0:.0f} s", flush=True)
                pd.DataFrame(rows).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
