"""``scgrn.tl.perturb``: in-silico knockout / over-expression through a DeepSEM GRN."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
from anndata import AnnData
from scanpy import logging as logg

from .. import __version__
from .._matrix import read_rows
from .._settings import resolve_device, resolve_progress_bar
from .._validate import (
    COUNTS_MIN_MAX,
    check_adata,
    check_int,
    check_key,
    check_random_state,
    checked_matrix,
)
from ..models import DeepSEM
from ..models._base import check_var_names_match
from ..models._deepsem_config import make_config
from ..models._perturb import check_perturbations
from ._simulate import SIMULATION_DEFAULTS, _auto_epochs

__all__ = ["perturb"]

PERTURB = "perturb"
#: fewest cells a model is trained on here
MIN_CELLS = 10
#: DeepSEM settings for perturbation, under any the user passes: simulation's (a model that
#: reconstructs its cells well) with 4 members instead of 1. W starts at 1 / (genes - 1), a loop
#: gain (spectral radius) of 1, and the loss is about symmetric in 1 - gain, so runs leave 1
#: upwards or downwards; above 1 the SEM has no stable equilibrium and an intervention's effect
#: spreads to every gene. DeepSEM.perturb averages the members below 1: on planted 30-gene
#: networks (seeds 0, 3, 4, 5) 7 of 16 members ended above 1, and the targets of a knocked-out
#: regulator moved 100-400x more than other genes with the stable members, about 1-4x with all.
PERTURB_DEFAULTS = {**SIMULATION_DEFAULTS, "n_models": 4}


def _read_input(adata: AnnData, layer: str | None, min_cells: int):
    """The matrix as stored, checked: log-normalised expected, raw counts refused."""
    x, summary = checked_matrix(adata, layer=layer, min_cells=min_cells, expect=None, allow_zero_genes=True)
    where = f"adata.layers[{layer!r}]" if layer is not None else "adata.X"
    if summary.nonneg_integer and summary.max > COUNTS_MIN_MAX:
        raise ValueError(
            f"{where} looks like raw counts (non-negative integers, max {summary.max:g}), but perturbation "
            "values are in log-expression units. Log-normalise first: `sc.pp.normalize_total(adata); "
            "sc.pp.log1p(adata)` (or pass layer= with log-normalised values)."
        )
    if summary.min < 0:  # the check's pass already holds the smallest stored value
        warnings.warn(
            f"{where} has negative values: it may be scaled (z-scored) rather than log-normalised, and "
            "then 0.0 is a gene's mean, not a knockout. Perturb log-normalised expression (e.g. a layer "
            "before `sc.pp.scale`), or give the values on this scale.",
            UserWarning,
            stacklevel=3,
        )
    return x


def perturb(
    adata: AnnData,
    *,
    perturbations: dict,
    model: DeepSEM | None = None,
    layer: str | None = None,
    n_samples: int | None = None,
    preset: str = "default",
    key_added: str = PERTURB,
    random_state: int = 0,
    device: str = "auto",
    show_progress_bar: bool | None = None,
    **hyperparameters,
) -> AnnData:
    """Predict cells after an in-silico knockout or over-expression, through a learned GRN.

    A DeepSEM model is trained on the cells (with :func:`simulate`'s simulator settings: a
    model that reconstructs its cells well), or ``model`` is used. Every gene named in
    ``perturbations`` is clamped to its value: a do-intervention on its node of the GRN layer,
    so its regulators stop acting on it while its targets, and theirs, respond through ``W``
    (the decoder's equations ``h = h W + z`` with the clamped genes' rows replaced by
    ``h_T = c``, ``c`` the encoder's hidden value of the clamped expression; the exact solve is
    described in :meth:`scgrn.models.DeepSEM.perturb`). Each cell is decoded from its posterior
    latent with and without the intervention (the same latent for both), averaged over the
    ensemble members, and mapped back to log-expression units.

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression (``adata.X`` or ``layer``; raw counts are
        refused). Select genes first (a few hundred to ~2000, as for :func:`deepsem`).
    perturbations
        ``{gene: value}`` in log-expression units: ``0.0`` is a knockout, any other value an
        over-expression (or knockdown); several genes are clamped together.
    model
        A trained :class:`scgrn.models.DeepSEM` whose genes are ``adata.var_names`` in the same
        order; no model is trained then (``preset`` and ``**hyperparameters`` must be left
        out) and ``adata``'s cells are z-scored with the model's training statistics.
    layer
        Read this layer instead of ``adata.X``. With ``model``, ``None`` reads the model's
        training layer (``model.layer``), which is then checked and recorded.
    n_samples
        ``None``: decode each cell's posterior mean. An int: average over that many latent
        draws per cell (the same draws with and without the intervention).
    preset
        DeepSEM preset (:data:`scgrn.models.PRESETS`) of the model trained here.
    key_added
        Key of the provenance record in the returned ``uns``.
    random_state
        Seed of training and of the latent draws; the same seed gives the same cells on CPU.
        ``None`` draws a fresh seed, recorded in ``uns[key_added]['params']['random_state']``.
    device
        Training device: ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.
    show_progress_bar
        Progress bar over training steps (``None``: ``scgrn.settings.show_progress_bar``).
    **hyperparameters
        Any :class:`scgrn.models.DeepSEMConfig` field (``n_models``, ``n_epochs``, ...), over
        the preset and over :func:`simulate`'s defaults ``lr_nn=1e-3, batch_size=32,
        hidden_dim=32, mlp_grid=None`` and ``n_epochs`` for about 1000 optimiser steps (30 to
        300 epochs), with ``n_models=4``: members whose ``W`` has a loop gain (spectral
        radius) of 1 or more are left out of the average with a warning (see
        :meth:`scgrn.models.DeepSEM.perturb`).

    Returns
    -------
    A new AnnData of the perturbed cells, one per input cell (same ``obs_names``): ``var``
    and ``obsm`` (embeddings, e.g. ``X_umap``) copied from ``adata``; ``X``: float32 predicted
    log expression after the perturbation (the clamped genes at their values);
    ``layers['unperturbed']``: the model's prediction without it; ``layers['delta']``: their
    difference per cell; ``var['delta']``: its mean over cells; ``obs['perturbed'] = True``;
    ``uns['perturb' | key_added]``: ``method``, ``version``, ``perturbations``, ``genes``,
    ``units``, ``intervention``, ``latent``, ``model`` (``"trained"`` or ``"given"``), for a
    model trained here ``n_epochs``, ``final_loss`` and ``training_time_s``, ``feedback_gain``
    (each member's loop gain), ``members`` (those averaged) and ``params`` (every
    hyperparameter, layer, ``n_samples``, seed).

    Examples
    --------
    >>> import scgrn
    >>> adata, _ = scgrn.datasets.krumsiek11()
    >>> adata.X = adata.X.clip(0)  # krumsiek11 has tiny negative values
    >>> model = scgrn.models.DeepSEM(adata, n_models=2, n_epochs=5)  # or leave out model= to train one here
    >>> model.train(show_progress_bar=False)
    >>> out = scgrn.tl.perturb(adata, perturbations={"Gata1": 0.0}, model=model)
    >>> out.shape, bool(out.obs["perturbed"].all()), sorted(out.layers)
    ((640, 11), True, ['delta', 'unperturbed'])
    >>> out.uns["perturb"]["perturbations"], float(out.var.loc["Gata1", "delta"]) < 0
    ({'Gata1': 0.0}, True)
    """
    check_adata(adata)
    key_added = check_key("key_added", key_added)
    seed = check_random_state(random_state)
    bar = resolve_progress_bar(show_progress_bar)
    if not isinstance(perturbations, Mapping):
        raise TypeError(
            "perturbations must be a dict {gene: value} in log-expression units (e.g. {'JAK2': 0.0} for a "
            f"knockout), got {type(perturbations).__name__}. For several perturbations, call perturb once per dict."
        )
    _, (checked,) = check_perturbations(perturbations, adata.var_names)
    if n_samples is not None:
        n_samples = check_int("n_samples", n_samples, min=1)
    if model is not None:
        if not isinstance(model, DeepSEM):
            raise TypeError(f"model must be a trained scgrn.models.DeepSEM, got {type(model).__name__}.")
        if hyperparameters or preset != "default":
            given = sorted(hyperparameters) + (["preset"] if preset != "default" else [])
            raise ValueError(f"model= is already trained; {given} would be ignored. Leave them out, or drop model=.")
        if model.module is None:
            raise ValueError("model is not trained yet: call `model.train()` first, or drop model= to train one here.")
        check_var_names_match(model.var_names, adata.var_names)
        if layer is None:  # the model reads its training layer: check and record that matrix
            layer = model.layer
    else:
        dev = resolve_device(device)
        probe = {**PERTURB_DEFAULTS, **hyperparameters}
        if probe.get("n_epochs") is None:
            probe["n_epochs"] = 1  # resolved from the cells below
        make_config(preset, **probe)  # unknown or out-of-range hyperparameters fail before reading the data
    genes = list(checked)
    start = logg.info(f"perturbing {', '.join(f'{g}={v:g}' for g, v in checked.items())} through a DeepSEM GRN")
    x = _read_input(adata, layer, 1 if model is not None else MIN_CELLS)
    record = {}
    if model is None:
        hp = {**PERTURB_DEFAULTS, **hyperparameters}
        if hp.get("n_epochs") is None:
            hp["n_epochs"] = _auto_epochs(adata.n_obs, int(hp["batch_size"]))
        model = DeepSEM.from_array(read_rows(x, slice(None)), adata.var_names, preset=preset, **hp)
        model.train(random_state=seed, device=dev, show_progress_bar=bar)
        cells = model.perturb(checked, n_samples=n_samples, random_state=seed)
        record.update(
            model="trained",
            n_epochs=int(hp["n_epochs"]),
            final_loss=float(model.history["reconstruction"][-1].mean()),
            training_time_s=float(model.training_time_s),
        )
        extra = {}
    else:
        cells = model.perturb(checked, adata=adata, layer=layer, n_samples=n_samples, random_state=seed)
        record.update(model="given")
        extra = {"model_random_state": int(model.random_state)}
    perturbed, unperturbed = cells.perturbed, cells.unperturbed
    delta = (perturbed - unperturbed).astype(np.float32)
    record = {
        "method": "deepsem",
        "version": __version__,
        "perturbations": {g: float(v) for g, v in checked.items()},
        "genes": genes,
        "units": "log",
        "intervention": "do: the clamped genes' equations of the GRN layer replaced by h = encoder mean of the value",
        "latent": "posterior mean" if n_samples is None else "samples",
        **record,
        "feedback_gain": [float(v) for v in cells.feedback_gain],
        "members": [int(i) for i in np.flatnonzero(cells.members)],
        "params": {
            **{k: v for k, v in model.params().items() if v is not None},
            "layer": "X" if layer is None else layer,
            "n_samples": 0 if n_samples is None else int(n_samples),
            "random_state": seed,
            **extra,
        },
    }
    obs = adata.obs.copy()
    if "perturbed" in obs.columns:  # e.g. a screen's own label column of that name
        warnings.warn(
            "adata.obs['perturbed'] is replaced by True in the returned AnnData (tl.perturb marks its cells "
            "there); adata itself keeps it. To carry your column over, rename it first, e.g. "
            "`adata.obs = adata.obs.rename(columns={'perturbed': 'guide_perturbed'})`.",
            UserWarning,
            stacklevel=2,
        )
    obs["perturbed"] = True
    var = adata.var.copy()
    var["delta"] = delta.mean(0).astype(np.float32)
    out = AnnData(
        perturbed.astype(np.float32, copy=False), obs=obs, var=var,
        layers={"unperturbed": unperturbed.astype(np.float32, copy=False), "delta": delta},
        obsm={k: v.copy() for k, v in adata.obsm.items()},
    )
    for k, v in adata.uns.items():  # scanpy's colours of obs columns travel with them
        if k.endswith("_colors") and k[: -len("_colors")] in obs:
            out.uns[k] = np.array(v, copy=True)
    out.uns[key_added] = record
    logg.info(
        "    finished",
        time=start,
        deep=f"returned {out.n_obs} perturbed cells x {out.n_vars} genes: 'X' (perturbed), "
        f"'layers['unperturbed']', 'layers['delta']', 'var['delta']', 'obs['perturbed']', 'uns[{key_added!r}]'",
    )
    return out
