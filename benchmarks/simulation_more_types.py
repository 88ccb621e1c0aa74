"""Realism and closeness on the mouse bladder types the main benchmark leaves out.

benchmarks/simulation.py scores the three bladder types with >= 260 cells. This script runs the
same protocol (1000 HVGs, 80/20 split, 5 repeats, 100 trees) on the types with 100-259 cells,
for scgrn and the two baselines, as a check that the sampler was not fitted to the scored types.
Writes benchmarks/results/simulation_more_types.csv.

    SCGRN_DATA_DIR=/work/shared/data python benchmarks/simulation_more_types.py
"""
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import simulation as S  # noqa: E402

import scgrn  # noqa: E402

warnings.filterwarnings("ignore")
ad, key, types, tr, te = S.load_bladder(1000, 100)
counts = ad.obs[key].astype(str).value_counts()
labels = ad.obs[key].astype(str).to_numpy()
rows = []
for ct in [t for t in types if counts[t] < 260]:
    train = ad[tr[labels[tr] == ct]].copy()
    test = ad[te[labels[te] == ct]].copy()
    t = time.perf_counter()
    sims = {"scgrn": (scgrn.tl.simulate(train, random_state=0, show_progress_bar=False), time.perf_counter() - t)}
    for method in ("independent", "copula"):
        sims[method] = (scgrn.tl.simulate_baseline(train, method=method, random_state=0), 0.0)
    rows += S.realism_rows("mouse_bladder", ct, train, test, sims, 5, 100)
    print(pd.DataFrame(rows).tail(4)[["cell_type", "simulator", "realism_auc", "ratio"]].to_string(), flush=True)
out = pd.DataFrame(rows)
out.to_csv(S.OUT / "simulation_more_types.csv", index=False)
print(out.groupby("simulator", sort=False)[["realism_auc", "ratio", "closer_than_heldout_p5"]].mean().round(3))
