"""Perturbation screens: a stochastic simulator with a known network, and two real screens
(scMAGeCK CROP-seq, Papalexi 2021 ECCITE-seq)."""

from __future__ import annotations

import os

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from .._params import check_bool, check_float, check_int, check_random_state
from ._paths import _subdir, data_dir as _data_dir

__all__ = ["simulate_perturbation_screen", "crop_seq", "papalexi2021", "CONTROL"]

#: Label of control (unperturbed / non-targeting) cells in ``obs["perturbation"]``.
CONTROL = "control"

_CROP_SEQ_FILE = "scmageck_crop-seq_28genes.h5ad"
_NON_TARGETING = "NonTargetingControlGuideForHuman"


def _hill(x: np.ndarray, k: np.ndarray, n: float) -> np.ndarray:
    xn = np.power(np.maximum(x, 0.0), n)
    return xn / (np.power(k, n) + xn)


def simulate_perturbation_screen(
    *,
    n_genes: int = 50,
    n_perturbations: int = 20,
    n_double: int = 10,
    n_cells_per_perturbation: int = 100,
    n_control: int = 500,
    n_regulators: int | None = None,
    edge_density: float = 0.1,
    hill_coefficient: float = 2.0,
    noise: float = 0.3,
    knockout_efficiency: float = 1.0,
    dt: float = 0.02,
    t_end: float = 12.0,
    random_state: int | None = 0,
) -> tuple[ad.AnnData, pd.DataFrame]:
    """Simulate a pooled knockout screen (single and double knockouts) on a known sparse GRN.

    Gene ``i`` follows Hill-type kinetics with additive regulatory inputs,

    .. math::

        dx_i = \\big(k_i\\,[\\beta_i + \\sum_{j \\to i} w_{ji}\\,h^{\\pm}(x_j)]
               - \\gamma_i x_i\\big)\\,dt
               + \\sigma \\sqrt{k_i[\\ldots] + \\gamma_i x_i}\\;dW_i,

    with ``h+(x) = x^n / (K^n + x^n)`` for activation and ``h-(x) = 1 - h+(x)`` for
    repression (chemical-Langevin-like intrinsic noise of size ``noise``). The first
    ``n_regulators`` genes of a random order regulate: each regulator -> gene pair (no
    self-pairs) is an edge with probability ``edge_density`` (at least one target per
    regulator); regulators may regulate each other, so cycles occur. Half-maximal constants
    ``K`` sit at each regulator's control steady state, so every edge is in its sensitive
    range. A knockout multiplies the production of the targeted gene by
    ``1 - knockout_efficiency``. Every cell is integrated independently with
    Euler-Maruyama from the deterministic control steady state for ``t_end`` time units
    (about 10 mean lifetimes), so the cells sample the stationary distribution of their
    condition. Values are clipped at zero.

    The perturbed genes are the regulators first (a regulator screen), then random
    non-regulators (whose knockouts change only themselves: negative controls). Double
    knockouts are random distinct pairs of the singly perturbed genes.

    Parameters
    ----------
    n_genes
        Genes.
    n_perturbations
        Singly knocked-out genes (at most ``n_genes``).
    n_double
        Double knockouts (pairs of singly knocked-out genes).
    n_cells_per_perturbation
        Cells per perturbation (single or double).
    n_control
        Control (unperturbed) cells.
    n_regulators
        Genes with outgoing edges (``None``: ``min(n_perturbations, ceil(0.3 * n_genes))``).
    edge_density
        Probability that a regulator -> gene pair is an edge.
    hill_coefficient
        Hill exponent ``n``.
    noise
        Intrinsic noise scale ``sigma``.
    knockout_efficiency
        Fraction of the targeted gene's production removed by a knockout (1: complete).
    dt, t_end
        Euler-Maruyama step and simulated time.
    random_state
        Seed; the output is identical for the same seed and arguments. ``None`` draws a
        fresh seed, recorded in ``uns['dataset']['params']['random_state']``.

    Returns
    -------
    adata
        Cells x genes, ``X`` float32 non-negative expression (continuous; use it as
        log-normalised data). ``obs["perturbation"]`` (categorical): ``"control"``, a gene
        name (``"G03"``) or two joined by ``"+"`` (``"G03+G07"``); ``obs["n_knockouts"]``.
        ``var["is_regulator"]``, ``var["perturbed"]`` (knocked out singly somewhere).
        ``uns["dataset"]``: name and every parameter.
    network
        The true edges: ``source``, ``target``, ``weight`` (signed: + activation,
        - repression).

    Examples
    --------
    >>> from scgrn.datasets import simulate_perturbation_screen
    >>> adata, net = simulate_perturbation_screen(n_genes=20, n_perturbations=6, n_double=2,
    ...                                           n_cells_per_perturbation=20, n_control=50)
    >>> adata.shape, adata.obs["perturbation"].nunique()
    ((210, 20), 9)
    >>> net.columns.tolist()
    ['source', 'target', 'weight']
    """
    n_genes = check_int("n_genes", n_genes, min=2)
    n_perturbations = check_int("n_perturbations", n_perturbations, min=1)
    n_double = check_int("n_double", n_double, min=0)
    if n_perturbations > n_genes:
        raise ValueError(f"n_perturbations={n_perturbations} must be between 1 and n_genes={n_genes}.")
    max_double = n_perturbations * (n_perturbations - 1) // 2
    if n_double > max_double:
        raise ValueError(
            f"n_double={n_double} must be between 0 and {max_double} (pairs of the "
            f"{n_perturbations} singly perturbed genes)."
        )
    n_cells_per_perturbation = check_int("n_cells_per_perturbation", n_cells_per_perturbation, min=1)
    n_control = check_int("n_control", n_control, min=1)
    edge_density = check_float("edge_density", edge_density, min=0, max=1, min_open=True)
    hill_coefficient = check_float("hill_coefficient", hill_coefficient, min=0, min_open=True)
    noise = check_float("noise", noise, min=0)
    knockout_efficiency = check_float("knockout_efficiency", knockout_efficiency, min=0, max=1)
    dt = check_float("dt", dt, min=0, min_open=True)
    t_end = check_float("t_end", t_end, min=0, min_open=True)
    if n_regulators is None:
        n_regulators = min(n_perturbations, int(np.ceil(0.3 * n_genes)))
    n_regulators = check_int("n_regulators", n_regulators, min=1, max=n_genes)
    seed = check_random_state(random_state)

    rng = np.random.default_rng(seed)
    order = rng.permutation(n_genes)
    regs = np.sort(order[:n_regulators])

    # --- network ---------------------------------------------------------------------
    adj = np.zeros((n_genes, n_genes), dtype=bool)  # row = regulator, column = target
    adj[regs] = rng.random((n_regulators, n_genes)) < edge_density
    adj[np.arange(n_genes), np.arange(n_genes)] = False
    for r in regs:  # every regulator has at least one target
        if not adj[r].any():
            choices = np.setdiff1d(np.arange(n_genes), [r])
            adj[r, rng.choice(choices)] = True
    sign = np.where(rng.random((n_genes, n_genes)) < 0.65, 1.0, -1.0)
    strength = rng.uniform(1.0, 3.0, (n_genes, n_genes))
    w = np.where(adj, sign * strength, 0.0)
    w_act = np.where(w > 0, w, 0.0)
    w_rep = np.where(w < 0, -w, 0.0)
    basal = rng.uniform(0.2, 1.0, n_genes)
    gamma = rng.uniform(0.8, 1.2, n_genes)
    # scale production so that steady states are of order 1-3 whatever the in-degree
    in_deg = (w_act + w_rep).sum(0)
    rate = rng.uniform(1.0, 3.0, n_genes) / (basal + 0.5 * in_deg)
    n_hill = float(hill_coefficient)

    def production(x: np.ndarray, k_half: np.ndarray, ko: np.ndarray | None) -> np.ndarray:
        h = _hill(x, k_half, n_hill)
        p = rate * (basal + h @ w_act + (1.0 - h) @ w_rep)
        if ko is not None:
            p = p * (1.0 - knockout_efficiency * ko)
        return p

    # half-maximal constants at the control steady state (fixed-point refinement)
    k_half = np.ones(n_genes)
    x = np.ones((1, n_genes))
    for _ in range(4):
        for _ in range(int(round(t_end / dt))):
            x = x + dt * (production(x, k_half, None) - gamma * x)
        k_half = np.maximum(x[0], 1e-3)
    x_ss = x[0].copy()

    # --- conditions ------------------------------------------------------------------
    non_regs = np.setdiff1d(order, regs, assume_unique=True)
    non_regs = order[np.isin(order, non_regs)]  # keep the random order
    perturbed = np.concatenate([rng.permutation(regs), non_regs])[:n_perturbations]
    pairs = set()
    while len(pairs) < n_double:
        a, b = rng.choice(perturbed, size=2, replace=False)
        pairs.add((min(a, b), max(a, b)))
    conditions: list[tuple[int, ...]] = [()] + [(int(g),) for g in perturbed]
    conditions += [tuple(int(v) for v in p) for p in sorted(pairs)]
    counts = [n_control] + [n_cells_per_perturbation] * (len(conditions) - 1)

    width = len(str(n_genes - 1))
    genes = np.array([f"G{i:0{width}d}" for i in range(n_genes)])
    ko = np.zeros((sum(counts), n_genes))
    labels = []
    row = 0
    for cond, n in zip(conditions, counts):
        ko[row : row + n, list(cond)] = 1.0
        labels += [CONTROL if not cond else "+".join(genes[list(cond)])] * n
        row += n

    # --- Euler-Maruyama ----------------------------------------------------------------
    n_cells = ko.shape[0]
    x = np.tile(x_ss, (n_cells, 1)) * rng.uniform(0.9, 1.1, (n_cells, n_genes))
    sq = np.sqrt(dt)
    for _ in range(int(round(t_end / dt))):
        p = production(x, k_half, ko)
        d = gamma * x
        x = x + dt * (p - d) + noise * np.sqrt(p + d) * sq * rng.standard_normal(x.shape)
        x = np.maximum(x, 0.0)

    cells = [f"cell{i:0{len(str(n_cells - 1))}d}" for i in range(n_cells)]
    obs = pd.DataFrame(index=pd.Index(cells))
    cats = [CONTROL] + [lab for lab in dict.fromkeys(labels) if lab != CONTROL]
    obs["perturbation"] = pd.Categorical(labels, categories=cats)
    obs["n_knockouts"] = ko.sum(1).astype(np.int64)
    var = pd.DataFrame(index=pd.Index(genes))
    var["is_regulator"] = np.isin(np.arange(n_genes), regs)
    var["perturbed"] = np.isin(np.arange(n_genes), perturbed)
    adata = ad.AnnData(X=x.astype(np.float32), obs=obs, var=var)
    adata.uns["dataset"] = {
        "name": "simulate_perturbation_screen",
        "params": {
            "n_genes": n_genes,
            "n_perturbations": n_perturbations,
            "n_double": n_double,
            "n_cells_per_perturbation": int(n_cells_per_perturbation),
            "n_control": int(n_control),
            "n_regulators": n_regulators,
            "edge_density": float(edge_density),
            "hill_coefficient": n_hill,
            "noise": float(noise),
            "knockout_efficiency": float(knockout_efficiency),
            "dt": float(dt),
            "t_end": float(t_end),
            "random_state": seed,
        },
    }
    src, tgt = np.nonzero(adj)
    network = pd.DataFrame(
        {"source": genes[src], "target": genes[tgt], "weight": w[src, tgt].astype(np.float64)}
    )
    return adata, network


def crop_seq(
    data_dir: str | os.PathLike | None = None,
    *,
    measured_targets_only: bool = True,
    log_normalize: bool = False,
) -> ad.AnnData:
    """The scMAGeCK CROP-seq knockout screen (Yang et al. 2020): 28 genes, raw UMI counts.

    Reads ``perturbation/scmageck_crop-seq_28genes.h5ad`` of the benchmark data folder
    (``data_dir`` or ``$SCGRN_DATA_DIR``). Each cell gets a clean label in
    ``obs["perturbation"]``, from the guides counted in ``obs["guide_genes"]``:

    - ``"control"``: exactly one guide, a non-targeting one;
    - the targeted gene (``"TP53"``): exactly one guide, against that gene;
    - cells with no guide or with several guides are **dropped** (their label is
      ambiguous): 4292 of the 6229 cells carry exactly one guide.

    With ``measured_targets_only=True`` (default), genes with zero counts in every cell
    (CDKN2A, PTPRD) are dropped, and so are cells whose guide targets a gene absent from the
    remaining panel (MLL2, MLL3, CDKN2A, PTPRD): every label then names a measured gene, as
    :func:`scgrn.tl.perturbode` requires. The panel holds 27 targeted genes plus MKI67; it
    serves on-target knockdown checks and perturbation bookkeeping, **not** GRN scoring.

    ``X`` holds raw UMI counts (sparse, about 7 counts per cell over the panel).
    Normalise with the whole-transcriptome library size ``obs["nUMI"]``, not with
    ``sc.pp.normalize_total`` (the 28-gene panel is far too small to estimate size factors):
    ``log1p(1e4 * counts / nUMI)``. ``log_normalize=True`` does exactly this, keeping the
    counts in ``layers["counts"]``.

    Parameters
    ----------
    data_dir
        Benchmark data folder (``None``: ``$SCGRN_DATA_DIR``).
    measured_targets_only
        Drop all-zero genes and cells whose target is not in the panel (see above).
    log_normalize
        Put ``log1p(1e4 * counts / nUMI)`` in ``X`` (dense float32) and the counts in
        ``layers["counts"]``.

    Returns
    -------
    AnnData, cells x genes, with ``obs["perturbation"]`` (categorical, ``"control"`` first),
    the original metadata (``guides``, ``n_guides``, ``nUMI``, ...) and ``uns["dataset"]``.

    Examples
    --------
    >>> import scgrn
    >>> adata = scgrn.datasets.crop_seq()  # doctest: +SKIP
    >>> adata.obs["perturbation"].value_counts().head(3)  # doctest: +SKIP
    """
    measured_targets_only = check_bool("measured_targets_only", measured_targets_only)
    log_normalize = check_bool("log_normalize", log_normalize)
    root = _data_dir(data_dir)
    path = _subdir(root, "perturbation", _CROP_SEQ_FILE, what="CROP-seq screen file")
    raw = ad.read_h5ad(path)
    obs = raw.obs
    n_guides = pd.to_numeric(obs["n_guides"], errors="coerce").fillna(0).astype(int)
    guide_genes = obs["guide_genes"].astype(str)
    single = (n_guides == 1).to_numpy()
    label = np.where(guide_genes.to_numpy() == _NON_TARGETING, CONTROL, guide_genes.to_numpy())
    adata = raw[single].copy()
    adata.obs["perturbation"] = label[single]
    n_single = adata.n_obs
    dropped_genes: list[str] = []
    if measured_targets_only:
        X = adata.X
        nonzero = np.asarray((X != 0).sum(0)).ravel() > 0 if sparse.issparse(X) else (X != 0).any(0)
        dropped_genes = [str(g) for g in adata.var_names[~nonzero]]
        adata = adata[:, nonzero].copy()
        keep = adata.obs["perturbation"].isin(set(adata.var_names) | {CONTROL}).to_numpy()
        adata = adata[keep].copy()
    cats = [CONTROL] + sorted(set(adata.obs["perturbation"]) - {CONTROL})
    adata.obs["perturbation"] = pd.Categorical(adata.obs["perturbation"], categories=cats)
    if log_normalize:
        counts = adata.X.toarray() if sparse.issparse(adata.X) else np.asarray(adata.X)
        lib = adata.obs["nUMI"].to_numpy(dtype=np.float64)
        lib = np.where(lib > 0, lib, np.median(lib[lib > 0]))
        adata.layers["counts"] = sparse.csr_matrix(counts.astype(np.float32))
        adata.X = np.log1p(1e4 * counts / lib[:, None]).astype(np.float32)
    adata.uns["dataset"] = {
        "name": "crop_seq",
        "source": str(raw.uns.get("source", "weililab/scMAGeCK")),
        "params": {
            "measured_targets_only": bool(measured_targets_only),
            "log_normalize": bool(log_normalize),
            "n_cells_file": int(raw.n_obs),
            "n_cells_single_guide": int(n_single),
            "dropped_genes": dropped_genes,
        },
    }
    return adata


_PAPALEXI_FILE = "papalexi2021_thp1_eccite_13targets.h5ad"
_UNASSIGNED = "unassigned"


def _example_papalexi(folder: str | os.PathLike) -> str:
    """Write a tiny stand-in for the Papalexi 2021 file under ``folder/perturbation/``.

    Same fields as the real file (raw counts in a float32 CSR ``X``, ``obs["target_gene"]``
    with ``"control"`` and ``"unassigned"``, ``obs["guide"]``, ``uns["targets_measured"]``),
    random counts: for docstring examples only. Returns ``folder`` as a string.
    """
    from pathlib import Path

    rng = np.random.default_rng(0)
    genes = ["JAK2", "STAT1", "STAT3", "PSMB9", "UBE2L6", "ACTB"]
    labels = ["control"] * 8 + ["JAK2"] * 5 + ["STAT3"] * 4 + ["CAV1"] * 3 + [_UNASSIGNED] * 2
    guides = {"control": "NTg1", "JAK2": "JAK2g1", "STAT3": "STAT3g2", "CAV1": "CAV1g1", _UNASSIGNED: _UNASSIGNED}
    counts = rng.poisson(3.0, (len(labels), len(genes))).astype(np.float32)
    obs = pd.DataFrame(
        {
            "target_gene": pd.Categorical(labels),
            "guide": pd.Categorical([guides[lab] for lab in labels]),
            "bio_rep": pd.Categorical(["rep_1", "rep_2"] * (len(labels) // 2)),
            "n_counts_in_panel": counts.sum(1),
        },
        index=pd.Index([f"cell{i}" for i in range(len(labels))]),
    )
    adata = ad.AnnData(X=sparse.csr_matrix(counts), obs=obs, var=pd.DataFrame(index=pd.Index(genes)))
    adata.uns["targets_measured"] = np.array(["JAK2", "STAT3"], dtype=object)
    adata.uns["x_kind"] = "counts"
    adata.uns["source"] = "example (random counts)"
    sub = Path(folder) / "perturbation"
    sub.mkdir(parents=True, exist_ok=True)
    adata.write_h5ad(sub / _PAPALEXI_FILE)
    return str(folder)


def papalexi2021(*, data_dir: str | os.PathLike | None = None) -> ad.AnnData:
    """The Papalexi et al. 2021 ECCITE-seq knockout screen (THP-1, IFN-gamma): 12 targets, 299 genes.

    Reads ``perturbation/papalexi2021_thp1_eccite_13targets.h5ad`` of the benchmark data
    folder (``data_dir`` or ``$SCGRN_DATA_DIR``): a pooled CRISPR-knockout screen with
    scRNA-seq readout (Papalexi et al., Nature Genetics 53, 322-331, 2021), as kept by the
    sceptre authors: all cells but only **299 randomly chosen genes** (about 2 % of the
    transcriptome). The file holds the cells of 13 of the 26 targets, the non-targeting
    controls and the cells without a guide call; the other 13 targets are held back by the
    project for evaluation. One of the 13, CD274 (guides ``PDL1g*``), has no cell: its guides
    are in ``obsm["grna_counts"]`` but no cell passes the guide call, so 12 targets have cells.

    - ``obs["perturbation"]`` (categorical, ``"control"`` first, then the 12 targets sorted):
      the file's ``target_gene``, with non-targeting cells as ``"control"``.
    - Cells whose guide could not be called (``target_gene == "unassigned"``: 966 of the
      10961) are **dropped**: their label is ambiguous (as :func:`crop_seq` drops cells
      without exactly one guide). 9995 cells remain: 2304 controls and 103 (MYC) to 1004 (JAK2) per target.
    - Only 5 targets are in the gene panel (``uns["targets_measured"]``: CMTM6, JAK2, STAT3,
      TNFRSF14, UBE2L6); ``var["targeted"]`` marks them, ``obs["target_measured"]`` marks
      their cells. Cells of the other 7 targets name genes outside ``var_names``: tools
      that need every label to be a gene (:func:`scgrn.tl.perturbode`) take
      ``adata[adata.obs["target_measured"] | (adata.obs["perturbation"] == "control")]``.

    ``layers["counts"]`` keeps the raw UMI counts (float32 CSR). ``X`` is
    ``log1p(1e4 * counts / total)`` (float32 CSR), ``total`` being each cell's count over the
    299 genes, i.e. ``sc.pp.normalize_total(target_sum=1e4)`` then ``sc.pp.log1p``. Unlike
    :func:`crop_seq`, whose panel is a targeted selection, the panel here is a random sample
    of the transcriptome, so its total (median 188 UMIs) is an unbiased if noisy estimate of
    the library size; no whole-transcriptome total is in the source.

    Parameters
    ----------
    data_dir
        Benchmark data folder (``None``: ``$SCGRN_DATA_DIR``).

    Returns
    -------
    AnnData, cells x 299 genes: ``X`` log-normalised, ``layers["counts"]``,
    ``obs["perturbation"]``, ``obs["target_measured"]`` and the file's metadata
    (``target_gene``, ``guide``, ``bio_rep``, ``grna_umi_*``, ``n_counts_in_panel``),
    ``obsm["grna_counts"]``, ``var["targeted"]``, the file's ``uns`` (``targets_measured``,
    ``grna_ids``, ``grna_targets``, ``source``, ...) and ``uns["dataset"]`` (name, source,
    params, ``n_cells_file``, ``n_unassigned_dropped``).

    Raises
    ------
    FileNotFoundError
        When the folder or the file is missing (the message names the path).

    Examples
    --------
    With ``SCGRN_DATA_DIR`` set, ``papalexi2021()`` gives 9995 cells x 299 genes. Here a
    tiny file of the same shape stands in:

    >>> import tempfile
    >>> import scgrn
    >>> from scgrn.datasets._perturbation import _example_papalexi
    >>> root = _example_papalexi(tempfile.mkdtemp())
    >>> adata = scgrn.datasets.papalexi2021(data_dir=root)
    >>> adata.shape, list(adata.obs["perturbation"].cat.categories)
    ((20, 6), ['control', 'CAV1', 'JAK2', 'STAT3'])
    >>> adata.var_names[adata.var["targeted"]].tolist(), int(adata.obs["target_measured"].sum())
    (['JAK2', 'STAT3'], 9)
    >>> sorted(adata.layers)
    ['counts']
    """
    root = _data_dir(data_dir)
    path = _subdir(root, "perturbation", _PAPALEXI_FILE, what="Papalexi 2021 screen file")
    raw = ad.read_h5ad(path)
    target = raw.obs["target_gene"].astype(str).to_numpy()
    keep = target != _UNASSIGNED
    adata = raw[keep].copy()
    label = target[keep]
    cats = [CONTROL] + sorted(set(label) - {CONTROL})
    adata.obs["perturbation"] = pd.Categorical(label, categories=cats)
    measured = [str(g) for g in np.asarray(raw.uns.get("targets_measured", []), dtype=object)]
    measured = [g for g in measured if g in set(adata.var_names)]
    adata.obs["target_measured"] = np.isin(label, measured)
    adata.var["targeted"] = adata.var_names.isin(measured)

    counts = sparse.csr_matrix(adata.X, dtype=np.float32)
    total = np.asarray(counts.sum(1), dtype=np.float64).ravel()
    factor = np.where(total > 0, 1e4 / np.where(total > 0, total, 1.0), 0.0)
    norm = sparse.diags(factor) @ counts
    norm = sparse.csr_matrix(norm, dtype=np.float32)
    norm.data = np.log1p(norm.data)
    adata.layers["counts"] = counts
    adata.X = norm
    adata.uns["dataset"] = {
        "name": "papalexi2021",
        "source": str(raw.uns.get("source", "Katsevich-Lab/sceptredata")),
        "params": {"normalization": "log1p(1e4 * counts / total over the panel)"},
        "n_cells_file": int(raw.n_obs),
        "n_unassigned_dropped": int((~keep).sum()),
    }
    return adata
