"""Peer GRN methods for the benchmarks (optional extra `peers`: regdiffusion, grn-dazzle).

Each runner takes a cells x genes log-expression matrix and returns a genes x genes
matrix, row = regulator, column = target (both packages already use that orientation).
Results are cached under ``benchmarks/cache`` keyed by dataset and method, with the wall
time of the run, so that slow peers (the DeepSEM configuration of grn-dazzle takes
minutes per dataset on 2 CPU cores) need not be re-run for every scgrn change.

Run it directly to fill the cache::

    python benchmarks/peers.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import numpy as np

CACHE = Path(__file__).parent / "cache"

#: the BEELINE sets with expression in ../shared/data, and their ground truths
DATASETS = {
    "mESC-500": ("mESC", 500, ["STRING", "non-specific-ChIP-seq", "cell-type-specific-ChIP-seq", "lofgof"]),
    "mHSC-L-500": ("mHSC-L", 500, ["STRING", "non-specific-ChIP-seq", "cell-type-specific-ChIP-seq"]),
    "mHSC-L-1000": ("mHSC-L", 1000, ["STRING", "non-specific-ChIP-seq", "cell-type-specific-ChIP-seq"]),
}


def run_regdiffusion(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """regdiffusion with its defaults (1000 steps), on CPU."""
    import regdiffusion as rd

    trainer = rd.RegDiffusionTrainer(x, device="cpu", seed=seed)
    trainer.train()
    return np.asarray(trainer.get_adj(), dtype=np.float32)


def _run_dazzle(x: np.ndarray, configs_name: str, seed: int) -> np.ndarray:
    import torch
    from dazzle import runner

    configs = copy.deepcopy(getattr(runner, configs_name))
    configs["cuda"] = False
    np.random.seed(seed)
    torch.manual_seed(seed)
    model, _ = runner.runDAZZLE(x, configs, progress_bar=False)
    return np.asarray(model.get_adj(), dtype=np.float32)


def run_dazzle_deepsem(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """grn-dazzle's DEFAULT_DEEPSEM_CONFIGS: its CPU re-implementation of DeepSEM (one model)."""
    return _run_dazzle(x, "DEFAULT_DEEPSEM_CONFIGS", seed)


def run_dazzle(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """grn-dazzle's DEFAULT_DAZZLE_CONFIGS: DeepSEM with dropout augmentation (one model)."""
    return _run_dazzle(x, "DEFAULT_DAZZLE_CONFIGS", seed)


PEERS = {"regdiffusion": run_regdiffusion, "DAZZLE-DeepSEM": run_dazzle_deepsem, "DAZZLE": run_dazzle}


def peer_result(method: str, dataset: str, x: np.ndarray, *, seed: int = 0, refresh: bool = False):
    """``(matrix, seconds, cached)`` for a peer on a dataset, from the cache when present."""
    path = CACHE / dataset / f"{method}_seed{seed}.npz"
    if path.exists() and not refresh:
        with np.load(path) as f:
            return f["grn"], float(f["seconds"]), True
    t0 = time.perf_counter()
    grn = PEERS[method](x, seed=seed)
    seconds = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, grn=grn, seconds=seconds)
    return grn, seconds, False


def load_expression(data_dir: str | Path, cell_type: str, n_genes: int):
    """Cells x genes float32 matrix and gene names, read as BEELINE ships them (genes x cells)."""
    import pandas as pd

    path = Path(data_dir) / "beeline" / "scRNA-seq" / cell_type / f"TFs+{n_genes}" / "ExpressionData.csv.gz"
    e = pd.read_csv(path, index_col=0)
    return e.T.to_numpy(np.float32), list(e.index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("SCGRN_DATA_DIR", "../shared/data"))
    parser.add_argument("--methods", nargs="+", default=list(PEERS))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--refresh", action="store_true")
    args = parser.parse_args()
    for dataset in args.datasets:
        cell_type, n_genes, _ = DATASETS[dataset]
        x, _ = load_expression(args.data_dir, cell_type, n_genes)
        for method in args.methods:
            _, seconds, cached = peer_result(method, dataset, x, refresh=args.refresh)
            print(f"{dataset:12s} {method:16s} {seconds:8.1f} s {'(cached)' if cached else ''}", flush=True)


if __name__ == "__main__":
    main()
