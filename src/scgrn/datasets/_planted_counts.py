"""Sparse UMI-like counts from a planted TF -> target network, at transcriptome scale."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from .._params import check_bool, check_float, check_int, check_random_state

__all__ = ["planted_counts"]

#: cells generated at a time (bounds the dense temporaries to this many rows)
_CHUNK_CELLS = 2048


def planted_counts(
    *,
    n_genes: int = 2000,
    n_cells: int = 5000,
    n_tfs: int = 200,
    regulators_per_target: int = 2,
    n_programs: int = 10,
    mean_count: float = 0.5,
    log_normalise: bool = True,
    random_state: int | None = 0,
) -> tuple[ad.AnnData, pd.DataFrame]:
    """Simulate sparse counts, cells x genes, from a known TF -> target network.

    Each cell has an activity ``a_t`` for every TF: a mix of ``n_programs`` shared cell
    programs (so that TFs co-vary, as they do across cell states) plus the TF's own noise,
    standardised. A TF's own expression follows its activity; each target gene has
    ``regulators_per_target`` TFs drawn at random, with signed weights ``w`` (``|w|`` uniform
    in [0.4, 1.0]), and its log-rate is ``b_g + sum_t w_tg a_t`` (``b_g`` a per-gene base so
    that gene means spread over two orders of magnitude around ``mean_count``). Counts are
    Poisson with a per-cell library-size factor (log-normal, sd 0.3). Memory: the output
    and one chunk of ``2048`` dense rows.

    Parameters
    ----------
    n_genes
        Genes in all (TFs included).
    n_cells
        Cells.
    n_tfs
        Transcription factors (the first ``n_tfs`` var_names are not the TFs: they sit at
        random columns, flagged in ``var['is_tf']``).
    regulators_per_target
        TFs regulating each non-TF gene.
    n_programs
        Shared cell programs behind the TF activities.
    mean_count
        Typical mean count of a gene (sets the sparsity: 0.5 leaves about 70 % zeros).
    log_normalise
        ``True``: ``X`` is ``log1p(counts / library * median library)`` (scanpy's
        ``normalize_total`` + ``log1p``) and the counts go to ``layers['counts']``;
        ``False``: ``X`` holds the counts.
    random_state
        Seed; the same seed gives the same data. ``None`` draws a fresh seed, recorded in
        ``uns['planted_counts']['random_state']``.

    Returns
    -------
    adata
        CSR float32 ``X``; ``var['is_tf']``; ``uns['planted_counts']`` the parameters.
    truth
        The planted edges, decoupler's long format: ``source``, ``target``, ``weight``.

    Examples
    --------
    >>> import scgrn
    >>> adata, truth = scgrn.datasets.planted_counts(n_genes=100, n_cells=200, n_tfs=10)
    >>> adata.shape, int(adata.var["is_tf"].sum()), len(truth)
    ((200, 100), 10, 180)
    """
    n_genes = check_int("n_genes", n_genes, min=2)
    n_cells = check_int("n_cells", n_cells, min=1)
    n_tfs = check_int("n_tfs", n_tfs, min=1, max=n_genes - 1)
    regulators_per_target = check_int("regulators_per_target", regulators_per_target, min=1, max=n_tfs)
    n_programs = check_int("n_programs", n_programs, min=1)
    mean_count = check_float("mean_count", mean_count, min=0, min_open=True)
    log_normalise = check_bool("log_normalise", log_normalise)
    seed = check_random_state(random_state)
    rng = np.random.default_rng(seed)
    names = np.array([f"g{i}" for i in range(n_genes)])
    tf_cols = np.sort(rng.choice(n_genes, n_tfs, replace=False))
    target_cols = np.setdiff1d(np.arange(n_genes), tf_cols)

    # planted edges: every non-TF gene gets `regulators_per_target` distinct TFs
    picks = np.argsort(rng.random((len(target_cols), n_tfs)), axis=1)[:, :regulators_per_target]
    src = picks.ravel()
    dst = np.repeat(np.arange(len(target_cols)), regulators_per_target)
    weight = rng.uniform(0.4, 1.0, src.size) * rng.choice([-1.0, 1.0], src.size)
    w = sparse.csr_matrix((weight, (src, dst)), shape=(n_tfs, len(target_cols)))

    base = np.log(mean_count) + rng.normal(0, 1.0, n_genes)
    loadings = rng.normal(0, 1, (n_programs, n_tfs)) / np.sqrt(n_programs)
    blocks = []
    for start in range(0, n_cells, _CHUNK_CELLS):
        m = min(_CHUNK_CELLS, n_cells - start)
        activity = rng.normal(0, 1, (m, n_programs)) @ loadings + 0.7 * rng.normal(0, 1, (m, n_tfs))
        activity /= np.sqrt(1.0 + 0.49)
        log_rate = np.empty((m, n_genes))
        log_rate[:, tf_cols] = base[tf_cols] + 0.8 * activity
        log_rate[:, target_cols] = base[target_cols] + np.asarray(w.T.dot(activity.T).T)
        library = np.exp(rng.normal(0, 0.3, (m, 1)))
        counts = rng.poisson(np.exp(np.clip(log_rate, None, 8)) * library).astype(np.float32)
        blocks.append(sparse.csr_matrix(counts))
    counts = sparse.vstack(blocks, format="csr")
    adata = ad.AnnData(counts, var=pd.DataFrame({"is_tf": np.isin(np.arange(n_genes), tf_cols)}, index=names))
    adata.obs_names = [f"c{i}" for i in range(n_cells)]
    if log_normalise:
        adata.layers["counts"] = counts.copy()
        totals = np.asarray(counts.sum(1)).ravel()
        scale = np.median(totals[totals > 0]) / np.where(totals > 0, totals, 1.0)
        x = sparse.diags(scale.astype(np.float32)) @ counts
        x.data = np.log1p(x.data)
        adata.X = x.tocsr().astype(np.float32)
    adata.uns["planted_counts"] = {
        "n_tfs": int(n_tfs), "regulators_per_target": int(regulators_per_target),
        "n_programs": int(n_programs), "mean_count": float(mean_count),
        "log_normalise": bool(log_normalise), "random_state": seed,
    }
    truth = pd.DataFrame({"source": names[tf_cols[src]], "target": names[target_cols[dst]], "weight": weight})
    return adata, truth
