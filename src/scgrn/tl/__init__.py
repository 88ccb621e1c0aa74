"""Tools: run a method on an AnnData and write documented keys."""

from ._deepsem import deepsem

__all__ = ["deepsem"]
