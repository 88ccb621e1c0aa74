"""PerturbODE hyperparameters and input checks: the config, and the perturbation labels of a
screen (which genes each label targets)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from numbers import Integral

import numpy as np
import pandas as pd
from anndata import AnnData

from .._params import ParameterTypeError
from .._validate import check_bool, check_choice, check_float, check_int, check_var_names, expression_matrix

INTERVENTIONS = ("knockout", "shift")
_SOLVERS = ("rk4", "euler")
MIN_CONTROL_CELLS = 10


@dataclass
class PerturbODEConfig:
    """Hyperparameters of :class:`PerturbODE`.

    Attributes
    ----------
    n_modules
        Hidden units (gene modules). ``None``: ``min(n_genes, 32)``.
    intervention
        ``"knockout"`` (clamp the target low) or ``"shift"`` (add a constant drive).
    n_epochs
        Optimisation steps; each draws ``batch_size`` control cells and ``batch_size``
        observed cells for every training perturbation (and the control).
    batch_size
        Cells per perturbation per step.
    lr
        Adam learning rate (cosine decay to a tenth of it over the epochs).
    l1
        Weight of the L1 penalty ``(sum|A| + sum|B|) / n_genes``. The default 0.3 (was
        0.01) comes from a sweep on simulated screens (``benchmarks/results/perturbode.md``):
        weaker sparsity lets genes never perturbed in training drive spurious effects.
    l1_warmup
        Fraction of the epochs over which the L1 weight rises linearly from 0 to ``l1``.
        A gene-to-gene effect is a product ``B[:, m] A[m, :]`` of two small initial weights,
        so its gradient starts near zero while the L1 pull does not: without a warm-up a
        strong penalty can zero every weight before any effect is learned.
    t_end, n_time_steps, solver
        Integration horizon, fixed steps and scheme (``"rk4"`` or ``"euler"``).
    epsilon, sinkhorn_iter
        Entropic regularisation (per-gene squared units of the scaled data) and Sinkhorn
        updates at the final epsilon.
    knockout_level_init
        Initial residual level ``rho`` of a knocked-out gene.
    knockout_mode
        ``"scale"``: a knocked-out gene is clamped at ``rho`` times its control value in
        every cell. ``"mosaic"``: it is clamped at 0 in a fraction ``1 - rho`` of the cells
        and left at its control value in the others (CRISPR edits succeed per cell; suits
        sparse counts, where knockdown lowers the fraction of expressing cells). ``rho``
        is learned per gene either way; mosaic draws use a straight-through gradient.
    max_decay
        Upper bound of ``gamma`` (keeps RK4 stable: ``max_decay * t_end / n_time_steps``
        must stay below about 2.5).
    mean_weight
        Weight of the mean-effect term: the squared difference (per gene, scaled units)
        between the predicted mean change ``mean(pred_p) - mean(start cells)`` and the
        observed change ``mean(cells of p) - mean(control)``, computed with *all* observed
        cells of each group (less noisy than the mini-batch OT). 0: pure OT, as in the paper.
    counterfactual
        ``True``: a perturbed cell is predicted as ``x0 + phi_p(x0) - phi_0(x0)`` (its start
        state plus the difference between the perturbed and the unperturbed flow), with
        knocked-out genes at their clamped value; systematic drift of the control flow
        cancels. ``False``: the end state ``phi_p(x0)`` itself (the paper's readout). The
        control cells' own end states are matched to the control cells in both cases.
    init_scale
        Standard deviation of the initial ``A`` and ``B`` entries.

    Examples
    --------
    >>> from scgrn.models import PerturbODEConfig
    >>> cfg = PerturbODEConfig(n_epochs=200, intervention="shift")
    >>> cfg.n_epochs, cfg.intervention, cfg.resolved_n_modules(50)
    (200, 'shift', 32)
    """

    n_modules: int | None = None
    intervention: str = "knockout"
    n_epochs: int = 800
    batch_size: int = 128
    lr: float = 0.01
    l1: float = 0.3
    l1_warmup: float = 0.2
    t_end: float = 3.0
    n_time_steps: int = 12
    solver: str = "rk4"
    epsilon: float = 0.05
    sinkhorn_iter: int = 10
    knockout_level_init: float = 0.1
    knockout_mode: str = "scale"
    max_decay: float = 8.0
    mean_weight: float = 10.0
    counterfactual: bool = True
    init_scale: float = 0.1

    def validate(self, n_genes: int) -> "PerturbODEConfig":
        if self.intervention not in INTERVENTIONS:
            raise ValueError(
                f"intervention={self.intervention!r} is not one of {list(INTERVENTIONS)}: "
                "'knockout' for CRISPR knockout / CRISPRi screens, 'shift' for activation / "
                "overexpression."
            )
        self.knockout_mode = check_choice("knockout_mode", self.knockout_mode, ("scale", "mosaic"))
        self.solver = check_choice("solver", self.solver, _SOLVERS)
        self.counterfactual = check_bool("counterfactual", self.counterfactual)
        # every number: its type (whole numbers for counts), finite, in range; stored as int / float
        self.n_modules = check_int("n_modules", self.n_modules, min=1, allow_none=True)
        for name in ("n_epochs", "batch_size", "n_time_steps", "sinkhorn_iter"):
            setattr(self, name, check_int(name, getattr(self, name), min=1))
        for name in ("lr", "t_end", "epsilon", "max_decay", "init_scale"):
            setattr(self, name, check_float(name, getattr(self, name), min=0, min_open=True))
        for name in ("l1", "mean_weight"):
            setattr(self, name, check_float(name, getattr(self, name), min=0))
        self.l1_warmup = check_float("l1_warmup", self.l1_warmup, min=0, max=1)
        self.knockout_level_init = check_float(
            "knockout_level_init", self.knockout_level_init, min=0, max=1, min_open=True, max_open=True
        )
        h = self.t_end / self.n_time_steps
        limit = 2.5 if self.solver == "rk4" else 1.5
        if self.max_decay * h > limit:
            raise ValueError(
                f"max_decay * t_end / n_time_steps = {self.max_decay * h:.2f} exceeds {limit} "
                f"(the {self.solver} stability limit): raise n_time_steps or lower max_decay."
            )
        return self

    def resolved_n_modules(self, n_genes: int) -> int:
        return int(self.n_modules) if self.n_modules is not None else int(min(n_genes, 32))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["n_modules"] = -1 if self.n_modules is None else int(self.n_modules)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PerturbODEConfig":
        """The config from :meth:`to_dict`'s output; unknown keys raise ``TypeError`` naming them.

        Examples
        --------
        >>> PerturbODEConfig.from_dict(PerturbODEConfig(n_modules=None).to_dict()).n_modules is None
        True
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise TypeError(f"Unknown PerturbODE hyperparameter(s) {unknown}; valid names: {sorted(names)}.")
        d = dict(d)
        if d.get("n_modules", None) == -1:
            d["n_modules"] = None
        return cls(**d)


def make_config(**hyperparameters) -> PerturbODEConfig:
    names = {f.name for f in fields(PerturbODEConfig)}
    unknown = sorted(set(hyperparameters) - names)
    if unknown:
        raise TypeError(
            f"Unknown PerturbODE hyperparameter(s) {unknown}; valid names: {sorted(names)}."
        )
    return PerturbODEConfig(**hyperparameters)


# ---------------------------------------------------------------------------
# perturbation labels and the screen
# ---------------------------------------------------------------------------


def check_control(control) -> str:
    """The control label as text: perturbation labels are read as text (``obs[key].astype(str)``),
    so an integer ``control`` (``0`` for integer codes) is compared as ``'0'``.

    Examples
    --------
    >>> check_control("control"), check_control(np.int64(0))
    ('control', '0')
    >>> check_control(None)
    Traceback (most recent call last):
    ...
    scgrn._params.ParameterTypeError: control must be the label of the control cells (a string, or an integer for integer labels), got None (NoneType).
    """
    if isinstance(control, str):
        return str(control)
    if isinstance(control, Integral) and not isinstance(control, (bool, np.bool_)):
        return str(int(control))
    raise ParameterTypeError(
        "control must be the label of the control cells (a string, or an integer for integer labels), "
        f"got {control!r} ({type(control).__name__})."
    )


def parse_perturbations(labels, var_names, *, control: str = "control", where: str = "labels") -> dict[str, list[str]]:
    """Map each perturbation label (``"G3"``, ``"G3+G7"``) to its target genes.

    The control label maps to ``[]``. Raises a ValueError naming every label whose genes
    are not in ``var_names``.

    Examples
    --------
    >>> parse_perturbations(["control", "a", "a+b"], ["a", "b", "c"])
    {'control': [], 'a': ['a'], 'a+b': ['a', 'b']}
    """
    genes = pd.Index([str(v) for v in var_names])
    out: dict[str, list[str]] = {}
    bad: dict[str, list[str]] = {}
    for lab in dict.fromkeys(str(v) for v in labels):
        if lab == control:
            out[lab] = []
            continue
        parts = [p.strip() for p in lab.split("+")]
        if any(p == "" for p in parts):
            raise ValueError(
                f"Perturbation label {lab!r} in {where} has an empty gene name; combinations "
                "are written 'GENE1+GENE2'."
            )
        missing = [p for p in parts if p not in genes]
        if missing:
            bad[lab] = missing
        out[lab] = list(dict.fromkeys(parts))
    if bad:
        shown = ", ".join(f"{k!r} ({', '.join(v)})" for k, v in list(bad.items())[:8])
        more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
        raise ValueError(
            f"{len(bad)} perturbation label(s) in {where} name genes that are not in "
            f"adata.var_names: {shown}{more}. Every label must be {control!r} or gene names "
            "of adata.var_names joined by '+'. Fix: drop those cells, e.g. "
            f"`adata = adata[~adata.obs[key].isin({list(bad)[:3]!r})].copy()`, or rename the "
            "labels (check capitalisation and the control label)."
        )
    return out


def read_screen(
    adata: AnnData, *, perturbation_key: str, control: str, layer: str | None
) -> tuple[np.ndarray, dict[str, list[str]], np.ndarray]:
    """Check a perturbation screen for :class:`~scgrn.models.PerturbODE`.

    Returns the cells' labels (str array), the target genes of every label (see
    :func:`parse_perturbations`) and the expression matrix (cells x genes, non-negative).
    Raises an error saying how to fix it when the label column is missing or incomplete,
    there are fewer than ``MIN_CONTROL_CELLS`` control cells, no perturbed cells, a label
    names unknown genes, or the expression has negative values.
    """
    check_var_names(adata.var_names)  # labels are matched to gene names: 3 and '3' must not mix
    if perturbation_key not in adata.obs.columns:
        raise KeyError(
            f"adata.obs has no column {perturbation_key!r}. Put one perturbation label per "
            f"cell there ({control!r} for controls, gene names joined by '+' otherwise) or "
            f"pass perturbation_key=<column>; obs columns: {list(adata.obs.columns)[:10]}."
        )
    labels = adata.obs[perturbation_key]
    if labels.isna().any():
        raise ValueError(
            f"adata.obs[{perturbation_key!r}] has {int(labels.isna().sum())} missing "
            "label(s). Label those cells or drop them: "
            f"`adata = adata[adata.obs[{perturbation_key!r}].notna()].copy()`."
        )
    labels = labels.astype(str).to_numpy()
    n_ctrl = int((labels == control).sum())
    if n_ctrl < MIN_CONTROL_CELLS:
        found = pd.unique(labels)[:8].tolist()
        raise ValueError(
            f"Only {n_ctrl} control cell(s) labelled {control!r} in "
            f"adata.obs[{perturbation_key!r}]; at least {MIN_CONTROL_CELLS} are needed as "
            f"start states. Pass control=<the control label> (labels found: {found})."
        )
    targets = parse_perturbations(
        labels, adata.var_names, control=control, where=f"adata.obs[{perturbation_key!r}]"
    )
    if len(targets) < 2:
        raise ValueError(
            f"adata.obs[{perturbation_key!r}] holds only control cells: PerturbODE needs "
            "perturbed cells too."
        )
    x = expression_matrix(adata, layer=layer, min_cells=MIN_CONTROL_CELLS)
    if (x < 0).any():
        raise ValueError(
            "The expression has negative values, but PerturbODE needs non-negative "
            "(log-normalised) expression where 0 means 'not expressed' (a knockout clamps "
            "a gene towards 0). Pass log-normalised data, not z-scores."
        )
    return labels, targets, x
