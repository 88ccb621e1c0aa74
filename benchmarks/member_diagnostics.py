"""DeepSEM's ensemble members: their loop gain, their offset, and aggregates that use either.

Each member's ``W`` defines the linear system ``x = W^T x + z``; its loop gain is the spectral
radius of ``W`` (genes x genes model). ``W`` starts at ``1 / (n_genes - 1)`` everywhere, a loop
gain of exactly 1. This script trains the default ``models.DeepSEM`` once per set and seed,
reads every member's gain, and scores two aggregates of the same members:

- ``all``: mean ``|W|`` over every member (the library's aggregate);
- ``stable``: mean ``|W|`` over the members with gain < 1 (all members when none is);
- ``centred``: mean ``|W - m|``, ``m`` each member's median over the candidate edges: a
  member whose ``W`` sits on a positive offset ranks an inhibitory edge (``m - a``) below a
  non-edge (``m``) by ``|W|``;
- ``centred_target``: the same with ``m`` the median of each target's column (over the
  candidate regulators).
- ``norm``: mean of ``|W| / mean |W|`` (each member's candidates' mean): every member counts
  the same, whatever its gain;
- ``rank``: mean over members of the rank of ``|W|`` among the candidate edges;
- ``top10`` / ``top25``: stability selection, the share of members that put the edge in their
  top 10 % / 25 % of candidates (ties broken by mean ``|W|``).

``n_collapsed`` counts the members whose last-epoch KL term is below a tenth of the run's
median (posterior collapse: their ``W`` stays near its uniform start).

Boards: ``small`` = the ten small BEELINE BoolODE networks and krumsiek11 (as
``small_networks.py`` loads them; "beeline" convention), ``beeline`` = the three shared BEELINE
expression sets with the TF list of every ground truth (as ``beeline.py``; "deepsem" convention,
non-TF rows and self-loops zeroed). Rows are written to ``--out`` as they finish.

``--tf-rows`` trains the TF-rows model on the BEELINE board (a member's ``W`` then has only TF
rows, so its gain is that of the TF x TF block). ``--max-gain G`` trains with every member's loop gain bounded at ``G`` (``_gain_projection.py``).

Usage::

    SCGRN_DATA_DIR=../shared/data OMP_NUM_THREADS=1 python benchmarks/member_diagnostics.py \\
        --board small --seeds 0 1 2 --out /tmp/member_diagnostics_small.csv
    python benchmarks/member_diagnostics.py --summary /tmp/member_diagnostics_small.csv
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).parent))
import peers  # noqa: E402
import small_networks  # noqa: E402

import scgrn  # noqa: E402
from scgrn.models import DeepSEM  # noqa: E402

RECORDED_PEERS = Path(__file__).parent / "results" / "beeline_deepsem.csv"


def loop_gains(members: np.ndarray) -> np.ndarray:
    """Spectral radius of each member's ``W`` (``(members, genes, genes)``)."""
    return np.array([np.abs(np.linalg.eigvals(w.astype(np.float64))).max() for w in members])


def aggregates(members: np.ndarray, gains: np.ndarray, candidates: np.ndarray) -> dict[str, np.ndarray]:
    """Aggregates of ``members`` (members, genes, genes); ``candidates`` marks the scored edges."""
    stable = gains < 1
    masked = np.where(candidates, members, np.nan)
    offset = np.nanmedian(masked.reshape(len(members), -1), axis=1)[:, None, None]
    column_offset = np.nanmedian(masked, axis=1, keepdims=True)
    absolute = np.abs(members)
    scale = np.array([a[candidates].mean() for a in absolute])[:, None, None]
    ranks = np.stack([np.where(candidates, rankdata(np.where(candidates, a, -1.0).ravel()).reshape(a.shape), 0.0)
                      for a in absolute])
    tie_break = 1e-3 * absolute.mean(0) / max(float(absolute.mean(0).max()), 1e-30)

    def top_share(fraction: float) -> np.ndarray:
        k = max(1, int(round(fraction * candidates.sum())))
        chosen = [a >= np.sort(a[candidates])[-k] for a in absolute]
        return np.mean(chosen, axis=0) + tie_break

    return {"all": absolute.mean(0),
            "norm": (absolute / scale).mean(0),
            "rank": ranks.mean(0),
            "top10": top_share(0.10),
            "top25": top_share(0.25),
            "stable": np.abs(members[stable]).mean(0) if stable.any() else np.abs(members).mean(0),
            "centred": np.abs(members - offset).mean(0),
            "centred_target": np.abs(members - column_offset).mean(0)}


def train(adata, seed: int, tfs=None, tf_rows_only="auto") -> tuple[np.ndarray, np.ndarray, float, int]:
    t0 = time.perf_counter()
    model = DeepSEM(adata, tfs=tfs, tf_rows_only=tf_rows_only)
    model.train(random_state=seed, show_progress_bar=False)
    members = model.get_grn(members=True)
    kl = np.asarray(model.history["kl"])[-1]
    n_collapsed = int((kl < 0.1 * np.median(kl)).sum())
    return members, loop_gains(members), time.perf_counter() - t0, n_collapsed


def small_rows(seed: int):
    for name in small_networks.DATASETS:
        adata, truth, _ = small_networks.load(name)
        members, gains, seconds, n_collapsed = train(adata, seed)
        candidates = ~np.eye(adata.n_vars, dtype=bool)
        for agg, grn in aggregates(members, gains, candidates).items():
            scored = adata.copy()
            scored.varp["grn"] = grn
            m = scgrn.metrics.evaluate_grn(scored, truth, key="grn", convention="beeline")
            yield dict(seed=seed, dataset=name, ground_truth="", agg=agg, EPR=m["EPR"],
                       AUPRC_ratio=m["AUPRC_ratio"], AUROC=m["AUROC"], n_stable=int((gains < 1).sum()),
                       gains=json.dumps(np.round(gains, 2).tolist()), n_collapsed=n_collapsed, seconds=seconds)


def beeline_rows(seed: int, tf_rows_only="auto"):
    for dataset, (cell_type, n_genes, ground_truths) in peers.DATASETS.items():
        loaded = {gt: scgrn.datasets.beeline(cell_type, n_genes=n_genes, ground_truth=gt) for gt in ground_truths}
        adata = loaded[ground_truths[0]][0]
        is_tf = np.any([a.var["is_tf"].to_numpy() for a, _ in loaded.values()], axis=0)
        members, gains, seconds, n_collapsed = train(adata, seed, tfs=list(adata.var_names[is_tf]), tf_rows_only=tf_rows_only)
        candidates = np.zeros((adata.n_vars, adata.n_vars), bool)
        candidates[is_tf] = True
        np.fill_diagonal(candidates, False)
        for agg, grn in aggregates(members, gains, candidates).items():
            grn[~is_tf] = 0.0
            np.fill_diagonal(grn, 0.0)
            scored = adata.copy()
            scored.varp["grn"] = grn
            for gt, (_, net) in loaded.items():
                m = scgrn.metrics.evaluate_grn(scored, net, key="grn", convention="deepsem")
                yield dict(seed=seed, dataset=dataset, ground_truth=gt, agg=agg, EPR=m["EPR"],
                           AUPRC_ratio=m["AUPRC_ratio"], AUROC=m["AUROC"], n_stable=int((gains < 1).sum()),
                           gains=json.dumps(np.round(gains, 2).tolist()), n_collapsed=n_collapsed, seconds=seconds)


def summary(path: str) -> str:
    """Markdown tables of a CSV this script wrote: per set, the median over seeds of each
    aggregate; for the BEELINE board also the EPR ratio to the best recorded peer."""
    table = pd.read_csv(path).fillna({"ground_truth": ""})
    per_set = table.pivot_table(index=["dataset", "ground_truth"], columns="agg",
                                values=["AUPRC_ratio", "AUROC", "EPR"], aggfunc="median")
    lines = [f"median over seeds {sorted(table.seed.unique())}", per_set.round(3).to_markdown(),
             "", "median over the board:", per_set.median().round(3).to_string()]
    if (table["ground_truth"] != "").any():
        recorded = pd.read_csv(RECORDED_PEERS)
        recorded = recorded[(recorded.convention == "deepsem") & (recorded.method != "scgrn DeepSEM")]
        best = recorded.groupby(["dataset", "ground_truth"]).EPR.max()
        ratio = per_set["EPR"].div(best.reindex(per_set.index), axis=0)
        lines += ["", "EPR / best recorded peer (median over seeds):", ratio.round(3).to_markdown(), "",
                  "combinations >= 0.98 x best peer: "
                  + ", ".join(f"{c} {int((ratio[c] >= 0.98).sum())} of {len(ratio)}" for c in ratio.columns),
                  "median ratio: " + ", ".join(f"{c} {ratio[c].median():.3f}" for c in ratio.columns)]
    lines += ["", "members with gain < 1, per run (min / median / max over seeds):",
              table[table["agg"] == "all"].groupby("dataset").n_stable.agg(["min", "median", "max"]).to_markdown()]
    if "n_collapsed" in table:
        lines += ["", "collapsed members (KL < 0.1 x the run's median), per run (sum over seeds):",
                  table[table["agg"] == "all"].groupby("dataset").n_collapsed.sum().to_markdown()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", choices=("small", "beeline"), default="small")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--out", default="member_diagnostics.csv")
    parser.add_argument("--summary", default=None, help="print the tables of this CSV and stop")
    parser.add_argument("--tf-rows", action="store_true",
                        help="BEELINE board: the TF-rows model (tf_rows_only=True; its gain is the TF x TF block's)")
    parser.add_argument("--max-gain", type=float, default=None,
                        help="train with each member's loop gain bounded (_gain_projection.py)")
    args = parser.parse_args()
    if args.summary:
        print(summary(args.summary))
        return
    if args.max_gain is not None:
        import _gain_projection

        _gain_projection.install(args.max_gain)
    rows = []
    board = small_rows if args.board == "small" else (
        lambda seed: beeline_rows(seed, tf_rows_only=True if args.tf_rows else "auto"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in args.seeds:
            for row in board(seed):
                rows.append(row)
                pd.DataFrame(rows).to_csv(args.out, index=False)
    print(summary(args.out))


if __name__ == "__main__":
    main()
