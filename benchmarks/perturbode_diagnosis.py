"""Two diagnoses behind the choice of PerturbODE's L1 weight and warm-up.

1. In-sample vs held-out fit (seed-0 screen and split of benchmarks/perturbode.py, the old
   setting L1 0.01 without warm-up): energy distance of PerturbODE and of the linear additive
   baseline to the observed cells of every training and held-out perturbation.
2. The planted 3-gene system of tests/test_perturbode.py (a -> b, 2 modules, 250 epochs):
   final training loss and |GRN| max for L1 0.1 / 0.3 with and without a 20 % warm-up.

Writes benchmarks/results/perturbode_diagnosis_fit.csv and perturbode_diagnosis_planted.csv.

    OMP_NUM_THREADS=1 python benchmarks/perturbode_diagnosis.py
"""
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import perturbode as bench  # noqa: E402
from perturbode_l1_sweep import held_out_split  # noqa: E402
from test_perturbode import _planted_pair  # noqa: E402

from scgrn.datasets import simulate_perturbation_screen  # noqa: E402
from scgrn.metrics import energy_distance  # noqa: E402
from scgrn.models import PerturbODE  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
OUT = HERE / "results"


def fit_rows(seed: int = 0, **hyperparameters) -> pd.DataFrame:
    adata, _ = simulate_perturbation_screen(
        n_genes=50, n_perturbations=20, n_double=10, n_cells_per_perturbation=100, n_control=500,
        random_state=seed,
    )
    labels_all = adata.obs["perturbation"].astype(str).to_numpy()
    held = held_out_split(adata, seed)
    train = adata[~adata.obs["perturbation"].isin(held)].copy()
    x, labels = train.X, train.obs["perturbation"].astype(str).to_numpy()
    trained = sorted(set(labels) - {"control"})
    model = PerturbODE(train, **hyperparameters)
    model.train(random_state=seed, show_progress_bar=False)
    sd = x[labels == "control"].std(0) + 1e-8
    linear = bench.LinearAdditive(x, labels, list(train.var_names))
    pred = model.predict(trained + held)
    rows = []
    for label in trained + held:
        observed = adata.X[labels_all == label] / sd
        rows.append(dict(
            perturbation=label, split="held out" if label in held else "training",
            perturbode=energy_distance(pred.X[pred.obs["perturbation"] == label] / sd, observed),
            linear_additive=energy_distance(linear.predict(label) / sd, observed),
        ))
    return pd.DataFrame(rows)


def planted_rows() -> pd.DataFrame:
    adata = _planted_pair()
    rows = []
    for l1 in (0.1, 0.3):
        for warmup in (0.0, 0.2):
            model = PerturbODE(adata, n_modules=2, n_epochs=250, batch_size=64, l1=l1, l1_warmup=warmup)
            model.train(random_state=0, show_progress_bar=False)
            grn = model.get_grn()
            rows.append(dict(l1=l1, l1_warmup=warmup, final_loss=float(model.history["loss"][-1]),
                             grn_a_to_b=float(grn[0, 1]), grn_abs_max=float(np.abs(grn).max())))
    return pd.DataFrame(rows)


if __name__ == "__main__":
    fit = fit_rows(0, l1=0.01, l1_warmup=0.0)
    fit.to_csv(OUT / "perturbode_diagnosis_fit.csv", index=False)
    print(fit.groupby("split")[["perturbode", "linear_additive"]].agg(["min", "median", "max"]).round(3))
    planted = planted_rows()
    planted.to_csv(OUT / "perturbode_diagnosis_planted.csv", index=False)
    print(planted.round(3).to_string(index=False))
