"""``scgrn.bench.beeline``: run GRN methods on the BEELINE benchmarks and score them.

Datasets come from a BEELINE-shaped data folder (``data_dir=`` or ``$SCGRN_DATA_DIR``, see
:mod:`scgrn.datasets`): the real scRNA-seq sets that have expression (mESC TFs+500, mHSC-L
TFs+500 and TFs+1000 in the project's data), each scored against every ground truth of its
folder in both conventions (``"deepsem"`` and ``"beeline"``), and the BoolODE synthetic
networks and curated models, scored over all ordered gene pairs as BEELINE does
(``convention="beeline"``).

The command line ``scgrn bench beeline`` is in :mod:`scgrn.bench._beeline_cli`.
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scanpy import logging as logg
from tqdm.auto import tqdm

from .. import __version__
from .._params import check_bool, check_int, check_random_state
from .._settings import resolve_progress_bar
from ..tl._registry import GRN_METHODS

__all__ = ["beeline", "METHODS", "PEERS", "DATASET_KINDS", "available_datasets"]

#: the scgrn tools the runner knows (registered GRN methods that read expression only), in the
#: order they are reported
METHODS = tuple(name for name, m in GRN_METHODS.items() if m.input == "expression")
#: peer packages (optional extra ``peers``), skipped with a message when not installed
PEERS = ("regdiffusion", "dazzle")
#: dataset selectors besides names
DATASET_KINDS = {"real": ("scRNA-seq",), "synthetic": ("synthetic",), "curated": ("curated",),
                 "all": ("scRNA-seq", "synthetic", "curated")}

#: settings the benchmark uses unless ``methods_kwargs`` overrides them. GENIE3 with 100
#: trees per target instead of arboreto's 1000 keeps the full benchmark in budget (1000
#: trees cost ~90 CPU-minutes on mESC TFs+500 alone).
DEFAULT_KWARGS: dict[str, dict] = {
    "genie3": {"n_estimators": 100},
}

_GT_SHORT = {
    "STRING": "STRING",
    "non-specific-ChIP-seq": "Non-specific ChIP",
    "cell-type-specific-ChIP-seq": "Cell-type ChIP",
    "lofgof": "LOF/GOF",
}

_COLUMNS = [
    "dataset", "kind", "family", "group", "cells", "genes", "replicate", "dropout",
    "ground_truth", "method", "repeat", "seed", "convention", "EP", "EPR", "AUPRC",
    "AUPRC_ratio", "AUROC", "k", "density", "seconds", "status", "params",
]


# --------------------------------------------------------------------------------------------
# methods
# --------------------------------------------------------------------------------------------
def _run_scgrn(name: str, adata, tfs, seed: int, kwargs: dict, n_jobs: int | None):
    """The tool's GRN: a dense array, or a CSR matrix when the tool stores it sparse."""
    return GRN_METHODS[name].infer(adata, tfs=tfs, random_state=seed, n_jobs=n_jobs, **kwargs)


def _run_regdiffusion(x: np.ndarray, seed: int, kwargs: dict) -> np.ndarray:
    import functools

    import regdiffusion as rd
    from regdiffusion import trainer as rd_trainer

    kw = {"device": "cpu", **kwargs}
    model = rd.RegDiffusionTrainer(x, seed=seed, **kw)
    bar = rd_trainer.tqdm  # regdiffusion has no switch for its per-step bar: silence it here
    rd_trainer.tqdm = functools.partial(bar, disable=True)
    try:
        model.train()
    finally:
        rd_trainer.tqdm = bar
    return np.asarray(model.get_adj(), dtype=np.float32)


def _run_dazzle(x: np.ndarray, seed: int, kwargs: dict) -> np.ndarray:
    import copy

    import torch
    from dazzle import runner

    configs = copy.deepcopy(runner.DEFAULT_DAZZLE_CONFIGS)
    configs["cuda"] = False
    configs.update(kwargs)
    np.random.seed(seed)
    torch.manual_seed(seed)
    model, _ = runner.runDAZZLE(x, configs, progress_bar=False)
    return np.asarray(model.get_adj(), dtype=np.float32)


_PEER_RUNNERS = {"regdiffusion": ("regdiffusion", _run_regdiffusion), "dazzle": ("dazzle", _run_dazzle)}


def _peer_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(_PEER_RUNNERS[name][0]) is not None


def _run_peer(name: str, adata, tfs, seed: int, kwargs: dict) -> np.ndarray:
    x = np.asarray(adata.X.toarray() if hasattr(adata.X, "toarray") else adata.X, dtype=np.float32)
    W = _PEER_RUNNERS[name][1](x, seed, kwargs)  # row = regulator, column = target
    W = np.array(W, dtype=np.float32)
    np.fill_diagonal(W, 0.0)
    if tfs is not None:
        keep = adata.var_names.isin(set(tfs))
        W[~keep] = 0.0
    return W


def _check_methods(methods) -> list[str]:
    if methods is None:
        return list(METHODS)
    if isinstance(methods, str):
        methods = [methods]
    methods = list(dict.fromkeys(str(m) for m in methods))
    unknown = [m for m in methods if m not in METHODS and m not in PEERS]
    if unknown:
        raise ValueError(
            f"Unknown method(s) {unknown}. scgrn methods: {list(METHODS)}; peers (optional extra "
            f"`pip install 'scgrn[peers]'`): {list(PEERS)}."
        )
    if not methods:
        raise ValueError("methods is empty; pass at least one method name.")
    return methods


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------
@dataclass
class _Dataset:
    id: str
    kind: str  # "scRNA-seq", "synthetic", "curated"
    family: str
    path: str
    n_cells: int | None = None
    replicate: int | None = None
    dropout: int | None = None
    ground_truths: list[str] = field(default_factory=list)
    cell_type: str | None = None
    n_genes_set: int | None = None

    @property
    def group(self) -> str:
        if self.kind == "synthetic":
            return f"{self.family} ({self.n_cells} cells)"
        if self.kind == "curated":
            return self.family + (f" (dropout {self.dropout})" if self.dropout else "")
        return self.id


def available_datasets(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """The datasets :func:`beeline` can run, one row each (no expression file is read).

    Parameters
    ----------
    data_dir
        The benchmark data folder; default ``$SCGRN_DATA_DIR``.

    Returns
    -------
    DataFrame with columns ``dataset`` (the id to pass in ``datasets=``), ``kind``,
    ``family``, ``cells``, ``replicate``, ``dropout``, ``ground_truths``.

    Examples
    --------
    >>> import tempfile
    >>> from scgrn.bench import available_datasets
    >>> from scgrn.datasets._beeline import _example_tree
    >>> root = _example_tree(tempfile.mkdtemp())
    >>> available_datasets(root)[["dataset", "kind", "family"]].values.tolist()
    [['demo-500', 'scRNA-seq', 'demo'], ['dyn-DEMO_100_0', 'synthetic', 'dyn-DEMO']]
    """
    return pd.DataFrame(
        [
            {"dataset": d.id, "kind": d.kind, "family": d.family, "cells": d.n_cells,
             "replicate": d.replicate, "dropout": d.dropout,
             "ground_truths": ",".join(d.ground_truths)}
            for d in _all_datasets(data_dir)
        ],
        columns=["dataset", "kind", "family", "cells", "replicate", "dropout", "ground_truths"],
    )


def _all_datasets(data_dir) -> list[_Dataset]:
    from ..datasets import list_beeline
    from ..datasets._beeline import GROUND_TRUTHS

    table = list_beeline(data_dir)
    table = table[table["has_expression"]]
    out: list[_Dataset] = []
    real = table[table["kind"] == "scRNA-seq"]
    for (ct, size), sub in real.groupby(["name", "variant"], sort=True):
        gts = [g for g in GROUND_TRUTHS if g in set(sub["ground_truth"])]
        if not gts:
            continue
        n = int(str(size).split("+")[1]) if "+" in str(size) else None
        out.append(_Dataset(id=f"{ct}-{n}", kind="scRNA-seq", family=ct, path=sub["path"].iloc[0],
                            ground_truths=gts, cell_type=ct, n_genes_set=n))
    for kind in ("synthetic", "curated"):
        sim = table[table["kind"] == kind].sort_values(["name", "n_cells", "dropout", "replicate"])
        for row in sim.itertuples(index=False):
            if pd.isna(row.replicate):
                continue
            out.append(_Dataset(
                id=os.path.basename(row.path), kind=kind, family=row.name, path=row.path,
                n_cells=int(row.n_cells), replicate=int(row.replicate),
                dropout=int(row.dropout) if not pd.isna(row.dropout) else 0,
                ground_truths=["refNetwork"],
            ))
    return out


def _check_n_cells(n_cells) -> set[int] | None:
    """``n_cells`` as a set of cell counts, each an integer >= 1 (``None``: no filter)."""
    if n_cells is None:
        return None
    if isinstance(n_cells, (str, bytes)) or not isinstance(n_cells, Iterable):
        n_cells = [n_cells]
    values = list(n_cells)
    if not values:
        raise ValueError("n_cells is empty: pass cell counts (e.g. n_cells=2000 or [500, 2000]), or n_cells=None "
                         "for every cell count.")
    return {check_int("n_cells", c, min=1) for c in values}


def _n_cells_error(what: str, hits: list[_Dataset], cells: set[int]) -> ValueError:
    """The error for a selector whose every set the ``n_cells`` filter removed."""
    counts = sorted({d.n_cells for d in hits if d.n_cells is not None})
    return ValueError(
        f"{what} matches {len(hits)} set(s), but n_cells={sorted(cells)} removes them all: they have "
        f"{counts} cells. Pass n_cells={counts[0] if len(counts) == 1 else counts} (command line: --n-cells "
        f"{' '.join(map(str, counts))}), or n_cells=None for every cell count (--n-cells with no value)."
    )


def _select(datasets, all_sets: list[_Dataset], n_replicates: int | None,
            n_cells) -> list[_Dataset]:
    """The sets ``datasets`` selects, filtered by ``n_cells`` and ``n_replicates``; sets named by
    their id are always kept, and a selector none of whose sets is left raises naming the filter."""
    if isinstance(datasets, str):
        datasets = [datasets]
    selectors = [str(s) for s in datasets]
    if not selectors:
        raise ValueError("datasets is empty; pass e.g. 'all', 'real', 'synthetic' or names.")
    cells = _check_n_cells(n_cells)
    n_replicates = check_int("n_replicates", n_replicates, min=1, allow_none=True)
    chosen: dict[str, _Dataset] = {}
    named: set[str] = set()  # sets named by their id: the filters do not apply to them
    by_selector: list[tuple[str, list[_Dataset]]] = []  # families and names: each must keep a set
    for sel in selectors:
        key = sel.strip().lower()
        if key in DATASET_KINDS:
            hits = [d for d in all_sets if d.kind in DATASET_KINDS[key]]
        else:
            hits = [d for d in all_sets
                    if key in (d.id.lower(), d.family.lower())
                    or (d.family.lower().startswith("dyn-") and key == d.family.lower()[4:])]
            by_selector.append((sel, hits))
        if not hits and key not in DATASET_KINDS:
            fams = sorted({d.family for d in all_sets})
            real = [d.id for d in all_sets if d.kind == "scRNA-seq"]
            raise ValueError(
                f"Unknown dataset selector {sel!r}. Use 'all', 'real', 'synthetic', 'curated', a "
                f"family ({fams}), a real set ({real}) or a folder name such as 'dyn-LI_2000_0'."
            )
        for d in hits:
            chosen.setdefault(d.id, d)
            if key == d.id.lower():
                named.add(d.id)
    out = list(chosen.values())
    if cells is not None:
        out = [d for d in out if d.kind == "scRNA-seq" or d.id in named or d.n_cells in cells]
        kept = {d.id for d in out}
        for sel, hits in by_selector:
            if not any(d.id in kept for d in hits):
                raise _n_cells_error(f"The dataset selector {sel!r}", hits, cells)
        if chosen and not out:
            raise _n_cells_error(f"datasets={selectors}", list(chosen.values()), cells)
    if n_replicates is not None:
        groups: dict[tuple, list[_Dataset]] = {}
        for d in out:
            if d.kind != "scRNA-seq" and d.id not in named:
                groups.setdefault((d.kind, d.family, d.n_cells, d.dropout), []).append(d)
        keep = {d.id for g in groups.values()
                for d in sorted(g, key=lambda d: d.replicate)[:n_replicates]}
        out = [d for d in out if d.kind == "scRNA-seq" or d.id in named or d.id in keep]
    order = {"scRNA-seq": 0, "synthetic": 1, "curated": 2}
    out.sort(key=lambda d: (order[d.kind], d.family, d.n_cells or 0, d.dropout or 0,
                            d.replicate or 0, d.id))
    return out


def _load(d: _Dataset, data_dir, use_tfs: bool):
    """``(adata, {ground_truth: reference}, tfs or None)`` for one dataset."""
    from pathlib import Path

    from ..datasets import beeline, read_beeline_folder
    from ..datasets._beeline_files import _read_network

    if d.kind == "scRNA-seq":
        adata, first = beeline(d.cell_type, n_genes=d.n_genes_set, ground_truth=d.ground_truths[0],
                               data_dir=data_dir)
        refs = {d.ground_truths[0]: first}
        tf_names: set[str] = set()
        for gt in d.ground_truths:
            folder = Path(d.path) / gt
            if gt not in refs:
                refs[gt] = _read_network(folder / "refNetwork.csv")
            tf_file = folder / "TFs.csv"
            if tf_file.is_file():
                tf_names |= set(pd.read_csv(tf_file, dtype=str).iloc[:, 0].str.strip())
            else:
                tf_names |= set(refs[gt]["source"])
        tfs = [g for g in adata.var_names if g in tf_names] if use_tfs else None
        return adata, refs, (tfs or None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        adata, net = read_beeline_folder(d.path)
    return adata, {"refNetwork": net}, None


# --------------------------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------------------------
def _score(W, var_names, reference, convention: str) -> dict:
    from ..metrics import evaluate_grn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = evaluate_grn(W, reference, var_names=var_names, convention=convention)
    return {k: r[k] for k in ("EP", "EPR", "AUPRC", "AUPRC_ratio", "AUROC", "k", "density")}


def beeline(
    methods: Sequence[str] | str | None = None,
    datasets: Sequence[str] | str = "all",
    *,
    data_dir: str | os.PathLike | None = None,
    n_replicates: int | None = None,
    n_cells: int | Iterable[int] | None = None,
    n_repeats: int = 1,
    methods_kwargs: Mapping[str, Mapping] | None = None,
    use_tfs: bool = True,
    n_jobs: int | None = None,
    random_state: int = 0,
    errors: str = "raise",
    show_progress_bar: bool | None = None,
) -> pd.DataFrame:
    """Run GRN methods on BEELINE datasets and score them (the DeepSEM paper's Fig. 3 setup).

    Every method runs once per dataset and repeat (seed ``random_state + repeat``), on the
    expression as BEELINE ships it (log-normalised). Real scRNA-seq sets are run with the
    union of their ground truths' TF lists as regulators (``use_tfs``; the DeepSEM and
    BEELINE evaluations only score TF -> gene edges there) and scored against every ground
    truth in both conventions; the BoolODE synthetic and curated sets are run with every gene
    as a regulator and scored over all ordered gene pairs, BEELINE's way
    (``convention="beeline"``). See :func:`scgrn.metrics.evaluate_grn`.

    Parameters
    ----------
    methods
        Names from :data:`METHODS` (``"deepsem"``, ``"grnboost2"``, ``"genie3"``,
        ``"pearson"``, ``"spearman"``, ``"partial_correlation"``, ``"pidc"``) and
        :data:`PEERS` (``"regdiffusion"``, ``"dazzle"``: optional extra ``peers``; a peer that
        is not installed is skipped with a logged message). ``None``: every scgrn method.
    datasets
        Selectors, any mix of ``"all"``, ``"real"``, ``"synthetic"``, ``"curated"``, a family
        (``"mESC"``, ``"mHSC-L"``, ``"dyn-LI"`` or ``"LI"``, ``"GSD"``, ...), a real set id
        (``"mESC-500"``, ``"mHSC-L-1000"``) or a folder name (``"dyn-LI_2000_0"``,
        ``"GSD_2000_0_50"``). :func:`available_datasets` lists them.
    data_dir
        The benchmark data folder; default ``$SCGRN_DATA_DIR``.
    n_replicates
        Keep only the first ``n_replicates`` replicates (an integer >= 1) of each synthetic /
        curated family (per cell count and dropout level). ``None``: all (10 each in BEELINE).
    n_cells
        Keep only synthetic / curated sets with this many cells (an integer >= 1 or a list,
        e.g. 2000); real sets are always kept. ``None``: all. Neither filter applies to a set
        named by its folder name (``"dyn-LI_500_0"``), and a family none of whose sets has
        ``n_cells`` cells raises a ``ValueError`` naming their cell counts.
    n_repeats
        Runs per method and dataset, seeds ``random_state, random_state + 1, ...``
        (deterministic methods are still rerun: the timing is repeated too).
    methods_kwargs
        Per method keyword arguments, e.g. ``{"deepsem": {"n_models": 4}}``; they override
        :data:`DEFAULT_KWARGS` (GENIE3 uses 100 trees per target unless set here).
    use_tfs
        Restrict regulators to the TFs of real sets (ignored for simulated sets).
    n_jobs
        Passed to the tree methods (``grnboost2``, ``genie3``) unless ``methods_kwargs`` sets it.
    random_state
        Seed of the first repeat.
    errors
        ``"raise"``: a failing method stops the run. ``"warn"``: it is logged and recorded
        with ``status`` holding the error and NaN metrics.
    show_progress_bar
        Progress bar over runs (``None``: ``scgrn.settings.show_progress_bar``).

    Returns
    -------
    Tidy :class:`~pandas.DataFrame`, one row per dataset x ground truth x method x repeat x
    convention: ``dataset``, ``kind`` (``scRNA-seq`` / ``synthetic`` / ``curated``),
    ``family``, ``group`` (the row label of :func:`scgrn.pl.benchmark_heatmap`: a real set,
    or a family with its cell count / dropout level), ``cells``, ``genes``, ``replicate``,
    ``dropout``, ``ground_truth``, ``method``, ``repeat``, ``seed``, ``convention``, ``EP``,
    ``EPR``, ``AUPRC``, ``AUPRC_ratio``, ``AUROC``, ``k`` (true edges among the candidates),
    ``density``, ``seconds`` (wall time of the method), ``status`` (``"ok"`` or the error) and
    ``params`` (the method's keyword arguments, JSON). ``attrs['scgrn_version']`` is set.

    Examples
    --------
    A tiny BEELINE-shaped folder stands in for the benchmark data here:

    >>> import tempfile
    >>> import scgrn
    >>> from scgrn.datasets._beeline import _example_tree
    >>> root = _example_tree(tempfile.mkdtemp())
    >>> res = scgrn.bench.beeline(["pearson", "spearman"], "synthetic", data_dir=root,
    ...                           show_progress_bar=False)
    >>> res[["dataset", "method", "convention"]].drop_duplicates().shape[0]
    2
    >>> sorted(res.columns[:4])
    ['dataset', 'family', 'group', 'kind']
    """
    methods = _check_methods(methods)
    _check_n_cells(n_cells)
    check_int("n_replicates", n_replicates, min=1, allow_none=True)
    random_state = check_random_state(random_state)
    use_tfs = check_bool("use_tfs", use_tfs)
    show = resolve_progress_bar(show_progress_bar)
    if errors not in ("raise", "warn"):
        raise ValueError(f"errors={errors!r}: use 'raise' or 'warn'.")
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, (int, np.integer)) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive int, got {n_repeats!r}.")
    methods_kwargs = dict(methods_kwargs or {})
    unknown = set(methods_kwargs) - set(methods)
    if unknown:
        raise ValueError(
            f"methods_kwargs has entries for {sorted(unknown)}, which are not in methods={methods}."
        )
    runnable = []
    for m in methods:
        if m in PEERS and not _peer_available(m):
            logg.warning(
                f"peer method {m!r} is not installed (`pip install 'scgrn[peers]'`); skipped."
            )
            continue
        runnable.append(m)
    sets = _select(datasets, _all_datasets(data_dir), n_replicates, n_cells)
    if not sets:
        raise ValueError(f"No dataset with expression matches datasets={datasets!r}.")
    kwargs = {m: {**DEFAULT_KWARGS.get(m, {}), **dict(methods_kwargs.get(m, {}))} for m in runnable}
    start = logg.info(
        f"BEELINE benchmark: {len(runnable)} method(s) x {len(sets)} dataset(s) x {n_repeats} repeat(s)"
    )
    rows: list[dict] = []
    with tqdm(total=len(sets) * len(runnable) * n_repeats, desc="BEELINE", unit="run",
              disable=not show) as bar:
        for d in sets:
            adata, refs, tfs = _load(d, data_dir, use_tfs)
            conventions = ("deepsem", "beeline") if d.kind == "scRNA-seq" else ("beeline",)
            base = {
                "dataset": d.id, "kind": d.kind, "family": d.family, "group": d.group,
                "cells": int(adata.n_obs), "genes": int(adata.n_vars),
                "replicate": d.replicate, "dropout": d.dropout,
            }
            for m in runnable:
                for rep in range(n_repeats):
                    seed = int(random_state) + rep
                    bar.set_postfix_str(f"{d.id} {m}")
                    status, W = "ok", None
                    t0 = time.perf_counter()
                    try:
                        if m in PEERS:
                            W = _run_peer(m, adata, tfs, seed, kwargs[m])
                        else:
                            W = _run_scgrn(m, adata, tfs, seed, kwargs[m], n_jobs)
                    except Exception as err:  # noqa: BLE001 - recorded, or re-raised
                        if errors == "raise":
                            raise
                        status = f"error: {type(err).__name__}: {err}"
                        logg.warning(f"{m} failed on {d.id}: {status}")
                    seconds = time.perf_counter() - t0
                    for gt, ref in refs.items():
                        for conv in conventions:
                            if W is not None:
                                scores = _score(W, adata.var_names, ref, conv)
                            else:
                                scores = dict.fromkeys(
                                    ("EP", "EPR", "AUPRC", "AUPRC_ratio", "AUROC", "k", "density"),
                                    np.nan)
                            group = (f"{d.id} | {ground_truth_label(gt)}"
                                     if d.kind == "scRNA-seq" else d.group)
                            rows.append({
                                **base, "group": group, "ground_truth": gt, "method": m,
                                "repeat": rep,
                                "seed": seed, "convention": conv, **scores,
                                "seconds": seconds, "status": status,
                                "params": json.dumps(kwargs[m], sort_keys=True, default=str),
                            })
                    bar.update(1)
    table = pd.DataFrame(rows, columns=_COLUMNS)
    for col in ("replicate", "dropout"):
        table[col] = table[col].astype("Int64")
    table.attrs["scgrn_version"] = __version__
    logg.info(f"    finished: {len(table)} rows", time=start)
    return table


def ground_truth_label(name: str) -> str:
    """Short label of a ground-truth folder name (for plots)."""
    return _GT_SHORT.get(name, re.sub(r"[-_]", " ", str(name)))
