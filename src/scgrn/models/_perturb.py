"""In-silico perturbation through a trained DeepSEM ensemble (no AnnData here).

DeepSEM's decoder solves a linear structural equation model over genes: with ``h`` the
hidden value of every gene (a row vector) and ``z`` the latent,

    h (I - W) = z,   i.e.   h_j = z_j + sum_i h_i W[i, j]   for every gene j,

then decodes each gene with the per-gene decoder MLP, ``x_j = f1(h_j)``. A knockout or an
over-expression of gene ``T`` is a *do-intervention* on node ``T``: its own equation is
replaced by ``h_T = c`` (its regulators no longer act on it) and every other gene keeps its
equation, so the change reaches ``T``'s targets, their targets, and so on, through ``W``.

**How it is solved.** Equation ``j`` of ``h (I - W) = z`` is the only one that holds ``z_j``.
So the solution of the intervened system is the ordinary solution ``h = (z + d S^T) (I - W)^-1``
of a latent shifted only in the clamped genes' coordinates (``S``: their one-hot columns), with
the shift ``d`` chosen such that ``h_T = c``: with ``y = z (I - W)^-1`` (the ordinary decode)
and ``R = S^T (I - W)^-1`` (the clamped genes' rows of the inverse),

    d = (c - y_T) (R_TT)^-1,      h = y + d R,

an exact rank-``k`` (Woodbury) update for ``k`` clamped genes. It needs only the map
``z -> z (I - W)^-1`` that decoding already uses (:meth:`DeepSEMEnsemble.invert_grn`), applied
once to the clamped genes' one-hot rows, and a ``k x k`` solve per cell; so it is exact and
about as cheap as a decode for the genes x genes model and for the TF-rows model (whose inverse
goes through the TF x TF block, with or without the co-expression term) alike. The full
``(I - W)`` with ``T``'s column replaced is never formed or factorised again per perturbation.

**The clamped hidden value.** ``c`` is the encoder's posterior mean for the clamped expression:
``c = f2_mu((v - mean_T) / std_T)`` in the model's z-scored units. The GRN layer's equations are
written in the encoder's hidden units (training computes ``z = h (I - W)`` with
``h = f2_mu(x)``), so ``c`` is exactly the hidden value a cell holding ``x_T = v`` has in those
equations; it exists for any value (the shared encoder is defined everywhere), costs one MLP call
and depends on nothing but the value. Inverting ``T``'s decoder MLP instead (``f1(c) = v``) is
ill-posed where it matters: the decoder is not guaranteed to be monotone, saturates (tanh) and
may not reach a knockout value at all. The decoded ``x_T`` is then replaced by ``v`` itself.

**Latent and averaging.** ``z`` is every cell's posterior mean (``n_samples=None``) or
``n_samples`` draws ``z = mu + sigma * eps`` per cell from a seeded generator; the unperturbed
prediction decodes the same ``z``, so ``perturbed - unperturbed`` carries no sampling noise of
its own. Predictions are averaged over draws and ensemble members (each member has its own
``W``), then mapped back to log-expression units (the z-scoring of the training cells undone).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from .._matrix import row_blocks
from .._params import check_choice, check_float, check_int, check_random_state
from .._validate import checked_matrix
from ._base import check_var_names_match
from ._deepsem_data import scale_rows
from ._deepsem_io import training_moments
from ._deepsem_module import solve_right
from ._simulate import _user_stacklevel

#: floats in the largest per-chunk tensor (members x draws x perturbations x cells x genes [x hidden])
_CHUNK_FLOATS = 1 << 24


class PerturbedCells(NamedTuple):
    """Predictions of :meth:`scgrn.models.DeepSEM.perturb`, in log-expression units (float32).

    Attributes
    ----------
    perturbed
        ``(n_cells, n_genes)`` for one perturbation (a dict), ``(n_perturbations, n_cells,
        n_genes)`` for a list of them: every cell decoded after the do-intervention, the
        clamped genes set to their values.
    unperturbed
        ``(n_cells, n_genes)``: the same latent draws decoded without intervention.
    perturbations
        The perturbations as checked, a list of ``{gene: value}`` dicts (one for a dict).
    feedback_gain
        ``(n_models,)``: each member's spectral radius of ``W`` (estimated,
        :func:`feedback_gain`); at 1 or above its SEM has no stable equilibrium.
    members
        ``(n_models,)`` bool: the members averaged.
    """

    perturbed: np.ndarray
    unperturbed: np.ndarray
    perturbations: list
    feedback_gain: np.ndarray
    members: np.ndarray

    @property
    def delta(self) -> np.ndarray:
        """``perturbed - unperturbed``, each cell's predicted shift (same shape as ``perturbed``)."""
        return self.perturbed - self.unperturbed


def check_perturbations(perturbations, var_names) -> tuple[bool, list[dict[str, float]]]:
    """Validate ``{gene: value}`` (or a list of them) against ``var_names``.

    Returns whether a single dict was given and the perturbations as ``{str: float}`` dicts.
    Raises ``TypeError`` for another type, ``ValueError`` for an empty dict or list, genes not
    in ``var_names`` (all of them listed) and values that are not finite numbers.

    Examples
    --------
    >>> check_perturbations({"a": 0}, ["a", "b"])
    (True, [{'a': 0.0}])
    >>> check_perturbations({"a": 0.0, "x": 1.0, "y": 2.0}, ["a", "b"])
    Traceback (most recent call last):
    ...
    ValueError: perturbations name 2 gene(s) that are not in the model's genes: ['x', 'y']. Use names from var_names (2 genes, e.g. ['a', 'b']).
    """
    single = isinstance(perturbations, Mapping)
    if single:
        items = [perturbations]
    elif isinstance(perturbations, Sequence) and not isinstance(perturbations, (str, bytes)):
        items = list(perturbations)
        if not items:
            raise ValueError("perturbations is an empty list: give at least one {gene: value} dict.")
    else:
        items = None
    if items is None or not all(isinstance(p, Mapping) for p in items):
        raise TypeError(
            "perturbations must be a dict {gene: value} (e.g. {'JAK2': 0.0} for a knockout in "
            f"log-expression units), or a list of such dicts; got {type(perturbations).__name__}."
        )
    names = pd.Index([str(v) for v in var_names])
    known = set(names)
    out = []
    for i, p in enumerate(items):
        where = "perturbations" if single else f"perturbations[{i}]"  # which entry of a list
        if not p:
            raise ValueError(
                f"{where} is empty: give at least one "
                "{gene: value}, e.g. {'JAK2': 0.0} for a knockout (log-expression units) or {'JAK2': 3.0} "
                "for an over-expression."
            )
        unknown = [g for g in p if not isinstance(g, str) or g not in known]
        if unknown:
            upper = {n.upper(): n for n in names}
            close = {str(g): upper[str(g).upper()] for g in unknown if str(g).upper() in upper}
            hint = f" Did you mean {close}? (names are case-sensitive)" if close else ""
            raise ValueError(
                f"{where} {'name' if single else 'names'} {len(unknown)} gene(s) that are not in the model's genes: "
                f"{[g for g in unknown]}. Use names from var_names ({len(names)} genes, e.g. "
                f"{list(names[:3])}).{hint}"
            )
        out.append({g: check_float(f"{where}[{g!r}]", v) for g, v in p.items()})
    return single, out


def has_negative(x) -> bool:
    """Whether a matrix (dense, sparse or backed) holds a value below 0."""
    if isinstance(x, np.ndarray):
        return bool(x.size and x.min() < 0)
    if sparse.issparse(x):
        return bool(x.nnz and x.data.min() < 0)
    return any(float(block.min(initial=0)) < 0 for _, block in row_blocks(x))  # backed


def warn_negative_clamp(checked: list[dict], x, where: str, single: bool = True, summary=None) -> None:
    """Warn for a clamp value below 0 when the expression ``x`` has no negative value.

    log1p expression is never below 0, so such a value is most likely read as a (log) fold
    change; the values are the levels the genes are set to. ``x`` is read only when a value is
    negative and no ``summary`` (its :func:`~scgrn._matrix.summarise_columns` pass) is given.
    Scaled (z-scored) data, which have negative values, are left alone.
    """
    below = [(i, g, v) for i, p in enumerate(checked) for g, v in p.items() if v < 0]
    if not below or (summary.min < 0 if summary is not None else has_negative(x)):
        return
    named = ", ".join(f"{'perturbations' if single else f'perturbations[{i}]'}[{g!r}] = {v:g}" for i, g, v in below)
    warnings.warn(
        f"{named} is below 0, but {where} has no negative values: perturbation values are the log "
        "expression levels the genes are clamped to (0.0 = knockout), not fold changes, so the gene is "
        "set to an impossible level. For a fold change, compute the level, e.g. half the mean "
        "expression: np.log1p(np.expm1(mean) * 0.5) (0.0 for a knockout).",
        UserWarning,
        stacklevel=_user_stacklevel(),
    )


def _clamp_tensors(perturbations: list[dict], var_names: pd.Index, mean, std, mode: str):
    """Padded ``(P, K)`` gene positions, mask, raw values and z-scored values of the clamps."""
    k = max(len(p) for p in perturbations)
    n_p = len(perturbations)
    idx = np.zeros((n_p, k), dtype=np.int64)
    mask = np.zeros((n_p, k), dtype=bool)
    raw = np.zeros((n_p, k), dtype=np.float32)
    for i, p in enumerate(perturbations):
        idx[i, : len(p)] = var_names.get_indexer(list(p))
        mask[i, : len(p)] = True
        raw[i, : len(p)] = list(p.values())
    scaled = (raw - mean[idx]) / std[idx]
    if mode == "nonzero":  # as the trainer clips z-scored values
        scaled = np.clip(scaled, -20, 20)
    return idx, mask, raw, scaled.astype(np.float32)


@torch.no_grad()
def intervention(module, idx: np.ndarray, mask: np.ndarray, scaled_values: np.ndarray, layer=None):
    """The parts of the do-intervention that do not depend on the cells.

    Returns ``(target, rows, block)``: the clamped hidden values ``c`` (E, P, K) (the encoder's
    mean of the z-scored clamp values), the clamped genes' rows of ``(I - W)^-1``
    (E, P, K, G; zero for padding) and their ``K x K`` block (E, P, K, K; identity for
    padding). ``idx``/``mask``: (P, K) gene positions and which are real (not padding).
    """
    layer = module.grn_layer() if layer is None else layer
    e, g = module.config.n_models, module.n_genes
    dev = module.adj.device
    n_p, k = idx.shape
    values = torch.as_tensor(scaled_values, device=dev).reshape(1, n_p * k).expand(e, -1)
    target = module.encoder(values)[..., 0].reshape(e, n_p, k)  # exact MLP: a few scalars
    genes, position = np.unique(idx[mask], return_inverse=True)
    onehot = torch.zeros((e, len(genes), g), device=dev)
    onehot[:, torch.arange(len(genes), device=dev), torch.as_tensor(genes, device=dev)] = 1.0
    inverse_rows = module.invert_grn(onehot, layer)  # (E, U, G): rows of (I - W)^-1
    pos = np.zeros((n_p, k), dtype=np.int64)
    pos[mask] = position
    m = torch.as_tensor(mask, device=dev)
    rows = inverse_rows[:, torch.as_tensor(pos, device=dev)] * m[None, :, :, None]  # (E, P, K, G)
    gather = torch.as_tensor(idx, device=dev)[None, :, None, :].expand(e, -1, k, -1)
    block = torch.gather(rows, 3, gather)  # block[e, p, a, b] = (I - W)^-1[T_a, T_b]
    pad = ~m
    block = block * (m[:, :, None] & m[:, None, :]) + torch.diag_embed(pad.float())[None]
    if not bool(torch.isfinite(block).all() and torch.isfinite(rows).all()):
        raise FloatingPointError("the GRN layer of this model is singular: (I - W) cannot be inverted.")
    return target, rows, block


@torch.no_grad()
def perturbation_effects(
    module, scaled: torch.Tensor, idx: np.ndarray, mask: np.ndarray, target, rows, block, *,
    n_samples: int | None, generator: torch.Generator, layer=None, members: np.ndarray | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode a block of z-scored cells ``scaled`` (n, G) with and without the intervention.

    Returns ``(perturbed, unperturbed)``: (P, n, G) and (n, G), z-scored units, averaged over
    the ``members`` (bool mask; default all) and latent draws (``n_samples=None``: the
    posterior mean, one "draw").
    """
    layer = module.grn_layer() if layer is None else layer
    grid = module.config.mlp_grid
    e, g = module.config.n_models, module.n_genes
    n_p, k = idx.shape
    n = scaled.shape[0]
    mu, logvar = module.encode_cells(scaled, layer, chunk=max(n, 1), grid=grid)  # (E, n, G)
    if n_samples:
        eps = torch.randn((e, n_samples, n, g), generator=generator).to(mu.device)
        z = (mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps).reshape(e, n_samples * n, g)
    else:
        z = mu
    s = max(n_samples or 1, 1)
    y = module.invert_grn(z, layer)  # (E, M, G), M = draws x cells: the ordinary decode's hidden
    m = y.shape[1]
    flat = torch.as_tensor(idx.reshape(-1), device=y.device)
    y_t = y.index_select(2, flat).reshape(e, m, n_p, k).permute(0, 2, 1, 3)  # (E, P, M, K)
    keep = torch.as_tensor(mask, device=y.device)[None, :, None, :]
    shift = solve_right(block, (target[:, :, None, :] - y_t) * keep)  # d, (E, P, M, K)
    h = torch.baddbmm(
        y[:, None].expand(-1, n_p, -1, -1).reshape(e * n_p, m, g),
        shift.reshape(e * n_p, m, k),
        rows.reshape(e * n_p, k, g),
    ).reshape(e, n_p, m, g)
    # one decoder call for both, so a tabulated MLP (mlp_grid) uses one table for both
    both = torch.cat([y[:, None], h], dim=1).reshape(e, (n_p + 1) * m * g)
    decoded = module.decoder(both, grid).reshape(e, n_p + 1, s, n, g)
    if members is not None and not members.all():
        decoded = decoded[torch.as_tensor(np.flatnonzero(members), device=decoded.device)]
    decoded = decoded.mean(dim=(0, 2))
    return decoded[1:], decoded[0]


@torch.no_grad()
def feedback_gain(module, layer=None, n_iter: int = 100, n_vectors: int = 4, seed: int = 0) -> np.ndarray:
    """Each member's spectral radius of ``W`` (the loop gain of its SEM), by power iteration.

    ``h -> h W`` is applied as ``h - h (I - W)`` (:meth:`DeepSEMEnsemble.apply_grn`, so the
    TF-rows model and its co-expression term are covered), from ``n_vectors`` random starts;
    the radius is the geometric mean growth over the second half of the iterations (which
    also averages out the rotation of a complex or negative leading pair).

    Examples
    --------
    >>> from scgrn.models import DeepSEMEnsemble, make_config
    >>> ens = DeepSEMEnsemble(20, make_config(n_models=2, hidden_dim=4), seed=0)
    >>> np.round(feedback_gain(ens), 2)  # W starts at 1 / (genes - 1): the all-ones loop has gain 1
    array([1., 1.], dtype=float32)
    """
    layer = module.grn_layer() if layer is None else layer
    e, g = module.config.n_models, module.n_genes
    h = torch.randn((e, n_vectors, g), generator=torch.Generator().manual_seed(seed)).to(module.adj.device)
    h = h / h.norm(dim=-1, keepdim=True)
    growth = torch.zeros((e, n_vectors), device=h.device)
    for i in range(n_iter):
        h = h - module.apply_grn(h, layer)  # h W
        norm = h.norm(dim=-1, keepdim=True).clamp_min(1e-30)
        if i >= n_iter // 2:
            growth += norm[..., 0].log()
        h = h / norm
    return (growth / (n_iter - n_iter // 2)).amax(dim=1).exp().cpu().numpy().astype(np.float32)


#: ``members`` choices of :meth:`DeepSEM.perturb`
MEMBERS = ("stable", "all")


def choose_members(gain: np.ndarray, members: str) -> np.ndarray:
    """The members to average: with ``"stable"``, those whose loop gain is below 1 (all of
    them, with a warning, when none is), with a warning naming the members left out."""
    use = np.ones(len(gain), dtype=bool)
    if members == "all":
        return use
    stable = gain < 1.0
    shown = ", ".join(f"{v:.2f}" for v in gain)
    if not stable.any():
        warnings.warn(
            f"every ensemble member's GRN has a loop gain (spectral radius of W) of 1 or more ({shown}): "
            "the SEM has no stable equilibrium, so the predicted effect of an intervention spreads to "
            "genes it does not regulate. Train more members (n_models) or longer, and check the GRN; "
            "all members are used.",
            UserWarning,
            stacklevel=_user_stacklevel(),
        )
        return use
    if not stable.all():
        warnings.warn(
            f"{int((~stable).sum())} of {len(gain)} ensemble members have a GRN loop gain (spectral radius "
            f"of W) of 1 or more ({shown}): their SEM has no stable equilibrium and an intervention's "
            "effect would spread to every gene; they are left out of the average (members='all' keeps them).",
            UserWarning,
            stacklevel=_user_stacklevel(),
        )
    return stable


def _cells_per_chunk(e: int, s: int, n_p: int, g: int, hidden: int, grid) -> int:
    per_cell = e * s * (n_p + 1) * g * (hidden if grid is None else 4)
    return int(max(1, _CHUNK_FLOATS // max(per_cell, 1)))


def perturb(
    self,
    perturbations: dict | list[dict],
    *,
    adata=None,
    layer: str | None = None,
    n_samples: int | None = None,
    members: str = "stable",
    random_state: int = 0,
) -> PerturbedCells:
    """Predict cells after knocking out or over-expressing genes, through the learned GRN.

    Each gene named in ``perturbations`` is clamped (a do-intervention on its node of the
    GRN layer: its regulators stop acting on it) and the change propagates through ``W`` to
    its targets and further downstream; every cell is decoded with and without the
    intervention from the same latent (see :mod:`scgrn.models._perturb` for the exact
    solve). Works for the genes x genes and the TF-rows model.

    Parameters
    ----------
    perturbations
        ``{gene: value}`` in log-expression units (the training scale): ``0.0`` is a
        knockout, any other value an over-expression (or partial knockdown); several genes
        are clamped together. A list of such dicts runs them all at once, each separately.
    adata
        Cells to perturb, with the training ``var_names`` in the training order (default:
        the training cells). They are z-scored with the training cells' statistics (after
        :meth:`DeepSEM.load`, the saved ones).
    layer
        Layer of ``adata`` to read (default: the training layer).
    n_samples
        ``None``: decode each cell's posterior mean (deterministic). An int: average over that
        many latent draws ``mu + sigma * eps`` per cell (seeded by ``random_state``); both
        predictions use the same draws.
    members
        ``"stable"``: average the members whose GRN has a loop gain (spectral radius of
        ``W``, :func:`~scgrn.models._perturb.feedback_gain`) below 1, and warn about the others:
        a member at or above 1 has no stable equilibrium (``h = h W + z`` is not the limit of
        propagating a change through the network), and its predicted effects spread to every
        gene (DeepSEM's ``W`` starts at gain 1 and some runs end above it). All members, with
        a warning, when none is stable. ``"all"``: every member.
    random_state
        Seed of the latent draws.

    Returns
    -------
    A :class:`~scgrn.models.PerturbedCells` named tuple of float32 arrays in log-expression
    units: ``perturbed`` (cells x genes, or perturbations x cells x genes for a list),
    ``unperturbed`` (cells x genes), ``perturbations``, ``feedback_gain`` (per member) and
    ``members`` (those averaged); ``.delta`` is ``perturbed - unperturbed``.

    Examples
    --------
    >>> import scgrn
    >>> adata, _ = scgrn.datasets.krumsiek11()
    >>> model = scgrn.models.DeepSEM(adata, n_models=2, n_epochs=5)
    >>> model.train(show_progress_bar=False)
    >>> cells = model.perturb({"Gata1": 0.0})
    >>> gata1 = list(model.var_names).index("Gata1")
    >>> cells.perturbed.shape, float(abs(cells.perturbed[:, gata1]).max())  # clamped to 0
    ((640, 11), 0.0)
    >>> model.perturb([{"Gata1": 0.0}, {"Pu.1": 1.0, "Cebpa": 0.0}]).delta.shape
    (2, 640, 11)
    """
    module = self._require_trained()
    single, checked = check_perturbations(perturbations, self.var_names)
    if n_samples is not None:
        n_samples = check_int("n_samples", n_samples, min=1)
    members = check_choice("members", members, MEMBERS)
    seed = check_random_state(random_state)
    mode = self.config.standardise
    mean, std = training_moments(self)  # the saved ones after DeepSEM.load
    if adata is None:
        x, summary = self._stored_matrix(), None
        where = "the training data (" + ("adata.X" if self.layer is None else f"adata.layers[{self.layer!r}]") + ")"
    else:
        check_var_names_match(self.var_names, adata.var_names)
        read = layer if layer is not None else self.layer
        x, summary = checked_matrix(adata, layer=read, min_cells=1, allow_zero_genes=True, _stacklevel=3)
        where = "adata.X" if read is None else f"adata.layers[{read!r}]"
    warn_negative_clamp(checked, x, where, single, summary)
    names = pd.Index([str(v) for v in self.var_names])
    idx, mask, raw, scaled_values = _clamp_tensors(checked, names, mean, std, mode)
    layer_ = module.grn_layer()
    target, rows, block = intervention(module, idx, mask, scaled_values, layer_)
    gain = feedback_gain(module, layer_)
    use = choose_members(gain, members)
    n_cells, n_genes = x.shape
    n_p = len(checked)
    chunk = _cells_per_chunk(module.config.n_models, n_samples or 1, n_p, n_genes, module.config.hidden_dim,
                             module.config.mlp_grid)
    perturbed = np.empty((n_p, n_cells, n_genes), dtype=np.float32)
    unperturbed = np.empty((n_cells, n_genes), dtype=np.float32)
    generator = torch.Generator().manual_seed(seed)
    dev = module.adj.device
    for start, block_x in row_blocks(x, chunk):
        stop = start + block_x.shape[0]
        cells = torch.as_tensor(scale_rows(block_x, mean, std, mode), device=dev)
        p, u = perturbation_effects(module, cells, idx, mask, target, rows, block, n_samples=n_samples,
                                    generator=generator, layer=layer_, members=use)
        perturbed[:, start:stop] = p.cpu().numpy() * std + mean
        unperturbed[start:stop] = u.cpu().numpy() * std + mean
    for i in range(n_p):  # the clamped genes hold their values exactly
        perturbed[i][:, idx[i, mask[i]]] = raw[i, mask[i]]
    if not (np.isfinite(perturbed).all() and np.isfinite(unperturbed).all()):
        raise FloatingPointError(
            "the perturbed prediction holds NaN or infinite values: the clamped genes' equations "
            "make the GRN layer singular for this model. Clamp fewer genes at once, or retrain."
        )
    return PerturbedCells(perturbed[0] if single else perturbed, unperturbed, checked, gain, use)


perturb.__qualname__ = "DeepSEM.perturb"  # a method of DeepSEM (bound in models/_deepsem.py)
