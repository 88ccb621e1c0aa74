"""Tools: run a method on an AnnData and write documented keys."""

from ._deepsem import deepsem

__all__ = ["deepsem"]

from ._pair_classifier import pair_classifier  # noqa: E402
from ._timeseries import dyngenie3, time_lagged_correlation  # noqa: E402

__all__ += ["pair_classifier", "time_lagged_correlation", "dyngenie3"]

from ._perturbode import perturbode  # noqa: E402

__all__ += ["perturbode"]

from ._correlation import correlation, partial_correlation  # noqa: E402
from ._information import pidc  # noqa: E402
from ._trees import genie3, grnboost2  # noqa: E402

__all__ += ["grnboost2", "genie3", "correlation", "partial_correlation", "pidc"]

from ._clustering import leiden_matched  # noqa: E402

__all__ += ["leiden_matched"]

from ._simulate import simulate, simulate_baseline  # noqa: E402

__all__ += ["simulate", "simulate_baseline"]

from ._registry import grn_methods  # noqa: E402

__all__ += ["grn_methods"]

from ._activity import tf_activity  # noqa: E402

__all__ += ["tf_activity"]

from ._perturb import perturb  # noqa: E402

__all__ += ["perturb"]
