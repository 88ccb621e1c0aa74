"""Checks of scalar arguments (hyperparameters, seeds, keys, devices) shared by every scgrn tool.

Each check either returns the value in a canonical Python type (``int``, ``float``, ``str``)
or raises an error whose message names the argument, what it got and how to fix it. They run
before any computation, so a typo never costs a training run and never leaves a half-written
AnnData behind. Data checks (the expression matrix, gene names, TFs) live in
:mod:`scgrn._validate`, which re-exports these.

Choices made once for the whole package:

- An integer argument takes Python or numpy integers only. A float, even ``2.0``, and a
  string such as ``"2"`` are rejected rather than converted (as scanpy does), and ``True`` /
  ``False`` are not integers.
- A float argument takes any real number (ints too) but never ``NaN``; infinity only where
  the check allows it (``finite=False``).
- ``random_state=None`` draws a fresh seed from :func:`numpy.random.default_rng` and returns
  it, so the tool can record the seed it actually used; a numpy ``Generator`` or
  ``RandomState`` gives a seed drawn from it.
- A wrong type raises :class:`ParameterTypeError`, both a :class:`TypeError` and a
  :class:`ValueError`; a value out of range raises :class:`ValueError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ParameterTypeError",
    "check_int",
    "check_float",
    "check_fractions",
    "check_bool",
    "check_choice",
    "check_key",
    "check_random_state",
    "check_device",
    "out_folder_problem",
    "MAX_SEED",
]

#: seeds are integers in ``[0, MAX_SEED)`` (what numpy, torch and scikit-learn all accept)
MAX_SEED = 2**32
#: ``random_state=None`` draws a seed below this (fits an int32 in any h5ad record)
_DRAWN_SEED_MAX = 2**31 - 1
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


class ParameterTypeError(TypeError, ValueError):
    """An argument of the wrong type (a float or string where an integer is needed, ...).

    Subclasses both :class:`TypeError` and :class:`ValueError` so either can be caught.
    """


def _got(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _range(min, max, min_open: bool = False, max_open: bool = False) -> str:
    """Human-readable range, e.g. ``'>= 1'``, ``'> 0'``, ``'in [0, 1)'``."""
    if min is not None and max is not None:
        return f"in {'(' if min_open else '['}{min}, {max}{')' if max_open else ']'}"
    if min is not None:
        return f"{'>' if min_open else '>='} {min}"
    if max is not None:
        return f"{'<' if max_open else '<='} {max}"
    return ""


def _as_int_text(value: Any) -> str | None:
    """``value`` written as an integer literal when it plainly is one (``2.0``, ``'2'``), else None."""
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        try:
            return str(int(value))
        except ValueError:  # whitespace int() does not strip, e.g. '0\x1f'
            return None
    if isinstance(value, Real) and not isinstance(value, (bool, np.bool_)):
        f = float(value)
        if np.isfinite(f) and f == int(f):
            return str(int(f))
    return None


def check_int(
    name: str, value: Any, *, min: int | None = None, max: int | None = None, allow_none: bool = False
) -> int | None:
    """An integer argument as a Python ``int`` (``None`` passes when ``allow_none``).

    Examples
    --------
    >>> check_int("n_epochs", np.int64(3), min=1)
    3
    >>> check_int("n_epochs", 2.5, min=1)
    Traceback (most recent call last):
    ...
    scgrn._params.ParameterTypeError: n_epochs must be an integer >= 1, got 2.5 (float). Pass a whole number, e.g. n_epochs=2.
    >>> check_int("n_obs", 0.5, min=1)  # the example is never one that is refused
    Traceback (most recent call last):
    ...
    scgrn._params.ParameterTypeError: n_obs must be an integer >= 1, got 0.5 (float). Pass a whole number, e.g. n_obs=1.
    """
    if value is None and allow_none:
        return None
    rng = _range(min, max)
    want = f"an integer{' ' + rng if rng else ''}{' or None' if allow_none else ''}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        literal = _as_int_text(value)
        if literal is not None:
            fix = f"Pass an integer: {name}={literal}."
        elif isinstance(value, Real):
            example = int(np.floor(float(value))) if np.isfinite(float(value)) else 1
            if min is not None and example < min:  # the hint must be a value that is accepted
                example = int(min) if max is None or min <= max else example
            if max is not None and example > max:
                example = int(max)
            fix = f"Pass a whole number, e.g. {name}={example}."
        else:
            fix = "Pass an integer."
        raise ParameterTypeError(f"{name} must be {want}, got {_got(value)}. {fix}")
    value = int(value)
    if (min is not None and value < min) or (max is not None and value > max):
        raise ValueError(f"{name} must be {want}, got {value}.")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    finite: bool = True,
    allow_none: bool = False,
) -> float | None:
    """A real-valued argument as a Python ``float``; never NaN, finite unless ``finite=False``.

    ``min_open`` / ``max_open`` exclude the bounds (``min=0, min_open=True``: positive).

    Examples
    --------
    >>> check_float("lr", 1, min=0, min_open=True)
    1.0
    >>> check_float("alpha", float("nan"), min=0)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be a finite number >= 0, got nan.
    """
    if value is None and allow_none:
        return None
    rng = _range(min, max, min_open, max_open)
    want = f"a {'finite ' if finite else ''}number{' ' + rng if rng else ''}{' or None' if allow_none else ''}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        fix = ""
        if isinstance(value, str):
            try:
                fix = f" Pass a number: {name}={float(value)!r}."
            except ValueError:
                pass
        raise ParameterTypeError(f"{name} must be {want}, got {_got(value)}.{fix}")
    value = float(value)
    if np.isnan(value) or (finite and not np.isfinite(value)):
        raise ValueError(f"{name} must be {want}, got {value}.")
    too_low = min is not None and (value <= min if min_open else value < min)
    too_high = max is not None and (value >= max if max_open else value > max)
    if too_low or too_high:
        raise ValueError(f"{name} must be {want}, got {value:g}.")
    return value


def check_fractions(name: str, value: Any, *, of: str, example: str) -> list[float]:
    """A non-empty sequence of fractions in ``(0, 1]`` as a list of floats; ``of`` says what they are
    fractions of and ``example`` is a value to suggest, in the messages.

    Examples
    --------
    >>> check_fractions("top", (0.01, 0.1), of="the candidate edges", example="(0.01, 0.05)")
    [0.01, 0.1]
    >>> check_fractions("top", 0.1, of="the candidate edges", example="(0.01, 0.05)")
    Traceback (most recent call last):
    ...
    scgrn._params.ParameterTypeError: top must be a sequence of fractions in (0, 1], got 0.1 (float). For one fraction pass a tuple: top=(0.1,).
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ParameterTypeError(
            f"{name} must be a sequence of fractions in (0, 1], got {value!r} ({type(value).__name__}). "
            f"For one fraction pass a tuple: {name}=({value!r},)."
        )
    values = list(value)
    if not values:
        raise ValueError(f"{name} is empty: give at least one fraction of {of}, e.g. {name}={example}.")
    return [check_float(f"{name}[{i}]", f, min=0, max=1, min_open=True) for i, f in enumerate(values)]


def check_bool(name: str, value: Any, *, allow_none: bool = False) -> bool | None:
    """A flag as a Python ``bool`` (``True``/``False`` or a numpy bool; not ``0``/``1`` or strings).

    ``None`` passes when ``allow_none`` (flags whose ``None`` means "the default", e.g.
    ``show_progress_bar=None``: ``scgrn.settings.show_progress_bar``). A string such as
    ``"no"`` is refused rather than read as ``True`` (every non-empty string is truthy).

    Examples
    --------
    >>> check_bool("copy", np.True_)
    True
    >>> check_bool("show_progress_bar", None, allow_none=True) is None
    True
    >>> check_bool("tfs_only", "no")
    Traceback (most recent call last):
    ...
    scgrn._params.ParameterTypeError: tfs_only must be True or False, got 'no' (str). Fix: tfs_only=False.
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        want = "True, False or None" if allow_none else "True or False"
        raise ParameterTypeError(f"{name} must be {want}, got {_got(value)}.{_bool_fix(name, value)}")
    return bool(value)


_TRUE_WORDS = {"true", "yes", "y", "on", "1"}
_FALSE_WORDS = {"false", "no", "n", "off", "0", "none", ""}


def _bool_fix(name: str, value: Any) -> str:
    """`` Fix: name=True`` when ``value`` plainly spells a flag (``"no"``, ``0``), else ``""``."""
    word = str(value).strip().lower() if isinstance(value, (str, Integral)) else None
    if word in _TRUE_WORDS:
        return f" Fix: {name}=True."
    if word in _FALSE_WORDS:
        return f" Fix: {name}=False."
    return ""


def check_choice(name: str, value: Any, choices) -> Any:
    """``value`` if it is one of ``choices``, else a ValueError listing them.

    Examples
    --------
    >>> check_choice("method", "pearson", ("pearson", "spearman"))
    'pearson'
    """
    if isinstance(value, np.bool_):
        value = bool(value)
    # identity for True/False/None (so 1 is not True), equality for strings
    ok = any(value is c or (isinstance(value, str) and isinstance(c, str) and value == c) for c in choices)
    if not ok:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}.")
    return value


#: keys scanpy's own tools write (``uns[key]``, ``obsm['X_' + key]``, ``obsp``): a ``key_added``
#: among them would replace scanpy's results (``key_added='umap'`` puts an embedding in ``X_umap``)
SCANPY_KEYS = frozenset({
    "pca", "umap", "tsne", "neighbors", "diffmap", "draw_graph_fa", "draw_graph_fr", "leiden", "louvain",
    "paga", "rank_genes_groups", "hvg", "log1p", "dendrogram", "phate", "spatial",
})


def check_key(name: str, value: Any, *, allow_scanpy_keys: bool = False) -> str:
    """A key written to the AnnData (``key_added``, ...): a non-empty string without '/'.

    Checked before anything is computed, so a bad key never leaves results that
    :meth:`anndata.AnnData.write_h5ad` cannot store. A ``key_added`` that scanpy's tools use
    (:data:`SCANPY_KEYS`, such as ``'umap'`` or ``'neighbors'``) is refused unless
    ``allow_scanpy_keys``: writing there would silently replace scanpy's results and break
    its later steps.

    Examples
    --------
    >>> check_key("key_added", "deepsem")
    'deepsem'
    >>> check_key("key_added", 5)
    Traceback (most recent call last):
    ...
    scgrn._params.ParameterTypeError: key_added must be a non-empty string (the key results are written under), got 5 (int). Fix: key_added='5'.
    """
    if not isinstance(value, str):
        fix = f" Fix: {name}={str(value)!r}." if isinstance(value, (Integral, Real)) else ""
        raise ParameterTypeError(
            f"{name} must be a non-empty string (the key results are written under), got {_got(value)}.{fix}"
        )
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty string (the key results are written under), got {value!r}.")
    if "/" in value:
        raise ValueError(
            f"{name}={value!r} contains '/', which h5ad files use as a path separator. Use e.g. "
            f"{name}={value.replace('/', '_')!r}."
        )
    if name == "key_added" and not allow_scanpy_keys and value in SCANPY_KEYS:
        raise ValueError(
            f"{name}={value!r} is a key scanpy's own tools write (adata.uns[{value!r}], "
            f"adata.obsm['X_{value}']); scgrn's results there would replace scanpy's and break later "
            f"scanpy steps. Use another name, e.g. {name}='scgrn_{value}'."
        )
    return value


def check_random_state(value: Any, name: str = "random_state") -> int:
    """The integer seed a tool runs with, and records.

    - an integer in ``[0, 2**32)``: itself;
    - ``None``: a fresh seed drawn from :func:`numpy.random.default_rng` (record it to rerun);
    - a :class:`numpy.random.Generator` or :class:`numpy.random.RandomState`: a seed drawn
      from it (advancing it);
    - anything else (a string, a float, a bool) raises :class:`ParameterTypeError`.

    Examples
    --------
    >>> check_random_state(np.int32(7))
    7
    >>> 0 <= check_random_state(None) < 2**31
    True
    >>> check_random_state(np.random.default_rng(0)) == check_random_state(np.random.default_rng(0))
    True
    >>> check_random_state("0")
    Traceback (most recent call last):
    ...
    scgrn._params.ParameterTypeError: random_state must be an integer seed, None (a fresh seed, recorded) or a numpy Generator / RandomState, got '0' (str). Fix: random_state=0.
    """
    if value is None:
        return int(np.random.default_rng().integers(0, _DRAWN_SEED_MAX))
    if isinstance(value, np.random.Generator):
        return int(value.integers(0, _DRAWN_SEED_MAX))
    if isinstance(value, np.random.RandomState):
        return int(value.randint(0, _DRAWN_SEED_MAX))
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        literal = _as_int_text(value)
        fix = f" Fix: {name}={literal}." if literal is not None else ""
        raise ParameterTypeError(
            f"{name} must be an integer seed, None (a fresh seed, recorded) or a numpy "
            f"Generator / RandomState, got {_got(value)}.{fix}"
        )
    value = int(value)
    if not 0 <= value < MAX_SEED:
        raise ValueError(f"{name} must be in [0, 2**32), got {value}.")
    return value


def check_device(value: Any, name: str = "device"):
    """A compute device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or a
    :class:`torch.device`; ``None`` means ``"auto"``. Only the spelling is checked here;
    :func:`scgrn._settings.resolve_device` also checks that the device exists.

    Examples
    --------
    >>> check_device("cuda:1")
    'cuda:1'
    >>> check_device("gpu")
    Traceback (most recent call last):
    ...
    ValueError: device='gpu' is not a device scgrn knows; use 'auto' (CUDA, then MPS, then CPU), 'cpu', 'cuda', 'cuda:N' (N the GPU index) or 'mps'.
    """
    if value is None:
        return "auto"
    if type(value).__name__ == "device" and type(value).__module__.startswith("torch"):
        return value
    if not isinstance(value, str):
        raise ParameterTypeError(
            f"{name} must be a string ('auto', 'cpu', 'cuda', 'cuda:N', 'mps') or a torch.device, "
            f"got {_got(value)}."
        )
    if not _DEVICE.match(value):
        raise ValueError(
            f"{name}={value!r} is not a device scgrn knows; use 'auto' (CUDA, then MPS, then CPU), "
            "'cpu', 'cuda', 'cuda:N' (N the GPU index) or 'mps'."
        )
    return value


def out_folder_problem(out: str, what: str = "the results") -> str | None:
    """Why a command line's ``--out`` cannot be the output folder, or ``None``: the path, or the
    nearest of its ancestors that exists, is a file (``mkdir(parents=True)`` would end in a
    traceback). Shared by ``scgrn demo`` and ``scgrn bench beeline``, which send it to
    ``parser.error`` (exit status 2).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "afile"; _ = f.write_text("x")
    >>> out_folder_problem(str(f / "sub")).endswith("is a file, not a folder, so no folder can be made under it; give a path under a folder.")
    True
    >>> out_folder_problem(str(f.parent / "new" / "sub")) is None
    True
    """
    path = Path(out)  # as the command uses it
    try:
        if path.exists():
            return None if path.is_dir() else f"--out {out!r} is a file; give a folder to write {what} into."
        parent = next((p for p in path.parents if p.exists()), None)
    except OSError:  # e.g. a folder that may not be read: mkdir gives the system's own message
        return None
    if parent is None or parent.is_dir():
        return None
    return (f"--out {out!r}: {str(parent)!r} is a file, not a folder, so no folder can be made under it; "
            "give a path under a folder.")
