"""Benchmark-only patch: per-target sparse non-TF conditioning for the TF-rows DeepSEM model.

The genes x genes model beats the TF-rows model on BEELINE, and its non-TF rows are scored
nowhere: ``results/tf_rows.md`` reads them as per-target conditioning (co-expressed targets
explaining each other away). This patch gives each target ``j`` its ``k`` most correlated non-TF
genes as extra regulators with learned weights ``S[j, :]``:

    h (I - W_full) = h - h_R W - h S',    S'[nbr(j, m), j] = S[j, m]

so a member holds ``W`` (TFs x genes) plus ``genes x k`` weights. ``S`` starts at zero, learns in
its own Adam group (``lr``), and each target's ``sum_m |S[j, m]|`` is capped at ``gamma`` (the
weights are scaled down when above it), which keeps ``S'`` a contraction. The inverse is an exact
dense solve of ``I - W_full`` (genes x genes): fine at BEELINE size, where this patch only asks
whether the idea helps accuracy; a scalable version would need an iterative solve.

Use (``tf_rows_board.py --neighbour-rows K`` does this)::

    import _sparse_conditioning as sc
    sc.install(lr=1e-3, gamma=0.8)
    sc.STATE["neighbours"] = sc.neighbours(x, is_tf, k=16)   # before each tl.deepsem call
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from scgrn.models import _deepsem_module as module
from scgrn.models import _deepsem_training as training

STATE = {"neighbours": None, "gamma": 0.8, "lr": 1e-3}

_original_init = module.DeepSEMEnsemble.__init__
_original_apply = module.DeepSEMEnsemble.apply_grn
_original_invert = module.DeepSEMEnsemble.invert_grn


def neighbours(x: np.ndarray, is_tf: np.ndarray, k: int) -> np.ndarray:
    """For every gene, the positions of its ``k`` non-TF genes of highest ``|Pearson r|`` (not itself)."""
    x = np.asarray(x, dtype=np.float64)
    x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-12)
    non_tf = np.flatnonzero(~is_tf)
    corr = np.abs(x.T @ x[:, non_tf]) / len(x)
    corr[non_tf, np.arange(len(non_tf))] = -1.0
    return non_tf[np.argsort(-corr, axis=1)[:, :k]]


def _weights(model) -> torch.Tensor:
    s = model.sparse_s
    total = s.abs().sum(-1, keepdim=True).clamp_min(1e-12)
    return s * torch.clamp(STATE["gamma"] / total, max=1.0)


def _times_s(x: torch.Tensor, model, s: torch.Tensor) -> torch.Tensor:
    """``x S'`` for ``x`` (E, N, G)."""
    return (x[:, :, model.nbr] * s.unsqueeze(1)).sum(-1)


def _i_minus_w_full(model, layer, s: torch.Tensor) -> torch.Tensor:
    e, _, g = layer.w.shape
    k = model.nbr.shape[1]
    full = torch.zeros(e, g, g, device=s.device)
    index = (torch.arange(e)[:, None, None], model.nbr.unsqueeze(0).expand(e, -1, -1),
             torch.arange(g)[None, :, None].expand(e, -1, k))
    full = full.index_put(index, s, accumulate=True).index_add(1, model.regulators, layer.w)
    if layer.coexp_a is not None:
        ab = torch.bmm(layer.coexp_a, layer.coexp_b)
        full = full + ab - torch.diag_embed(torch.diagonal(ab, dim1=1, dim2=2))
    return torch.eye(g, device=s.device) - full


def _init(self, n_genes, config, seed=0, regulators=None):
    _original_init(self, n_genes, config, seed=seed, regulators=regulators)
    nbr = STATE["neighbours"]
    if regulators is not None and nbr is not None and nbr.shape[0] == n_genes:
        self.register_buffer("nbr", torch.as_tensor(nbr, dtype=torch.long))
        self.sparse_s = nn.Parameter(torch.zeros(config.n_models, n_genes, nbr.shape[1]))


def _apply(self, h, layer):
    out = _original_apply(self, h, layer)
    return out - _times_s(h, self, _weights(self)) if hasattr(self, "sparse_s") else out


def _invert(self, z, layer):
    if not hasattr(self, "sparse_s"):
        return _original_invert(self, z, layer)
    return module.solve_right(_i_minus_w_full(self, layer, _weights(self)), z)


def _optimisers(model, config, lr_adj):
    named = dict(model.named_parameters())
    groups = [{"params": [p for n, p in named.items() if n not in ("adj", "sparse_s")], "lr": config.lr_nn},
              {"params": [model.adj], "lr": lr_adj}]
    if "sparse_s" in named:
        groups.append({"params": [named["sparse_s"]], "lr": STATE["lr"]})
    opt = torch.optim.Adam(groups, betas=(0.9, 0.9))
    return opt, opt, None


def install(**settings) -> None:
    """Patch the TF-rows model (``settings``: ``gamma``, ``lr``); set ``STATE["neighbours"]`` per data set."""
    STATE.update(settings)
    module.DeepSEMEnsemble.__init__ = _init
    module.DeepSEMEnsemble.apply_grn = _apply
    module.DeepSEMEnsemble.invert_grn = _invert
    training._optimisers = _optimisers
