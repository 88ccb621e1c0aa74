"""Realism and closeness of DeepSEM simulation over a grid of sampling settings (PBMC).

The protocol of benchmarks/simulation.py on pbmc68k_reduced (80/20 split, the three types
with >= 90 cells); one model per type trained with tl.simulate's recipe, then every setting
simulates as many cells as the type has training cells through ``DeepSEM.simulate``
(fixed noise scale and neighbours, no "auto"). Realism AUC: mean of 5 repeats, held-out
cells vs as many simulated cells. Writes benchmarks/results/simulation_sampling_grid.csv.

    SCGRN_DATA_DIR=/work/shared/data python benchmarks/simulation_sampling_grid.py
"""
import itertools
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import simulation as S  # noqa: E402

import scgrn  # noqa: E402
from scgrn.tl._simulate import SIMULATION_DEFAULTS, _auto_epochs  # noqa: E402

warnings.filterwarnings("ignore")
SETTINGS = (
    [dict(neighbours=1, noise_scale=c, spread=sp, technical_noise="none") for c, sp in
     itertools.product([1, 2, 4, 8, 24], [0.0, 0.4])]
    + [dict(neighbours=1, noise_scale=c, spread=0.0, technical_noise="poisson") for c in [0.5, 1, 2, 4]]
    + [dict(neighbours=k, noise_scale=c, spread=0.0, technical_noise=t) for k, c, t in
       itertools.product([3, 5, 10, 20], [0.0, 0.5, 1.0], ["poisson", "none"])]
)
ad, key, types, tr, te = S.load_pbmc(90)
labels = ad.obs[key].to_numpy()
rows = []
for ct in types:
    train = ad[tr[labels[tr] == ct]].copy()
    test = S.dense(ad[te[labels[te] == ct]].X)
    xtr = S.dense(train.X)
    model = scgrn.models.DeepSEM.from_array(
        xtr, train.var_names, **SIMULATION_DEFAULTS, n_epochs=_auto_epochs(len(xtr), SIMULATION_DEFAULTS["batch_size"]))
    model.train(random_state=0, show_progress_bar=False)
    for kw in SETTINGS:
        t = time.perf_counter()
        xs = model.simulate(len(xtr), random_state=0, **kw).X
        rng = np.random.default_rng(0)
        aucs = [scgrn.metrics.realism_auc(test, xs[rng.choice(len(xs), len(test), replace=False)], random_state=r)
                for r in range(5)]
        close = scgrn.metrics.simulation_closeness(xtr, xs, test)
        rows.append(dict(cell_type=ct, **kw, realism_auc=np.mean(aucs), ratio=close["ratio"],
                         closer_than_heldout_p5=close["closer_than_heldout_p5"],
                         cell_total_sd_ratio=xs.sum(1).std() / xtr.sum(1).std(), seconds=time.perf_counter() - t))
        print(ct, kw, round(rows[-1]["realism_auc"], 3), round(close["ratio"], 3), flush=True)
out = pd.DataFrame(rows)
out.to_csv(S.OUT / "simulation_sampling_grid.csv", index=False)
mean = out.groupby(["neighbours", "noise_scale", "spread", "technical_noise"], sort=False)[
    ["realism_auc", "ratio", "closer_than_heldout_p5", "cell_total_sd_ratio"]].mean().round(3)
print(mean.to_string())
