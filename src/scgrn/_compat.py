"""Backwards compatibility of the public API."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable

__all__ = ["old_positionals"]


def old_positionals(*names: str) -> Callable[[Callable], Callable]:
    """Let parameters that became keyword-only still be passed by position, with a FutureWarning.

    ``names`` are the former positional parameters, in their old order, right after the ones
    that are still positional. The signature (what :func:`inspect.signature`, the docs and
    ``tests/test_package_structure.py`` see) shows them keyword-only; scanpy does the same with
    ``legacy_api_wrap``.
    """

    def decorator(func: Callable) -> Callable:
        params = inspect.signature(func).parameters.values()
        n_positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            extra = args[n_positional:]
            if extra:
                if len(extra) > len(names):
                    raise TypeError(
                        f"{func.__name__}() takes {n_positional} positional argument(s) but "
                        f"{len(args)} were given."
                    )
                passed = dict(zip(names, extra))
                for name in passed:
                    if name in kwargs:
                        raise TypeError(f"{func.__name__}() got multiple values for argument {name!r}.")
                fix = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}=..." for k, v in passed.items())
                warnings.warn(
                    f"Passing {', '.join(passed)} to {func.__name__}() by position is deprecated; "
                    f"pass it by keyword: {func.__name__}(..., {fix}).",
                    FutureWarning,
                    stacklevel=2,
                )
                args = args[:n_positional]
                kwargs.update(passed)
            return func(*args, **kwargs)

        return wrapper

    return decorator
