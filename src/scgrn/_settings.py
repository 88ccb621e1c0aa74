"""Package-wide settings: compute device and progress bars."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from ._params import check_bool, check_device

#: why ``scgrn.settings.n_threads`` is gone (it was documented but never read by any tool)
_N_THREADS_REMOVED = (
    "scgrn.settings.n_threads was removed in scgrn 0.1.0: no tool ever read it, so setting it had "
    "no effect. Set the number of CPU threads for the whole process before Python starts, e.g. "
    "`OMP_NUM_THREADS=4 python script.py` (torch, numpy and numba all read it)."
)


@dataclass
class Settings:
    """Global defaults read by every tool.

    Every assignment is checked: ``scgrn.settings.device = "gpu"`` or
    ``scgrn.settings.show_progress_bar = "no"`` raise at once, and an unknown name (a typo)
    raises an :class:`AttributeError` instead of being silently stored.

    Attributes
    ----------
    device
        ``"auto"`` picks CUDA, then Apple MPS, then CPU.
    show_progress_bar
        Default for tools whose ``show_progress_bar`` is left at ``None``: ``True`` or ``False``.

    Examples
    --------
    >>> import scgrn
    >>> scgrn.settings.show_progress_bar = False
    >>> scgrn.settings.show_progress_bar = True
    """

    device: str = "auto"
    show_progress_bar: bool = True

    def __setattr__(self, name: str, value) -> None:
        if name == "device":
            value = check_device(value, "scgrn.settings.device")
        elif name == "show_progress_bar":
            value = check_bool("scgrn.settings.show_progress_bar", value)
        elif name == "n_threads":
            raise AttributeError(_N_THREADS_REMOVED)
        else:
            known = [f.name for f in fields(self)]
            raise AttributeError(f"scgrn.settings has no setting {name!r}; the settings are {known}.")
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str):  # only called for names that are not set
        if name == "n_threads":
            raise AttributeError(_N_THREADS_REMOVED)
        raise AttributeError(f"scgrn.settings has no setting {name!r}.")


settings = Settings()


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"`` (or ``None``) into a concrete torch device, checking that it exists.

    Accepted: ``"auto"`` (CUDA, then MPS, then CPU; ``scgrn.settings.device`` decides),
    ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or a :class:`torch.device`. Anything else,
    or a GPU this machine does not have, raises a ``ValueError`` naming the allowed values.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("gpu")
    Traceback (most recent call last):
    ...
    ValueError: device='gpu' is not a device scgrn knows; use 'auto' (CUDA, then MPS, then CPU), 'cpu', 'cuda', 'cuda:N' (N the GPU index) or 'mps'.
    """
    device = check_device(device)
    if isinstance(device, str) and device == "auto":
        device = check_device(settings.device, "scgrn.settings.device")
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(device)
    fix = "Use device='auto' (CUDA, then MPS, then CPU) or device='cpu'."
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={str(device)!r} but CUDA is not available to torch {torch.__version__}. {fix}")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={str(device)!r} but only {torch.cuda.device_count()} CUDA device(s) are visible "
                f"(cuda:0 .. cuda:{torch.cuda.device_count() - 1}). {fix}"
            )
    elif device.type == "mps" and not _mps_available():
        raise ValueError(f"device='mps' but Apple MPS is not available to torch {torch.__version__}. {fix}")
    return device


def resolve_progress_bar(show_progress_bar: bool | None, name: str = "show_progress_bar") -> bool:
    """A checked ``show_progress_bar``: ``True``/``False``, or ``None`` for ``settings.show_progress_bar``.

    Every tool calls this before it reads the data, so ``show_progress_bar="no"`` fails at once
    with :class:`~scgrn._params.ParameterTypeError` instead of being read as ``True``.

    Examples
    --------
    >>> resolve_progress_bar(False)
    False
    >>> resolve_progress_bar("no")
    Traceback (most recent call last):
    ...
    scgrn._params.ParameterTypeError: show_progress_bar must be True, False or None, got 'no' (str). Fix: show_progress_bar=False.
    """
    flag = check_bool(name, show_progress_bar, allow_none=True)
    return settings.show_progress_bar if flag is None else flag
