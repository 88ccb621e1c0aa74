"""Training a DeepSEM ensemble: streamed mini-batches, members in groups that fit in memory.

The members of an ensemble are trained together as one vectorised model when they fit in the
memory budget, else in consecutive groups that each fit; the groups are then joined into one
:class:`~scgrn.models.DeepSEMEnsemble`, so everything downstream sees the whole ensemble.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import replace

import numpy as np
import torch
from scanpy import logging as logg
from tqdm.auto import tqdm

from .._heap import retained_heap
from .._params import ParameterTypeError
from .._matrix import ColumnSummary
from .._validate import checked_array
from ._deepsem_data import CellBatches, steps_in_blocks
from ._deepsem_config import (
    DeepSEMConfig,
    resolved_alpha,
    resolved_dropout_augmentation,
    resolved_lr_adj,
    total_steps,
    zero_fraction,
)
from ._deepsem_module import DeepSEMEnsemble, NonFiniteError

#: seed offset between consecutive member groups (group 0 uses the run's seed itself)
GROUP_SEED_STEP = 1_000_003
#: share of the free memory that ``max_memory=None`` lets training use
MEMORY_SHARE = 0.7
_FLOAT = 4  # bytes


class DivergenceError(FloatingPointError, ValueError):
    """DeepSEM training diverged: the loss or the weights became NaN or infinite.

    Subclasses both :class:`FloatingPointError` and :class:`ValueError`; nothing is written
    to the AnnData when a tool raises it.
    """


def _diverged(step: int, n_total: int, config: DeepSEMConfig, lr_adj: float) -> DivergenceError:
    return DivergenceError(
        f"DeepSEM training diverged at step {step + 1} of {n_total}: the loss or the weights became NaN or "
        f"infinite. The learning rates are too large for this data (lr_nn={config.lr_nn:g}, lr_adj={lr_adj:g}). "
        f"Fix: lower them, e.g. lr_nn={config.lr_nn / 10:g}, lr_adj={lr_adj / 10:g}, and check that the input is "
        "log-normalised expression (sc.pp.normalize_total + sc.pp.log1p), not raw counts."
    )


class DoesNotFitError(MemoryError, ValueError):
    """A DeepSEM run cannot fit in the memory budget, even one member at a time.

    Subclasses both :class:`MemoryError` and :class:`ValueError` so either can be caught.
    """


def member_bytes(n_genes: int, n_regulators: int, config: DeepSEMConfig) -> int:
    """Estimated peak bytes one ensemble member adds to a training step.

    ``W`` with its gradient, two optimiser moments and four temporaries of its size (the
    backward pass's gradients of its three products, its bfloat16 copy); about 40
    float ``batch x genes`` activations kept for the backward pass (the MLPs' hidden layers
    on top when ``mlp_grid`` is ``None``); the co-expression term; the regulator block's LU.

    Examples
    --------
    >>> from scgrn.models import make_config
    >>> round(member_bytes(20_000, 2_000, make_config()) / 2**30, 2)  # GiB
    1.48
    """
    w = n_regulators * n_genes
    batch = config.batch_size
    activations = 40 * batch * n_genes
    if config.mlp_grid is None:
        activations += 8 * batch * n_genes * config.hidden_dim
    rank = int(config.coexpression_rank) if n_regulators < n_genes else 0
    solve = 4 * (min(n_regulators, n_genes) + rank) ** 2
    coexpression = 4 * 2 * rank * n_genes + 4 * batch * rank  # A and B with gradient and moments
    return _FLOAT * (8 * w + activations + solve + coexpression)


def free_memory(device: torch.device) -> int:
    """Bytes free on ``device`` now (CUDA: the device's free memory; CPU: MemAvailable)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def parse_memory(max_memory) -> int | None:
    """``None``, bytes as a number, or a string such as ``"8GB"`` / ``"512MB"`` -> bytes.

    Examples
    --------
    >>> parse_memory("8GB"), parse_memory("512 MB"), parse_memory(None)
    (8000000000, 512000000, None)
    """
    if max_memory is None:
        return None
    if isinstance(max_memory, str):
        text = max_memory.strip().upper().replace(" ", "")
        units = {"TB": 1e12, "GB": 1e9, "MB": 1e6, "KB": 1e3, "B": 1}
        for unit, factor in units.items():
            if text.endswith(unit):
                try:
                    return int(float(text[: -len(unit)]) * factor)
                except ValueError:
                    break
        raise ValueError(f"max_memory={max_memory!r} is not a size; write e.g. '8GB', '512MB' or a number of bytes.")
    value = int(max_memory)
    if value <= 0:
        raise ValueError(f"max_memory must be positive, got {max_memory!r}.")
    return value


def format_bytes(n: float) -> str:
    """A size in the largest unit that keeps it at 1 or more (B, KB, MB, GB, TB; powers of 1000).

    Examples
    --------
    >>> format_bytes(1000), format_bytes(48_300), format_bytes(2.5e9), format_bytes(12)
    ('1.0 KB', '48.3 KB', '2.5 GB', '12 B')
    """
    for unit, factor in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{int(n)} B"


def plan_member_groups(
    n_genes: int, n_regulators: int, config: DeepSEMConfig, *, budget: int
) -> list[int]:
    """Split ``config.n_models`` members into consecutive groups that each fit in ``budget`` bytes.

    Examples
    --------
    >>> from scgrn.models import make_config
    >>> plan_member_groups(100, 100, make_config(n_models=8), budget=10**12)
    [8]
    >>> one = member_bytes(100, 100, make_config())
    >>> plan_member_groups(100, 100, make_config(n_models=8), budget=3 * one)
    [3, 3, 2]
    """
    per_member = member_bytes(n_genes, n_regulators, config)
    fit = budget // per_member
    if fit < 1:
        raise DoesNotFitError(
            f"One DeepSEM member on {n_genes} genes with {n_regulators} regulators needs about "
            f"{format_bytes(per_member)}, more than the memory budget of {format_bytes(budget)}. "
            "Fix: pass tfs= (only TF rows are learned: memory grows with TFs x genes, not genes^2), "
            "select fewer genes (scgrn.pp.select_genes), lower batch_size, or raise max_memory."
        )
    n = config.n_models
    fit = int(min(fit, n))
    return [fit] * (n // fit) + ([n % fit] if n % fit else [])


def step_flops(n_genes: int, n_regulators: int, config: DeepSEMConfig, n_members: int) -> float:
    """Floating-point operations of one training step (forward and backward), all members."""
    b, g, r = config.batch_size, n_genes, n_regulators
    k = int(config.coexpression_rank) if r < g else 0
    # 3 products with W (mean, log-variance, inverse) x3 for the backward pass; the block's LU,
    # 2/3 n^3 (its backward pass reuses the factors). Counted as 2 n^3 before, the log line
    # overestimated the genes x genes model's time 3 x at 2,000 genes.
    grn = 18.0 * b * r * g + (2.0 / 3.0) * (r + k) ** 3 + 6.0 * r * g * k + 36.0 * b * g * k
    mlp = 0.0 if config.mlp_grid is not None else 18.0 * b * g * config.hidden_dim**2
    return n_members * (grn + mlp)


def _throughput(device: torch.device) -> float:
    """Measured batched matrix-product speed on ``device`` (FLOP/s), from a short probe."""
    a = torch.randn(4, 128, 512, device=device)
    w = torch.randn(4, 512, 2048, device=device)
    torch.bmm(a, w)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(5):
        torch.bmm(a, w)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return 5 * 2.0 * 4 * 128 * 512 * 2048 / max(time.perf_counter() - t0, 1e-6)


def _optimisers(model: DeepSEMEnsemble, config: DeepSEMConfig, lr_adj: float):
    nn_params = [p for name, p in model.named_parameters() if name != "adj"]
    if config.optimizer == "joint":
        opt = torch.optim.Adam(
            [{"params": nn_params, "lr": config.lr_nn}, {"params": [model.adj], "lr": lr_adj}],
            betas=(0.9, 0.9),
            # one pass over W per step instead of one per update term (W is TFs x genes per member)
            fused=True,
        )
        return opt, opt, None
    opt_nn = torch.optim.RMSprop(nn_params, lr=config.lr_nn)
    opt_adj = torch.optim.RMSprop([model.adj], lr=lr_adj)
    schedule = torch.optim.lr_scheduler.StepLR(opt_nn, step_size=config.lr_step_size, gamma=0.5)
    return opt_nn, opt_adj, schedule


def _total_loss(losses: dict, config: DeepSEMConfig) -> torch.Tensor:
    """The differentiable part of the loss; the L1 term's gradient is added separately
    (:meth:`~scgrn.models.DeepSEMEnsemble.l1_step`)."""
    loss = losses["reconstruction"] + config.beta * losses["kl"]
    if "dropout_classifier" in losses:
        loss = loss + config.chi * losses["dropout_classifier"]
    return loss.sum()  # members are independent: the sum keeps their gradients apart


def _train_group(
    batches: CellBatches, config: DeepSEMConfig, *, n_total: int, seed: int, device: torch.device, regulators,
    progress, tfs=None,
) -> tuple[DeepSEMEnsemble, dict[str, np.ndarray]]:
    """Train one group of members (one vectorised model) for the run's ``n_total`` steps."""
    generator = torch.Generator().manual_seed(int(seed))
    model = DeepSEMEnsemble(batches.n_genes, config, seed=seed, regulators=regulators, tfs=tfs).to(device)
    zero_value = torch.as_tensor(batches.zero_value, device=device)
    e = config.n_models
    lr_adj = resolved_lr_adj(config, batches.n_genes, batches.n_cells, n_total, model.n_regulators)
    opt_nn, opt_adj, schedule = _optimisers(model, config, lr_adj)
    alpha = resolved_alpha(config, batches.n_genes, model.n_regulators)
    # noise for sampling lives on CPU for reproducibility across devices
    device_generator = generator if device.type == "cpu" else torch.Generator(device).manual_seed(int(seed))

    sums: list[dict[str, torch.Tensor]] = [{} for _ in range(config.n_epochs)]
    counts = np.zeros(config.n_epochs, dtype=np.int64)
    step = 0
    while step < n_total:
        for start, stop in batches.blocks(generator):
            block = batches.load(start, stop)
            n_block = stop - start
            batch_size = min(config.batch_size, n_block)
            order = torch.argsort(torch.rand(e, n_block, generator=generator), dim=1).numpy()
            for j in range(max(1, n_block // batch_size)):
                if step == n_total:
                    break
                # the epoch this step stands for in the (possibly capped) run's schedule
                epoch = step * config.n_epochs // n_total
                train_adj_only = config.optimizer == "alternate" and epoch % (config.k1 + config.k2) >= config.k1
                model.adj.requires_grad_(config.optimizer == "joint" or train_adj_only)
                xb, ob = batches.rows(order[:, j * batch_size : (j + 1) * batch_size], block)
                xb, ob = xb.to(device), ob.to(device)
                dropped = torch.zeros_like(ob)
                if config.dropout_augmentation > 0:
                    dropped = torch.rand(xb.shape, generator=generator).to(device) < config.dropout_augmentation
                    xb = torch.where(dropped, zero_value, xb)
                try:
                    losses = model(xb, ob, dropped, device_generator)
                except NonFiniteError:
                    raise _diverged(step, n_total, config, lr_adj) from None
                loss = _total_loss(losses, config)
                if not bool(torch.isfinite(loss)):
                    raise _diverged(step, n_total, config, lr_adj)
                opt_nn.zero_grad(set_to_none=True)
                opt_adj.zero_grad(set_to_none=True)
                loss.backward()
                model.zero_self_loop_grad()
                sparse_now = epoch >= config.delay_sparsity and model.adj.requires_grad
                l1 = model.l1_step(alpha if sparse_now else 0.0)
                losses = {"reconstruction": losses.pop("reconstruction"), "kl": losses.pop("kl"), "sparsity": l1, **losses}
                if config.optimizer == "joint" or not train_adj_only:
                    opt_nn.step()
                else:
                    opt_adj.step()
                if schedule is not None:
                    schedule.step()
                for k, v in losses.items():
                    sums[epoch][k] = sums[epoch].get(k, 0) + v.detach()
                counts[epoch] += 1
                step += 1
                progress.update(1)
            if step == n_total:
                break
    model.adj.requires_grad_(True)
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise _diverged(step - 1, n_total, config, lr_adj)
    model = model.cpu().eval()
    kept = [i for i in range(config.n_epochs) if counts[i]]
    history = {
        k: np.stack([(sums[i][k] / int(counts[i])).cpu().numpy() for i in kept]).astype(np.float32)
        for k in sums[kept[0]]
    }
    return model, history


def _join_groups(models: list[DeepSEMEnsemble], config: DeepSEMConfig, regulators) -> DeepSEMEnsemble:
    """One ensemble whose members are those of ``models`` in order."""
    if len(models) == 1:
        return models[0]
    joined = DeepSEMEnsemble(models[0].n_genes, config, regulators=regulators)
    states = [m.state_dict() for m in models]
    merged = {}
    for name, value in states[0].items():
        shared = name in ("regulators", "non_regulator")  # gene positions, not per member
        merged[name] = value if shared else torch.cat([s[name] for s in states], dim=0)
    joined.load_state_dict(merged)
    return joined.eval()


def train_deepsem(
    x,
    config: DeepSEMConfig,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    show_progress_bar: bool = True,
    regulators=None,
    summary: ColumnSummary | None = None,
    max_memory=None,
    tfs=None,
) -> tuple[DeepSEMEnsemble, dict[str, np.ndarray]]:
    """Train a DeepSEM ensemble on a cells x genes matrix (log-normalised expression).

    Parameters
    ----------
    x
        Cells x genes: a dense array, a scipy sparse matrix (CSR is fastest) or a backed
        matrix; never densified as a whole. Checked first, as :class:`~scgrn.models.DeepSEM`
        checks its AnnData: real numbers, 2-D, at least 2 cells and 2 genes, and no NaN or
        infinite value (a ``ValueError`` names ``x``, the count and the genes).
    config
        Hyperparameters.
    seed
        Seed of initialisation, mini-batches and sampling.
    device
        Torch device.
    show_progress_bar
        A progress bar over the optimiser steps, with ETA.
    regulators
        Gene positions allowed to regulate (TFs); ``None``: every gene
        (see :class:`~scgrn.models.DeepSEMEnsemble`).
    tfs
        With ``regulators=None``: positions of the TFs whose rows will be read as the GRN;
        the members of :func:`~scgrn.models._deepsem_module.tfs_only_start` start the non-TF
        rows at zero (see :class:`~scgrn.models.DeepSEMEnsemble`). Ignored with ``regulators``.
    summary
        A :func:`~scgrn._matrix.summarise_columns` pass over ``x`` if already made (the checks
        then read it instead of passing over ``x``).
    max_memory
        Memory budget (bytes or a string such as ``"8GB"``); ``None``: 70 % of the memory
        free on ``device``. Members train together when they fit, in consecutive groups
        (group ``i`` seeded ``seed + i * 1000003``) when not; a run that cannot fit even one
        member at a time raises :class:`DoesNotFitError` before training.

    Returns
    -------
    The trained model (on CPU) and the per-epoch history: each entry is an
    (n_epochs, n_models) array of mean mini-batch losses (epochs of the capped schedule
    when ``max_steps`` applies).

    Examples
    --------
    >>> import numpy as np
    >>> from scgrn.models import make_config
    >>> x = np.random.default_rng(0).normal(size=(40, 5)).astype("float32")
    >>> model, history = train_deepsem(x, make_config(n_models=2, n_epochs=2, hidden_dim=4),
    ...                                show_progress_bar=False)
    >>> model.grn().shape, history["reconstruction"].shape
    (torch.Size([2, 5, 5]), (2, 2))
    """
    if not isinstance(config, DeepSEMConfig):
        raise ParameterTypeError(
            f"config must be a DeepSEMConfig, got {type(config).__name__}. Build one with "
            "`scgrn.models.make_config('default', n_epochs=..., ...)` (a preset with overrides), or "
            "train from an AnnData with `scgrn.models.DeepSEM(adata, ...)`."
        )
    config.validate()
    if hasattr(x, "obs") and hasattr(x, "var"):  # an AnnData (as every tl function takes), before any work
        raise ParameterTypeError(
            f"x must be a cells x genes matrix, got {type(x).__name__}: pass the matrix (`adata.X`, or "
            "`adata.layers[name]`), or train from the AnnData with `scgrn.models.DeepSEM(adata, ...)` / `scgrn.tl.deepsem`."
        )
    # the shared checks of a bare matrix; the summary pass they read is the one CellBatches needs, so
    # nothing is read twice (DeepSEM.train passes its checked summary: then no pass is made at all)
    x, summary = checked_array(x, where="x", min_cells=2, min_genes=2, summary=summary)
    config = replace(config, dropout_augmentation=resolved_dropout_augmentation(config, zero_fraction(summary)))
    device = torch.device(device)
    batches = CellBatches(x, config.standardise, config.loss_on, summary)
    n_genes = batches.n_genes
    n_regulators = n_genes if regulators is None else len(regulators)
    budget = parse_memory(max_memory)
    budget = int(MEMORY_SHARE * free_memory(device)) if budget is None else budget
    groups = plan_member_groups(n_genes, n_regulators, config, budget=budget)
    n_total = total_steps(config, batches.n_cells, steps_in_blocks(batches.block_spans(), config.batch_size))
    flops = step_flops(n_genes, n_regulators, config, max(groups)) * n_total * len(groups)
    seconds = 1.5 * flops / _throughput(device)  # 1.5: the non-matrix-product work, measured on CPU
    logg.info(
        f"    DeepSEM: {batches.n_cells} cells x {n_genes} genes, {n_regulators} regulators; "
        f"{config.n_models} members in {len(groups)} group(s) of <= {max(groups)}; {n_total} steps of "
        f"{config.batch_size} cells; about {format_bytes(max(groups) * member_bytes(n_genes, n_regulators, config))} "
        f"for training and roughly {_duration(seconds)} on {device.type}"
    )
    models, histories = [], []
    with retained_heap(), tqdm(
        total=n_total * len(groups), disable=not show_progress_bar, desc="DeepSEM", unit="step"
    ) as progress:
        for i, size in enumerate(groups):
            model, history = _train_group(
                batches, replace(config, n_models=size), n_total=n_total, seed=seed + i * GROUP_SEED_STEP, device=device,
                regulators=regulators, progress=progress, tfs=tfs,
            )
            models.append(model)
            histories.append(history)
    history = {k: np.concatenate([h[k] for h in histories], axis=1) for k in histories[0]}
    return _join_groups(models, config, regulators), history


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, math.ceil(seconds))} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
