"""A knockout variant for benchmarks only: propagate a clamp K steps through ``W``.

``scgrn.tl.perturb`` solves the intervened SEM exactly: the clamped genes' rows of
``(I - W_cut)^-1`` (``W_cut``: ``W`` without the edges into the clamped genes, the
do-intervention). For a member whose loop gain is above 1 that equilibrium is not a stable
state of the system. This variant uses the first ``K + 1`` terms of the series instead,
``e_T (I + W_cut + ... + W_cut^K)``, as CellOracle propagates a shift a few steps through its
GRN: direct targets move with the sign of their edge, and no pole is crossed. The clamp and
the decoding are the library's (``models._perturb``). Genes x genes models only. The library
has no such option; ``install`` replaces ``models._perturb.intervention``. Measured in
``results/perturbation.md`` (2026-12-02): not adopted.
"""

from __future__ import annotations

import numpy as np
import torch


def install(n_steps: int) -> None:
    from scgrn.models import _perturb

    @torch.no_grad()
    def intervention(module, idx, mask, scaled_values, layer=None):
        layer = module.grn_layer() if layer is None else layer
        if module.regulators is not None:
            raise NotImplementedError("the K-step variant is written for the genes x genes model")
        e, g = module.config.n_models, module.n_genes
        dev = module.adj.device
        n_p, k = idx.shape
        values = torch.as_tensor(scaled_values, device=dev).reshape(1, n_p * k).expand(e, -1)
        target = module.encoder(values)[..., 0].reshape(e, n_p, k)  # as the library: the encoder's mean
        genes, position = np.unique(idx[mask], return_inverse=True)
        onehot = torch.zeros((e, len(genes), g), device=dev)
        onehot[:, torch.arange(len(genes), device=dev), torch.as_tensor(genes, device=dev)] = 1.0
        w_cut = layer.w.clone()
        w_cut[:, :, torch.as_tensor(genes, device=dev)] = 0.0  # no edges into the clamped genes
        term, series = onehot, onehot.clone()
        for _ in range(n_steps):
            term = torch.bmm(term, w_cut)
            series = series + term
        pos = np.zeros((n_p, k), dtype=np.int64)
        pos[mask] = position
        m = torch.as_tensor(mask, device=dev)
        rows = series[:, torch.as_tensor(pos, device=dev)] * m[None, :, :, None]  # (E, P, K, G)
        gather = torch.as_tensor(idx, device=dev)[None, :, None, :].expand(e, -1, k, -1)
        block = torch.gather(rows, 3, gather)  # identity: no series term returns to a clamped gene
        pad = ~m
        block = block * (m[:, :, None] & m[:, None, :]) + torch.diag_embed(pad.float())[None]
        return target, rows, block

    _perturb.intervention = intervention
