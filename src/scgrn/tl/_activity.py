"""TF activities from an inferred GRN with decoupler 2.x: ``tl.tf_activity``.

A thin wrapper: the GRN in ``adata.varp[key]`` becomes decoupler's long-format network (one
regulon of the ``n_targets`` strongest targets per regulator, signed weights), decoupler's method
scores every cell, and the scores go to ``adata.obsm``. decoupler is imported lazily (the
``decoupler`` extra).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scanpy import logging as logg
from scanpy import settings as sc_settings

from .. import __version__, _keys
from .._grn_matrix import grn_matrix, nonfinite_counts
from .._validate import (
    check_adata,
    check_choice,
    check_copy,
    check_int,
    check_key,
    checked_matrix,
)
from ..get._edges import _edges, check_grn_key
from ..get._group_index import resolve_group

__all__ = ["tf_activity"]

#: decoupler methods that score signed, weighted regulons with the same call
METHODS = ("ulm", "mlm", "waggr", "viper")
#: decoupler 1.x names, merged into ``waggr`` (``fun=``) in 2.x
_WAGGR_FUNS = ("wsum", "wmean")
#: arguments of decoupler's methods that tf_activity sets itself
_RESERVED = ("data", "net", "tmin", "layer", "raw", "empty", "verbose")
_INSTALL = "pip install 'scgrn[decoupler]'"


def _import_decoupler():
    try:
        import decoupler
    except ImportError as err:
        raise ImportError(
            f"scgrn.tl.tf_activity needs decoupler 2.x, which is not installed. Install it with "
            f"`{_INSTALL}` (or `pip install 'decoupler>=2'`)."
        ) from err
    if not hasattr(decoupler, "mt"):
        raise ImportError(
            f"scgrn.tl.tf_activity needs decoupler 2.x (decoupler.mt), found decoupler "
            f"{getattr(decoupler, '__version__', '?')}. Upgrade with `{_INSTALL}`."
        )
    return decoupler


def tf_activity(
    adata: AnnData,
    *,
    key: str = _keys.DEEPSEM,
    method: str = "ulm",
    n_targets: int | None = 50,
    tmin: int = 5,
    layer: str | None = None,
    key_added: str = "tf_activity",
    group: str | None = None,
    copy: bool = False,
    **kwargs,
) -> AnnData | None:
    """Per-cell TF activities from an inferred GRN, with decoupler.

    Turns the GRN in ``adata.varp[key]`` (row = regulator, column = target; dense or scipy
    sparse) into decoupler's network format: for every regulator, its ``n_targets`` strongest
    targets by ``|weight|`` with their signed weights (a regulon, as in SCENIC's "top 50
    targets" modules), only the TFs of ``adata.uns[key]['tfs']`` when a TF list is recorded
    (see :func:`scgrn.get.edges`). decoupler's method then scores each cell's expression
    against every regulon with at least ``tmin`` targets: with the default ``"ulm"``
    (:func:`decoupler.mt.ulm`), the t-value of a linear model of the cell's expression on the
    regulon's weights, so a TF whose activated targets are high and repressed targets low in a
    cell scores positive there.

    To plot the activities with scanpy, make an AnnData of them with decoupler::

        acts = decoupler.pp.get_obsm(adata, key="tf_activity")  # cells x TFs, obs/obsm kept
        sc.pl.umap(acts, color=["Gata1", "Pu.1"], cmap="RdBu_r", vcenter=0)

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression (not raw counts), holding a GRN in
        ``adata.varp[key]`` (finite weights: NaN or infinite ones, left by a run that
        diverged, raise a ``ValueError``). ``adata.X`` is read, never modified.
    key
        Key of the GRN in ``adata.varp`` (and of its record, with the TF list, in ``adata.uns``):
        ``"deepsem"``, ``"grnboost2"``, ``"pearson"``, ...
    method
        The decoupler method, one that scores signed weights: ``"ulm"`` (univariate linear
        model, decoupler's recommendation), ``"mlm"`` (multivariate linear model: all regulons
        fitted jointly, which fails when regulons overlap too much), ``"waggr"`` (weighted
        aggregate with a permutation test; ``fun="wsum"`` for decoupler 1.x's ``wsum``) or
        ``"viper"``.
    n_targets
        Targets kept per regulator, the strongest by ``|weight|`` (ties: target order in
        ``adata.var_names``). ``None`` keeps every target with a non-zero weight.
    tmin
        Regulators with fewer targets than this are not scored (decoupler's ``tmin``).
    layer
        Read this layer instead of ``adata.X``.
    key_added
        Where results go.
    group
        For a GRN tool run with ``groupby=`` under ``key``: score with this group's network
        (``adata.varp[f"{key}_{group}"]``), on every cell of ``adata``.
    copy
        Return a new AnnData instead of writing into ``adata``.
    **kwargs
        Passed to the decoupler method, e.g. ``tval=False`` (``ulm``/``mlm``: the slope
        instead of its t-value), ``times=`` and ``seed=`` (``waggr``'s permutations),
        ``bsize=`` (cells per batch for sparse input). ``tmin``, ``layer``, ``raw``,
        ``empty`` and ``verbose`` are set by this function (decoupler's messages are shown
        when ``scanpy.settings.verbosity`` is 4, debug).

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Writes

    ``adata.obsm['tf_activity' | key_added]``
        :class:`pandas.DataFrame`, cells (``adata.obs_names``) x scored TFs, the activity
        scores (decoupler's ``score_<method>``); NaN for cells with no expression at all.
    ``adata.obsm['tf_activity_padj' | key_added + '_padj']``
        The same shape: Benjamini-Hochberg adjusted p-values per cell (decoupler's
        ``padj_<method>``; for ``"mlm"``, whose p-values decoupler 2.2 leaves unadjusted,
        scgrn applies the same correction).
    ``adata.uns['tf_activity' | key_added]``
        ``method``, ``version`` (of scgrn), ``decoupler_version``, ``grn_key`` (``key``),
        ``params`` (``method``, ``n_targets``, ``tmin``, ``layer``, ``key`` and ``kwargs``),
        ``tfs`` (the scored TFs, the columns of the activity table) and ``n_targets_used``
        (each scored TF's number of targets in the network passed to decoupler).

    Examples
    --------
    >>> import scgrn
    >>> adata, _ = scgrn.datasets.krumsiek11()
    >>> scgrn.tl.correlation(adata)  # a GRN in adata.varp["pearson"]
    >>> scgrn.tl.tf_activity(adata, key="pearson", n_targets=6)
    >>> acts = adata.obsm["tf_activity"]  # cells x TFs
    >>> acts.shape, adata.obsm["tf_activity_padj"].shape
    ((640, 11), (640, 11))
    >>> bool(acts["Gata1"].corr(adata.to_df()["Gata1"]) > 0.5)  # active where expressed
    True
    >>> adata.uns["tf_activity"]["method"], adata.uns["tf_activity"]["grn_key"]
    ('ulm', 'pearson')
    """
    check_adata(adata)
    key = check_key("key", key)
    if group is not None:
        key = resolve_group(adata, key, group)
    key_added = check_key("key_added", key_added)
    copy = check_copy(adata, copy)
    if isinstance(method, str) and method in _WAGGR_FUNS:
        raise ValueError(
            f"method={method!r} is decoupler 1.x's; decoupler 2.x merged it into 'waggr'. Use "
            f"method='waggr', fun={method!r}."
        )
    method = check_choice("method", method, METHODS)
    n_targets = check_int("n_targets", n_targets, min=1, allow_none=True)
    tmin = check_int("tmin", tmin, min=1)
    if n_targets is not None and n_targets < tmin:
        raise ValueError(
            f"n_targets={n_targets} is below tmin={tmin}, so no regulator could be scored. "
            f"Raise n_targets to at least {tmin}, or lower tmin."
        )
    reserved = sorted(set(kwargs) & set(_RESERVED))
    if reserved:
        raise TypeError(
            f"tf_activity sets {reserved} itself; pass tmin= and layer= as its own arguments "
            "(raw: use layer=; empty and verbose are fixed)."
        )
    dc = _import_decoupler()
    _check_method_kwargs(dc, method, kwargs)

    _check_finite_grn(adata, key)
    net = _regulons(adata, key, n_targets)
    sizes = net.groupby("source", sort=False).size()
    if not (sizes >= tmin).any():
        most = int(sizes.max()) if len(sizes) else 0
        raise ValueError(
            f"No regulator of the GRN in adata.varp[{key!r}] has at least tmin={tmin} targets "
            f"({len(sizes)} regulator(s) with edges, at most {most} targets each, "
            f"n_targets={n_targets}). Pass a larger n_targets (or None), a lower tmin, or a "
            "denser network."
        )
    X, _ = checked_matrix(adata, layer=layer, min_cells=1, allow_zero_genes=True, _stacklevel=3)

    start = logg.info(f"computing TF activities with decoupler's {method} from adata.varp[{key!r}]")
    scores, padj = _run(
        dc, method, adata, X, net, tmin=tmin, from_layer=layer is not None, kwargs=kwargs
    )
    empty_cells = int(scores.isna().all(axis=1).sum())
    if empty_cells:
        warnings.warn(
            f"{empty_cells} cell(s) have no expression at all; decoupler skips them and their "
            "activities are NaN. Filter them with `sc.pp.filter_cells(adata, min_genes=1)`.",
            UserWarning,
            stacklevel=2,
        )
    tfs = [str(t) for t in scores.columns]
    record = {
        "method": method,
        "version": __version__,
        "decoupler_version": str(getattr(dc, "__version__", "unknown")),
        "grn_key": key,
        "params": {
            "method": method,
            "n_targets": "None" if n_targets is None else n_targets,
            "tmin": tmin,
            "layer": "X" if layer is None else layer,
            "key": key,
            "kwargs": {str(k): _h5ad_value(v) for k, v in kwargs.items()},
        },
        "tfs": tfs,
        "n_targets_used": [int(sizes[t]) for t in tfs],
    }

    adata = adata.copy() if copy else adata
    adata.obsm[key_added] = scores
    written = [f"'obsm[{key_added!r}]', activity scores (cells x TFs)"]
    if padj is not None:
        adata.obsm[key_added + "_padj"] = padj
        written.append(f"'obsm[{key_added + '_padj'!r}]', adjusted p-values")
    adata.uns[key_added] = record
    written.append(f"'uns[{key_added!r}]', method and parameters")
    logg.info("    finished", time=start, deep="added\n    " + "\n    ".join(written))
    return adata if copy else None


def _check_method_kwargs(dc, method: str, kwargs: dict) -> None:
    """Refuse keyword arguments that decoupler's ``method`` does not take, naming the ones it does
    (decoupler would fail deep inside with "_func_ulm() got an unexpected keyword argument")."""
    import inspect

    fn = getattr(dc.mt, method)
    accepted = set()
    for f in (getattr(fn, "__call__", None), getattr(fn, "func", None)):
        try:
            params = inspect.signature(f).parameters.values()
        except (TypeError, ValueError):
            return  # cannot tell: let decoupler check
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params) and f is getattr(fn, "func", None):
            return
        accepted |= {p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD}
    accepted -= {"self", "mat", "adj", *_RESERVED}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise TypeError(
            f"tf_activity got keyword argument(s) {unknown} that decoupler.mt.{method} does not take; "
            f"its options are {sorted(accepted)} (see decoupler's documentation of mt.{method})."
        )


def _check_finite_grn(adata: AnnData, key: str) -> None:
    """Refuse a network with NaN or infinite weights (a run that diverged): its regulons would
    be built from the weights left over, and decoupler fails on infinite ones."""
    check_grn_key(adata, key)
    n_nan, n_inf = nonfinite_counts(grn_matrix(adata.varp[key], adata.n_vars))
    if n_nan or n_inf:
        found = " and ".join(f"{n} {kind}" for n, kind in ((n_nan, "NaN"), (n_inf, "infinite")) if n)
        raise ValueError(
            f"The GRN in adata.varp[{key!r}] has {found} weight(s), so its regulons cannot be scored: "
            "such weights mean the run that wrote it failed (e.g. training diverged). Rerun the method "
            "(for DeepSEM, with smaller learning rates), or pass another key=."
        )


def _regulons(adata: AnnData, key: str, n_targets: int | None) -> pd.DataFrame:
    """decoupler's net: each regulator's ``n_targets`` strongest targets (signed weights)."""
    net = _edges(adata, key)  # sorted by |weight| descending, stable: ties in row-major order
    if n_targets is not None:
        net = net.groupby("source", sort=False).head(n_targets)
    return net.reset_index(drop=True)


def _run(dc, method: str, adata: AnnData, X, net: pd.DataFrame, *, tmin: int, from_layer: bool, kwargs: dict):
    """Run ``decoupler.mt.<method>``; scores and adjusted p-values indexed by ``adata.obs_names``.

    decoupler writes ``obsm['score_<method>']`` into the AnnData it gets (or into a copy when it
    drops empty cells), so it gets a bare AnnData sharing ``X`` (decoupler copies it to float
    before use). A backed AnnData is passed itself (decoupler reads it in batches) and the two
    keys decoupler wrote are put back as they were (layers of a backed AnnData are in memory).
    """
    backed = bool(getattr(adata, "isbacked", False)) and not from_layer
    names = (f"score_{method}", f"padj_{method}")
    if backed:
        target = adata
        saved = {n: adata.obsm[n] for n in names if n in adata.obsm}
    else:
        target = AnnData(X=X, obs=pd.DataFrame(index=adata.obs_names), var=pd.DataFrame(index=adata.var_names))
    verbose = bool(sc_settings.verbosity >= 4)
    torch_threads = torch.get_num_threads()
    try:
        out = getattr(dc.mt, method)(target, net, tmin=tmin, verbose=verbose, **kwargs)
        out = target if out is None else out
        scores = out.obsm[names[0]]
        padj = out.obsm.get(names[1])
    except AssertionError as err:  # decoupler checks its input with assert
        hint = (
            " mlm fits all regulons jointly and needs fewer, less overlapping regulons than "
            "genes: lower n_targets, restrict the GRN to TFs, or use method='ulm'."
            if method == "mlm" else ""
        )
        message = " ".join(str(err).split()).rstrip(".")
        raise ValueError(f"decoupler.mt.{method} refused the input: {message}.{hint}") from err
    finally:
        # decoupler's numba kernels share the OpenMP runtime with torch and reset its thread
        # count (e.g. 1 -> all cores); put back what the user had
        if torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)
        if backed:
            for n in names:
                adata.obsm.pop(n, None)
            for n, value in saved.items():
                adata.obsm[n] = value
    scores = pd.DataFrame(scores).reindex(adata.obs_names)
    if padj is not None:
        padj = pd.DataFrame(padj).reindex(adata.obs_names)
        if method == "mlm":  # decoupler 2.2 names mlm's raw p-values padj_mlm
            padj = pd.DataFrame(_bh(padj.to_numpy()), index=padj.index, columns=padj.columns)
    return scores, padj


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values along each row (NaN rows stay NaN)."""
    n = p.shape[1]
    order = np.argsort(p, axis=1)
    ranked = np.take_along_axis(p, order, axis=1) * n / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[:, ::-1], axis=1)[:, ::-1]
    out = np.empty_like(ranked)
    np.put_along_axis(out, order, np.minimum(ranked, 1.0), axis=1)
    return out


def _h5ad_value(value):
    """A value h5ad can store: plain numbers and strings as they are, anything else as text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
