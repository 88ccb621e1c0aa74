"""Loaders for BEELINE-format folders (Pratapa et al. 2020, Nature Methods 17, 147-154)."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scanpy import logging as logg

from ._beeline_files import (
    _check_expression_orientation,
    _read_csv,
    _read_expression,
    _read_network,
    _refuse_non_numeric,
)
from ._paths import _find_file, _subdir, check_file, check_folder
from ._paths import data_dir as _data_dir

__all__ = ["read_beeline_folder", "beeline", "beeline_synthetic", "list_beeline"]

_BEELINE_SOURCE = "BEELINE (Pratapa et al. 2020), Zenodo doi:10.5281/zenodo.3378975"

#: Ground-truth folder names on disk.
GROUND_TRUTHS = ("cell-type-specific-ChIP-seq", "non-specific-ChIP-seq", "STRING", "lofgof")

_GT_ALIASES = {
    "cell-type-specific-chip-seq": "cell-type-specific-ChIP-seq",
    "cell-type-specific": "cell-type-specific-ChIP-seq",
    "chip-seq": "cell-type-specific-ChIP-seq",
    "chipseq": "cell-type-specific-ChIP-seq",
    "specific": "cell-type-specific-ChIP-seq",
    "non-specific-chip-seq": "non-specific-ChIP-seq",
    "non-specific": "non-specific-ChIP-seq",
    "nonspecific": "non-specific-ChIP-seq",
    "non-chip": "non-specific-ChIP-seq",
    "string": "STRING",
    "lofgof": "lofgof",
    "lof/gof": "lofgof",
    "lof-gof": "lofgof",
}

_CURATED = ("GSD", "HSC", "mCAD", "VSC")


def read_beeline_folder(
    path: str | os.PathLike, *, network_file: str | os.PathLike | None = "refNetwork.csv"
) -> tuple[ad.AnnData, pd.DataFrame | None]:
    """Read one BEELINE-format dataset folder.

    The folder holds ``ExpressionData.csv`` (or ``.csv.gz``; genes in rows, cells in columns,
    first column = gene names), optionally ``PseudoTime.csv[.gz]`` (index = cell id) and a
    network file with columns ``Gene1,Gene2[,Type]``.

    Parameters
    ----------
    path
        The dataset folder.
    network_file
        The reference network, relative to ``path`` (or absolute). ``None`` skips it.

    Returns
    -------
    adata
        Cells x genes, ``X`` float32. The pseudotime columns (``PseudoTime``, or
        ``PseudoTime0``, ``PseudoTime1``, ... for branching trajectories, NaN off-branch) are
        copied into ``adata.obs``; ``adata.uns['dataset']`` records ``name`` and ``path``.
    network
        Columns ``source``, ``target`` and, when the file has a ``Type`` column, ``sign``
        (+1 activation, -1 repression). Self-loops and duplicated edges are dropped, as BEELINE
        does before scoring. ``None`` if ``network_file`` is ``None``.

    Raises
    ------
    FileNotFoundError
        The folder, ``ExpressionData.csv`` or the network file is missing; a path to a file
        where the folder is expected raises :class:`~scgrn.datasets._paths.NotAFolderError`
        (also a ``FileNotFoundError``), and a folder where a file is expected (a folder named
        ``ExpressionData.csv``) :class:`~scgrn.datasets._paths.NotAFileError` (also a
        ``FileNotFoundError``), naming it.
    ValueError
        An empty file, a binary one (e.g. a spreadsheet saved under a ``.csv`` name) or one
        that is not valid CSV (the message names the file); an expression value or pseudotime
        that is not a number (the message names the file, the row and the column); an
        expression file written cells x genes.

    Warns
    -----
    UserWarning
        A ``Type`` value other than ``+`` / ``-`` (its edges get ``sign`` 0), naming the
        values; cells without a pseudotime row.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from scgrn.datasets import read_beeline_folder
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame([[0.1, 0.5, 0.9], [1.0, 0.2, 0.0]], index=["g1", "g2"],
    ...              columns=["c1", "c2", "c3"]).to_csv(tmp / "ExpressionData.csv")
    >>> pd.DataFrame({"Gene1": ["g1", "g1"], "Gene2": ["g2", "g1"], "Type": ["+", "+"]}).to_csv(
    ...     tmp / "refNetwork.csv", index=False)
    >>> adata, net = read_beeline_folder(tmp)
    >>> adata.shape
    (3, 2)
    >>> net.to_dict("records")
    [{'source': 'g1', 'target': 'g2', 'sign': 1}]
    """
    folder = check_folder(
        Path(path).expanduser(),
        f"The BEELINE dataset folder {str(Path(path).expanduser())!r}",
        "A BEELINE folder holds ExpressionData.csv (genes in rows, cells in columns) and a network file.",
    )
    expr_file = _find_file(folder, "ExpressionData.csv", strict=True)
    if expr_file is None:
        raise FileNotFoundError(
            f"No ExpressionData.csv or ExpressionData.csv.gz in {str(folder)!r}. A BEELINE folder "
            "holds ExpressionData.csv (genes in rows, cells in columns) and a network file."
        )
    adata = _read_expression(expr_file)

    pt_file = _find_file(folder, "PseudoTime.csv", strict=True)
    if pt_file is not None:
        pt = _read_csv(pt_file, index_col=0)
        _refuse_non_numeric(pt, pt_file, "pseudotime value(s)", ("cell", "trajectory"),
                            "Pseudotimes must be numbers; leave a cell's field empty (or NA) when it is "
                            "not on that trajectory.")
        pt.index = pt.index.astype(str)
        n_missing = int((~adata.obs_names.isin(pt.index)).sum())
        if n_missing:
            warnings.warn(
                f"{n_missing} cells of {expr_file.name} have no row in {pt_file.name}; their "
                "pseudotime is set to NaN.",
                UserWarning,
                stacklevel=2,
            )
        pt = pt.reindex(adata.obs_names)
        for col in pt.columns:
            adata.obs[str(col)] = pd.to_numeric(pt[col]).to_numpy(dtype=np.float64)

    net = None
    if network_file is not None:
        net_path = folder / network_file
        check_file(net_path, "The network file")
        if not net_path.is_file():
            raise FileNotFoundError(
                f"The network file {str(net_path)!r} does not exist. Pass network_file= (relative "
                "to the folder) or network_file=None to read only the expression."
            )
        net = _read_network(net_path)
        _check_expression_orientation(adata, net, expr_file, net_path)
        unknown = (set(net["source"]) | set(net["target"])) - set(adata.var_names)
        if unknown:
            logg.warning(
                f"{len(unknown)} gene(s) of {net_path.name} are not in the expression matrix "
                f"(e.g. {sorted(unknown)[:3]})."
            )
    adata.uns["dataset"] = {"name": folder.name, "path": str(folder.resolve())}
    return adata, net


def _example_tree(root: str | os.PathLike) -> Path:
    """Write a tiny BEELINE-shaped data folder under ``root`` (for examples and tests).

    ``beeline/scRNA-seq/demo/TFs+500/`` (6 cells x 4 genes, a STRING network of 3 edges, TFs
    g1 and g2) and ``beeline/synthetic/dyn-DEMO/dyn-DEMO_100_0/`` (100 cells x 4 genes,
    pseudotime, a signed network with a self-loop that is dropped on reading).
    """
    root = Path(root)
    rng = np.random.default_rng(0)
    genes = ["g1", "g2", "g3", "g4"]

    real = root / "beeline" / "scRNA-seq" / "demo" / "TFs+500"
    (real / "STRING").mkdir(parents=True, exist_ok=True)
    cells = [f"HSPC_{i:03d}" for i in range(6)]
    pd.DataFrame(rng.random((4, 6)).round(4), index=genes, columns=cells).to_csv(
        real / "ExpressionData.csv.gz"
    )
    (real / "STRING" / "refNetwork.csv").write_text("Gene1,Gene2\ng1,g2\ng2,g1\ng1,g3\n")
    (real / "STRING" / "TFs.csv").write_text("TF\ng1\ng2\n")

    syn = root / "beeline" / "synthetic" / "dyn-DEMO" / "dyn-DEMO_100_0"
    syn.mkdir(parents=True, exist_ok=True)
    cells = [f"E{i}_0_{i}" for i in range(100)]
    pd.DataFrame(rng.random((4, 100)).round(4), index=genes, columns=cells).to_csv(
        syn / "ExpressionData.csv.gz"
    )
    pd.DataFrame({"PseudoTime": np.linspace(0, 1, 100).round(4)}, index=cells).to_csv(
        syn / "PseudoTime.csv.gz"
    )
    (syn / "refNetwork.csv").write_text(
        "Gene1,Gene2,Type\ng1,g1,+\ng1,g2,+\ng2,g3,-\ng3,g4,+\n"
    )
    return root


# --------------------------------------------------------------------------------------------
# real scRNA-seq sets
# --------------------------------------------------------------------------------------------
def _dirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def _match_name(name: str, available: list[str], what: str, where: Path) -> str:
    for a in available:
        if a.lower() == str(name).lower():
            return a
    raise ValueError(
        f"Unknown {what} {name!r}. Available in {str(where)!r}: {available}."
    )


def _resolve_ground_truth(ground_truth: str) -> str:
    key = re.sub(r"[\s_]+", "-", str(ground_truth).strip().lower())
    if key in _GT_ALIASES:
        return _GT_ALIASES[key]
    raise ValueError(
        f"Unknown ground_truth {ground_truth!r}. Use one of {list(GROUND_TRUTHS)} or an alias: "
        "'chip-seq'/'specific', 'non-specific'/'nonspecific'/'non-chip', 'string', "
        "'lofgof'/'lof/gof' (case-insensitive)."
    )


def _size_folder(n_genes: int | str) -> str:
    if isinstance(n_genes, str):
        m = re.fullmatch(r"(?:tfs\+)?(\d+)", n_genes.strip(), flags=re.IGNORECASE)
        if m is None:
            raise ValueError(f"n_genes={n_genes!r}: pass an int such as 500 or 'TFs+500'.")
        n_genes = int(m.group(1))
    return f"TFs+{int(n_genes)}"


def beeline(
    cell_type: str,
    *,
    n_genes: int = 500,
    ground_truth: str = "STRING",
    data_dir: str | os.PathLike | None = None,
) -> tuple[ad.AnnData, pd.DataFrame]:
    """Load a BEELINE real scRNA-seq benchmark with one of its ground-truth networks.

    Reads ``<data_dir>/beeline/scRNA-seq/<cell_type>/TFs+<n_genes>/``: the expression
    ``ExpressionData.csv.gz`` (all significantly varying TFs plus the ``n_genes`` most varying
    other genes, log-normalised as BEELINE ships it) and ``<ground_truth>/refNetwork.csv``.

    Parameters
    ----------
    cell_type
        Folder name, case-insensitive, e.g. ``"mHSC-L"``, ``"mESC"``.
    n_genes
        500 or 1000 (``"TFs+500"`` also accepted).
    ground_truth
        ``"STRING"``, ``"cell-type-specific-ChIP-seq"`` (aliases ``"chip-seq"``,
        ``"specific"``), ``"non-specific-ChIP-seq"`` (``"non-specific"``, ``"nonspecific"``,
        ``"non-chip"``) or ``"lofgof"`` (``"lof/gof"``, mESC only); case-insensitive.
    data_dir
        The benchmark data folder; default ``$SCGRN_DATA_DIR``.

    Returns
    -------
    adata
        Cells x genes (float32). ``adata.var['is_tf']``: gene is in the ground truth's
        ``TFs.csv``. ``adata.uns['dataset']``: ``name``, ``cell_type``, ``n_genes``,
        ``ground_truth``, ``path``, ``source``.
    network
        Reference network, columns ``source``, ``target`` (directed TF -> target).

    Raises
    ------
    ValueError
        Unknown cell type, size or ground truth (the message lists what is on disk).
    FileNotFoundError
        The data folder is not set, or the expression of this set is not in it (e.g. mESC
        TFs+1000, mHSC-E); the message says where to put the file.

    Examples
    --------
    A tiny folder of the same shape stands in for the benchmark data here; with
    ``SCGRN_DATA_DIR`` set, ``beeline("mHSC-L")`` gives 847 cells x 560 genes and 137 edges.

    >>> import tempfile
    >>> import scgrn
    >>> from scgrn.datasets._beeline import _example_tree
    >>> root = _example_tree(tempfile.mkdtemp())
    >>> adata, net = scgrn.datasets.beeline("demo", ground_truth="string", data_dir=root)
    >>> adata.shape, len(net), adata.var["is_tf"].tolist()
    ((6, 4), 3, [True, True, False, False])
    """
    root = _subdir(_data_dir(data_dir), "beeline", "scRNA-seq")
    ct = _match_name(cell_type, _dirs(root), "cell_type", root)
    size = _size_folder(n_genes)
    sizes = _dirs(root / ct)
    if size not in sizes:
        raise ValueError(
            f"n_genes={n_genes!r} ({size}) is not available for {ct}. Available: {sizes}."
        )
    folder = root / ct / size
    gt = _resolve_ground_truth(ground_truth)
    gts = [g for g in _dirs(folder) if g in GROUND_TRUTHS]
    if gt not in gts:
        raise ValueError(
            f"ground_truth={ground_truth!r} ({gt}) is not available for {ct} {size}. "
            f"Available: {gts}."
        )
    if _find_file(folder, "ExpressionData.csv") is None:
        raise FileNotFoundError(
            f"The expression matrix of BEELINE {ct} {size} is missing from the benchmark data "
            "(its public copies were over a size limit); only the networks and gene lists are "
            f"shipped. To use it, put BEELINE's ExpressionData.csv (genes in rows, cells in "
            f"columns; from Zenodo doi:10.5281/zenodo.3378975, restricted to the genes listed in "
            f"{str(folder / gt / 'genes.csv')!r}) at {str(folder / 'ExpressionData.csv.gz')!r} "
            "(gzip-compressed or plain .csv)."
        )
    adata, net = read_beeline_folder(folder, network_file=Path(gt) / "refNetwork.csv")
    tfs_file = folder / gt / "TFs.csv"
    if tfs_file.is_file():
        tfs = pd.read_csv(tfs_file, dtype=str).iloc[:, 0].str.strip()
        adata.var["is_tf"] = adata.var_names.isin(set(tfs))
    else:
        adata.var["is_tf"] = adata.var_names.isin(set(net["source"]))
    adata.uns["dataset"] = {
        "name": f"BEELINE {ct} {size}",
        "cell_type": ct,
        "n_genes": int(size.split("+")[1]),
        "ground_truth": gt,
        "path": str(folder),
        "source": _BEELINE_SOURCE,
    }
    logg.info(
        f"loaded BEELINE {ct} {size}: {adata.n_obs} cells x {adata.n_vars} genes, "
        f"{len(net)} {gt} edges"
    )
    return adata, net


# --------------------------------------------------------------------------------------------
# BoolODE synthetic and curated sets
# --------------------------------------------------------------------------------------------
def beeline_synthetic(
    name: str,
    *,
    n_cells: int = 2000,
    replicate: int = 0,
    dropout: int | None = None,
    data_dir: str | os.PathLike | None = None,
) -> tuple[ad.AnnData, pd.DataFrame]:
    """Load a BEELINE BoolODE simulation: a synthetic network or a curated model.

    Synthetic networks live in ``beeline/synthetic/<dyn-XX>/<dyn-XX>_<n_cells>_<replicate>/``
    (``dyn-BF``, ``dyn-BFC``, ``dyn-CY``, ``dyn-LI``, ``dyn-LL``, ``dyn-TF``; 500 or 2000 cells)
    and curated models in ``beeline/curated/<NAME>/<NAME>_2000_<replicate>[_20|_50]/``
    (``GSD``, ``HSC``, ``mCAD``, ``VSC``; ``dropout`` 20 or 50 picks a dropout variant).

    Parameters
    ----------
    name
        Case-insensitive; the ``dyn-`` prefix may be left out (``"BF"`` == ``"dyn-BF"``).
    n_cells
        Number of cells (a folder on disk).
    replicate
        Replicate index, 0-9.
    dropout
        Curated models only: ``None`` (no dropout), ``20`` or ``50``.
    data_dir
        The benchmark data folder; default ``$SCGRN_DATA_DIR``.

    Returns
    -------
    The output of :func:`read_beeline_folder`: ``adata`` (cells x genes, pseudotime in
    ``obs``, ``uns['dataset']`` with ``name``, ``kind``, ``n_cells``, ``replicate``,
    ``dropout`` (0 = none), ``path``, ``source``) and the network (``source``, ``target``,
    ``sign``), self-loops and duplicates removed.

    Examples
    --------
    With ``SCGRN_DATA_DIR`` set, ``beeline_synthetic("dyn-BF")`` gives 2000 cells x 7 genes
    and 10 edges. Here a tiny folder of the same shape stands in:

    >>> import tempfile
    >>> import scgrn
    >>> from scgrn.datasets._beeline import _example_tree
    >>> root = _example_tree(tempfile.mkdtemp())
    >>> adata, net = scgrn.datasets.beeline_synthetic("DEMO", n_cells=100, data_dir=root)
    >>> adata.shape, len(net), list(adata.obs.columns)
    ((100, 4), 3, ['PseudoTime'])
    """
    root = _subdir(_data_dir(data_dir), "beeline")
    synth = _dirs(root / "synthetic")
    curated = _dirs(root / "curated")
    curated = [c for c in curated if not c.endswith("_HEAD")]
    key = str(name).strip().lower()
    lookup = {s.lower(): ("synthetic", s) for s in synth}
    lookup.update({s.lower()[4:]: ("synthetic", s) for s in synth if s.lower().startswith("dyn-")})
    lookup.update({c.lower(): ("curated", c) for c in curated})
    if key not in lookup:
        raise ValueError(
            f"Unknown BEELINE simulation {name!r}. Available synthetic networks: {synth}; "
            f"curated models: {curated} (in {str(root)!r})."
        )
    kind, net_name = lookup[key]
    if dropout in (0, "0", ""):
        dropout = None
    parent = root / kind / net_name
    if kind == "synthetic":
        if dropout is not None:
            raise ValueError(
                f"dropout={dropout!r}: the synthetic networks have no dropout variants (only the "
                f"curated models {curated} do). Use dropout=None."
            )
        sub = f"{net_name}_{int(n_cells)}_{int(replicate)}"
    else:
        if dropout is not None and int(dropout) not in (20, 50):
            raise ValueError(f"dropout={dropout!r}: use None, 20 or 50.")
        sub = f"{net_name}_{int(n_cells)}_{int(replicate)}"
        if dropout is not None:
            sub += f"_{int(dropout)}"
    folder = parent / sub
    if not folder.is_dir():
        avail = _dirs(parent)
        cells = sorted({int(a.split("_")[1]) for a in avail if a.count("_") >= 2})
        reps = sorted({int(a.split("_")[2]) for a in avail if a.count("_") >= 2})
        raise ValueError(
            f"No folder {sub!r} in {str(parent)!r}. Available n_cells: {cells}, replicates: "
            f"{reps}" + (", dropout: None, 20, 50." if kind == "curated" else ".")
        )
    adata, net = read_beeline_folder(folder)
    adata.uns["dataset"] = {
        "name": net_name,
        "kind": kind,
        "n_cells": int(n_cells),
        "replicate": int(replicate),
        "dropout": 0 if dropout is None else int(dropout),
        "path": str(folder),
        "source": _BEELINE_SOURCE,
    }
    return adata, net


def list_beeline(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """List the BEELINE datasets found in the benchmark data folder.

    Only folder names are read (no expression file is opened), so it is fast.

    Parameters
    ----------
    data_dir
        The benchmark data folder; default ``$SCGRN_DATA_DIR``.

    Returns
    -------
    One row per dataset (and, for real scRNA-seq sets, per ground truth) with columns
    ``kind`` (``"scRNA-seq"``, ``"synthetic"``, ``"curated"``), ``name``, ``variant``
    (``"TFs+500"``, ``"2000_0_20"``, ...), ``n_cells``, ``replicate``, ``dropout``,
    ``ground_truth``, ``path``, ``has_expression``.

    Examples
    --------
    >>> import tempfile
    >>> import scgrn
    >>> from scgrn.datasets._beeline import _example_tree
    >>> root = _example_tree(tempfile.mkdtemp())
    >>> df = scgrn.datasets.list_beeline(root)
    >>> df[["kind", "name", "variant", "has_expression"]].values.tolist()
    [['scRNA-seq', 'demo', 'TFs+500', True], ['synthetic', 'dyn-DEMO', '100_0', True]]
    """
    root = _subdir(_data_dir(data_dir), "beeline")
    rows = []
    sc_root = root / "scRNA-seq"
    for ct in _dirs(sc_root):
        for size in _dirs(sc_root / ct):
            folder = sc_root / ct / size
            has_expr = _find_file(folder, "ExpressionData.csv") is not None
            for gt in _dirs(folder):
                rows.append(
                    dict(kind="scRNA-seq", name=ct, variant=size, n_cells=None, replicate=None,
                         dropout=None, ground_truth=gt, path=str(folder),
                         has_expression=has_expr)
                )
    for kind in ("synthetic", "curated"):
        for net_name in _dirs(root / kind):
            for sub in _dirs(root / kind / net_name):
                folder = root / kind / net_name / sub
                m = re.fullmatch(re.escape(net_name) + r"_(\d+)_(\d+)(?:_(\d+))?", sub)
                n_cells, rep, drop = (
                    (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else (None,) * 3
                )
                rows.append(
                    dict(kind=kind, name=net_name,
                         variant=sub[len(net_name) + 1:] if m else sub,
                         n_cells=n_cells, replicate=rep, dropout=drop, ground_truth="refNetwork",
                         path=str(folder),
                         has_expression=_find_file(folder, "ExpressionData.csv") is not None)
                )
    df = pd.DataFrame(
        rows,
        columns=["kind", "name", "variant", "n_cells", "replicate", "dropout", "ground_truth",
                 "path", "has_expression"],
    )
    for col in ("n_cells", "replicate", "dropout"):
        df[col] = df[col].astype("Int64")
    return df
