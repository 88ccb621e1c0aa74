"""Package-wide settings: compute device, threads and progress bars."""

from __future__ import annotations

from dataclasses import dataclass

import torch


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


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"`` (or ``None``) into a concrete torch device.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or device == "auto":
        device = settings.device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def resolve_progress_bar(show_progress_bar: bool | None) -> bool:
    """``None`` means: use ``settings.show_progress_bar``."""
    return settings.show_progress_bar if show_progress_bar is None else bool(show_progress_bar)
