"""Tidy getters: read scgrn results out of an AnnData as DataFrames."""

from ._edges import edges, edges_from_matrix
from ._groups import edge_differences
from ._prediction import to_prediction

__all__ = ["edge_differences", "edges", "edges_from_matrix", "to_prediction"]
