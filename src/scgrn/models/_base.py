"""Saving and loading scgrn models: one folder format for DeepSEM, PerturbODE and PairClassifier.

A saved model is a folder written by the class's ``.save()``:

``model.json``
    ``format_version`` (:data:`FORMAT_VERSION`), ``model`` (the class name),
    ``scgrn_version``, ``config`` (the hyperparameters) and what the class needs besides.
``model.pt``
    The torch state dict(s), read back with ``torch.load(..., weights_only=True)``: plain
    tensors only, never arbitrary pickled objects.
``history.npz`` (DeepSEM, PerturbODE)
    The training history, read with ``allow_pickle=False``.

Folders written before format versions existed (no ``format_version``) are read as version 0.
Versions: 1 added ``format_version``, ``model`` and ``scgrn_version``; 2 added DeepSEM's
``standardisation`` (the training cells' per-gene mean and standard deviation, see
:mod:`scgrn.models._deepsem_io`), without which a loaded DeepSEM took them from the cells
given to ``load``. Older DeepSEM folders still load, with a ``UserWarning``.

Choices shared by the three classes:

- Unknown hyperparameters in a saved config raise :class:`ModelFileError` naming them (a
  newer scgrn wrote the folder); dropping them could silently change the model.
- Gene names are stored as strings and compared as strings on load (``1`` and ``"1"`` are the
  same gene), so a model whose ``var_names`` are not strings still round-trips. The input
  checks (:func:`scgrn._validate.checked_matrix`) refuse non-string ``var_names`` when a model
  is built or loaded from an AnnData, naming the fix ``adata.var_names =
  adata.var_names.astype(str)``; such names reach a model only through internal paths
  (``DeepSEM.from_array``, used by :func:`scgrn.tl.simulate`) or older versions.
- Every error on load names the folder and the file; none suggests loading pickles.

This module holds the shared pieces only; each class keeps its own trainer.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import __version__
from .._params import check_bool

#: Version of the folder format written by ``.save()``; ``load`` reads this one and older.
FORMAT_VERSION = 2
META_FILE = "model.json"
WEIGHTS_FILE = "model.pt"
HISTORY_FILE = "history.npz"
#: keys that only one class's version-0 ``model.json`` has (folders saved before
#: ``format_version``, which do not record the class)
_LEGACY_MARKERS = {"preset": "DeepSEM", "perturbation_key": "PerturbODE", "n_times": "PairClassifier"}


class ModelFileError(ValueError):
    """A saved model folder that scgrn cannot read: damaged, of another model class, or
    written by a newer scgrn. The message names the file and the fix."""


def _json_default(obj):
    """JSON for numpy scalars and arrays and paths (what model metadata may hold)."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _write_atomic(path: Path, write) -> None:
    """Write through ``write(tmp_path)`` and rename, so an interrupted save never leaves a
    half-written file under the final name."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_model_files(
    dir_path: str | Path,
    meta: dict,
    state_dict: dict,
    *,
    kind: str,
    overwrite: bool = False,
    history: dict | None = None,
) -> Path:
    """Write a model folder: ``model.json`` (``meta`` plus format version, class and scgrn
    version), ``model.pt`` (``state_dict``) and, with ``history``, ``history.npz``.

    Parameters
    ----------
    dir_path
        The folder; created if missing. A leading ``~`` is the home folder.
    meta
        JSON-writable metadata (numpy scalars and arrays are converted).
    state_dict
        A torch state dict, or a dict of them (tensors only).
    kind
        The class name, recorded as ``model`` and checked by :func:`load_model_files`.
    overwrite
        Replace the files of a non-empty folder (else :class:`FileExistsError`).
    history
        Arrays to store in ``history.npz`` (``None``: no such file; a stale one is removed).

    Returns
    -------
    The folder as a :class:`~pathlib.Path`.

    Examples
    --------
    >>> import tempfile, torch
    >>> d = tempfile.mkdtemp()
    >>> save_model_files(d, {"config": {}}, {"w": torch.ones(2)}, kind="Demo").name == Path(d).name
    True
    >>> meta, state, _ = load_model_files(d, kind="Demo")
    >>> meta["format_version"], meta["model"], state["w"].tolist()
    (2, 'Demo', [1.0, 1.0])
    """
    overwrite = check_bool("overwrite", overwrite)
    path = Path(dir_path).expanduser()  # '~/m' is the home folder's m, as in datasets.data_dir
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} is a file; pass a folder path to `{kind}.save()`.")
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(f"{path} is not empty; pass overwrite=True to replace it.")
    full = {"format_version": FORMAT_VERSION, "model": kind, "scgrn_version": __version__, **meta}
    text = json.dumps(full, indent=1, default=_json_default)  # fails before anything is written
    path.mkdir(parents=True, exist_ok=True)
    _write_atomic(path / WEIGHTS_FILE, lambda p: torch.save(state_dict, p))
    if history is not None:
        arrays = {k: np.asarray(v) for k, v in history.items()}

        def write_history(p: Path) -> None:
            with open(p, "wb") as fh:
                np.savez(fh, **arrays)

        _write_atomic(path / HISTORY_FILE, write_history)
    elif (path / HISTORY_FILE).exists():
        (path / HISTORY_FILE).unlink()
    _write_atomic(path / META_FILE, lambda p: p.write_text(text))  # last: its presence means complete
    return path


def _damaged(file: Path, kind: str, why: str) -> ModelFileError:
    return ModelFileError(
        f"{file} is damaged (e.g. truncated by an interrupted copy) or was not written by "
        f"scgrn's `{kind}.save()`: {why}. Save the model again with `{kind}.save()`."
    )


def _missing(path: Path, kind: str, what: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"No saved {kind} model at {path}: {what}. Pass the folder written by `{kind}.save()`; "
        f"it holds {META_FILE} and {WEIGHTS_FILE}."
    )


def load_model_files(
    dir_path: str | Path, *, kind: str, required: tuple[str, ...] = (), history: bool = False
) -> tuple[dict, dict, dict]:
    """Read a folder written by :func:`save_model_files` (or by a save before format versions).

    Parameters
    ----------
    dir_path
        The folder (a leading ``~`` is the home folder).
    kind
        The class expected in it (``"DeepSEM"``, ``"PerturbODE"``, ``"PairClassifier"``).
    required
        Keys ``model.json`` must have.
    history
        Also read ``history.npz``.

    Returns
    -------
    ``(meta, state, history)``: ``model.json`` as a dict (``format_version`` 0 for old
    folders), the state dict(s) from ``model.pt`` on the CPU, and the history arrays
    (``{}`` unless ``history=True``).

    Raises
    ------
    FileNotFoundError
        The folder, ``model.json``, ``model.pt`` or ``history.npz`` is missing.
    ModelFileError
        A file is damaged or was not written by scgrn, the folder holds another model
        class, or a newer scgrn wrote it (format version above :data:`FORMAT_VERSION`).

    Examples
    --------
    >>> import tempfile
    >>> load_model_files(tempfile.mkdtemp(), kind="DeepSEM")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: No saved DeepSEM model at ...: it has no model.json. Pass the folder ...
    """
    path = Path(dir_path).expanduser()
    if not path.exists():
        raise _missing(path, kind, "the folder does not exist")
    if not path.is_dir():
        raise _missing(path, kind, "this is a file, not a folder")
    meta_file = path / META_FILE
    if not meta_file.is_file():
        raise _missing(path, kind, f"it has no {META_FILE}")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _damaged(meta_file, kind, "it is not text") from None
    except json.JSONDecodeError as err:
        raise _damaged(meta_file, kind, f"not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise _damaged(meta_file, kind, "it holds no JSON object")
    version = meta.setdefault("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise _damaged(meta_file, kind, f"format_version is {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{meta_file} was written by a newer scgrn ({meta.get('scgrn_version', 'unknown')}, "
            f"format version {version}); this scgrn ({__version__}) reads format versions up to "
            f"{FORMAT_VERSION}. Upgrade scgrn (`pip install -U scgrn`) to load it."
        )
    saved_kind = meta.get("model") if version >= 1 else next((v for k, v in _LEGACY_MARKERS.items() if k in meta), None)
    if version >= 1 and not isinstance(saved_kind, str):
        raise _damaged(meta_file, kind, "it does not say which model it holds")
    if saved_kind is not None and saved_kind != kind:
        raise ModelFileError(
            f"{path} holds a saved {saved_kind} model, not a {kind}: load it with "
            f"`scgrn.models.{saved_kind}.load(...)`."
        )
    missing = [k for k in required if k not in meta]
    if missing:
        raise _damaged(meta_file, kind, f"it lacks {missing}")

    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(
            f"The saved {kind} model at {path} is incomplete: it has {META_FILE} but no {WEIGHTS_FILE} "
            f"(the weights). Copy {WEIGHTS_FILE} along with {META_FILE}, or save the model again with "
            f"`{kind}.save()`."
        )
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except (PermissionError, IsADirectoryError):
        raise
    except Exception as err:  # noqa: BLE001 - torch raises many types; its message may advise unsafe loading
        raise _damaged(weights, kind, f"its weights cannot be read ({type(err).__name__}); scgrn reads only "
                       "plain tensors from it, never arbitrary pickled objects") from None
    if not isinstance(state, dict):
        raise _damaged(weights, kind, "it holds no state dict")

    arrays: dict = {}
    if history:
        hist_file = path / HISTORY_FILE
        if not hist_file.is_file():
            raise FileNotFoundError(
                f"The saved {kind} model at {path} is incomplete: it has no {HISTORY_FILE} (the training "
                f"history). Copy the whole folder, or save the model again with `{kind}.save()`."
            )
        try:
            with np.load(hist_file, allow_pickle=False) as h:
                arrays = {k: h[k] for k in h.files}
        except Exception as err:  # noqa: BLE001
            raise _damaged(hist_file, kind, f"it cannot be read ({type(err).__name__})") from None
    return meta, state, arrays


def load_state(module: torch.nn.Module, state: dict, *, dir_path: str | Path, kind: str) -> None:
    """``module.load_state_dict(state)``, with an error naming ``model.pt`` when the weights do
    not fit the model that ``model.json`` describes.

    Examples
    --------
    >>> m = torch.nn.Linear(2, 1)
    >>> load_state(m, torch.nn.Linear(2, 1).state_dict(), dir_path="m", kind="Demo")
    >>> load_state(m, {"weight": torch.zeros(3, 3)}, dir_path="m", kind="Demo")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    scgrn.models._base.ModelFileError: m/model.pt is damaged ... do not fit the model described in model.json ...
    """
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        first = str(err).strip().splitlines()
        why = first[1].strip() if len(first) > 1 else (first[0] if first else type(err).__name__)
        raise _damaged(
            Path(dir_path).expanduser() / WEIGHTS_FILE, kind, f"its weights do not fit the model described in {META_FILE} ({why[:300]})"
        ) from None


def config_from_saved(config_cls, saved, *, meta: dict, dir_path: str | Path, kind: str):
    """The config saved in ``model.json``: unknown hyperparameters raise
    :class:`ModelFileError` naming them (missing ones take today's defaults).

    Examples
    --------
    >>> from scgrn.models import DeepSEMConfig
    >>> config_from_saved(DeepSEMConfig, {"n_models": 2}, meta={}, dir_path="m", kind="DeepSEM").n_models
    2
    >>> config_from_saved(DeepSEMConfig, {"n_model": 2}, meta={}, dir_path="m", kind="DeepSEM")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    scgrn.models._base.ModelFileError: The DeepSEM config in m/model.json has hyperparameter(s) this scgrn (...) does not know: ['n_model'] (saved by scgrn unknown). Load it with the scgrn version that saved it or a newer one (upgrade scgrn): dropping them could change the model.
    """
    meta_file = Path(dir_path).expanduser() / META_FILE
    if not isinstance(saved, dict):
        raise _damaged(meta_file, kind, "its config is not a JSON object")
    unknown = sorted(set(saved) - {f.name for f in fields(config_cls)})
    if unknown:
        raise ModelFileError(
            f"The {kind} config in {meta_file} has hyperparameter(s) this scgrn ({__version__}) does "
            f"not know: {unknown} (saved by scgrn {meta.get('scgrn_version', 'unknown')}). Load it with "
            "the scgrn version that saved it or a newer one (upgrade scgrn): dropping them could "
            "change the model."
        )
    try:
        return config_cls.from_dict(saved)
    except (TypeError, ValueError) as err:
        raise _damaged(meta_file, kind, f"its config is invalid ({err})") from None


def var_names_to_json(var_names) -> list[str]:
    """Gene names as the list of strings that ``model.json`` stores.

    Examples
    --------
    >>> var_names_to_json(pd.RangeIndex(3))
    ['0', '1', '2']
    """
    return [str(v) for v in var_names]


def check_var_names_match(expected, var_names, *, fix: str = "`adata = adata[:, model.var_names].copy()`") -> None:
    """Raise ``ValueError`` unless ``var_names`` are the model's genes in the model's order,
    compared as strings (so integer names match the strings a saved model stores).

    Parameters
    ----------
    expected
        The genes the model was trained on, in order.
    var_names
        The AnnData's ``var_names``.
    fix
        The fix the message suggests.

    Examples
    --------
    >>> check_var_names_match(["a", "b"], pd.Index(["a", "b"]))
    >>> check_var_names_match(["0", "1"], pd.RangeIndex(2))  # compared as strings
    >>> check_var_names_match(["a", "b", "c"], ["a", "x"])
    Traceback (most recent call last):
    ...
    ValueError: The AnnData's var_names differ from the 3 genes the model was trained on: 2 of them are missing (first: ['b', 'c']), 1 gene is not in the model (first: ['x']). Subset and order the AnnData as in training: `adata = adata[:, model.var_names].copy()`.
    """
    exp = pd.Index([str(v) for v in expected])
    got = pd.Index([str(v) for v in var_names])
    if exp.equals(got):
        return
    missing = exp.difference(got, sort=False)
    extra = got.difference(exp, sort=False)
    parts = []
    if len(missing):
        parts.append(f"{len(missing)} of them {'is' if len(missing) == 1 else 'are'} missing (first: {list(missing[:5])})")
    if len(extra):
        parts.append(f"{len(extra)} gene{'' if len(extra) == 1 else 's'} {'is' if len(extra) == 1 else 'are'} "
                     f"not in the model (first: {list(extra[:5])})")
    if not parts:
        if len(exp) == len(got):
            pos = int(np.flatnonzero(exp.to_numpy() != got.to_numpy())[0])
            parts.append(f"the same genes in another order (first difference at position {pos}: "
                         f"{got[pos]!r} where the model has {exp[pos]!r})")
        else:
            parts.append(f"{len(got)} names with duplicates for the model's {len(exp)}")
    raise ValueError(
        f"The AnnData's var_names differ from the {len(exp)} genes the model was trained on: "
        f"{', '.join(parts)}. Subset and order the AnnData as in training: {fix}."
    )


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """FutureWarning for a deprecated name that still works.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warn_renamed("PairClassifier.fit", "PairClassifier.train")
    >>> w[0].category.__name__, str(w[0].message)
    ('FutureWarning', '`PairClassifier.fit` is deprecated and will be removed; use `PairClassifier.train`.')
    """
    warnings.warn(f"`{old}` is deprecated and will be removed; use `{new}`.", FutureWarning, stacklevel=stacklevel)
