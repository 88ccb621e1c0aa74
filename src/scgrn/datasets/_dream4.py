"""DREAM4 in-silico time series (Marbach et al. 2010) and a small planted time-series simulator."""

from __future__ import annotations

import os

import anndata as ad
import numpy as np
import pandas as pd

from .._params import check_float, check_int, check_random_state
from .._reference import read_reference
from ._paths import _subdir, data_dir as _data_dir

__all__ = ["dream4", "planted_time_series"]

_DREAM4_SOURCE = (
    "DREAM4 in-silico network challenge (Marbach et al., PNAS 107:6286, 2010); time series from "
    "Bioconductor networkBMA, gold standards from dreamtools (D4C2)"
)
_SIZES = (10, 100)


def dream4(
    network: int,
    *,
    size: int = 100,
    data_dir: str | os.PathLike | None = None,
) -> tuple[ad.AnnData, pd.DataFrame]:
    """Load one DREAM4 in-silico network: its time series and its gold standard.

    Reads ``dream4/size<size>/insilico_size<size>_<network>/`` of the benchmark data folder
    (``data_dir=`` or ``$SCGRN_DATA_DIR``, see :func:`scgrn.datasets.data_dir`):
    ``timeseries.csv`` (long format ``replicate,time,G1..Gn``), ``wildtype.csv`` and the
    official gold standard ``DREAM4_GoldStandard_InSilico_Size<size>_<network>.tsv``.

    In every series (replicate) a perturbation is applied at ``t = 0`` and removed at
    ``t = 500``; 21 time points ``0, 50, ..., 1000``. Values are normalised expression in
    ``[0, 1]``. Scoring in DREAM4 is over all ``n (n - 1)`` ordered pairs (direction counts, no
    self-edges).

    Parameters
    ----------
    network
        Network number (1, 2, 3 in the shipped data; 1-5 in the original challenge).
    size
        Network size, 10 or 100.
    data_dir
        The benchmark data folder; ``None`` reads ``$SCGRN_DATA_DIR``.

    Returns
    -------
    adata
        One observation per (series, time point), genes ``G1..Gn`` as variables, ``X`` float32.
        ``obs['series']``: categorical replicate label (``'1'``, ``'2'``, ...);
        ``obs['time']``: float time. ``var['wildtype']``: the wild-type steady state.
        ``uns['dataset']``: ``name``, ``network``, ``size``, ``source``.
    gold_standard
        The true (positive) edges, columns ``source`` (regulator) and ``target``, in the order
        of the gold-standard file.

    Raises
    ------
    FileNotFoundError
        If the data folder or the network's files are missing (the message says where they
        were looked for).
    ValueError
        For a size other than 10 or 100, a network number outside 1-5, or a malformed file.

    Examples
    --------
    >>> import tempfile
    >>> from scgrn.datasets import dream4
    >>> from scgrn.datasets._dream4 import _example_tree
    >>> root = _example_tree(tempfile.mkdtemp())
    >>> adata, gold = dream4(1, size=10, data_dir=root)
    >>> adata.shape, len(gold), adata.obs["series"].nunique()
    ((42, 10), 3, 2)
    """
    if size not in _SIZES:
        raise ValueError(f"size={size!r}: DREAM4 in-silico networks have size 10 or 100.")
    if isinstance(network, bool) or not isinstance(network, (int, np.integer)) or not 1 <= network <= 5:
        raise ValueError(f"network={network!r} must be an integer from 1 to 5 (DREAM4 has networks 1-5 of each size).")
    root = _data_dir(data_dir)
    folder = _subdir(
        root, "dream4", f"size{size}", f"insilico_size{size}_{int(network)}",
        what=f"DREAM4 size-{size} network {network} folder",
    )
    ts_path = _subdir(folder, "timeseries.csv", what="time-series file")
    gs_path = _subdir(
        folder, f"DREAM4_GoldStandard_InSilico_Size{size}_{int(network)}.tsv",
        what="gold-standard file",
    )

    ts = pd.read_csv(ts_path)
    missing = {"replicate", "time"} - set(ts.columns)
    if missing:
        raise ValueError(
            f"{str(ts_path)!r} lacks the column(s) {sorted(missing)}; expected the long format "
            "replicate,time,G1..Gn."
        )
    genes = [c for c in ts.columns if c not in ("replicate", "time")]
    ts = ts.sort_values(["replicate", "time"], kind="stable")
    rep = ts["replicate"].to_numpy()
    time = ts["time"].to_numpy(dtype=np.float64)
    labels = sorted(pd.unique(rep).tolist())
    series = pd.Categorical([str(r) for r in rep], categories=[str(r) for r in labels])
    obs = pd.DataFrame(
        {"series": series, "time": time},
        index=pd.Index([f"r{r}_t{t:g}" for r, t in zip(rep, time)]),
    )
    var = pd.DataFrame(index=pd.Index(genes))
    wt_path = folder / "wildtype.csv"
    if wt_path.is_file():
        wt = pd.read_csv(wt_path, index_col=0).iloc[:, 0]
        var["wildtype"] = wt.reindex(genes).to_numpy(dtype=np.float32)

    adata = ad.AnnData(
        X=np.ascontiguousarray(ts[genes].to_numpy(dtype=np.float32)), obs=obs, var=var
    )
    adata.uns["dataset"] = {
        "name": f"dream4_size{size}_{int(network)}",
        "network": int(network),
        "size": int(size),
        "source": _DREAM4_SOURCE,
    }

    gs = pd.read_csv(gs_path, sep="\t", header=None, dtype=str)
    if gs.shape[1] < 3:
        raise ValueError(
            f"{str(gs_path)!r} must have three tab-separated columns regulator, target, 0/1."
        )
    table = pd.DataFrame(
        {"source": gs.iloc[:, 0].str.strip(), "target": gs.iloc[:, 1].str.strip(), "label": gs.iloc[:, 2].str.strip()}
    )
    gold = read_reference(table, what=f"The gold standard {str(gs_path)!r}")  # the 1-labelled rows
    return adata, gold


def planted_time_series(
    *,
    n_genes: int = 20,
    n_series: int = 10,
    n_times: int = 21,
    n_regulators_per_gene: float = 1.5,
    dt: float = 0.5,
    substeps: int = 5,
    perturbed_fraction: float = 0.3,
    noise: float = 0.02,
    weight_range: tuple[float, float] = (2.0, 4.0),
    random_state: int | None = 0,
) -> tuple[ad.AnnData, pd.DataFrame]:
    """Simulate DREAM4-like time series from a planted, directed network.

    Dynamics (Euler steps of size ``dt / substeps``)::

        x_{t+1} = x_t + h * (W^T sigmoid(x_t) + u - x_t) + sqrt(h) * noise * eps

    with ``W[i, j] != 0`` for a regulator ``i`` of ``j`` (row = regulator, as in
    ``adata.varp``), ``|W|`` uniform in ``weight_range`` with a random sign. Each series starts
    from a random state ``x_0 ~ N(0, 1)`` and, as in DREAM4, a random
    ``perturbed_fraction`` of the genes receives a constant input ``u = +-2`` during the
    first half of the series. Observations every ``substeps`` Euler steps, ``n_times`` of
    them, with a little measurement noise.

    Parameters
    ----------
    n_genes
        Number of genes.
    n_series
        Number of time series (replicates).
    n_times
        Time points per series.
    n_regulators_per_gene
        Mean in-degree; each ordered pair ``i != j`` is an edge with probability
        ``n_regulators_per_gene / (n_genes - 1)``.
    dt
        Time between observations.
    substeps
        Euler steps per observation interval.
    perturbed_fraction
        Fraction of genes perturbed in each series (first half of the time course).
    noise
        Process-noise scale (measurement noise is half of it).
    weight_range
        Range of ``|W|`` (edge strengths).
    random_state
        Seed; the same seed gives the same data. ``None`` draws a fresh seed, recorded in
        ``uns['dataset']['params']['random_state']``.

    Returns
    -------
    adata
        ``n_series * n_times`` observations x ``n_genes``; ``obs['series']`` (categorical),
        ``obs['time']`` (float); ``uns['dataset']`` records the parameters.
    network
        The planted edges: ``source``, ``target``, ``weight``.

    Examples
    --------
    >>> from scgrn.datasets import planted_time_series
    >>> adata, net = planted_time_series(n_genes=10, n_series=3, random_state=0)
    >>> adata.shape, sorted(adata.obs.columns)
    ((63, 10), ['series', 'time'])
    """
    n_genes = check_int("n_genes", n_genes, min=2)
    n_series = check_int("n_series", n_series, min=1)
    n_times = check_int("n_times", n_times, min=3)
    substeps = check_int("substeps", substeps, min=1)
    n_regulators_per_gene = check_float("n_regulators_per_gene", n_regulators_per_gene, min=0)
    dt = check_float("dt", dt, min=0, min_open=True)
    perturbed_fraction = check_float("perturbed_fraction", perturbed_fraction, min=0, max=1)
    noise = check_float("noise", noise, min=0)
    try:
        w_lo, w_hi = weight_range
    except (TypeError, ValueError):
        raise ValueError(f"weight_range must be a pair (low, high), got {weight_range!r}.") from None
    w_lo = check_float("weight_range[0]", w_lo, min=0)
    w_hi = check_float("weight_range[1]", w_hi, min=w_lo)
    weight_range = (w_lo, w_hi)
    seed = check_random_state(random_state)
    rng = np.random.default_rng(seed)
    p = min(1.0, n_regulators_per_gene / (n_genes - 1))
    mask = rng.random((n_genes, n_genes)) < p
    np.fill_diagonal(mask, False)
    W = np.where(mask, rng.choice([-1.0, 1.0], size=mask.shape) * rng.uniform(weight_range[0], weight_range[1], mask.shape), 0.0)

    h = dt / substeps
    x = rng.standard_normal((n_series, n_genes))
    u = np.where(
        rng.random((n_series, n_genes)) < perturbed_fraction,
        rng.choice([-2.0, 2.0], size=(n_series, n_genes)),
        0.0,
    )
    out = np.empty((n_series, n_times, n_genes))
    out[:, 0] = x
    for t in range(1, n_times):
        drive = u if t <= n_times // 2 else 0.0
        for _ in range(substeps):
            s = 1.0 / (1.0 + np.exp(-x))
            x = x + h * (s @ W + drive - x) + np.sqrt(h) * noise * rng.standard_normal(x.shape)
        out[:, t] = x
    out += 0.5 * noise * rng.standard_normal(out.shape)

    width = len(str(n_genes))
    genes = np.array([f"g{i:0{width}d}" for i in range(n_genes)])
    series_labels = [str(s + 1) for s in range(n_series)]
    rep = np.repeat(np.arange(n_series), n_times)
    time = np.tile(np.arange(n_times) * dt, n_series)
    obs = pd.DataFrame(
        {
            "series": pd.Categorical([series_labels[r] for r in rep], categories=series_labels),
            "time": time.astype(np.float64),
        },
        index=pd.Index([f"r{r + 1}_t{k}" for r, k in zip(rep, np.tile(np.arange(n_times), n_series))]),
    )
    adata = ad.AnnData(
        X=out.reshape(-1, n_genes).astype(np.float32), obs=obs, var=pd.DataFrame(index=genes)
    )
    src, tgt = np.nonzero(W)
    net = pd.DataFrame({"source": genes[src], "target": genes[tgt], "weight": W[src, tgt]})
    adata.uns["dataset"] = {
        "name": "planted_time_series",
        "params": {
            "n_genes": int(n_genes),
            "n_series": int(n_series),
            "n_times": int(n_times),
            "n_regulators_per_gene": float(n_regulators_per_gene),
            "dt": float(dt),
            "substeps": int(substeps),
            "perturbed_fraction": float(perturbed_fraction),
            "noise": float(noise),
            "weight_range": np.asarray(weight_range, dtype=np.float64),
            "random_state": seed,
        },
    }
    return adata, net


def _example_tree(root: str | os.PathLike):
    """Write a tiny DREAM4-shaped folder under ``root`` (size-10 network 1: 2 series, 3 edges)."""
    from pathlib import Path

    root = Path(root)
    folder = root / "dream4" / "size10" / "insilico_size10_1"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    genes = [f"G{i}" for i in range(1, 11)]
    rows = [
        [r, t, *rng.random(10).round(6)] for r in (1, 2) for t in range(0, 1001, 50)
    ]
    pd.DataFrame(rows, columns=["replicate", "time", *genes]).to_csv(
        folder / "timeseries.csv", index=False
    )
    pd.DataFrame({"gene": genes, "expression": rng.random(10).round(6)}).to_csv(
        folder / "wildtype.csv", index=False
    )
    pos = {("G1", "G2"), ("G2", "G3"), ("G3", "G1")}
    lines = [f"{a}\t{b}\t1" for a, b in sorted(pos)]
    lines += [f"{a}\t{b}\t0" for a in genes for b in genes if a != b and (a, b) not in pos]
    (folder / "DREAM4_GoldStandard_InSilico_Size10_1.tsv").write_text("\n".join(lines) + "\n")
    return root
