"""Torch models and their trainers: DeepSEM (vectorised ensemble)."""

from ._deepsem import DeepSEM
from ._deepsem_config import PRESETS, DeepSEMConfig, make_config
from ._deepsem_module import DeepSEMEnsemble
from ._deepsem_training import DivergenceError, DoesNotFitError, train_deepsem
from ._perturb import PerturbedCells
from ._simulate import SimulatedCells

__all__ = ["DeepSEM", "DeepSEMConfig", "DeepSEMEnsemble", "DivergenceError", "DoesNotFitError", "PRESETS", "make_config", "train_deepsem"]
__all__ += ["SimulatedCells", "PerturbedCells"]

from ._pair_classifier import PairClassifier, PairClassifierConfig  # noqa: E402

__all__ += ["PairClassifier", "PairClassifierConfig"]

from ._perturbode import PerturbODE, PerturbODEConfig  # noqa: E402

__all__ += ["PerturbODE", "PerturbODEConfig"]
