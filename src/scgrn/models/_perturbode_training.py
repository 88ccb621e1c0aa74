"""Training a PerturbODE module: each step integrates control cells under every training
perturbation and matches them to the observed cells by a Sinkhorn divergence."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from .._sinkhorn import sinkhorn_divergence
from ._perturbode_config import PerturbODEConfig
from ._perturbode_module import PerturbODEModule


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

