"""Correlation baselines: ``tl.correlation`` (Pearson / Spearman) and ``tl.partial_correlation``.

Also holds the small helpers every baseline tool shares (input checks, the TF row mask and
the ``varp`` / ``uns`` record), so that all baselines write the same contract as
:func:`scgrn.tl.deepsem`: ``adata.varp[key]`` float32 genes x genes, row = regulator,
column = target; ``adata.uns[key]`` with ``method``, ``version``, ``params`` and ``tfs``.
"""

from __future__ import annotations

import warnings

import numpy as np
from anndata import AnnData
from scanpy import logging as logg
from scipy import linalg
from scipy.stats import rankdata

from .. import __version__
from .._validate import as_tf_list, check_adata, check_choice, check_copy, check_key, check_tfs, expression_matrix
from ._groups import groupable
from ._write import write_grn

__all__ = ["correlation", "partial_correlation"]

#: fewest cells a baseline accepts
MIN_CELLS = 10
_CORR_METHODS = ("pearson", "spearman")


# --------------------------------------------------------------------------------------------
# helpers shared by the baseline tools (tl._trees, tl._information)
# --------------------------------------------------------------------------------------------
def _check_call(adata: AnnData, *, key_added, copy) -> tuple[str, bool]:
    """The checks every baseline runs first, before its own parameters and any work:
    ``adata`` is an AnnData, ``key_added`` a writable key, ``copy`` possible."""
    check_adata(adata)
    return check_key("key_added", key_added), check_copy(adata, copy)


def _baseline_input(adata: AnnData, *, tfs, layer: str | None, min_cells: int = MIN_CELLS):
    """Validated ``(X, tfs, regulator_index)``: X dense float32 cells x genes (a copy)."""
    check_adata(adata)
    tfs = as_tf_list(tfs, adata.var_names)  # a one-shot iterator is read once, before the checks below
    X = expression_matrix(adata, layer=layer, min_cells=min_cells, tfs=tfs)
    tf_list = check_tfs(tfs, adata.var_names)
    if tf_list is None:
        regulators = np.arange(adata.n_vars)
    else:
        regulators = np.sort(adata.var_names.get_indexer(tf_list))
    return X, tf_list, regulators


def _mask_rows(W: np.ndarray, regulators: np.ndarray) -> np.ndarray:
    """Zero the diagonal and every row that is not a regulator; return float32."""
    W = np.asarray(W, dtype=np.float32)
    np.fill_diagonal(W, 0.0)
    if regulators.size != W.shape[0]:
        keep = np.zeros(W.shape[0], dtype=bool)
        keep[regulators] = True
        W[~keep] = 0.0
    return W


def _store(
    adata: AnnData,
    W: np.ndarray,
    *,
    key_added: str,
    method: str,
    params: dict,
    tfs: list[str] | None,
    copy: bool,
    start,
    extra: dict | None = None,
    note: str = "GRN (row = regulator, column = target)",
) -> AnnData | None:
    """Write ``varp[key_added]`` and ``uns[key_added]`` (h5ad-writable) and log the finish;
    the one place baselines write, after everything is computed. Warns when the network has
    no edge at all (nothing to rank: every metric would depend only on the gene order)."""
    warn_if_empty(W, method)
    record = {"method": method, "version": __version__, "params": _clean(params)}
    if tfs is not None:
        record["tfs"] = list(tfs)
    if extra:
        record.update(_clean(extra))
    return write_grn(adata, np.asarray(W, dtype=np.float32), record, key_added=key_added, copy=copy,
                     start=start, note=note, record_note="method and parameters")


def _clean(d: dict) -> dict:
    """Replace values h5ad cannot store (None) and numpy scalars by plain Python values."""
    out = {}
    for k, v in d.items():
        if v is None:
            v = "None"
        elif isinstance(v, dict):
            v = _clean(v)
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def warn_if_empty(W, method: str, stacklevel: int = 4) -> None:
    """Warn when a GRN has no non-zero off-diagonal weight (``stacklevel``: the tool's caller)."""
    W = np.asarray(W)
    off_diagonal = np.count_nonzero(W) - (np.count_nonzero(np.diagonal(W)) if W.ndim == 2 else 0)
    if W.size and off_diagonal == 0:
        warnings.warn(
            f"{method}: every edge weight is zero, so the network ranks nothing (all edges tie). "
            "Check the input: too few cells or bins, constant genes, or too few regulators.",
            UserWarning,
            stacklevel=stacklevel,
        )


# --------------------------------------------------------------------------------------------
# correlation
# --------------------------------------------------------------------------------------------
def _rank(X: np.ndarray) -> np.ndarray:
    """Column-wise average ranks (Spearman), float64."""
    return rankdata(X, axis=0, method="average").astype(np.float64)


def _corr(X: np.ndarray) -> np.ndarray:
    """Pearson correlation of the columns of X (float64); constant columns give 0."""
    Xc = X - X.mean(axis=0, dtype=np.float64)
    norm = np.sqrt(np.einsum("ij,ij->j", Xc, Xc))
    with np.errstate(divide="ignore", invalid="ignore"):
        Z = np.where(norm > 0, Xc / norm, 0.0)
    C = Z.T @ Z
    np.clip(C, -1.0, 1.0, out=C)
    return C


def _check_method(method: str) -> str:
    return check_choice("method", method, _CORR_METHODS)


@groupable
def correlation(
    adata: AnnData,
    *,
    method: str = "pearson",
    tfs=None,
    layer: str | None = None,
    key_added: str | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Co-expression network: Pearson or Spearman correlation between genes.

    The simplest GRN baseline (BEELINE's "Pearson"/"Spearman" reference points). The
    matrix is symmetric, so it carries no direction; edges are ranked by ``|r|``.

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression.
    method
        ``"pearson"`` or ``"spearman"`` (Pearson correlation of the per-gene ranks).
    tfs
        Transcription factors: only their rows (out-edges) are kept; other rows are zero. A
        boolean mask over ``adata.var_names`` (e.g. ``adata.var['is_tf']``) selects the genes where
        it is ``True``.
    layer
        Read this layer instead of ``adata.X``.
    key_added
        Where results go; default: the method name (``"pearson"`` or ``"spearman"``).
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Writes

    ``adata.varp['pearson' | 'spearman' | key_added]``
        float32 genes x genes signed correlation, row = regulator, column = target,
        zero diagonal (and zero rows for non-TFs when ``tfs`` is given).
    ``adata.uns['pearson' | 'spearman' | key_added]``
        ``method``, ``version``, ``params`` (``method``, ``layer``) and ``tfs`` if given.

    Examples
    --------
    >>> import scgrn
    >>> adata, truth = scgrn.datasets.planted_network(n_genes=30, n_cells=200)
    >>> scgrn.tl.correlation(adata, method="spearman")
    >>> adata.varp["spearman"].shape, adata.uns["spearman"]["method"]
    ((30, 30), 'spearman')
    """
    method = _check_method(method)
    key_added, copy = _check_call(adata, key_added=method if key_added is None else key_added, copy=copy)
    start = logg.info(f"computing {method} correlation")
    X, tf_list, regulators = _baseline_input(adata, tfs=tfs, layer=layer)
    data = _rank(X) if method == "spearman" else X.astype(np.float64)
    W = _mask_rows(_corr(data), regulators)
    params = {"method": method, "layer": "X" if layer is None else layer}
    return _store(adata, W, key_added=key_added, method=method, params=params, tfs=tf_list,
                  copy=copy, start=start)


# --------------------------------------------------------------------------------------------
# partial correlation
# --------------------------------------------------------------------------------------------
def _precision(C: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric matrix: Cholesky when positive definite, else pseudo-inverse."""
    try:
        factor = linalg.cho_factor(C, lower=True, check_finite=False)
        return linalg.cho_solve(factor, np.eye(C.shape[0]), check_finite=False)
    except linalg.LinAlgError:
        return linalg.pinvh(C, check_finite=False)


@groupable
def partial_correlation(
    adata: AnnData,
    *,
    method: str = "pearson",
    shrinkage: str | bool = "auto",
    tfs=None,
    layer: str | None = None,
    key_added: str = "partial_correlation",
    copy: bool = False,
) -> AnnData | None:
    """Partial correlation network (ppcor-style), from the precision matrix.

    The partial correlation of genes ``i`` and ``j`` given all other genes is
    ``-P_ij / sqrt(P_ii P_jj)`` with ``P`` the inverse of the correlation matrix, as R's
    ``ppcor::pcor`` computes it (BEELINE's "PPCOR"). When genes outnumber cells the
    correlation matrix is singular; then (or always, with ``shrinkage=True``) it is first
    shrunk towards the identity with the Ledoit-Wolf estimator
    (:func:`sklearn.covariance.ledoit_wolf` on the standardised data), which keeps the
    inverse well conditioned. Symmetric: the matrix carries no direction.

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression.
    method
        ``"pearson"`` or ``"spearman"`` (on per-gene ranks), as ``ppcor``'s ``method``.
    shrinkage
        ``"auto"``: Ledoit-Wolf only when ``n_genes >= n_cells`` (genes that vary; or the correlation matrix
        is not positive definite); ``True``: always; ``False``: never (a singular matrix is
        then pseudo-inverted, as ``ppcor`` does).
    tfs
        Transcription factors: only their rows (out-edges) are kept; other rows are zero. A
        boolean mask over ``adata.var_names`` (e.g. ``adata.var['is_tf']``) selects the genes where
        it is ``True``.
    layer
        Read this layer instead of ``adata.X``.
    key_added
        Where results go.
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Writes

    ``adata.varp['partial_correlation' | key_added]``
        float32 genes x genes signed partial correlation, row = regulator, column = target,
        zero diagonal. A gene with the same value in every cell has no edge (zero row and
        column), and the others' partial correlations are computed without it.
    ``adata.uns['partial_correlation' | key_added]``
        ``method``, ``version``, ``params`` (``method``, ``shrinkage``, ``layer``),
        ``shrinkage_intensity`` (the Ledoit-Wolf intensity used, 0 for none) and ``tfs``.

    Examples
    --------
    >>> import scgrn
    >>> adata, truth = scgrn.datasets.planted_network(n_genes=30, n_cells=200)
    >>> scgrn.tl.partial_correlation(adata)
    >>> adata.varp["partial_correlation"].dtype, adata.uns["partial_correlation"]["shrinkage_intensity"]
    (dtype('float32'), 0.0)
    """
    method = _check_method(method)
    key_added, copy = _check_call(adata, key_added=key_added, copy=copy)
    shrinkage = check_choice("shrinkage", shrinkage, ("auto", True, False))
    start = logg.info(f"computing partial correlation ({method})")
    X, tf_list, regulators = _baseline_input(adata, tfs=tfs, layer=layer)
    data = _rank(X) if method == "spearman" else X.astype(np.float64)
    n_cells = data.shape[0]
    # a constant gene has no partial correlation, and conditioning on it changes nothing: the others'
    # network is computed without it. Kept in, it made the correlation matrix singular, so "auto"
    # shrank every gene's partial correlations, and shrinkage=False gave the constant gene itself
    # edges of |r| up to 1 (the pseudo-inverse's rounding residue divided by its ~0 diagonal)
    sd = data.std(axis=0)
    varying = sd > 0
    data, sd = data[:, varying], sd[varying]
    n_genes = data.shape[1]
    Z = (data - data.mean(axis=0)) / sd
    C = (Z.T @ Z) / n_cells
    intensity = 0.0
    use_lw = shrinkage is True or (shrinkage == "auto" and n_genes >= n_cells)
    if shrinkage == "auto" and not use_lw and n_genes:
        try:
            linalg.cho_factor(C, lower=True, check_finite=False)
        except linalg.LinAlgError:
            use_lw = True
    if use_lw and n_genes:
        from sklearn.covariance import ledoit_wolf

        C, intensity = ledoit_wolf(Z, assume_centered=True)
        intensity = float(intensity)
    pcor = np.zeros((varying.size, varying.size))
    if n_genes:
        P = _precision(C)
        d = np.sqrt(np.clip(np.diag(P), 1e-300, None))
        block = -P / np.outer(d, d)
        np.clip(block, -1.0, 1.0, out=block)
        pcor[np.ix_(varying, varying)] = block
    W = _mask_rows(pcor, regulators)
    params = {"method": method, "shrinkage": str(shrinkage), "layer": "X" if layer is None else layer}
    return _store(adata, W, key_added=key_added, method="partial_correlation", params=params,
                  tfs=tf_list, copy=copy, start=start, extra={"shrinkage_intensity": intensity})
