"""One PerturbODE setting on one simulated screen of benchmarks/perturbode.py (same split).

Prints one JSON line: recall at k, held-out wins against the linear additive baseline on the
energy distance, median energies. The rows of benchmarks/results/perturbode_l1_sweep.csv came from

    for s in 0 1 2 3 4; do for l1 in 0.1 0.3; do for w in 0.0 0.2; do
        OMP_NUM_THREADS=1 python benchmarks/perturbode_l1_sweep.py $s "{\\"l1\\": $l1, \\"l1_warmup\\": $w}"
    done; done; done

(plus single runs at l1 0.01 and 0.03). Keys are PerturbODE hyperparameters.
"""
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import perturbode as bench  # noqa: E402

from scgrn.datasets import simulate_perturbation_screen  # noqa: E402
from scgrn.metrics import energy_distance, precision_recall_at_k  # noqa: E402
from scgrn.models import PerturbODE  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(1)


def held_out_split(adata, seed):
    """The 5 doubles + 5 singles benchmarks/perturbode.py holds out for this seed."""
    cats = list(adata.obs["perturbation"].cat.categories[1:])
    rng = np.random.default_rng(1000 + seed)
    doubles = [c for c in cats if "+" in c]
    singles = [c for c in cats if "+" not in c]
    return list(rng.choice(doubles, 5, replace=False)) + list(rng.choice(singles, 5, replace=False))


def main(seed: int, hyperparameters: dict) -> dict:
    adata, net = simulate_perturbation_screen(
        n_genes=50, n_perturbations=20, n_double=10, n_cells_per_perturbation=100, n_control=500,
        random_state=seed,
    )
    labels_all = adata.obs["perturbation"].astype(str).to_numpy()
    held = held_out_split(adata, seed)
    train = adata[~adata.obs["perturbation"].isin(held)].copy()
    x, labels = train.X, train.obs["perturbation"].astype(str).to_numpy()
    genes = list(train.var_names)

    model = PerturbODE(train, **hyperparameters)
    start = time.time()
    model.train(random_state=seed, show_progress_bar=False)
    seconds = time.time() - start

    sd = x[labels == "control"].std(0) + 1e-8
    linear = bench.LinearAdditive(x, labels, genes)
    pred = model.predict(held)
    wins = {"double": 0, "single": 0}
    ode, lin = [], []
    for label in held:
        observed = adata.X[labels_all == label] / sd
        ode.append(energy_distance(pred.X[pred.obs["perturbation"] == label] / sd, observed))
        lin.append(energy_distance(linear.predict(label) / sd, observed))
        wins["double" if "+" in label else "single"] += int(ode[-1] < lin[-1])
    return dict(
        seed=seed, kw=hyperparameters, secs=round(seconds),
        recall=round(precision_recall_at_k(model.get_grn(), net, var_names=genes)["recall"], 3),
        wins=wins, med_ode=round(float(np.median(ode)), 3), med_lin=round(float(np.median(lin)), 3),
        energies=[round(v, 3) for v in ode],
    )


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), json.loads(sys.argv[2]))), flush=True)
