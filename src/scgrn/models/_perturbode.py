"""PerturbODE: an interpretable neural ODE whose hidden units are gene modules.

Lin, Chang, Zweig, Kang, Azizi, Knowles, "Interpretable Neural ODEs for Gene Regulatory
Network Discovery under Perturbations" (2025). A cell's state ``x`` (genes, each divided by
its standard deviation, not centred, so that 0 stays "not expressed") follows

.. math::

    \\frac{dx}{dt} = B\\,\\sigma(A\\,(x - \\mu) + b) + c - \\gamma \\odot x,

``A`` (modules x genes) reads the genes into modules, ``B`` (genes x modules) writes the
modules back to their target genes, ``c >= 0`` is basal transcription (scgrn addition; it
lets the control state be a fixed point without spending L1 on it), ``gamma > 0`` is decay
and ``mu`` the control mean (a fixed re-centring of ``b`` that conditions the sigmoid).
Interventions enter the dynamics:

- ``"knockout"``: the targeted gene is clamped at ``rho_g * x_g(0)`` (its control value
  scaled down by a learned residual level ``rho_g`` in (0, 1)) for the whole trajectory;
- ``"shift"``: a learned constant drive ``delta_g`` is added to the targeted gene's
  derivative (CRISPRa / overexpression).

Control cells are integrated with a fixed-step RK4 (or Euler) solver, vectorised over
cells and perturbations, for ``t_end`` time units, and the predicted cells of each
perturbation are matched to its observed cells by a debiased log-domain Sinkhorn divergence
(control cells integrated without intervention must stay on the control distribution). L1
on ``A`` and ``B`` makes modules sparse.

Two scgrn additions, both switchable (see :class:`PerturbODEConfig`): by default a
perturbed cell is read out *counterfactually*, as its start state plus the difference
between its perturbed and unperturbed trajectories (``counterfactual=True``; the paper
reads the end state itself), so that any drift of the learned control flow cancels; and a
mean-effect term (``mean_weight``) matches each perturbation's predicted mean change to
the observed one computed over all its cells. Both made held-out predictions much closer
to the observed cells on sparse real counts (``benchmarks/perturbode.py``). The GRN is the control-averaged Jacobian of the regulatory
term, ``G = A^T diag(mean sigma'(.)) B^T`` (row = regulator, column = target, diagonal
set to 0).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from torch import nn
from tqdm.auto import tqdm

from .. import __version__
from .._settings import resolve_device, resolve_progress_bar
from .._validate import expression_matrix
from ..metrics._distribution import sinkhorn_divergence

__all__ = [
    "PerturbODE",
    "PerturbODEConfig",
    "PerturbODEModule",
    "parse_perturbations",
    "INTERVENTIONS",
]

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
        if self.knockout_mode not in ("scale", "mosaic"):
            raise ValueError(f"knockout_mode={self.knockout_mode!r} is not one of ['scale', 'mosaic'].")
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver={self.solver!r} is not one of {list(_SOLVERS)}.")
        if self.n_modules is not None and int(self.n_modules) < 1:
            raise ValueError(f"n_modules={self.n_modules} must be at least 1.")
        for name in ("n_epochs", "batch_size", "n_time_steps", "sinkhorn_iter"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1.")
        for name in ("lr", "t_end", "epsilon", "max_decay", "init_scale"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive.")
        if self.l1 < 0 or self.mean_weight < 0:
            raise ValueError("l1 and mean_weight must be non-negative.")
        if not 0.0 <= self.l1_warmup <= 1.0:
            raise ValueError(f"l1_warmup={self.l1_warmup} must be a fraction of the epochs, in [0, 1].")
        if not 0.0 < self.knockout_level_init < 1.0:
            raise ValueError(f"knockout_level_init={self.knockout_level_init} must be in (0, 1).")
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
        names = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
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
# perturbation labels
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# torch module
# ---------------------------------------------------------------------------


class PerturbODEModule(nn.Module):
    """``dx/dt = B sigma(A (x - mu) + b) + c - gamma x`` plus interventions (no AnnData)."""

    def __init__(
        self,
        n_genes: int,
        n_modules: int,
        *,
        mu: torch.Tensor,
        config: PerturbODEConfig,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        s = float(config.init_scale)
        self.config = config
        self.A = nn.Parameter(torch.randn(n_modules, n_genes, generator=generator) * s)
        self.B = nn.Parameter(torch.randn(n_genes, n_modules, generator=generator) * s)
        self.b = nn.Parameter(torch.zeros(n_modules))
        self.register_buffer("mu", mu.clone().float())
        self.register_buffer("max_decay", torch.tensor(float(config.max_decay)))
        # decay gamma = max_decay * sigmoid(raw), initialised at 1
        g0 = 1.0 / config.max_decay
        self.decay_raw = nn.Parameter(torch.full((n_genes,), math.log(g0 / (1 - g0))))
        # basal production c = softplus(raw), initialised so that mu is a fixed point
        base = torch.sigmoid(self.b.detach())[None, :] @ self.B.detach().T
        c0 = (mu - base[0]).clamp_min(1e-3)
        self.basal_raw = nn.Parameter(c0 + torch.log(-torch.expm1(-c0)))
        k0 = float(config.knockout_level_init)
        self.ko_raw = nn.Parameter(torch.full((n_genes,), math.log(k0 / (1 - k0))))
        self.shift = nn.Parameter(torch.zeros(n_genes))

    # -- parameters --------------------------------------------------------------------
    @property
    def decay(self) -> torch.Tensor:
        return self.max_decay * torch.sigmoid(self.decay_raw)

    @property
    def basal(self) -> torch.Tensor:
        return nn.functional.softplus(self.basal_raw)

    @property
    def knockout_level(self) -> torch.Tensor:
        return torch.sigmoid(self.ko_raw)

    def regulation(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid((x - self.mu) @ self.A.T + self.b) @ self.B.T

    def velocity(self, x: torch.Tensor) -> torch.Tensor:
        return self.regulation(x) + self.basal - self.decay * x

    # -- integration ----------------------------------------------------------------------
    def integrate(
        self,
        x0: torch.Tensor,
        mask: torch.Tensor,
        *,
        knockout_level: torch.Tensor | None = None,
        shift: torch.Tensor | None = None,
        uniform: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """End states from ``x0`` (``(P, n, genes)``) under the interventions ``mask`` (``(P, genes)``).

        ``knockout_level`` / ``shift`` (``(genes,)`` or ``(P, genes)``) default to the
        learned values. ``uniform`` (like ``x0``, values in [0, 1)) draws which cells keep
        their knocked gene with ``knockout_mode="mosaic"`` (``None``: every cell at the
        expected level ``rho * x0``).
        """
        cfg = self.config
        m = mask[:, None, :].to(x0.dtype)
        h = cfg.t_end / cfg.n_time_steps
        if cfg.intervention == "knockout":
            rho = self.knockout_level if knockout_level is None else knockout_level
            rho = rho if rho.dim() == 1 else rho[:, None, :]
            if cfg.knockout_mode == "mosaic" and uniform is not None:
                # kept (unedited) cells: 1; straight-through gradient to rho (the mean)
                keep = (uniform < rho).to(x0.dtype)
                rho = keep + rho - rho.detach()
            x = x0 * (1.0 - m) + rho * x0 * m
            free = 1.0 - m

            def f(z):
                return self.velocity(z) * free

        else:
            d = self.shift if shift is None else shift
            d = d if d.dim() == 1 else d[:, None, :]
            drive = d * m
            x = x0

            def f(z):
                return self.velocity(z) + drive

        for _ in range(cfg.n_time_steps):
            if cfg.solver == "euler":
                x = x + h * f(x)
            else:
                k1 = f(x)
                k2 = f(x + 0.5 * h * k1)
                k3 = f(x + 0.5 * h * k2)
                k4 = f(x + h * k3)
                x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return x

    def readout(self, x0: torch.Tensor, end: torch.Tensor, mask: torch.Tensor, control_end: torch.Tensor) -> torch.Tensor:
        """Predicted cells from start states ``x0``, end states ``end`` (``(P, n, genes)``) and
        the unperturbed end states ``control_end`` (``(n, genes)``) of the same start states."""
        if not self.config.counterfactual:
            return end
        pred = x0 + end - control_end
        if self.config.intervention == "knockout":
            m = mask[:, None, :].to(end.dtype)
            pred = pred * (1.0 - m) + end * m
        return pred

    @torch.no_grad()
    def grn(self, x_control: torch.Tensor) -> torch.Tensor:
        """``A^T diag(mean sigma') B^T`` at the control cells; row = regulator, column = target."""
        z = torch.sigmoid((x_control - self.mu) @ self.A.T + self.b)
        slope = (z * (1 - z)).mean(0)
        g = (self.A.T * slope) @ self.B.T
        g.fill_diagonal_(0.0)
        return g


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------


def _sample(starts: torch.Tensor, counts: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` random rows (with replacement) of each group; ``(groups, n)`` indices."""
    u = torch.rand((starts.numel(), n), generator=generator)
    return starts[:, None] + (u * counts[:, None]).long().clamp_max(counts[:, None] - 1)


def train_perturbode(
    x: np.ndarray,
    group_codes: np.ndarray,
    masks: np.ndarray,
    control_code: int,
    config: PerturbODEConfig,
    *,
    seed: int = 0,
    device: torch.device = torch.device("cpu"),
    show_progress_bar: bool = False,
) -> tuple[PerturbODEModule, dict[str, np.ndarray]]:
    """Fit a :class:`PerturbODEModule` on scaled cells ``x`` grouped by ``group_codes``.

    ``masks[p]`` is the intervention indicator (genes) of group ``p``; group
    ``control_code`` has none and supplies the start states.
    """
    n_genes = x.shape[1]
    n_groups = masks.shape[0]
    gen = torch.Generator().manual_seed(int(seed))
    order = np.argsort(group_codes, kind="stable")
    counts_np = np.bincount(group_codes, minlength=n_groups)
    starts_np = np.concatenate([[0], np.cumsum(counts_np)[:-1]])
    xs = torch.as_tensor(x[order], dtype=torch.float32)
    ctrl = torch.as_tensor(x[group_codes == control_code], dtype=torch.float32)
    mu = ctrl.mean(0)
    module = PerturbODEModule(
        n_genes, config.resolved_n_modules(n_genes), mu=mu, config=config, generator=gen
    ).to(device)
    xs_d, ctrl_d = xs.to(device), ctrl.to(device)
    mask_d = torch.as_tensor(masks, dtype=torch.float32, device=device)
    starts = torch.as_tensor(starts_np, dtype=torch.long)
    counts = torch.as_tensor(counts_np, dtype=torch.long)
    ctrl_count = torch.tensor([ctrl.shape[0]])
    opt = torch.optim.Adam(module.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.n_epochs, eta_min=0.1 * config.lr)
    bs = int(config.batch_size)
    hist = {k: np.zeros(config.n_epochs, dtype=np.float32) for k in ("loss", "ot", "l1")}
    obs_mean = torch.stack(
        [xs[starts_np[p] : starts_np[p] + counts_np[p]].mean(0) for p in range(n_groups)]
    ).to(device)
    obs_effect = obs_mean - mu.to(device)
    hist["mean"] = np.zeros(config.n_epochs, dtype=np.float32)
    is_ctrl = torch.zeros(n_groups, 1, 1, device=device)
    is_ctrl[control_code] = 1.0
    for epoch in tqdm(range(config.n_epochs), disable=not show_progress_bar, desc="PerturbODE", unit="epoch"):
        obs_idx = _sample(starts, counts, bs, gen)
        start_idx = _sample(torch.zeros(1, dtype=torch.long), ctrl_count, bs, gen)[0]
        x0 = ctrl_d[start_idx.to(device)].expand(n_groups, bs, n_genes)
        target = xs_d[obs_idx.to(device)]
        u = torch.rand(x0.shape, generator=gen).to(device) if config.knockout_mode == "mosaic" else None
        end = module.integrate(x0, mask_d, uniform=u)
        pred = module.readout(x0, end, mask_d, end[control_code])
        pred = is_ctrl * end + (1.0 - is_ctrl) * pred  # control cells: their own end states
        ot = sinkhorn_divergence(
            pred,
            target,
            epsilon=config.epsilon,
            n_iter=config.sinkhorn_iter,
            cost_scale=float(n_genes),
            skip_constant=True,
        ).mean()
        l1 = (module.A.abs().sum() + module.B.abs().sum()) / n_genes
        effect = pred.mean(1) - x0[0].mean(0)
        mean_term = ((effect - obs_effect) ** 2).mean()
        l1_weight = config.l1 * min(1.0, (epoch + 1) / max(config.l1_warmup * config.n_epochs, 1.0))
        loss = ot + l1_weight * l1 + config.mean_weight * mean_term
        hist["mean"][epoch] = float(mean_term.detach())
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"PerturbODE's loss became {float(loss)} at epoch {epoch}: lower lr or raise "
                "n_time_steps (smaller integration steps)."
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        hist["loss"][epoch] = float(loss.detach())
        hist["ot"][epoch] = float(ot.detach())
        hist["l1"][epoch] = float(l1.detach())
    module.eval()
    return module.cpu(), hist


# ---------------------------------------------------------------------------
# user-facing class
# ---------------------------------------------------------------------------


class PerturbODE:
    """PerturbODE (Lin et al. 2025): a neural ODE with gene-module hidden units, fitted to a
    perturbation screen by optimal transport; its weights give the GRN.

    See the module docstring (:mod:`scgrn.models._perturbode`) for the dynamics.

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression (non-negative: 0 means "not expressed"),
        with one perturbation label per cell in ``obs[perturbation_key]``.
    perturbation_key
        ``obs`` column of labels: ``control``, a gene name of ``var_names``, or several
        joined by ``"+"`` (``"G3+G7"``).
    control
        Label of control (unperturbed / non-targeting) cells; at least 10 are needed.
    layer
        Read this layer instead of ``X``.
    **hyperparameters
        Fields of :class:`PerturbODEConfig` (``n_modules``, ``intervention``, ``n_epochs``,
        ``l1``, ...).

    Examples
    --------
    >>> import scgrn
    >>> adata, net = scgrn.datasets.simulate_perturbation_screen(
    ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
    >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
    >>> model.train(show_progress_bar=False)
    >>> model.get_grn().shape
    (12, 12)
    >>> pred = model.predict("G00", n_obs=20)
    >>> pred.shape, bool(pred.obs["predicted"].all())
    ((20, 12), True)
    """

    def __init__(
        self,
        adata: AnnData,
        *,
        perturbation_key: str = "perturbation",
        control: str = "control",
        layer: str | None = None,
        **hyperparameters,
    ):
        self.config = make_config(**hyperparameters)
        self.config.validate(adata.n_vars)
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
        self.targets = parse_perturbations(
            labels, adata.var_names, control=control, where=f"adata.obs[{perturbation_key!r}]"
        )
        if len(self.targets) < 2:
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
        self.var_names = pd.Index(adata.var_names).copy()
        self.layer = layer
        self.perturbation_key = perturbation_key
        self.control = control
        scale = x.std(0)
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        self.scale = scale
        self._x = x / scale
        self._labels = labels
        self.module: PerturbODEModule | None = None
        self.history: dict[str, np.ndarray] = {}
        self.random_state = 0
        self.training_time_s = float("nan")

    # -- helpers ----------------------------------------------------------------------------
    @property
    def perturbations(self) -> list[str]:
        """Training perturbation labels (control excluded)."""
        return [k for k in self.targets if k != self.control]

    def _mask(self, genes: list[str]) -> np.ndarray:
        m = np.zeros(len(self.var_names), dtype=np.float32)
        m[self.var_names.get_indexer(genes)] = 1.0
        return m

    @property
    def _control_x(self) -> np.ndarray:
        return self._x[self._labels == self.control]

    @property
    def trained_genes(self) -> list[str]:
        """Genes targeted by at least one training perturbation."""
        return list(dict.fromkeys(g for k in self.perturbations for g in self.targets[k]))

    def _require_trained(self) -> PerturbODEModule:
        if self.module is None:
            raise RuntimeError("The model is not trained yet: call `.train()` first.")
        return self.module

    # -- training -----------------------------------------------------------------------------
    def train(self, *, random_state: int = 0, device="auto", show_progress_bar: bool | None = None) -> None:
        """Fit the ODE to every perturbation of the training data.

        Parameters
        ----------
        random_state
            Seed of initialisation and cell sampling; same seed, same result on CPU.
        device
            ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.
        show_progress_bar
            Progress bar over epochs (``None``: ``scgrn.settings.show_progress_bar``).

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.simulate_perturbation_screen(
        ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
        >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
        >>> model.train(show_progress_bar=False)
        >>> len(model.history["loss"])  # one value per epoch
        5
        """
        self.random_state = int(random_state)
        groups = list(self.targets)
        codes = pd.Categorical(self._labels, categories=groups).codes.astype(np.int64)
        masks = np.stack([self._mask(self.targets[g]) for g in groups])
        torch.manual_seed(self.random_state)
        t0 = time.perf_counter()
        self.module, self.history = train_perturbode(
            self._x,
            codes,
            masks,
            groups.index(self.control),
            self.config,
            seed=self.random_state,
            device=resolve_device(device),
            show_progress_bar=resolve_progress_bar(show_progress_bar),
        )
        self.training_time_s = time.perf_counter() - t0

    # -- results ------------------------------------------------------------------------------
    def get_grn(self) -> np.ndarray:
        """Gene x gene GRN (float32), row = regulator, column = target, zero diagonal.

        ``G = A^T diag(s) B^T`` with ``s`` the mean sigmoid slope of each module over the
        control cells: the control-averaged Jacobian ``d(regulation of target)/d(regulator)``
        in units of the per-gene standard deviations. Signed (+ activation, - repression).

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.simulate_perturbation_screen(
        ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
        >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
        >>> model.train(show_progress_bar=False)
        >>> g = model.get_grn()
        >>> g.shape, float(abs(g.diagonal()).max())
        ((12, 12), 0.0)
        """
        module = self._require_trained()
        g = module.grn(torch.as_tensor(self._control_x))
        return g.numpy().astype(np.float32)

    def get_modules(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The module loadings as genes x modules DataFrames ``(inputs, outputs)``.

        ``inputs = A^T``: how strongly each gene drives each module (the regulator side).
        ``outputs = B``: how strongly each module drives each gene (the target side).
        Columns are ``module_0``, ``module_1``, ... .

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.simulate_perturbation_screen(
        ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
        >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
        >>> model.train(show_progress_bar=False)
        >>> inputs, outputs = model.get_modules()
        >>> inputs.shape, list(outputs.columns[:2])
        ((12, 4), ['module_0', 'module_1'])
        """
        module = self._require_trained()
        cols = [f"module_{i}" for i in range(module.A.shape[0])]
        a = pd.DataFrame(module.A.detach().numpy().T.copy(), index=self.var_names, columns=cols)
        b = pd.DataFrame(module.B.detach().numpy().copy(), index=self.var_names, columns=cols)
        return a, b

    def get_parameters(self) -> pd.DataFrame:
        """Per-gene parameters: ``decay``, ``basal``, ``knockout_level`` (or ``shift``), and
        ``trained`` (the gene was targeted in training; its intervention parameter is learned,
        else the default for unseen genes is used by :meth:`predict`).

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.simulate_perturbation_screen(
        ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
        >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
        >>> model.train(show_progress_bar=False)
        >>> list(model.get_parameters().columns)
        ['decay', 'basal', 'knockout_level', 'trained']
        """
        module = self._require_trained()
        df = pd.DataFrame(index=self.var_names)
        df["decay"] = module.decay.detach().numpy()
        df["basal"] = (module.basal.detach().numpy() * self.scale).astype(np.float32)
        trained = self.var_names.isin(self.trained_genes)
        if self.config.intervention == "knockout":
            df["knockout_level"] = np.where(trained, module.knockout_level.detach().numpy(), np.nan)
        else:
            df["shift"] = np.where(trained, (module.shift.detach().numpy() * self.scale), np.nan)
        df["trained"] = trained
        return df

    def default_intervention(self) -> float:
        """Value used for genes never targeted in training: the median learned knockout level
        (``"knockout"``) or the median learned shift in scaled units (``"shift"``)."""
        module = self._require_trained()
        idx = self.var_names.get_indexer(self.trained_genes)
        if self.config.intervention == "knockout":
            return float(module.knockout_level.detach()[idx].median())
        return float(module.shift.detach()[idx].median())

    @torch.no_grad()
    def predict(
        self,
        perturbation: str | list[str],
        *,
        n_obs: int | None = None,
        random_state: int = 0,
    ) -> AnnData:
        """Predicted cells for one or more perturbations, seen in training or not.

        Control cells are integrated under the intervention; with ``counterfactual=True``
        (default) each prediction is the start cell plus the difference between its
        perturbed and unperturbed trajectories (so ``predict(control)`` returns the control
        cells), clipped at 0.
        Genes never targeted in training get :meth:`default_intervention`.

        Parameters
        ----------
        perturbation
            A label (``"G3"``, ``"G3+G7"``, or the control label) or a list of labels.
        n_obs
            Cells per perturbation, started from control cells drawn with replacement.
            ``None``: start once from every control cell (in order).
        random_state
            Seed of the draw of control cells (when ``n_obs`` is given) and of which cells
            keep a knocked gene (``knockout_mode="mosaic"``).

        Returns
        -------
        AnnData with the model's ``var_names``, ``X`` in the data's units,
        ``obs["perturbation"]``, ``obs["predicted"] = True``, ``obs["control_cell"]`` (the
        start state's index among the control cells) and ``uns["perturbode_prediction"]``.

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.simulate_perturbation_screen(
        ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
        >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
        >>> model.train(show_progress_bar=False)
        >>> pred = model.predict(["G00", "G01+G02"], n_obs=10)
        >>> pred.n_obs, sorted(pred.obs["perturbation"].unique())
        (20, ['G00', 'G01+G02'])
        """
        module = self._require_trained()
        labels = [perturbation] if isinstance(perturbation, str) else [str(p) for p in perturbation]
        if not labels:
            raise ValueError("perturbation is empty: pass a label or a list of labels.")
        targets = parse_perturbations(labels, self.var_names, control=self.control, where="perturbation")
        ctrl = torch.as_tensor(self._control_x)
        if n_obs is None:  # every control cell once
            n = ctrl.shape[0]
            idx = torch.arange(n).expand(len(labels), n)
        else:
            n = int(n_obs)
            if n < 1:
                raise ValueError(f"n_obs={n_obs} must be at least 1.")
            gen = torch.Generator().manual_seed(int(random_state))
            idx = torch.randint(ctrl.shape[0], (len(labels), n), generator=gen)
        x0 = ctrl[idx]
        masks = torch.as_tensor(np.stack([self._mask(targets[lab]) for lab in labels]))
        trained = torch.as_tensor(self.var_names.isin(self.trained_genes))
        default = self.default_intervention()
        if self.config.intervention == "knockout":
            level = torch.where(trained, module.knockout_level, torch.tensor(default))
            u = torch.rand(x0.shape, generator=torch.Generator().manual_seed(int(random_state) + 1))
            end = module.integrate(x0, masks, knockout_level=level, uniform=u)
        else:
            shift = torch.where(trained, module.shift, torch.tensor(default))
            end = module.integrate(x0, masks, shift=shift)
        if self.config.counterfactual:
            end0 = module.integrate(x0, torch.zeros_like(masks))
            end = module.readout(x0, end, masks, end0).clamp_min(0.0)
        X = (end.reshape(-1, len(self.var_names)).numpy() * self.scale).astype(np.float32)
        obs = pd.DataFrame(index=pd.Index([f"pred{i}" for i in range(X.shape[0])]))
        obs["perturbation"] = pd.Categorical(np.repeat(labels, n), categories=list(dict.fromkeys(labels)))
        obs["predicted"] = True
        obs["control_cell"] = idx.reshape(-1).numpy().astype(np.int64)
        out = AnnData(X=X, obs=obs, var=pd.DataFrame(index=self.var_names.copy()))
        out.uns["perturbode_prediction"] = {
            "method": "perturbode",
            "version": __version__,
            "intervention": self.config.intervention,
            "unseen_genes": [g for lab in labels for g in targets[lab] if g not in self.trained_genes],
            "default_intervention": default,
            "random_state": int(random_state),
        }
        return out

    def params(self) -> dict:
        """Every hyperparameter (``n_modules`` resolved) plus the seed and labels."""
        d = self.config.to_dict()
        d["n_modules"] = self.config.resolved_n_modules(len(self.var_names))
        d.update(
            random_state=self.random_state,
            perturbation_key=self.perturbation_key,
            control=self.control,
            layer="X" if self.layer is None else self.layer,
        )
        return d

    # -- persistence ----------------------------------------------------------------------------
    def _check_var_names(self, var_names) -> None:
        var_names = pd.Index(var_names)
        if not var_names.equals(self.var_names):
            missing = self.var_names.difference(var_names)
            raise ValueError(
                "The AnnData's var_names differ from the genes the model was trained on "
                f"({len(self.var_names)} genes, {len(missing)} missing, e.g. {list(missing[:5])}). "
                "Subset and order the AnnData as in training: `adata[:, model.var_names]`."
            )

    def save(self, dir_path: str | Path, *, overwrite: bool = False) -> None:
        """Save weights, hyperparameters, gene names, scaling and history to a folder.

        :meth:`load` needs the training AnnData back (its control cells are the start states).
        """
        module = self._require_trained()
        path = Path(dir_path)
        if path.exists() and any(path.iterdir()) and not overwrite:
            raise FileExistsError(f"{path} is not empty; pass overwrite=True to replace it.")
        path.mkdir(parents=True, exist_ok=True)
        torch.save(module.state_dict(), path / "model.pt")
        meta = {
            "scgrn_version": __version__,
            "config": self.config.to_dict(),
            "random_state": self.random_state,
            "layer": self.layer,
            "perturbation_key": self.perturbation_key,
            "control": self.control,
            "var_names": list(map(str, self.var_names)),
            "perturbations": self.perturbations,
            "scale": [float(s) for s in self.scale],
        }
        (path / "model.json").write_text(json.dumps(meta, indent=1))
        np.savez(path / "history.npz", **self.history)

    @classmethod
    def load(cls, dir_path: str | Path, adata: AnnData) -> "PerturbODE":
        """Load a model saved with :meth:`save`; ``adata`` must have the same var_names and
        the control cells (it is usually the training AnnData)."""
        path = Path(dir_path)
        if not (path / "model.json").exists():
            raise FileNotFoundError(f"No saved PerturbODE model in {path} (model.json missing).")
        meta = json.loads((path / "model.json").read_text())
        names = pd.Index(meta["var_names"])
        if not pd.Index(adata.var_names).equals(names):
            missing = names.difference(pd.Index(adata.var_names))
            raise ValueError(
                "The AnnData's var_names differ from the genes the model was trained on "
                f"({len(names)} genes, {len(missing)} missing, e.g. {list(missing[:5])}). "
                "Subset and order the AnnData as in training: `adata[:, genes]`."
            )
        config = PerturbODEConfig.from_dict(meta["config"])
        model = cls(
            adata,
            perturbation_key=meta["perturbation_key"],
            control=meta["control"],
            layer=meta["layer"],
            **asdict(config),
        )
        model.scale = np.asarray(meta["scale"], dtype=np.float32)
        x = expression_matrix(adata, layer=model.layer, min_cells=1)
        model._x = x / model.scale
        # the training perturbations define which genes have learned parameters
        model.targets = {model.control: [], **{p: p.split("+") for p in meta["perturbations"]}}
        model.random_state = int(meta["random_state"])
        n_genes = len(names)
        module = PerturbODEModule(
            n_genes,
            config.resolved_n_modules(n_genes),
            mu=torch.zeros(n_genes),
            config=config,
        )
        module.load_state_dict(torch.load(path / "model.pt", map_location="cpu"))
        module.eval()
        model.module = module
        with np.load(path / "history.npz") as h:
            model.history = {k: h[k] for k in h.files}
        return model

    def __repr__(self) -> str:
        state = "trained" if self.module is not None else "untrained"
        return (
            f"PerturbODE({state}, {len(self.var_names)} genes, "
            f"{self.config.resolved_n_modules(len(self.var_names))} modules, "
            f"{len(self.perturbations)} perturbations, intervention={self.config.intervention!r})"
        )
