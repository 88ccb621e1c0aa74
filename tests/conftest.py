"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]


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
