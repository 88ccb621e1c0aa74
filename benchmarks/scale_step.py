"""One TF-rows training step at transcriptome scale: its time and the training's peak memory.

``time``: ``train_deepsem`` capped at 2 and at 8 steps (after a 1-step warm-up) on planted
counts of 1,000 cells; the difference over 6 steps is the cost of a step (wall and process CPU).
``memory``: ``tl.deepsem`` capped at ``--steps`` steps, resident memory sampled every 50 ms
(the peak minus the input's is training's own)::

    python benchmarks/scale_step.py time --genes 20000
    python benchmarks/scale_step.py time --genes 5000 --tfs 1000   # genes at a fixed TF count
    python benchmarks/scale_step.py memory --genes 20000 --cells 5000 --steps 3 --members 8

To compare with an earlier commit, run the same command with ``PYTHONPATH`` pointing at a
``git worktree`` of it (``PYTHONPATH=/tmp/old/src python benchmarks/scale_step.py time``).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import threading
import time

import numpy as np


def _planted(n_genes: int, n_cells: int, n_tfs: int | None = None):
    import scgrn

    n_tfs = n_genes // 10 if n_tfs is None else n_tfs
    adata, _ = scgrn.datasets.planted_counts(n_genes=n_genes, n_cells=n_cells, n_tfs=n_tfs, random_state=0)
    del adata.layers["counts"]
    return adata


def step_time(n_genes: int, n_tfs: int | None = None) -> dict:
    from scgrn.models import make_config
    from scgrn.models._deepsem_training import train_deepsem

    adata = _planted(n_genes, 1000, n_tfs)
    regulators = np.flatnonzero(adata.var["is_tf"].to_numpy())

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    train_deepsem(adata.X, make_config(max_steps=1), regulators=regulators, show_progress_bar=False)
    spent = {}
    for steps in (2, 8):
        c, t = cpu(), time.perf_counter()
        train_deepsem(adata.X, make_config(max_steps=steps), regulators=regulators, show_progress_bar=False)
        spent[steps] = (cpu() - c, time.perf_counter() - t)
    return {"genes": n_genes, "tfs": len(regulators), "members": make_config().n_models, "wall_s_per_step": (spent[8][1] - spent[2][1]) / 6,
            "cpu_s_per_step": (spent[8][0] - spent[2][0]) / 6, "load": os.getloadavg()[0]}


def training_memory(n_genes: int, n_cells: int, steps: int, members: int | None) -> dict:
    import scgrn

    peak = [0.0]

    def rss() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], rss())
            time.sleep(0.05)

    adata = _planted(n_genes, n_cells)
    input_gb = rss()
    threading.Thread(target=sample, daemon=True).start()
    tfs = list(adata.var_names[adata.var["is_tf"]])
    scgrn.tl.deepsem(adata, tfs=tfs, max_steps=steps, n_models=members, show_progress_bar=False)
    time.sleep(0.2)
    return {"genes": n_genes, "cells": n_cells, "steps": steps, "input_gb": input_gb, "peak_gb": peak[0],
            "training_gb": peak[0] - input_gb, "members": adata.uns["deepsem"]["params"]["n_models"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["time", "memory"])
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--cells", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--tfs", type=int, default=None, help="time: TFs (default 10 %% of the genes)")
    parser.add_argument("--members", type=int, default=None, help="memory: n_models (default: tl.deepsem's rule)")
    args = parser.parse_args()
    row = step_time(args.genes, args.tfs) if args.kind == "time" else training_memory(args.genes, args.cells, args.steps, args.members)
    print(json.dumps({"kind": args.kind, **row, "date": time.strftime("%Y-%m-%d %H:%M")}))


if __name__ == "__main__":
    main()
