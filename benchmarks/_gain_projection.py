"""A training variant for benchmarks only: bound each DeepSEM member's loop gain.

After every optimiser step, each member's ``W`` is scaled by ``min(1, max_gain / rho)``, where
``rho`` is the Perron root of ``|W|`` (its TF x TF block for the TF-rows model), an upper bound
on the spectral radius of ``W``, estimated by three power iterations from the previous step's
vector. The library has no such option; ``install`` patches training's optimiser set-up.
Measured in ``results/deepsem_tuning_log.md`` (2026-12-01): not adopted.
"""

from __future__ import annotations

import torch


class _GainBounded:
    """An optimiser whose ``step`` is followed by the gain projection of ``model.adj``."""

    def __init__(self, optimiser, model, max_gain: float):
        self.optimiser, self.model, self.max_gain = optimiser, model, max_gain
        self._vector = None

    def __getattr__(self, name):
        return getattr(self.optimiser, name)

    def zero_grad(self, *args, **kwargs):
        return self.optimiser.zero_grad(*args, **kwargs)

    @torch.no_grad()
    def step(self, *args, **kwargs):
        out = self.optimiser.step(*args, **kwargs)
        weights = self.model.adj.abs()
        if self.model.regulators is not None:
            weights = weights.index_select(2, self.model.regulators)
        if self._vector is None:
            self._vector = torch.ones(weights.shape[0], weights.shape[1], 1, device=weights.device)
        v = self._vector
        for _ in range(3):  # x = W^T x: a target's input is its column
            w = torch.bmm(weights.transpose(1, 2), v)
            rho = w.norm(dim=1, keepdim=True) / v.norm(dim=1, keepdim=True).clamp_min(1e-30)
            v = w / w.norm(dim=1, keepdim=True).clamp_min(1e-30)
        self._vector = v
        self.model.adj.mul_((self.max_gain / rho.clamp_min(1e-30)).clamp(max=1.0))
        return out


def install(max_gain: float) -> None:
    """Make every later DeepSEM training bound its members' loop gain at ``max_gain``."""
    from scgrn.models import _deepsem_training as training

    original = training._optimisers

    def optimisers(model, config, lr_adj):
        first, second, schedule = original(model, config, lr_adj)
        bounded = _GainBounded(first, model, max_gain)
        return bounded, bounded if second is first else _GainBounded(second, model, max_gain), schedule

    training._optimisers = optimisers
