"""DeepSEM at transcriptome scale: wall time and peak memory against regdiffusion.

Data: ``scgrn.datasets.planted_counts`` (sparse counts from a planted TF -> target network,
log-normalised, CSR), 10 % of the genes as TFs. Every measurement runs in its own Python
process, so that its peak RSS (``ru_maxrss``, the input included) is its own.

Three kinds of measurement::

    # a full default run of tl.deepsem (and the AUPRC on the planted network)
    python benchmarks/scale.py full --genes 10000 --cells 5000
    # a probe: the same set-up, training capped at a few steps, twice, to split the fixed cost
    # from the cost per step; the default run (min(30 epochs, 1000 steps)) is extrapolated
    python benchmarks/scale.py probe --genes 20000 --cells 5000
    # the same from a file, as a user starts (peak RSS without the data generation's)
    python benchmarks/scale.py write-data --genes 20000 --cells 50000 --input /tmp/planted.h5ad
    python benchmarks/scale.py probe --genes 20000 --cells 50000 --input /tmp/planted.h5ad
    # memory of training alone against the cells: peak RSS over the RSS after reading the input
    python benchmarks/scale.py memory --genes 2000 --cells 50000 --input /tmp/p.h5ad --steps 5
    # regdiffusion with its defaults, run for a few of its 1000 steps and extrapolated
    python benchmarks/scale.py regdiffusion --genes 10000 --cells 5000 --steps 3
    # regdiffusion's full default run (and its AUPRC on the planted network), to set against
    # ``full`` on the same generated data; and |Pearson r| on it
    python benchmarks/scale.py regdiffusion-full --genes 5000 --cells 5000
    python benchmarks/scale.py pearson --genes 5000 --cells 5000

    # everything, one process per point, rows appended to benchmarks/results/scale.jsonl
    python benchmarks/scale.py all
    python benchmarks/scale.py largest   # the full default run at 20,000 genes x 50,000 cells

``report`` prints the rows as the two generated tables at the top of ``benchmarks/results/scale.md``
(``--report-out FILE`` also writes them there); it never writes ``scale.md`` itself, whose later
sections are written by hand and would be lost.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
TF_SHARE = 0.1


def _data(n_genes: int, n_cells: int, seed: int = 0, path: str | None = None):
    """The planted data set, generated here or (``path``) read from an h5ad written by
    ``write-data``: a user's run starts from a file, and generating 50,000 cells peaks higher
    than the matrix it leaves (so its peak would hide DeepSEM's)."""
    import anndata as ad
    import scgrn

    t0 = time.perf_counter()
    if path is not None:
        adata = ad.read_h5ad(path)
        if adata.shape != (n_cells, n_genes):
            raise ValueError(f"{path} holds {adata.shape}, not {(n_cells, n_genes)}")
        return adata, None, time.perf_counter() - t0
    adata, truth = scgrn.datasets.planted_counts(
        n_genes=n_genes, n_cells=n_cells, n_tfs=int(TF_SHARE * n_genes), random_state=seed
    )
    del adata.layers["counts"]  # the input is the log-normalised CSR matrix alone
    return adata, truth, time.perf_counter() - t0


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KB -> GB


def _auprc(grn, adata, truth) -> dict:
    import scgrn

    m = scgrn.metrics.evaluate_grn(grn, truth, var_names=adata.var_names, convention="deepsem")
    return {"EPR": m["EPR"], "AUPRC_ratio": m["AUPRC_ratio"], "AUROC": m["AUROC"]}


def run_full(n_genes: int, n_cells: int, path: str | None = None, n_models: int | None = None) -> dict:
    """Default ``tl.deepsem`` with the TF list, timed end to end (checks and output included).

    ``path``: read the data from this h5ad (see ``write-data``), as a user starts; the planted
    network is not stored there, so the run is timed but not scored."""
    import scgrn

    adata, truth, gen = _data(n_genes, n_cells, path=path)
    input_gb = _peak_gb()
    tfs = list(adata.var_names[adata.var["is_tf"]])
    t0 = time.perf_counter()
    scgrn.tl.deepsem(adata, tfs=tfs, show_progress_bar=False, **_members(n_models))
    seconds = time.perf_counter() - t0
    return {"kind": "full", "method": "scgrn", "seconds": seconds, "peak_rss_gb": _peak_gb(),
            "members": adata.uns["deepsem"]["params"]["n_models"],
            "rss_after_data_gb": input_gb, "n_steps": adata.uns["deepsem"]["params"]["n_steps"],
            ("read_s" if path else "generate_s"): gen, "input": "h5ad" if path else "generated",
            **(_auprc(adata.varp["deepsem"], adata, truth) if truth is not None else {})}


def write_data(n_genes: int, n_cells: int, path: str) -> None:
    adata, _, _ = _data(n_genes, n_cells)
    adata.write_h5ad(path)


def _members(n_models: int | None) -> dict:
    """``tl.deepsem``'s ``n_models`` when given (``--n-models``), else its default rule."""
    return {} if n_models is None else {"n_models": n_models}


def run_probe(n_genes: int, n_cells: int, steps: tuple[int, int] = (4, 24), path: str | None = None,
              n_models: int | None = None) -> dict:
    """Two capped runs of ``tl.deepsem`` -> fixed cost and cost per step -> the default run."""
    import scgrn
    from scgrn.models import make_config
    from scgrn.models._deepsem_config import total_steps

    adata, _, gen = _data(n_genes, n_cells, path=path)
    input_gb = _peak_gb()
    tfs = list(adata.var_names[adata.var["is_tf"]])
    scgrn.tl.deepsem(adata, tfs=tfs, max_steps=1, show_progress_bar=False, **_members(n_models))  # warm-up, not timed
    times = []
    for s in steps:
        t0 = time.perf_counter()
        scgrn.tl.deepsem(adata, tfs=tfs, max_steps=s, show_progress_bar=False, **_members(n_models))
        times.append(time.perf_counter() - t0)
    per_step = (times[1] - times[0]) / (steps[1] - steps[0])
    fixed = times[0] - steps[0] * per_step
    n_default = total_steps(make_config(), n_cells)
    return {"kind": "probe", "method": "scgrn", "seconds": fixed + n_default * per_step, "per_step_s": per_step,
            "fixed_s": fixed, "n_steps": n_default, "members": adata.uns["deepsem"]["params"]["n_models"], "peak_rss_gb": _peak_gb(), "rss_after_data_gb": input_gb,
            ("read_s" if path else "generate_s"): gen, "input": "h5ad" if path else "generated", "extrapolated": True}


def run_memory(n_genes: int, n_cells: int, path: str, steps: int, embedding: bool) -> dict:
    """``tl.deepsem`` (TF rows) capped at ``steps`` on data read from ``path``: what training
    (and, with ``embedding``, the embedding pass) adds to the memory the input already holds."""
    import scgrn

    adata, _, read = _data(n_genes, n_cells, path=path)
    before = _peak_gb()
    tfs = list(adata.var_names[adata.var["is_tf"]])
    t0 = time.perf_counter()
    scgrn.tl.deepsem(adata, tfs=tfs, tf_rows_only=True, max_steps=steps, embedding=embedding,
                     show_progress_bar=False)
    return {"kind": "memory", "method": "scgrn", "seconds": time.perf_counter() - t0, "n_steps": steps,
            "embedding": embedding, "rss_after_data_gb": before, "peak_rss_gb": _peak_gb(),
            "input_data_gb": float(adata.X.data.nbytes + adata.X.indices.nbytes) / 1e9, "read_s": read}


def run_regdiffusion(n_genes: int, n_cells: int, steps: int = 3) -> dict:
    """regdiffusion's defaults (1000 steps), run for ``steps`` and extrapolated; densified input."""
    import regdiffusion as rd

    adata, _, gen = _data(n_genes, n_cells)
    x = adata.X.toarray()  # regdiffusion takes a dense array
    del adata
    t0 = time.perf_counter()
    trainer = rd.RegDiffusionTrainer(x, device="cpu", seed=0, n_steps=steps)
    t1 = time.perf_counter()
    trainer.train()
    t2 = time.perf_counter()
    per_step = (t2 - t1) / steps
    return {"kind": "probe", "method": "regdiffusion", "seconds": (t1 - t0) + 1000 * per_step,
            "per_step_s": per_step, "fixed_s": t1 - t0, "n_steps": 1000, "peak_rss_gb": _peak_gb(),
            "generate_s": gen, "extrapolated": True}


def run_regdiffusion_full(n_genes: int, n_cells: int) -> dict:
    """regdiffusion's full default run on the data ``full`` uses, timed, with its AUPRC."""
    import regdiffusion as rd

    adata, truth, gen = _data(n_genes, n_cells)
    x = adata.X.toarray()
    t0 = time.perf_counter()
    trainer = rd.RegDiffusionTrainer(x, device="cpu", seed=0)
    trainer.train()
    grn = np.asarray(trainer.get_adj(), dtype=np.float32)
    seconds = time.perf_counter() - t0
    return {"kind": "full", "method": "regdiffusion", "seconds": seconds, "peak_rss_gb": _peak_gb(),
            "n_steps": 1000, "generate_s": gen, **_auprc(grn, adata, truth)}


def run_pearson(n_genes: int, n_cells: int) -> dict:
    """|Pearson r| (``tl.correlation`` with the TF list) on the data ``full`` uses: the
    simple baseline's AUPRC on the same planted network."""
    import scgrn

    adata, truth, gen = _data(n_genes, n_cells)
    tfs = list(adata.var_names[adata.var["is_tf"]])
    t0 = time.perf_counter()
    scgrn.tl.correlation(adata, tfs=tfs)
    seconds = time.perf_counter() - t0
    return {"kind": "full", "method": "pearson", "seconds": seconds, "peak_rss_gb": _peak_gb(),
            "generate_s": gen, **_auprc(adata.varp["pearson"], adata, truth)}


def _one(kind: str, n_genes: int, n_cells: int, steps: int, csv: Path) -> None:
    """Run one measurement in a fresh process and append its row to ``csv``."""
    cmd = [sys.executable, __file__, kind, "--genes", str(n_genes), "--cells", str(n_cells), "--steps", str(steps),
           "--csv", str(csv)]
    print(" ".join(cmd[1:]), flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-2000:], flush=True)


def run_all(csv: Path, steps: int, skip_done: bool = False) -> None:
    """The acceptance point (10,000 genes x 5,000 cells) in full, then the curve as probes;
    regdiffusion at 5,000 cells only (its cost per step does not depend on the cells)."""
    if not skip_done:
        _one("full", 10000, 5000, steps, csv)
        _one("regdiffusion", 10000, 5000, steps, csv)
    for n_cells in (5000, 50000):
        for n_genes in (1000, 2000, 5000, 10000, 20000):
            _one("probe", n_genes, n_cells, steps, csv)
    for n_genes in (1000, 2000, 5000, 20000):
        _one("regdiffusion", n_genes, 5000, steps, csv)


def run_largest(csv: Path, steps: int) -> None:
    _one("full", 20000, 50000, steps, csv)


def report(csv: Path, out: Path | None) -> None:
    import pandas as pd

    t = pd.DataFrame([json.loads(line) for line in csv.read_text().splitlines() if line.strip()])
    # rows measured before bfloat16 became the TF-rows default carry no "precision"
    t["precision"] = t.get("precision", pd.Series(index=t.index, dtype=object)).fillna("float32")
    t = t.drop_duplicates(["kind", "method", "genes", "cells", "precision"], keep="last")
    lines = ["# DeepSEM at scale: time and memory against regdiffusion", "",
             f"Command: `python benchmarks/scale.py all` then `python benchmarks/scale.py report`. "
             f"Machine: {platform.machine()}, {platform.platform()}, 2 CPU cores, 24 GB; "
             f"python {platform.python_version()}; one process per row.", "",
             "Data: `scgrn.datasets.planted_counts`, 10 % of genes TFs, log-normalised sparse CSR input. "
             "scgrn: `tl.deepsem(adata, tfs=tfs)` with defaults (8 members, min(30 epochs, 1000 steps) of 64 cells). "
             "regdiffusion 0.2.3 with its defaults (1000 steps), given the dense matrix it needs.", ""]
    full = t[t.kind == "full"]
    if len(full):
        lines += ["## Full default runs", "",
                  full[["method", "genes", "cells", "precision", "seconds", "peak_rss_gb", "n_steps", "EPR", "AUPRC_ratio", "AUROC"]]
                  .round(3).to_markdown(index=False), ""]
    probe = t[t.kind == "probe"]
    scgrn_rows = probe[probe.method == "scgrn"].set_index(["genes", "cells"])
    peer = probe[probe.method == "regdiffusion"].set_index("genes")
    curve = pd.DataFrame({
        "model": ["genes x genes" if g <= 2000 else "TF rows" for g, _ in scgrn_rows.index],
        "scgrn s": scgrn_rows["seconds"], "scgrn s/step": scgrn_rows["per_step_s"],
        "scgrn peak GB": scgrn_rows["peak_rss_gb"],
        "regdiffusion s": [peer["seconds"].get(g, np.nan) for g, _ in scgrn_rows.index],
        "regdiffusion peak GB (5,000 cells)": [peer["peak_rss_gb"].get(g, np.nan) for g, _ in scgrn_rows.index],
    })
    curve["scgrn / regdiffusion (time)"] = curve["scgrn s"] / curve["regdiffusion s"]
    lines += ["## Scale curve (extrapolated from short runs: fixed cost + steps x cost per step)", "",
              "scgrn: a 1-step warm-up, then runs capped at 4 and 24 steps give the fixed cost and the cost per "
              "step, extrapolated to the default run's 1,000 steps (the probe at 10,000 x 5,000 gave 1,691 s "
              "against 1,687 s for the full run). regdiffusion: 3 of its 1,000 steps, plus its set-up; its cost "
              "per step does not depend on the cells, so it was probed at 5,000 cells and its time is shown "
              "for both cell counts (its memory at 50,000 cells would add the dense input, 0.2-4 GB).", "",
              curve.sort_index(level=["cells", "genes"]).round(2).to_markdown(), ""]
    if out is not None:
        if out.resolve() == (RESULTS / "scale.md").resolve():
            raise SystemExit("scale.md holds hand-written sections; write the tables elsewhere and paste them in")
        out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["full", "probe", "regdiffusion", "regdiffusion-full", "pearson", "memory", "all", "largest", "report", "write-data"])
    parser.add_argument("--input", default=None, help="full, probe, memory: read the data from this h5ad (see write-data)")
    parser.add_argument("--genes", type=int, default=10000)
    parser.add_argument("--cells", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=3, help="regdiffusion: steps actually run in a probe; memory: optimiser steps")
    parser.add_argument("--embedding", action="store_true", help="memory: also write the cell embedding")
    parser.add_argument("--curve-only", action="store_true", help="with all: skip the full 10,000 x 5,000 runs")
    parser.add_argument("--n-models", type=int, default=None, help="full, probe: tl.deepsem's n_models (default: its rule)")
    parser.add_argument("--report-out", default=None, help="report: also write the tables to this file")
    parser.add_argument("--csv", default=str(RESULTS / "scale.jsonl"), help="rows, one JSON object a line")
    args = parser.parse_args()
    csv = Path(args.csv)
    if args.kind in ("all", "largest"):
        if args.kind == "largest":
            return run_largest(csv, args.steps)
        return run_all(csv, args.steps, skip_done=args.curve_only)
    if args.kind == "report":
        return report(csv, Path(args.report_out) if args.report_out else None)
    if args.kind == "write-data":
        return write_data(args.genes, args.cells, args.input)
    row = {"full": lambda g, c: run_full(g, c, path=args.input, n_models=args.n_models),
           "probe": lambda g, c: run_probe(g, c, path=args.input, n_models=args.n_models),
           "regdiffusion": lambda g, c: run_regdiffusion(g, c, args.steps),
           "regdiffusion-full": run_regdiffusion_full, "pearson": run_pearson,
           "memory": lambda g, c: run_memory(g, c, args.input, args.steps, args.embedding)}[args.kind](args.genes, args.cells)
    from scgrn.models import make_config

    precision = "bfloat16" if make_config().grn_precision != "float32" and args.genes > 2000 else "float32"
    if row["method"] != "scgrn":
        precision = "float32"  # the peer's own
    elif row["kind"] == "memory" and make_config().grn_precision != "float32":
        precision = "bfloat16"  # the TF-rows model at any size
    row = {"genes": args.genes, "cells": args.cells, "tfs": int(TF_SHARE * args.genes), "precision": precision, **row,
           "date": time.strftime("%Y-%m-%d %H:%M")}
    print(json.dumps(row), flush=True)
    with open(csv, "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
