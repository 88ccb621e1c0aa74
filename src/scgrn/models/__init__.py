"""Torch models and their trainers: DeepSEM (vectorised ensemble)."""

from ._deepsem import DeepSEM
from ._deepsem_module import PRESETS, DeepSEMConfig, DeepSEMEnsemble, make_config, train_deepsem

__all__ = ["DeepSEM", "DeepSEMConfig", "DeepSEMEnsemble", "PRESETS", "make_config", "train_deepsem"]
