"""In-silico knockout prediction, validated on a real CRISPR screen (Papalexi et al. 2021).

Data: ``scgrn.datasets.papalexi2021()`` (ECCITE-seq, IFN-gamma-stimulated THP-1 cells, 299
randomly sampled genes, ``X = log1p(normalize_total(1e4))``). Targets scored: the 5 targets
that are in the gene panel (``uns['targets_measured']``: CMTM6, JAK2, STAT3, TNFRSF14,
UBE2L6); only these can be knocked out in a model whose genes are the panel.

Observed shift of target T: mean log expression of T's cells minus the control cells' mean,
per gene. A method predicts a shift vector over the 299 genes. Scores, per target:

- ``r``: Pearson correlation of predicted and observed shift over the 298 genes other than T;
- ``sign``: fraction of the 50 genes with the largest |observed shift| (T excluded) whose
  predicted shift has the observed sign (a prediction of exactly 0 has no sign: it counts as
  wrong, so "no change" scores 0; a coin flip scores 0.5 on average);
- ``rmse``: root mean squared error over the 298 genes, and ``rmse_vs_nochange`` = rmse /
  rmse of "no change" (below 1: closer to the data than predicting nothing);
- ``own_pred`` / ``own_obs``: predicted / observed shift of T itself (not scored);
  ``max_abs_pred``: the largest |predicted shift| over the other genes (below about 1e-3 the
  prediction is "no change" apart from T, and its r is a correlation with rounding noise).

Methods (``--methods``, default all but ``othermean*``; ``deepsem`` when available):

- ``nochange``: all zeros (r undefined: NaN).
- ``linear``: one regressor per gene: shift_g = -beta_g * mean_ctrl(x_T), beta_g the slope of
  g on T over control cells (the baseline quoted in the issue: r about 0.13, sign 55 %).
- ``celloracle``: CellOracle-style propagation. A ridge regression (alpha = 10, CellOracle's
  default; intercept; unscaled log data) of every gene on *all* other 298 genes over control
  cells (CellOracle restricts regulators to TFs of a base GRN; only 27 of the 299 genes are TFs
  and 4 of the 5 targets are not TFs, so a TF-only model would predict no change for them).
  Knockout: x_T set to 0 in every control cell, delta propagated 3 steps as CellOracle's
  ``_do_simulation``: ``d = d @ coef; d[:, T] = d0[:, T]; d = clip(x + d, 0) - x``; the
  predicted shift is the mean of d over the control cells. ``celloracle_knn``: the same on
  kNN-imputed control cells (k = 2.5 % of the cells on 50 PCs, as CellOracle imputes before
  fitting). An alpha sensitivity table (not used to choose alpha) is written too.
- ``perturbode``: ``scgrn.models.PerturbODE`` (defaults but ``--perturbode-epochs``), leave
  one target out: trained on controls + the other 4 measured targets, predicts the held-out
  knockout (its knockout level = the default for unseen genes, the median learned level);
  predicted shift = mean(predicted cells) - mean(control cells). 3 seeds, median of scores.
  ``perturbode_insample`` (reference, seed 0 only): trained on all 5 targets, predicts each
  of them (the fit, not a prediction).
- ``deepsem``: ``scgrn.tl.perturb`` (DeepSEM in-silico knockout, ``var['delta']``) on the
  control cells only, with the model ``tl.perturb`` trains by itself (``tl.simulate``'s
  settings), trained once per seed and passed as ``model=`` for the 5 targets (identical
  deltas, 5x less training). Runs only if ``scgrn.tl.perturb`` exists. 3 seeds, median.
- ``othermean4`` / ``othermean_all`` (opt-in, not in the default run): the mean observed shift
  of the other 4 measured / 11 targets with cells (CD274 has none). **Biased upwards**: every observed shift subtracts the
  same control mean, so its noise is shared by prediction and truth (r about 0.2-0.3 even for
  targets whose shift does not reproduce between halves); shown only to make that point.

Reference, not a method: ``split-half``, the reproducibility of the observed shift itself:
the target's cells and the control cells are each split in two random halves, and the shift
of one half is scored against the other's (50 splits, median). ``ceiling_r`` =
sqrt(2 r / (1 + r)) (Spearman-Brown): the r that the *true* shift would reach against the
full-data observed shift, i.e. about the best any prediction can score.

Usage::

    nice -n 19 env OMP_NUM_THREADS=1 SCGRN_DATA_DIR=/work/shared/data \\
        python benchmarks/perturbation.py [--methods ...] [--seeds 0 1 2] [--fast]

Writes ``results/perturbation.md``, ``perturbation_scores.csv`` (method x target x seed),
``perturbation_shifts.csv`` (observed and predicted shift per gene, first seed),
``perturbation_alpha.csv`` and ``perturbation_timing.csv``. ``--fast``: one seed, 30
PerturbODE epochs, 5 splits, written to a temporary folder unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from _machine import cpu, version  # benchmarks/_machine.py (scripts run from benchmarks/)
import scgrn

RESULTS = Path(__file__).resolve().parent / "results"
ALL_METHODS = ["nochange", "linear", "celloracle", "celloracle_knn", "othermean4", "othermean_all",
               "perturbode", "perturbode_insample", "deepsem"]
DEFAULT_METHODS = [m for m in ALL_METHODS if not m.startswith("othermean")]
STOCHASTIC = {"perturbode", "deepsem"}
LABELS = {
    "nochange": "no change",
    "linear": "linear, one regressor",
    "celloracle": "CellOracle-style ridge, 3 steps",
    "celloracle_knn": "CellOracle-style ridge, 3 steps, kNN-imputed",
    "othermean4": "mean of the other 4 measured targets (extra, biased up)",
    "othermean_all": "mean of the other 11 targets (extra, biased up)",
    "perturbode": "PerturbODE, leave one target out",
    "perturbode_insample": "PerturbODE in-sample fit (reference, seed 0)",
    "deepsem": "DeepSEM tl.perturb, controls only",
    "split-half": "split-half reproducibility (reference)",
}
N_TOP = 50
ALPHA = 10.0
N_PROPAGATION = 3


# ---------------------------------------------------------------------------
# scores
# ---------------------------------------------------------------------------


def score(observed: np.ndarray, predicted: np.ndarray, t: int) -> dict:
    """r over genes != t, sign agreement on the top-N_TOP |observed| genes != t, rmse."""
    m = np.arange(len(observed)) != t
    o, p = observed[m], predicted[m]
    r = float(np.corrcoef(o, p)[0, 1]) if np.std(p) > 0 and np.std(o) > 0 else float("nan")
    top = np.argsort(-np.abs(o), kind="stable")[:N_TOP]
    sign = float(np.mean(np.sign(p[top]) == np.sign(o[top])))
    rmse = float(np.sqrt(np.mean((p - o) ** 2)))
    rmse0 = float(np.sqrt(np.mean(o**2)))
    return dict(r=r, sign=sign, rmse=rmse, rmse_vs_nochange=rmse / rmse0,
                own_pred=float(predicted[t]), own_obs=float(observed[t]), max_abs_pred=float(np.abs(p).max()))


# ---------------------------------------------------------------------------
# methods (each returns the predicted shift over all genes)
# ---------------------------------------------------------------------------


def linear_one_regressor(C: np.ndarray, t: int) -> np.ndarray:
    xt = C[:, t] - C[:, t].mean()
    beta = (xt @ (C - C.mean(0))) / (xt @ xt)
    return -beta * C[:, t].mean()


def ridge_coef(D: np.ndarray, alpha: float) -> np.ndarray:
    """coef[i, j]: weight of gene i in the ridge regression of gene j on all other genes.

    Uses M = Dc'Dc + alpha I and P = M^-1: the ridge regression of j on the others (penalty on
    the others' weights only, intercept by centring) is -P[-j, j] / P[j, j] (block inverse).
    """
    Dc = D - D.mean(0)
    M = Dc.T @ Dc + alpha * np.eye(D.shape[1])
    P = np.linalg.solve(M, np.eye(D.shape[1]))
    coef = -P / np.diag(P)[None, :]
    np.fill_diagonal(coef, 0.0)
    return coef


def celloracle_shift(D: np.ndarray, coef: np.ndarray, t: int, n_propagation: int = N_PROPAGATION) -> np.ndarray:
    d0 = np.zeros_like(D)
    d0[:, t] = -D[:, t]  # knockout: x_T -> 0
    d = d0.copy()
    for _ in range(n_propagation):
        d = d @ coef
        d[:, t] = d0[:, t]
        d = np.clip(D + d, 0.0, None) - D  # expression cannot be negative (as CellOracle)
    return d.mean(0)


def knn_impute(C: np.ndarray, seed: int = 0) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    k = max(1, int(round(0.025 * C.shape[0])))
    pcs = PCA(n_components=min(50, C.shape[1] - 1), random_state=seed).fit_transform(C)
    idx = NearestNeighbors(n_neighbors=k).fit(pcs).kneighbors(pcs, return_distance=False)
    return C[idx].mean(1)


def perturbode_fit(adata, seed: int, n_epochs: int, l1: float | None = None):
    from scgrn.models import PerturbODE

    model = PerturbODE(adata, n_epochs=n_epochs, **({} if l1 is None else {"l1": l1}))
    model.train(random_state=seed, show_progress_bar=False)
    return model


def perturbode_shift(model, target: str, mu: np.ndarray) -> np.ndarray:
    pred = model.predict(target)  # every control cell once, counterfactual readout
    X = pred.X
    return np.asarray(X.mean(0)).ravel() - mu


def deepsem_model(C: np.ndarray, var_names, seed: int, fast: bool):
    """The DeepSEM model ``scgrn.tl.perturb`` trains when no ``model=`` is given (its
    ``PERTURB_DEFAULTS``: the simulator settings of ``tl.simulate``, hidden 32, batch 32, about
    1000 steps, with 4 members), trained once per seed and passed as ``model=`` for every target
    instead of retrained per target."""
    from scgrn.tl._perturb import PERTURB_DEFAULTS
    from scgrn.tl._simulate import _auto_epochs

    hp = dict(PERTURB_DEFAULTS)
    hp["n_epochs"] = 2 if fast else _auto_epochs(C.shape[0], int(hp["batch_size"]))
    model = scgrn.models.DeepSEM.from_array(C.astype(np.float32), var_names, preset="default", **hp)
    model.train(random_state=seed, show_progress_bar=False)
    return model


def deepsem_shift(ctrl_adata, model, target: str, seed: int) -> np.ndarray:
    out = scgrn.tl.perturb(ctrl_adata, perturbations={target: 0.0}, model=model, random_state=seed,
                           show_progress_bar=False)
    return out.var["delta"].reindex(ctrl_adata.var_names).to_numpy(dtype=np.float64)


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------


def split_half(X_t: np.ndarray, C: np.ndarray, t: int, n_splits: int, rng) -> pd.DataFrame:
    rows = []
    for s in range(n_splits):
        it = rng.permutation(X_t.shape[0])
        ic = rng.permutation(C.shape[0])
        ha, hb = it[: len(it) // 2], it[len(it) // 2 :]
        ca, cb = ic[: len(ic) // 2], ic[len(ic) // 2 :]
        a = X_t[ha].mean(0) - C[ca].mean(0)
        b = X_t[hb].mean(0) - C[cb].mean(0)
        rows.append(dict(split=s, **score(a, b, t)))
    return pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=None, choices=ALL_METHODS,
                        help="methods to run (default: all but othermean4/othermean_all; deepsem only if scgrn.tl.perturb exists)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--perturbode-epochs", type=int, default=400)
    parser.add_argument("--perturbode-l1", type=float, default=None, help="PerturbODE's l1 (default: its own, 0.3)")
    parser.add_argument("--n-splits", type=int, default=50)
    parser.add_argument("--fast", action="store_true", help="quick check: 1 seed, 30 epochs, 5 splits")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--deepsem-max-gain", type=float, default=None,
                        help="train DeepSEM with each member's loop gain bounded (_gain_projection.py)")
    parser.add_argument("--deepsem-propagation-steps", type=int, default=None,
                        help="DeepSEM knockouts propagated this many steps through W instead of the exact solve "
                             "(_propagation_steps.py)")
    args = parser.parse_args(argv)
    if args.deepsem_max_gain is not None:
        import _gain_projection

        _gain_projection.install(args.deepsem_max_gain)
    if args.deepsem_propagation_steps is not None:
        import _propagation_steps

        _propagation_steps.install(args.deepsem_propagation_steps)
    if args.fast:
        args.seeds, args.perturbode_epochs, args.n_splits = args.seeds[:1], 30, 5
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="scgrn_perturbation_fast_")) if args.fast else RESULTS
    args.out.mkdir(parents=True, exist_ok=True)
    has_perturb = hasattr(scgrn.tl, "perturb")
    requested = list(args.methods or DEFAULT_METHODS)
    methods = [m for m in requested if m != "deepsem" or has_perturb]
    skipped = [m for m in requested if m not in methods]
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    t_start = time.perf_counter()

    adata = scgrn.datasets.papalexi2021()
    labels = adata.obs["perturbation"].astype(str).to_numpy()
    genes = list(adata.var_names)
    X = adata.X.toarray().astype(np.float64)
    C = X[labels == "control"]
    mu = C.mean(0)
    targets = [str(g) for g in adata.uns["targets_measured"]]
    all_targets = [c for c in adata.obs["perturbation"].cat.categories if c != "control"]
    observed = {T: X[labels == T].mean(0) - mu for T in all_targets}
    n_cells = {T: int((labels == T).sum()) for T in targets}

    rows, shifts, timing = [], {}, []
    method_warnings: dict = {}

    def record(method, T, seed, pred):
        rows.append(dict(method=method, target=T, seed=seed, n_cells=n_cells[T],
                         **score(observed[T], pred, genes.index(T))))
        if seed == args.seeds[0] or method not in STOCHASTIC:
            shifts.setdefault(T, {})[method] = pred

    def timed(method, fn):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        timing.append(dict(method=method, wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0,
                           load_avg_1min=os.getloadavg()[0]))
        print(f"[{method}] {timing[-1]['wall_s']:.1f} s", flush=True)

    # ---- split-half reference
    rng = np.random.default_rng(0)
    sh = []

    def run_split():
        for T in targets:
            d = split_half(X[labels == T], C, genes.index(T), args.n_splits, rng)
            d["target"] = T
            sh.append(d)

    timed("split-half", run_split)
    split = pd.concat(sh, ignore_index=True)

    # ---- deterministic methods
    if "nochange" in methods:
        timed("nochange", lambda: [record("nochange", T, 0, np.zeros(len(genes))) for T in targets])
    if "linear" in methods:
        timed("linear", lambda: [record("linear", T, 0, linear_one_regressor(C, genes.index(T))) for T in targets])
    alpha_rows = []
    for name, impute in (("celloracle", False), ("celloracle_knn", True)):
        if name not in methods:
            continue

        def run_co(name=name, impute=impute):
            D = knn_impute(C) if impute else C
            coef = ridge_coef(D, ALPHA)
            for T in targets:
                record(name, T, 0, celloracle_shift(D, coef, genes.index(T)))
            for alpha in (1.0, 10.0, 100.0, 1000.0):  # sensitivity only
                cf = ridge_coef(D, alpha)
                for n_prop in (1, 3):
                    for T in targets:
                        t = genes.index(T)
                        alpha_rows.append(dict(method=name, alpha=alpha, n_propagation=n_prop, target=T,
                                               **score(observed[T], celloracle_shift(D, cf, t, n_prop), t)))

        timed(name, run_co)
    for name, pool in (("othermean4", targets), ("othermean_all", all_targets)):
        if name in methods:
            timed(name, lambda name=name, pool=pool: [
                record(name, T, 0, np.mean([observed[o] for o in pool if o != T], axis=0)) for T in targets])

    # ---- PerturbODE
    sub = adata[adata.obs["target_measured"].to_numpy() | (labels == "control")].copy()
    sub.obs["perturbation"] = sub.obs["perturbation"].cat.remove_unused_categories()
    sub_labels = sub.obs["perturbation"].astype(str).to_numpy()
    if "perturbode" in methods:
        for seed in args.seeds:
            for T in targets:
                def run_po(seed=seed, T=T):
                    train = sub[sub_labels != T].copy()
                    train.obs["perturbation"] = train.obs["perturbation"].cat.remove_unused_categories()
                    model = perturbode_fit(train, seed, args.perturbode_epochs, args.perturbode_l1)
                    record("perturbode", T, seed, perturbode_shift(model, T, mu))

                timed("perturbode", run_po)
    if "perturbode_insample" in methods:
        def run_pi():
            model = perturbode_fit(sub, args.seeds[0], args.perturbode_epochs, args.perturbode_l1)
            for T in targets:
                record("perturbode_insample", T, args.seeds[0], perturbode_shift(model, T, mu))

        timed("perturbode_insample", run_pi)

    # ---- DeepSEM in-silico knockout (controls only)
    if "deepsem" in methods:
        ctrl = adata[labels == "control"].copy()
        for seed in args.seeds:
            def run_ds(seed=seed):
                model = deepsem_model(C, adata.var_names, seed, args.fast)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    for T in targets:
                        record("deepsem", T, seed, deepsem_shift(ctrl, model, T, seed))
                for w in caught:
                    msg = str(w.message)
                    method_warnings.setdefault(("deepsem", msg), []).append(f"seed {seed}")

            timed("deepsem", run_ds)

    # ---- tables
    scores = pd.DataFrame(rows)
    timing = pd.DataFrame(timing)
    alpha_df = pd.DataFrame(alpha_rows)
    split_med = split.groupby("target", sort=False)[["r", "sign", "rmse_vs_nochange"]].median()
    split_med["ceiling_r"] = np.sqrt(np.clip(2 * split_med["r"] / (1 + split_med["r"]), 0, None))
    split_med["n_cells"] = pd.Series(n_cells)
    per_target = scores.groupby(["method", "target"], sort=False)[
        ["r", "sign", "rmse", "rmse_vs_nochange", "own_pred", "own_obs", "max_abs_pred"]].median().reset_index()
    order = [m for m in ALL_METHODS if m in set(per_target["method"])]
    summary = per_target.groupby("method", sort=False)[["r", "sign", "rmse_vs_nochange"]].mean().reindex(order)
    summary["max_abs_pred"] = per_target.groupby("method", sort=False)["max_abs_pred"].max().reindex(order)
    t_tot = timing.groupby("method", sort=False)["wall_s"].sum()
    summary["wall_s"] = t_tot.reindex(summary.index)
    summary.loc["split-half"] = [split_med["r"].mean(), split_med["sign"].mean(),
                                 split_med["rmse_vs_nochange"].mean(), np.nan, t_tot.get("split-half", np.nan)]
    summary.index = [f"{m}: {LABELS[m]}" for m in summary.index]
    r_table = per_target.pivot(index="method", columns="target", values="r").reindex(order)[targets]
    s_table = per_target.pivot(index="method", columns="target", values="sign").reindex(order)[targets]
    e_table = per_target.pivot(index="method", columns="target", values="rmse_vs_nochange").reindex(order)[targets]
    own = per_target.pivot(index="method", columns="target", values="own_pred").reindex(order)[targets]
    mx = per_target.pivot(index="method", columns="target", values="max_abs_pred").reindex(order)[targets]
    own.loc["observed"] = [observed[T][genes.index(T)] for T in targets]
    own.loc["control mean of the target"] = [mu[genes.index(T)] for T in targets]
    for tab in (r_table, s_table, e_table):
        tab.loc["split-half"] = split_med["r" if tab is r_table else "sign" if tab is s_table else "rmse_vs_nochange"][targets]
    r_table.loc["ceiling_r (Spearman-Brown)"] = split_med["ceiling_r"][targets]
    seed_table = None
    if "perturbode" in set(scores["method"]):
        po = scores[scores["method"] == "perturbode"]
        seed_table = po.pivot_table(index="seed", columns="target", values="r")[targets]

    shift_rows = []
    for T, preds in shifts.items():
        for i, g in enumerate(genes):
            shift_rows.append(dict(target=T, gene=g, observed=observed[T][i],
                                   **{m: p[i] for m, p in preds.items()}))
    shift_df = pd.DataFrame(shift_rows)
    top_genes = {T: ", ".join(f"{genes[i]} {observed[T][i]:+.2f}" for i in
                              np.argsort(-np.abs(np.where(np.arange(len(genes)) == genes.index(T), 0, observed[T])))[:6])
                 for T in targets}

    scores.to_csv(args.out / "perturbation_scores.csv", index=False)
    shift_df.to_csv(args.out / "perturbation_shifts.csv", index=False)
    timing.to_csv(args.out / "perturbation_timing.csv", index=False)
    split.to_csv(args.out / "perturbation_splithalf.csv", index=False)
    if len(alpha_df):
        alpha_df.to_csv(args.out / "perturbation_alpha.csv", index=False)

    total = time.perf_counter() - t_start
    versions = ", ".join(f"{p} {version(p)}" for p in ("scgrn", "numpy", "scipy", "scikit-learn", "torch",
                                                          "anndata", "pandas"))
    cmd = "nice -n 19 env OMP_NUM_THREADS=1 SCGRN_DATA_DIR=/work/shared/data python benchmarks/perturbation.py"
    if argv is None:
        argv = sys.argv[1:]
    cmd += (" " + shlex.join(argv)) if argv else ""
    fmt = dict(floatfmt=".3f")
    lines = [
        "# In-silico knockout prediction on a real CRISPR screen (Papalexi 2021)",
        "",
        f"Command: `{cmd}`  ",
        f"Versions: {versions}, python {platform.python_version()}  ",
        f"Machine: {cpu()}, {os.cpu_count()} cores shared with other jobs, torch threads "
        f"{torch.get_num_threads()}, 1-min load average during the run "
        f"{timing['load_avg_1min'].min():.1f}-{timing['load_avg_1min'].max():.1f}, no GPU used. "
        f"Whole script: {total / 60:.1f} min.  ",
        f"Methods run: {', '.join(methods)}."
        + (f" Not run: {', '.join(skipped)} (`scgrn.tl.perturb` absent at run time)." if skipped else ""),
        f"Seeds (PerturbODE, DeepSEM): {args.seeds}; PerturbODE n_epochs={args.perturbode_epochs}, "
        f"l1={'default (0.3)' if args.perturbode_l1 is None else args.perturbode_l1}; "
        f"split-half: {args.n_splits} random splits.",
        "",
        "Data: `scgrn.datasets.papalexi2021()`, 9995 cells (unassigned dropped) x 299 randomly sampled "
        "genes, X = log1p(normalize_total 1e4). Observed shift = mean(target's cells) - mean(2304 "
        "control cells). Scores over the 298 genes other than the target: Pearson r; sign agreement "
        f"on the {N_TOP} genes with the largest |observed shift| (a predicted 0 counts as wrong, so "
        "'no change' scores 0; a coin flip 0.5); rmse / rmse of 'no change' (below 1 = better than "
        "predicting nothing). Stochastic methods: median over seeds per target, then the mean over "
        "the 5 targets. See the script's docstring for every method.",
        "",
        "## Summary (mean over the 5 measured targets)",
        "",
        summary.rename(columns={"r": "mean r", "sign": "mean sign agreement",
                                "rmse_vs_nochange": "mean rmse / no change",
                                "max_abs_pred": "largest |pred| (other genes)", "wall_s": "time (s)"}
                       ).to_markdown(**fmt),
        "",
        "## Pearson r per target",
        "",
        r_table.to_markdown(**fmt),
        "",
        f"## Sign agreement on the top {N_TOP} genes, per target",
        "",
        s_table.to_markdown(**fmt),
        "",
        "## rmse / rmse of 'no change', per target",
        "",
        e_table.to_markdown(**fmt),
        "",
        "## The target's own shift (not scored): predicted vs observed",
        "",
        own.to_markdown(**fmt),
        "",
        "## Largest |predicted shift| over the other 298 genes (median over seeds)",
        "",
        mx.to_markdown(floatfmt=".2g"),
        "",
        "## Observed: cells and largest shifts per target (target excluded)",
        "",
        pd.DataFrame({"cells": pd.Series(n_cells), "largest observed shifts": pd.Series(top_genes)}
                     ).to_markdown(),
        "",
    ]
    if seed_table is not None:
        lines += ["## PerturbODE r per seed (leave one target out)", "", seed_table.to_markdown(**fmt), ""]
    if len(alpha_df):
        a = alpha_df.groupby(["method", "alpha", "n_propagation"])[["r", "sign"]].mean().reset_index()
        lines += ["## CellOracle-style: sensitivity to the ridge alpha and the propagation steps "
                  "(mean over targets; alpha = 10 was fixed beforehand, not chosen here)", "",
                  a.to_markdown(index=False, **fmt), ""]
    if method_warnings:
        lines += ["## Warnings raised by the methods", ""]
        lines += [f"- {m} ({len(v)} calls: {', '.join(sorted(set(v)))}): {msg}"
                  for (m, msg), v in method_warnings.items()]
        lines += [""]
    lines += ["## Time per method (s, wall, all targets and seeds)", "",
              timing.groupby("method", sort=False)[["wall_s", "cpu_s"]].sum().to_markdown(floatfmt=".1f"), ""]
    md_path = args.out / "perturbation.md"
    reading = ""
    if md_path.is_file():  # keep the hand-written reading of an earlier run
        old = md_path.read_text()
        if READING in old:
            reading = old[old.index(READING):]
    md_path.write_text("\n".join(lines) + "\n" + reading)
    print(f"wrote {args.out / 'perturbation.md'} in {total / 60:.1f} min", flush=True)


READING = "## Reading (written by hand"

if __name__ == "__main__":
    main()
