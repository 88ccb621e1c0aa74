"""Simulation benchmark: realism AUC, copies/closeness, GRN consistency, augmentation.

Data, each split 80/20 per cell type (stratified, seed 0); every simulator sees only the
training cells of one cell type and simulates as many cells as it saw:

- mouse_bladder_2100 (scgrn.datasets.mouse_bladder; raw UMI counts, 16 types): the top
  ``--bladder-genes`` highly variable genes (scanpy "seurat" flavour on log-normalised
  *training* cells), types with at least ``--bladder-min-cells`` cells.
- scanpy's pbmc68k_reduced ``.raw`` (log-normalised, 765 genes, ``bulk_labels``), genes
  expressed in the training cells, types with at least ``--pbmc-min-cells`` cells.

Simulators: scgrn (``tl.simulate``, defaults: noise_scale="auto", spread=0.4, one model
per type), its ablations on PBMC (the paper's ``z = mu + sigma * n``: noise_scale=1,
spread=0; and noise_scale="auto", spread=0), the per-gene independent resampling and
Gaussian-copula baselines (``tl.simulate_baseline``), and scVI's posterior predictive
sample (counts data only, when scvi-tools imports).

Realism: ``metrics.realism_auc`` (5-fold RF, 100 trees, 50 PCs) of the held-out test cells
of the type against an equal number of simulated cells, repeated ``--repeats`` times with
different simulated subsets and seeds; positive control: equal-size random subsets of the
real training cells against the same test cells. Closeness: ``metrics.simulation_closeness``
(all simulated cells vs training cells, with the test cells as the reference).

GRN consistency: ``metrics.grn_consistency`` between the training cells of the largest
type and each simulator's cells, judged by GRNBoost2 (scgrn's numba engine, default
settings) on PBMC, and by Pearson correlation on every type of both sets.

Augmentation: ``bench.augmentation`` on PBMC, target ``--aug-target``, all 8 fractions,
2000 added cells, arms none / upsample / simulate / copula.

Usage (writes benchmarks/results/simulation*):
    nice -n 19 env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \\
        SCGRN_DATA_DIR=/work/shared/data PYTHONPATH=src python benchmarks/simulation.py
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scanpy as sc  # noqa: E402
from anndata import AnnData  # noqa: E402
from scipy import sparse  # noqa: E402

import scgrn  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
SIM_KW: dict = {}  # --quick: a smoke test of the script (2 epochs)


def md(df: pd.DataFrame) -> str:
    """A pipe table (no tabulate dependency)."""
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, (float, np.floating)) else str(v)

    cols = list(df.columns)
    out = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(out)


def dense(x):
    return np.asarray(x.toarray() if sparse.issparse(x) else x, dtype=np.float32)


def split(labels: np.ndarray, seed: int = 0):
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=seed)


def load_bladder(n_genes: int, min_cells: int):
    ad = scgrn.datasets.mouse_bladder()
    labels = ad.obs["label"].astype(str).to_numpy()
    tr, te = split(labels)
    lib = np.asarray(ad.X[tr].sum(1)).ravel()
    logtr = sc.pp.log1p(sc.pp.normalize_total(AnnData(ad.X[tr].copy()), target_sum=float(np.median(lib)),
                                              inplace=False)["X"])
    hv = AnnData(logtr, var=pd.DataFrame(index=ad.var_names))
    sc.pp.highly_variable_genes(hv, n_top_genes=n_genes, flavor="seurat")
    genes = hv.var_names[hv.var["highly_variable"]]
    ad = ad[:, genes].copy()
    ad.X = dense(ad.X)
    counts = pd.Series(labels).value_counts()
    types = [t for t in counts.index if counts[t] >= min_cells]
    return ad, "label", types, tr, te


def load_pbmc(min_cells: int):
    full = sc.datasets.pbmc68k_reduced()
    ad = full.raw.to_adata()
    ad.obs = full.obs[["bulk_labels"]].copy()
    ad.X = dense(ad.X)
    labels = ad.obs["bulk_labels"].astype(str).to_numpy()
    tr, te = split(labels)
    ad = ad[:, (ad.X[tr] > 0).sum(0) > 0].copy()
    counts = pd.Series(labels).value_counts()
    types = [t for t in counts.index if counts[t] >= min_cells]
    return ad, "bulk_labels", types, tr, te


def scvi_sample(train: AnnData, n: int, seed: int):
    import scvi

    scvi.settings.seed = seed
    ad = train.copy()
    scvi.model.SCVI.setup_anndata(ad)
    model = scvi.model.SCVI(ad)
    model.train(max_epochs=5 if SIM_KW else 200, enable_progress_bar=False)
    idx = np.random.default_rng(seed).integers(ad.n_obs, size=n)
    out = model.posterior_predictive_sample(indices=idx, n_samples=1)
    x = out.todense() if hasattr(out, "todense") else np.asarray(out)
    return AnnData(np.asarray(x, dtype=np.float32).reshape(n, -1), var=train.var.copy())


def simulators(name: str, train: AnnData, args, seed: int, with_scvi: bool, ablations: bool):
    """{simulator: (AnnData, seconds)} for one cell type's training cells."""
    out = {}
    t = time.perf_counter()
    out["scgrn"] = (scgrn.tl.simulate(train, random_state=seed, show_progress_bar=False, **SIM_KW), None)
    out["scgrn"] = (out["scgrn"][0], time.perf_counter() - t)
    if ablations:
        # same training recipe through the model class (one training for the three noise settings)
        from scgrn.tl._simulate import SIMULATION_DEFAULTS, _auto_epochs

        t = time.perf_counter()
        # from_array: genes that are zero in this type are allowed, as in tl.simulate
        model = scgrn.models.DeepSEM.from_array(
            dense(train.X), train.var_names, **SIMULATION_DEFAULTS,
            n_epochs=SIM_KW.get("n_epochs", _auto_epochs(train.n_obs, SIMULATION_DEFAULTS["batch_size"])))
        model.train(random_state=seed, show_progress_bar=False)
        fit = time.perf_counter() - t
        for label, kw in [
            ("scgrn, paper noise (1, spread 0)", dict(noise_scale=1.0, spread=0.0, neighbours=1, technical_noise="none")),
            ("scgrn, until 2026-11 (auto noise, spread 0.4, 1 neighbour, no count noise)",
             dict(spread=0.4, neighbours=1, technical_noise="none")),
            ("scgrn, no count noise", dict(technical_noise="none")),
            ("scgrn, 1 neighbour", dict(neighbours=1)),
        ]:
            t = time.perf_counter()
            out[label] = (model.simulate(train.n_obs, random_state=seed, **kw), fit + time.perf_counter() - t)
    for method in ("independent", "copula"):
        t = time.perf_counter()
        out[method] = (scgrn.tl.simulate_baseline(train, method=method, random_state=seed), time.perf_counter() - t)
    if with_scvi:
        t = time.perf_counter()
        out["scVI posterior predictive"] = (scvi_sample(train, train.n_obs, seed), time.perf_counter() - t)
    return out


def realism_rows(dataset, cell_type, train, test, sims, repeats, n_trees):
    rows = []
    xtr, xte = dense(train.X), dense(test.X)
    n = len(xte)
    rng = np.random.default_rng(0)
    ctrl = [scgrn.metrics.realism_auc(xte, xtr[rng.choice(len(xtr), n, replace=False)], n_trees=n_trees,
                                      random_state=r) for r in range(repeats)]
    rows.append(dict(dataset=dataset, cell_type=cell_type, simulator="positive control (real train vs test)",
                     n_train=len(xtr), n_test=n, realism_auc=np.mean(ctrl), auc_sd=np.std(ctrl), seconds=np.nan))
    for name, (sim, secs) in sims.items():
        xs = dense(sim.X)
        aucs = [scgrn.metrics.realism_auc(xte, xs[rng.choice(len(xs), n, replace=False)], n_trees=n_trees,
                                          random_state=r) for r in range(repeats)]
        close = scgrn.metrics.simulation_closeness(xtr, xs, xte)
        rows.append(dict(dataset=dataset, cell_type=cell_type, simulator=name, n_train=len(xtr), n_test=n,
                         realism_auc=np.mean(aucs), auc_sd=np.std(aucs), seconds=secs, **close,
                         noise_scale=str(sim.uns.get("simulate", {}).get("noise_scale", ""))))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bladder-genes", type=int, default=1000)
    p.add_argument("--bladder-min-cells", type=int, default=260)
    p.add_argument("--pbmc-min-cells", type=int, default=90)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--n-trees", type=int, default=100)
    p.add_argument("--aug-target", default="CD19+ B")
    p.add_argument("--skip", nargs="*", default=[], help="parts to skip: realism consistency augmentation")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--quick", action="store_true", help="smoke test: 2 epochs, 1 type per set, 1 repeat")
    args = p.parse_args()
    if args.quick:
        SIM_KW["n_epochs"] = 2
        args.repeats, args.bladder_genes, args.n_trees = 1, 200, 20
    args.out.mkdir(parents=True, exist_ok=True)
    sc.settings.verbosity = 0
    t_start = time.perf_counter()
    try:
        import scvi  # noqa: F401

        have_scvi = True
    except Exception:
        have_scvi = False
    walls = {}
    realism, consistency, sims_kept = [], [], {}
    if "realism" in args.skip and "consistency" in args.skip:
        datasets_to_run = {}
    else:
        datasets_to_run = None
    datasets = {
        "pbmc68k_reduced": lambda: load_pbmc(args.pbmc_min_cells),
        "mouse_bladder": lambda: load_bladder(args.bladder_genes, args.bladder_min_cells),
    }
    for dname, loader in (datasets if datasets_to_run is None else datasets_to_run).items():
        t0 = time.perf_counter()
        ad, key, types, tr, te = loader()
        print(f"{dname}: {ad.shape}, types {types}", flush=True)
        labels = ad.obs[key].astype(str).to_numpy()
        for i, ct in enumerate(types[:1] if args.quick else types):
            train = ad[tr[labels[tr] == ct]].copy()
            test = ad[te[labels[te] == ct]].copy()
            sims = simulators(dname, train, args, seed=0, with_scvi=have_scvi and dname == "mouse_bladder",
                              ablations=dname == "pbmc68k_reduced" and i == 0)
            if "realism" not in args.skip:
                realism += realism_rows(dname, ct, train, test, sims, args.repeats, args.n_trees)
                pd.DataFrame(realism).to_csv(args.out / "simulation_realism.csv", index=False)
            if "consistency" not in args.skip:
                judges = ["pearson"] + (["grnboost2"] if i == 0 and dname == "pbmc68k_reduced" and not args.quick
                                        else [])
                # upper reference: the training cells drawn again with replacement (a replaying "simulator")
                replay = train[np.random.default_rng(0).integers(train.n_obs, size=train.n_obs)].copy()
                for judge in judges:
                    t = time.perf_counter()
                    kw = {"n_jobs": 1} if judge == "grnboost2" else {}
                    judged = {k: v[0] for k, v in sims.items()
                              if judge == "pearson" or k in ("scgrn", "independent", "copula")}
                    judged["real resampled (replay, reference)"] = replay
                    res = scgrn.metrics.grn_consistency(train, judged, method=judge, **kw)
                    consistency += [dict(dataset=dname, cell_type=ct, judge=judge, seconds=time.perf_counter() - t,
                                         **r) for r in res.to_dict("records")]
                pd.DataFrame(consistency).to_csv(args.out / "simulation_consistency.csv", index=False)
            if i == 0:
                sims_kept[dname] = (train, {k: v[0] for k, v in sims.items()
                                            if k in ("scgrn", "copula", "independent")}, ct)
            print(f"  {ct}: done at {time.perf_counter() - t_start:.0f} s", flush=True)
        walls[dname] = time.perf_counter() - t0

    aug = None
    if "augmentation" not in args.skip:
        t0 = time.perf_counter()
        ad, key, types, tr, te = load_pbmc(0)
        aug = scgrn.bench.augmentation(ad, groupby=key, target=args.aug_target,
                                       arms=("none", "upsample", "simulate", "copula"),
                                       fractions=(0.5, 0.02) if args.quick else (0.5, 0.25, 0.1, 0.05, 0.03,
                                                                                 0.02, 0.01, 0.005),
                                       n_trees=args.n_trees, simulate_kwargs=SIM_KW)
        aug.to_csv(args.out / "simulation_augmentation.csv", index=False)
        walls["augmentation"] = time.perf_counter() - t0
    elif (args.out / "simulation_augmentation.csv").exists():  # run by a separate process
        aug = pd.read_csv(args.out / "simulation_augmentation.csv")

    # -- figures ----------------------------------------------------------------------------
    if sims_kept:
        main_figure(args, sims_kept, consistency)
    if aug is not None:
        aug_figure(args, aug)
    if not sims_kept:
        return
    write_report(args, realism, consistency, aug, walls, have_scvi, t_start)


def main_figure(args, sims_kept, consistency):
    fig, axes = plt.subplots(1, len(sims_kept) + 1, figsize=(5.5 * (len(sims_kept) + 1), 4.5))
    for ax, (dname, (train, sims, ct)) in zip(axes, sims_kept.items()):
        scgrn.pl.simulation(train, sims, ax=ax, show=False, size=5)
        ax.set_title(f"{dname}, type {ct}: training cells vs simulated", fontsize=9)
    cons = pd.DataFrame(consistency)
    if len(cons):
        sel = cons[cons["judge"] == ("grnboost2" if (cons["judge"] == "grnboost2").any() else "pearson")]
        first = sel[["dataset", "cell_type"]].iloc[0]
        sel = sel[(sel["dataset"] == first["dataset"]) & (sel["cell_type"] == first["cell_type"])]
        scgrn.pl.grn_consistency(sel, ax=axes[-1], show=False)
        axes[-1].set_title(f"GRN consistency ({sel['judge'].iloc[0]}), {first['dataset']} {first['cell_type']}",
                           fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out / "simulation.png", dpi=120)


def aug_figure(args, aug):
    if True:
        fig, ax = plt.subplots(figsize=(5, 3.8))
        for arm, g in aug.groupby("arm", sort=False):
            ax.plot(100 * g["fraction"], g["aupr"], marker="o", ms=3, label=arm)
        ax.axhline(aug["prevalence"].iloc[0], ls="--", c="0.5", label="random")
        ax.set_xscale("log")
        ax.set_xlabel(f"{args.aug_target} training cells kept (%)")
        ax.set_ylabel("test AUPR")
        ax.legend(fontsize=7, frameon=False)
        fig.tight_layout()
        fig.savefig(args.out / "simulation_augmentation.png", dpi=120)


def write_report(args, realism, consistency, aug, walls, have_scvi, t_start):
    import sklearn
    import torch

    cmd = "nice -n 19 env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 " \
          "SCGRN_DATA_DIR=/work/shared/data PYTHONPATH=src python benchmarks/simulation.py " + " ".join(sys.argv[1:])
    lines = [
        "# Simulation benchmark (`benchmarks/simulation.py`)", "",
        f"Command: `{cmd.strip()}`  ",
        f"Python: `{sys.executable}`  ",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPU cores (shared with other jobs; load "
        f"{os.getloadavg()[0]:.1f} at the end), one torch/BLAS thread  ",
        f"Versions: scgrn {scgrn.__version__}, torch {torch.__version__}, scanpy {sc.__version__}, "
        f"scikit-learn {sklearn.__version__}, scvi-tools {'installed' if have_scvi else 'not installed (arm skipped)'}  ",
        "Wall times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in walls.items())
        + f", total {time.perf_counter() - t_start:.0f}", "",
    ]
    real = pd.DataFrame(realism)
    if len(real):
        lines += ["## Realism AUC (0.5 = indistinguishable) and closeness to the training cells", "",
                  "Per cell type: mean AUC over repeats (test cells vs as many simulated cells). "
                  "`identical` = share of simulated cells equal to a training cell; `ratio` = median "
                  "nearest-training-cell distance of simulated / of held-out cells (>= ~1: no closer than new "
                  "real cells); `p5` = share of simulated cells closer than the 5th percentile of held-out "
                  "cells (~0.05 if no closer).", ""]
        summ = real.groupby(["dataset", "simulator"], sort=False).agg(
            realism_auc=("realism_auc", "mean"), identical=("identical_fraction", "mean"),
            ratio=("ratio", "mean"), p5=("closer_than_heldout_p5", "mean"), seconds=("seconds", "mean"),
            types=("cell_type", "nunique")).reset_index()
        lines += ["### Mean over cell types", "", summ.pipe(md), ""]
        cols = ["dataset", "cell_type", "simulator", "n_train", "n_test", "realism_auc", "auc_sd",
                "identical_fraction", "ratio", "closer_than_heldout_p5", "seconds"]
        lines += ["### Per cell type", "", real[cols].pipe(md), ""]
    cons = pd.DataFrame(consistency)
    if (args.out / "simulation_augmentation.csv").exists() and "augmentation" not in walls:
        lines.insert(7, "Augmentation ran in a separate process of the same script (`--skip realism consistency`).\n")
    if len(cons):
        lines += ["## GRN consistency (DeepSEM eq. 9): shared share of the top edges, real training cells vs "
                  "simulated", ""]
        top1 = cons[np.isclose(cons["top"], 0.01)]
        t1 = top1.groupby(["dataset", "judge", "simulator"], sort=False)[["consistency", "random"]].mean()
        lines += ["### Top 1 % (mean over the cell types judged)", "", t1.reset_index().pipe(md), ""]
        gb = cons[cons["judge"] == "grnboost2"]
        if len(gb):
            wide = gb.pivot_table(index="top", columns="simulator", values="consistency")
            lines += ["### GRNBoost2 judge, all fractions", "", md(wide.reset_index()), ""]
    if aug is not None:
        wide = aug.pivot_table(index=["fraction", "n_target_kept"], columns="arm", values="aupr").reset_index()
        lines += [f"## Augmentation (PBMC, target {args.aug_target!r}, test AUPR; random = "
                  f"{aug['prevalence'].iloc[0]:.3f})", "", wide.sort_values("fraction", ascending=False)
                  .pipe(md), ""]
    lines += ["Figures: `simulation.png` (UMAP of the first type of each set; GRN-consistency curve), "
              "`simulation_augmentation.png`.", ""]
    (args.out / "simulation.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
