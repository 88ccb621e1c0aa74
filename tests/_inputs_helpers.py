"""Helpers shared by the input-check modules (tests/test_inputs_*.py).

Their fixtures (``krumsiek``, ``adata``, ``_close_figures``) are in conftest.py; a helper used by
one module only stays in that module. Importing this module selects matplotlib's Agg backend.
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
