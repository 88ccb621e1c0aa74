"""PairClassifier hyperparameters: the config, the per-architecture defaults and the AE grid
(see :mod:`scgrn.models._pair_classifier` for what the options do)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .._params import ParameterTypeError, check_bool, check_float, check_int

ARCHS = ("lstm", "cnn", "ae")
NORMALIZATIONS = ("gene", "series", "minmax", "none")
AGGREGATES = ("mean", "max")
COMBINES = ("pool", "average")
NEGATIVES = ("random", "matched", "mixed")
OPTIMIZERS = ("adam", "rmsprop", "sgd")

#: Per-architecture defaults, applied where the config leaves a field at ``None``.
ARCH_DEFAULTS = {
    "lstm": {"lr": 0.01, "n_epochs": 30, "batch_size": 128, "optimizer": "adam", "combine": "average"},
    "cnn": {"lr": 1e-3, "n_epochs": 100, "batch_size": 128, "optimizer": "adam", "combine": "pool"},
    "ae": {"lr": 1e-3, "n_epochs": 60, "batch_size": 128, "optimizer": "adam", "combine": "average"},
}

#: The AE classifier's grid (batch size x epochs x optimiser), searched when ``grid_search``.
AE_GRID = {"batch_size": [64, 256], "n_epochs": [20, 60], "optimizer": ["adam", "rmsprop"]}


@dataclass
class PairClassifierConfig:
    """Hyperparameters of a :class:`PairClassifier`.

    Attributes
    ----------
    arch
        ``"lstm"``, ``"cnn"`` or ``"ae"``.
    normalize
        ``"gene"``, ``"series"``, ``"minmax"`` or ``"none"`` (see :mod:`scgrn.models._pair_classifier`).
    n_epochs, batch_size, lr, optimizer
        Training of the classifier; ``None`` takes the architecture's default
        (:data:`ARCH_DEFAULTS`; LSTM: Adam, lr 0.01, as in the paper). For ``"ae"`` with
        ``grid_search`` the grid decides ``n_epochs``, ``batch_size`` and ``optimizer``.
    hidden_dim
        LSTM units, and the width of the AE's hidden layers.
    dropout
        Dropout after the LSTM layer (0.2 in the paper) and in the dense heads.
    latent_dim
        Size of the AE's latent vector per time course (3 in the paper).
    ae_epochs, ae_lr
        Training of the autoencoder (MSE reconstruction, Adam, batches of 256).
    neg_ratio
        Negatives per positive in each epoch (1: balanced).
    negatives
        How negatives are drawn: ``"random"`` (uniformly among all non-edges),
        ``"matched"`` (pairs that share the regulator or the target of a positive, so that
        single-gene features cannot separate the classes) or ``"mixed"`` (half each).
    resample_negatives
        Redraw the negatives every epoch (else one draw for the whole training).
    combine
        How the series of a pair are combined: ``"pool"`` (a sample is a pair with all its
        series; the per-series representation is averaged inside the network before the
        output layers) or ``"average"`` (a sample is one series of a pair, as in the paper;
        at prediction the per-series probabilities are aggregated, see ``aggregate``).
        ``None``: the architecture's default (CNN ``"pool"``, LSTM and AE ``"average"``).
    aggregate
        ``combine="average"`` only: ``"mean"`` or ``"max"`` of the per-series probabilities.
    augment
        Label-preserving augmentation in training: each sample's regulator and target
        courses are negated at random, independently (the label says whether ``i``
        regulates ``j``, not with which sign, so an activator mirrored is a repressor and
        still an edge). Time is never reversed (that would flip the direction).
    grid_search
        ``"ae"`` only: choose batch size, epochs and optimiser on :data:`AE_GRID` by inner
        leave-one-network-out validation (average precision over all ordered pairs of the
        held-out training network; a random 25 % of the pairs if only one network is given).
    n_models
        Ensemble members: independently seeded classifiers (on the same autoencoder for
        ``"ae"``) whose probabilities are averaged. Trained one after the other.
    weight_decay
        L2 penalty of the classifier's optimiser.
    clip_grad
        Gradient-norm clipping of the classifier (0: none).

    Examples
    --------
    >>> from scgrn.models import PairClassifierConfig
    >>> cfg = PairClassifierConfig(arch="cnn", n_models=2)
    >>> cfg.arch, cfg.n_models, cfg.negatives
    ('cnn', 2, 'matched')
    >>> PairClassifierConfig(arch="gru")
    Traceback (most recent call last):
    ...
    ValueError: arch='gru' is not one of ('lstm', 'cnn', 'ae').
    """

    arch: str = "lstm"
    normalize: str = "gene"
    n_epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    hidden_dim: int = 32
    dropout: float = 0.2
    latent_dim: int = 3
    ae_epochs: int = 300
    ae_lr: float = 1e-3
    neg_ratio: float = 1.0
    negatives: str = "matched"
    resample_negatives: bool = True
    combine: str | None = None
    aggregate: str = "mean"
    augment: bool = True
    grid_search: bool = True
    n_models: int = 5
    weight_decay: float = 0.0
    clip_grad: float = 1.0
    grid: dict = field(default_factory=lambda: {k: list(v) for k, v in AE_GRID.items()})

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch={self.arch!r} is not one of {ARCHS}.")
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize={self.normalize!r} is not one of {NORMALIZATIONS}.")
        if self.negatives not in NEGATIVES:
            raise ValueError(f"negatives={self.negatives!r} is not one of {NEGATIVES}.")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate={self.aggregate!r} is not one of {AGGREGATES}.")
        defaults = ARCH_DEFAULTS[self.arch]
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.combine not in COMBINES:
            raise ValueError(f"combine={self.combine!r} is not one of {COMBINES}.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r} is not one of {OPTIMIZERS}.")
        # every number: its type (whole numbers for counts), finite, in range; stored as int / float
        for name in ("n_epochs", "batch_size", "hidden_dim", "latent_dim", "ae_epochs", "n_models"):
            setattr(self, name, check_int(name, getattr(self, name), min=1))
        for name in ("lr", "ae_lr", "neg_ratio"):
            setattr(self, name, check_float(name, getattr(self, name), min=0, min_open=True))
        for name in ("weight_decay", "clip_grad"):
            setattr(self, name, check_float(name, getattr(self, name), min=0))
        self.dropout = check_float("dropout", self.dropout, min=0, max=1, max_open=True)
        for name in ("resample_negatives", "augment", "grid_search"):
            setattr(self, name, check_bool(name, getattr(self, name)))
        if not isinstance(self.grid, dict):
            raise ParameterTypeError(f"grid must be a dict of lists, got {self.grid!r}.")
        unknown = set(self.grid) - {"batch_size", "n_epochs", "optimizer", "lr"}
        if unknown:
            raise ValueError(f"grid has unknown keys {sorted(unknown)}; use batch_size, n_epochs, optimizer, lr.")

    def to_dict(self) -> dict:
        """All fields (h5ad-writable; the grid as lists)."""
        d = asdict(self)
        d["grid"] = {k: list(v) for k, v in self.grid.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PairClassifierConfig":
        """The config from :meth:`to_dict`'s output; unknown keys raise ``TypeError`` naming them.

        Examples
        --------
        >>> PairClassifierConfig.from_dict({"arch": "cnn", "n_models": 2}).n_models
        2
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise TypeError(f"Unknown PairClassifier hyperparameter(s) {unknown}; valid names: {sorted(names)}.")
        return cls(**d)
