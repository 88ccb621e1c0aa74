"""DeepSEM on krumsiek11 over three seeds, four MLP settings (width 128/32, grid/exact).

Usage::

    python benchmarks/deepsem_krumsiek_seeds.py
"""

import warnings

import scgrn

warnings.filterwarnings("ignore")
adata, truth = scgrn.datasets.krumsiek11()
SETTINGS = [("default (width 128, grid)", {}), ("width 32, grid", dict(hidden_dim=32)),
            ("width 128, exact", dict(mlp_grid=None)), ("width 32, exact", dict(hidden_dim=32, mlp_grid=None))]
for label, overrides in SETTINGS:
    scores = []
    for seed in range(3):
        out = scgrn.tl.deepsem(adata, copy=True, random_state=seed, show_progress_bar=False, **overrides)
        m = scgrn.metrics.evaluate_grn(out, truth, convention="beeline")
        scores.append(f"EPR {m['EPR']:.2f} AUROC {m['AUROC']:.3f}")
    print(f"{label}: " + " | ".join(scores), flush=True)
