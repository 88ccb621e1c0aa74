"""Does averaging DeepSEM's edge ranks with partial correlation's help on small networks?

On the small-network board (``small_networks.py``: ten BEELINE BoolODE sets, first 2,000-cell
replicate, and krumsiek11) scgrn's own partial correlation leads DeepSEM on the median. This
checks whether a rank average of the two beats both: for every set and seed, the default
``tl.deepsem`` and ``tl.partial_correlation`` (deterministic) are computed once, saved, and
scored alone and combined (off-diagonal ranks of ``|W|`` and ``|pcor|`` scaled to (0, 1],
``a * rank(deepsem) + (1 - a) * rank(pcor)`` for a in 0.25 / 0.5 / 0.75, and their product).

Usage::

    SCGRN_DATA_DIR=../shared/data OMP_NUM_THREADS=1 python benchmarks/pcor_consensus.py run --seeds 0 1 2 --dir /tmp/consensus
    SCGRN_DATA_DIR=../shared/data python benchmarks/pcor_consensus.py score --dir /tmp/consensus
"""

from __future__ import annotations

import argparse
import glob
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).parent))
from small_networks import DATASETS, load  # noqa: E402

import scgrn  # noqa: E402


def run(seeds: list[int], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in DATASETS:
        adata, _, _ = load(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pcor = np.abs(np.asarray(scgrn.tl.partial_correlation(adata, copy=True).varp["partial_correlation"]))
            for seed in seeds:
                out = scgrn.tl.deepsem(adata, random_state=seed, show_progress_bar=False, embedding=False, copy=True)
                np.savez(folder / f"{name}_{seed}.npz", w=np.asarray(out.varp["deepsem"]), pc=pcor)
                print(name, seed, flush=True)


def off_diagonal_ranks(a: np.ndarray) -> np.ndarray:
    off = ~np.eye(a.shape[0], dtype=bool)
    r = np.zeros(a.shape, dtype=float)
    r[off] = rankdata(a[off]) / off.sum()
    return r


def score(folder: Path) -> pd.DataFrame:
    rows = []
    for name in DATASETS:
        adata, truth, _ = load(name)
        for f in sorted(glob.glob(str(folder / f"{name}_*.npz"))):
            saved = np.load(f)
            w, pcor = np.abs(saved["w"]), saved["pc"]
            seed = int(Path(f).stem.rsplit("_", 1)[1])
            rw, rp = off_diagonal_ranks(w), off_diagonal_ranks(pcor)
            candidates = {"deepsem": w, "pcor": pcor, "product": rw * rp}
            candidates.update({f"rank {a}": a * rw + (1 - a) * rp for a in (0.25, 0.5, 0.75)})
            for variant, grn in candidates.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m = scgrn.metrics.evaluate_grn(grn, truth, var_names=adata.var_names, convention="beeline")
                rows.append({"dataset": name, "seed": seed, "variant": variant,
                             **{k: m[k] for k in ("AUPRC_ratio", "AUROC", "EPR")}})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["run", "score"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dir", default="/tmp/consensus")
    args = parser.parse_args()
    if args.kind == "run":
        return run(args.seeds, Path(args.dir))
    table = score(Path(args.dir))
    per_set = table.groupby(["dataset", "variant"])[["AUPRC_ratio", "AUROC", "EPR"]].median()
    beeline = per_set.drop(index="krumsiek11", level="dataset", errors="ignore")
    print("Median over the ten BEELINE sets (per-set median over seeds):")
    print(beeline.groupby("variant").median().round(3).to_markdown())
    print("\nkrumsiek11 (median over seeds):")
    print(per_set.xs("krumsiek11", level="dataset").round(3).to_markdown())
    print("\nAUPRC ratio per set:")
    print(per_set["AUPRC_ratio"].unstack("variant").round(2).to_markdown())


if __name__ == "__main__":
    main()
