"""DeepSEM and regdiffusion at transcriptome scale on one device (made for a GPU session).

Issue 17 asks for GPU figures at 20,000 genes x 100,000 cells. Device time is short (15 minutes a
session here), so this is one prepared command: it generates the planted data once
(``datasets.planted_counts``, 10 % TFs, log-normalised CSR), then times, on ``--device``,

- ``scgrn``: the default ``tl.deepsem(adata, tfs=tfs, device=...)`` (TF rows above 2,000 genes,
  its ensemble rule, bfloat16 products with ``W`` where the device supports them) and, with
  ``--float32``, the same with ``grn_precision="float32"`` (does mixed precision keep accuracy?);
- ``regdiffusion``: its defaults (1,000 steps) on the dense matrix it needs (``--no-regdiffusion``
  to skip it);

and scores each GRN on the planted network ("deepsem" convention: TF rows). One JSON line per
method is printed and appended to ``--out`` (wall seconds, peak host RSS, peak device memory).
It runs on the CPU as well, which is how it is tested here::

    python benchmarks/gpu_scale.py --genes 500 --cells 1000 --device cpu --out /tmp/gpu_scale.jsonl

On the GPU machine (its image has torch, numpy, scipy, pandas, h5py, numba, tqdm, but not anndata,
scanpy or regdiffusion): carry their wheels for its python (3.12), built here with
``pip download -d wheels --python-version 3.12 --only-binary=:all: anndata scanpy regdiffusion``
(then drop what the image already has), and run from the repository root::

    pip install --no-index --find-links wheels anndata scanpy regdiffusion && \\
    PYTHONPATH=src python benchmarks/gpu_scale.py --genes 20000 --cells 100000 --device cuda \\
        --float32 --out $OUT/gpu_scale.jsonl

(untested on the GPU machine: no session with one has run it yet.) Budget: generating the data
takes about 5 minutes at 20,000 x 100,000 (14.7 s for 5,000 cells on this project's 2-core box;
9 x 10^8 non-zeros, about 7 GB as CSR), and one device command may run 10 minutes, so a first
call with ``--no-regdiffusion`` and a second without ``--float32`` and with regdiffusion may be
needed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import cpu  # noqa: E402
from scale import _auprc, _data  # noqa: E402  (the planted data and the score of scale.py)


def _device_peak_gb(device: str) -> float | None:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 1e9
    return None


def _reset_device_peak(device: str) -> None:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def run_scgrn(adata, truth, device: str, precision: str | None) -> dict:
    import scgrn

    tfs = list(adata.var_names[adata.var["is_tf"]])
    extra = {} if precision is None else {"grn_precision": precision}
    _reset_device_peak(device)
    t0 = time.perf_counter()
    out = scgrn.tl.deepsem(adata, tfs=tfs, device=device, embedding=False, show_progress_bar=False, copy=True, **extra)
    seconds = time.perf_counter() - t0
    params = out.uns["deepsem"]["params"]
    return {"method": "scgrn", "grn_precision_setting": params["grn_precision"], "members": params["n_models"],
            "n_steps": params["n_steps"], "tf_rows_only": params["tf_rows_only"], "seconds": round(seconds, 1),
            "device_peak_gb": _device_peak_gb(device), **_auprc(out.varp["deepsem"], adata, truth)}


def run_regdiffusion(adata, truth, device: str) -> dict:
    import regdiffusion as rd

    x = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
    _reset_device_peak(device)
    t0 = time.perf_counter()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):  # its progress bar has no switch
        trainer = rd.RegDiffusionTrainer(x.astype(np.float32), device=device, seed=0)
        trainer.train()
    grn = np.asarray(trainer.get_adj(), dtype=np.float32)
    seconds = time.perf_counter() - t0
    return {"method": "regdiffusion", "n_steps": 1000, "seconds": round(seconds, 1),
            "device_peak_gb": _device_peak_gb(device), **_auprc(grn, adata, truth)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--cells", type=int, default=100000)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--float32", action="store_true", help="also run scgrn with grn_precision='float32'")
    parser.add_argument("--no-regdiffusion", action="store_true")
    parser.add_argument("--out", default="gpu_scale.jsonl")
    args = parser.parse_args()
    import torch

    adata, truth, generate_s = _data(args.genes, args.cells)
    base = {"genes": args.genes, "cells": args.cells, "tfs": args.genes // 10, "device": args.device,
            "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else cpu(),
            "torch": torch.__version__, "python": platform.python_version(), "generate_s": round(generate_s, 1),
            "date": time.strftime("%Y-%m-%d %H:%M")}
    runs = [lambda: run_scgrn(adata, truth, args.device, None)]
    if args.float32:
        runs.append(lambda: run_scgrn(adata, truth, args.device, "float32"))
    if not args.no_regdiffusion:
        runs.append(lambda: run_regdiffusion(adata, truth, args.device))
    for run in runs:
        row = {**base, **run(), "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}
        print(json.dumps(row), flush=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
