"""GRN consistency between real and simulated cells (DeepSEM, Shu et al. 2021, eq. 9)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._grn_matrix import grn_block, grn_matrix
from .._params import ParameterTypeError, check_fractions, check_random_state
from .._validate import as_tf_list, check_tfs
from ._ranking import warn_if_all_tied
from ._realism import _aligned, _check_log1p, _comparable, simulated_sets

__all__ = ["grn_consistency", "top_edge_overlap"]

DEFAULT_TOP = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025)

#: judges by name, ``{name: infer(adata, *, tfs, random_state, **kwargs) -> GRN}``. metrics
#: sits below tl and does not import it: ``scgrn.tl`` registers its expression GRN methods
#: here when it is imported (``scgrn.tl._registry``), which ``import scgrn`` always does.
_JUDGES: dict[str, Callable] = {}
#: cells every judge named in ``_JUDGES`` needs (the GRN tools' ``min_cells``)
JUDGE_MIN_CELLS = 10


def _register_judges(judges: Mapping[str, Callable]) -> None:
    """Make GRN methods available to :func:`grn_consistency` by name (called by ``scgrn.tl``)."""
    _JUDGES.update(judges)


def _regulator_rows(n_genes: int, regulators: np.ndarray | None) -> np.ndarray:
    """Sorted row positions of the candidate regulators (every gene if ``None``)."""
    if regulators is None:
        return np.arange(n_genes)
    given = np.asarray(regulators)
    if given.ndim == 1 and given.size == 0:  # [] or an empty array: refused by _check_candidates
        return np.array([], dtype=np.int64)
    if given.dtype == bool:
        if given.shape != (n_genes,):
            raise ValueError(
                f"regulators as a boolean mask needs one entry per gene ({n_genes}), got shape {given.shape}."
            )
        return np.flatnonzero(given)
    if given.ndim != 1 or not np.issubdtype(given.dtype, np.integer):
        kind = "gene names" if given.dtype.kind in "USO" else f"dtype {given.dtype}"
        raise ParameterTypeError(
            f"regulators must be integer row positions or a boolean mask over the {n_genes} genes, got "
            f"{kind} (e.g. {given.ravel()[:3].tolist()}). The GRNs here are bare matrices without gene "
            "names: pass positions, e.g. `regulators=adata.var_names.get_indexer(tf_names)`."
        )
    bad = given[(given < -n_genes) | (given >= n_genes)]
    if bad.size:
        raise ValueError(f"regulators has positions outside the {n_genes} genes: {bad[:5].tolist()}.")
    rows = np.zeros(n_genes, dtype=bool)
    rows[given] = True
    return np.flatnonzero(rows)


def _check_candidates(rows: np.ndarray, n_genes: int, regulators) -> int:
    """The number of candidate edges (regulator -> another gene); none raises naming ``regulators``."""
    if n_genes < 2:
        raise ValueError(
            f"The GRNs have {n_genes} gene(s): a regulator has no other gene to regulate, so there is no "
            "candidate edge to rank. Compare GRNs of at least 2 genes."
        )
    if rows.size == 0:
        given = np.asarray(regulators)
        kind = "an all-False mask" if given.dtype == bool and given.size else "empty"
        raise ValueError(
            f"regulators selects no gene (0 of {n_genes}; it is {kind}), so there is no candidate edge to "
            "rank. Pass at least one regulator (row positions, e.g. "
            "`regulators=adata.var_names.get_indexer(tf_names)`, or a mask with a True), or regulators=None "
            "for every gene."
        )
    return rows.size * (n_genes - 1)


def _check_top(top) -> list[float]:
    """``top`` as a list of fractions in ``(0, 1]``; a number alone or an empty sequence is refused.

    Examples
    --------
    >>> _check_top((0.01, 0.1))
    [0.01, 0.1]
    >>> _check_top(())
    Traceback (most recent call last):
    ...
    ValueError: top is empty: give at least one fraction of the candidate edges, e.g. top=(0.01, 0.05).
    """
    return check_fractions("top", top, of="the candidate edges", example="(0.01, 0.05)")


def top_edge_overlap(
    grn_a: np.ndarray | sparse.spmatrix,
    grn_b: np.ndarray | sparse.spmatrix,
    *,
    top: Sequence[float] = DEFAULT_TOP,
    regulators: np.ndarray | None = None,
) -> pd.DataFrame:
    """Overlap of the top edges of two GRNs over the same genes (DeepSEM eq. 9).

    Candidates are all ordered pairs ``regulator -> target`` without self-pairs; edges are
    ranked by ``|weight|`` (ties in a stable order). For each fraction ``f`` in ``top`` the
    ``k = max(1, round(f * candidates))`` strongest edges of each network are compared:
    ``consistency = |top_k(a) & top_k(b)| / k``. ``random`` is what two unrelated rankings
    give in expectation, ``k / candidates``.

    Parameters
    ----------
    grn_a, grn_b
        Square GRNs over the same genes, row = regulator, column = target: dense arrays or
        scipy sparse matrices (an entry that is not stored weighs 0), or DataFrames, which are
        read by their labels (two labelled DataFrames are matched by gene name). Only the
        regulator rows are densified. NaN or infinite weights among the candidates raise a
        ``ValueError``; a network whose candidates all have the same ``|weight|`` (e.g. all
        zero) warns, as its top edges are then only the first pairs in gene order.
    top
        Fractions of the candidate edges to compare, each in ``(0, 1]``.
    regulators
        Row positions (or a boolean mask over genes) of the regulators; ``None``: every gene.
        An empty selection (no position, an all-``False`` mask) raises a ``ValueError``.

    Returns
    -------
    DataFrame with one row per fraction: ``top``, ``k``, ``consistency`` and ``random``.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.random.default_rng(0).normal(size=(30, 30))
    >>> top_edge_overlap(w, w, top=(0.01, 0.1))["consistency"].tolist()
    [1.0, 1.0]
    """
    top = _check_top(top)
    # labelled DataFrames are read by their labels: b in the gene order of a
    names = grn_a.index if isinstance(grn_a, pd.DataFrame) and isinstance(grn_b, pd.DataFrame) else None
    a, b = grn_matrix(grn_a), grn_matrix(grn_b, names=names)
    if a.shape != b.shape:
        raise ValueError(f"the GRNs must be square and of equal shape, got {a.shape} and {b.shape}.")
    n_genes = a.shape[0]
    rows = _regulator_rows(n_genes, regulators)
    _check_candidates(rows, n_genes, regulators)
    mask = rows[:, None] != np.arange(n_genes)[None, :]  # no self-pairs; row-major order
    va = np.abs(np.asarray(grn_block(a, rows), dtype=np.float64))[mask]
    vb = np.abs(np.asarray(grn_block(b, rows), dtype=np.float64))[mask]
    for name, v in (("grn_a", va), ("grn_b", vb)):
        n_bad = int(np.count_nonzero(~np.isfinite(v)))
        if n_bad:  # NaN sorted last and inf first, without a word
            raise ValueError(
                f"{name} contains {n_bad} NaN or infinite weight(s) among its candidate edges, which cannot "
                "be ranked (a run that diverged?). Rerun the method, or drop them explicitly: "
                "`W = np.nan_to_num(W, nan=0.0, posinf=0.0, neginf=0.0)`."
            )
        # all tied (e.g. all zero): its top k are the first pairs in row-major order, so two such
        # networks overlap completely whatever they are
        warn_if_all_tied(v, what=f"candidate edges of {name} have the same |weight|", affected="the overlaps",
                         stacklevel=2)
    n = va.size
    order_a = np.argsort(-va, kind="stable")
    order_b = np.argsort(-vb, kind="stable")
    rows = []
    for f in top:
        k = max(1, int(round(f * n)))
        shared = np.intersect1d(order_a[:k], order_b[:k], assume_unique=True).size
        rows.append({"top": float(f), "k": k, "consistency": shared / k, "random": k / n})
    return pd.DataFrame(rows)


def _infer(adata: AnnData, method, tfs, random_state: int, kwargs: dict):
    """The judge's GRN on ``adata``, dense or sparse as the judge wrote it."""
    if not callable(method):
        return _JUDGES[method](adata, tfs=tfs, random_state=random_state, **kwargs)
    key = "_consistency_judge"
    extra = {}
    sig = inspect.signature(method).parameters
    if "random_state" in sig:
        extra["random_state"] = random_state
    if "show_progress_bar" in sig:
        extra["show_progress_bar"] = False
    returned = method(adata, tfs=tfs, key_added=key, **{**extra, **kwargs})
    return _judge_result(adata, key, returned, method)


def _judge_result(adata: AnnData, key: str, returned, method) -> np.ndarray | sparse.spmatrix:
    """The GRN a judge function made: ``adata.varp[key]`` if it wrote it, else a returned AnnData's
    ``varp[key]`` or a returned genes x genes matrix; anything else raises saying what a judge must do."""
    if key in adata.varp:
        return grn_matrix(adata.varp[key], adata.n_vars)
    if isinstance(returned, AnnData) and key in returned.varp:  # a tool run with copy=True
        return grn_matrix(returned.varp[key], adata.n_vars)
    shape = getattr(returned, "shape", None)
    if shape is not None and tuple(shape) == (adata.n_vars, adata.n_vars) and not isinstance(returned, AnnData):
        return grn_matrix(returned, adata.n_vars, names=adata.var_names)
    name = getattr(method, "__name__", type(method).__name__)
    got = "None" if returned is None else f"{type(returned).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "")
    other = [k for k in adata.varp.keys() if k != key]
    wrote = f"; it wrote adata.varp{other} instead (pass key_added on to the tool)" if other else ""
    raise ValueError(
        f"method={name} wrote nothing to adata.varp[{key!r}] and returned {got}{wrote}. A judge function must "
        f"write its genes x genes GRN to adata.varp[key_added] (as scgrn's tools do), or return it: an array, "
        f"scipy sparse matrix or DataFrame of shape ({adata.n_vars}, {adata.n_vars}), row = regulator, column = "
        "target (a DataFrame labelled by adata.var_names)."
    )


def grn_consistency(
    real: AnnData | np.ndarray,
    simulated: AnnData | np.ndarray | Mapping[str, AnnData | np.ndarray],
    *,
    method: str | Callable = "grnboost2",
    tfs: Sequence[str] | None = None,
    top: Sequence[float] = DEFAULT_TOP,
    layer: str | None = None,
    log1p: str | bool = "auto",
    random_state: int = 0,
    **method_kwargs,
) -> pd.DataFrame:
    """Infer a GRN on real and on simulated cells and compare their top edges.

    DeepSEM's third check of a simulator (Shu et al. 2021, eq. 9): a simulator that keeps
    the regulation of the real cells lets a GRN method recover the same strongest edges
    from its output. Any scgrn GRN method can be the judge, by name or as a function; the
    GRN it writes to ``varp`` may be dense or scipy sparse.

    Parameters
    ----------
    real, simulated
        AnnData (``X`` or ``layer``) with the same genes, matched by ``var_names`` (any
        order; different genes raise a ``ValueError`` naming them), or arrays with the same
        genes in the same order (then named ``g0, g1, ...``). ``simulated`` may be a ``{name: data}`` mapping
        of several simulators (the real GRN is then inferred once); an empty mapping, or a list of
        sets (which have no names), raises naming ``simulated``. Raw counts (``log1p="auto"``: non-negative
        integers, maximum above 30) are normalised to the real cells' median library size
        and log1p-transformed first.
    method
        The judge: the name of a GRN method that reads expression only (``"grnboost2"``,
        ``"genie3"``, ``"pearson"``, ``"spearman"``, ``"partial_correlation"``, ``"pidc"``,
        ``"deepsem"``; :func:`scgrn.tl.grn_methods` lists them), or a function with
        scgrn's tool interface ``method(adata, *, tfs, key_added, **kwargs)`` (``random_state``
        and ``show_progress_bar=False`` are passed when it takes them). The function either
        writes its genes x genes GRN (row = regulator) to ``adata.varp[key_added]``, as scgrn's
        tools do, or returns it: an ``n_vars x n_vars`` array, scipy sparse matrix or DataFrame
        (read by its labels, which must be ``adata.var_names``), or an AnnData holding it in
        ``varp[key_added]`` (a tool run with ``copy=True``). Anything else raises a
        ``ValueError`` saying so.
    tfs
        Regulators (rows of the candidate edges); ``None``: every gene. A boolean mask over
        ``real.var_names`` (e.g. ``real.var['is_tf']``) selects the genes where it is ``True``.
        Every TF must be among the genes (a ``ValueError`` lists those that are not).
    top
        Fractions of the candidate edges to compare.
    layer, log1p
        Layer of AnnData inputs; normalisation (as in :func:`realism_auc`).
    random_state
        Seed passed to the judge when it takes one.
    **method_kwargs
        Passed to the judge (e.g. ``n_estimators=500``).

    Returns
    -------
    DataFrame with one row per fraction: ``top``, ``k`` (edges compared), ``consistency``
    (shared share of the top ``k``) and ``random`` (expected share for unrelated networks);
    with a mapping, one block per simulator and a first column ``simulator``.

    Examples
    --------
    >>> import scgrn
    >>> adata, _ = scgrn.datasets.planted_network(n_genes=30, n_cells=200)
    >>> scgrn.metrics.grn_consistency(adata, adata, method="pearson", top=(0.01, 0.05))["consistency"].tolist()
    [1.0, 1.0]
    >>> res = scgrn.metrics.grn_consistency(adata, adata, method=scgrn.tl.partial_correlation,
    ...                                     top=(0.05,))
    >>> res["consistency"].tolist()
    [1.0]
    """
    if not callable(method) and (not isinstance(method, str) or method not in _JUDGES):
        raise ValueError(
            f"method must be a GRN tool function or one of {list(_JUDGES)}, got {method!r}."
        )
    random_state = check_random_state(random_state)
    top = _check_top(top)  # before any GRN is inferred
    # a one-shot iterator is read once (every judge needs the list); a mask is over real.var_names
    tfs = as_tf_list(tfs, real.var_names if isinstance(real, AnnData) else None)
    sims, many = simulated_sets(simulated)
    labels = ["real"] + [f"simulated[{k!r}]" if many else "simulated" for k in sims]
    mats, var_names = _aligned([real, *sims.values()], labels, layer)
    least = 1 if callable(method) else JUDGE_MIN_CELLS  # a function judges what it accepts itself
    for label, x in zip(labels, mats):
        if x.shape[0] < least:
            raise ValueError(
                f"{label} has {x.shape[0]} cell(s), but the judge ({method if isinstance(method, str) else 'method'}) "
                f"needs at least {least} to infer a GRN. Simulate more cells, or leave {label} out."
            )
    if var_names is None:
        var_names = pd.Index([f"g{i}" for i in range(mats[0].shape[1])])
    var_names = pd.Index(var_names).astype(str)
    tfs = check_tfs(tfs, var_names)  # every TF a gene: a missing one would index the last gene (-1)
    mats = _comparable(mats, _check_log1p(log1p))
    grns = []
    for x in mats:
        ad = AnnData(x.astype(np.float32), var=pd.DataFrame(index=var_names.astype(str)))
        # genes that are constant in one set cannot enter every judge: a tiny jitter keeps them
        constant = x.std(0) == 0
        if constant.any():
            rng = np.random.default_rng(random_state)
            ad.X[:, constant] += rng.normal(scale=1e-6, size=(x.shape[0], int(constant.sum()))).astype(np.float32)
        grns.append(_infer(ad, method, tfs, random_state, method_kwargs))
    regulators = None if tfs is None else np.sort(var_names.get_indexer(list(tfs)))
    frames = []
    for name, grn in zip(sims, grns[1:]):
        res = top_edge_overlap(grns[0], grn, top=top, regulators=regulators)
        if many:
            res.insert(0, "simulator", name)
        frames.append(res)
    return pd.concat(frames, ignore_index=True)
