"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import scgrn

_REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    """One torch thread for the test session, unless ``OMP_NUM_THREADS`` says otherwise.

    The models under test are tiny: on an idle 2-core machine one thread is as fast as torch's
    default of one per core (the three slowest training tests: 13.3 s against 13.7 s), while next
    to other busy processes (CI beside other jobs) the default's threads spin against each other:
    the same tests ran 3-5x longer (test_l1_warmup...: 16 s with one thread, 88 s with two).
    """
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)


@pytest.fixture
def shared_data_dir(monkeypatch) -> Path:
    """The benchmark data folder (``$SCGRN_DATA_DIR``) for tests marked ``realdata``.

    In CI (``CI=true``) a missing or empty ``SCGRN_DATA_DIR`` *fails* the test rather than
    skipping it, so real-data checks never silently disappear. Locally the test falls back to
    ``<repo>/../shared/data`` when that folder exists, and skips otherwise. The fixture sets
    ``SCGRN_DATA_DIR`` for the test, so loaders called without ``data_dir=`` find the data.
    """
    env = os.environ.get("SCGRN_DATA_DIR", "").strip()
    in_ci = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            pytest.fail(f"SCGRN_DATA_DIR={env!r} is not a folder.")
    elif in_ci:
        pytest.fail("CI=true but SCGRN_DATA_DIR is not set: real-data tests must run in CI.")
    else:
        path = _REPO.parent / "shared" / "data"
        if not path.is_dir():
            pytest.skip("SCGRN_DATA_DIR is not set (set it to run real-data tests).")
    monkeypatch.setenv("SCGRN_DATA_DIR", str(path))
    return path


# -- trained once, handed out as copies --------------------------------------------------------
# A model trained for tests that only read its results is trained once (a session- or
# module-scoped fixture, named with a leading underscore) and every test gets its own copy from a
# function-scoped fixture, so no test can change what another one sees. Fixtures whose data are
# defined in one test module live in that module (test_deepsem_scale, test_perturbode,
# test_clustering), next to the data.
@pytest.fixture(scope="session")
def _krumsiek_deepsem():
    adata, truth = scgrn.datasets.krumsiek11()
    scgrn.tl.deepsem(adata, n_models=4, n_epochs=60, show_progress_bar=False)
    return adata, truth


@pytest.fixture
def krumsiek_deepsem(_krumsiek_deepsem):
    """krumsiek11 and its true network, after ``tl.deepsem(n_models=4, n_epochs=60)``: a copy."""
    adata, truth = _krumsiek_deepsem
    return adata.copy(), truth.copy()


# -- the input-check modules (test_inputs_*.py) ------------------------------------------------
# Fixtures shared by the modules holding the checks found by the adversarial runs (issue 18); their
# other helpers are in _inputs_helpers.py. A module that defines its own `krumsiek` or `adata`
# fixture (test_deepsem, test_groups, ...) uses that one.
@pytest.fixture
def krumsiek():
    a, truth = scgrn.datasets.krumsiek11()
    return a, truth


@pytest.fixture
def adata(krumsiek):
    return krumsiek[0]


@pytest.fixture
def krumsiek200():
    """krumsiek11 cut to 200 cells (clipped at 0), with its Pearson network in varp."""
    a, _ = scgrn.datasets.krumsiek11()
    a = a[::3][:200].copy()
    a.X = a.X.clip(0)
    scgrn.tl.correlation(a)
    return a


@pytest.fixture
def _close_figures():
    """Closes every matplotlib figure after the test (``_inputs_helpers.closes_figures`` marks a module with it)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
