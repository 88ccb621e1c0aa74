"""DeepSEM training time on a small BEELINE curated set (19 genes, 2000 cells), interpolation
grid (default) vs exact MLP, width 128, 4 members, one torch thread.

    SCGRN_DATA_DIR=/work/shared/data python benchmarks/deepsem_grid_small_timing.py
"""
import os
import time, warnings, sys
warnings.filterwarnings("ignore")
import torch; torch.set_num_threads(1)
import scgrn
ad = scgrn.datasets.read_beeline_folder(os.path.join(os.environ.get("SCGRN_DATA_DIR", "../shared/data"), "beeline/curated/GSD/GSD_2000_0"))
ad = ad[0] if isinstance(ad, tuple) else ad
print(ad.shape)
for grid in [512, None, 512, None]:
    a = ad.copy(); t = time.perf_counter()
    scgrn.tl.deepsem(a, mlp_grid=grid, n_models=4, show_progress_bar=False)
    print("grid", grid, round(time.perf_counter() - t, 2), "s", flush=True)
