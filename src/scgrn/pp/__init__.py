"""Preprocessing: prepare an AnnData for GRN inference (never overwrites ``adata.X``)."""

from ._select_genes import select_genes

__all__ = ["select_genes"]
