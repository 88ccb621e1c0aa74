"""DeepSEM's training length on small networks: the default recipe against step-count rules,
with |Pearson| and GRNBoost2 as references, on the ten small BEELINE BoolODE networks
(first 2,000-cell replicate) and krumsiek11.

A variant is a JSON object: ``"method"`` (``"deepsem"``, default; ``"pearson"``;
``"partial_correlation"``; ``"grnboost2"``), optional ``"seeds"`` (overrides ``--seeds`` for this variant), and for DeepSEM
optional rule keys ``"min_steps"`` / ``"max_genes"``: when the run would train fewer than
``min_steps`` optimiser steps and the input has at most ``max_genes`` genes (``null``: any), the
script passes ``n_epochs = ceil(min_steps / steps_per_epoch)`` and raises ``max_steps`` to
``min_steps`` if it was lower. ``"stretch_steps"`` (with the same ``"max_genes"``) instead keeps
``n_epochs`` and trains at least that many steps with the epoch schedule stretched over them
(as ``max_steps`` compresses it; done by patching training's step count). Every other key is passed to ``scgrn.tl.deepsem`` as a
hyperparameter. ``{}`` is the library's default, whatever it resolves to.

Rows are appended to ``--out`` (CSV) as they finish; rows already there (same dataset, variant,
seed) are skipped, so an interrupted run resumes. ``--summary`` prints the Markdown tables of
``results/small_networks.md`` from the CSV without running anything.

Usage::

    SCGRN_DATA_DIR=/work/shared/data python benchmarks/small_networks.py \\
        --variants '{"default": {}, "min1000": {"min_steps": 1000, "max_genes": 100}}'
    python benchmarks/small_networks.py --summary
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scgrn
from scgrn.models import make_config
from scgrn.models._deepsem_config import steps_per_epoch, total_steps

SYNTHETIC = ["dyn-BF", "dyn-BFC", "dyn-CY", "dyn-LI", "dyn-LL", "dyn-TF"]
CURATED = ["HSC", "VSC", "mCAD", "GSD"]
DATASETS = SYNTHETIC + CURATED + ["krumsiek11"]
FAMILY = {**{d: "synthetic" for d in SYNTHETIC}, **{d: "curated" for d in CURATED}, "krumsiek11": "krumsiek11"}
DEFAULT_VARIANTS = {
    "default": {},
    "pearson": {"method": "pearson", "seeds": [0]},
    "grnboost2": {"method": "grnboost2"},
}
OUT = Path(__file__).parent / "results" / "small_networks.csv"
METRICS = ("EPR", "AUPRC_ratio", "AUROC")
COLUMNS = ["dataset", "family", "n_cells", "n_genes", "variant", "method", "seed", *METRICS, "k", "n_epochs",
           "n_steps", "seconds", "overrides", "spec"]


def load(name: str, subsample: int | None = None, draw: int = 0):
    """``(adata, truth, label)``; with ``subsample``, that many cells drawn at random (seed
    ``draw``) from a BEELINE set (krumsiek11 has 640 cells and is never subsampled)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "krumsiek11":
            adata, truth = scgrn.datasets.krumsiek11()
            return adata, truth, name
        adata, truth = scgrn.datasets.beeline_synthetic(name, n_cells=2000, replicate=0)
    if subsample is None or subsample >= adata.n_obs:
        return adata, truth, name
    keep = np.sort(np.random.default_rng(draw).choice(adata.n_obs, subsample, replace=False))
    return adata[keep].copy(), truth, f"{name}/{subsample}" + (f"/draw{draw}" if draw else "")


def deepsem_overrides(spec: dict, n_cells: int, n_genes: int) -> dict:
    """The hyperparameters a DeepSEM variant passes, its step rule resolved for this input."""
    spec = {k: v for k, v in spec.items() if k not in ("method", "seeds", "stretch_steps")}
    min_steps, max_genes = spec.pop("min_steps", None), spec.pop("max_genes", None)
    if min_steps is None or (max_genes is not None and n_genes > max_genes):
        return spec
    config = make_config("default", **spec)
    if total_steps(config, n_cells) >= min_steps:
        return spec
    spec["n_epochs"] = max(config.n_epochs, math.ceil(min_steps / steps_per_epoch(config, n_cells)))
    if config.max_steps is not None and config.max_steps < min_steps:
        spec["max_steps"] = int(min_steps)
    return spec


@contextlib.contextmanager
def stretched(min_steps: int | None):
    """Train at least ``min_steps`` steps with the epoch schedule (``n_epochs``, the sparsity
    delay, the history's rows) laid over them in proportion, as ``max_steps`` does for a cap:
    a variant that the config cannot express, so training's step count is patched here."""
    import scgrn.models._deepsem_training as training

    original = training.total_steps
    if min_steps is not None:
        training.total_steps = lambda config, n_cells, per_epoch=None: max(
            original(config, n_cells, per_epoch), int(min_steps))
    try:
        yield
    finally:
        training.total_steps = original


def run_one(adata, truth, spec: dict, seed: int) -> dict:
    method = spec.get("method", "deepsem")
    t0 = time.perf_counter()
    extra = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "pearson":
            out = scgrn.tl.correlation(adata, method="pearson", copy=True)
            w = np.abs(np.asarray(out.varp["pearson"]))  # |r|: the sign carries no direction
        elif method == "partial_correlation":
            out = scgrn.tl.partial_correlation(adata, copy=True)
            w = np.abs(np.asarray(out.varp["partial_correlation"]))
        elif method == "grnboost2":
            out = scgrn.tl.grnboost2(adata, random_state=seed, show_progress_bar=False, copy=True)
            w = np.asarray(out.varp["grnboost2"])
        elif method == "deepsem":
            overrides = deepsem_overrides(spec, adata.n_obs, adata.n_vars)
            stretch = spec.get("stretch_steps")
            if stretch is not None and spec.get("max_genes") is not None and adata.n_vars > spec["max_genes"]:
                stretch = None
            with stretched(stretch):
                out = scgrn.tl.deepsem(adata, random_state=seed, show_progress_bar=False, embedding=False,
                                       copy=True, **overrides)
            w = np.asarray(out.varp["deepsem"])
            params = out.uns["deepsem"]["params"]
            n_steps = params.get("n_steps")
            if stretch is not None:
                n_steps = max(n_steps, int(stretch))  # params does not see the patch
            extra = {"n_epochs": params["n_epochs"], "n_steps": n_steps,
                     "overrides": json.dumps(overrides, sort_keys=True)}
        else:
            raise ValueError(f"unknown method {method!r}")
        seconds = time.perf_counter() - t0
        m = scgrn.metrics.evaluate_grn(w, truth, var_names=adata.var_names, convention="beeline")
    return {"method": method, **{k: m[k] for k in METRICS}, "k": m["k"], "seconds": round(seconds, 2), **extra}


def versions() -> str:
    import torch

    return f"scgrn {scgrn.__version__}, torch {torch.__version__}, numpy {np.__version__}, pandas {pd.__version__}"


# ------------------------------------------------------------------------------------------
# summary
# ------------------------------------------------------------------------------------------
def summarise(df: pd.DataFrame, variants: list[str] | None = None) -> str:
    variants = variants or list(dict.fromkeys(df["variant"]))
    rank = {d: i for i, d in enumerate(DATASETS)}
    datasets = sorted(set(df["dataset"]), key=lambda d: (rank.get(d.split("/")[0], 99), d))
    med = df.groupby(["dataset", "variant"])[list(METRICS)].median()
    lo = df.groupby(["dataset", "variant"])[list(METRICS)].min()
    hi = df.groupby(["dataset", "variant"])[list(METRICS)].max()
    lines = []
    for metric in ("AUPRC_ratio", "AUROC", "EPR"):
        lines += [f"### {metric} (median over seeds; [min-max] where more than one seed)", "",
                  "| dataset | genes | " + " | ".join(variants) + " |",
                  "| --- | ---: | " + " | ".join("---:" for _ in variants) + " |"]
        for d in datasets:
            cells = []
            for v in variants:
                if (d, v) not in med.index:
                    cells.append("")
                    continue
                n = int(((df["dataset"] == d) & (df["variant"] == v)).sum())
                c = f"{med.loc[(d, v), metric]:.2f}"
                if n > 1:
                    c += f" [{lo.loc[(d, v), metric]:.2f}-{hi.loc[(d, v), metric]:.2f}]"
                cells.append(c)
            genes = int(df.loc[df["dataset"] == d, "n_genes"].iloc[0])
            lines.append(f"| {d} | {genes} | " + " | ".join(cells) + " |")
        board = [f"{med.xs(v, level='variant')[metric].median():.3f}" if v in med.index.get_level_values(1) else ""
                 for v in variants]
        lines += ["| **median over the board** | | " + " | ".join(board) + " |", ""]
    # beats |Pearson| on AUROC (per-dataset medians), and per-family medians
    lines += ["### Summary per variant", "",
              ("| variant | median AUPRC ratio | median AUROC | median EPR | synthetic AUPRC ratio | synthetic AUROC | "
               "curated AUPRC ratio | curated AUROC | AUROC > Pearson (of datasets) | AUROC vs default: better / "
               "worse beyond seed spread |"),
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    has_pearson = "pearson" in variants
    for v in variants:
        if v not in med.index.get_level_values(1):
            continue
        mv = med.xs(v, level="variant")
        fam = pd.Series({d: FAMILY.get(d.split("/")[0], "") for d in mv.index})
        syn = mv.loc[fam[fam == "synthetic"].index, "AUROC"].median()
        cur = mv.loc[fam[fam == "curated"].index, "AUROC"].median()
        syn_ap = mv.loc[fam[fam == "synthetic"].index, "AUPRC_ratio"].median()
        cur_ap = mv.loc[fam[fam == "curated"].index, "AUPRC_ratio"].median()
        beats = ""
        if has_pearson and v != "pearson":
            mp = med.xs("pearson", level="variant")
            common = mv.index.intersection(mp.index)
            beats = f"{int((mv.loc[common, 'AUROC'] > mp.loc[common, 'AUROC']).sum())} / {len(common)}"
            beeline = [d for d in common if not d.startswith("krumsiek11")]
            if len(beeline) < len(common):
                beats += (f" ({int((mv.loc[beeline, 'AUROC'] > mp.loc[beeline, 'AUROC']).sum())} / {len(beeline)} "
                          "BEELINE)")
        clear = ""
        if "default" in variants and v != "default" and FAMILY and v in set(df["variant"]):
            better = worse = 0
            for d in datasets:
                if (d, v) not in med.index or (d, "default") not in med.index:
                    continue
                if lo.loc[(d, v), "AUROC"] > hi.loc[(d, "default"), "AUROC"]:
                    better += 1
                elif hi.loc[(d, v), "AUROC"] < lo.loc[(d, "default"), "AUROC"]:
                    worse += 1
            clear = f"{better} / {worse}"
        lines.append(f"| {v} | {mv['AUPRC_ratio'].median():.3f} | {mv['AUROC'].median():.3f} | "
                     f"{mv['EPR'].median():.3f} | {syn_ap:.3f} | {syn:.3f} | {cur_ap:.3f} | {cur:.3f} | {beats} | "
                     f"{clear} |")
    # paired against the default, seed by seed (same seeds: the difference the variant makes)
    if "default" in variants:
        deepsem = set(df.loc[df["method"] == "deepsem", "variant"])
        others = [v for v in variants if v != "default" and v in deepsem]
        base = df[df["variant"] == "default"].set_index(["dataset", "seed"])
        spread = base.groupby(level="dataset")[list(METRICS)].agg(lambda x: x.max() - x.min())
        if others:
            lines += ["", "### Paired with the default (same dataset and seed): mean difference over seeds", "",
                      "Seed spread = max - min of the default over its seeds (the noise yardstick).", "",
                      "| dataset | default AUROC seed spread | " + " | ".join(f"{v} dAUROC" for v in others)
                      + " | default AUPRC-ratio seed spread | " + " | ".join(f"{v} dAUPRC ratio" for v in others)
                      + " |", "| --- | ---: | " + " | ".join("---:" for _ in others) + " | ---: | "
                      + " | ".join("---:" for _ in others) + " |"]
            deltas = {}
            for v in others:
                part = df[df["variant"] == v].set_index(["dataset", "seed"])
                common = part.index.intersection(base.index)
                deltas[v] = (part.loc[common, list(METRICS)] - base.loc[common, list(METRICS)]).groupby(
                    level="dataset").mean()
            for d in datasets:
                if d not in spread.index:
                    continue
                au = [f"{deltas[v].loc[d, 'AUROC']:+.3f}" if d in deltas[v].index else "" for v in others]
                ap = [f"{deltas[v].loc[d, 'AUPRC_ratio']:+.2f}" if d in deltas[v].index else "" for v in others]
                lines.append(f"| {d} | {spread.loc[d, 'AUROC']:.3f} | " + " | ".join(au)
                             + f" | {spread.loc[d, 'AUPRC_ratio']:.2f} | " + " | ".join(ap) + " |")
            up = [f"{int((deltas[v]['AUROC'] > 0).sum())}+/{int((deltas[v]['AUROC'] < 0).sum())}-, "
                  f"median {deltas[v]['AUROC'].median():+.3f}" for v in others]
            upp = [f"{int((deltas[v]['AUPRC_ratio'] > 0).sum())}+/{int((deltas[v]['AUPRC_ratio'] < 0).sum())}-, "
                   f"median {deltas[v]['AUPRC_ratio'].median():+.2f}" for v in others]
            lines.append("| **datasets up / down, median** | | " + " | ".join(up) + " | | " + " | ".join(upp) + " |")
    steps = df[df["method"] == "deepsem"].groupby(["dataset", "variant"])["n_steps"].first().unstack()
    if len(steps):
        lines += ["", "### Optimiser steps per run (resolved)", "",
                  "| dataset | " + " | ".join(c for c in steps.columns) + " |",
                  "| --- | " + " | ".join("---:" for _ in steps.columns) + " |"]
        for d in datasets:
            if d in steps.index:
                lines.append(f"| {d} | " + " | ".join(
                    "" if pd.isna(x) else str(int(x)) for x in steps.loc[d]) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=DATASETS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--variants", default=json.dumps(DEFAULT_VARIANTS),
                   help="JSON object: label -> variant spec (see the module docstring)")
    p.add_argument("--subsample", type=int, default=None,
                   help="draw this many cells (seed 0) from each BEELINE set; the dataset is labelled name/N")
    p.add_argument("--draw", type=int, default=0, help="seed of the --subsample draw")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: fastest for these tiny models on a shared machine)")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--summary", action="store_true", help="only print the Markdown tables from the CSV")
    args = p.parse_args(argv)
    if args.summary:
        df = pd.read_csv(args.out)
        subsampled = df["dataset"].str.contains("/")
        redrawn = df["dataset"].str.contains("/draw")
        text = ""
        for title, part in (("Board: 2,000-cell BEELINE sets and krumsiek11", df[~subsampled]),
                            ("Supplement: the BEELINE sets subsampled", df[subsampled & ~redrawn]),
                            ("Supplement: other cell draws", df[redrawn])):
            if len(part):
                text += f"## {title}\n\n" + summarise(part) + "\n"
        print(text)
        return
    import torch

    torch.set_num_threads(args.threads)
    variants = json.loads(args.variants)
    done = set()
    if args.out.is_file():
        prev = pd.read_csv(args.out)
        done = set(zip(prev["dataset"], prev["variant"], prev["seed"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(versions(), flush=True)
    for base in args.datasets:
        adata, truth, name = load(base, args.subsample, args.draw)
        for label, spec in variants.items():
            for seed in spec.get("seeds", args.seeds):
                if (name, label, seed) in done:
                    continue
                row = {"dataset": name, "family": FAMILY.get(base, ""), "n_cells": adata.n_obs,
                       "n_genes": adata.n_vars, "variant": label, "spec": json.dumps(spec, sort_keys=True),
                       "seed": seed, **run_one(adata, truth, spec, seed)}
                pd.DataFrame([row]).reindex(columns=COLUMNS).to_csv(args.out, mode="a", header=not args.out.is_file(), index=False)
                print(f"{name:10s} {label:14s} seed {seed}: AUPRC ratio {row['AUPRC_ratio']:.2f} "
                      f"AUROC {row['AUROC']:.3f} EPR {row['EPR']:.2f} steps {row.get('n_steps', '-')} "
                      f"({row['seconds']:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
