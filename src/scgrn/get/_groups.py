"""Compare two groups' networks of a GRN tool's ``groupby=`` run."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .. import _keys
from .._grn_matrix import grn_matrix, nonfinite_counts
from .._params import ParameterTypeError, check_bool, check_choice
from ._edges import edges_from_matrix
from ._group_index import resolve_group

__all__ = ["edge_differences", "two_groups"]

_NORMALIZE = ("max", None)


def edge_differences(
    adata: AnnData,
    *,
    key: str = _keys.DEEPSEM,
    groups: tuple[str, str],
    top_k: int | None = 20,
    normalize: str | None = "max",
    tfs_only: bool | None = None,
) -> pd.DataFrame:
    """The edges whose weight differs most between two groups' networks.

    Reads two networks of a ``groupby=`` run (e.g. ``scgrn.tl.deepsem(adata,
    groupby="cell_type")``) and ranks every edge by ``|weight_a - weight_b|``.

    Parameters
    ----------
    adata
        Annotated data matrix holding per-group GRNs, indexed in ``adata.uns[key]``.
    key
        The ``key_added`` of the ``groupby=`` run.
    groups
        The two groups ``(a, b)`` to compare; ``difference = weight_a - weight_b``. Any
        one-dimensional sequence of two names: a tuple, list, numpy array, pandas Index, Series
        or Categorical (e.g. ``adata.obs['cell_type'].unique()[:2]``).
    top_k
        Keep the ``k`` edges with the largest ``|difference|``; ``None`` keeps all.
    normalize
        ``"max"``: divide each network by its largest ``|weight|`` first, so that two
        separately trained networks are on one scale (weights in [-1, 1]); ``None``: raw weights.
    tfs_only
        Restrict sources to the TFs recorded in the networks' ``uns`` records (``None``: when
        they are recorded).

    Returns
    -------
    :class:`pandas.DataFrame` with columns ``source``, ``target``, ``weight_a``, ``weight_b``
    and ``difference``, sorted by ``|difference|`` descending; an edge absent from one network
    has weight 0 there.

    Raises
    ------
    ValueError
        When either network holds a NaN or infinite weight (a run that failed, e.g. diverged):
        its edges have no difference, and ``normalize="max"`` could scale only the other one.

    Examples
    --------
    >>> import numpy as np
    >>> import scgrn
    >>> adata, _ = scgrn.datasets.krumsiek11()
    >>> adata.obs["half"] = np.where(np.arange(adata.n_obs) < 320, "first", "second")
    >>> scgrn.tl.correlation(adata, groupby="half")
    >>> diff = scgrn.get.edge_differences(adata, key="pearson", groups=("first", "second"), top_k=3)
    >>> diff.columns.tolist()
    ['source', 'target', 'weight_a', 'weight_b', 'difference']
    >>> bool((diff["difference"] == diff["weight_a"] - diff["weight_b"]).all())
    True
    """
    groups = two_groups(groups)
    normalize = check_choice("normalize", normalize, _NORMALIZE)
    keys = [resolve_group(adata, key, g, argument="groups") for g in groups]
    mats = [grn_matrix(adata.varp[k], adata.n_vars) for k in keys]
    for k, g, other, W in zip(keys, groups, groups[::-1], mats):
        _check_finite(W, k, g, other)
    mats = [_scaled(W, normalize) for W in mats]
    a, b = mats
    if sparse.issparse(a) or sparse.issparse(b):
        a, b = sparse.csr_matrix(a), sparse.csr_matrix(b)
    sources = _sources(adata, keys, tfs_only)
    diff = edges_from_matrix(a - b, adata.var_names, top_k=top_k, sources=sources)
    rows = adata.var_names.get_indexer(diff["source"])
    cols = adata.var_names.get_indexer(diff["target"])
    weight_a, weight_b = (np.asarray(m[rows, cols]).ravel() for m in (a, b))
    return pd.DataFrame(
        {
            "source": diff["source"],
            "target": diff["target"],
            "weight_a": weight_a.astype(np.float32),
            "weight_b": weight_b.astype(np.float32),
            "difference": (weight_a - weight_b).astype(np.float32),
        }
    )


def two_groups(groups) -> tuple:
    """``groups`` as a tuple ``(a, b)`` of two distinct group names.

    Any one-dimensional sequence of exactly two labels is accepted: a tuple or list, a numpy
    array, a pandas Index, Series (read by position) or Categorical, e.g.
    ``adata.obs['cell_type'].unique()[:2]``. A string, a set (no order: ``difference`` is
    ``a - b``), one-shot iterators, other lengths and the same name twice are refused, saying
    what was received.

    Examples
    --------
    >>> two_groups(np.array(["Ery", "Mk"]))
    ('Ery', 'Mk')
    >>> two_groups(pd.Categorical(["Mo", "Neu"]))
    ('Mo', 'Neu')
    """
    usage = "pass two group names in order, `groups=('a', 'b')` (difference = weight_a - weight_b)"
    kind = type(groups).__name__
    if isinstance(groups, (str, bytes)):
        raise ParameterTypeError(f"groups must be two group names (a, b), got the single string {groups!r}: {usage}.")
    if isinstance(groups, (AbstractSet, Mapping)) or not hasattr(groups, "__len__") or np.ndim(groups) == 0:
        raise ParameterTypeError(
            f"groups must be an ordered sequence of two group names, got {kind} {groups!r:.80}: {usage}."
        )
    if np.ndim(groups) != 1:
        raise ValueError(f"groups must be one-dimensional (two group names), got {kind} of shape "
                         f"{np.shape(groups)}: {usage}.")
    values = [v.item() if isinstance(v, np.generic) else v for v in np.asarray(groups, dtype=object)]
    if len(values) != 2:
        raise ValueError(f"groups must be two different group names, but the {kind} given holds {len(values)} "
                         f"({values[:5]!r}{' ...' if len(values) > 5 else ''}): {usage}.")
    if str(values[0]) == str(values[1]):
        raise ValueError(f"groups must be two different group names, but both are {values[0]!r}: {usage}.")
    return tuple(values)


def _check_finite(W, key: str, group, other) -> None:
    """Refuse a network with NaN or infinite weights: its edges have no difference (NaN is never
    accepted), and ``normalize="max"`` would have scaled only the other network."""
    n_nan, n_inf = nonfinite_counts(W)
    if n_nan or n_inf:
        found = " and ".join(f"{n} {kind}" for n, kind in ((n_nan, "NaN"), (n_inf, "infinite")) if n)
        raise ValueError(
            f"The network of group {group!r} (adata.varp[{key!r}]) has {found} weight(s), so its edges "
            f"cannot be compared with group {other!r}: such weights mean the run that wrote it failed "
            "(e.g. training diverged). Rerun the method (for DeepSEM, with smaller learning rates), or "
            "compare other groups."
        )


def _scaled(W, normalize):
    if normalize is None:
        return W
    top = float(abs(W).max()) if W.shape[0] else 0.0
    return W / top if top > 0 else W


def _sources(adata: AnnData, keys: list[str], tfs_only: bool | None):
    """The TFs recorded for either network when sources are restricted, else ``None``."""
    tfs_only = check_bool("tfs_only", tfs_only, allow_none=True)
    recorded = [adata.uns.get(k, {}).get("tfs") for k in keys]
    tfs = sorted({str(t) for r in recorded if r is not None for t in np.atleast_1d(r)})
    if tfs_only is None:
        tfs_only = bool(tfs)
    if tfs_only and not tfs:
        raise ValueError(f"tfs_only=True but no TF list is recorded in adata.uns[{keys[0]!r}]['tfs'].")
    return tfs if tfs_only else None
