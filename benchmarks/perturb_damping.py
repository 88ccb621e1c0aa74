"""Knockouts through a DeepSEM member whose GRN loop gain is above 1: exact solve or damped ``W``?

An SEM ``h = h W + z`` with loop gain (spectral radius of ``W``) above 1 has no stable
equilibrium; ``DeepSEM.perturb`` still solves its intervened system exactly. This script
compares that with the same member's ``W`` scaled down to a loop gain of 0.9 or 0.5 for the
intervention (the model is otherwise unchanged; with the posterior mean, the unperturbed
decode does not depend on ``W``):

- **planted**: ``datasets.planted_network`` (30 genes, 300 cells; data seeds 0, 3, 4, 5),
  ``tl.perturb``'s settings with 30 epochs. The member with the largest gain alone (members
  chosen by patching ``choose_members``): per regulator, the mean |change| of its true targets
  over that of the other genes, and the share of true edges whose target moves the way the
  planted sign says (a knockout lowers an activated target).
- **papalexi**: the controls of the Papalexi screen and the DeepSEM model of
  ``benchmarks/perturbation.py`` (one member), seeds 0, 1, 2: Pearson r with the observed shift
  and sign agreement on the 50 most changed genes (that script's ``score``), and the correlation
  of the prediction with the one-regressor linear baseline's.

Usage::

    SCGRN_DATA_DIR=../shared/data OMP_NUM_THREADS=1 python benchmarks/perturb_damping.py
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import perturbation  # noqa: E402

import scgrn  # noqa: E402
from scgrn.models import _perturb  # noqa: E402
from scgrn.models._perturb import feedback_gain  # noqa: E402
from scgrn.tl._perturb import PERTURB_DEFAULTS  # noqa: E402

SETTINGS = [("exact", None), ("damped to 0.9", 0.9), ("damped to 0.5", 0.5)]


@contextmanager
def _scaled(model, gain_to):
    """Every member's ``W`` scaled to loop gain ``gain_to`` (members below it untouched) inside
    the block, and restored after it; ``gain_to=None`` leaves ``W`` as trained."""
    saved = model.module.adj.detach().clone()
    if gain_to is not None:
        factor = torch.as_tensor(np.minimum(1.0, gain_to / feedback_gain(model.module)), dtype=torch.float32)
        with torch.no_grad():
            model.module.adj.mul_(factor[:, None, None])
    try:
        yield
    finally:
        with torch.no_grad():
            model.module.adj.copy_(saved)


def planted_rows():
    for data_seed in (0, 3, 4, 5):
        adata, net = scgrn.datasets.planted_network(n_genes=30, n_cells=300, random_state=data_seed)
        adata.X = adata.X - adata.X.min(0)
        regulators = list(net["source"].unique())
        names = list(adata.var_names)
        model = scgrn.models.DeepSEM.from_array(adata.X, adata.var_names, **{**PERTURB_DEFAULTS, "n_epochs": 30})
        model.train(random_state=0, show_progress_bar=False)
        gains = feedback_gain(model.module)
        k = int(np.argmax(gains))
        original = _perturb.choose_members
        _perturb.choose_members = lambda gain, members: np.arange(len(gain)) == k
        try:
            for label, gain_to in SETTINGS:
                with _scaled(model, gain_to):
                    cells = model.perturb([{r: 0.0} for r in regulators])
                ratios, agree = [], []
                for i, r in enumerate(regulators):
                    change = cells.delta[i].mean(0)
                    edges = net[net["source"] == r]
                    targets = [names.index(t) for t in edges["target"]]
                    others = [j for j in range(len(names)) if j not in targets and names[j] != r]
                    ratios.append(np.abs(change[targets]).mean() / np.abs(change[others]).mean())
                    agree += list(np.sign(change[targets]) == -np.sign(edges["weight"].to_numpy()))
                print(f"planted seed {data_seed}, member gain {gains[k]:.2f}, {label}: target/other change "
                      f"min {min(ratios):.1f} median {np.median(ratios):.1f}, sign agreement {np.mean(agree):.2f}",
                      flush=True)
        finally:
            _perturb.choose_members = original


def papalexi_rows():
    adata = scgrn.datasets.papalexi2021()
    labels = adata.obs["perturbation"].astype(str).to_numpy()
    genes = list(adata.var_names)
    x = adata.X.toarray().astype(np.float64)
    controls = x[labels == "control"]
    ctrl = adata[labels == "control"].copy()
    targets = [str(g) for g in adata.uns["targets_measured"]]
    for seed in (0, 1, 2):
        model = perturbation.deepsem_model(controls, adata.var_names, seed, fast=False)
        gain = feedback_gain(model.module)
        for label, gain_to in SETTINGS:
            r, sign, with_linear = [], [], []
            with _scaled(model, gain_to):
                for target in targets:
                    t = genes.index(target)
                    predicted = perturbation.deepsem_shift(ctrl, model, target, seed)
                    observed = x[labels == target].mean(0) - controls.mean(0)
                    s = perturbation.score(observed, predicted, t)
                    keep = np.arange(len(genes)) != t
                    linear = perturbation.linear_one_regressor(controls, t)
                    r.append(s["r"])
                    sign.append(s["sign"])
                    with_linear.append(np.corrcoef(predicted[keep], linear[keep])[0, 1])
            print(f"papalexi seed {seed}, gain {np.round(gain, 2).tolist()}, {label}: mean r {np.mean(r):.3f} "
                  f"(per target {np.round(r, 2).tolist()}), sign {np.mean(sign):.3f}, "
                  f"r with the linear baseline {np.round(with_linear, 2).tolist()}", flush=True)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    planted_rows()
    papalexi_rows()
