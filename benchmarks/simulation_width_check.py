"""Realism AUC on pbmc68k_reduced for a few ``tl.simulate`` overrides (protocol of benchmarks/simulation.py).

Usage::

    python benchmarks/simulation_width_check.py '{"base": {}, "h128grid": {"hidden_dim": 128, "mlp_grid": 512}}'
"""
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import simulation as S  # noqa: E402

import scgrn  # noqa: E402

warnings.filterwarnings("ignore")
settings = json.loads(sys.argv[1])
ad, key, types, tr, te = S.load_pbmc(90)
for label, kw in settings.items():
    aucs = []; t0 = time.perf_counter()
    for ct in types:
        mask_tr = ad.obs[key].to_numpy()[tr] == ct
        mask_te = ad.obs[key].to_numpy()[te] == ct
        train = ad[tr][mask_tr].copy(); test = ad[te][mask_te].copy()
        sim = scgrn.tl.simulate(train, random_state=0, show_progress_bar=False, **kw)
        rows = S.realism_rows("pbmc", ct, train, test, {"scgrn": (sim, 0)}, 5, 100)
        r = [x for x in rows if x["simulator"] == "scgrn"][0]
        aucs.append(r["realism_auc"])
        print(label, ct, round(r["realism_auc"], 3), "ratio", round(r.get("ratio", np.nan), 3), "p5", round(r.get("closer_than_heldout_p5", np.nan), 3), flush=True)
    print("==", label, "mean", round(float(np.mean(aucs)), 3), f"{time.perf_counter()-t0:.0f} s", flush=True)
