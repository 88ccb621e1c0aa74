"""PerturbODE benchmark: GRN recovery and held-out perturbation prediction.

Part 1, simulated screens (scgrn.datasets.simulate_perturbation_screen: 50 genes, 15
regulators, 20 single knockouts, 10 double knockouts, 100 cells each, 500 controls,
intrinsic noise 0.3), several seeds. Per seed 10 perturbations are held out (5 doubles, 5
singles, drawn at random); every method sees only the remaining cells.

- GRN: precision / recall of the top k directed edges over all ordered gene pairs,
  k = number of true edges (scgrn.metrics.precision_recall_at_k), for PerturbODE, DeepSEM
  (scgrn.tl.deepsem, default preset), |Pearson correlation| and, as an extra baseline,
  the perturbation mean shift (row k = z-scored mean change of every gene when k is
  knocked out singly; rows of unperturbed genes are 0).
- Held-out perturbations: energy distance and Sinkhorn divergence (scgrn.metrics) between
  predicted and observed cells, genes scaled by the control cells' SD, for PerturbODE,
  "no change" (the control cells) and the linear additive-shift baseline:
    Delta_p = mean(cells of p) - mean(control) for each training perturbation p;
    Z[p, k] = 1 if p knocks out gene k; W = ridge(Z -> Delta, lambda=0.1), so W[k] is the
    additive effect of knocking out k (for doubles of seen singles: the sum of the two);
    a gene never knocked out in training gets only its own drop, W[k, k] = -(1 - r) *
    mean_control[k], r = median over trained single knockouts of the knocked gene's
    mean / control mean. Prediction = every control cell + sum_k Z[p*, k] W[k], clipped
    at 0. All three start from the same control cells.

Part 2, the real CROP-seq screen (scgrn.datasets.crop_seq, log1p(1e4 * counts / nUMI),
26 measured genes, 25 targeted genes). 5 guides' target genes are held out. We check that
the learned knockout level of each trained target follows the observed drop of that
gene, and compare held-out predictions with no change and the linear baseline.

Part 3, training time on a 50-gene, 20-perturbation screen (the seed-0 training set), one
torch thread.

Usage:
    nice -n 19 env OMP_NUM_THREADS=1 SCGRN_DATA_DIR=/work/shared/data \\
        python benchmarks/perturbode.py [--seeds 0 1 2] [--n-epochs 800] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import scgrn
from scgrn.datasets import crop_seq, simulate_perturbation_screen
from scgrn.metrics import energy_distance, evaluate_grn, precision_recall_at_k, sinkhorn_w2
from scgrn.models import PerturbODE

RESULTS = Path(__file__).resolve().parent / "results"


# ---------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------


def mean_shift_grn(X, labels, var_names, control="control"):
    mu, sd = X[labels == control].mean(0), X.std(0) + 1e-8
    G = np.zeros((len(var_names), len(var_names)), dtype=np.float32)
    idx = {g: i for i, g in enumerate(var_names)}
    for lab in pd.unique(labels):
        if lab == control or "+" in lab:
            continue
        G[idx[lab]] = (X[labels == lab].mean(0) - mu) / sd
    np.fill_diagonal(G, 0.0)
    return G


class LinearAdditive:
    """Ridge regression of mean shifts on knockout indicators (see module docstring)."""

    def __init__(self, X, labels, var_names, control="control", ridge=0.1):
        self.var_names = list(var_names)
        idx = {g: i for i, g in enumerate(self.var_names)}
        ctrl = X[labels == control]
        self.ctrl, self.mu = ctrl, ctrl.mean(0)
        perts = [lab for lab in pd.unique(labels) if lab != control]
        G = len(self.var_names)
        Z = np.zeros((len(perts), G))
        D = np.zeros((len(perts), G))
        for r, lab in enumerate(perts):
            Z[r, [idx[g] for g in lab.split("+")]] = 1.0
            D[r] = X[labels == lab].mean(0) - self.mu
        self.W = np.linalg.solve(Z.T @ Z + ridge * np.eye(G), Z.T @ D)
        trained = Z.any(0)
        own = [
            X[labels == lab][:, idx[lab]].mean() / max(self.mu[idx[lab]], 1e-8)
            for lab in perts
            if "+" not in lab
        ]
        self.own_ratio = float(np.median(own))
        for k in np.nonzero(~trained)[0]:
            self.W[k] = 0.0
            self.W[k, k] = -(1.0 - self.own_ratio) * self.mu[k]
        self.idx = idx

    def predict(self, label):
        z = np.zeros(len(self.var_names))
        z[[self.idx[g] for g in label.split("+")]] = 1.0
        return np.clip(self.ctrl + z @ self.W, 0.0, None)


def distances(pred, obs, sd):
    return {
        "energy": energy_distance(pred / sd, obs / sd),
        "sinkhorn": sinkhorn_w2(pred / sd, obs / sd, epsilon=0.05, max_cells=1000),
    }


# ---------------------------------------------------------------------------
# part 1: simulated screens
# ---------------------------------------------------------------------------


def run_simulated(seed, args, grn_rows, pred_rows, timing):
    adata, net = simulate_perturbation_screen(
        n_genes=50, n_perturbations=20, n_double=10, n_cells_per_perturbation=100,
        n_control=500, random_state=seed,
    )
    labels_all = adata.obs["perturbation"].astype(str).to_numpy()
    cats = list(adata.obs["perturbation"].cat.categories[1:])
    rng = np.random.default_rng(1000 + seed)
    doubles = [c for c in cats if "+" in c]
    singles = [c for c in cats if "+" not in c]
    held = list(rng.choice(doubles, 5, replace=False)) + list(rng.choice(singles, 5, replace=False))
    train = adata[~adata.obs["perturbation"].isin(held)].copy()
    X, labels = train.X, train.obs["perturbation"].astype(str).to_numpy()
    genes = list(train.var_names)
    n_train_perts = len(set(labels)) - 1

    # PerturbODE
    model = PerturbODE(train, n_epochs=args.n_epochs, **args.extra)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    model.train(random_state=seed, show_progress_bar=False)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    timing.append(
        dict(seed=seed, n_genes=50, n_train_perturbations=n_train_perts, n_cells=train.n_obs,
             n_epochs=args.n_epochs, wall_s=wall, cpu_s=cpu, load_avg_1min=os.getloadavg()[0])
    )
    print(f"[seed {seed}] PerturbODE trained in {wall:.0f} s wall / {cpu:.0f} s CPU", flush=True)

    grns = {"PerturbODE": model.get_grn()}
    t0 = time.perf_counter()
    if args.deepsem_models > 0:
        ds = train.copy()
        scgrn.tl.deepsem(ds, n_models=args.deepsem_models, random_state=seed, show_progress_bar=False)
        grns["DeepSEM"] = ds.varp["deepsem"]
    print(f"[seed {seed}] DeepSEM in {time.perf_counter() - t0:.0f} s", flush=True)
    C = np.corrcoef(X.T)
    np.fill_diagonal(C, 0.0)
    grns["Pearson |r|"] = np.abs(C)
    grns["mean shift (extra baseline)"] = mean_shift_grn(X, labels, genes)
    for name, G in grns.items():
        pr = precision_recall_at_k(G, net, var_names=genes)
        ev = evaluate_grn(G, net, var_names=genes, convention="deepsem")
        grn_rows.append(
            dict(seed=seed, method=name, recall_at_k=pr["recall"], precision_at_k=pr["precision"],
                 k=pr["k"], random_precision=pr["random_precision"],
                 EPR_regulator_rows=ev["EPR"], AUPRC_ratio_regulator_rows=ev["AUPRC_ratio"])
        )

    # held-out perturbations
    ctrl = X[labels == "control"]
    sd = ctrl.std(0) + 1e-8
    lin = LinearAdditive(X, labels, genes)
    pred = model.predict(held)  # every control cell once per perturbation
    for lab in held:
        obs = adata.X[labels_all == lab]
        candidates = {
            "PerturbODE": pred.X[pred.obs["perturbation"] == lab],
            "linear additive": lin.predict(lab),
            "no change": ctrl,
        }
        for name, P in candidates.items():
            pred_rows.append(
                dict(seed=seed, perturbation=lab, kind="double" if "+" in lab else "single",
                     method=name, **distances(P, obs, sd))
            )


# ---------------------------------------------------------------------------
# part 2: CROP-seq
# ---------------------------------------------------------------------------


def run_crop_seq(args):
    from scipy.stats import mannwhitneyu, spearmanr

    adata = crop_seq(log_normalize=True)
    labels_all = adata.obs["perturbation"].astype(str).to_numpy()
    targets = [c for c in adata.obs["perturbation"].cat.categories if c != "control"]
    big = [t for t in targets if (labels_all == t).sum() >= 100]
    rng = np.random.default_rng(7)
    held = sorted(rng.choice(big, 5, replace=False).tolist())
    train = adata[~adata.obs["perturbation"].isin(held)].copy()
    X, labels = train.X, train.obs["perturbation"].astype(str).to_numpy()
    genes = list(train.var_names)
    model = PerturbODE(train, n_epochs=args.n_epochs, knockout_mode=args.cropseq_knockout_mode, **args.extra)
    t0 = time.perf_counter()
    model.train(random_state=0, show_progress_bar=False)
    print(f"[CROP-seq] PerturbODE trained in {time.perf_counter() - t0:.0f} s", flush=True)

    ctrl = X[labels == "control"]
    par = model.get_parameters()
    pred_train = model.predict(model.perturbations)
    own = []
    for g in model.perturbations:
        i = genes.index(g)
        obs = X[labels == g][:, i]
        p = mannwhitneyu(obs, ctrl[:, i], alternative="less").pvalue
        own.append(
            dict(gene=g, n_cells=int((labels == g).sum()), control_mean=float(ctrl[:, i].mean()),
                 observed_ratio=float(obs.mean() / ctrl[:, i].mean()), p_drop=float(p),
                 learned_knockout_level=float(par.loc[g, "knockout_level"]),
                 predicted_ratio=float(pred_train.X[pred_train.obs["perturbation"] == g][:, i].mean()
                                       / ctrl[:, i].mean()))
        )
    own = pd.DataFrame(own).sort_values("observed_ratio")
    # Benjamini-Hochberg
    p = own["p_drop"].to_numpy()
    order = np.argsort(p)
    q = np.empty_like(p)
    q[order] = np.minimum.accumulate((p[order] * len(p) / np.arange(1, len(p) + 1))[::-1])[::-1]
    own["q_drop"] = np.minimum(q, 1.0)
    rho = spearmanr(own["observed_ratio"], own["predicted_ratio"]).statistic

    sd = ctrl.std(0) + 1e-8
    lin = LinearAdditive(X, labels, genes)
    pred = model.predict(held)
    rows = []
    for lab in held:
        obs = adata.X[labels_all == lab]
        for name, P in {
            "PerturbODE": pred.X[pred.obs["perturbation"] == lab],
            "linear additive": lin.predict(lab),
            "no change": ctrl,
        }.items():
            rows.append(dict(perturbation=lab, method=name, **distances(P, obs, sd)))
    # observed own-gene ratios of the held-out genes, and what each method assumes
    held_own = []
    for lab in held:
        i = genes.index(lab)
        held_own.append(
            dict(gene=lab, observed_ratio=float(adata.X[labels_all == lab][:, i].mean() / ctrl[:, i].mean()),
                 perturbode_default_level=model.default_intervention(), linear_own_ratio=lin.own_ratio)
        )
    return own, rho, pd.DataFrame(rows), pd.DataFrame(held_own)


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------


def figure(grn, pred, own, crop_pred, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(19, 4.2))
    ax = axes[0]
    methods = list(dict.fromkeys(grn["method"]))
    for i, m in enumerate(methods):
        v = grn.loc[grn["method"] == m, "recall_at_k"].to_numpy()
        ax.bar(i, v.mean(), color="C%d" % i, alpha=0.7)
        ax.scatter(np.full(len(v), i), v, color="k", s=12, zorder=3)
    ax.axhline(grn["random_precision"].mean(), color="grey", ls="--", lw=1, label="random")
    ax.set_xticks(range(len(methods)), [m.replace(" (extra baseline)", "\n(extra)") for m in methods], fontsize=8)
    ax.set_ylabel("recall at k = #true edges (all directed pairs)")
    ax.set_title("Simulated screens: GRN recovery")
    ax.legend(fontsize=8)

    ax = axes[1]
    order = ["PerturbODE", "linear additive", "no change"]
    kinds = ["single", "double"]
    for j, kind in enumerate(kinds):
        for i, m in enumerate(order):
            v = pred.loc[(pred["method"] == m) & (pred["kind"] == kind), "energy"].to_numpy()
            x = j * 4 + i
            ax.bar(x, np.median(v), color="C%d" % i, alpha=0.7, label=m if j == 0 else None)
            ax.scatter(np.full(len(v), x) + np.random.default_rng(0).uniform(-0.2, 0.2, len(v)), v, s=6, color="k", zorder=3)
    ax.set_xticks([1, 5], ["held-out singles\n(unseen gene)", "held-out doubles\n(seen singles)"])
    ax.set_yscale("log")
    ax.set_ylabel("energy distance to observed cells (control-SD units)")
    ax.set_title("Simulated: held-out perturbations")
    ax.legend(fontsize=8)

    ax = axes[2]
    sig = own["q_drop"] < 0.05
    ax.scatter(own.loc[sig, "observed_ratio"], own.loc[sig, "predicted_ratio"], color="C3", label="drop significant (BH q<0.05)")
    ax.scatter(own.loc[~sig, "observed_ratio"], own.loc[~sig, "predicted_ratio"], color="C0", label="no significant drop")
    for _, r in own.iterrows():
        ax.annotate(r["gene"], (r["observed_ratio"], r["predicted_ratio"]), fontsize=6)
    lim = [0, max(1.6, own["observed_ratio"].max() + 0.1)]
    ax.plot(lim, lim, color="grey", lw=1)
    ax.set_xlabel("observed mean in knocked-out cells / control mean")
    ax.set_ylabel("PerturbODE predicted ratio")
    ax.set_title("CROP-seq: on-target knockdown")
    ax.legend(fontsize=7)

    ax = axes[3]
    held = list(dict.fromkeys(crop_pred["perturbation"]))
    for i, m in enumerate(order):
        v = [crop_pred.loc[(crop_pred["perturbation"] == h) & (crop_pred["method"] == m), "energy"].iloc[0] for h in held]
        ax.bar(np.arange(len(held)) * 4 + i, v, color="C%d" % i, alpha=0.7, label=m)
    ax.set_xticks(np.arange(len(held)) * 4 + 1, held, fontsize=8)
    ax.set_ylabel("energy distance (control-SD units)")
    ax.set_title("CROP-seq: held-out guides")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-epochs", type=int, default=800)
    parser.add_argument("--deepsem-models", type=int, default=4, help="DeepSEM ensemble size (0: skip)")
    parser.add_argument("--cropseq-knockout-mode", default="scale", choices=["scale", "mosaic"])
    parser.add_argument("--mean-weight", type=float, default=None, help="override PerturbODE's mean_weight")
    parser.add_argument("--quick", action="store_true", help="tiny run to test the script")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the table and figure from the CSVs of an earlier run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.n_epochs, args.deepsem_models, args.seeds = 20, 1, args.seeds[:1]
    args.extra = {} if args.mean_weight is None else {"mean_weight": args.mean_weight}
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)

    tag = "perturbode" + ("_quick" if args.quick else "")
    files = {k: args.out / f"{tag}_{k}.csv" for k in ("grn", "heldout", "timing", "cropseq_own_gene", "cropseq_heldout", "cropseq_heldout_own")}
    if args.report_only:
        grn, pred, timing, own, crop_pred, held_own = (pd.read_csv(files[k]) for k in files)
        from scipy.stats import spearmanr

        rho = spearmanr(own["observed_ratio"], own["predicted_ratio"]).statistic
    else:
        grn_rows, pred_rows, timing = [], [], []
        for seed in args.seeds:
            run_simulated(seed, args, grn_rows, pred_rows, timing)
        grn, pred, timing = pd.DataFrame(grn_rows), pd.DataFrame(pred_rows), pd.DataFrame(timing)
        own, rho, crop_pred, held_own = run_crop_seq(args)
        for k, df in zip(files, (grn, pred, timing, own, crop_pred, held_own)):
            df.to_csv(files[k], index=False)
    figure(grn, pred, own, crop_pred, args.out / f"{tag}.png")

    g = grn.groupby("method", sort=False)[["recall_at_k", "precision_at_k", "EPR_regulator_rows", "AUPRC_ratio_regulator_rows"]].agg(["mean", "std"])
    per_seed = grn.pivot(index="seed", columns="method", values="recall_at_k")
    p = pred.groupby(["kind", "method"], sort=False)[["energy", "sinkhorn"]].median()
    wins = (
        pred.pivot_table(index=["seed", "perturbation"], columns="method", values="energy")
        .assign(beats_nochange=lambda d: d["PerturbODE"] < d["no change"],
                beats_linear=lambda d: d["PerturbODE"] < d["linear additive"])
    )
    win_kind = wins.reset_index().assign(kind=lambda d: np.where(d["perturbation"].str.contains("\\+"), "double", "single"))
    win_tab = win_kind.groupby("kind")[["beats_nochange", "beats_linear"]].sum().astype(int)
    win_tab["n"] = win_kind.groupby("kind").size()
    wins_s = pred.pivot_table(index=["seed", "perturbation"], columns="method", values="sinkhorn").reset_index()
    wins_s["kind"] = np.where(wins_s["perturbation"].str.contains("\\+"), "double", "single")
    wins_s["beats_nochange"] = wins_s["PerturbODE"] < wins_s["no change"]
    wins_s["beats_linear"] = wins_s["PerturbODE"] < wins_s["linear additive"]
    win_tab_s = wins_s.groupby("kind")[["beats_nochange", "beats_linear"]].sum().astype(int)
    win_tab_s["n"] = wins_s.groupby("kind").size()
    praw = own["p_drop"] < 0.05
    cp = crop_pred.pivot(index="perturbation", columns="method", values="energy")
    sig = own["q_drop"] < 0.05
    versions = (f"scgrn {scgrn.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
                f"pandas {pd.__version__}, python {platform.python_version()}")
    cmd = "nice -n 19 env OMP_NUM_THREADS=1 SCGRN_DATA_DIR=/work/shared/data python benchmarks/perturbode.py " + " ".join(a for a in sys.argv[1:] if a != "--report-only")
    lines = [
        "# PerturbODE benchmark",
        "",
        f"Command: `{cmd}`  ",
        f"Versions: {versions}  ",
        f"Machine: 2-core CPU shared with other jobs (1 torch thread; 1-min load average during "
        f"training {timing['load_avg_1min'].min():.1f}-{timing['load_avg_1min'].max():.1f}), no GPU.  ",
        f"PerturbODE: default settings (n_epochs={args.n_epochs}, n_modules=min(genes, 32), l1=0.3 with a warm-up over the first 20 % of the epochs, mean_weight=10, "
        f"counterfactual readout, RK4 12 steps, t_end=3; CROP-seq knockout_mode={args.cropseq_knockout_mode!r}). "
        f"DeepSEM: `scgrn.tl.deepsem` default preset with n_models={args.deepsem_models}, default epochs.",
        "",
        "## 1. Simulated screens (50 genes, 15 regulators, 20 single + 10 double knockouts, seeds "
        f"{', '.join(map(str, args.seeds))})",
        "",
        "10 perturbations held out per seed (5 doubles, 5 singles); every method sees the same training cells "
        "(20 perturbations + 500 controls).",
        "",
        "### GRN recovery: recall at k = number of true edges, over all 2450 directed pairs (random = edge density)",
        "",
        g.round(3).to_markdown(),
        "",
        "Recall at k per seed:",
        "",
        per_seed.round(3).to_markdown(),
        "",
        f"Random precision (edge density): {grn['random_precision'].mean():.3f}. "
        "`EPR/AUPRC_ratio_regulator_rows`: `evaluate_grn(convention='deepsem')`, candidates restricted to the true regulators' rows.",
        "",
        "### Held-out perturbations: median distance to the observed cells (genes in control-SD units)",
        "",
        p.round(3).to_markdown(),
        "",
        "Held-out perturbations where PerturbODE's energy distance is lower (count over seeds):",
        "",
        win_tab.to_markdown(),
        "",
        "Same count for the Sinkhorn divergence:",
        "",
        win_tab_s.to_markdown(),
        "",
        "## 2. CROP-seq (scMAGeCK, 26 measured genes, log1p(1e4 counts / nUMI))",
        "",
        f"Held-out guides (target genes): {', '.join(cp.index)}. Trained on the other {len(own)} targets + controls.",
        "",
        "### On-target knockdown: observed vs learned",
        "",
        f"Genes whose own expression drops significantly in their knockout cells (one-sided Mann-Whitney, BH q < 0.05): "
        f"{int(sig.sum())} of {len(own)}. PerturbODE predicts a drop (ratio < 0.9) for "
        f"{int((own.loc[sig, 'predicted_ratio'] < 0.9).sum())} of them, and for "
        f"{int((own.loc[~sig, 'predicted_ratio'] < 0.9).sum())} of the {int((~sig).sum())} others. "
        f"Spearman correlation of observed and predicted ratio: {rho:.2f}. "
        f"With unadjusted p < 0.05, {int(praw.sum())} genes drop; PerturbODE predicts a drop for "
        f"{int((own.loc[praw, 'predicted_ratio'] < 0.9).sum())} of them and for "
        f"{int((own.loc[~praw, 'predicted_ratio'] < 0.9).sum())} of the {int((~praw).sum())} others.",
        "",
        own.round(3).to_markdown(index=False),
        "",
        "### Held-out guides: energy distance to the observed cells",
        "",
        cp.round(4).to_markdown(),
        "",
        "Sinkhorn divergence:",
        "",
        crop_pred.pivot(index="perturbation", columns="method", values="sinkhorn").round(4).to_markdown(),
        "",
        "Own-gene ratio of the held-out targets, and the level each method assumes for an unseen target:",
        "",
        held_own.round(3).to_markdown(index=False),
        "",
        "## 3. Training time (50 genes, 20 training perturbations, one torch thread)",
        "",
        timing.round(1).to_markdown(index=False),
        "",
        f"Figure: `{tag}.png`.",
    ]
    (args.out / f"{tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
