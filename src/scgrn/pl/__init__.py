"""Plotting: matplotlib figures that follow scanpy's ``ax``/``show``/``return_fig`` convention."""

from ._grn import grn
from ._history import training_history

__all__ = ["grn", "training_history"]
