"""DeepSEM hyperparameters: the config, the presets, and what they resolve to for a dataset
(the L1 weight, ``W``'s learning rate, the run's optimiser steps)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .._params import check_choice, check_float, check_int


@dataclass
class DeepSEMConfig:
    """Hyperparameters of a DeepSEM ensemble.

    Attributes
    ----------
    n_models
        Ensemble members, trained together and averaged on ``|W|``.
    hidden_dim
        Width of the two hidden layers of the per-gene encoder and decoder MLPs.
    n_epochs, batch_size
        Passes over the cells and cells per step.
    max_steps
        Cap on the optimiser steps of a run (``None``: no cap). On many cells ``n_epochs``
        full passes cost far more than the GRN needs (30 epochs of 50,000 cells are 23,000
        steps); with the cap, the schedule (``delay_sparsity``, the alternating cycle, the
        history's ``n_epochs`` rows) is laid over the capped run in proportion, and
        ``lr_adj=None`` follows the actual number of steps. The default 1,000 leaves every
        BEELINE set (<= 1,100 cells, <= 520 steps) untouched.
    alpha, beta
        Weights of the L1 penalty on ``W`` (the paper's units: ``alpha * sum|W| / n_genes**2``)
        and of the KL term. ``alpha=None`` scales it with the genes, ``0.2 * (n_genes - 1)``
        (about the paper's 100 at 500 genes): per entry of ``W`` the penalty's gradient
        shrinks like ``1 / n_genes**2`` but the reconstruction's like ``1 / n_genes``, so a
        fixed alpha crushes small networks and frees large ones. With TF rows only, the
        regulators replace the genes: ``0.2 * (n_tfs - 1)`` (measured on a planted
        500-gene, 50-TF network: 0.2 * (n_genes - 1) left EPR at 1.3, this gives 8.5).
    lr_nn, lr_adj
        Learning rates of the MLPs and of ``W``. ``lr_adj=None`` derives it from
        ``w_travel`` (see there); ``lr_adj=0`` keeps ``W`` at its start (a frozen-GRN control).
    w_travel
        How far, in units of its initial value ``1 / (n_genes - 1)``, an edge weight can
        move over the whole training when ``lr_adj=None``: ``lr_adj = w_travel /
        ((n_genes - 1) * n_steps)``, ``n_steps`` the optimiser steps of the run. Adam moves
        each weight by about ``lr_adj`` per step, so this keeps the reach of ``W`` the same
        whatever the number of genes, cells, epochs or batch size; on BEELINE a fixed
        learning rate left ``W`` near its initial value on small-cell, many-gene sets
        (mESC: 421 cells x 1120 genes) and EPR fell by a third.
    optimizer
        ``"joint"``: one Adam over all parameters (DAZZLE's scheme).
        ``"alternate"``: the paper's scheme, RMSprop, MLPs for ``k1`` epochs then ``W`` for ``k2``.
    k1, k2
        Epoch cycle of the alternating scheme.
    lr_step_size
        Steps after which the MLP learning rate halves (``"alternate"`` only; DeepSEM's StepLR).
    standardise
        ``"all"``: z-score each gene over all cells; ``"nonzero"``: over its non-zero values
        (zeros stay at the value a zero maps to).
    loss_on
        ``"all"`` entries or only ``"nonzero"`` observed entries enter the reconstruction loss.
    dropout_augmentation, chi
        Fraction of entries set to zero at random in each step, and weight of the
        classifier that learns to spot them from the latent (DAZZLE, Zhu & Slonim 2024).
        ``dropout_augmentation=None`` decides from the data (:func:`resolved_dropout_augmentation`):
        0.1 when at least 1 % of the entries are zero, as in scRNA-seq data, and 0 for data without
        dropouts (simulated, imputed or smoothed expression), where a written zero is a value the
        data never take, far below every gene's range, and teaches the model nothing but noise.
    delay_sparsity
        Epochs before the L1 penalty starts.
    init_noise
        Amplitude of the uniform noise added to ``W``'s initial value ``1 / (n_genes - 1)``.
    mlp_grid
        During training, evaluate each member's per-gene MLPs (each maps one scalar to one
        or two) on this many evenly spaced points spanning the batch's values and
        interpolate linearly, instead of running them on every (cell, gene) entry. The
        model is the same; the interpolation error of a smooth tanh MLP on 512 points is far
        below the noise of a mini-batch, and training becomes several times faster because
        the GRN layer, not the MLPs, then sets the cost (``benchmarks/results/deepsem_tuning_log.md``).
        ``None`` evaluates the MLPs exactly, as the paper does (the published presets).

    coexpression_rank
        TF-rows model only: a rank-``k`` term ``A B`` through which the non-TF genes may
        explain each other (``A`` has zero TF rows and the term's self-loops are removed), as
        the non-TF rows of the genes x genes model let co-expressed targets do; it is not
        part of the GRN. ``0``: none. The GRN layer's inverse then goes through a
        ``(TFs + k)`` block. The default 64 was the best of 16, 64, 128 and 256 on mHSC-L
        TFs+500 (STRING EPR 4.40 without the term, 6.52 with, 7.13 for the genes x genes
        model; ``benchmarks/tf_rows_sweep.py``). Its first component starts as the genes x genes
        model's non-TF rows (every edge ``1 / (genes - 1)``), except in the TFs-only members
        (half of them where TFs are half the genes, a quarter where they are few; see
        ``models._deepsem_module.tfs_only_start``), where the term starts at zero: the two starts
        suit different data (``benchmarks/results/tf_rows.md``, eleventh and twelfth sessions).

    grn_precision
        TF-rows model only: the products with ``W`` (TFs x genes, the bulk of a step) in
        ``"bfloat16"`` (inputs rounded to bfloat16, float32 accumulation and result; ``W``
        and its optimiser stay float32) or ``"float32"``. ``"auto"``: bfloat16 on CPU and on
        GPUs that support it. Measured: 1.10 s a step instead of 1.47 s at 10,000 genes x
        1,000 TFs on 2 CPU cores; BEELINE EPR equal on 8 of 10 networks, within 0.075 on
        the others (``benchmarks/results/tf_rows.md``). The genes x genes model is float32.

    Examples
    --------
    >>> from scgrn.models import DeepSEMConfig, make_config
    >>> DeepSEMConfig().n_models
    8
    >>> cfg = make_config("default", n_epochs=50)  # a preset with overrides, validated
    >>> cfg.n_epochs, cfg.optimizer
    (50, 'joint')
    """

    n_models: int = 8
    hidden_dim: int = 128
    n_epochs: int = 30
    batch_size: int = 64
    max_steps: int | None = 1000
    alpha: float | None = None
    beta: float = 1.0
    lr_nn: float = 1e-4
    lr_adj: float | None = None
    w_travel: float = 8.0
    optimizer: str = "joint"
    k1: int = 1
    k2: int = 2
    lr_step_size: int = 1000
    standardise: str = "all"
    loss_on: str = "nonzero"
    dropout_augmentation: float | None = None
    chi: float = 0.5
    delay_sparsity: int = 5
    init_noise: float = 2e-4
    mlp_grid: int | None = 512
    coexpression_rank: int = 64
    grn_precision: str = "auto"

    def validate(self) -> None:
        """Check every field's type and range (finite numbers, whole numbers for counts) and
        store them as plain ``int`` / ``float``; raise with the field's name on the first bad one.

        Integers must be Python or numpy integers (``2.5``, ``2.0`` and ``"2"`` are refused,
        see :mod:`scgrn._params`).

        Examples
        --------
        >>> DeepSEMConfig(lr_nn=-1.0).validate()
        Traceback (most recent call last):
        ...
        ValueError: lr_nn must be a finite number > 0, got -1.
        """
        self.optimizer = check_choice("optimizer", self.optimizer, ("joint", "alternate"))
        self.standardise = check_choice("standardise", self.standardise, ("all", "nonzero"))
        self.loss_on = check_choice("loss_on", self.loss_on, ("all", "nonzero"))
        self.grn_precision = check_choice("grn_precision", self.grn_precision, ("auto", "float32", "bfloat16"))
        for name in ("n_models", "hidden_dim", "n_epochs", "batch_size", "k1", "k2", "lr_step_size"):
            setattr(self, name, check_int(name, getattr(self, name), min=1))
        for name in ("delay_sparsity", "coexpression_rank"):
            setattr(self, name, check_int(name, getattr(self, name), min=0))
        self.max_steps = check_int("max_steps", self.max_steps, min=1, allow_none=True)
        self.mlp_grid = check_int("mlp_grid", self.mlp_grid, min=2, allow_none=True)
        positive = dict(min=0, min_open=True)
        self.lr_nn = check_float("lr_nn", self.lr_nn, **positive)
        # zero is meaningful for W: it stays at its start (the embedding tutorial's frozen-GRN control)
        self.lr_adj = check_float("lr_adj", self.lr_adj, min=0, allow_none=True)
        self.w_travel = check_float("w_travel", self.w_travel, min=0)
        self.alpha = check_float("alpha", self.alpha, min=0, allow_none=True)
        for name in ("beta", "chi", "init_noise"):
            setattr(self, name, check_float(name, getattr(self, name), min=0))
        self.dropout_augmentation = check_float(
            "dropout_augmentation", self.dropout_augmentation, min=0, max=1, max_open=True, allow_none=True
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DeepSEMConfig":
        """The config from :meth:`to_dict`'s output; unknown keys raise ``TypeError`` naming them.

        Examples
        --------
        >>> DeepSEMConfig.from_dict({"n_models": 2}).n_models
        2
        """
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise TypeError(
                f"Unknown DeepSEM hyperparameter(s) {sorted(unknown)}; valid names: {sorted(names)}."
            )
        return cls(**d)


PRESETS: dict[str, dict] = {
    # scgrn's default: the DeepSEM model (GRN layer, inverse GRN layer, beta-VAE) trained with
    # DAZZLE's dropout augmentation, delayed sparsity and joint Adam, the paper's MLP width
    # (128, affordable because training evaluates the MLPs on a 512-point grid), 30 epochs,
    # gene-count-scaled alpha and lr_adj, and an 8-member vectorised ensemble. Chosen by a
    # two-seed sweep on the three BEELINE sets with expression
    # (benchmarks/results/deepsem_tuning_log.md): width 32 and 256, 60 epochs and 4 members
    # were worse on mESC STRING.
    "default": {},
    # The paper's recipe for STRING / non-specific ChIP-seq networks (DeepSEM repo, Hyperparameter.MD).
    "general": dict(
        hidden_dim=128, n_epochs=120, batch_size=64, alpha=100.0, beta=1.0, lr_nn=1e-4,
        lr_adj=2e-5, optimizer="alternate", standardise="all", loss_on="all",
        dropout_augmentation=0.0, chi=0.0, delay_sparsity=0, n_models=10, mlp_grid=None,
        max_steps=None,
    ),
    # The paper's recipe for cell-type-specific ChIP-seq networks.
    "celltype_specific": dict(
        hidden_dim=128, n_epochs=120, batch_size=64, alpha=1.0, beta=0.01, lr_nn=1e-4,
        lr_adj=2e-5, optimizer="alternate", standardise="nonzero", loss_on="nonzero",
        dropout_augmentation=0.0, chi=0.0, delay_sparsity=0, n_models=10, mlp_grid=None,
        max_steps=None,
    ),
    # Cell embeddings: the paper's embedding settings (alpha=10, beta=1, reconstruction loss on
    # non-zero entries, alternating RMSprop as in DeepSEM's embedding model) with a z-score over
    # all values, kept CPU-fast (narrow MLP, 10 epochs of 128 cells). Chosen on the
    # clustering sets (benchmarks/results/clustering.md): z-scoring over non-zero values only
    # clustered worse on the sparse UMI sets. ``tl.deepsem`` exports this preset's embedding in
    # expression units (``embedding_units="expression"``). ``w_travel=0.5`` keeps W near its
    # start, the regime that was benchmarked (freezing W left the ARI unchanged). Four members,
    # averaged: over 5 seeds, ARI at least as high as one member's on each of the 5 clustering sets
    # (median 0.530 against 0.520) with a smaller spread over seeds, at about 2.3x the time.
    "embedding": dict(
        hidden_dim=32, n_epochs=10, batch_size=128, alpha=10.0, beta=1.0, lr_nn=1e-3,
        lr_adj=None, w_travel=0.5, optimizer="alternate", standardise="all", loss_on="nonzero",
        dropout_augmentation=0.0, chi=0.0, delay_sparsity=0, n_models=4, mlp_grid=None,
    ),
}


def make_config(preset: str = "default", **overrides) -> DeepSEMConfig:
    """Build a validated config from a preset name and keyword overrides.

    Examples
    --------
    >>> make_config("general", n_models=2).optimizer
    'alternate'
    """
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; choose one of {sorted(PRESETS)}.")
    config = DeepSEMConfig.from_dict({**PRESETS[preset], **overrides})
    config.validate()
    return config


#: ``dropout_augmentation=None``: the rate when the data have dropouts (DAZZLE's), and the share of
#: zero entries from which they count as having them
DROPOUT_AUGMENTATION = 0.1
MIN_ZERO_FRACTION = 0.01


def resolved_dropout_augmentation(config: DeepSEMConfig, zero_fraction: float) -> float:
    """``config.dropout_augmentation``, or, when ``None``, :data:`DROPOUT_AUGMENTATION` if at least
    :data:`MIN_ZERO_FRACTION` of the data's entries are zero and 0 otherwise.

    Measured on the ten BoolODE networks and krumsiek11 (no or 0.3 % zeros; 3 seeds,
    ``benchmarks/results/small_networks.md``): without augmentation the median AUROC rises from
    0.641 to 0.723, and krumsiek11's seeds stop splitting between two solutions. The BEELINE
    scRNA-seq sets (12-34 % zeros) keep 0.1.

    Examples
    --------
    >>> resolved_dropout_augmentation(make_config(), 0.3), resolved_dropout_augmentation(make_config(), 0.003)
    (0.1, 0.0)
    >>> resolved_dropout_augmentation(make_config(dropout_augmentation=0.2), 0.0)
    0.2
    """
    if config.dropout_augmentation is not None:
        return float(config.dropout_augmentation)
    return DROPOUT_AUGMENTATION if zero_fraction >= MIN_ZERO_FRACTION else 0.0


def zero_fraction(summary) -> float:
    """Share of zero entries of a matrix, from its :func:`~scgrn._matrix.summarise_columns` pass."""
    entries = float(summary.n_rows) * len(summary.nonzero)
    return 1.0 - float(summary.nonzero.sum()) / entries if entries else 0.0


def resolved_alpha(config: DeepSEMConfig, n_genes: int, n_regulators: int | None = None) -> float:
    """``config.alpha``, or, when ``None``, ``0.2 * (n_regulators - 1)`` (``n_regulators``:
    the rows of ``W``, default every gene).

    Examples
    --------
    >>> resolved_alpha(make_config(), n_genes=501), resolved_alpha(make_config(), 501, n_regulators=51)
    (100.0, 10.0)
    """
    if config.alpha is not None:
        return float(config.alpha)
    n_regulators = n_genes if n_regulators is None else n_regulators
    return 0.2 * max(n_regulators - 1, 1)


#: members x regulators x genes that the default ensemble keeps within (8 members of a
#: 10,000-gene x 1,000-TF model); beyond it a TF-rows model trains fewer members
ENSEMBLE_WORK = 1.6e8
#: members x genes^3 that the genes x genes model's default ensemble keeps within (8 members
#: of 1,500 genes): its step is one LU factorisation of ``I - W`` per member
FULL_ENSEMBLE_WORK = 8 * 1500.0**3
#: the fewest members that either rule leaves
MIN_AUTO_MEMBERS = 4


def ensemble_size(n_models: int, n_regulators: int, n_genes: int, *, tf_rows: bool = True) -> int:
    """Members of a model whose ``n_models`` was not chosen by the user.

    A TF-rows step costs ``members x TFs x genes`` (above :data:`ENSEMBLE_WORK` the ensemble
    shrinks to fit it); a genes x genes step ``members x genes^3``, the LU factorisation of
    every member's ``I - W`` (:data:`FULL_ENSEMBLE_WORK`, so 4 members at 2,000 genes instead
    of 8). Never fewer than :data:`MIN_AUTO_MEMBERS`. Measured on planted networks of 5,000
    genes (TF rows) and 2,000 genes (genes x genes), 4 members score about 1 % lower EPR and
    AUPRC than 8 (``benchmarks/results/scale.md``), at half the time.

    Examples
    --------
    >>> ensemble_size(8, 1_000, 10_000), ensemble_size(8, 1_500, 15_000), ensemble_size(8, 2_000, 20_000)
    (8, 7, 4)
    >>> [ensemble_size(8, g, g, tf_rows=False) for g in (1_120, 1_500, 1_700, 2_000)]
    [8, 8, 5, 4]
    """
    work, budget = (n_regulators * n_genes, ENSEMBLE_WORK) if tf_rows else (float(n_genes) ** 3, FULL_ENSEMBLE_WORK)
    fit = int(budget // max(work, 1))
    return int(min(n_models, max(fit, MIN_AUTO_MEMBERS)))


def steps_per_epoch(config: DeepSEMConfig, n_cells: int) -> int:
    """Optimiser steps in one epoch over in-memory cells (the ragged last batch is dropped)."""
    return max(1, n_cells // min(config.batch_size, n_cells))


def total_steps(config: DeepSEMConfig, n_cells: int, per_epoch: int | None = None) -> int:
    """Optimiser steps of a run: ``n_epochs`` epochs, capped at ``max_steps``.

    Examples
    --------
    >>> total_steps(make_config(n_epochs=30, batch_size=64), n_cells=1000)  # 15 per epoch
    450
    >>> total_steps(make_config(n_epochs=30, batch_size=64, max_steps=1000), n_cells=50_000)
    1000
    """
    per_epoch = steps_per_epoch(config, n_cells) if per_epoch is None else per_epoch
    n = config.n_epochs * per_epoch
    return n if config.max_steps is None else min(n, int(config.max_steps))


def resolved_lr_adj(
    config: DeepSEMConfig, n_genes: int, n_cells: int, n_steps: int | None = None, n_regulators: int | None = None
) -> float:
    """``config.lr_adj``, or, when ``None``, ``w_travel / ((n_regulators - 1) * n_steps)``.

    ``n_steps``: the run's optimiser steps (default :func:`total_steps`); ``n_regulators``:
    the rows of ``W`` (default every gene). ``1 / (n_regulators - 1)`` is ``W``'s initial
    value, so ``w_travel`` is the reach of an edge in units of its start.

    Examples
    --------
    >>> resolved_lr_adj(make_config(n_epochs=10, batch_size=50), n_genes=101, n_cells=500)
    0.0008
    """
    if config.lr_adj is not None:
        return float(config.lr_adj)
    n_steps = total_steps(config, n_cells) if n_steps is None else n_steps
    n_regulators = n_genes if n_regulators is None else n_regulators
    return config.w_travel / (max(n_regulators - 1, 1) * n_steps)


def resolved_params(config: DeepSEMConfig, n_genes: int, n_cells: int, n_regulators: int, tf_rows_only: bool) -> dict:
    """Every field of ``config`` with ``lr_adj`` and ``alpha`` resolved for the data, plus the
    optimiser steps (``n_steps``) and ``tf_rows_only``: what :meth:`DeepSEM.params` records.

    Examples
    --------
    >>> p = resolved_params(make_config(n_epochs=10, batch_size=50), 101, 500, 101, False)
    >>> p["lr_adj"], p["n_steps"], p["tf_rows_only"]
    (0.0008, 100, False)
    """
    return {
        **config.to_dict(),
        "lr_adj": resolved_lr_adj(config, n_genes, n_cells, n_regulators=n_regulators),
        "n_steps": total_steps(config, n_cells),
        "tf_rows_only": bool(tf_rows_only),
        "alpha": resolved_alpha(config, n_genes, n_regulators),
    }
