"""Synthetic expression generated from a known, directed regulatory network."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from .._params import check_bool, check_float, check_int, check_random_state

__all__ = ["planted_network"]


def planted_network(
    *,
    n_genes: int = 30,
    n_cells: int = 500,
    n_regulators: int = 5,
    targets_per_regulator: int = 4,
    noise: float = 0.3,
    nonlinear: bool = True,
    cascade: bool = False,
    random_state: int | None = 0,
) -> tuple[ad.AnnData, pd.DataFrame]:
    """Simulate cells from a planted hub network whose edge direction is recoverable.

    ``n_regulators`` hub regulators are independent, non-Gaussian sources (each a two-state
    mixture: a bimodal gene, switched on in a random 30-70 % of cells, plus Gaussian jitter,
    standardised). Each regulator drives ``targets_per_regulator`` targets of its own through
    ``x_t = w * f(x_r) + noise * eps`` with ``f = tanh`` (``nonlinear=True``) or the identity,
    ``eps ~ N(0, 1)`` and weights of random sign with ``|w|`` uniform in [0.5, 1.5]. Because
    the sources are non-Gaussian and the targets carry their own noise, the direction of each
    edge is identifiable (LiNGAM / additive-noise-model arguments), not only its presence.
    With ``cascade=True`` some targets (one for every second regulator) regulate further
    genes the same way (a two-layer cascade); those genes then count as regulators too. All
    other genes are independent ``N(0, 1)`` noise. Gene roles are placed at random columns.

    Parameters
    ----------
    n_genes
        Total number of genes; at least ``n_regulators * (1 + targets_per_regulator)``.
    n_cells
        Number of cells.
    n_regulators
        Number of hub regulators.
    targets_per_regulator
        Targets per hub regulator (disjoint between regulators).
    noise
        Standard deviation of the Gaussian noise added to every target.
    nonlinear
        Use ``tanh`` of the regulator (else linear regulation).
    cascade
        Add a second layer: some targets regulate genes that would otherwise be noise (uses
        up to ``(n_regulators + 1) // 2 * max(1, targets_per_regulator // 2)`` of them).
    random_state
        Seed; the output is identical for the same seed and arguments. ``None`` draws a
        fresh seed, recorded in ``uns['dataset']['params']['random_state']``.

    Returns
    -------
    adata
        Cells x genes, ``X`` float32 (continuous, zero-centred scale; z-score rather than
        log-transform it). ``adata.var['is_tf']``: gene regulates at least one other gene.
        ``adata.uns['dataset']``: ``name`` and ``params``.
    network
        The planted edges, columns ``source``, ``target``, ``weight`` (signed).

    Examples
    --------
    >>> from scgrn.datasets import planted_network
    >>> adata, net = planted_network(n_genes=30, n_cells=200, random_state=0)
    >>> adata.shape, len(net), int(adata.var["is_tf"].sum())
    ((200, 30), 20, 5)
    """
    n_genes = check_int("n_genes", n_genes, min=1)
    n_cells = check_int("n_cells", n_cells)
    n_regulators = check_int("n_regulators", n_regulators, min=1)
    targets_per_regulator = check_int("targets_per_regulator", targets_per_regulator, min=1)
    noise = check_float("noise", noise, min=0)
    nonlinear = check_bool("nonlinear", nonlinear)
    cascade = check_bool("cascade", cascade)
    seed = check_random_state(random_state)
    n_net = n_regulators * (1 + targets_per_regulator)
    if n_genes < n_net:
        raise ValueError(
            f"n_genes={n_genes} is too small for {n_regulators} regulators with "
            f"{targets_per_regulator} targets each ({n_net} genes needed). Increase n_genes or "
            "lower n_regulators / targets_per_regulator."
        )
    if n_cells < 2:
        raise ValueError(f"n_cells={n_cells}: need at least 2 cells.")

    rng = np.random.default_rng(seed)
    f = np.tanh if nonlinear else (lambda v: v)
    perm = rng.permutation(n_genes)
    regs = perm[:n_regulators]
    targets = perm[n_regulators:n_net].reshape(n_regulators, targets_per_regulator)
    rest = list(perm[n_net:])

    X = rng.standard_normal((n_cells, n_genes))  # noise genes (overwritten for network genes)

    # independent, bimodal (non-Gaussian) regulators
    p_on = rng.uniform(0.3, 0.7, n_regulators)
    level = rng.uniform(1.5, 3.0, n_regulators)
    on = rng.random((n_cells, n_regulators)) < p_on
    src = on * level + 0.4 * rng.standard_normal((n_cells, n_regulators))
    src = (src - src.mean(0)) / src.std(0)
    X[:, regs] = src

    def _weights(k: int) -> np.ndarray:
        return rng.choice([-1.0, 1.0], size=k) * rng.uniform(0.5, 1.5, size=k)

    edges = []
    for i, r in enumerate(regs):
        w = _weights(targets_per_regulator)
        t = targets[i]
        X[:, t] = f(X[:, [r]]) * w + noise * rng.standard_normal((n_cells, len(t)))
        edges += [(r, tj, wj) for tj, wj in zip(t, w)]

    if cascade:
        per = max(1, targets_per_regulator // 2)
        for i in range(0, n_regulators, 2):
            if len(rest) < per:
                break
            parent = targets[i][0]
            t = np.array(rest[:per])
            rest = rest[per:]
            w = _weights(per)
            X[:, t] = f(X[:, [parent]]) * w + noise * rng.standard_normal((n_cells, per))
            edges += [(parent, tj, wj) for tj, wj in zip(t, w)]

    width = len(str(n_genes - 1))
    genes = np.array([f"g{i:0{width}d}" for i in range(n_genes)])
    cells = [f"cell{i:0{len(str(n_cells - 1))}d}" for i in range(n_cells)]
    net = pd.DataFrame(
        {
            "source": genes[[e[0] for e in edges]],
            "target": genes[[e[1] for e in edges]],
            "weight": np.array([e[2] for e in edges], dtype=np.float64),
        }
    )
    adata = ad.AnnData(
        X=X.astype(np.float32),
        obs=pd.DataFrame(index=pd.Index(cells)),
        var=pd.DataFrame(index=pd.Index(genes)),
    )
    adata.var["is_tf"] = adata.var_names.isin(set(net["source"]))
    adata.uns["dataset"] = {
        "name": "planted_network",
        "params": {
            "n_genes": int(n_genes),
            "n_cells": int(n_cells),
            "n_regulators": int(n_regulators),
            "targets_per_regulator": int(targets_per_regulator),
            "noise": float(noise),
            "nonlinear": bool(nonlinear),
            "cascade": bool(cascade),
            "random_state": seed,
        },
    }
    return adata, net
