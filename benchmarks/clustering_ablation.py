"""Ablation for benchmarks/results/clustering.md: does the learned GRN (W) matter to the embedding?

Runs the DeepSEM "embedding" preset as is, with W frozen at its initial value (lr_adj=0), and with
one epoch, on the four small clustering sets, seeds 0 and 1; prints mean ARI (protocol of
scgrn.bench.clustering). Usage: SCGRN_DATA_DIR=../shared/data python benchmarks/clustering_ablation.py
"""
import warnings, numpy as np, torch; warnings.filterwarnings("ignore"); torch.set_num_threads(1)
import scgrn


def main() -> None:
    for n in ["pollen2014_human_11types", "buettner2015_mESC_cellcycle", "yan2013_human_embryo", "pbmc68k_reduced"]:
        a = scgrn.bench.prepare_clustering(scgrn.datasets.clustering(n))
        for label, kw in [("preset", {}), ("W frozen (lr_adj=0)", {"lr_adj": 0.0}), ("1 epoch", {"n_epochs": 1})]:
            r = []
            for seed in (0, 1):
                x, _ = scgrn.bench.embed_cells(a, "deepsem", seed=seed, deepsem_kwargs=kw)
                r.append(scgrn.bench.score_embedding(a, x, seed=seed)["ARI"])
            print(n, label, np.round(r, 3), round(float(np.mean(r)), 3), flush=True)


if __name__ == "__main__":
    main()
