"""scgrn: gene regulatory network inference from single-cell data, scanpy-style.

>>> import scgrn
>>> adata, truth = scgrn.datasets.krumsiek11()
>>> adata.shape
(640, 11)
"""

__version__ = "0.1.0"

from ._settings import settings
from . import pp, tl, pl, get, metrics, datasets, models

__all__ = ["pp", "tl", "pl", "get", "metrics", "datasets", "models", "settings", "__version__"]

from . import bench  # noqa: E402

__all__ += ["bench"]
