"""What a benchmark records about where it ran: package versions and the CPU model."""

from __future__ import annotations

import importlib.metadata as md
import platform
from pathlib import Path


def version(pkg: str) -> str:
    """The installed version of ``pkg``, or ``"not installed"``."""
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return "not installed"


def cpu() -> str:
    """The CPU model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
