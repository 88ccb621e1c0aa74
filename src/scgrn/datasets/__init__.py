"""Datasets: BEELINE loaders, krumsiek11 with its true network, and planted-network simulations
(continuous, and sparse counts at transcriptome scale).

Real benchmark data are read from a folder given by ``data_dir=`` or the ``SCGRN_DATA_DIR``
environment variable (see :func:`data_dir`).
"""

from ._beeline import beeline, beeline_synthetic, list_beeline, read_beeline_folder
from ._krumsiek11 import krumsiek11
from ._paths import data_dir
from ._planted import planted_network
from ._planted_counts import planted_counts

__all__ = [
    "beeline",
    "beeline_synthetic",
    "list_beeline",
    "read_beeline_folder",
    "krumsiek11",
    "planted_network",
    "planted_counts",
    "data_dir",
]

from ._dream4 import dream4, planted_time_series  # noqa: E402

__all__ += ["dream4", "planted_time_series"]

from ._perturbation import crop_seq, simulate_perturbation_screen  # noqa: E402

__all__ += ["simulate_perturbation_screen", "crop_seq"]

from ._clustering import clustering, list_clustering, mouse_bladder  # noqa: E402

__all__ += ["clustering", "list_clustering", "mouse_bladder"]

from ._tfs import tf_list  # noqa: E402

__all__ += ["tf_list"]

from ._perturbation import papalexi2021  # noqa: E402

__all__ += ["papalexi2021"]
