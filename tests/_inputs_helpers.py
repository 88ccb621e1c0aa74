"""Helpers shared by the input-check modules (tests/test_inputs_*.py).

Their fixtures (``krumsiek``, ``adata``, ``_close_figures``) are in conftest.py; a helper used by
one module only stays in that module. Importing this module selects matplotlib's Agg backend.

How to read those modules: they hold the input checks found by the adversarial runs (issue 18;
rows in docs/bad_inputs.md), one section per finding. Each test fails on the behaviour that was
found (a silently wrong result, or a raw error that names neither the argument nor the fix) and
passes with the fix in the shared checks (``scgrn._validate`` / ``scgrn._params``) or in the one
function concerned. A section without a run number is from the first run.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

#: ``pytestmark = closes_figures`` in a module that draws: every figure is closed after each test.
closes_figures = pytest.mark.usefixtures("_close_figures")

FAST_DEEPSEM = {"n_models": 2, "n_epochs": 2, "show_progress_bar": False}


def _small(adata, n=120):
    a = adata[:n].copy()
    a.X = np.clip(a.X, 0, None)
    return a


def _perturbed(adata):
    p = adata[:60].copy()
    p.layers["delta"] = np.zeros(p.shape, dtype=np.float32)
    p.var["delta"] = 0.0
    return p
