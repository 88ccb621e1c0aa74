"""``scgrn.tl.perturbode``: the one-call PerturbODE tool."""

from __future__ import annotations

import numpy as np
from anndata import AnnData
from scanpy import logging as logg

from .. import __version__
from .._settings import resolve_device, resolve_progress_bar
from .._validate import check_adata, check_copy, check_key, check_random_state
from ..models import PerturbODE
from ._write import write_grn

PERTURBODE = "perturbode"


def perturbode(
    adata: AnnData,
    *,
    perturbation_key: str = "perturbation",
    control: str = "control",
    n_modules: int | None = None,
    intervention: str = "knockout",
    layer: str | None = None,
    key_added: str = PERTURBODE,
    random_state: int = 0,
    device: str = "auto",
    show_progress_bar: bool | None = None,
    copy: bool = False,
    **hyperparameters,
) -> AnnData | None:
    """Learn a GRN and gene modules from a perturbation screen with PerturbODE.

    PerturbODE (Lin et al. 2025) models a cell as ``dx/dt = B sigma(A x + b) + c - gamma x``:
    a one-hidden-layer network whose hidden units are gene modules (``A`` reads genes into
    modules, ``B`` writes modules to target genes), basal transcription ``c`` and decay
    ``gamma``. A knockout clamps the targeted gene low (at a learned fraction of its control
    value); a shift adds a learned constant drive to it. Control cells are integrated with a
    fixed-step RK4 solver under each perturbation and the end states are matched to that
    perturbation's observed cells by a debiased Sinkhorn divergence, with L1 sparsity on
    ``A`` and ``B``. scgrn additions (switchable): perturbed cells are read out
    counterfactually (start cell + perturbed trajectory - unperturbed trajectory) and a
    mean-effect term matches each perturbation's mean change; see
    :class:`scgrn.models.PerturbODEConfig`. The GRN is ``A^T diag(s) B^T`` (``s``: mean sigmoid slope of each
    module over control cells). Use :class:`scgrn.models.PerturbODE` to predict unseen
    perturbations.

    Parameters
    ----------
    adata
        Cells x genes, log-normalised, non-negative expression (0 = not expressed), one
        perturbation label per cell in ``obs[perturbation_key]``.
    perturbation_key
        ``obs`` column of labels: ``control``, a gene of ``var_names`` (``"G3"``) or a
        combination joined by ``"+"`` (``"G3+G7"``). Labels naming genes outside
        ``var_names`` raise a ValueError listing them.
    control
        Label of control cells (at least 10). Labels are read as text, so with integer codes
        ``control=0`` matches the label ``'0'``.
    n_modules
        Hidden units (gene modules); ``None``: ``min(n_genes, 32)``.
    intervention
        ``"knockout"`` (CRISPR knockout / CRISPRi) or ``"shift"`` (activation / overexpression).
    layer
        Read this layer instead of ``adata.X``.
    key_added
        Where results go (see Returns).
    random_state
        Seed; same seed, same result on CPU. ``None`` draws a fresh seed, recorded in ``uns``.
    device
        ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.
    show_progress_bar
        Progress bar over epochs (``None``: ``scgrn.settings.show_progress_bar``).
    copy
        Return a new AnnData instead of writing into ``adata``.
    **hyperparameters
        Fields of :class:`scgrn.models.PerturbODEConfig` (``n_epochs``, ``l1``, ``lr``,
        ``batch_size``, ``t_end``, ``n_time_steps``, ``solver``, ``epsilon``, ...).

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Writes

    ``adata.varp['perturbode' | key_added]``
        float32 genes x genes GRN, row = regulator, column = target, signed, zero diagonal.
    ``adata.varm[key_added + '_A']``
        float32 genes x modules input loadings ``A^T`` (which genes drive each module).
    ``adata.varm[key_added + '_B']``
        float32 genes x modules output loadings ``B`` (which genes each module drives).
    ``adata.var[key_added + '_decay']``, ``adata.var[key_added + '_knockout_level']`` (or ``'_shift'``)
        Learned decay rate, and the learned intervention strength of each gene targeted in
        training (NaN for genes never targeted).
    ``adata.uns['perturbode' | key_added]``
        ``method``, ``version``, ``params`` (every hyperparameter and the seed),
        ``perturbations`` (training labels), ``default_intervention`` (used for unseen genes),
        ``training_time_s`` and ``history`` (per-epoch ``loss``, ``ot`` (Sinkhorn loss, up to
        a constant), ``l1``, ``mean``).

    Examples
    --------
    >>> import scgrn
    >>> adata, net = scgrn.datasets.simulate_perturbation_screen(
    ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
    >>> scgrn.tl.perturbode(adata, n_modules=4, n_epochs=5, show_progress_bar=False)
    >>> adata.varp["perturbode"].shape, adata.varm["perturbode_A"].shape
    ((12, 12), (12, 4))
    """
    # every argument is checked before the data are read, and nothing is written before the end
    check_adata(adata)
    key_added = check_key("key_added", key_added)
    copy = check_copy(adata, copy)
    seed = check_random_state(random_state)
    show_progress_bar = resolve_progress_bar(show_progress_bar)
    resolve_device(device)
    start = logg.info(f"running PerturbODE (intervention={intervention!r})")
    if n_modules is not None:
        hyperparameters["n_modules"] = n_modules
    model = PerturbODE(
        adata,
        perturbation_key=perturbation_key,
        control=control,
        layer=layer,
        intervention=intervention,
        **hyperparameters,
    )
    model.train(random_state=seed, device=device, show_progress_bar=show_progress_bar)

    # compute every result first: a failure here leaves adata untouched
    grn = model.get_grn()
    a, b = model.get_modules()
    par = model.get_parameters()
    what = "knockout_level" if model.config.intervention == "knockout" else "shift"
    record = {
        "method": "perturbode",
        "version": __version__,
        "params": model.params(),
        "perturbations": model.perturbations,
        "default_intervention": model.default_intervention(),
        "training_time_s": float(model.training_time_s),
        "history": model.history,
    }
    also = {
        ("varm", f"{key_added}_A"): (a.to_numpy(dtype=np.float32), "module loadings A (genes x modules)"),
        ("varm", f"{key_added}_B"): (b.to_numpy(dtype=np.float32), "module loadings B (genes x modules)"),
        ("var", f"{key_added}_decay"): (par["decay"].to_numpy(dtype=np.float32), "decay rate per gene"),
        ("var", f"{key_added}_{what}"): (par[what].to_numpy(dtype=np.float32), f"{what} per gene"),
    }
    return write_grn(adata, grn, record, key_added=key_added, copy=copy, start=start, also=also,
                     record_note="parameters and training history")
