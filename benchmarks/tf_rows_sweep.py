"""The TF-rows DeepSEM model against the genes x genes one: settings and regulator sets.

For one BEELINE set (default mHSC-L TFs+500), ``tl.deepsem(adata, tfs=...)`` is trained with
``tf_rows_only=True`` under each setting given, and with ``tf_rows_only=False``, and scored on
the STRING and non-specific ChIP-seq networks (EPR, "deepsem" convention). ``--extra K ...``
adds K random non-TF genes to the regulator rows (the scoring only reads the TFs' rows), to see
how much the extra rows matter. Planted counts (``--planted``) compare on
``datasets.planted_counts`` instead, with Pearson and regdiffusion in the same run.

Usage::

    SCGRN_DATA_DIR=../shared/data python benchmarks/tf_rows_sweep.py \\
        --settings '{}' '{"alpha": 99.8}' '{"alpha": 3, "w_travel": 32}' --extra 100 250
    python benchmarks/tf_rows_sweep.py --planted --settings '{}' '{"alpha": 99.8}'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import scgrn


def _scores(adata, references: dict, key: str = "deepsem") -> dict:
    out = {}
    for name, ref in references.items():
        m = scgrn.metrics.evaluate_grn(adata, ref, key=key, convention="deepsem")
        out[name] = {k: round(float(m[k]), 3) for k in ("EPR", "AUPRC_ratio", "AUROC")}
    return out


def _by_communality(adata, genes: list, n_pcs: int = 50) -> list:
    """``genes`` by the share of their (standardised) variance that the top principal
    components explain, highest first."""
    x = adata[:, genes].X
    x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)
    x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-12)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    k = min(n_pcs, len(s))
    communality = ((s[:k, None] * vt[:k]) ** 2).sum(0) / len(x)
    return [genes[i] for i in np.argsort(-communality)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell-type", default="mHSC-L")
    parser.add_argument("--n-genes", type=int, default=500)
    parser.add_argument("--settings", nargs="*", default=["{}"], help="JSON dicts of tl.deepsem overrides")
    parser.add_argument("--extra", nargs="*", type=int, default=[], help="random non-TFs added to the regulator rows")
    parser.add_argument("--extra-choice", default="random", choices=["random", "communality"],
                        help="which non-TFs --extra adds: at random, or those whose expression the top 50 "
                             "principal components explain best (co-expression hubs)")
    parser.add_argument("--skip-genes-x-genes", action="store_true")
    parser.add_argument("--planted", action="store_true", help="planted_counts(500 genes, 50 TFs, 2000 cells)")
    args = parser.parse_args()

    if args.planted:
        adata, truth = scgrn.datasets.planted_counts(n_genes=500, n_cells=2000, n_tfs=50, random_state=1)
        references = {"planted": truth}
    else:
        adata, _ = scgrn.datasets.beeline(args.cell_type, n_genes=args.n_genes, ground_truth="STRING")
        references = {gt: scgrn.datasets.beeline(args.cell_type, n_genes=args.n_genes, ground_truth=gt)[1]
                      for gt in ("STRING", "non-specific-ChIP-seq")}
    tfs = list(adata.var_names[adata.var["is_tf"]])
    print(f"{adata.n_obs} cells x {adata.n_vars} genes, {len(tfs)} TFs", flush=True)

    runs = [("TF rows", json.loads(s), []) for s in args.settings]
    others = [g for g in adata.var_names if g not in set(tfs)]
    if args.extra_choice == "random":
        rng = np.random.default_rng(0)
        runs += [(f"TF rows + {k} random non-TF rows", {}, list(rng.choice(others, k, replace=False)))
                 for k in args.extra]
    else:
        ranked = _by_communality(adata, others)
        runs += [(f"TF rows + {k} non-TF rows of highest communality", {}, ranked[:k]) for k in args.extra]
    for label, setting, extra in runs:
        t0 = time.perf_counter()
        scgrn.tl.deepsem(adata, tfs=tfs + extra, tf_rows_only=True, show_progress_bar=False, **setting)
        print(json.dumps({"model": label, "setting": setting, **_scores(adata, references),
                          "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
    if args.skip_genes_x_genes:
        return
    t0 = time.perf_counter()
    scgrn.tl.deepsem(adata, tfs=tfs, tf_rows_only=False, show_progress_bar=False)
    print(json.dumps({"model": "genes x genes", **_scores(adata, references),
                      "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
    if args.planted:
        scgrn.tl.correlation(adata, tfs=tfs, key_added="pearson")
        print(json.dumps({"model": "Pearson", **_scores(adata, references, "pearson")}), flush=True)
        sys.path.insert(0, str(Path(__file__).parent))
        import peers

        adata.varp["regdiffusion"] = peers.run_regdiffusion(adata.X.toarray())
        print(json.dumps({"model": "regdiffusion", **_scores(adata, references, "regdiffusion")}), flush=True)


if __name__ == "__main__":
    main()
