"""A knockout variant for benchmarks only: propagate a clamp K steps through ``W``.

``scgrn.tl.perturb`` solves the intervened SEM exactly: the clamped genes' rows of
``(I - W)^-1``, then a small solve that cuts the edges into the clamped genes (the
do-intervention). For a member whose loop gain is above 1 that equilibrium is not a stable
state of the system. This variant gives the library's ``models._perturb.intervention`` the
first ``K + 1`` terms of the series instead, ``e_T (I + W_cut + ... + W_cut^K)`` (``W_cut``:
``W`` without the edges into the clamped genes, so no term returns to a clamped gene and the
small solve is the identity), as CellOracle propagates a shift a few steps through its GRN:
direct targets move with the sign of their edge, and no pole is crossed. Everything else (the
clamp value, the decoding) is the library's. Genes x genes models only. The library has no
such option; ``install`` wraps ``models._perturb.intervention``. Measured in
``results/perturbation.md`` (2026-12-02): not adopted.
"""

from __future__ import annotations

import torch


def install(n_steps: int) -> None:
    from scgrn.models import _perturb

    exact = _perturb.intervention

    def intervention(module, idx, mask, scaled_values, layer=None):
        if module.regulators is not None:
            raise NotImplementedError("the K-step variant is written for the genes x genes model")
        layer = module.grn_layer() if layer is None else layer

        @torch.no_grad()
        def series_rows(onehot, layer):  # replaces invert_grn for the clamped genes' rows only
            w_cut = layer.w.clone()
            w_cut[:, :, onehot[0].argmax(-1)] = 0.0  # no edges into the clamped genes
            term, rows = onehot, onehot.clone()
            for _ in range(n_steps):
                term = torch.bmm(term, w_cut)
                rows = rows + term
            return rows

        module.invert_grn = series_rows  # an instance attribute, shadowing the method for this call
        try:
            return exact(module, idx, mask, scaled_values, layer)
        finally:
            del module.invert_grn

    _perturb.intervention = intervention
