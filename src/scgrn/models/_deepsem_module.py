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
import weakref
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ._deepsem_config import DeepSEMConfig, make_config  # noqa: F401  (make_config: doctests)


class NonFiniteError(FloatingPointError):
    """A forward pass met NaN or infinite values (training turns it into a
    :class:`~scgrn.models.DivergenceError` that names the fix)."""


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
            if not bool(torch.isfinite(lo).all() and torch.isfinite(span).all()):
                raise NonFiniteError("non-finite values reached a DeepSEM MLP")
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


def _uniform_edge(n_regulators: int) -> float:
    """The start of an edge when each gene has ``n_regulators - 1`` candidate regulators:
    ``1 / (n_regulators - 1)``, which puts the layer's loop gain at 1.

    >>> _uniform_edge(11)
    0.1
    """
    return 1.0 / max(n_regulators - 1, 1)


def tfs_only_start(n_members: int, n_tfs: int, n_genes: int, *, max_period: int | None = None) -> torch.Tensor:
    """Which members start with the TFs alone explaining each target: the non-TF rows of the
    genes x genes model, or the TF-rows model's co-expression term, start at zero.

    One member in every ``round(genes / TFs)`` (at least every second), starting with member 1:
    as many as the TFs' share of the genes, at most half. Without ``max_period`` (the genes x
    genes model) none when that period is longer than the ensemble; with it (the TF-rows
    model: 4) at least one in every ``max_period``. On BEELINE the TFs-only members helped
    where TFs are most of the genes (mESC TFs+500, 56 %: members 1, 3, 5, 7) and cost where
    they are few (mHSC-L, 9-11 %), except for a quarter of the TF-rows model's members
    (``benchmarks/results/deepsem_tuning_log.md``, "Members that start from the TFs alone";
    ``tf_rows.md``, twelfth session).

    >>> tfs_only_start(8, 627, 1120).nonzero().ravel().tolist()
    [1, 3, 5, 7]
    >>> bool(tfs_only_start(8, 61, 560).any())
    False
    >>> tfs_only_start(8, 61, 560, max_period=4).nonzero().ravel().tolist()
    [1, 5]
    """
    period = max(2, round(n_genes / max(n_tfs, 1)))
    if max_period is not None:
        period = min(period, max_period)
    elif period > n_members:
        return torch.zeros(n_members, dtype=torch.bool)
    return torch.arange(n_members) % period == 1


class GRNLayer(NamedTuple):
    """A member-batched GRN layer ready to apply: ``W`` and the system its inverse solves.

    Attributes
    ----------
    w
        ``(E, R, G)``: row ``r`` holds the edges out of regulator ``r`` (all genes when the
        model is not restricted to TFs, then ``R = G``).
    system
        ``(E, G, G)`` ``I - W`` for the full model; ``(E, R, R)`` ``I - W_RR`` (the
        regulator x regulator block) for the TF-restricted one; ``(E, R + k, R + k)`` with a
        co-expression term of rank ``k`` (see ``DeepSEMConfig.coexpression_rank``).
    coexp_a, coexp_b, scale
        The co-expression term ``A B`` (``(E, G, k)``, zero rows for regulators; ``(E, k, G)``)
        and ``1 + diag(A B)`` (``(E, G)``), or ``None``.
    """

    w: torch.Tensor
    system: torch.Tensor
    coexp_a: torch.Tensor | None = None
    coexp_b: torch.Tensor | None = None
    scale: torch.Tensor | None = None
    w_low: torch.Tensor | None = None


def solve_right(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``b a^-1`` for batched square ``a`` (an LU solve; the inverse is never formed).

    Guarded: some CPU torch/MKL builds return garbage from the batched solve of systems of a
    few hundred unknowns once ``torch.set_num_threads`` has been called. A non-finite result
    (or an error) is redone one member at a time, which those builds get right.
    """
    try:
        out = torch.linalg.solve(a, b, left=False)
        if bool(torch.isfinite(out).all()):
            return out
    except RuntimeError:
        pass
    return torch.stack([torch.linalg.solve(a[i], b[i], left=False) for i in range(a.shape[0])])


def _use_bfloat16(precision: str, device: torch.device) -> bool:
    """Whether the TF-rows model's products with ``W`` run in bfloat16 on ``device``."""
    if precision == "float32":
        return False
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return precision == "bfloat16" or device.type == "cpu"


#: floats per block of the passes over ``W`` that run outside autograd (about 4 MB: cache-sized)
_BLOCK_FLOATS = 1 << 20


def _bmm(a: torch.Tensor, b: torch.Tensor, low: torch.Tensor | None, low_first: bool = False) -> torch.Tensor:
    """``a @ b``; with ``low`` (the bfloat16 copy of the ``W`` operand) the product runs in its
    dtype with a float32 result. ``low_first``: ``low`` stands for ``a``, else for ``b``."""
    if low is None:
        return torch.bmm(a, b)
    if low_first:
        return torch.bmm(low, b.to(low.dtype)).float()
    return torch.bmm(a.to(low.dtype), low).float()


def _times_w(x: torch.Tensor, layer: GRNLayer) -> torch.Tensor:
    """``x @ W`` (E, N, R) x (E, R, G), in bfloat16 with float32 result when ``layer.w_low`` is set."""
    return _bmm(x, layer.w, layer.w_low)


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
    regulators
        Positions of the genes allowed to regulate (the TFs). ``None``: every gene, and
        ``W`` is genes x genes, as in the paper. Given, ``W`` holds only these rows
        (regulators x genes), the GRN layer costs ``O(batch * R * G)`` instead of
        ``O(batch * G^2)`` and its inverse goes through the ``R x R`` regulator block
        (block elimination / Woodbury):
        ``z (I - W)^-1 = z + (z_R (I - W_RR)^-1) W``, with ``z_R`` the regulators' columns.
        With every gene a regulator it is the same model as ``None``.
    tfs
        Genes x genes model only (``regulators=None``): positions of the TFs when the GRN
        will be read off their rows. The members of :func:`tfs_only_start` then start the
        non-TF rows at zero instead of ``1 / (genes - 1)``. ``None``: every member starts alike.

    Examples
    --------
    >>> from scgrn.models import DeepSEMEnsemble, make_config
    >>> ens = DeepSEMEnsemble(5, make_config(n_models=3, hidden_dim=4), seed=0)
    >>> ens.grn().shape  # one W per member, row = regulator, zero diagonal
    torch.Size([3, 5, 5])
    >>> float(ens.grn()[0].detach().diagonal().abs().sum())
    0.0
    >>> DeepSEMEnsemble(5, make_config(n_models=3, hidden_dim=4), regulators=[0, 3]).grn().shape
    torch.Size([3, 2, 5])
    """

    def __init__(self, n_genes: int, config: DeepSEMConfig, seed: int = 0, regulators=None, tfs=None):
        super().__init__()
        if n_genes < 2:
            raise ValueError("DeepSEM needs at least two genes.")
        g = torch.Generator().manual_seed(int(seed))
        e = config.n_models
        self.n_genes = n_genes
        self.config = config
        if regulators is None:
            self.regulators = None
            rows = torch.arange(n_genes)
        else:
            rows = torch.as_tensor(np.asarray(regulators, dtype=np.int64))
            if rows.ndim != 1 or len(rows) == 0 or len(torch.unique(rows)) != len(rows):
                raise ValueError("regulators must be distinct gene positions (at least one).")
            if int(rows.min()) < 0 or int(rows.max()) >= n_genes:
                raise ValueError(f"regulators must be gene positions in [0, {n_genes}).")
            self.register_buffer("regulators", rows)
        # 1 / (candidate regulators of a gene) + uniform noise: W's start and scale for any
        # number of regulators, built in place (W is TFs x genes per member)
        w = torch.rand((e, len(rows), n_genes), generator=g).mul_(config.init_noise).add_(_uniform_edge(len(rows)))
        # Self-loops stay exactly zero: set here, and their gradient is zeroed after every
        # backward pass (zero_self_loop_grad), so no genes x genes mask is multiplied in.
        w[:, torch.arange(len(rows)), rows] = 0.0
        if tfs is not None and self.regulators is None:
            non_tf = torch.ones(n_genes, dtype=torch.bool)
            non_tf[torch.as_tensor(np.asarray(tfs, dtype=np.int64))] = False
            w[tfs_only_start(e, int((~non_tf).sum()), n_genes).nonzero(), non_tf] = 0.0
        self.adj = nn.Parameter(w)
        if self.regulators is not None:  # see _regulator_block
            self._pending_blocks = weakref.WeakValueDictionary()  # id -> block
            self._adj_grad_ready = False
            self.adj.register_post_accumulate_grad_hook(self._on_adj_grad)
        self.encoder = _EnsembleMLP(e, config.hidden_dim, 2, g)  # f2: value -> (mu, logvar)
        self.decoder = _EnsembleMLP(e, config.hidden_dim, 1, g)  # f1: latent -> value
        self.dropout_classifier = _EnsembleMLP(e, 1, 1, g)
        rank = int(config.coexpression_rank)
        if rank and self.regulators is not None:
            # The term's first component starts as the genes x genes model's non-TF rows (every
            # edge 1 / (genes - 1)), except in the TFs-only members, whose term starts at zero,
            # LoRA-style (A random, B zero): tf_rows.md, 11th and 12th sessions.
            a = torch.randn(e, n_genes, rank, generator=g) / math.sqrt(n_genes)
            b = torch.zeros(e, rank, n_genes)
            uniform = ~tfs_only_start(e, len(rows), n_genes, max_period=4)
            a[uniform, :, 0] = _uniform_edge(n_genes)
            b[uniform, 0, :] = 1.0
            self.coexp_a = nn.Parameter(a)
            self.coexp_b = nn.Parameter(b)
            non_regulator = torch.ones(n_genes, 1)
            non_regulator[rows] = 0.0
            self.register_buffer("non_regulator", non_regulator)

    @property
    def n_regulators(self) -> int:
        return self.adj.shape[1]

    def _self_loops(self) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.arange(self.n_regulators, device=self.adj.device)
        return rows, rows if self.regulators is None else self.regulators

    def grn(self) -> torch.Tensor:
        """W of every member, self-loops zero: (E, R, G), row = regulator (``R = G`` unless
        the model is restricted to ``regulators``)."""
        rows, cols = self._self_loops()
        w = self.adj.clone()
        w[:, rows, cols] = 0.0
        return w

    @torch.no_grad()
    def zero_self_loop_grad(self) -> None:
        """Zero the gradient of the self-loop entries (keeps them at zero under any optimiser)."""
        if self.adj.grad is not None:
            rows, cols = self._self_loops()
            self.adj.grad[:, rows, cols] = 0.0

    @torch.no_grad()
    def zero_self_loops(self) -> None:
        """Set the self-loop entries of ``W`` to zero (after loading older saved weights)."""
        rows, cols = self._self_loops()
        self.adj[:, rows, cols] = 0.0

    @torch.no_grad()
    def sparsity(self) -> torch.Tensor:
        """The L1 term per member, ``sum |W| / n_genes^2`` (a value; see :meth:`l1_step`)."""
        return self.l1_step(0.0)

    @torch.no_grad()
    def l1_step(self, weight: float) -> torch.Tensor:
        """The L1 term per member, ``sum |W| / n_genes^2``; with ``weight > 0`` its gradient
        summed over members, ``weight * sign(W) / n_genes^2``, is also added to ``W``'s gradient
        (self-loops stay zero: ``sign(0) = 0``).

        One pass over ``W`` in cache-sized blocks: ``W`` is TFs x genes per member, and a
        W-sized ``sign`` temporary plus a separate norm pass cost about 10 % of a step at
        20,000 genes.
        """
        w = self.adj.detach()
        e, r, g = w.shape
        if weight > 0 and self.adj.grad is None:
            self.adj.grad = torch.zeros_like(self.adj)
        scale = weight / self.n_genes**2
        rows = max(1, _BLOCK_FLOATS // g)
        l1 = torch.zeros(e, device=w.device)
        for m in range(e):
            for s in range(0, r, rows):
                block = w[m, s : s + rows]
                l1[m] += torch.linalg.vector_norm(block, ord=1)
                if weight > 0:
                    self.adj.grad[m, s : s + rows].add_(torch.sign(block), alpha=scale)
        return l1 / self.n_genes**2

    def i_minus_w(self) -> torch.Tensor:
        """``I - W``, (E, G, G), for the full (unrestricted) model."""
        if self.regulators is not None:
            raise ValueError("i_minus_w() is the full model's; a TF-restricted model uses grn_layer().")
        return torch.eye(self.n_genes, device=self.adj.device) - self.adj

    def grn_layer(self) -> GRNLayer:
        """``W`` and the system its inverse solves, for :meth:`encode` and :meth:`decode`."""
        w = self.adj  # self-loops are kept at zero (see __init__)
        if self.regulators is None:
            return GRNLayer(w, torch.eye(self.n_genes, device=w.device) - w)
        r = self.n_regulators
        w_rr = self._regulator_block()
        w_low = w.to(torch.bfloat16) if _use_bfloat16(self.config.grn_precision, w.device) else None
        if not hasattr(self, "coexp_a"):
            return GRNLayer(w, torch.eye(r, device=w.device) - w_rr, w_low=w_low)
        # I - W_full = Lambda - U V with U = [S_R, A], V = [W; B], Lambda = 1 + diag(A B)
        # (the co-expression term's self-loops are taken out again); Woodbury then needs
        # K = I - V Lambda^-1 U, of size regulators + rank.
        a = self.coexp_a * self.non_regulator
        b = self.coexp_b
        scale = 1.0 + (a * b.transpose(1, 2)).sum(-1)  # (E, G)
        a_scaled = a / scale.unsqueeze(-1)
        k = a.shape[-1]
        w_a = _bmm(w, a_scaled, w_low, low_first=True)
        v_u = torch.cat(
            [torch.cat([w_rr, w_a], dim=2),
             torch.cat([b.index_select(2, self.regulators), torch.bmm(b, a_scaled)], dim=2)],
            dim=1,
        )
        system = torch.eye(r + k, device=w.device) - v_u
        return GRNLayer(w, system, a, b, scale, w_low)

    def _regulator_block(self) -> torch.Tensor:
        """``W_RR`` (E, R, R), the regulators' columns of ``W``, as a leaf of its own whose
        gradient is added into ``W``'s once both have been accumulated.

        ``W.index_select`` under autograd would make every backward pass fill a W-sized
        tensor of zeros for this small block and add it to ``W``'s gradient: about 2.5 GB
        and a tenth of a step at 20,000 genes x 2,000 TFs. Gradients through
        ``loss.backward()`` are exact; ``torch.autograd.grad(..., adj)`` would miss this block.
        """
        block = self.adj.detach().index_select(2, self.regulators)
        if not (torch.is_grad_enabled() and self.adj.requires_grad):
            return block
        block.requires_grad_(True)
        self._adj_grad_ready = False
        self._pending_blocks[id(block)] = block
        block.register_post_accumulate_grad_hook(self._merge_block_grads)
        return block

    def _on_adj_grad(self, _adj: torch.Tensor) -> None:
        self._adj_grad_ready = True
        self._merge_block_grads()

    @torch.no_grad()
    def _merge_block_grads(self, _block: torch.Tensor | None = None) -> None:
        """Add the gradients of the pending regulator blocks to ``W``'s, once it has one."""
        if not self._adj_grad_ready or self.adj.grad is None:
            return
        for key, block in list(self._pending_blocks.items()):
            if block.grad is not None:
                self.adj.grad.index_add_(2, self.regulators, block.grad)
                block.grad = None
                del self._pending_blocks[key]

    def apply_grn(self, h: torch.Tensor, layer: GRNLayer) -> torch.Tensor:
        """``h (I - W)`` for ``h`` (E, N, G)."""
        if self.regulators is None:
            return torch.bmm(h, layer.system)
        # the small (E, N, R) factor carries the minus sign: with alpha=-1 the backward pass
        # would scale the (E, R, G) gradient of W once more
        h_r = h.index_select(2, self.regulators).neg()
        if layer.coexp_a is not None:  # h Lambda - (h A) B - h_R W
            h = torch.baddbmm(h * layer.scale.unsqueeze(1), torch.bmm(h, layer.coexp_a).neg(), layer.coexp_b)
        return h + _times_w(h_r, layer)

    def invert_grn(self, z: torch.Tensor, layer: GRNLayer) -> torch.Tensor:
        """``z (I - W)^-1`` for ``z`` (E, N, G), by an LU solve (never the inverse)."""
        if self.regulators is None:
            return solve_right(layer.system, z)
        if layer.coexp_a is None:
            y = solve_right(layer.system, z.index_select(2, self.regulators))  # z_R (I - W_RR)^-1
            return z + _times_w(y, layer)
        # z (Lambda - U V)^-1 = y + (y U) K^-1 V Lambda^-1, y = z Lambda^-1 (Woodbury)
        scale = layer.scale.unsqueeze(1)
        y = z / scale
        t = solve_right(layer.system, torch.cat([y.index_select(2, self.regulators), torch.bmm(y, layer.coexp_a)], 2))
        r = self.n_regulators
        return y + torch.baddbmm(_times_w(t[:, :, :r].contiguous(), layer), t[:, :, r:], layer.coexp_b) / scale

    def encode(self, x: torch.Tensor, layer: GRNLayer | None = None, grid: int | None = None):
        """Posterior mean and log-variance after the GRN layer; ``x``: (E, B, G).

        ``grid``: evaluate the encoder MLP on that many points and interpolate (see
        ``DeepSEMConfig.mlp_grid``); ``None`` evaluates it exactly.
        """
        layer = self.grn_layer() if layer is None else layer
        e, b, g = x.shape
        h = self.encoder(x.reshape(e, b * g), grid).reshape(e, b, g, 2)
        # z = h (I - W) for mean and log-variance at once: (E, 2B, G)
        h = h.permute(0, 3, 1, 2).reshape(e, 2 * b, g)
        z = self.apply_grn(h, layer).reshape(e, 2, b, g)
        return z[:, 0], z[:, 1]

    def encode_cells(
        self, x: torch.Tensor, layer: GRNLayer | None = None, chunk: int = 512, grid: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every member's posterior mean and log-variance of every cell; ``x``: (cells, G)
        -> two (E, cells, G) tensors, encoded ``chunk`` cells at a time.

        ``grid``: evaluate the encoder MLP on that many points (as training does with
        ``config.mlp_grid``); ``None``: exactly, when its hidden layers hold ``members x chunk
        x genes x hidden_dim`` floats (2 GB for 8 members, 512 cells, 1,000 genes, width 128).
        """
        layer = self.grn_layer() if layer is None else layer
        e = self.config.n_models
        parts = [self.encode(x[s : s + chunk].expand(e, -1, -1), layer, grid) for s in range(0, x.shape[0], chunk)]
        return torch.cat([p[0] for p in parts], dim=1), torch.cat([p[1] for p in parts], dim=1)

    def decode(self, z: torch.Tensor, layer: GRNLayer | None = None, grid: int | None = None) -> torch.Tensor:
        """Inverse GRN layer then decoder MLP; ``z``: (E, B, G) -> reconstruction (E, B, G)."""
        layer = self.grn_layer() if layer is None else layer
        e, b, g = z.shape
        mixed = self.invert_grn(z, layer)
        return self.decoder(mixed.reshape(e, b * g), grid).reshape(e, b, g)

    def forward(self, x, observed, dropped, generator):
        """Per-member differentiable losses for one mini-batch (the L1 term is
        :meth:`l1_step`'s, applied after the backward pass).

        ``x`` (E, B, G) standardised input after dropout augmentation, ``observed`` mask of
        entries scored by the reconstruction loss, ``dropped`` mask of augmented zeros.
        """
        layer = self.grn_layer()
        grid = self.config.mlp_grid
        mu, logvar = self.encode(x, layer, grid)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps
        x_rec = self.decode(z, layer, grid)
        n_obs = observed.sum(dim=(1, 2)).clamp_min(1)
        reconstruction = (((x_rec - x) ** 2) * observed).sum(dim=(1, 2)) / n_obs
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).mean(dim=(1, 2))
        losses = {"reconstruction": reconstruction, "kl": kl}
        if self.config.dropout_augmentation:  # None (not yet resolved for data) or 0: none
            e, b, g = z.shape
            logits = self.dropout_classifier(z.reshape(e, b * g), grid).reshape(e, b, g)
            p = self.config.dropout_augmentation
            pos_weight = torch.tensor((1 - p) / p, device=z.device)
            bce = nn.functional.binary_cross_entropy_with_logits(
                logits, dropped.float(), pos_weight=pos_weight, reduction="none"
            )
            losses["dropout_classifier"] = bce.mean(dim=(1, 2))
        return losses


def aggregate_grn(w: np.ndarray, block_rows: int = 256) -> np.ndarray:
    """Ensemble GRN: mean ``|W|`` over members, carrying the sign of the mean ``W``.

    ``w``: (members, rows, genes); computed ``block_rows`` rows at a time, so the
    temporaries stay small for a TFs x genes ``W`` of 10^4 genes.

    Examples
    --------
    >>> aggregate_grn(np.array([[[0.0, 1.0], [-2.0, 0.0]], [[0.0, 3.0], [1.0, 0.0]]]))
    array([[ 0. ,  2. ],
           [-1.5,  0. ]], dtype=float32)
    """
    w = np.asarray(w)
    out = np.empty(w.shape[1:], dtype=np.float32)
    for s in range(0, w.shape[1], block_rows):
        block = w[:, s : s + block_rows]
        out[s : s + block_rows] = np.abs(block).mean(0) * np.sign(block.mean(0))
    return out
