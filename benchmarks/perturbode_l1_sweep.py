"""One PerturbODE setting on one simulated screen of benchmarks/perturbode.py (same split).

Prints one JSON line: recall at k, held-out wins against the linear additive baseline on the
energy distance, median energies. The rows of benchmarks/results/perturbode_l1_sweep.csv came from

    for s in 0 1 2 3 4; do for l1 in 0.1 0.3; do for w in 0.0 0.2; do
        OMP_NUM_THREADS=1 python benchmarks/perturbode_l1_sweep.py $s "{\"l1\": $l1, \"l1_warmup\": $w}"
    done; done; done

(plus single runs at l1 0.01 and 0.03). Keys are PerturbODE hyperparameters.
"""
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
warnings.filterwarnings("ignore")
import numpy as np, torch
torch.set_num_threads(1)
import perturbode as B
from scgrn.datasets import simulate_perturbation_screen
from scgrn.metrics import precision_recall_at_k
from scgrn.models import PerturbODE
seed = int(sys.argv[1]); kw = json.loads(sys.argv[2])
adata, net = simulate_perturbation_screen(n_genes=50, n_perturbations=20, n_double=10, n_cells_per_perturbation=100, n_control=500, random_state=seed)
labels_all = adata.obs["perturbation"].astype(str).to_numpy()
cats = list(adata.obs["perturbation"].cat.categories[1:])
rng = np.random.default_rng(1000 + seed)
doubles = [c for c in cats if "+" in c]; singles = [c for c in cats if "+" not in c]
held = list(rng.choice(doubles, 5, replace=False)) + list(rng.choice(singles, 5, replace=False))
train = adata[~adata.obs["perturbation"].isin(held)].copy()
X, labels = train.X, train.obs["perturbation"].astype(str).to_numpy()
model = PerturbODE(train, **kw)
t = time.time(); model.train(random_state=seed, show_progress_bar=False)
ctrl = X[labels == "control"]; sd = ctrl.std(0) + 1e-8
lin = B.LinearAdditive(X, labels, list(train.var_names))
pred = model.predict(held)
rec = precision_recall_at_k(model.get_grn(), net, var_names=list(train.var_names))["recall"]
wins = {"double": 0, "single": 0}; eo, el = [], []
for lab in held:
    obs = adata.X[labels_all == lab]
    e1 = B.energy_distance(pred.X[pred.obs["perturbation"] == lab] / sd, obs / sd); e2 = B.energy_distance(lin.predict(lab) / sd, obs / sd)
    wins["double" if "+" in lab else "single"] += int(e1 < e2); eo.append(e1); el.append(e2)
print(json.dumps(dict(seed=seed, kw=kw, secs=round(time.time()-t), recall=round(rec, 3), wins=wins, med_ode=round(float(np.median(eo)), 3), med_lin=round(float(np.median(el)), 3), energies=[round(v, 3) for v in eo])), flush=True)
