"""Sweep DeepSEM settings on the BEELINE sets (the tuning behind the default preset).

Each setting is trained once per dataset and seed; the ensemble's members are then
aggregated several ways and scored against every ground truth (EPR, AUPRC ratio,
"deepsem" convention). Rows are appended to a CSV so that sweeps can be resumed.

Usage::

    SCGRN_DATA_DIR=../shared/data python benchmarks/deepsem_sweep.py \
        --setting base '{}' --setting h64 '{"hidden_dim": 64}' --seeds 0 1 --out sweep.csv
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).parent))
import peers  # noqa: E402

import scgrn  # noqa: E402


def aggregations(members: np.ndarray) -> dict[str, np.ndarray]:
    """Ways to turn the members' W (members x genes x genes) into one ranking."""
    a = np.abs(members)
    flat = a.reshape(a.shape[0], -1)
    ranks = np.stack([rankdata(f) for f in flat]).reshape(a.shape)
    return {"mean_abs": a.mean(0), "rank_mean": ranks.mean(0), "member0": a[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", nargs=2, action="append", metavar=("LABEL", "JSON"), required=True)
    parser.add_argument("--datasets", nargs="+", default=list(peers.DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--out", default="deepsem_sweep.csv")
    args = parser.parse_args()
    out = Path(args.out)

    for dataset in args.datasets:
        cell_type, n_genes, ground_truths = peers.DATASETS[dataset]
        adata, _ = scgrn.datasets.beeline(cell_type, n_genes=n_genes, ground_truth=ground_truths[0])
        references = {gt: scgrn.datasets.beeline(cell_type, n_genes=n_genes, ground_truth=gt)[1] for gt in ground_truths}
        for label, overrides in args.setting:
            for seed in args.seeds:
                model = scgrn.models.DeepSEM(adata, **json.loads(overrides))
                t0 = time.perf_counter()
                model.train(random_state=seed, show_progress_bar=False)
                seconds = time.perf_counter() - t0
                rows = []
                for agg, grn in aggregations(model.get_grn(members=True)).items():
                    for gt, reference in references.items():
                        m = scgrn.metrics.evaluate_grn(grn, reference, var_names=adata.var_names, convention="deepsem")
                        rows.append(dict(dataset=dataset, ground_truth=gt, setting=label, overrides=overrides, seed=seed,
                                         aggregation=agg, EPR=m["EPR"], AUPRC_ratio=m["AUPRC_ratio"], seconds=seconds))
                df = pd.DataFrame(rows)
                df.to_csv(out, mode="a", header=not out.exists(), index=False)
                summary = df[df.aggregation == "mean_abs"].set_index("ground_truth")["EPR"].round(2).to_dict()
                print(f"{dataset} {label} seed {seed}: {seconds:.0f} s  EPR {summary}", flush=True)


if __name__ == "__main__":
    main()
