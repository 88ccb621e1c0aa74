"""The registered GRN methods run the way a user would, on tiny data (shared by the contract
tests and the input-check modules that loop over the registry)."""

from __future__ import annotations

import anndata as ad

import scgrn

REGISTRY = scgrn.tl.grn_methods()

#: tiny settings per method, so each call takes well under a second
FAST = {
    "deepsem": dict(n_models=1, n_epochs=1, hidden_dim=8),
    "grnboost2": dict(n_estimators=10, n_jobs=1),
    "genie3": dict(n_estimators=5, n_jobs=1),
    "dyngenie3": dict(n_estimators=5, n_jobs=1),
    "perturbode": dict(n_epochs=2, n_modules=2, batch_size=8),
}


def method_data(kind: str) -> ad.AnnData:
    """Tiny data of one registry input kind: ``expression``, ``time_series`` or a screen."""
    if kind == "expression":
        adata, _ = scgrn.datasets.planted_network(n_genes=8, n_cells=40, n_regulators=2, targets_per_regulator=2)
    elif kind == "time_series":
        adata, _ = scgrn.datasets.planted_time_series(n_genes=6, n_series=3, n_times=6)
    else:
        adata, _ = scgrn.datasets.simulate_perturbation_screen(
            n_genes=8, n_perturbations=3, n_double=0, n_cells_per_perturbation=15, n_control=20
        )
    return adata


def call_method(name: str, adata, **kwargs):
    """Run registered method ``name`` the way a user would: its function with its kwargs."""
    row = REGISTRY.loc[name]
    kw = {**row.kwargs, **FAST.get(name, {})}
    if row.progress_bar:
        kw["show_progress_bar"] = False
    kw.update(kwargs)
    return getattr(scgrn.tl, row.function)(adata, **kw)
