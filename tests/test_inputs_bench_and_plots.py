"""scgrn.bench helpers, benchmark plots and pl.grn check their inputs.

Input checks from the adversarial runs (issue 18): see _inputs_helpers.py for how to read them.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import scgrn
from scgrn._params import ParameterTypeError

from _inputs_helpers import closes_figures

pytestmark = closes_figures


# ---------------------------------------------------------------------------------------------
# pl.grn
# ---------------------------------------------------------------------------------------------
def test_pl_grn_empty_genes(adata):
    scgrn.tl.correlation(adata)  # no TF list recorded
    with pytest.raises(ValueError, match="`genes` is empty"):
        scgrn.pl.grn(adata, key="pearson", genes=[], show=False)


@pytest.mark.parametrize(
    "kwargs, kind, match",
    [
        ({"node_size": -100}, ValueError, r"^node_size must be a finite number > 0, got -100"),
        ({"node_size": 0}, ValueError, r"^node_size must be a finite number > 0"),
        ({"node_size": np.nan}, ValueError, r"^node_size must be a finite number > 0, got nan"),
        ({"node_size": "big"}, ParameterTypeError, r"^node_size must be a finite number"),
        ({"font_size": 0}, ValueError, r"^font_size must be a finite number > 0"),
        ({"top_k": 0}, ValueError, r"^top_k must be an integer >= 1, got 0"),
    ],
    ids=["node_size_negative", "node_size_0", "node_size_nan", "node_size_text", "font_size_0", "top_k_0"],
)
def test_pl_grn_checks_its_numbers(adata, kwargs, kind, match):
    scgrn.tl.correlation(adata)
    with pytest.raises(kind, match=match):
        scgrn.pl.grn(adata, key="pearson", show=False, **kwargs)


# ---------------------------------------------------------------------------------------------
# scgrn.bench helpers (fifth run)
# ---------------------------------------------------------------------------------------------
BENCH_ERRORS = {
    "dream_aupr_nan": (lambda: scgrn.bench.dream_aupr([1, 0, 1, 0], [np.nan, 0.1, 0.5, 0.2]), r"^scores has 1 NaN or infinite"),
    "dream_aupr_inf": (lambda: scgrn.bench.dream_aupr([1, 0, 1, 0], [np.inf, 0.1, 0.5, 0.2]), r"^scores has 1 NaN or infinite"),
    "score_network_shape": (
        lambda: scgrn.bench.score_network(np.eye(4, k=1, dtype=bool), np.ones((3, 3))),
        r"^scores must have the shape of truth, \(4, 4\).*got \(3, 3\)",
    ),
    "score_network_truth": (lambda: scgrn.bench.score_network(np.ones(4, bool), np.ones(4)), r"^truth must be a square"),
    "score_network_nan": (
        lambda: scgrn.bench.score_network(np.eye(4, k=1, dtype=bool), np.where(np.eye(4, k=2) > 0, np.nan, 0.5)),
        r"^scores has 2 NaN or infinite",
    ),
    "summarise_clustering_status": (
        lambda: scgrn.bench.summarise_clustering(pd.DataFrame({"dataset": ["d"], "method": ["pca"], "ARI": [0.5],
                                                               "NMI": [0.5], "seconds": [1.0]})),
        r"^table has no column\(s\) \['status'\]",
    ),
    "summarise_clustering_metric": (
        lambda: scgrn.bench.summarise_clustering(pd.DataFrame({"dataset": ["d"], "method": ["pca"], "status": ["ok"]}),
                                                 metrics=["ARI"]),
        r"^table has no column\(s\) \['ARI'\]",
    ),
    "score_embedding_rows": (
        lambda: scgrn.bench.score_embedding(ad.AnnData(np.zeros((20, 2)), obs=pd.DataFrame({"label": ["a"] * 20},
                                                       index=[str(i) for i in range(20)])), np.zeros((5, 3))),
        r"^x must be a cells x dimensions representation with one row per cell of adata \(20 cells\), got shape \(5, 3\)",
    ),
}


@pytest.mark.parametrize("case", list(BENCH_ERRORS))
def test_bench_helpers_check_their_inputs(case):
    call, match = BENCH_ERRORS[case]
    with pytest.raises(ValueError, match=match):
        call()


def test_score_network_ignores_the_diagonal():
    truth = np.eye(4, k=1, dtype=bool)
    scores = truth + np.arange(16).reshape(4, 4) / 100
    rows = scgrn.bench.score_network(truth, scores, n_balanced_draws=2)
    np.fill_diagonal(scores, np.nan)  # self-loops are not scored, so a NaN there is fine
    assert scgrn.bench.score_network(truth, scores, n_balanced_draws=2) == rows


# ---------------------------------------------------------------------------------------------
# benchmark plots (sixth run)
# ---------------------------------------------------------------------------------------------
BENCH_TABLE = pd.DataFrame({"method": ["a", "b", "a", "b"], "dataset": ["x", "x", "y", "y"], "EPR": [1.5, 2.0, 0.5, 3.0]})


@pytest.mark.parametrize("plot", [scgrn.pl.benchmark_heatmap, scgrn.pl.benchmark_box], ids=["heatmap", "box"])
def test_benchmark_plots_refuse_kinds_they_cannot_apply(plot):
    """kinds= was silently ignored on a table without a 'kind' column (every row drawn)."""
    with pytest.raises(ValueError, match=r"^kinds='synthetic' filters on the column 'kind', but results has none \(columns: \['method', 'dataset', 'EPR'\]\).*kinds=None"):
        plot(BENCH_TABLE, kinds="synthetic", convention=None, show=False)
    df = BENCH_TABLE.assign(kind=["synthetic", "synthetic", "curated", "curated"])
    with pytest.raises(ValueError, match=r"^kinds=\['synthetic', 'nonsense'\] names \['nonsense'\], which is not in results\['kind'\]; the kinds there are \['curated', 'synthetic'\]"):
        plot(df, kinds=["synthetic", "nonsense"], convention=None, show=False)
    with pytest.raises(ParameterTypeError, match=r"^kinds must be a dataset kind"):
        plot(df, kinds=3, convention=None, show=False)
    fig = plot(df, kinds="synthetic", convention=None, return_fig=True)  # a valid filter still works
    assert fig is not None


@pytest.mark.parametrize(
    "plot, kwargs, kind, match",
    [
        (scgrn.pl.benchmark_heatmap, {"fmt": "{:d}"}, ValueError, r"^fmt='\{:d\}' cannot format the annotated values, which are floats .*fmt='\{:.2f\}'"),
        (scgrn.pl.benchmark_heatmap, {"fmt": "{0} {1}"}, ValueError, r"^fmt='\{0\} \{1\}' cannot format"),
        (scgrn.pl.benchmark_heatmap, {"fmt": 2}, ParameterTypeError, r"^fmt must be a format string"),
        (scgrn.pl.benchmark_heatmap, {"agg": "mode"}, ValueError, r"^agg must be one of \['median', 'mean', 'min', 'max'\], got 'mode'"),
        (scgrn.pl.benchmark_box, {"agg": "average"}, ValueError, r"^agg must be one of \['median', 'mean', 'min', 'max'\], got 'average'"),
    ],
    ids=["fmt_int_code", "fmt_two_fields", "fmt_not_text", "heatmap_agg", "box_agg"],
)
def test_benchmark_plots_check_fmt_and_agg(plot, kwargs, kind, match):
    with pytest.raises(kind, match=match):
        plot(BENCH_TABLE, convention=None, show=False, **kwargs)


def test_benchmark_heatmap_takes_every_documented_agg():
    for agg in ("median", "mean", "min", "max"):
        scgrn.pl.benchmark_heatmap(BENCH_TABLE, convention=None, agg=agg, fmt="{:.0f}", show=False)
