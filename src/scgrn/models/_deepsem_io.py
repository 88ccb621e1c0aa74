"""DeepSEM's saved folder and the training cells' standardisation that it stores.

A DeepSEM z-scores every gene with the training cells' per-gene mean and standard deviation
(``config.standardise``: over all cells or over each gene's non-zero values) before encoding,
and undoes it after decoding. :func:`training_moments` is that pair for a model in memory
(what :meth:`DeepSEM.get_latent_representation` and :meth:`DeepSEM.perturb` use for any cells).
:func:`save_deepsem` writes it to ``model.json`` under ``standardisation`` (``mode``, ``mean``,
``std``: float32 values written as JSON numbers, which read back bit for bit; format version 2,
see :mod:`scgrn.models._base`) and :func:`load_deepsem` reads it back, so a loaded model embeds
and perturbs any cells exactly as the saved one did, whichever cells it is loaded with.

Folders without it (saved before format version 2) still load: the statistics are then taken
from the cells given to ``load`` (what earlier versions did), with a ``UserWarning`` that says
so and how to get exact results (load with the training cells and save again).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .._matrix import gene_moments, read_rows, summarise_columns
from .._validate import checked_matrix
from ._base import (
    META_FILE,
    _damaged,
    check_var_names_match,
    config_from_saved,
    load_model_files,
    load_state,
    save_model_files,
    var_names_to_json,
)
from ._deepsem_config import DeepSEMConfig
from ._deepsem_data import member_signs
from ._deepsem_module import DeepSEMEnsemble
from ._simulate import _user_stacklevel

#: key of the training cells' per-gene standardisation in ``model.json``
STATS_KEY = "standardisation"
#: key of the members' latent signs (:func:`latent_signs`) in ``model.json``
SIGNS_KEY = "latent_signs"
#: cells encoded at a time by get_latent_representation; the first block sets the members' signs
LATENT_BLOCK_CELLS = 4096
#: training cells the members' latent signs are read from (:func:`latent_signs`): the sign is a
#: global flip of a member's latent, which a few hundred cells settle; few enough that reading
#: it at the end of every training run costs seconds even at 20,000 genes
SIGN_CELLS = 512


def training_moments(model) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene ``(mean, std)`` (float32) with which ``model`` z-scores cells: the saved ones
    for a model loaded from a folder that stores them, else those of the training cells
    (``model._summary``, or one pass over ``model._matrix`` for :meth:`DeepSEM.from_array`,
    made once)."""
    stored = getattr(model, "_moments", None)
    if stored is not None:
        return stored
    if model._summary is not None:
        return gene_moments(model._summary, model.config.standardise)
    # from_array keeps no summary: one pass over its array, kept so that it is made once
    model._moments = gene_moments(summarise_columns(model._matrix), model.config.standardise)
    return model._moments


@torch.no_grad()
def latent_signs(model, *, check: bool = True) -> torch.Tensor:
    """The members' signs in :meth:`DeepSEM.get_latent_representation`
    (:func:`~scgrn.models._deepsem_data.member_signs`), read once from the first
    :data:`SIGN_CELLS` training cells and kept on the model (saved with it), so that they do not
    depend on the cells being embedded (:meth:`DeepSEM.train` reads them at its end, so a later
    in-place change of the training cells cannot affect them). A model
    loaded from a folder without them reads them from the cells given to ``load``. ``check``:
    first check that the training matrix has not changed in place (``DeepSEM._stored_matrix``)."""
    signs = getattr(model, "_signs", None)
    if signs is None:
        mean, std = training_moments(model)
        x = model._stored_matrix() if check else model._matrix
        block = read_rows(x, slice(0, min(SIGN_CELLS, x.shape[0])))
        signs = member_signs(model._require_trained(), block, mean, std, model.config.standardise)
        model._signs = signs
    return signs


def save_deepsem(model, dir_path: str | Path, *, overwrite: bool = False) -> None:
    """Write ``model`` (trained) to a folder: :meth:`DeepSEM.save`."""
    module = model._require_trained()
    mean, std = training_moments(model)
    signs = latent_signs(model)
    meta = {
        "preset": model.preset, "config": model.config.to_dict(), "random_state": model.random_state,
        "tfs": model.tfs, "tf_rows_only": model.tf_rows_only, "layer": model.layer,
        "var_names": var_names_to_json(model.var_names), "training_time_s": float(model.training_time_s),
        STATS_KEY: {"mode": model.config.standardise, "mean": np.asarray(mean, dtype=np.float32).tolist(),
                    "std": np.asarray(std, dtype=np.float32).tolist()},
        SIGNS_KEY: [int(v) for v in signs.tolist()],
    }
    save_model_files(dir_path, meta, module.state_dict(), kind="DeepSEM", overwrite=overwrite, history=model.history)


def _saved_moments(meta: dict, mode: str, n_genes: int, dir_path) -> tuple[np.ndarray, np.ndarray] | None:
    """The stored ``(mean, std)``, checked; ``None`` (with a warning) for a folder without them."""
    meta_file = Path(dir_path).expanduser() / META_FILE
    stats = meta.get(STATS_KEY)
    if stats is None:
        warnings.warn(
            f"{meta_file} stores no training statistics (saved by scgrn {meta.get('scgrn_version', 'unknown')}, "
            f"format version {meta.get('format_version')}): the per-gene mean and standard deviation that "
            "z-score cells are taken from the cells passed to load(), so embeddings and perturbations differ "
            "from the saved model's unless these are the training cells. For exact results, load it with the "
            "training cells and save it again with this scgrn version (`model.save(dir, overwrite=True)`).",
            UserWarning,
            stacklevel=_user_stacklevel(),
        )
        return None
    try:
        ok_mode = isinstance(stats, dict) and stats.get("mode") == mode
        mean = np.asarray(stats["mean"], dtype=np.float32)
        std = np.asarray(stats["std"], dtype=np.float32)
    except (KeyError, TypeError, ValueError):
        raise _damaged(meta_file, "DeepSEM", f"its {STATS_KEY!r} entry is not a mode with mean and std lists") from None
    if not ok_mode or mean.shape != (n_genes,) or std.shape != (n_genes,):
        raise _damaged(meta_file, "DeepSEM", f"its {STATS_KEY!r} entry does not fit the model (mode "
                       f"{mode!r}, {n_genes} genes)")
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise _damaged(meta_file, "DeepSEM", f"its {STATS_KEY!r} entry holds non-finite or non-positive values")
    return mean, std


def _saved_signs(meta: dict, n_models: int, dir_path) -> torch.Tensor | None:
    """The stored latent signs, checked; ``None`` for a folder without them."""
    signs = meta.get(SIGNS_KEY)
    if signs is None:
        return None
    if (not isinstance(signs, list) or len(signs) != n_models
            or any(isinstance(v, bool) or v not in (1, -1) for v in signs)):
        raise _damaged(Path(dir_path).expanduser() / META_FILE, "DeepSEM",
                       f"its {SIGNS_KEY!r} entry is not {n_models} values of 1 or -1")
    return torch.tensor(signs, dtype=torch.float32)


def load_deepsem(cls, dir_path: str | Path, adata):
    """Read a folder written by :func:`save_deepsem` (or an older save): :meth:`DeepSEM.load`."""
    required = ("config", "preset", "var_names", "layer", "tfs", "random_state")
    meta, state, history = load_model_files(dir_path, kind="DeepSEM", required=required, history=True)
    check_var_names_match(meta["var_names"], adata.var_names, fix="`adata = adata[:, genes].copy()` with `genes` "
                          "the 'var_names' listed in model.json")
    model = cls.__new__(cls)
    model.config = config_from_saved(DeepSEMConfig, meta["config"], meta=meta, dir_path=dir_path, kind="DeepSEM")
    model.preset = meta["preset"]
    model.var_names = pd.Index(adata.var_names).copy()  # equal to the saved names as strings
    model.layer = meta["layer"]
    model.tfs = meta["tfs"]
    model._moments = _saved_moments(meta, model.config.standardise, len(model.var_names), dir_path)
    model._signs = _saved_signs(meta, model.config.n_models, dir_path)
    model._matrix, model._summary = checked_matrix(adata, layer=model.layer, min_cells=1)
    model._dense = None
    model.tf_rows_only = bool(meta.get("tf_rows_only", False))  # saved before 0.2: full model
    model.random_state = int(meta["random_state"])
    model.training_time_s = float(meta.get("training_time_s", "nan"))
    model.module = DeepSEMEnsemble(len(model.var_names), model.config, regulators=model._regulators())
    state.pop("off_diagonal", None)  # a mask buffer of models saved before 0.2
    load_state(model.module, state, dir_path=dir_path, kind="DeepSEM")
    model.module.zero_self_loops()  # those models kept unused values on the diagonal
    model.module.eval()
    model.history = history
    return model
