"""Datasets: BEELINE loaders, krumsiek11 with its true network, and planted-network simulations.

Real benchmark data are read from a folder given by ``data_dir=`` or the ``SCGRN_DATA_DIR``
environment variable (see :func:`data_dir`).
"""

from ._beeline import beeline, beeline_synthetic, list_beeline, read_beeline_folder
from ._krumsiek11 import krumsiek11
from ._paths import data_dir
from ._planted import planted_network

__all__ = [
    "beeline",
    "beeline_synthetic",
    "list_beeline",
    "read_beeline_folder",
    "krumsiek11",
    "planted_network",
    "data_dir",
]
