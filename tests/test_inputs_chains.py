"""Chained outputs and wrong kinds: labelled score tables, counts into gene selection, an AnnData or an
edge table where a square GRN belongs, an output folder under a file, TF positions, one Axes for two panels.

Input checks found by the tenth adversarial run (issue 18, "eleventh pass"; rows in docs/bad_inputs.md).
One section per finding; each test fails on the behaviour that was found (a silently wrong AUROC, a missing
warning, a numpy error after seconds, a traceback, a message that blames the wrong cause) and passes with
the fix in the shared checks (``scgrn._grn_matrix``, ``scgrn._names``, ``scgrn._validate``) or in the one
function concerned. The module is self-contained: its fixtures are defined here.
"""

from __future__ import annotations

import re
import time
import warnings

import anndata as ad
import matplotlib
import numpy as np
import pandas as pd
import pytest
import scanpy as sc

import scgrn
from scgrn._names import TFsTypeError
from scgrn._params import ParameterTypeError

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

GENES = list("abcd")


@pytest.fixture
def counts():
    """Planted raw counts (``layers['counts']``) and their log-normalised X, with 10 TFs."""
    adata, _ = scgrn.datasets.planted_counts(n_genes=200, n_cells=300, n_tfs=10, random_state=0)
    return adata


def _auroc(truth, scores):
    rows = scgrn.bench.score_network(truth, scores, n_balanced_draws=2)
    return next(r["value"] for r in rows if r["setting"] == "all_pairs" and r["metric"] == "auroc")


# ---------------------------------------------------------------------------------------------
# S1: bench.score_network matches labelled DataFrames by their labels
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def labelled():
    truth = pd.DataFrame(np.eye(4, k=1), index=GENES, columns=GENES)  # a->b, b->c, c->d
    scores = pd.DataFrame(np.eye(4, k=1) + 0.01 * np.arange(16).reshape(4, 4) / 16, index=GENES, columns=GENES)
    return truth, scores


def test_score_network_reads_labelled_frames_by_label(labelled):
    truth, scores = labelled
    expected = scgrn.bench.score_network(truth.to_numpy(), scores.to_numpy(), n_balanced_draws=3)
    assert expected[0]["value"] == 1.0
    rows, cols = [2, 0, 3, 1], [3, 1, 0, 2]
    for reordered in (scores.iloc[::-1, ::-1], scores.iloc[rows, cols]):
        got = scgrn.bench.score_network(truth, reordered, n_balanced_draws=3)
        assert [r["value"] for r in got] == [r["value"] for r in expected]  # was an AUROC of 0.333
    # truth reordered too: both are put in truth's row order
    assert _auroc(truth.iloc[rows, cols], scores.iloc[::-1]) == 1.0


def test_score_network_refuses_labels_that_differ(labelled):
    truth, scores = labelled
    other = scores.rename(index={"d": "e"}, columns={"d": "e"})
    with pytest.raises(ValueError, match=r"The scores DataFrame's index \(rows\) does not match the labels of "
                                         r"truth's 4 rows: .*\('d'\).*\('e'\)"):
        scgrn.bench.score_network(truth, other)


def test_score_network_array_against_a_labelled_frame(labelled):
    truth, scores = labelled
    # a bare array is read by position, in the order of the labelled frame's rows (documented)
    assert _auroc(truth, scores.to_numpy()) == _auroc(truth.to_numpy(), scores) == 1.0
    # columns in another order than the rows: the array's column order cannot be known
    with pytest.raises(ValueError, match=r"truth is a DataFrame labelled by gene whose columns are not in the "
                                         r"order of its rows, and scores is an array.*truth.loc\[:, truth.index\]"):
        scgrn.bench.score_network(truth.iloc[:, ::-1], scores.to_numpy())


def test_score_network_refuses_an_anndata(krumsiek200):
    with pytest.raises(ParameterTypeError, match=r"truth is an AnnData; pass its network, `adata.varp\[key\]`"):
        scgrn.bench.score_network(krumsiek200, krumsiek200.varp["pearson"])


# ---------------------------------------------------------------------------------------------
# S2: pp.select_genes warns on raw counts and on normalised, not logged data
# ---------------------------------------------------------------------------------------------
def _messages(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [(str(w.message), w.filename) for w in caught if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize("scale, match", [
    ("counts", r"looks like raw counts \(non-negative integers, max \d+\).*sc.pp.log1p"),
    ("normalized", r"looks normalised but not log-transformed.*sc.pp.log1p"),
])
def test_select_genes_warns_on_unlogged_data_as_the_grn_tools(counts, scale, match):
    b = counts.copy()
    b.X = np.asarray(b.layers["counts"].toarray() if hasattr(b.layers["counts"], "toarray") else b.layers["counts"],
                     dtype=np.float32)
    if scale == "normalized":
        sc.pp.normalize_total(b, target_sum=1e4)
    tfs = list(b.var_names[b.var["is_tf"]])
    got = _messages(lambda: scgrn.pp.select_genes(b, tfs=tfs, n_top=30))
    tool = _messages(lambda: scgrn.tl.correlation(b.copy()))
    assert len(got) == 1 and re.search(match, got[0][0])  # was no warning
    assert got[0][0] == tool[0][0]  # the one shared message
    assert got[0][1] == __file__  # points at the caller
    assert _messages(lambda: scgrn.pp.select_genes(counts.copy(), tfs=tfs, n_top=30)) == []  # log data: silent


# ---------------------------------------------------------------------------------------------
# U1: an AnnData or a long edge table where a square GRN belongs
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda a: scgrn.metrics.top_edge_overlap(a, a),
    lambda a: scgrn.get.edges_from_matrix(a, a.var_names),
], ids=["top_edge_overlap", "edges_from_matrix"])
def test_grn_reader_names_an_anndata(krumsiek200, call):
    start = time.perf_counter()
    with pytest.raises(ParameterTypeError, match=r"The GRN matrix is an AnnData; pass its network, "
                                                 r"`adata.varp\[key\]` \(its varp keys: \['pearson'\]\)"):
        call(krumsiek200)
    assert time.perf_counter() - start < 1  # was numpy's "setting an array element" after 6 s


@pytest.mark.parametrize("call", [
    lambda e, a: scgrn.metrics.top_edge_overlap(e, e),
    lambda e, a: scgrn.get.edges_from_matrix(e, a.var_names),
], ids=["top_edge_overlap", "edges_from_matrix"])
def test_grn_reader_names_a_long_edge_table(krumsiek200, call):
    edges = scgrn.get.edges(krumsiek200, key="pearson")
    with pytest.raises(ParameterTypeError, match=r"is a long edge table .*as scgrn.get.edges returns.*"
                                                 r"frame.pivot\(index='source', columns='target', values='weight'\)"):
        call(edges, krumsiek200)


def test_the_suggested_pivot_gives_the_square_matrix(krumsiek200):
    genes = krumsiek200.var_names
    frame = scgrn.get.edges(krumsiek200, key="pearson")
    square = frame.pivot(index="source", columns="target", values="weight").reindex(index=genes, columns=genes).fillna(0)
    pd.testing.assert_frame_equal(scgrn.get.edges_from_matrix(square, genes), frame)


def test_square_frame_of_genes_named_source_and_target_is_still_square():
    g = ["source", "target", "c"]
    w = pd.DataFrame(np.arange(1.0, 10.0).reshape(3, 3), index=g, columns=g[::-1])  # read by its labels
    edges = scgrn.get.edges_from_matrix(w, g).set_index(["source", "target"])["weight"]
    assert edges[("source", "c")] == w.loc["source", "c"] == 1.0


# ---------------------------------------------------------------------------------------------
# U2: --out under a file is a usage error (demo and bench beeline)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["demo", "--n-models", "1", "--quiet"],
    ["bench", "beeline", "--methods", "pearson", "--quiet"],
], ids=["demo", "bench_beeline"])
def test_cli_out_under_a_file_is_a_usage_error(tmp_path, capsys, argv):
    from scgrn.__main__ import main

    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(afile / "sub" / "deeper")])
    assert exit_info.value.code == 2  # was NotADirectoryError, exit 1
    err = capsys.readouterr().err
    assert f"{str(afile)!r} is a file, not a folder, so no folder can be made under it" in err
    assert "Traceback" not in err
    assert afile.read_text() == "x"


def test_cli_out_new_nested_folder_passes_the_check(tmp_path):
    from scgrn._params import out_folder_problem

    assert out_folder_problem(str(tmp_path / "new" / "nested")) is None
    assert out_folder_problem(str(tmp_path)) is None


# ---------------------------------------------------------------------------------------------
# U3: tfs as integer positions
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tfs", [np.array([1, 7]), [1, 7], pd.Index([1, 7]), [np.int32(1), np.int64(7)]],
                         ids=["array", "list", "index", "numpy_scalars"])
@pytest.mark.parametrize("tool", [
    lambda a, t: scgrn.tl.correlation(a, tfs=t),
    lambda a, t: scgrn.pp.select_genes(a, tfs=t, n_top=3),
    lambda a, t: scgrn.tl.genie3(a, tfs=t, n_estimators=5, n_jobs=1),
], ids=["correlation", "select_genes", "genie3"])
def test_tfs_as_integer_positions_are_named_as_such(tfs, tool):
    a, _ = scgrn.datasets.krumsiek11()  # obs_names '0'..'639': the TF check once said 'transposed'
    a.X = a.X.clip(0)
    with pytest.raises(TFsTypeError, match=r"^tfs holds integer positions \(\[1, 7\]\); pass gene names, e.g. "
                                           r"tfs=adata.var_names\[\[1, 7\]\]") as err:
        tool(a, tfs)
    assert "transposed" not in str(err.value) and "Ensembl" not in str(err.value)
    assert "pearson" in scgrn.tl.correlation(a, tfs=a.var_names[[1, 7]], copy=True).varp  # the fix works


def test_integer_tfs_are_names_where_genes_are_named_by_numbers():
    a, _ = scgrn.datasets.krumsiek11()
    a = a[::3][:200].copy()
    a.var_names = [str(i + 1) for i in range(a.n_vars)]  # genes '1'..'11'
    by_int = scgrn.tl.correlation(a, tfs=np.array([1, 2]), copy=True).varp["pearson"]
    by_str = scgrn.tl.correlation(a, tfs=["1", "2"], copy=True).varp["pearson"]
    np.testing.assert_array_equal(by_int, by_str)


# ---------------------------------------------------------------------------------------------
# borderline: pl.perturbation(kind='auto') with one Axes names the fix
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def perturbed():
    p = ad.AnnData(np.random.default_rng(0).random((60, 5)).astype(np.float32))
    p.var_names = [f"g{i}" for i in range(5)]
    p.layers["delta"] = np.zeros(p.shape, dtype=np.float32)
    p.var["delta"] = 0.0
    p.obsm["X_pca"] = np.random.default_rng(1).normal(size=(60, 2))
    yield p
    plt.close("all")


def test_perturbation_one_axes_with_auto_names_the_fix(perturbed):
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"kind='auto' draws 2 panels here \(adata.obsm has 'X_pca'\), the bars "
                                         r"and the arrows, but ax has 1 Axes. For one Axes pass kind='bar' or "
                                         r"kind='arrows'; for both pass two Axes"):
        scgrn.pl.perturbation(perturbed, basis="pca", ax=ax, show=False)
    assert scgrn.pl.perturbation(perturbed, basis="pca", kind="bar", ax=ax, show=False) is ax
    _, axs = plt.subplots(1, 2)
    with pytest.raises(ValueError, match=r"kind='bar' draws 1 panel, but ax has 2 Axes. Pass one Axes"):
        scgrn.pl.perturbation(perturbed, basis="pca", kind="bar", ax=axs, show=False)
