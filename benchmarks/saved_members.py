"""Score ways of combining DeepSEM members saved earlier, without training again.

Reads ``{dataset}_{model}_{seed}.npz`` files (``w``: members x genes x genes; ``var_names``; the
candidate edges as ``candidates`` or as ``is_tf``), as ``aggregation.py --save-members DIR``
writes them, and scores each combination on the shared BEELINE sets' networks (EPR, "deepsem"
convention, and its ratio to the best recorded peer's):

- ``groups``: the even members (0, 2, ...) and the odd ones (1, 3, ...: the TFs-only members
  where TFs are half the genes) combined with weights ``w`` and ``1 - w`` (``w`` in 0, 0.25, ...,
  1), as mean ``|W|`` (``abs_w...``) and as mean rank of ``|W|`` (``rank_w...``); ``abs_w0.5`` is
  the library's aggregate.
- ``pool``: every run alone and every pair of runs of a data set pooled (16 members from two
  8-member runs), mean ``|W|``.
- ``reweight``: the mean ``|W|`` re-weighted by the network's own structure: times each
  regulator's mean candidate weight (relative to the average regulator) to the power ``g``
  (``hub{g}``), divided by each target's to the power ``g`` (``colnorm{g}``), CLR-style
  z-scores against the regulator's and the target's candidate weights (``clr``) or the
  target's alone (``clr_col``); and the members' agreement: mean over standard deviation
  (``snr``), times the share of members agreeing in sign (``signagree``), ``|mean W|``
  (``abs_mean``).

Usage::

    SCGRN_DATA_DIR=../shared/data python benchmarks/saved_members.py groups --folder DIR --model tfrows \\
        --seeds 0 1 2 3 4 --out benchmarks/results/tf_rows_member_groups.csv
    SCGRN_DATA_DIR=../shared/data python benchmarks/saved_members.py pool --folder DIR --model full --seeds 3 4 5
    SCGRN_DATA_DIR=../shared/data python benchmarks/saved_members.py reweight --folder DIR --model full \\
        --seeds 0 1 2 3 4 5 --out benchmarks/results/deepsem_reweighted.csv
"""

from __future__ import annotations

import argparse
import itertools
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).parent))
import peers  # noqa: E402

import scgrn  # noqa: E402

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def load(folder: str, dataset: str, model: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Members' ``|W|``, the candidate-edge mask and the gene names of one saved run."""
    f = np.load(Path(folder) / f"{dataset}_{model}_{seed}.npz", allow_pickle=True)
    if "candidates" in f:
        candidates = f["candidates"]
    else:
        candidates = np.zeros(f["w"].shape[1:], bool)
        candidates[f["is_tf"]] = True
        np.fill_diagonal(candidates, False)
    return np.abs(f["w"]), candidates, f["var_names"]


def signs(folder: str, dataset: str, model: str, seed: int) -> np.ndarray:
    """The signs of the members' ``W`` of one saved run."""
    return np.sign(np.load(Path(folder) / f"{dataset}_{model}_{seed}.npz")["w"])


def group_aggregates(a: np.ndarray, candidates: np.ndarray) -> dict[str, np.ndarray]:
    """Even and odd members weighted ``w`` and ``1 - w``, as mean ``|W|`` and as mean rank."""
    ranks = np.zeros_like(a)
    for e in range(len(a)):
        ranks[e][candidates] = rankdata(a[e][candidates]) / candidates.sum()
    out = {}
    for w in WEIGHTS:
        out[f"abs_w{w}"] = w * a[0::2].mean(0) + (1 - w) * a[1::2].mean(0)
        out[f"rank_w{w}"] = w * ranks[0::2].mean(0) + (1 - w) * ranks[1::2].mean(0)
    return out


def structure_aggregates(a: np.ndarray, w_sign: np.ndarray, candidates: np.ndarray) -> dict[str, np.ndarray]:
    """Mean ``|W|`` re-weighted by regulator / target strength, CLR z-scores, members' agreement."""
    mean = a.mean(0)
    on = np.where(candidates, mean, np.nan)
    with warnings.catch_warnings():  # rows without candidates (non-TFs) are all NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        row_mean, col_mean = np.nanmean(on, 1, keepdims=True), np.nanmean(on, 0, keepdims=True)
        z_row = np.maximum((mean - row_mean) / (np.nanstd(on, 1, keepdims=True) + 1e-12), 0)
        z_col = np.maximum((mean - col_mean) / (np.nanstd(on, 0, keepdims=True) + 1e-12), 0)
    hub = np.nan_to_num(row_mean / np.nanmean(row_mean))
    target = col_mean / np.nanmean(col_mean)
    out = {"mean_abs": mean}
    out.update({f"hub{g}": mean * hub**g for g in (0.25, 0.5, 1.0)})
    out.update({f"colnorm{g}": mean / target**g for g in (0.25, 0.5)})
    out.update({"clr": np.nan_to_num(np.sqrt(z_row**2 + z_col**2)), "clr_col": z_col,
                "snr": mean / (a.std(0) + 1e-12), "signagree": mean * np.abs(w_sign.mean(0)),
                "abs_mean": np.abs((a * w_sign).mean(0))})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["groups", "pool", "reweight"])
    parser.add_argument("--folder", required=True)
    parser.add_argument("--model", default="tfrows", help="the files' model part: tfrows or full")
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--datasets", nargs="+", default=list(peers.DATASETS))
    parser.add_argument("--recorded-peers", default=str(Path(__file__).parent / "results" / "beeline_deepsem.csv"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    recorded = pd.read_csv(args.recorded_peers)
    recorded = recorded[(recorded.convention == "deepsem") & (recorded.method != "scgrn DeepSEM")]
    best = recorded.groupby(["dataset", "ground_truth"]).EPR.max()

    rows = []
    for dataset in args.datasets:
        cell_type, n_genes, ground_truths = peers.DATASETS[dataset]
        loaded = {gt: scgrn.datasets.beeline(cell_type, n_genes=n_genes, ground_truth=gt)[1] for gt in ground_truths}
        runs = {seed: load(args.folder, dataset, args.model, seed) for seed in args.seeds}
        candidates, var_names = runs[args.seeds[0]][1:]
        if args.kind == "groups":
            scored = [(str(s), name, g) for s, (a, c, _) in runs.items() for name, g in group_aggregates(a, c).items()]
        elif args.kind == "reweight":
            scored = [(str(s), name, g) for s, (a, c, _) in runs.items()
                      for name, g in structure_aggregates(a, signs(args.folder, dataset, args.model, s), c).items()]
        else:
            combos = [c for k in (1, 2) for c in itertools.combinations(args.seeds, k)]
            scored = [("+".join(map(str, c)), f"{8 * len(c)} members" if len(c) > 1 else "one run",
                       np.concatenate([runs[s][0] for s in c]).mean(0)) for c in combos]
        for seeds, name, grn in scored:
            grn = np.where(candidates, grn, 0).astype(np.float32)
            for gt, reference in loaded.items():
                m = scgrn.metrics.evaluate_grn(grn, reference, var_names=var_names, convention="deepsem")
                rows.append({"dataset": dataset, "ground_truth": gt, "seeds": seeds, "aggregate": name,
                             "EPR": m["EPR"], "ratio": m["EPR"] / best[(dataset, gt)]})
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)
    medians = table.groupby(["aggregate", "dataset", "ground_truth"]).ratio.median().unstack(0)
    print(medians.round(3).to_markdown())
    print(pd.DataFrame({">= 0.98 (of 10)": (medians >= 0.98).sum(), "median ratio": medians.median()}).round(3).to_markdown())


if __name__ == "__main__":
    main()
