"""Arguments: flags, settings, seeds, axes and numbers get package errors that name them.

Input checks from the adversarial runs (issue 18): see _inputs_helpers.py for how to read them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scgrn
from scgrn._params import ParameterTypeError

from _inputs_helpers import FAST_DEEPSEM, _perturbed, closes_figures

pytestmark = closes_figures


# ---------------------------------------------------------------------------------------------
# flags are True/False (None where documented), never truthy strings or 0/1
# ---------------------------------------------------------------------------------------------
def _grn(adata):
    scgrn.tl.correlation(adata, tfs=["Gata1", "Pu.1"])
    return adata


def _grouped(adata):
    scgrn.tl.correlation(adata, groupby="cell_type")
    return adata


BAD_FLAGS = {
    "edges_tfs_only": ("tfs_only", lambda a, v: scgrn.get.edges(_grn(a), key="pearson", tfs_only=v)),
    "edge_differences_tfs_only": (
        "tfs_only",
        lambda a, v: scgrn.get.edge_differences(_grouped(a), key="pearson", groups=("Ery", "Mk"), tfs_only=v),
    ),
    "deepsem_bar": ("show_progress_bar", lambda a, v: scgrn.tl.deepsem(a, n_models=2, n_epochs=2, show_progress_bar=v)),
    "deepsem_grouped_bar": (
        "show_progress_bar",
        lambda a, v: scgrn.tl.deepsem(a, n_models=2, n_epochs=2, groupby="cell_type", show_progress_bar=v),
    ),
    "grnboost2_bar": ("show_progress_bar", lambda a, v: scgrn.tl.grnboost2(a, n_estimators=5, show_progress_bar=v)),
    "genie3_bar": ("show_progress_bar", lambda a, v: scgrn.tl.genie3(a, n_estimators=5, show_progress_bar=v)),
    "pidc_bar": ("show_progress_bar", lambda a, v: scgrn.tl.pidc(a, show_progress_bar=v)),
    "simulate_bar": ("show_progress_bar", lambda a, v: scgrn.tl.simulate(a, n_models=1, n_epochs=1, show_progress_bar=v)),
    "perturb_bar": (
        "show_progress_bar",
        lambda a, v: scgrn.tl.perturb(a, perturbations={"Gata1": 0.0}, n_models=1, n_epochs=1, show_progress_bar=v),
    ),
    "perturbode_bar": ("show_progress_bar", lambda a, v: scgrn.tl.perturbode(a, show_progress_bar=v)),
    "dyngenie3_bar": ("show_progress_bar", lambda a, v: scgrn.tl.dyngenie3(a, show_progress_bar=v)),
    "pair_classifier_bar": ("show_progress_bar", lambda a, v: scgrn.tl.pair_classifier(a, train=[], show_progress_bar=v)),
    "history_log": ("log", lambda a, v: scgrn.pl.training_history({"loss": np.arange(1.0, 4.0)}, log=v, show=False)),
    "grn_show": ("show", lambda a, v: scgrn.pl.grn(_grn(a), key="pearson", show=v)),
    "grn_return_fig": ("return_fig", lambda a, v: scgrn.pl.grn(_grn(a), key="pearson", return_fig=v, show=False)),
    "perturbation_include": (
        "include_perturbed",
        lambda a, v: scgrn.pl.perturbation(_perturbed(a), kind="bar", include_perturbed=v, show=False),
    ),
    "early_precision_ties": ("include_ties", lambda a, v: scgrn.metrics.early_precision([1, 0], [0.9, 0.1], include_ties=v)),
    "select_genes_subset": ("subset", lambda a, v: scgrn.pp.select_genes(a, tfs=["Gata1"], subset=v)),
}


@pytest.mark.parametrize("value", ["no", 1, "True"])
@pytest.mark.parametrize("case", list(BAD_FLAGS))
def test_flags_refuse_non_bools(adata, case, value):
    name, call = BAD_FLAGS[case]
    with pytest.raises(ParameterTypeError, match=rf"^{name} must be True(,| or) False"):
        call(adata, value)
    assert not [k for k in adata.varp if not k.startswith("pearson")]


@pytest.mark.parametrize("value", ["no", 1])
@pytest.mark.parametrize(
    "call",
    [
        lambda a, v: scgrn.models.DeepSEM(a, tfs=["Gata1"], tf_rows_only=v),
        lambda a, v: scgrn.tl.deepsem(a, embedding=v, **FAST_DEEPSEM),
        lambda a, v: scgrn.tl.partial_correlation(a, shrinkage=v),
    ],
    ids=["tf_rows_only", "embedding", "shrinkage"],
)
def test_flags_or_auto_refuse_other_values(adata, call, value):
    """``True``, ``False`` or ``"auto"``: ``1`` is not ``True`` here either."""
    with pytest.raises(ValueError, match=r"must be one of \['auto', True, False\]"):
        call(adata, value)


def test_flags_accept_numpy_bools_and_none(adata):
    scgrn.tl.correlation(adata)
    adata.uns["pearson"]["tfs"] = ["Gata1", "Pu.1"]
    assert set(scgrn.get.edges(adata, key="pearson", tfs_only=np.False_)["source"]) > {"Gata1", "Pu.1"}
    assert set(scgrn.get.edges(adata, key="pearson", tfs_only=None)["source"]) == {"Gata1", "Pu.1"}
    assert set(scgrn.get.edges(adata, key="pearson", tfs_only=np.True_)["source"]) == {"Gata1", "Pu.1"}
    scgrn.tl.pidc(adata, show_progress_bar=np.False_)


def test_settings_show_progress_bar_is_checked_when_set():
    before = scgrn.settings.show_progress_bar
    with pytest.raises(ParameterTypeError, match=r"scgrn.settings.show_progress_bar must be True or False.*'no'"):
        scgrn.settings.show_progress_bar = "no"
    assert scgrn.settings.show_progress_bar is before
    scgrn.settings.show_progress_bar = np.False_
    try:
        assert scgrn.settings.show_progress_bar is False
    finally:
        scgrn.settings.show_progress_bar = before


# ---------------------------------------------------------------------------------------------
# scgrn.settings.n_threads is gone, with a message
# ---------------------------------------------------------------------------------------------
def test_settings_n_threads_is_removed_with_a_message():
    with pytest.raises(AttributeError, match="n_threads was removed.*OMP_NUM_THREADS"):
        scgrn.settings.n_threads = 2
    with pytest.raises(AttributeError, match="n_threads was removed"):
        scgrn.settings.n_threads  # noqa: B018
    with pytest.raises(AttributeError, match="no setting 'shwo_progress_bar'"):
        scgrn.settings.shwo_progress_bar = False


# ---------------------------------------------------------------------------------------------
# package errors instead of raw ones
# ---------------------------------------------------------------------------------------------
RAW_ERRORS = {
    "pl_grn_consistency_table": (ValueError, r"no column\(s\) \['top', 'consistency'\]", lambda a, t: scgrn.pl.grn_consistency(pd.DataFrame({"x": [1]}), show=False)),
    "pl_grn_consistency_type": (TypeError, "must be a DataFrame", lambda a, t: scgrn.pl.grn_consistency({"s": [1, 2]}, show=False)),
    "top_edge_overlap_names": (
        ParameterTypeError,
        "regulators must be integer row positions.*gene names",
        lambda a, t: scgrn.metrics.top_edge_overlap(np.eye(3), np.eye(3), regulators=np.array(["Gata1"])),
    ),
    "top_edge_overlap_range": (
        ValueError, "outside the 3 genes", lambda a, t: scgrn.metrics.top_edge_overlap(np.eye(3), np.eye(3), regulators=[5]),
    ),
    "random_baseline_seed": (
        ParameterTypeError, "^random_state must be an integer seed",
        lambda a, t: scgrn.metrics.random_baseline(t, a.var_names, random_state="x"),
    ),
    "realism_seed": (
        ParameterTypeError, "^random_state must be",
        lambda a, t: scgrn.metrics.realism_auc(a.X, a.X, random_state=1.5),
    ),
    "sinkhorn_seed": (ParameterTypeError, "^random_state must be", lambda a, t: scgrn.metrics.sinkhorn_w2(a.X, a.X, random_state="0")),
    "pl_grn_seed": (ParameterTypeError, "^random_state must be", lambda a, t: scgrn.pl.grn(_grn(a), key="pearson", random_state="x", show=False)),
    "pl_simulation_seed": (ParameterTypeError, "^random_state must be", lambda a, t: scgrn.pl.simulation(a, a, random_state="x", show=False)),
    "realism_n_folds": (ValueError, r"^n_folds must be an integer >= 2, got 1", lambda a, t: scgrn.metrics.realism_auc(a.X, a.X, n_folds=1)),
    "realism_log1p": (ValueError, r"^log1p must be one of", lambda a, t: scgrn.metrics.realism_auc(a.X, a.X, log1p=1)),
    "pl_grn_ax": (ParameterTypeError, r"^ax must be a matplotlib Axes or None, got 'left'", lambda a, t: scgrn.pl.grn(_grn(a), key="pearson", ax="left")),
    "pl_history_ax": (ParameterTypeError, r"^ax must be", lambda a, t: scgrn.pl.training_history({"loss": [1.0, 2.0]}, ax=["x"])),
    "pl_box_ax": (
        ParameterTypeError, r"^ax must be",
        lambda a, t: scgrn.pl.benchmark_box(pd.DataFrame({"method": ["m"], "dataset": ["d"], "AUROC": [0.5]}), metric="AUROC", convention=None, ax=1),
    ),
}


@pytest.mark.parametrize("case", list(RAW_ERRORS))
def test_errors_name_the_argument(krumsiek, case):
    a, truth = krumsiek
    kind, match, call = RAW_ERRORS[case]
    with pytest.raises(kind, match=match):
        call(a, truth)


def test_tf_activity_refuses_unknown_kwargs(adata):
    pytest.importorskip("decoupler")
    _grn(adata)
    with pytest.raises(TypeError, match=r"\['foo'\] that decoupler.mt.ulm does not take; its options are \[.*'bsize'"):
        scgrn.tl.tf_activity(adata, key="pearson", n_targets=5, tmin=3, foo=1)
    assert "tf_activity" not in adata.obsm


# ---------------------------------------------------------------------------------------------
# the demo command line (fourth run)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["--n-models", "0"], "--n-models must be >= 1"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--out", "FILE"], "is a file"),
])
def test_demo_cli_usage_errors(argv, message, tmp_path, capsys):
    from scgrn.__main__ import main

    (tmp_path / "f.txt").write_text("x")
    argv = [str(tmp_path / "f.txt") if a == "FILE" else a for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# numeric arguments of the metrics (fifth run)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, kind, match",
    [
        ({"n_iter": -5}, ValueError, r"^n_iter must be an integer >= 1, got -5"),
        ({"n_iter": 0}, ValueError, r"^n_iter must be an integer >= 1"),
        ({"n_iter": 2.0}, ParameterTypeError, r"^n_iter must be an integer"),
        ({"epsilon": np.nan}, ValueError, r"^epsilon must be a finite number > 0, got nan"),
        ({"epsilon": 0}, ValueError, r"^epsilon must be a finite number > 0"),
        ({"epsilon": "0.1"}, ParameterTypeError, r"^epsilon must be"),
        ({"max_cells": 0}, ValueError, r"^max_cells must be an integer >= 2 or None, got 0"),
        ({"max_cells": -1}, ValueError, r"^max_cells must be an integer >= 2"),
        ({"max_cells": 2.5}, ParameterTypeError, r"^max_cells must be an integer >= 2 or None, got 2.5"),
    ],
    ids=["n_iter_negative", "n_iter_0", "n_iter_float", "epsilon_nan", "epsilon_0", "epsilon_text",
         "max_cells_0", "max_cells_negative", "max_cells_float"],
)
def test_sinkhorn_checks_its_arguments(kwargs, kind, match):
    x = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(kind, match=match):
        scgrn.metrics.sinkhorn_w2(x, x + 1, **kwargs)


@pytest.mark.parametrize(
    "top, kind, match",
    [
        ((), ValueError, r"^top is empty"),
        (0.1, ParameterTypeError, r"^top must be a sequence of fractions.*top=\(0.1,\)"),
        ((0.1, 1.5), ValueError, r"^top\[1\] must be a finite number in \(0, 1\], got 1.5"),
    ],
    ids=["empty", "number", "out_of_range"],
)
def test_top_edge_overlap_checks_top(top, kind, match):
    w = np.random.default_rng(0).random((4, 4))
    with pytest.raises(kind, match=match):
        scgrn.metrics.top_edge_overlap(w, w, top=top)
