"""Package-wide settings: compute device, threads and progress bars."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._params import check_device


@dataclass
class Settings:
    """Global defaults read by every tool.

    Attributes
    ----------
    device
        ``"auto"`` picks CUDA, then Apple MPS, then CPU.
    n_threads
        Torch CPU threads; ``None`` leaves torch's own default.
    show_progress_bar
        Default for tools whose ``show_progress_bar`` is left at ``None``.

    Examples
    --------
    >>> import scgrn
    >>> scgrn.settings.show_progress_bar = False
    >>> scgrn.settings.show_progress_bar = True
    """

    device: str = "auto"
    n_threads: int | None = None
    show_progress_bar: bool = True


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


def resolve_progress_bar(show_progress_bar: bool | None) -> bool:
    """``None`` means: use ``settings.show_progress_bar``."""
    return settings.show_progress_bar if show_progress_bar is None else bool(show_progress_bar)
