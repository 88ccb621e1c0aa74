"""Tidy getters: read scgrn results out of an AnnData as DataFrames."""

from ._edges import edges, edges_from_matrix

__all__ = ["edges", "edges_from_matrix"]
