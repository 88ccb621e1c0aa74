"""Gene names: matched by name, var_names types and order, duplicates, cells and genes swapped.

Input checks from the adversarial runs (issue 18): see _inputs_helpers.py for how to read them.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import scgrn
from scgrn._params import ParameterTypeError

from _inputs_helpers import FAST_DEEPSEM, _small, closes_figures

pytestmark = closes_figures


# ---------------------------------------------------------------------------------------------
# simulation metrics and plots match genes by name
# ---------------------------------------------------------------------------------------------
def test_realism_auc_matches_genes_by_name(adata):
    a = _small(adata)
    b = a[:, a.var_names[::-1]].copy()  # the same cells, genes in another order
    kw = {"n_pcs": 3, "n_trees": 5, "n_folds": 2}
    with pytest.warns(UserWarning, match="exact copies"):  # copies: see test_inputs_simulation.py::test_realism_auc_warns_on_copies
        assert scgrn.metrics.realism_auc(a, b, **kw) == scgrn.metrics.realism_auc(a, a.copy(), **kw)


def test_simulation_closeness_matches_genes_by_name(adata):
    a = _small(adata)
    b = a[:, a.var_names[::-1]].copy()
    with pytest.warns(UserWarning, match="heldout shares"):  # heldout=a is train: see test_inputs_workflows_more.py
        res = scgrn.metrics.simulation_closeness(a, b, a)
    assert res["identical_fraction"] == 1.0 and res["nn_simulated"] == 0.0


def test_grn_consistency_matches_genes_by_name(adata):
    a = _small(adata)
    b = a[:, a.var_names[::-1]].copy()
    res = scgrn.metrics.grn_consistency(a, b, method="pearson", top=(0.05, 0.2))
    assert res["consistency"].tolist() == [1.0, 1.0]


def _other_genes(a):
    b = a.copy()
    b.var_names = [f"x{i}" if i == 0 else g for i, g in enumerate(a.var_names)]
    return b


@pytest.mark.parametrize(
    "call",
    [
        lambda a, b: scgrn.metrics.realism_auc(a, b, n_pcs=3, n_trees=5),
        lambda a, b: scgrn.metrics.simulation_closeness(a, b, a),
        lambda a, b: scgrn.metrics.simulation_closeness(a, a, b),
        lambda a, b: scgrn.metrics.grn_consistency(a, b, method="pearson"),
        lambda a, b: scgrn.pl.simulation(a, b, n_pcs=3, show=False),
        lambda a, b: scgrn.pl.simulation(a, {"sim": b}, n_pcs=3, show=False),
    ],
    ids=["realism_auc", "closeness_simulated", "closeness_heldout", "grn_consistency", "pl", "pl_dict"],
)
def test_different_genes_are_refused_naming_them(adata, call):
    a = _small(adata)
    with pytest.raises(ValueError, match=r"same genes.*'Gata2'.*'x0'"):
        call(a, _other_genes(a))


def test_pl_simulation_accepts_reordered_genes(adata):
    a = _small(adata)
    ax = scgrn.pl.simulation(a, a[:, a.var_names[::-1]].copy(), n_pcs=3, n_neighbors=5, show=False)
    assert ax.get_xlabel() == "UMAP1"


# ---------------------------------------------------------------------------------------------
# get.edges_from_matrix refuses duplicated names
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_edges_from_matrix_refuses_duplicated_names(fmt):
    W = np.arange(9.0).reshape(3, 3)
    W = sparse.csr_matrix(W) if fmt == "csr" else W
    with pytest.raises(ValueError, match=r"duplicated gene name\(s\) \('a'\)"):
        scgrn.get.edges_from_matrix(W, ["a", "a", "b"])


# ---------------------------------------------------------------------------------------------
# cells and genes swapped
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tool",
    [lambda a: scgrn.tl.correlation(a), lambda a: scgrn.tl.pidc(a, show_progress_bar=False), lambda a: scgrn.tl.deepsem(a, **FAST_DEEPSEM)],
    ids=["correlation", "pidc", "deepsem"],
)
def test_transposed_matrix_with_unnamed_genes_is_refused(adata, tool):
    b = adata.T.copy()  # 11 'cells' (the genes) x 640 'genes' named '0', ..., '0-1', ...
    with pytest.raises(ValueError, match=r"var_names are row numbers.*look like gene symbols.*adata = adata.T"):
        tool(b)
    assert not list(b.varp)


def _named(n_obs, n_vars, obs, var):
    X = np.random.default_rng(0).gamma(2.0, 1.0, size=(n_obs, n_vars)).astype(np.float32)
    return ad.AnnData(X, obs=pd.DataFrame(index=obs), var=pd.DataFrame(index=var))


@pytest.mark.parametrize(
    "obs, var",
    [
        ([f"HSPC_{i:03d}" for i in range(12)], [str(i) for i in range(20)]),  # cells with underscores
        ([f"{r}{c}" for r in "AB" for c in range(1, 7)], [str(i) for i in range(20)]),  # plate wells
        ([f"HSC{i}" for i in range(12)], [str(i) for i in range(20)]),  # an enumeration
        (["Gata1", "Pu.1", "Fli1", "Klf1", "Spi1", "Cebpa", "Gfi1", "Ikzf1", "Tal1", "Runx1", "Myb", "Meis1"],
         [str(7157 + 13 * i) for i in range(20)]),  # numeric gene ids (Entrez) are not row numbers
    ],
    ids=["underscored_cells", "wells", "enumerated_cells", "entrez_genes"],
)
def test_orientation_heuristic_does_not_misfire(obs, var):
    a = _named(len(obs), len(var), obs, var)
    scgrn.tl.correlation(a)
    assert a.varp["pearson"].shape == (20, 20)


def test_read_beeline_folder_refuses_cells_in_rows(tmp_path):
    genes = [f"g{i}" for i in range(5)]
    x = np.random.default_rng(0).random((30, 5))
    pd.DataFrame(x, index=[f"cell{i}" for i in range(30)], columns=genes).to_csv(tmp_path / "ExpressionData.csv")
    pd.DataFrame({"Gene1": ["g0", "g1"], "Gene2": ["g1", "g2"]}).to_csv(tmp_path / "refNetwork.csv", index=False)
    with pytest.raises(ValueError, match=r"None of the 3 genes of refNetwork.csv is a row.*3 are among its columns.*transpose"):
        scgrn.datasets.read_beeline_folder(tmp_path)
    pd.DataFrame(x.T, index=genes, columns=[f"cell{i}" for i in range(30)]).to_csv(tmp_path / "ExpressionData.csv")
    adata, net = scgrn.datasets.read_beeline_folder(tmp_path)
    assert adata.shape == (30, 5) and len(net) == 2


# ---------------------------------------------------------------------------------------------
# get.edges_from_matrix reads a DataFrame by its labels (second run)
# ---------------------------------------------------------------------------------------------
def _labelled(order):
    W = pd.DataFrame(0.0, index=order, columns=order)
    W.loc["C", "B"] = 1.0  # C -> B
    W.loc["A", "C"] = -0.5  # A -| C
    return W


@pytest.mark.parametrize("order", [list("CBA"), list("BAC"), list("ABC")])
def test_edges_from_matrix_reads_dataframe_labels(order):
    got = scgrn.get.edges_from_matrix(_labelled(order), ["A", "B", "C"])
    assert got[["source", "target"]].values.tolist() == [["C", "B"], ["A", "C"]]
    assert got["weight"].tolist() == [1.0, -0.5]


def test_edges_from_matrix_agrees_with_evaluate_grn_on_a_dataframe():
    W = _labelled(list("CBA"))
    ref = pd.DataFrame({"source": ["C", "A"], "target": ["B", "B"]})
    via_edges = scgrn.get.edges_from_matrix(W, list("ABC"))
    direct = scgrn.metrics.evaluate_grn(W, ref)
    assert direct == scgrn.metrics.evaluate_grn(via_edges, ref, var_names=list("ABC"))
    assert direct["EP"] == 0.5  # C -> B found; read by position, A -> B would have been the top edge
    assert scgrn.metrics.evaluate_grn(W, ref, var_names=list("ABC")) == direct  # labels, in that order
    with pytest.raises(ValueError, match="does not match"):
        scgrn.metrics.evaluate_grn(W, ref, var_names=list("ABD"))


@pytest.mark.parametrize(
    "frame, match",
    [
        (_labelled(list("CBA")).set_axis(list("CBX"), axis=0), r"index \(rows\) does not match.*\('A'\).*\('X'\)"),
        (_labelled(list("CBA")).set_axis(list("CBX"), axis=1), r"columns does not match.*\('A'\).*\('X'\)"),
    ],
    ids=["index", "columns"],
)
def test_edges_from_matrix_refuses_dataframe_labels_that_differ(frame, match):
    with pytest.raises(ValueError, match=match + ".*read by its labels"):
        scgrn.get.edges_from_matrix(frame, ["A", "B", "C"])


def test_edges_from_matrix_reads_an_unlabelled_dataframe_by_position():
    W = np.zeros((3, 3))
    W[2, 1] = 1.0
    got = scgrn.get.edges_from_matrix(pd.DataFrame(W), ["A", "B", "C"])
    assert got[["source", "target"]].values.tolist() == [["C", "B"]]


def test_top_edge_overlap_matches_labelled_dataframes():
    w = np.random.default_rng(0).normal(size=(6, 6))
    genes = list("abcdef")
    a = pd.DataFrame(w, index=genes, columns=genes)
    b = a.loc[genes[::-1], genes[::-1]]
    assert scgrn.metrics.top_edge_overlap(a, b, top=(0.1, 0.3))["consistency"].tolist() == [1.0, 1.0]


# ---------------------------------------------------------------------------------------------
# var_names must be an ordered sequence (second run)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "names, kind",
    [(lambda g: (x for x in g), "generator.*read only once"), (lambda g: set(g), "set.*no fixed order"), (lambda g: iter(g), "iterator")],
    ids=["generator", "set", "iterator"],
)
@pytest.mark.parametrize(
    "call",
    [
        lambda a, t, names: scgrn.metrics.evaluate_grn(a.varp["pearson"], t, var_names=names),
        lambda a, t, names: scgrn.metrics.random_baseline(t, names, n_repeats=1),
        lambda a, t, names: scgrn.metrics.precision_recall_at_k(a.varp["pearson"], t, var_names=names),
        lambda a, t, names: scgrn.get.edges_from_matrix(a.varp["pearson"], names),
    ],
    ids=["evaluate_grn", "random_baseline", "precision_recall_at_k", "edges_from_matrix"],
)
def test_var_names_must_be_an_ordered_sequence(krumsiek, names, kind, call):
    a, truth = krumsiek
    scgrn.tl.correlation(a)
    with pytest.raises(ParameterTypeError, match=rf"^var_names must be an ordered sequence of gene names.*{kind}"):
        call(a, truth, names(list(a.var_names)))


# ---------------------------------------------------------------------------------------------
# categorical and non-string var_names (third run)
# ---------------------------------------------------------------------------------------------
def test_categorical_var_names_are_read_as_strings(adata):
    a = adata.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # anndata: "expects .var.index to contain strings"
        a.var = a.var.assign(sym=pd.Categorical(list(a.var_names))).set_index("sym")
    assert isinstance(a.var_names, pd.CategoricalIndex)
    scgrn.tl.correlation(a, tfs=["Gata1"])
    b = adata.copy()
    scgrn.tl.correlation(b, tfs=["Gata1"])
    pd.testing.assert_frame_equal(scgrn.get.edges(a, key="pearson"), scgrn.get.edges(b, key="pearson"))


@pytest.mark.parametrize(
    "names, match",
    [
        (pd.CategoricalIndex(["a", "b"]), None),
        (pd.CategoricalIndex([1, 2]), r"must be strings.*all 2 are not.*tfs=\['1', \.\.\.\]"),
        (pd.Index(["a", 3], dtype=object), r"1 of 2 are not.*tfs=\['3', \.\.\.\]"),
        (pd.Index([np.str_("a"), "b"]), None),
    ],
    ids=["categorical_str", "categorical_int", "mixed", "numpy_str"],
)
def test_check_var_names_never_indexes_an_empty_list(names, match):
    from scgrn._validate import check_var_names

    if match is None:
        assert check_var_names(names).tolist() == [str(n) for n in names]
    else:
        with pytest.raises(ValueError, match=match):
            check_var_names(names)
