"""Plotting: matplotlib figures that follow scanpy's ``ax``/``show``/``return_fig`` convention."""

from ._grn import grn
from ._history import training_history

__all__ = ["grn", "training_history"]

from ._benchmark import benchmark_box, benchmark_heatmap  # noqa: E402

__all__ += ["benchmark_heatmap", "benchmark_box"]

from ._simulation import grn_consistency, simulation  # noqa: E402

__all__ += ["simulation", "grn_consistency"]

from ._groups import edge_differences  # noqa: E402

__all__ += ["edge_differences"]

from ._perturbation import perturbation  # noqa: E402

__all__ += ["perturbation"]
