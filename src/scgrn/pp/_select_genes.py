"""BEELINE-style gene selection: all significantly varying TFs plus the top-N varying genes."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
from anndata import AnnData
from scanpy import logging as logg
from scipy import sparse, stats

from .._matrix import ColumnSummary, column_variance, is_backed, row_blocks
from .._validate import (
    ParameterTypeError,
    TFsTypeError,
    as_tf_list,
    check_adata,
    check_bool,
    check_copy,
    check_float,
    check_int,
    check_key,
    check_var_names,
    checked_matrix,
)

__all__ = ["select_genes"]

#: Interior knots of the cubic regression spline used for the pseudotime F-test.
_N_KNOTS = 3


def _gene_variance(X, summary: ColumnSummary) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and (population) variance, without densifying a sparse matrix.

    A backed matrix (``backed="r"``, dense or sparse) is not read again: the moments come from
    ``summary``, the chunked pass of :func:`~scgrn._validate.checked_matrix`.
    """
    if is_backed(X):
        mean, var = column_variance(summary)
    elif sparse.issparse(X):
        X = sparse.csr_matrix(X, dtype=np.float64)
        mean = np.asarray(X.mean(axis=0)).ravel()
        sq = np.asarray(X.multiply(X).mean(axis=0)).ravel()
        var = np.maximum(sq - mean**2, 0.0)
    else:
        X = np.asarray(X, dtype=np.float64)
        mean = X.mean(axis=0)
        var = X.var(axis=0)
    # E[x^2] - mean^2 (sparse, backed) leaves rounding residue (~1e-17) on a constant gene, which
    # then counted as varying: a constant TF was selected from a sparse matrix but not a dense one
    return mean, np.where(var > 1e-10 * mean**2, var, 0.0)


def _spline_basis(t: np.ndarray, n_knots: int = _N_KNOTS) -> np.ndarray:
    """Orthonormal basis of a cubic regression spline in ``t`` (intercept included)."""
    t = (t - t.mean()) / (t.std() or 1.0)
    cols = [np.ones_like(t), t, t**2, t**3]
    knots = np.unique(np.quantile(t, np.linspace(0, 1, n_knots + 2)[1:-1]))
    cols += [np.clip(t - k, 0, None) ** 3 for k in knots]
    B = np.column_stack(cols)
    Q, R = np.linalg.qr(B)
    keep = np.abs(np.diag(R)) > 1e-8 * np.abs(R).max()
    return Q[:, keep]


def _checked_pseudotime(adata: AnnData, pseudotime_key) -> tuple[np.ndarray, np.ndarray]:
    """``(cells with a pseudotime, spline basis over them)`` from ``adata.obs[pseudotime_key]``.

    Checked before the expression is read: the column must hold numbers (numeric text such as
    ``'0.5'`` is read as a number; other text, categories or booleans are refused), and enough
    cells must have a finite pseudotime for the spline test (NaN cells are left out).
    """
    if not isinstance(pseudotime_key, str):
        raise ParameterTypeError(
            f"pseudotime_key must be a column name of adata.obs (a string), got {pseudotime_key!r}."
        )
    if pseudotime_key not in adata.obs:
        raise ValueError(
            f"pseudotime_key={pseudotime_key!r} is not a column of adata.obs (columns: "
            f"{list(adata.obs.columns)})."
        )
    column = adata.obs[pseudotime_key]
    where = f"adata.obs[{pseudotime_key!r}]"
    fix = (
        "Pass a numeric column of pseudotimes, e.g. pseudotime_key='dpt_pseudotime' after "
        "`sc.tl.dpt(adata)`, or pvalue_key= / neither (selection by variance)."
    )
    if pd.api.types.is_bool_dtype(column):
        raise ValueError(f"{where} holds True/False (dtype {column.dtype}), not a pseudotime. {fix}")
    values = column.astype(object) if isinstance(column.dtype, pd.CategoricalDtype) else column
    t = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    text = np.isnan(t) & column.notna().to_numpy()
    if text.any():
        examples = ", ".join(repr(v) for v in pd.unique(column[text])[:3])
        raise ValueError(
            f"{where} must hold numbers (a pseudotime per cell), but its dtype is {column.dtype} and "
            f"{int(text.sum())} of {len(t)} values are not numbers (e.g. {examples}). {fix}"
        )
    ok = np.isfinite(t)
    n = int(ok.sum())
    if n == 0:
        raise ValueError(f"{where} has no finite pseudotime in any of the {len(t)} cells (all NaN or infinite). {fix}")
    if np.ptp(t[ok]) == 0:
        raise ValueError(
            f"{where} has the same value ({t[ok][0]:g}) in all {n} cells with a finite pseudotime: no "
            f"gene can vary along it. {fix}"
        )
    Q = _spline_basis(t[ok])
    if n <= Q.shape[1] + 1:
        raise ValueError(
            f"Only {n} of {len(t)} cells have a finite pseudotime in {where} (the rest are NaN or "
            f"infinite); at least {Q.shape[1] + 2} are needed for the spline test. {fix}"
        )
    return ok, Q


def _pseudotime_pvalues(X, Q: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """F-test p-value per gene: cubic spline in pseudotime vs a constant (BEELINE uses a GAM).

    ``Q``: the spline basis over the cells ``ok`` (:func:`_checked_pseudotime`).
    """
    n, p = Q.shape
    if is_backed(X):
        proj, ss, mean = _backed_projection(X, Q, ok)
    else:
        proj, ss, mean = _projection(X[ok] if not ok.all() else X, Q)
    rss0 = np.maximum(ss - n * mean**2, 0.0)  # intercept-only residual sum of squares
    rss1 = np.maximum(ss - (proj**2).sum(axis=0), 0.0)
    df1, df2 = p - 1, n - p
    with np.errstate(divide="ignore", invalid="ignore"):
        F = ((rss0 - rss1) / df1) / (rss1 / df2)
    pval = stats.f.sf(F, df1, df2)
    pval = np.where(rss0 <= 1e-12 * max(1.0, float(ss.max(initial=0.0))), 1.0, pval)
    pval = np.where(np.isnan(pval), 0.0, pval)  # rss1 == 0 < rss0: a perfect fit
    return pval


def _backed_projection(X, Q: np.ndarray, ok: np.ndarray):
    """:func:`_projection` of the rows ``ok`` of a backed matrix, read a block of cells at a time."""
    proj = np.zeros((Q.shape[1], X.shape[1]))
    ss = np.zeros(X.shape[1])
    total = np.zeros(X.shape[1])
    done = 0  # rows of Q used so far
    for start, block in row_blocks(X):
        block = block[ok[start : start + len(block)]].astype(np.float64)
        q = Q[done : done + len(block)]
        done += len(block)
        proj += q.T @ block
        ss += (block**2).sum(axis=0)
        total += block.sum(axis=0)
    return proj, ss, total / max(done, 1)


def _projection(X, Q: np.ndarray):
    """``(Q.T @ X, per-gene sum of squares, per-gene mean)`` of an in-memory matrix."""
    if sparse.issparse(X):
        X = sparse.csc_matrix(X, dtype=np.float64)
        proj = np.asarray((X.T @ Q)).T  # p x genes
        ss = np.asarray(X.multiply(X).sum(axis=0)).ravel()
        mean = np.asarray(X.mean(axis=0)).ravel()
    else:
        X = np.asarray(X, dtype=np.float64)
        proj = Q.T @ X
        ss = (X**2).sum(axis=0)
        mean = X.mean(axis=0)
    return proj, ss, mean


def _checked_pvalues(adata: AnnData, pvalue_key, is_tf: np.ndarray) -> np.ndarray:
    """``adata.var[pvalue_key]`` as float p-values: numeric, within [0, 1]. NaN (no test for that
    gene) counts as not significant, with a warning that names the TFs it drops; all NaN raises."""
    if not isinstance(pvalue_key, str):
        raise ParameterTypeError(f"pvalue_key must be a column name of adata.var (a string), got {pvalue_key!r}.")
    if pvalue_key not in adata.var:
        raise ValueError(
            f"pvalue_key={pvalue_key!r} is not a column of adata.var (columns: "
            f"{list(adata.var.columns)})."
        )
    column = adata.var[pvalue_key]
    where = f"adata.var[{pvalue_key!r}]"
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise ValueError(
            f"{where} must hold numeric p-values, but its dtype is {column.dtype} (e.g. "
            f"{column.iloc[:3].tolist()}). Convert it: `adata.var[{pvalue_key!r}] = "
            f"pd.to_numeric(adata.var[{pvalue_key!r}])`."
        )
    pvals = column.to_numpy(dtype=float)
    missing = np.isnan(pvals)
    if missing.all():
        raise ValueError(
            f"{where} is NaN for all {len(pvals)} genes, so no gene could be selected. Compute the "
            "p-values first, or pass pvalue_key=None (select by variance, or pseudotime_key=)."
        )
    outside = ~missing & ((pvals < 0) | (pvals > 1))
    if outside.any():
        bad = adata.var_names[outside]
        raise ValueError(
            f"{where} has {int(outside.sum())} value(s) outside [0, 1] (e.g. "
            f"{', '.join(f'{g}: {v:g}' for g, v in zip(bad[:3], pvals[outside][:3]))}); p-values are "
            "probabilities. Pass raw p-values (not -log10 p-values or test statistics)."
        )
    if missing.any():
        tfs_lost = adata.var_names[missing & is_tf]
        lost = f", among them {len(tfs_lost)} TF(s) ({', '.join(map(repr, tfs_lost[:5]))})" if len(tfs_lost) else ""
        warnings.warn(
            f"{where} is NaN for {int(missing.sum())} of {len(pvals)} genes{lost}; they count as not "
            "significantly varying and are not selected. Fill them in to select them.",
            UserWarning,
            stacklevel=3,
        )
    return np.where(missing, 1.0, pvals)


def _check_selection(selected: np.ndarray, sel_tf: np.ndarray, n_found: int, method: str, subset: bool) -> None:
    """An empty selection raises with ``subset=True`` (it would leave no genes) and warns
    otherwise; no TF selected warns (a GRN needs regulators)."""
    if not selected.any():
        message = (
            f"No gene is selected ({method}: no gene is significantly varying at this cutoff). "
            "Raise pval_cutoff, or check the p-values / pseudotime."
        )
        if subset:
            raise ValueError(message + " Nothing was written (subset=True would leave 0 genes).")
        warnings.warn(message, UserWarning, stacklevel=3)
    elif not sel_tf.any():
        warnings.warn(
            f"None of the {n_found} TFs found in adata.var_names is selected ({method}: none is "
            "significantly varying), so a GRN inferred on the selection has no regulator. Raise "
            "pval_cutoff, or check the p-values / pseudotime.",
            UserWarning,
            stacklevel=3,
        )


def select_genes(
    adata: AnnData,
    *,
    tfs: Iterable[str],
    n_top: int = 500,
    pval_cutoff: float = 0.01,
    pvalue_key: str | None = None,
    pseudotime_key: str | None = None,
    layer: str | None = None,
    key_added: str = "scgrn_selected",
    subset: bool = False,
    copy: bool = False,
) -> AnnData | None:
    """Select genes for GRN inference as BEELINE does ("TFs+500", "TFs+1000").

    Genes are ranked by variance. A gene is *significantly varying* if its Bonferroni-corrected
    p-value is below ``pval_cutoff`` (raw ``p < pval_cutoff / n_genes``, as BEELINE's
    ``generateExpInputs.py -c``). The p-value comes from, in this order:

    1. ``adata.var[pvalue_key]`` (raw, uncorrected p-values you computed, e.g. from a GAM);
    2. an F-test of a cubic regression spline of expression on ``adata.obs[pseudotime_key]``
       against a constant (BEELINE fits a GAM on pseudotime; cells with NaN pseudotime are
       left out of the test);
    3. neither given: **every gene with non-zero variance counts as varying** (no test is
       done; logged), so the selection is all expressed TFs plus the ``n_top`` most variable
       other genes.

    Selected = all significantly varying TFs + the ``n_top`` most variable significantly
    varying non-TF genes. ``adata.X`` is never modified.

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression (as BEELINE's input). Data scaled per gene
        (``sc.pp.scale``: every gene's variance 1) are refused with a ``ValueError``: ranking by
        variance needs the unscaled values (``layer=``, or ``adata.raw.to_adata()``). Raw counts
        and normalised but not log-transformed data get the ``UserWarning`` of the GRN tools.
    tfs
        Transcription factor names. Names not in ``adata.var_names`` are ignored (a count is
        logged; whole-transcriptome TF lists always miss some), but at least one must be found.
        A boolean mask over ``adata.var_names`` (e.g. ``adata.var['is_tf']``) selects the genes
        where it is ``True``.
    n_top
        Number of non-TF genes to add.
    pval_cutoff
        Family-wise p-value cutoff (Bonferroni over all genes of ``adata``).
    pvalue_key
        Column of ``adata.var`` with raw per-gene p-values.
    pseudotime_key
        Column of ``adata.obs`` with pseudotime, used when ``pvalue_key`` is ``None``.
    layer
        Use ``adata.layers[layer]`` instead of ``adata.X``.
    key_added
        Name of the ``adata.var`` column written.
    subset
        Subset ``adata`` to the selected genes in place (like
        :func:`scanpy.pp.highly_variable_genes`).
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Writes

    ``adata.var[key_added]``
        bool, gene is selected.
    ``adata.var[key_added + '_is_tf']``
        bool, gene is in ``tfs``.
    ``adata.var[key_added + '_variance']``
        float, the variance used for ranking.
    ``adata.uns[key_added]``
        ``params`` and ``method`` (``"pvalue_key"``, ``"pseudotime"`` or ``"variance"``),
        ``n_tfs`` and ``n_other`` selected.

    Warns
    -----
    UserWarning
        When the matrix looks like raw counts (non-negative integers, maximum above 30) or
        normalised but not log-transformed (maximum above 50): the variance would then mostly
        track the mean expression. Run ``sc.pp.normalize_total`` and ``sc.pp.log1p`` first (the
        shared check of :func:`scgrn._validate.checked_matrix`).

    Examples
    --------
    >>> import scgrn
    >>> adata, net = scgrn.datasets.planted_network(n_genes=30, n_cells=200)
    >>> tfs = list(adata.var_names[adata.var["is_tf"]])
    >>> scgrn.pp.select_genes(adata, tfs=tfs, n_top=10)
    >>> int(adata.var["scgrn_selected"].sum())
    15
    >>> sub = scgrn.pp.select_genes(adata, tfs=tfs, n_top=10, subset=True, copy=True)
    >>> sub.n_vars, adata.n_vars
    (15, 30)
    """
    # every argument and the data are checked before anything is written
    check_adata(adata)
    if isinstance(tfs, (str, bytes)):
        raise TFsTypeError(f"tfs must be a list of gene names, not a string. Fix: tfs=[{tfs!r}].")
    if tfs is None:
        raise ValueError("tfs is required: pass the list of transcription factor names.")
    n_top = check_int("n_top", n_top, min=0)
    pval_cutoff = check_float("pval_cutoff", pval_cutoff, min=0, max=1, min_open=True)
    key_added = check_key("key_added", key_added)
    subset = check_bool("subset", subset)
    copy = check_copy(adata, copy)
    if subset and not copy and adata.isbacked:
        raise ValueError(
            "subset=True on a backed AnnData cannot subset the file in place. Pass subset=False "
            "and subset afterwards: `adata = adata[:, adata.var[key_added]].to_memory()`, or load "
            "it first with `adata = adata.to_memory()`."
        )
    start = logg.info(f"selecting genes BEELINE-style (all varying TFs + top {n_top} others)")
    check_var_names(adata.var_names)
    tf_list = list(dict.fromkeys(str(t) for t in as_tf_list(tfs, adata.var_names)))
    is_tf = adata.var_names.isin(set(tf_list))
    n_found = int(is_tf.sum())
    n_missing = len(tf_list) - len(set(tf_list) & set(adata.var_names))
    if n_found == 0:
        raise ValueError(
            f"None of the {len(tf_list)} TFs is in adata.var_names (e.g. {tf_list[:3]}; genes "
            f"look like {list(adata.var_names[:3])}). Check the species and capitalisation "
            "(human 'GATA1' vs mouse 'Gata1'), or whether adata needs `adata = adata.T`."
        )
    if n_missing:
        logg.info(f"    {n_missing} of {len(tf_list)} TFs are not in adata.var_names (ignored)")

    if adata.n_obs < 2:
        raise ValueError(
            f"select_genes ranks genes by their variance across cells, so it needs at least 2 cells; "
            f"adata has {adata.n_obs}. (If your cells are in columns, transpose first: `adata = adata.T`.)"
        )
    # the pseudotime column is checked before the expression is read
    pseudotime = None
    if pvalue_key is None and pseudotime_key is not None:
        pseudotime = _checked_pseudotime(adata, pseudotime_key)
    # NaN/inf, a transposed matrix: refused (genes that are never expressed are fine here: they
    # are simply not selected); raw counts or unlogged data warn, as in every GRN tool (variance
    # on the count scale mostly tracks the mean expression)
    X, summary = checked_matrix(
        adata, layer=layer, min_cells=2, tfs=tf_list, expect="log", allow_zero_genes=True,
        refuse_z_scored=(
            "select_genes ranks genes by their variance, which scaling has made the same for every "
            "gene: the 'most variable' genes would be picked by rounding noise."
        ),
        _stacklevel=3,
    )
    _, var = _gene_variance(X, summary)
    n_genes = adata.n_vars

    if pvalue_key is not None:
        pvals = _checked_pvalues(adata, pvalue_key, is_tf)
        method = "pvalue_key"
    elif pseudotime_key is not None:
        ok, Q = pseudotime
        pvals = _pseudotime_pvalues(X, Q, ok)
        method = "pseudotime"
    else:
        pvals = None
        method = "variance"
        logg.info(
            "    no pvalue_key or pseudotime_key given: every gene with non-zero variance "
            "counts as significantly varying"
        )

    if pvals is None:
        significant = var > 0
    else:
        significant = (pvals < pval_cutoff / n_genes) & (var > 0)

    sel_tf = significant & is_tf
    others = np.flatnonzero(significant & ~is_tf)
    order = others[np.argsort(-var[others], kind="stable")]
    selected = sel_tf.copy()
    selected[order[:n_top]] = True
    _check_selection(selected, sel_tf, n_found, method, subset)

    if copy:
        adata = adata.copy()
    adata.var[key_added] = selected
    adata.var[key_added + "_is_tf"] = is_tf
    adata.var[key_added + "_variance"] = var.astype(np.float32)
    n_tfs, n_other = int(sel_tf.sum()), int(min(n_top, len(order)))
    adata.uns[key_added] = {
        "method": method,
        "n_tfs": n_tfs,
        "n_other": n_other,
        "params": {
            "n_top": int(n_top),
            "pval_cutoff": float(pval_cutoff),
            "pvalue_key": pvalue_key or "",
            "pseudotime_key": pseudotime_key or "",
            "layer": layer or "",
            "n_tfs_given": len(tf_list),
            "n_tfs_found": n_found,
        },
    }
    if n_other < n_top:
        logg.info(f"    only {n_other} significantly varying non-TF genes (n_top={n_top})")
    if subset:
        adata._inplace_subset_var(selected)
    logg.info(
        f"    finished: {n_tfs} TFs + {n_other} other genes selected",
        time=start,
        deep=(
            f"added\n    .var[{key_added!r}], .var[{key_added + '_is_tf'!r}], "
            f".var[{key_added + '_variance'!r}], .uns[{key_added!r}]"
            + ("\n    subset adata to the selected genes" if subset else "")
        ),
    )
    return adata if copy else None
