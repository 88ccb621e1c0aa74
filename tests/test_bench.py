"""scgrn.bench.beeline (runner), scgrn.pl.benchmark_heatmap / benchmark_box and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

import scgrn  # noqa: E402
from scgrn.__main__ import main  # noqa: E402
from scgrn.bench import _beeline  # noqa: E402

FAST = ["pearson", "partial_correlation", "pidc"]


def _write_set(folder: Path, n_cells: int, seed: int, *, real: bool) -> None:
    """One BEELINE folder from a planted network (genes x cells on disk)."""
    adata, net = scgrn.datasets.planted_network(
        n_genes=8, n_cells=n_cells, n_regulators=2, targets_per_regulator=3, random_state=seed
    )
    folder.mkdir(parents=True, exist_ok=True)
    expr = pd.DataFrame(np.asarray(adata.X).T, index=adata.var_names,
                        columns=[f"c{i}" for i in range(n_cells)])
    expr.to_csv(folder / "ExpressionData.csv.gz")
    ref = pd.DataFrame({"Gene1": net["source"], "Gene2": net["target"]})
    if real:
        tfs = sorted(set(net["source"]))
        for gt, edges in (("STRING", ref), ("lofgof", ref.iloc[::2])):
            (folder / gt).mkdir(exist_ok=True)
            edges.to_csv(folder / gt / "refNetwork.csv", index=False)
            pd.DataFrame({"TF": tfs + ([adata.var_names[0]] if gt == "lofgof" else [])}).to_csv(
                folder / gt / "TFs.csv", index=False)
    else:
        ref.assign(Type="+").to_csv(folder / "refNetwork.csv", index=False)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("beeline_tiny")
    b = root / "beeline"
    _write_set(b / "scRNA-seq" / "cellx" / "TFs+500", 60, 0, real=True)
    _write_set(b / "scRNA-seq" / "noexpr" / "TFs+1000", 60, 1, real=True)
    (b / "scRNA-seq" / "noexpr" / "TFs+1000" / "ExpressionData.csv.gz").unlink()
    for i, (cells, rep) in enumerate([(100, 0), (100, 1), (50, 0)]):
        _write_set(b / "synthetic" / "dyn-TOY" / f"dyn-TOY_{cells}_{rep}", cells, 10 + i, real=False)
    for i, suffix in enumerate(["", "_50"]):
        _write_set(b / "curated" / "CUR" / f"CUR_100_0{suffix}", 100, 20 + i, real=False)
    return root


def test_available_datasets(tiny_root):
    table = scgrn.bench.available_datasets(tiny_root)
    assert table["dataset"].tolist() == [
        "cellx-500", "dyn-TOY_50_0", "dyn-TOY_100_0", "dyn-TOY_100_1", "CUR_100_0", "CUR_100_0_50"
    ]
    assert table.loc[0, "ground_truths"] == "STRING,lofgof"


def test_runner_tiny_folder(tiny_root):
    res = scgrn.bench.beeline(FAST, "all", data_dir=tiny_root, show_progress_bar=False)
    for col in ("dataset", "genes", "ground_truth", "method", "repeat", "EP", "EPR",
                "AUPRC_ratio", "AUROC", "seconds", "convention"):
        assert col in res.columns
    assert (res["status"] == "ok").all()
    real = res[res["kind"] == "scRNA-seq"]
    sim = res[res["kind"] != "scRNA-seq"]
    # real sets: every ground truth x both conventions; simulated: BEELINE convention only
    assert len(real) == len(FAST) * 2 * 2
    assert set(real["convention"]) == {"deepsem", "beeline"}
    assert set(sim["convention"]) == {"beeline"} and set(sim["ground_truth"]) == {"refNetwork"}
    assert len(sim) == len(FAST) * 5
    assert set(real["group"]) == {"cellx-500 | STRING", "cellx-500 | LOF/GOF"}
    assert set(sim["group"]) == {"dyn-TOY (100 cells)", "dyn-TOY (50 cells)", "CUR", "CUR (dropout 50)"}
    assert np.isfinite(res[["EPR", "AUPRC_ratio", "AUROC"]].to_numpy()).all()
    assert (res["seconds"] >= 0).all() and res["genes"].eq(8).all()
    # the planted networks are easy: every method beats random on average
    assert res.groupby("method")["AUROC"].mean().gt(0.6).all()
    assert res.attrs["scgrn_version"] == scgrn.__version__


def test_tfs_union_used_for_real_sets(tiny_root):
    from scgrn.bench._beeline import _all_datasets, _load

    d = next(x for x in _all_datasets(tiny_root) if x.kind == "scRNA-seq")
    adata, refs, tfs = _load(d, tiny_root, use_tfs=True)
    assert set(refs) == {"STRING", "lofgof"}
    expected = set(refs["STRING"]["source"]) | {adata.var_names[0]}
    assert set(tfs) == expected
    assert _load(d, tiny_root, use_tfs=False)[2] is None


def test_selectors_replicates_and_cells(tiny_root):
    sel = _beeline._select
    sets = _beeline._all_datasets(tiny_root)
    ids = lambda s: [d.id for d in s]  # noqa: E731
    assert ids(sel("real", sets, None, None)) == ["cellx-500"]
    assert ids(sel(["curated"], sets, None, None)) == ["CUR_100_0", "CUR_100_0_50"]
    assert ids(sel("TOY", sets, None, None)) == ["dyn-TOY_50_0", "dyn-TOY_100_0", "dyn-TOY_100_1"]
    assert ids(sel("dyn-TOY", sets, 1, None)) == ["dyn-TOY_50_0", "dyn-TOY_100_0"]
    assert ids(sel("synthetic", sets, None, 100)) == ["dyn-TOY_100_0", "dyn-TOY_100_1"]
    assert ids(sel(["dyn-TOY_100_1", "cellx-500"], sets, None, None)) == ["cellx-500", "dyn-TOY_100_1"]
    with pytest.raises(ValueError, match="Unknown dataset selector 'nope'"):
        sel("nope", sets, None, None)
    with pytest.raises(ValueError, match="n_replicates"):
        sel("all", sets, 0, None)


def test_runner_options_and_errors(tiny_root, monkeypatch):
    with pytest.raises(ValueError, match="Unknown method"):
        scgrn.bench.beeline(["pearson", "aracne"], data_dir=tiny_root)
    with pytest.raises(ValueError, match="methods_kwargs"):
        scgrn.bench.beeline(["pearson"], data_dir=tiny_root, methods_kwargs={"pidc": {}})
    monkeypatch.setattr(_beeline, "_peer_available", lambda name: False)
    res = scgrn.bench.beeline(
        ["pidc", "dazzle"], "dyn-TOY_100_0", data_dir=tiny_root, n_repeats=2, random_state=5,
        methods_kwargs={"pidc": {"n_bins": 3}}, show_progress_bar=False,
    )
    assert set(res["method"]) == {"pidc"}  # the missing peer is skipped
    assert res["repeat"].tolist() == [0, 1] and res["seed"].tolist() == [5, 6]
    assert json.loads(res["params"].iloc[0]) == {"n_bins": 3}

    def boom(name, *args, **kwargs):
        raise RuntimeError("kaput")

    monkeypatch.setattr(_beeline, "_run_scgrn", boom)
    with pytest.raises(RuntimeError, match="kaput"):
        scgrn.bench.beeline(["pearson"], "dyn-TOY_100_0", data_dir=tiny_root,
                            show_progress_bar=False)
    res = scgrn.bench.beeline(["pearson"], "dyn-TOY_100_0", data_dir=tiny_root, errors="warn",
                              show_progress_bar=False)
    assert res["status"].iloc[0].startswith("error: RuntimeError: kaput")
    assert res["EPR"].isna().all()


def test_peer_adapter_masks_rows(monkeypatch):
    adata, _ = scgrn.datasets.planted_network(n_genes=10, n_cells=50, n_regulators=2,
                                              targets_per_regulator=2)
    monkeypatch.setitem(_beeline._PEER_RUNNERS, "regdiffusion",
                        ("numpy", lambda x, seed, kw: np.ones((x.shape[1], x.shape[1]))))
    W = _beeline._run_peer("regdiffusion", adata, list(adata.var_names[:2]), 0, {})
    assert W.dtype == np.float32 and np.all(W[2:] == 0) and np.all(np.diag(W) == 0)
    assert W[0, 1] == 1


# ----------------------------------------------------------------------------------------
# plots
# ----------------------------------------------------------------------------------------
def _toy_results() -> pd.DataFrame:
    rows = []
    for d, vals in (("a", (2.0, 0.5, 1.5)), ("b", (1.2, 3.0, np.nan))):
        for m, v in zip(("x", "y", "z"), vals):
            rows.append({"dataset": d, "method": m, "convention": "beeline", "EPR": v,
                         "AUROC": 0.4 + 0.1 * (v if np.isfinite(v) else 0), "status": "ok"})
    return pd.DataFrame(rows)


def test_benchmark_heatmap_layout_and_marks():
    res = _toy_results()
    fig, ax = plt.subplots()
    with pytest.warns(UserWarning, match=r"NaN in 1 of the 6 row\(s\).*'b / z'"):  # b / z has no value
        out = scgrn.pl.benchmark_heatmap(res, metric="EPR", ax=ax, show=False)
    assert out is ax
    img = ax.images[0].get_array()
    assert img.shape[:2] == (2, 3)  # datasets x methods
    assert tuple(img[0, 1]) == pytest.approx(to_rgba("#d9d9d9"))  # EPR 0.5 < 1: grey
    assert tuple(img[1, 2]) == pytest.approx(to_rgba("white"))  # missing value
    # per-row min-max colour: row maxima share the top colour although their values differ
    assert tuple(img[0, 0]) == pytest.approx(tuple(img[1, 1]))
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(["2.00", "0.50", "1.50", "1.20", "3.00"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    plt.close(fig)
    fig = scgrn.pl.benchmark_heatmap(res, metric="AUROC", return_fig=True)
    assert isinstance(fig, matplotlib.figure.Figure)
    plt.close(fig)
    with pytest.raises(ValueError, match="convention='deepsem'"):
        scgrn.pl.benchmark_heatmap(res, convention="deepsem")
    with pytest.raises(ValueError, match="metric"):
        scgrn.pl.benchmark_heatmap(res, metric="F1")
    with pytest.raises(ValueError, match="no column 'AUPRC_ratio'"):
        scgrn.pl.benchmark_heatmap(res, metric="AUPRC_ratio")


def test_benchmark_box():
    res = _toy_results()
    with pytest.warns(UserWarning, match=r"NaN in 1 of the 6 row\(s\)"):
        ax = scgrn.pl.benchmark_box(res, metric="EPR", show=False)
    assert ax.get_ylabel() == "EPR"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 5  # one point per dataset
    assert any(line.get_ydata()[0] == 1.0 for line in ax.get_lines())  # random level
    plt.close(ax.figure)
    fig = scgrn.pl.benchmark_box(res, metric="AUROC", return_fig=True)
    assert isinstance(fig, matplotlib.figure.Figure)
    plt.close(fig)


def test_plots_on_runner_output(tiny_root):
    res = scgrn.bench.beeline(["pearson", "pidc"], "all", data_dir=tiny_root,
                              show_progress_bar=False)
    for conv in ("beeline", "deepsem"):
        fig = scgrn.pl.benchmark_heatmap(res, metric="AUPRC_ratio", convention=conv, return_fig=True)
        assert isinstance(fig, matplotlib.figure.Figure)
        plt.close(fig)
    ax = scgrn.pl.benchmark_heatmap(res, kinds="synthetic", show=False)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["dyn-TOY (50 cells)", "dyn-TOY (100 cells)"]
    plt.close(ax.figure)


# ----------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------
def test_cli_bench_beeline(tiny_root, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["bench", "beeline", "--methods", "pearson", "grnboost2", "--datasets", "real",
               "curated", "--data-dir", str(tiny_root), "--out", str(out), "--quiet",
               "--n-cells", "--n-jobs", "1"])
    assert rc == 0
    table = pd.read_csv(out / "beeline_results.csv")
    assert set(table["method"]) == {"pearson", "grnboost2"}
    assert set(table["dataset"]) == {"cellx-500", "CUR_100_0", "CUR_100_0_50"}
    for name in ("heatmap_EPR_beeline.png", "box_EPR_beeline.png", "heatmap_EPR_deepsem.png",
                 "summary.csv", "run_info.json"):
        assert (out / name).is_file(), name
    info = json.loads((out / "run_info.json").read_text())
    assert info["command"].startswith("scgrn bench beeline --methods pearson grnboost2")
    assert "Wrote beeline_results.csv" in capsys.readouterr().out


def test_named_sets_are_kept_by_the_filters(tiny_root):
    """A set named by its folder name is run whatever n_cells / n_replicates say (the CLI's
    default --n-cells 2000 dropped every 500-cell set named on the command line)."""
    sel = _beeline._select
    sets = _beeline._all_datasets(tiny_root)
    ids = lambda s: [d.id for d in s]  # noqa: E731
    assert ids(sel("dyn-TOY_50_0", sets, None, 2000)) == ["dyn-TOY_50_0"]
    assert ids(sel(["dyn-TOY_100_0", "dyn-TOY_100_1"], sets, 1, [100])) == ["dyn-TOY_100_0", "dyn-TOY_100_1"]
    assert ids(sel(["synthetic", "dyn-TOY_50_0"], sets, None, 100)) == [
        "dyn-TOY_50_0", "dyn-TOY_100_0", "dyn-TOY_100_1"]
    res = scgrn.bench.beeline(["pearson"], "dyn-TOY_50_0", data_dir=tiny_root, n_cells=2000, show_progress_bar=False)
    assert set(res["dataset"]) == {"dyn-TOY_50_0"}


@pytest.mark.parametrize(
    "datasets, n_cells, match",
    [
        ("dyn-TOY", 7, r"selector 'dyn-TOY' matches 3 set\(s\), but n_cells=\[7\] removes them all: they have \[50, 100\] cells"),
        (["synthetic"], [7, 8], r"datasets=\['synthetic'\] matches 3 set\(s\), but n_cells=\[7, 8\] removes them all"),
        ("all", -5, r"^n_cells must be an integer >= 1, got -5"),
        ("all", [100, 0], r"^n_cells must be an integer >= 1, got 0"),
        ("all", [], r"^n_cells is empty"),
    ],
    ids=["family_emptied", "kind_emptied", "negative", "zero_in_list", "empty"],
)
def test_n_cells_filter_says_what_it_removed(tiny_root, datasets, n_cells, match):
    with pytest.raises(ValueError, match=match):
        _beeline._select(datasets, _beeline._all_datasets(tiny_root), None, n_cells)
    with pytest.raises(ValueError, match=match):
        scgrn.bench.beeline(["pearson"], datasets, data_dir=tiny_root, n_cells=n_cells, show_progress_bar=False)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--n-replicates", "-3"], "--n-replicates must be >= 0 (0 = every replicate), got -3"),
        (["--n-cells", "-5"], "--n-cells values must be >= 1, got -5"),
        (["--out", "FILE"], "is a file; give a folder"),
        (["--n-repeats", "0"], "--n-repeats must be >= 1, got 0"),
        (["--n-jobs", "0"], "--n-jobs must be a non-zero number"),
        (["--seed", "-1"], "--seed must be >= 0, got -1"),
        (["--datasets", "nosuchset"], "Unknown dataset selector 'nosuchset'"),
        (["--methods", "aracne"], "Unknown method(s) ['aracne']"),
        (["--datasets", "dyn-TOY", "--n-cells", "7"], "n_cells=[7] removes them all: they have [50, 100] cells"),
    ],
    ids=["n_replicates", "n_cells", "out_file", "n_repeats", "n_jobs", "seed", "dataset", "method", "n_cells_empties"],
)
def test_cli_bench_beeline_usage_errors(tiny_root, tmp_path, capsys, argv, message):
    (tmp_path / "f.txt").write_text("x")
    argv = [str(tmp_path / "f.txt") if a == "FILE" else a for a in argv]
    base = ["bench", "beeline", "--methods", "pearson", "--data-dir", str(tiny_root), "--out", str(tmp_path / "o"), "--quiet"]
    with pytest.raises(SystemExit) as exit_info:
        main(base + argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_bench_beeline_runs_a_named_set_of_other_size(tiny_root, tmp_path):
    out = tmp_path / "out"
    assert main(["bench", "beeline", "--methods", "pearson", "--datasets", "dyn-TOY_50_0", "--data-dir",
                 str(tiny_root), "--out", str(out), "--quiet"]) == 0  # the default --n-cells is 2000
    assert set(pd.read_csv(out / "beeline_results.csv")["dataset"]) == {"dyn-TOY_50_0"}


@pytest.mark.realdata
def test_shared_data_discovery(shared_data_dir):
    table = scgrn.bench.available_datasets()
    real = table[table["kind"] == "scRNA-seq"]
    assert set(real["dataset"]) == {"mESC-500", "mHSC-L-500", "mHSC-L-1000"}
    assert real.set_index("dataset").loc["mESC-500", "ground_truths"].count(",") == 3
    sets = _beeline._select("all", _beeline._all_datasets(None), 1, 2000)
    assert len([d for d in sets if d.kind == "synthetic"]) == 6
    assert len([d for d in sets if d.kind == "curated"]) == 12
