"""TF lists: one-shot iterators, DataFrames and nested lists, messages that name the likely cause.

Input checks from the adversarial runs (issue 18): see _inputs_helpers.py for how to read them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scgrn

from _inputs_helpers import FAST_DEEPSEM


# ---------------------------------------------------------------------------------------------
# tfs as a one-shot iterator
# ---------------------------------------------------------------------------------------------
TFS = ["Gata1", "Pu.1"]


@pytest.mark.parametrize(
    "tool",
    [
        lambda a, tfs: scgrn.tl.correlation(a, tfs=tfs, copy=True).varp["pearson"],
        lambda a, tfs: scgrn.tl.partial_correlation(a, tfs=tfs, copy=True).varp["partial_correlation"],
        lambda a, tfs: scgrn.tl.pidc(a, tfs=tfs, copy=True, show_progress_bar=False).varp["pidc"],
        lambda a, tfs: scgrn.tl.genie3(a, tfs=tfs, copy=True, n_estimators=5, show_progress_bar=False).varp["genie3"],
        lambda a, tfs: scgrn.tl.deepsem(a, tfs=tfs, copy=True, **FAST_DEEPSEM).varp["deepsem"],
        lambda a, tfs: scgrn.tl.correlation(a, tfs=tfs, groupby="cell_type", copy=True).varp["pearson_Ery"],
        lambda a, tfs: scgrn.pp.select_genes(a, tfs=tfs, n_top=3, copy=True).var["scgrn_selected"].to_numpy(),
        lambda a, tfs: scgrn.metrics.grn_consistency(a[:200], a[200:400], method="pearson", tfs=tfs)["consistency"].to_numpy(),
    ],
    ids=["correlation", "partial_correlation", "pidc", "genie3", "deepsem", "grouped", "select_genes", "grn_consistency"],
)
def test_tfs_generator_is_read_once(adata, tool):
    expected = tool(adata.copy(), list(TFS))
    got = tool(adata.copy(), (g for g in TFS))
    np.testing.assert_array_equal(got, expected)


def test_dyngenie3_tfs_generator(adata):
    ts, _ = scgrn.datasets.planted_time_series(n_genes=6, n_series=3, n_times=5)
    kw = {"n_estimators": 5, "show_progress_bar": False, "copy": True}
    expected = scgrn.tl.dyngenie3(ts, tfs=["g0", "g1"], **kw).varp["dyngenie3"]
    got = scgrn.tl.dyngenie3(ts, tfs=iter(["g0", "g1"]), **kw).varp["dyngenie3"]
    np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------------------------------------
# recorded TFs that are gone, an empty TF list (second run)
# ---------------------------------------------------------------------------------------------
def test_edges_when_the_recorded_tfs_are_gone(adata):
    scgrn.tl.correlation(adata, tfs=["Gata1"])
    b = adata[:, [g for g in adata.var_names if g != "Gata1"]].copy()
    with pytest.raises(ValueError, match=r"recorded by the run in adata.uns\['pearson'\]\['tfs'\] \('Gata1'\).*tfs_only=False"):
        scgrn.get.edges(b, key="pearson")
    assert list(scgrn.get.edges(b, key="pearson", tfs_only=False).columns) == ["source", "target", "weight"]


def test_to_prediction_with_an_empty_tf_list(adata):
    scgrn.tl.correlation(adata, tfs=["Gata1"])
    with pytest.raises(ValueError, match=r"^tfs is empty.*tfs=None"):
        scgrn.get.to_prediction(adata, key="pearson", tfs=[])
    b = adata[:, [g for g in adata.var_names if g != "Gata1"]].copy()
    with pytest.raises(ValueError, match=r"recorded by the run in adata.uns\['pearson'\]\['tfs'\].*Pass tfs="):
        scgrn.get.to_prediction(b, key="pearson")


# ---------------------------------------------------------------------------------------------
# TF-list types and messages (third and fifth runs)
# ---------------------------------------------------------------------------------------------
def test_tfs_as_a_dataframe_is_refused(adata):
    from scgrn._validate import TFsTypeError

    tfs = pd.DataFrame({"TF": ["Gata1", "Pu.1"]})
    for call in (
        lambda: scgrn.tl.correlation(adata, tfs=tfs),
        lambda: scgrn.tl.correlation(adata, tfs=tfs, groupby="cell_type"),
        lambda: scgrn.pp.select_genes(adata, tfs=tfs),
    ):
        with pytest.raises(TFsTypeError, match=r"not a DataFrame.*column names.*tfs=df\['TF'\]"):
            call()
    scgrn.tl.correlation(adata, tfs=tfs["TF"])  # the column is fine
    assert adata.uns["pearson"]["tfs"] == ["Gata1", "Pu.1"]


@pytest.mark.parametrize(
    "genes, tfs, match, no_filter",
    [
        (["Gata1.2", "Pu.1.1", "Fog1.3"], ["Gata1"], r"version suffixes \('Gata1' -> 'Gata1.2'\).*full.get\(t, t\).*str.replace", True),
        (["Gata1.2", "Pu.1", "Fog1"], ["Gata1", "Fog1"], r"Fix: `tfs = \[t for t in tfs.*version suffixes \('Gata1' -> 'Gata1.2'\)", False),
        (["Gata1", "Pu.1", "Fog1"], ["GATA1"], r"None of them.*capitalisation \('GATA1' -> 'Gata1'\)", True),
        (["Gata1", "Pu.1", "Fog1"], ["ENSG1"], r"None of them is in adata.var_names: check.*Ensembl.*'Gata1', 'Pu.1', 'Fog1'", True),
        (["A", "B", "C"], ["A", "X"], r"1 of 2 TFs.*'X'.*Fix: `tfs = \[t for t in tfs if t in adata.var_names\]`", False),
    ],
    ids=["suffix_none_found", "suffix_some_found", "case_none_found", "unknown_none_found", "plain_some_found"],
)
def test_tf_messages_name_the_likely_cause(genes, tfs, match, no_filter):
    from scgrn._validate import check_tfs

    with pytest.raises(ValueError, match=match) as err:
        check_tfs(tfs, pd.Index(genes))
    # the filter is only suggested when it leaves some TFs (it would empty the list otherwise)
    assert ("t for t in tfs if t in adata.var_names" in str(err.value)) is not no_filter


@pytest.mark.parametrize(
    "tfs, match",
    [
        (np.array([["Gata1", "Pu.1"]]), r"^tfs must be 1-D .*got shape \(1, 2\); use `tfs.ravel\(\)`"),
        ([["Gata1", "Pu.1"]], r"^tfs must be a flat list of gene names, but one entry is a list"),
    ],
    ids=["2d_array", "nested_list"],
)
def test_tfs_must_be_one_dimensional(adata, tfs, match):
    from scgrn._validate import TFsTypeError

    with pytest.raises(TFsTypeError, match=match):
        scgrn.tl.correlation(adata, tfs=tfs)
    scgrn.tl.correlation(adata, tfs=np.asarray(tfs).ravel())


@pytest.mark.parametrize(
    "genes, tfs, match",
    [
        (["g0", "g1", "g12 "], ["g12"], r"None of them.*whitespace \('g12' -> 'g12 '\).*`adata.var_names = adata.var_names.str.strip\(\)`"),
        (["Gata1", "Pu.1"], ["Gata1 ", "Pu.1"], r"1 of 2.*whitespace \('Gata1 ' -> 'Gata1'\).*`tfs = \[t.strip\(\) for t in tfs\]`"),
    ],
    ids=["gene_has_space", "tf_has_space"],
)
def test_tf_message_names_surrounding_whitespace(genes, tfs, match):
    from scgrn._validate import check_tfs

    with pytest.raises(ValueError, match=match):
        check_tfs(tfs, pd.Index(genes))
