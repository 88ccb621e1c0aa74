"""The DeepSEM paper's rare-population augmentation experiment."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from numbers import Real

import numpy as np
import pandas as pd
from anndata import AnnData
from scanpy import logging as logg

from .._params import check_float, check_fractions, check_int
from .._validate import check_random_state, expression_matrix

__all__ = ["augmentation"]

DEFAULT_FRACTIONS = (0.5, 0.25, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005)
ARMS = ("none", "upsample", "simulate", "copula")


def _log_scale(x: np.ndarray, counts: bool, target_sum: float | None) -> np.ndarray:
    if not counts:
        return x
    lib = x.sum(1, keepdims=True)
    return np.log1p(x / np.where(lib > 0, lib, 1.0) * target_sum)


def _check_fractions(fractions) -> list[float]:
    """``fractions`` as floats in ``(0, 1]``; 0 is refused saying that at least one cell is kept."""
    if isinstance(fractions, Iterable) and not isinstance(fractions, (str, bytes)):
        fractions = list(fractions)
        zero = [i for i, f in enumerate(fractions) if isinstance(f, Real) and not isinstance(f, bool) and f == 0]
        if zero:
            raise ValueError(
                f"fractions[{zero[0]}] is 0, which would keep none of the target's training cells; the classifier "
                "needs at least one, and each fraction keeps max(1, round(fraction * n)) of the n cells. For the "
                "fewest (one cell), pass a fraction of at most 1 / n, e.g. fractions=(0.001,)."
            )
    return check_fractions("fractions", fractions, of="the target's training cells", example="(0.1, 0.01)")


def augmentation(
    adata: AnnData,
    *,
    groupby: str,
    target: str,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    n_added: int = 2000,
    arms: Sequence[str] = ("none", "upsample", "simulate"),
    layer: str | None = None,
    test_size: float = 0.2,
    n_pcs: int = 50,
    n_trees: int = 100,
    simulate_kwargs: dict | None = None,
    random_state: int = 0,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Does adding simulated cells help a classifier find a rare cell type?

    The DeepSEM paper's experiment (Shu et al. 2021, Fig. 5): split the cells into training
    and test sets (stratified, ``test_size``); keep only a fraction of the ``target`` type's
    training cells; optionally add ``n_added`` cells of that type; train a random forest on
    the first ``n_pcs`` principal components (fitted on the real training cells) to tell
    ``target`` from all other cells; score the average precision (AUPR) on the untouched
    test set. Counts are normalised to the median library size and log1p-transformed for
    the classifier (the simulators see the input scale).

    Arms: ``"none"`` (downsampled data only), ``"upsample"`` (the kept target cells drawn
    again with replacement), ``"simulate"`` (:func:`scgrn.tl.simulate` trained on the kept
    target cells only), ``"copula"`` (:func:`scgrn.tl.simulate_baseline` likewise).
    Simulation needs at least 2 kept cells; below that the row's ``aupr`` is NaN.

    Parameters
    ----------
    adata
        Cells x genes, counts or log-normalised (``X`` or ``layer``).
    groupby, target
        Column of ``adata.obs`` with the cell types, and the rare type.
    fractions
        Shares of the target's training cells to keep (nested subsets), each in ``(0, 1]``.
        A share keeps ``max(1, round(fraction * n))`` of the ``n`` cells, so at least one
        (``n_target_kept`` in the table); 0 raises a ``ValueError``.
    n_added
        Cells added in the augmenting arms.
    arms
        Any of ``"none"``, ``"upsample"``, ``"simulate"``, ``"copula"``.
    layer, test_size, n_pcs, n_trees
        Input layer, test share, principal components, trees of the forest.
    simulate_kwargs
        Passed to :func:`scgrn.tl.simulate` (e.g. ``n_epochs``).
    random_state
        Seed of the split, the downsampling, the simulators, PCA and forest.
    n_jobs
        Parallel jobs of the forest.

    Returns
    -------
    DataFrame with one row per fraction and arm: ``target``, ``fraction``,
    ``n_target_kept``, ``arm``, ``n_added``, ``aupr``, ``prevalence`` (the test set's share
    of target cells: a random classifier's AUPR) and ``seconds``.

    Examples
    --------
    >>> import scgrn
    >>> adata, _ = scgrn.datasets.krumsiek11()
    >>> adata.X = adata.X.clip(0)
    >>> res = scgrn.bench.augmentation(adata, groupby="cell_type", target="Mk", fractions=(0.5,),
    ...                                arms=("none", "upsample"), n_added=100, n_trees=20)
    >>> res[["fraction", "arm"]].values.tolist()
    [[0.5, 'none'], [0.5, 'upsample']]
    """
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import train_test_split

    from .._validate import looks_like_counts
    from ..tl._simulate import simulate, simulate_baseline

    random_state = check_random_state(random_state)
    fractions = _check_fractions(fractions)
    test_size = check_float("test_size", test_size, min=0, max=1, min_open=True, max_open=True)
    n_pcs = check_int("n_pcs", n_pcs, min=1)
    bad = [a for a in arms if a not in ARMS]
    if bad:
        raise ValueError(f"unknown arm(s) {bad}; choose from {ARMS}.")
    if groupby not in adata.obs:
        raise KeyError(f"groupby={groupby!r} is not a column of adata.obs.")
    labels = adata.obs[groupby].astype(str).to_numpy()
    if str(target) not in set(labels):
        raise ValueError(f"target={target!r} is not a value of adata.obs[{groupby!r}].")
    x = expression_matrix(adata, layer=layer, min_cells=10, expect=None)
    counts = looks_like_counts(x)
    idx_tr, idx_te = train_test_split(
        np.arange(adata.n_obs), test_size=test_size, stratify=labels, random_state=random_state
    )
    rng = np.random.default_rng(random_state)
    is_target_tr = labels[idx_tr] == str(target)
    target_tr = rng.permutation(idx_tr[is_target_tr])  # nested subsets: a prefix per fraction
    others_tr = idx_tr[~is_target_tr]
    lib = x[idx_tr].sum(1)
    target_sum = float(np.median(lib[lib > 0])) if counts else None
    x_te = _log_scale(x[idx_te], counts, target_sum)
    y_te = (labels[idx_te] == str(target)).astype(int)
    var = adata.var.copy()
    rows = []
    start = logg.info(f"augmentation benchmark for {target!r} ({len(target_tr)} training cells)")
    for f in fractions:
        k = max(1, int(round(f * len(target_tr))))
        kept = target_tr[:k]
        base_idx = np.concatenate([others_tr, kept])
        x_base = _log_scale(x[base_idx], counts, target_sum)
        y_base = np.r_[np.zeros(len(others_tr), int), np.ones(k, int)]
        n_comp = int(min(n_pcs, x_base.shape[0] - 1, x_base.shape[1]))
        pca = PCA(n_components=n_comp, random_state=random_state).fit(x_base)
        for arm in arms:
            t0 = time.perf_counter()
            added = None
            if arm == "upsample":
                added = x[kept[rng.integers(k, size=n_added)]]
            elif arm in ("simulate", "copula") and k >= 2:
                kept_ad = AnnData(x[kept], var=var)
                if arm == "simulate":
                    kw = {"show_progress_bar": False, "random_state": random_state, **(simulate_kwargs or {})}
                    sim = simulate(kept_ad, n_obs=n_added, **kw)
                else:
                    sim = simulate_baseline(kept_ad, method="copula", n_obs=n_added, random_state=random_state)
                added = np.asarray(sim.X.toarray() if hasattr(sim.X, "toarray") else sim.X, dtype=np.float32)
            if arm in ("simulate", "copula") and k < 2:
                aupr = np.nan
            else:
                xs, ys = x_base, y_base
                if added is not None:
                    xs = np.vstack([x_base, _log_scale(added, counts, target_sum)])
                    ys = np.r_[y_base, np.ones(len(added), int)]
                clf = RandomForestClassifier(n_estimators=n_trees, random_state=random_state, n_jobs=n_jobs)
                clf.fit(pca.transform(xs), ys)
                aupr = float(average_precision_score(y_te, clf.predict_proba(pca.transform(x_te))[:, 1]))
            rows.append({
                "target": str(target), "fraction": float(f), "n_target_kept": k, "arm": arm,
                "n_added": 0 if added is None else len(added), "aupr": aupr,
                "prevalence": float(y_te.mean()), "seconds": time.perf_counter() - t0,
            })
    logg.info("    finished", time=start)
    return pd.DataFrame(rows)
