"""More notebook workflows: held-out cells that are the training cells, an old scanpy neighbour
graph, the tool's training pairs given to the model class, and three small corners.

Input checks found by the twelfth adversarial run (issue 18, "thirteenth pass"; rows in
docs/bad_inputs.md). One section per finding; each test fails on the behaviour that was found (a
result without a warning, a bare ``KeyError``, numpy's "setting an array element with a
sequence", Python's "unexpected keyword argument") and passes with the fix in the shared helper or
the one function concerned. The module is self-contained: its fixtures are defined here.
"""

from __future__ import annotations

import importlib.metadata
import warnings

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData

import scgrn
from scgrn.metrics._realism import copy_fraction
from scgrn.models._pair_classifier_data import network_pairs


def _cells(n: int = 60, n_genes: int = 5, seed: int = 0) -> AnnData:
    """``n`` cells of non-negative log-like expression with named cells and genes."""
    x = np.abs(np.random.default_rng(seed).normal(1.0, 0.5, size=(n, n_genes)))
    return AnnData(x, obs=pd.DataFrame(index=[f"c{i}" for i in range(n)]),
                   var=pd.DataFrame(index=[f"g{i}" for i in range(n_genes)]))


# ---------------------------------------------------------------------------------------------
# S1: metrics.simulation_closeness warns when the held-out cells are training cells
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("heldout", [slice(None), slice(40, None)], ids=["all", "forgotten_split"])
def test_simulation_closeness_warns_when_heldout_is_train(heldout):
    adata, sim = _cells(), _cells(30, seed=1)
    n = len(adata[heldout])
    with pytest.warns(UserWarning, match=rf"heldout shares {n} of its {n} cells with train.*never saw.*adata\[n:\]"):
        res = scgrn.metrics.simulation_closeness(adata, sim, adata[heldout])
    assert res["heldout_identical_fraction"] == 1.0 and res["nn_heldout"] == 0.0
    assert np.isnan(res["ratio"])  # was inf, read as "no closer than real new cells"


def test_simulation_closeness_warns_on_an_overlap_but_not_on_a_split():
    adata, sim = _cells(), _cells(30, seed=1)
    with pytest.warns(UserWarning, match="heldout shares 10 of its 30 cells"):
        scgrn.metrics.simulation_closeness(adata[:40], sim, adata[30:])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = scgrn.metrics.simulation_closeness(adata[:40], sim, adata[40:])
    assert res["heldout_identical_fraction"] == 0.0 and np.isfinite(res["ratio"])


def test_simulation_closeness_allows_duplicates_the_data_carry():
    x = _cells(80).X
    x[::2] = 0.0  # half the cells all-zero, in training and held-out cells alike
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = scgrn.metrics.simulation_closeness(x[:60], _cells(30, seed=1).X, x[60:])
    assert res["heldout_identical_fraction"] == 0.5


def test_copy_fraction_is_the_shared_exact_copy_check():
    x = _cells(10).X
    assert copy_fraction(x, x[:4]) == 1.0 and copy_fraction(x[:4], x) == 0.4
    assert copy_fraction(x, x[:0]) == 0.0


# ---------------------------------------------------------------------------------------------
# U1: tl.leiden_matched reads a neighbour graph written by an older scanpy (pbmc68k_reduced)
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def with_graph():
    """Two clear groups of 30 cells with a neighbour graph stored as ``sc.pp.neighbors`` stores it."""
    from sklearn.neighbors import kneighbors_graph

    adata = _cells()
    adata.X[:30] += 3.0
    knn = kneighbors_graph(adata.X, 10, include_self=False)  # the graph sc.pp.neighbors would store
    adata.obsp["connectivities"] = ((knn + knn.T) > 0).astype(np.float32).tocsr()
    adata.obsp["distances"] = kneighbors_graph(adata.X, 10, mode="distance").tocsr()
    adata.uns["neighbors"] = {"connectivities_key": "connectivities", "distances_key": "distances",
                              "params": {"n_neighbors": 10, "method": "umap"}}
    return adata


def test_leiden_matched_reads_an_old_scanpy_neighbors_entry(with_graph):
    expected = scgrn.tl.leiden_matched(with_graph, n_clusters=2, copy=True).obs["leiden_matched"]
    old = with_graph.copy()
    old.uns["neighbors"] = {"params": dict(old.uns["neighbors"]["params"])}  # as in pbmc68k_reduced
    for kw in ({}, {"neighbors_key": "neighbors"}):  # was KeyError: 'connectivities_key'
        got = scgrn.tl.leiden_matched(old, n_clusters=2, copy=True, **kw).obs["leiden_matched"]
        assert got.tolist() == expected.tolist()


def test_leiden_matched_names_a_missing_graph(with_graph):
    del with_graph.obsp["connectivities"]
    with pytest.raises(KeyError, match=r"neighbors_key='neighbors'.*obsp\['connectivities'\].*sc.pp.neighbors\(adata\)"):
        scgrn.tl.leiden_matched(with_graph, n_clusters=2, neighbors_key="neighbors")
    with pytest.raises(KeyError, match=r"No neighbour graph 'other'.*key_added='other'"):
        scgrn.tl.leiden_matched(with_graph, n_clusters=2, neighbors_key="other")
    assert "leiden_matched" not in with_graph.obs


# ---------------------------------------------------------------------------------------------
# U2: models.PairClassifier.train given tl.pair_classifier's (AnnData, reference) pairs
# ---------------------------------------------------------------------------------------------
def test_pair_classifier_train_names_anndata_pairs():
    adata, ref = scgrn.datasets.planted_time_series(n_genes=8, n_series=2, n_times=5, random_state=0)
    model = scgrn.models.PairClassifier("cnn", n_epochs=1, n_models=1)
    with pytest.raises(TypeError, match=r"networks\[0\] holds \(AnnData, DataFrame\); PairClassifier.train takes "
                                        r"\(x, adjacency\) arrays.*scgrn.tl.pair_classifier\(adata, train="):
        model.train([(adata, ref)], show_progress_bar=False)  # was numpy's "setting an array element"
    with pytest.raises(TypeError, match=r"networks\[1\] holds an AnnData.*tl.pair_classifier"):
        model.train([(np.zeros((1, 5, 3)), np.eye(3, dtype=bool)), adata], show_progress_bar=False)
    with pytest.raises(TypeError, match=r"networks\[0\] holds 3 items"):
        network_pairs([(1, 2, 3)])
    assert model.module is None


def test_pair_classifier_pairs_still_take_arrays_and_square_frames():
    x, a = np.zeros((1, 5, 3)), np.eye(3, dtype=bool)
    frame = pd.DataFrame(a, index=list("abc"), columns=list("abc"))  # a labelled adjacency
    assert len(network_pairs((x, frame))) == 1 and len(network_pairs([(x, a), (x, a)])) == 2


# ---------------------------------------------------------------------------------------------
# Minor: a judge keyword the method does not take; an all-tied score matrix; scgrn --version
# ---------------------------------------------------------------------------------------------
def test_grn_consistency_names_a_keyword_the_judge_does_not_take():
    x = _cells(20).X
    with pytest.raises(TypeError, match=r"GRN method 'pearson' \(scgrn.tl.correlation\) does not take the keyword "
                                        r"argument\(s\) \['n_estimators'\]; its keywords are \[.*'tfs'\]"):
        scgrn.metrics.grn_consistency(x, x, method="pearson", n_estimators=5)


def test_score_network_warns_on_an_all_tied_score_matrix():
    truth = np.zeros((5, 5), bool)
    truth[0, 1] = truth[2, 3] = True
    with pytest.warns(UserWarning, match="All 20 scores off the diagonal are the same.*ranks nothing.*aupr_trapezoid"):
        scgrn.bench.score_network(truth, np.zeros((5, 5)), n_balanced_draws=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scgrn.bench.score_network(truth, truth + 0.1 * np.eye(5), n_balanced_draws=1)


def test_cli_version(capsys):
    from scgrn.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])  # was a usage error, exit 2
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"scgrn {importlib.metadata.version('scgrn')}"
