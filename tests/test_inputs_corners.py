"""Corners: an all-NaN benchmark metric, an empty regulator set, a judge that returns its GRN, the matrix of
``models.train_deepsem``, a training set without the layer, a layout callable's result, NaN in an embedding,
Series matched by label, a fraction of 0.

Input checks found by the eleventh adversarial run (issue 18, "twelfth pass"; rows in docs/bad_inputs.md).
One section per finding; each test fails on the behaviour that was found (an empty plot without a word, a
``ZeroDivisionError``, a bare ``KeyError``, a wrong diagnosis or a silent run, a message naming the wrong
AnnData, Python's or scikit-learn's own error) and passes with the fix in the shared checks
(``scgrn._validate``, ``scgrn._params``) or in the one function concerned. The module is self-contained:
its fixtures are defined here.
"""

from __future__ import annotations

import re
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import scgrn
from scgrn._params import ParameterTypeError
from scgrn.models import make_config, train_deepsem

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TINY_DEEPSEM = {"n_models": 1, "n_epochs": 1, "hidden_dim": 4}


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


# ---------------------------------------------------------------------------------------------------------
# S1: pl.benchmark_box / benchmark_heatmap with a metric that is NaN in every ok row drew an empty plot
# ---------------------------------------------------------------------------------------------------------
def _bench_table(nan_where=lambda m, d, r: True) -> pd.DataFrame:
    rows = [{"method": m, "dataset": d, "replicate": r, "EPR": np.nan if nan_where(m, d, r) else 1.5,
             "AUROC": 0.6, "status": "ok"}
            for m in ("pearson", "deepsem") for d in ("hESC", "mESC") for r in range(2)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("plot", [scgrn.pl.benchmark_box, scgrn.pl.benchmark_heatmap], ids=["box", "heatmap"])
def test_benchmark_plot_refuses_a_metric_nan_in_every_row(plot):
    with pytest.raises(ValueError, match=r"^No values left to plot: results\['EPR'\] is NaN in every one of the 8 "
                                         r"row\(s\).*metric='AUROC'"):
        plot(_bench_table(), metric="EPR", convention=None, show=False)


def test_benchmark_plot_warns_naming_the_rows_of_a_partly_nan_metric():
    table = _bench_table(lambda m, d, r: m == "deepsem" and (d == "mESC" or r == 0))
    with pytest.warns(UserWarning, match=r"is NaN in 3 of the 8 row\(s\).*'hESC / deepsem', 'mESC / deepsem'.*median"):
        ax = scgrn.pl.benchmark_heatmap(table, metric="EPR", convention=None, show=False)
    assert sorted(t.get_text() for t in ax.texts) == ["1.50"] * 3  # mESC / deepsem is blank
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scgrn.pl.benchmark_box(table, metric="AUROC", convention=None, show=False)  # no NaN: no warning


# ---------------------------------------------------------------------------------------------------------
# U1: metrics.top_edge_overlap with an empty regulator set: ZeroDivisionError
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("regulators", [np.array([], dtype=int), [], np.zeros(6, bool)], ids=["array", "list", "mask"])
def test_top_edge_overlap_refuses_an_empty_regulator_set(regulators):
    m = np.random.default_rng(0).random((6, 6))
    with pytest.raises(ValueError, match=r"^regulators selects no gene \(0 of 6.*regulators=None for every gene"):
        scgrn.metrics.top_edge_overlap(m, m, top=(0.5,), regulators=regulators)


def test_grn_consistency_refuses_tfs_outside_the_genes_before_judging(krumsiek200):
    calls = []

    def judge(adata, *, tfs=None, key_added=None):
        calls.append(1)
        adata.varp[key_added] = np.zeros((adata.n_vars, adata.n_vars))

    for tfs in (["nope"], ["Gata1", "nope"]):  # a missing TF was read as position -1, the last gene
        with pytest.raises(ValueError, match=r"TFs are not in adata.var_names: 'nope'"):
            scgrn.metrics.grn_consistency(krumsiek200, krumsiek200, method=judge, tfs=tfs, top=(0.1,))
    assert not calls


# ---------------------------------------------------------------------------------------------------------
# U2: metrics.grn_consistency(method=<function>) that returns its GRN: bare KeyError '_consistency_judge'
# ---------------------------------------------------------------------------------------------------------
def _corr(adata):
    return np.corrcoef(np.asarray(adata.X).T)


@pytest.mark.parametrize("kind", ["array", "reversed frame", "sparse", "anndata"])
def test_grn_consistency_takes_a_returned_grn(krumsiek200, kind):
    def judge(adata, *, tfs=None, key_added=None):
        if kind == "array":
            return _corr(adata)
        if kind == "sparse":
            return sparse.csr_matrix(_corr(adata))
        if kind == "anndata":
            return scgrn.tl.correlation(adata, tfs=tfs, key_added=key_added, copy=True)
        g = adata.var_names
        return pd.DataFrame(_corr(adata), index=g, columns=g).iloc[::-1, ::-1]  # read by label

    def writer(adata, *, tfs=None, key_added=None):
        adata.varp[key_added] = _corr(adata)

    real, sim = krumsiek200, krumsiek200[:150].copy()
    got = scgrn.metrics.grn_consistency(real, sim, method=judge, top=(0.1, 0.3))
    want = scgrn.metrics.grn_consistency(real, sim, method=writer, top=(0.1, 0.3))
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize(
    "returns, match",
    [
        (lambda a: None, r"returned None\. A judge function must write"),
        (lambda a: _corr(a)[:3], r"returned ndarray of shape \(3, 11\)\. A judge function must write"),
        (lambda a: scgrn.tl.correlation(a), r"returned None; it wrote adata.varp\['pearson'\] instead \(pass key_added"),
    ],
    ids=["none", "wrong shape", "other key"],
)
def test_grn_consistency_says_what_a_judge_must_do(krumsiek200, returns, match):
    def judge(adata, *, tfs=None, key_added=None):
        return returns(adata)

    with pytest.raises(ValueError, match=r"^method=judge wrote nothing to adata.varp\['_consistency_judge'\] and " + match):
        scgrn.metrics.grn_consistency(krumsiek200, krumsiek200, method=judge, top=(0.1,))


# ---------------------------------------------------------------------------------------------------------
# U3: models.train_deepsem did not check its matrix
# ---------------------------------------------------------------------------------------------------------
def _x():
    return np.random.default_rng(0).normal(size=(30, 5)).astype(np.float32)


def _with_nan(where):
    x = _x()
    x[where] = np.nan
    return x


@pytest.mark.parametrize(
    "x, match",
    [
        (_x()[:, 0], r"^x must be a 2-D cells x genes matrix .*got shape \(30,\)"),
        (_with_nan((slice(None), 0)), r"^x contains 30 NaN or infinite value\(s\), in 1 gene\(s\) \(e.g. column 0\)\. Remove or impute"),
        (_with_nan((0, 3)), r"^x contains 1 NaN or infinite value\(s\), in 1 gene\(s\) \(e.g. column 3\)"),
        (sparse.csr_matrix(_with_nan((2, 1))), r"^x contains 1 NaN or infinite value\(s\)"),
        (_x()[:1], r"^x has 1 cell\(s\) \(rows\) and 5 gene\(s\).*at least 2 cells and 2 genes"),
        (_x()[:, :1], r"^x has 30 cell\(s\) \(rows\) and 1 gene\(s\)"),
        (_x().astype(complex), r"^x has dtype complex128"),
    ],
    ids=["1-D", "NaN column", "one NaN", "sparse NaN", "one cell", "one gene", "complex"],
)
def test_train_deepsem_checks_its_matrix(x, match):
    with pytest.raises(ValueError, match=match):  # before any step (one step let a NaN through)
        train_deepsem(x, make_config(**TINY_DEEPSEM), show_progress_bar=False)


def test_train_deepsem_reads_a_given_summary_without_a_second_pass(monkeypatch):
    from scgrn import _validate
    from scgrn._matrix import summarise_columns

    x = sparse.csr_matrix(np.abs(_x()))
    summary = summarise_columns(x)
    monkeypatch.setattr(_validate, "summarise_columns", lambda *a, **k: pytest.fail("x was read again"))
    model, _ = train_deepsem(x, make_config(**TINY_DEEPSEM), summary=summary, show_progress_bar=False)
    assert model.grn().shape == (1, 5, 5)


# ---------------------------------------------------------------------------------------------------------
# U4: tl.pair_classifier(layer=) named adata when a training AnnData lacked the layer
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("as_list", [True, False], ids=["list", "one pair"])
def test_pair_classifier_names_the_training_set_without_the_layer(as_list):
    a, ref = scgrn.datasets.planted_time_series(n_genes=6, n_series=3, n_times=5, random_state=0)
    b, _ = scgrn.datasets.planted_time_series(n_genes=6, n_series=3, n_times=5, random_state=1)
    b.layers["log"] = b.X.copy()
    train = [(b, ref), (a, ref)] if as_list else (a, ref)  # the second pair's AnnData, or the one pair's
    name = "train[1][0]" if as_list else "train[0]"
    with pytest.raises(ValueError, match=rf"^layer='log' is not in {re.escape(name)}\.layers \(available layers: none\)\. "
                                         rf"The layer is read in every AnnData given: add it to {re.escape(name)}"):
        scgrn.tl.pair_classifier(b, train=train, arch="cnn", layer="log", n_epochs=1, n_models=1,
                                 show_progress_bar=False)


def test_layer_reader_names_adata_by_default():
    a, _ = scgrn.datasets.planted_time_series(n_genes=6, n_series=3, n_times=5, random_state=0)
    with pytest.raises(ValueError, match=r"^layer='log' is not in adata\.layers .*layer=None to use adata\.X\.$"):
        scgrn.tl.time_lagged_correlation(a, layer="log")


# ---------------------------------------------------------------------------------------------------------
# U5: pl.grn(layout=<callable>) returning a list: Python's "list indices must be integers"
# ---------------------------------------------------------------------------------------------------------
def test_grn_layout_callable_must_return_a_mapping(krumsiek200):
    with pytest.raises(ParameterTypeError, match=r"^layout\(graph\) returned a list of length \d+; it must return a "
                                                 r"mapping \{gene: \(x, y\)\}"):
        scgrn.pl.grn(krumsiek200, key="pearson", layout=lambda g: [(0.0, 0.0)] * g.number_of_nodes(), top_k=5, show=False)


@pytest.mark.parametrize(
    "layout, match",
    [
        (lambda g: {n: (0.0, 0.0) for n in list(g)[1:]}, r"^The mapping layout\(graph\) returned has no position for"),
        (lambda g: {n: (0.0, np.nan) for n in g}, r"^The mapping layout\(graph\) returned gives '.+' the position \(0\.0, nan\)"),
        (lambda g: {n: "xy" for n in g}, r"the position 'xy'; a position is two finite numbers"),
    ],
    ids=["missing", "nan", "text"],
)
def test_grn_layout_callable_result_is_checked_as_a_mapping(krumsiek200, layout, match):
    with pytest.raises(ValueError, match=match):
        scgrn.pl.grn(krumsiek200, key="pearson", layout=layout, top_k=5, show=False)


def test_grn_layout_callable_mapping_still_draws(krumsiek200):
    import networkx as nx

    ax = scgrn.pl.grn(krumsiek200, key="pearson", layout=nx.circular_layout, top_k=5, show=False)
    assert len(ax.texts) >= 2


# ---------------------------------------------------------------------------------------------------------
# U6: bench.score_embedding(adata, x) with NaN in x: scikit-learn's "Input X contains NaN"
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e300], ids=["nan", "inf", "beyond float32"])
def test_score_embedding_refuses_nonfinite_x(krumsiek200, bad):
    krumsiek200.obs["label"] = krumsiek200.obs["cell_type"]
    x = np.asarray(krumsiek200.X, dtype=np.float64).copy()
    x[4, 0] = x[7, 2] = bad
    name = krumsiek200.obs_names[4]
    with pytest.raises(ValueError, match=rf"^x has 2 NaN or infinite value\(s\), in 2 cell\(s\): '{re.escape(name)}' "
                                         r"\(row 4\).*adata\[keep\]"):
        scgrn.bench.score_embedding(krumsiek200, x, n_pcs=5, n_neighbors=5)


# ---------------------------------------------------------------------------------------------------------
# Borderline notes: Series in other label orders (read by position); bench.augmentation(fractions=(0.0,))
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("metric", [scgrn.metrics.auroc, scgrn.metrics.auprc, scgrn.metrics.early_precision])
def test_ranking_metrics_match_two_series_by_label(metric):
    y = pd.Series([1, 0, 1, 0], index=list("abcd"))
    s = pd.Series([0.9, 0.8, 0.7, 0.1], index=list("abcd"))
    assert metric(y, s.iloc[::-1]) == metric(y, s)  # by position, AUROC was 0.25 instead of 0.75
    with pytest.raises(ValueError, match=r"^y_true and scores are pandas Series with different labels: 1 of y_true's"):
        metric(y, s.rename(index={"a": "z"}))


def test_ranking_series_positional_reads_stay_for_arrays():
    y = pd.Series([1, 0, 1, 0], index=list("abcd"))
    assert scgrn.metrics.auroc(y, np.array([0.1, 0.7, 0.8, 0.9])) == pytest.approx(0.25)


@pytest.mark.parametrize(
    "fractions, error, match",
    [
        ((0.0,), ValueError, r"^fractions\[0\] is 0, which would keep none of the target's training cells"),
        ((0.5, 0), ValueError, r"^fractions\[1\] is 0"),
        ((1.5,), ValueError, r"^fractions\[0\] must be a finite number in \(0, 1\], got 1\.5"),
        ((), ValueError, r"^fractions is empty"),
        (0.1, ParameterTypeError, r"^fractions must be a sequence of fractions in \(0, 1\], got 0\.1 \(float\)"),
    ],
    ids=["zero", "second zero", "above 1", "empty", "one number"],
)
def test_augmentation_checks_fractions_before_the_data(krumsiek200, fractions, error, match):
    with pytest.raises(error, match=match):
        scgrn.bench.augmentation(krumsiek200, groupby="cell_type", target="Mk", fractions=fractions, arms=("none",))
