"""Keep freed memory in the process heap while a training loop runs (glibc only).

glibc serves every allocation above 128 KB-32 MB with a fresh ``mmap`` and hands it back to
the system on ``free``. A DeepSEM step allocates tens of tensors of ``batch x genes`` and
``TFs x genes`` floats and frees them again, so every step page-faults hundreds of MB back
in: measured at 10,000 genes x 1,000 TFs on 2 CPU cores, 1.46 s a step, against 0.74 s with
the heap kept (``benchmarks/results/scale.md``). Inside :func:`retained_heap` freed blocks
stay in the heap for the next step; on exit glibc's default thresholds are restored and the
heap is trimmed, so the process does not keep the training peak afterwards.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from contextlib import contextmanager

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_DEFAULT_THRESHOLD = 128 * 1024


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018  (musl has no mallopt)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


@contextmanager
def retained_heap():
    """Context in which freed large blocks stay in the heap (a no-op off glibc).

    Examples
    --------
    >>> with retained_heap():
    ...     pass
    """
    libc = _libc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 2**32 - 1)
    libc.mallopt(_M_TRIM_THRESHOLD, 2**34)
    libc.mallopt(_M_TOP_PAD, 2**30)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, _DEFAULT_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_THRESHOLD)
        libc.mallopt(_M_TOP_PAD, 0)
        libc.malloc_trim(0)
