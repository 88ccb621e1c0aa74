"""Benchmark runners (real data; see benchmarks/ for the scripts that write results)."""

from ._dream4 import dream4, dream_aupr, score_network

__all__ = ["dream4", "dream_aupr", "score_network"]

from ._beeline import available_datasets, beeline  # noqa: E402

__all__ += ["beeline", "available_datasets"]

from ._clustering import (  # noqa: E402
    clustering,
    embed_cells,
    prepare_clustering,
    score_embedding,
    summarise_clustering,
)

__all__ += ["clustering", "prepare_clustering", "embed_cells", "score_embedding", "summarise_clustering"]

from ._augmentation import augmentation  # noqa: E402

__all__ += ["augmentation"]
