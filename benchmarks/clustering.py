"""Clustering benchmark: the DeepSEM cell embedding against PCA and scVI (ARI / NMI).

The protocol of DeepSEM's cell-representation benchmark (Shu et al. 2021), as implemented by
``scgrn.bench.clustering``: top 1000 variable genes of the log-normalised expression ->
representation -> PCA to 50 if wider -> 30-neighbour graph -> Leiden with the resolution
bisected to the number of true labels -> ARI / NMI. Sets: every ``clustering/*.h5ad`` of the
data folder plus scanpy's bundled ``pbmc68k_reduced`` (``bulk_labels``). scVI runs when
scvi-tools is importable (run this script from an environment that has it).

Usage::

    SCGRN_DATA_DIR=../shared/data python benchmarks/clustering.py [--seeds 0 1 2] [--out benchmarks/results]

Writes ``clustering.csv`` (one row per dataset x method x seed), ``clustering.md`` (mean ± sd
table, medians, wins, command, machine, versions) and ``clustering_umap.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

from _machine import cpu, version  # benchmarks/_machine.py (scripts run from benchmarks/)
import scgrn

LABELS = {"deepsem": "DeepSEM embedding", "pca": "PCA", "scvi": "scVI"}


def _fmt(mean, sd, digits=3):
    if pd.isna(mean):
        return "–"
    return f"{mean:.{digits}f} ± {0.0 if pd.isna(sd) else sd:.{digits}f}"


def write_markdown(table: pd.DataFrame, out: Path, command: str, elapsed: float, methods: list[str],
                   threads: int = 1) -> str:
    summary = scgrn.bench.summarise_clustering(table)
    datasets = list(dict.fromkeys(table["dataset"]))
    info = table.drop_duplicates("dataset").set_index("dataset")
    lines = [
        "# Clustering benchmark: DeepSEM cell embedding vs PCA and scVI",
        "",
        "Protocol (DeepSEM paper, \"Cell representation\"): top 1000 variable genes of the "
        "log-normalised expression → representation → PCA to 50 if wider → 30-neighbour graph → "
        "Leiden with the resolution bisected to the number of true labels → ARI / NMI. "
        "Mean ± sd over seeds; seconds = computing the representation.",
        "",
        f"Command: `{command}`  ",
        f"Machine: {cpu()}, {os.cpu_count()} cores (shared with other jobs; run under `nice -n 19`, "
        f"`OMP_NUM_THREADS=1`, torch threads {threads}), {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}.  ",
        "Versions: " + ", ".join(f"{p} {version(p)}" for p in
                                 ("scgrn", "torch", "scanpy", "leidenalg", "scikit-learn", "scvi-tools")) + ".  ",
        f"Total wall time: {elapsed / 60:.1f} min. Seeds: {sorted(table['seed'].unique().tolist())}.",
        "",
        "DeepSEM settings: `tl.deepsem(preset=\"embedding\")`, params "
        f"`{table.loc[table['method'] == 'deepsem', 'params'].iloc[0] if (table['method'] == 'deepsem').any() else '–'}`.",
        "",
    ]
    for metric in ("ARI", "NMI", "seconds"):
        lines += [f"## {metric}", "", "| dataset | cells | genes | labels | " + " | ".join(LABELS[m] for m in methods) + " |",
                  "| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in methods) + " |"]
        for d in datasets:
            cells = []
            for m in methods:
                row = summary[(summary["dataset"] == d) & (summary["method"] == m)]
                if row.empty:
                    status = table[(table["dataset"] == d) & (table["method"] == m)]["status"]
                    cells.append(status.iloc[0] if len(status) else "–")
                else:
                    digits = 1 if metric == "seconds" else 3
                    cells.append(_fmt(row[f"{metric}_mean"].item(), row[f"{metric}_sd"].item(), digits))
            lines.append(f"| {d} | {info.loc[d, 'cells']} | {info.loc[d, 'genes']} | {info.loc[d, 'n_labels']} | "
                         + " | ".join(cells) + " |")
        lines.append("")

    # acceptance: median ARI and wins of DeepSEM against each other method, on the mean over seeds
    ari = summary.pivot(index="dataset", columns="method", values="ARI_mean")
    lines += ["## Summary (ARI, mean over seeds)", ""]
    for m in methods:
        if m in ari:
            lines.append(f"- median ARI of {LABELS[m]}: {ari[m].median():.3f} over {ari[m].notna().sum()} sets")
    verdicts = []
    if "deepsem" in ari:
        for m in methods:
            if m == "deepsem" or m not in ari:
                continue
            both = ari[["deepsem", m]].dropna()
            wins = int((both["deepsem"] > both[m]).sum())
            median_ok = both["deepsem"].median() >= both[m].median()
            half_ok = wins >= len(both) / 2
            verdicts.append(
                f"- DeepSEM vs {LABELS[m]}: median ARI {both['deepsem'].median():.3f} vs {both[m].median():.3f} "
                f"({'at least' if median_ok else '**below**'}); DeepSEM higher on {wins} of {len(both)} sets "
                f"({'at least half' if half_ok else '**fewer than half**'}). "
                f"Criterion {'met' if median_ok and half_ok else '**not met**'}."
            )
    missing = [m for m in methods if m not in ari]
    lines += verdicts + [f"- {LABELS[m]}: no successful run ({', '.join(table.loc[table['method'] == m, 'status'].unique())})"
                         for m in missing]
    lines += ["", "![UMAP of the DeepSEM embedding (top) and PCA (bottom), coloured by true label](clustering_umap.png)", ""]
    text = "\n".join(lines)
    (out / "clustering.md").write_text(text)
    return text


def umap_figure(embeddings: dict, out: Path, methods=("deepsem", "pca")) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import scanpy as sc
    from sklearn.decomposition import PCA

    datasets = list(dict.fromkeys(d for d, _ in embeddings))
    methods = [m for m in methods if any((d, m) in embeddings for d in datasets)]
    fig, axes = plt.subplots(len(methods), len(datasets), figsize=(3.2 * len(datasets), 3.2 * len(methods)),
                             squeeze=False)
    for j, d in enumerate(datasets):
        for i, m in enumerate(methods):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if (d, m) not in embeddings:
                ax.set_axis_off()
                continue
            e = embeddings[(d, m)].copy()
            x = e.obsm[f"X_{m}"]
            e.obsm["X_rep"] = PCA(50, random_state=0).fit_transform(x) if x.shape[1] > 50 else x
            sc.pp.neighbors(e, n_neighbors=30, use_rep="X_rep", random_state=0)
            sc.tl.umap(e, random_state=0)
            codes = e.obs["label"].cat.codes.to_numpy()
            xy = e.obsm["X_umap"]
            ax.scatter(xy[:, 0], xy[:, 1], c=codes, cmap="tab20", s=4, linewidths=0)
            ax.set_title(f"{d}\n{LABELS[m]}" if i == 0 else LABELS[m], fontsize=8)
    fig.suptitle("UMAP of each representation (first seed), coloured by true label", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "clustering_umap.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--methods", nargs="+", default=list(scgrn.bench._clustering.METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--deepsem-kwargs", default="{}", help="JSON overrides of the 'embedding' preset")
    parser.add_argument("--scvi-kwargs", default="{}", help="JSON overrides of the scVI settings")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import scanpy as sc

    sc.settings.verbosity = 2  # one line per run
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/clustering.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        table, embeddings = scgrn.bench.clustering(
            args.datasets, methods=args.methods, seeds=args.seeds,
            deepsem_kwargs=json.loads(args.deepsem_kwargs), scvi_kwargs=json.loads(args.scvi_kwargs),
            return_embeddings=True, show_progress_bar=False,
        )
    elapsed = time.perf_counter() - t0
    table.to_csv(out / "clustering.csv", index=False)
    print(write_markdown(table, out, command, elapsed, args.methods, threads=args.threads))
    umap_figure(embeddings, out)


if __name__ == "__main__":
    main()
