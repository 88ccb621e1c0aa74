"""DeepSEM training time on a small BEELINE curated set (19 genes, 2000 cells), interpolation
grid (default) vs exact MLP, width 128, 4 members, one torch thread.

    SCGRN_DATA_DIR=/work/shared/data python benchmarks/deepsem_grid_small_timing.py
"""
import os
import time
import warnings

import torch

import scgrn

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
folder = os.path.join(os.environ.get("SCGRN_DATA_DIR", "../shared/data"), "beeline/curated/GSD/GSD_2000_0")
adata = scgrn.datasets.read_beeline_folder(folder)
adata = adata[0] if isinstance(adata, tuple) else adata
print(adata.shape)
for grid in (512, None, 512, None):  # twice each, alternating
    copy = adata.copy()
    start = time.perf_counter()
    scgrn.tl.deepsem(copy, mlp_grid=grid, n_models=4, show_progress_bar=False)
    print(f"mlp_grid={grid}: {time.perf_counter() - start:.2f} s", flush=True)
