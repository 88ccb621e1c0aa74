"""The registry of scgrn's GRN inference tools: the one place that lists them.

Each :class:`GRNMethod` names a ``scgrn.tl`` function that writes a genes x genes GRN to
``adata.varp[key_added]`` (row = regulator, column = target), the keyword arguments that make
it that method (:func:`scgrn.tl.correlation` is both ``"pearson"`` and ``"spearman"``), the
input it needs and which of the shared arguments it takes. :mod:`scgrn.bench` runs its methods
from here, :func:`scgrn.metrics.grn_consistency` resolves its judges' names from here and the
tests parametrise over it; ``tests/test_registry.py`` checks every flag against the function's
signature, so the registry cannot drift from the tools.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pandas as pd
from anndata import AnnData

from .._compat import old_positionals
from .._grn_matrix import grn_matrix
from .._params import ParameterTypeError
from ..metrics import _consistency
from ._correlation import correlation, partial_correlation
from ._deepsem import deepsem
from ._information import pidc
from ._perturbode import perturbode
from ._timeseries import dyngenie3, time_lagged_correlation
from ._trees import genie3, grnboost2

__all__ = ["GRNMethod", "GRN_METHODS", "INPUTS", "grn_methods", "get_grn_method"]

#: what a method reads besides the expression matrix
INPUTS = {
    "expression": "cells x genes expression only",
    "time_series": "adata.obs[time_key] (and obs[series_key] for several series)",
    "perturbation": "adata.obs[perturbation_key] naming each cell's perturbation",
}

_KEY = "_grn_method"  # varp key of the copy that GRNMethod.infer runs on


@dataclass(frozen=True)
class GRNMethod:
    """One GRN inference method: a ``scgrn.tl`` function and how to call it.

    Every registered function has the interface ``function(adata, *, key_added=..., copy=...,
    **kwargs)`` and writes ``adata.varp[key_added]``; the flags say which of the shared
    optional arguments it takes.

    Attributes
    ----------
    name
        The method's name (the key in :data:`GRN_METHODS` and the ``method`` column of
        benchmark tables).
    function
        The ``scgrn.tl`` function.
    kwargs
        Keyword arguments that make the function this method, e.g. ``{"method": "pearson"}``.
    input
        What it reads besides expression, a key of :data:`INPUTS`: ``"expression"``,
        ``"time_series"`` or ``"perturbation"``.
    tfs
        Takes ``tfs=`` (candidate regulators).
    seeded
        Takes ``random_state=``.
    progress_bar
        Takes ``show_progress_bar=``.
    parallel
        Takes ``n_jobs=``.
    distributed
        Takes a dask.distributed ``client=``.
    groupby
        Takes ``groupby=`` (one network per group of cells).

    Examples
    --------
    >>> from scgrn.tl._registry import get_grn_method
    >>> m = get_grn_method("spearman")
    >>> m.function.__name__, dict(m.kwargs), m.seeded
    ('correlation', {'method': 'spearman'}, False)
    """

    name: str
    function: Callable[..., AnnData | None]
    kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)
    input: str = "expression"
    tfs: bool = True
    seeded: bool = False
    progress_bar: bool = False
    parallel: bool = False
    distributed: bool = False
    groupby: bool = False

    def __post_init__(self):
        if self.input not in INPUTS:
            raise ValueError(f"input must be one of {list(INPUTS)}, got {self.input!r}.")
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))

    def infer(
        self,
        adata: AnnData,
        *,
        tfs=None,
        random_state: int = 0,
        n_jobs: int | None = None,
        **kwargs,
    ):
        """Run the method on a copy of ``adata`` and return its GRN.

        The one uniform call used by the benchmark runners and by
        :func:`scgrn.metrics.grn_consistency`: progress bars off, ``random_state`` and
        ``n_jobs`` passed only to methods that take them.

        Parameters
        ----------
        adata
            Cells x genes; left unchanged.
        tfs
            Candidate regulators, for methods that take ``tfs=``.
        random_state
            Seed, for seeded methods.
        n_jobs
            Workers, for parallel methods; ``None`` keeps the method's default.
        **kwargs
            Passed to the function; they override :attr:`kwargs` and the settings above.

        Returns
        -------
        The GRN, ``n_vars x n_vars`` with row = regulator, column = target: a dense array, or
        a CSR matrix when the method stores it sparse.

        Examples
        --------
        >>> import scgrn
        >>> from scgrn.tl._registry import get_grn_method
        >>> adata, _ = scgrn.datasets.planted_network(n_genes=25, n_cells=100)
        >>> get_grn_method("pearson").infer(adata).shape
        (25, 25)
        """
        if tfs is not None and not self.tfs:
            raise ValueError(
                f"{self.name!r} does not take tfs= (it scores every gene as a regulator); "
                "pass tfs=None."
            )
        self.check_kwargs(kwargs)
        kw = {**self.kwargs, **kwargs}
        if self.progress_bar:
            kw.setdefault("show_progress_bar", False)
        if self.seeded:
            kw.setdefault("random_state", random_state)
        if self.parallel and n_jobs is not None:
            kw.setdefault("n_jobs", n_jobs)
        if self.tfs:
            kw.setdefault("tfs", tfs)
        out = self.function(adata, key_added=_KEY, copy=True, **kw)
        return grn_matrix(out.varp[_KEY], out.n_vars)


    def check_kwargs(self, kwargs: Mapping[str, Any]) -> None:
        """Refuse keyword arguments the function does not take, naming the method, its function
        and the keywords it does take (Python said "correlation() got an unexpected keyword
        argument"). A function with ``**hyperparameters`` checks its own.

        Examples
        --------
        >>> from scgrn.tl._registry import get_grn_method
        >>> get_grn_method("pearson").check_kwargs({"n_estimators": 5})
        Traceback (most recent call last):
        ...
        scgrn._params.ParameterTypeError: GRN method 'pearson' (scgrn.tl.correlation) does not take the keyword argument(s) ['n_estimators']; its keywords are ['client', 'groupby', 'layer', 'tfs'].
        """
        params = inspect.signature(self.function).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            keywords = sorted(set(params) - {"adata", "key_added", "copy", *self.kwargs})
            raise ParameterTypeError(
                f"GRN method {self.name!r} (scgrn.tl.{self.function.__name__}) does not take the keyword "
                f"argument(s) {unknown}; its keywords are {keywords}."
            )


def _registry(*methods: GRNMethod) -> Mapping[str, GRNMethod]:
    return MappingProxyType({m.name: m for m in methods})


#: every GRN method, in the order benchmarks report them
GRN_METHODS: Mapping[str, GRNMethod] = _registry(
    GRNMethod("deepsem", deepsem, seeded=True, progress_bar=True, distributed=True, groupby=True),
    GRNMethod("grnboost2", grnboost2, seeded=True, progress_bar=True, parallel=True,
              distributed=True, groupby=True),
    GRNMethod("genie3", genie3, seeded=True, progress_bar=True, parallel=True, distributed=True,
              groupby=True),
    GRNMethod("pearson", correlation, {"method": "pearson"}, distributed=True, groupby=True),
    GRNMethod("spearman", correlation, {"method": "spearman"}, distributed=True, groupby=True),
    GRNMethod("partial_correlation", partial_correlation, distributed=True, groupby=True),
    GRNMethod("pidc", pidc, progress_bar=True, distributed=True, groupby=True),
    GRNMethod("dyngenie3", dyngenie3, input="time_series", seeded=True, progress_bar=True,
              parallel=True),
    GRNMethod("time_lagged_correlation", time_lagged_correlation, input="time_series", tfs=False),
    GRNMethod("perturbode", perturbode, input="perturbation", tfs=False, seeded=True,
              progress_bar=True),
)


def get_grn_method(name: str) -> GRNMethod:
    """The registered method called ``name``; a ``ValueError`` lists the names otherwise."""
    try:
        return GRN_METHODS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown GRN method {name!r}; registered: {list(GRN_METHODS)}."
        ) from None


@old_positionals("input")
def grn_methods(*, input: str | None = None) -> pd.DataFrame:
    """The GRN inference methods of :mod:`scgrn.tl`, one row each.

    Parameters
    ----------
    input
        Keep only methods that need this input: ``"expression"`` (a cells x genes matrix
        only), ``"time_series"`` (``obs`` time points) or ``"perturbation"`` (``obs``
        perturbation labels). ``None``: all.

    Returns
    -------
    DataFrame indexed by method name, in the order benchmarks report them, with columns
    ``function`` (the name of the ``scgrn.tl`` function), ``kwargs`` (arguments that make the
    function this method, e.g. ``{'method': 'spearman'}``), ``input``, and the flags ``tfs`` (takes
    ``tfs=``), ``seeded`` (``random_state=``), ``progress_bar`` (``show_progress_bar=``),
    ``parallel`` (``n_jobs=``), ``distributed`` (a dask ``client=``) and ``groupby`` (``groupby=``).

    Examples
    --------
    >>> import scgrn
    >>> table = scgrn.tl.grn_methods(input="expression")
    >>> table.index.tolist()
    ['deepsem', 'grnboost2', 'genie3', 'pearson', 'spearman', 'partial_correlation', 'pidc']
    >>> table.index[table["parallel"]].tolist()  # the methods that take n_jobs=
    ['grnboost2', 'genie3']
    >>> adata, _ = scgrn.datasets.planted_network(n_genes=25, n_cells=100)
    >>> row = table.loc["spearman"]
    >>> getattr(scgrn.tl, row.function)(adata, **row.kwargs)
    >>> adata.varp["spearman"].shape
    (25, 25)
    """
    if input is not None and input not in INPUTS:
        raise ValueError(f"input must be None or one of {list(INPUTS)}, got {input!r}.")
    rows = [
        {"name": m.name, "function": m.function.__name__, "kwargs": dict(m.kwargs),
         "input": m.input, "tfs": m.tfs, "seeded": m.seeded, "progress_bar": m.progress_bar,
         "parallel": m.parallel, "distributed": m.distributed, "groupby": m.groupby}
        for m in GRN_METHODS.values()
        if input is None or m.input == input
    ]
    cols = ["name", "function", "kwargs", "input", "tfs", "seeded", "progress_bar", "parallel",
            "distributed", "groupby"]
    return pd.DataFrame(rows, columns=cols).set_index("name")


# metrics sits below tl and must not import it: tl hands it the judges it may name instead.
_consistency._register_judges(
    {name: m.infer for name, m in GRN_METHODS.items() if m.input == "expression"}
)
