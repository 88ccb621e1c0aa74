"""DeepSEM as a vectorised ensemble of torch models (no AnnData here).

All ``n_models`` ensemble members are trained at once: every parameter carries a
leading ensemble axis and the per-gene MLPs run as batched matrix products, so an
ensemble of 8 costs far less than 8 sequential runs.

Notation (Shu et al. 2021, Methods): ``x`` is a cell (row vector over genes), the
shared encoder MLP ``f2`` maps every gene's value to a posterior (mean, log-variance)
per gene, the GRN layer mixes genes, ``z = h (I - W)``, and the decoder applies the
inverse GRN layer ``z (I - W)^-1`` before the shared decoder MLP ``f1``.
``W[g, h]`` is the edge regulator ``g`` -> target ``h`` (the DeepSEM paper writes
``I - W^T`` for column vectors; this is the same map for row vectors).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm


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
    alpha, beta
        Weights of the L1 penalty on ``W`` (the paper's units: ``alpha * sum|W| / n_genes**2``)
        and of the KL term. ``alpha=None`` scales it with the genes, ``0.2 * (n_genes - 1)``
        (about the paper's 100 at 500 genes): per entry of ``W`` the penalty's gradient
        shrinks like ``1 / n_genes**2`` but the reconstruction's like ``1 / n_genes``, so a
        fixed alpha crushes small networks and frees large ones.
    lr_nn, lr_adj
        Learning rates of the MLPs and of ``W``. ``lr_adj=None`` derives it from
        ``w_travel`` (see there).
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
    dropout_augmentation: float = 0.1
    chi: float = 0.5
    delay_sparsity: int = 5
    init_noise: float = 2e-4
    mlp_grid: int | None = 512

    def validate(self) -> None:
        """Raise ``ValueError`` on impossible settings."""
        if self.optimizer not in ("joint", "alternate"):
            raise ValueError(f"optimizer must be 'joint' or 'alternate', got {self.optimizer!r}.")
        for name in ("standardise", "loss_on"):
            if getattr(self, name) not in ("all", "nonzero"):
                raise ValueError(f"{name} must be 'all' or 'nonzero', got {getattr(self, name)!r}.")
        for name in ("n_models", "hidden_dim", "n_epochs", "batch_size", "k1", "k2"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}.")
        if self.mlp_grid is not None and int(self.mlp_grid) < 2:
            raise ValueError(f"mlp_grid must be None or at least 2, got {self.mlp_grid!r}.")
        if not 0.0 <= self.dropout_augmentation < 1.0:
            raise ValueError("dropout_augmentation must be in [0, 1).")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DeepSEMConfig":
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
    ),
    # The paper's recipe for cell-type-specific ChIP-seq networks.
    "celltype_specific": dict(
        hidden_dim=128, n_epochs=120, batch_size=64, alpha=1.0, beta=0.01, lr_nn=1e-4,
        lr_adj=2e-5, optimizer="alternate", standardise="nonzero", loss_on="nonzero",
        dropout_augmentation=0.0, chi=0.0, delay_sparsity=0, n_models=10, mlp_grid=None,
    ),
    # Cell embeddings: the paper's embedding settings (alpha=10, beta=1, reconstruction loss on
    # non-zero entries, alternating RMSprop as in DeepSEM's embedding model) with a z-score over
    # all values, kept CPU-fast (narrow MLP, 10 epochs of 128 cells, one member). Chosen on the
    # clustering sets (benchmarks/results/clustering.md): z-scoring over non-zero values only
    # clustered worse on the sparse UMI sets. ``tl.deepsem`` exports this preset's embedding in
    # expression units (``embedding_units="expression"``). ``w_travel=0.5`` keeps W near its
    # start, the regime that was benchmarked (freezing W left the ARI unchanged).
    "embedding": dict(
        hidden_dim=32, n_epochs=10, batch_size=128, alpha=10.0, beta=1.0, lr_nn=1e-3,
        lr_adj=None, w_travel=0.5, optimizer="alternate", standardise="all", loss_on="nonzero",
        dropout_augmentation=0.0, chi=0.0, delay_sparsity=0, n_models=1, mlp_grid=None,
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


def standardise(x: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-score genes (columns).

    Returns the scaled matrix, the mask of observed (non-zero) entries and, per gene, the
    value a raw zero maps to (what dropout augmentation writes). ``mode="nonzero"`` takes
    mean and standard deviation over each gene's non-zero values and clips to +-20, as
    DeepSEM's cell-type-specific code does.
    """
    x = np.asarray(x, dtype=np.float32)
    observed = x != 0
    if mode == "all":
        mean = x.mean(0)
        std = x.std(0)
    else:
        counts = np.maximum(observed.sum(0), 1)
        mean = (x * observed).sum(0) / counts
        std = np.sqrt((((x - mean) * observed) ** 2).sum(0) / counts)
    std = np.where(std > 0, std, 1.0)
    scaled = (x - mean) / std
    zero_value = -mean / std
    if mode == "nonzero":
        scaled = np.clip(scaled, -20, 20)
        zero_value = np.clip(zero_value, -20, 20)
    return scaled.astype(np.float32), observed, zero_value.astype(np.float32)


class _Tanh(torch.autograd.Function):
    """tanh whose CPU forward runs through NumPy.

    Profiling showed ``torch.tanh`` on CPU to be about 10x slower than ``np.tanh`` on the
    same float32 array (torch 2.13 CPU build), and tanh was a third of DeepSEM's training
    time. The backward pass is torch's own ``tanh_backward`` of the saved output.
    """

    @staticmethod
    def forward(ctx, x):
        if x.device.type == "cpu" and x.dtype == torch.float32:
            y = torch.from_numpy(np.tanh(x.detach().numpy()))
        else:
            y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)


def _tanh(x: torch.Tensor) -> torch.Tensor:
    return _Tanh.apply(x)


class _EnsembleMLP(nn.Module):
    """Scalar-input MLP (1 -> H -> H -> out) with tanh, one weight set per ensemble member."""

    def __init__(self, n_models: int, hidden_dim: int, out_dim: int, generator: torch.Generator):
        super().__init__()

        def xavier(fan_in, fan_out):
            std = math.sqrt(2.0 / (fan_in + fan_out))
            return nn.Parameter(torch.randn(n_models, fan_in, fan_out, generator=generator) * std)

        self.w1 = xavier(1, hidden_dim)
        self.b1 = nn.Parameter(torch.zeros(n_models, 1, hidden_dim))
        self.w2 = xavier(hidden_dim, hidden_dim)
        self.b2 = nn.Parameter(torch.zeros(n_models, 1, hidden_dim))
        self.w3 = xavier(hidden_dim, out_dim)
        self.b3 = nn.Parameter(torch.zeros(n_models, 1, out_dim))

    def forward(self, x: torch.Tensor, grid: int | None = None) -> torch.Tensor:
        """``x``: (E, N) scalars -> (E, N, out); ``grid``: see :meth:`forward_tabulated`."""
        if grid is not None:
            return self.forward_tabulated(x, grid)
        h = _tanh(torch.addcmul(self.b1, x.unsqueeze(-1), self.w1))  # 1-wide input: no matmul
        h = _tanh(torch.baddbmm(self.b2, h, self.w2))
        return torch.baddbmm(self.b3, h, self.w3)

    def forward_tabulated(self, x: torch.Tensor, n_points: int) -> torch.Tensor:
        """The same map, evaluated on an ``n_points`` grid and interpolated linearly.

        The MLP takes one scalar, so each member's whole map is a curve: evaluating it on a
        grid spanning this batch's values and interpolating costs ``n_points`` MLP calls per
        member instead of one per (cell, gene). Gradients reach the MLP weights through the
        grid values and ``x`` through the interpolation slope.
        """
        e = x.shape[0]
        with torch.no_grad():
            lo = x.amin(dim=1, keepdim=True)
            span = (x.amax(dim=1, keepdim=True) - lo).clamp_min(1e-6)
        step = span / (n_points - 1)
        grid = lo + step * torch.arange(n_points, device=x.device, dtype=x.dtype)  # (E, K)
        table = self.forward(grid)  # (E, K, out)
        position = (x - lo) / step
        left = position.detach().floor().clamp_(0, n_points - 2).long()
        frac = (position - left).unsqueeze(-1)
        out_dim = table.shape[-1]
        index = left.unsqueeze(-1).expand(e, x.shape[1], out_dim)
        y0 = torch.gather(table, 1, index)
        y1 = torch.gather(table, 1, index + 1)
        return torch.addcmul(y0, y1 - y0, frac)


class DeepSEMEnsemble(nn.Module):
    """``n_models`` independent DeepSEM beta-VAEs sharing nothing but the forward pass.

    Parameters
    ----------
    n_genes
        Genes (columns of the expression matrix).
    config
        Hyperparameters.
    seed
        Seed of the parameter initialisation.

    Examples
    --------
    >>> from scgrn.models import DeepSEMEnsemble, make_config
    >>> ens = DeepSEMEnsemble(5, make_config(n_models=3, hidden_dim=4), seed=0)
    >>> ens.grn().shape  # one W per member, row = regulator, zero diagonal
    torch.Size([3, 5, 5])
    >>> float(ens.grn()[0].detach().diagonal().abs().sum())
    0.0
    """

    def __init__(self, n_genes: int, config: DeepSEMConfig, seed: int = 0):
        super().__init__()
        if n_genes < 2:
            raise ValueError("DeepSEM needs at least two genes.")
        g = torch.Generator().manual_seed(int(seed))
        e = config.n_models
        self.n_genes = n_genes
        self.config = config
        w = torch.full((e, n_genes, n_genes), 1.0 / (n_genes - 1))
        w += torch.rand(w.shape, generator=g) * config.init_noise
        self.adj = nn.Parameter(w)
        self.encoder = _EnsembleMLP(e, config.hidden_dim, 2, g)  # f2: value -> (mu, logvar)
        self.decoder = _EnsembleMLP(e, config.hidden_dim, 1, g)  # f1: latent -> value
        self.dropout_classifier = _EnsembleMLP(e, 1, 1, g)
        self.register_buffer("off_diagonal", 1.0 - torch.eye(n_genes))

    def grn(self) -> torch.Tensor:
        """W of every member, diagonal fixed at zero: (E, G, G), row = regulator."""
        return self.adj * self.off_diagonal

    def i_minus_w(self) -> torch.Tensor:
        return torch.eye(self.n_genes, device=self.adj.device) - self.grn()

    def encode(self, x: torch.Tensor, i_minus_w: torch.Tensor | None = None, grid: int | None = None):
        """Posterior mean and log-variance after the GRN layer; ``x``: (E, B, G).

        ``grid``: evaluate the encoder MLP on that many points and interpolate (see
        ``DeepSEMConfig.mlp_grid``); ``None`` evaluates it exactly.
        """
        if i_minus_w is None:
            i_minus_w = self.i_minus_w()
        e, b, g = x.shape
        h = self.encoder(x.reshape(e, b * g), grid).reshape(e, b, g, 2)
        # z = h (I - W) for mean and log-variance at once: (E, 2B, G) @ (E, G, G)
        h = h.permute(0, 3, 1, 2).reshape(e, 2 * b, g)
        z = torch.bmm(h, i_minus_w).reshape(e, 2, b, g)
        return z[:, 0], z[:, 1]

    def encode_cells(
        self, x: torch.Tensor, i_minus_w: torch.Tensor | None = None, chunk: int = 512
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every member's posterior mean and log-variance of every cell; ``x``: (cells, G)
        -> two (E, cells, G) tensors, encoded ``chunk`` cells at a time."""
        if i_minus_w is None:
            i_minus_w = self.i_minus_w()
        e = self.config.n_models
        parts = [self.encode(x[s : s + chunk].expand(e, -1, -1), i_minus_w) for s in range(0, x.shape[0], chunk)]
        return torch.cat([p[0] for p in parts], dim=1), torch.cat([p[1] for p in parts], dim=1)

    def decode(
        self, z: torch.Tensor, i_minus_w: torch.Tensor | None = None, grid: int | None = None
    ) -> torch.Tensor:
        """Inverse GRN layer then decoder MLP; ``z``: (E, B, G) -> reconstruction (E, B, G)."""
        if i_minus_w is None:
            i_minus_w = self.i_minus_w()
        e, b, g = z.shape
        # z (I - W)^-1 by an LU solve (never form the inverse)
        mixed = torch.linalg.solve(i_minus_w, z, left=False)
        return self.decoder(mixed.reshape(e, b * g), grid).reshape(e, b, g)

    def forward(self, x, observed, dropped, generator):
        """Per-member losses for one mini-batch.

        ``x`` (E, B, G) standardised input after dropout augmentation, ``observed`` mask of
        entries scored by the reconstruction loss, ``dropped`` mask of augmented zeros.
        """
        i_minus_w = self.i_minus_w()
        grid = self.config.mlp_grid
        mu, logvar = self.encode(x, i_minus_w, grid)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps
        x_rec = self.decode(z, i_minus_w, grid)
        n_obs = observed.sum(dim=(1, 2)).clamp_min(1)
        reconstruction = (((x_rec - x) ** 2) * observed).sum(dim=(1, 2)) / n_obs
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).mean(dim=(1, 2))
        sparsity = self.grn().abs().sum(dim=(1, 2)) / self.n_genes**2
        losses = {"reconstruction": reconstruction, "kl": kl, "sparsity": sparsity}
        if self.config.dropout_augmentation > 0:
            e, b, g = z.shape
            logits = self.dropout_classifier(z.reshape(e, b * g), grid).reshape(e, b, g)
            p = self.config.dropout_augmentation
            pos_weight = torch.tensor((1 - p) / p, device=z.device)
            bce = nn.functional.binary_cross_entropy_with_logits(
                logits, dropped.float(), pos_weight=pos_weight, reduction="none"
            )
            losses["dropout_classifier"] = bce.mean(dim=(1, 2))
        return losses


def resolved_alpha(config: DeepSEMConfig, n_genes: int) -> float:
    """``config.alpha``, or its gene-count-scaled default when ``None``."""
    return 0.2 * (n_genes - 1) if config.alpha is None else float(config.alpha)


def _total_loss(losses: dict, config: DeepSEMConfig, epoch: int, alpha: float) -> torch.Tensor:
    loss = losses["reconstruction"] + config.beta * losses["kl"]
    if epoch >= config.delay_sparsity:
        loss = loss + alpha * losses["sparsity"]
    if "dropout_classifier" in losses:
        loss = loss + config.chi * losses["dropout_classifier"]
    return loss.sum()  # members are independent: the sum keeps their gradients apart


def steps_per_epoch(config: DeepSEMConfig, n_cells: int) -> int:
    """Optimiser steps in one epoch (the ragged last batch is dropped)."""
    return max(1, n_cells // min(config.batch_size, n_cells))


def resolved_lr_adj(config: DeepSEMConfig, n_genes: int, n_cells: int) -> float:
    """``config.lr_adj``, or, when ``None``, ``w_travel / ((n_genes - 1) * n_steps)``.

    Examples
    --------
    >>> resolved_lr_adj(make_config(n_epochs=10, batch_size=50), n_genes=101, n_cells=500)
    0.0008
    """
    if config.lr_adj is not None:
        return float(config.lr_adj)
    n_steps = config.n_epochs * steps_per_epoch(config, n_cells)
    return config.w_travel / ((n_genes - 1) * n_steps)


def _optimisers(model: DeepSEMEnsemble, config: DeepSEMConfig, n_cells: int):
    nn_params = [p for name, p in model.named_parameters() if name != "adj"]
    lr_adj = resolved_lr_adj(config, model.n_genes, n_cells)
    if config.optimizer == "joint":
        opt = torch.optim.Adam(
            [{"params": nn_params, "lr": config.lr_nn}, {"params": [model.adj], "lr": lr_adj}],
            betas=(0.9, 0.9),
        )
        return opt, opt, None
    opt_nn = torch.optim.RMSprop(nn_params, lr=config.lr_nn)
    opt_adj = torch.optim.RMSprop([model.adj], lr=lr_adj)
    schedule = torch.optim.lr_scheduler.StepLR(opt_nn, step_size=config.lr_step_size, gamma=0.5)
    return opt_nn, opt_adj, schedule


def train_deepsem(
    x: np.ndarray,
    config: DeepSEMConfig,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    show_progress_bar: bool = True,
) -> tuple[DeepSEMEnsemble, dict[str, np.ndarray]]:
    """Train a DeepSEM ensemble on a cells x genes matrix (log-normalised expression).

    Returns the trained model (on CPU) and the per-epoch history: each entry is an
    (n_epochs, n_models) array of mean mini-batch losses.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(40, 5)).astype("float32")
    >>> model, history = train_deepsem(x, make_config(n_models=2, n_epochs=2, hidden_dim=4),
    ...                                show_progress_bar=False)
    >>> model.grn().shape, history["reconstruction"].shape
    (torch.Size([2, 5, 5]), (2, 2))
    """
    config.validate()
    device = torch.device(device)
    generator = torch.Generator().manual_seed(int(seed))
    model = DeepSEMEnsemble(x.shape[1], config, seed=seed).to(device)
    scaled, observed, zero_value = standardise(x, config.standardise)
    zero_value = torch.as_tensor(zero_value, device=device)
    data = torch.as_tensor(scaled, device=device)
    observed_t = torch.as_tensor(observed if config.loss_on == "nonzero" else np.ones_like(observed), device=device)
    n_cells = data.shape[0]
    e = config.n_models
    batch_size = min(config.batch_size, n_cells)
    n_batches = steps_per_epoch(config, n_cells)
    opt_nn, opt_adj, schedule = _optimisers(model, config, n_cells)
    alpha = resolved_alpha(config, x.shape[1])
    # noise for sampling lives on CPU for reproducibility across devices
    device_generator = generator if device.type == "cpu" else torch.Generator(device).manual_seed(int(seed))

    history: dict[str, list] = {}
    for epoch in tqdm(range(config.n_epochs), disable=not show_progress_bar, desc="DeepSEM", unit="epoch"):
        train_adj_only = config.optimizer == "alternate" and epoch % (config.k1 + config.k2) >= config.k1
        model.adj.requires_grad_(config.optimizer == "joint" or train_adj_only)
        order = torch.argsort(torch.rand(e, n_cells, generator=generator), dim=1).to(device)
        sums: dict[str, torch.Tensor] = {}
        for step in range(n_batches):
            idx = order[:, step * batch_size : (step + 1) * batch_size]  # each member its own cells
            xb = data[idx]
            ob = observed_t[idx]
            dropped = torch.zeros_like(ob)
            if config.dropout_augmentation > 0:
                dropped = torch.rand(xb.shape, generator=generator).to(device) < config.dropout_augmentation
                xb = torch.where(dropped, zero_value, xb)
            losses = model(xb, ob, dropped, device_generator)
            loss = _total_loss(losses, config, epoch, alpha)
            opt_nn.zero_grad(set_to_none=True)
            opt_adj.zero_grad(set_to_none=True)
            loss.backward()
            if config.optimizer == "joint":
                opt_nn.step()
            elif train_adj_only:
                opt_adj.step()
            else:
                opt_nn.step()
            if schedule is not None:
                schedule.step()
            for k, v in losses.items():
                sums[k] = sums.get(k, 0) + v.detach()
        for k, v in sums.items():
            history.setdefault(k, []).append((v / n_batches).cpu().numpy())
    model.adj.requires_grad_(True)
    model = model.cpu().eval()
    return model, {k: np.stack(v).astype(np.float32) for k, v in history.items()}


def aggregate_grn(w: np.ndarray) -> np.ndarray:
    """Ensemble GRN: mean ``|W|`` over members, carrying the sign of the mean ``W``.

    Examples
    --------
    >>> aggregate_grn(np.array([[[0.0, 1.0], [-2.0, 0.0]], [[0.0, 3.0], [1.0, 0.0]]]))
    array([[ 0. ,  2. ],
           [-1.5,  0. ]], dtype=float32)
    """
    w = np.asarray(w)
    return (np.abs(w).mean(0) * np.sign(w.mean(0))).astype(np.float32)
