"""What scale the data are on: raw counts, z-scored, normalised but not logged, or beyond
float32 (heuristics on a column summary, each with the error or warning that names the fix)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ._matrix import FLOAT32_MAX, ColumnSummary, column_variance
from ._names import _fmt_names

#: non-negative integers with a maximum above this look like raw counts (log1p of counts stays
#: far below it); the one rule for the warning here, tl.simulate's scale and the realism metric
COUNTS_MIN_MAX = 30


def looks_like_counts(x: np.ndarray) -> bool:
    """Whether a dense matrix looks like raw counts: non-negative integers, maximum above
    :data:`COUNTS_MIN_MAX`.

    Examples
    --------
    >>> looks_like_counts(np.array([[0.0, 3.0], [41.0, 7.0]])), looks_like_counts(np.log1p([[0.0, 41.0]]))
    (True, False)
    """
    return bool(x.size and (x >= 0).all() and np.all(x == np.round(x)) and float(x.max()) > COUNTS_MIN_MAX)


#: non-negative, non-integer values above this are not on a log scale: log1p of any count stays far
#: below it (log1p(10^4) = 9.2, log1p(10^6) = 13.8; log2(TPM + 1) < 20), while normalised but
#: unlogged data (`sc.pp.normalize_total` without `sc.pp.log1p`) reach hundreds to thousands
LINEAR_MIN_MAX = 50


def looks_linear_scale(peak: float, low: float, nonneg_integer: bool) -> bool:
    """Whether a matrix looks normalised but not log-transformed: non-negative, not all
    integers (raw counts are :func:`looks_like_counts`), maximum above :data:`LINEAR_MIN_MAX`.

    Examples
    --------
    >>> looks_linear_scale(5955.3, 0.0, False), looks_linear_scale(9.2, 0.0, False)
    (True, False)
    """
    return (not nonneg_integer) and low >= 0 and peak > LINEAR_MIN_MAX


def warn_linear_scale(where: str, peak: float, *, stacklevel: int) -> None:
    """The warning for data that :func:`looks_linear_scale` where log-normalised data are expected."""
    warnings.warn(
        f"{where} looks normalised but not log-transformed (non-negative, non-integer values up to "
        f"{peak:g}; log-normalised expression stays below {LINEAR_MIN_MAX}: log1p of 10^4 counts is "
        "9.2), but log-normalised expression is expected. Was `sc.pp.log1p(adata)` skipped after "
        "`sc.pp.normalize_total(adata)`? Run it, or pass the log-normalised layer with layer=.",
        UserWarning,
        stacklevel=stacklevel + 1,
    )


#: a gene's variance within this relative distance of 1 (population or sample variance) is "unit"
UNIT_VARIANCE_TOL = 1e-3


def _gene_moments(summary: ColumnSummary) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per gene: mean, population variance, and whether it varies (beyond rounding)."""
    mean, var = column_variance(summary)
    return mean, var, var > 1e-8 * np.maximum(1.0, mean**2)


def _unit_variance_genes(summary: ColumnSummary) -> tuple[int, int, float]:
    """``(genes with unit variance, genes with any variance, largest variance)`` from a
    :func:`summarise_columns` pass.

    "Unit" allows both conventions of scaling: population variance 1, or sample variance 1
    (``sc.pp.scale`` divides by the sample standard deviation, which leaves a population
    variance of ``(n - 1) / n``)."""
    n = summary.n_rows
    if n < 2:
        return 0, 0, 0.0
    _, var, varying = _gene_moments(summary)
    unit = varying & (
        (np.abs(var - 1.0) <= UNIT_VARIANCE_TOL) | (np.abs(var * n / (n - 1) - 1.0) <= UNIT_VARIANCE_TOL)
    )
    return int(unit.sum()), int(varying.sum()), float(var.max(initial=0.0))


def looks_z_scored(summary: ColumnSummary) -> bool:
    """Whether a matrix looks scaled per gene (z-scored, e.g. by ``sc.pp.scale``).

    At least 3 genes have a variance within :data:`UNIT_VARIANCE_TOL` (0.1 %) of 1, and
    either a fifth of the varying genes do, or 2 % do while no gene's variance exceeds 1
    (``sc.pp.scale(max_value=)`` clips the rare genes, which lowers their variance, so on
    sparse data only a minority keeps exactly 1, but none ends above it).

    Log-normalised expression has gene variances spread over orders of magnitude: a few land
    within 0.1 % of 1 by chance (0.1-0.3 % of the genes in real data sets), never a fifth,
    nor 2 % with every other gene below. Centring (negative values) is not required:
    ``sc.pp.scale(zero_center=False)`` equalises the variances just the same.

    Data scaled on more cells than are left (scanpy's ``pbmc68k_reduced``: scaled on 68,000
    cells, 700 kept) no longer have unit variances (0.33-1.95 there) but are still centred, with
    variances bunched around 1; that counts too (:func:`_scaled_then_subset`).

    Examples
    --------
    >>> from scgrn._matrix import summarise_columns
    >>> x = np.random.default_rng(0).gamma(1.0, size=(200, 30))
    >>> looks_z_scored(summarise_columns(np.log1p(x)))
    False
    >>> looks_z_scored(summarise_columns((x - x.mean(0)) / x.std(0)))
    True
    >>> looks_z_scored(summarise_columns(((x - x.mean(0)) / x.std(0))[:50]))  # scaled, then subset
    True
    >>> looks_z_scored(summarise_columns(x - x.mean(0)))  # centred, not scaled
    False
    """
    if _scaled_then_subset(summary):
        return True
    unit, varying, top = _unit_variance_genes(summary)
    if unit < 3:
        return False
    return unit >= 0.2 * varying or (unit >= 0.02 * varying and top <= 1.0 + UNIT_VARIANCE_TOL)


def _centred_genes(summary: ColumnSummary) -> tuple[int, int]:
    """``(varying genes with a negative mean, varying genes)``: centred data have about half
    their genes below 0 on average; log-normalised expression has none."""
    if summary.n_rows < 2 or summary.min >= 0:
        return 0, 0
    mean, var, varying = _gene_moments(summary)
    # a negative mean well beyond rounding: below a hundredth of the gene's standard deviation
    negative = varying & (mean < -0.01 * np.sqrt(var))
    return int(negative.sum()), int(varying.sum())


def _scaled_then_subset(summary: ColumnSummary) -> bool:
    """Centred (a fifth of the genes with a negative mean), at least 20 varying genes, and 95 %
    of them with a variance between 0.5 and 2: z-scored on more cells than are left.

    scanpy's ``pbmc68k_reduced``: 99 % of its 765 genes in that band, 35 % with a negative mean.
    Centred data that were never scaled keep their spread of variances (scgrn's planted
    networks, centred by construction: 73-77 % in the band), as does log expression."""
    negative, n_varying = _centred_genes(summary)
    if n_varying < 20 or negative < 0.2 * n_varying:
        return False
    _, var, varying = _gene_moments(summary)
    var = var[varying]
    return bool(np.mean((var >= 0.5) & (var <= 2.0)) >= 0.95)


def check_not_z_scored(summary: ColumnSummary, where: str, why: str) -> None:
    """Refuse a matrix that :func:`looks_z_scored`, for a tool whose result ``why`` explains
    scaling destroys (e.g. ranking genes by their variance)."""
    if not looks_z_scored(summary):
        return
    unit, varying, _ = _unit_variance_genes(summary)
    negative, _ = _centred_genes(summary)
    evidence = f"{unit} of its {varying} varying genes have variance 1"
    if negative:
        evidence += f", and {negative} have a negative mean (centred; log expression is never negative)"
    raise ValueError(
        f"{where} looks z-scored (scaled per gene, e.g. by `sc.pp.scale`): {evidence}. {why} Pass "
        "log-normalised expression instead: a layer kept before scaling (`adata.layers['log'] = adata.X.copy()` before `sc.pp.scale`, "
        "then layer='log'), or the log data in adata.raw, e.g. `full = adata.raw.to_adata()` and "
        "run on `full`, then subset adata to the genes it selects."
    )


def _check_float32_range(summary: ColumnSummary, var_names: pd.Index, where: str) -> None:
    """Raise when finite values exceed the float32 range: every tool computes in float32, where
    they would become infinite and silently zero (or break) the genes holding them."""
    big = summary.beyond_float32
    if big is None or not big.any():
        return
    genes = var_names[big > 0]
    raise ValueError(
        f"{where} contains {int(big.sum())} value(s) beyond the float32 range (|x| > "
        f"{FLOAT32_MAX:.3g}), in {len(genes)} gene(s) (e.g. {_fmt_names(list(genes), 3)}). scgrn "
        "computes in float32, where they would become infinite. Such values are not expression "
        "levels: log-normalise the data (`sc.pp.normalize_total(adata); sc.pp.log1p(adata)`), or "
        "remove or clip them, e.g. `X = np.clip(X, -1e30, 1e30)`."
    )
