"""Scoring of inferred gene regulatory networks against reference networks.

Networks are genes x genes matrices with **row = regulator (source), column =
target**. :func:`evaluate_grn` implements the ``"deepsem"`` (DeepSEM / DAZZLE /
RegDiffusion) and ``"beeline"`` (BEELINE BLEval) evaluation conventions.
"""

from ._grn import (
    CONVENTIONS,
    auprc,
    auprc_ratio,
    auroc,
    early_precision,
    epr,
    evaluate_grn,
    random_baseline,
)

__all__ = [
    "evaluate_grn",
    "random_baseline",
    "early_precision",
    "epr",
    "auprc",
    "auprc_ratio",
    "auroc",
    "CONVENTIONS",
]

from ._distribution import energy_distance, precision_recall_at_k, sinkhorn_w2  # noqa: E402

__all__ += ["precision_recall_at_k", "energy_distance", "sinkhorn_w2"]

from ._cluster import cluster_scores  # noqa: E402

__all__ += ["cluster_scores"]

from ._consistency import grn_consistency, top_edge_overlap  # noqa: E402
from ._realism import realism_auc, simulation_closeness  # noqa: E402

__all__ += ["realism_auc", "simulation_closeness", "grn_consistency", "top_edge_overlap"]
