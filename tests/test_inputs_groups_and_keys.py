"""Groups and keys: group labels, per-group errors, keys that are (not) overwritten, stale embeddings.

Input checks from the adversarial runs (issue 18): see _inputs_helpers.py for how to read them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scanpy as sc

import scgrn
from scgrn._validate import obs_groups

from _inputs_helpers import FAST_DEEPSEM, _small, closes_figures

pytestmark = closes_figures


# ---------------------------------------------------------------------------------------------
# group labels that print the same are refused; mixed types sort by text
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("categorical", [True, False])
def test_labels_written_the_same_are_refused(adata, categorical):
    labels = np.array([1, "1"], dtype=object)[np.arange(adata.n_obs) % 2]
    adata.obs["g"] = pd.Categorical(labels) if categorical else labels
    with pytest.raises(ValueError, match=r"written the same \(1 \(int\) and '1' \(str\)\)"):
        scgrn.tl.correlation(adata, groupby="g")
    assert "pearson" not in adata.uns and not list(adata.varp)


def test_mixed_type_labels_sort_by_text(adata):
    adata.obs["g"] = np.array([1, "y", "x"], dtype=object)[np.arange(adata.n_obs) % 3]
    scgrn.tl.correlation(adata, groupby="g")
    assert list(adata.uns["pearson"]["groups"]) == ["1", "x", "y"]
    assert sorted(adata.varp) == ["pearson_1", "pearson_x", "pearson_y"]
    _, cells = obs_groups(adata, "g")
    assert sum(len(c) for c in cells) == adata.n_obs


# ---------------------------------------------------------------------------------------------
# per-group errors name the group and the cause
# ---------------------------------------------------------------------------------------------
def test_group_whose_tfs_are_all_constant_is_named(adata):
    adata.X = np.clip(adata.X, 0, None)
    adata.X[(adata.obs["cell_type"] == "Ery").to_numpy(), adata.var_names.get_loc("Gata1")] = 0
    with pytest.raises(ValueError, match=r"group 'Ery'.*every TF given \('Gata1'\) is constant"):
        scgrn.tl.deepsem(adata, tfs=["Gata1"], groupby="cell_type", **FAST_DEEPSEM)


@pytest.mark.parametrize("tool", [scgrn.tl.correlation, scgrn.tl.pidc])
def test_group_whose_genes_are_all_constant_is_named(adata, tool):
    adata.obs["g"] = np.where(np.arange(adata.n_obs) < 20, "flat", "rest")
    adata.X[:20] = 1.0
    with pytest.raises(ValueError, match=r"group 'flat'.*\(20 cells\) every gene is constant"):
        tool(adata, groupby="g")
    assert not list(adata.varp)


# ---------------------------------------------------------------------------------------------
# key hygiene
# ---------------------------------------------------------------------------------------------
def test_grouped_run_does_not_overwrite_unrelated_result(adata):
    scgrn.tl.correlation(adata, key_added="x_Ery", method="spearman")
    before = adata.varp["x_Ery"].copy()
    with pytest.raises(ValueError, match=r"would write its networks to \['x_Ery'\].*key_added="):
        scgrn.tl.correlation(adata, key_added="x", groupby="cell_type")
    np.testing.assert_array_equal(adata.varp["x_Ery"], before)
    assert adata.uns["x_Ery"]["method"] == "spearman" and "x" not in adata.uns


def test_grouped_run_is_refused_before_training(adata, monkeypatch):
    adata.varp["deepsem_Ery"] = np.zeros((adata.n_vars,) * 2, dtype=np.float32)

    def fail(*args, **kwargs):
        raise AssertionError("trained before the key check")

    monkeypatch.setattr(scgrn.models.DeepSEM, "train", fail)
    with pytest.raises(ValueError, match="would write its networks to"):
        scgrn.tl.deepsem(adata, groupby="cell_type", **FAST_DEEPSEM)


def test_grouped_rerun_overwrites_its_own_keys(adata):
    scgrn.tl.correlation(adata, groupby="cell_type")
    scgrn.tl.correlation(adata, groupby="cell_type", method="pearson")
    adata.uns.pop("pearson")  # an index lost (e.g. an older run): the records still name the run
    scgrn.tl.correlation(adata, groupby="cell_type")
    assert len(adata.uns["pearson"]["keys"]) == 5


def test_ungrouped_run_removes_the_grouped_runs_keys(adata):
    scgrn.tl.correlation(adata, groupby="cell_type")
    scgrn.tl.correlation(adata)
    assert list(adata.varp) == ["pearson"]
    assert not [k for k in adata.uns if k.startswith("pearson_")]
    assert "groupby" not in adata.uns["pearson"]


# ---------------------------------------------------------------------------------------------
# grouped histories and stale embeddings (third run)
# ---------------------------------------------------------------------------------------------
def test_training_history_of_a_grouped_run(adata):
    a = _small(adata, 200)
    scgrn.tl.deepsem(a, groupby="cell_type", max_steps=2, **FAST_DEEPSEM)
    groups = list(a.uns["deepsem"]["groups"])
    with pytest.raises(KeyError, match=rf"index of a groupby='cell_type' run.*group= one of '{groups[0]}'.*key='deepsem_{groups[0]}'"):
        scgrn.pl.training_history(a, show=False)
    axes = scgrn.pl.training_history(a, group=groups[0], show=False)
    ref = scgrn.pl.training_history(a, key=f"deepsem_{groups[0]}", show=False)
    assert [x.get_title() for x in axes] == [x.get_title() for x in ref]
    with pytest.raises(KeyError, match="No group 'nope'"):
        scgrn.pl.training_history(a, group="nope", show=False)
    b = _small(adata)
    scgrn.tl.deepsem(b, max_steps=2, **FAST_DEEPSEM)
    with pytest.raises(ValueError, match="not the index of per-group networks"):
        scgrn.pl.training_history(b, group="Ery", show=False)


@pytest.mark.parametrize(
    "first, second, kept_obsm",
    [
        (lambda a: scgrn.tl.deepsem(a, key_added="grn", max_steps=2, **FAST_DEEPSEM),
         lambda a: scgrn.tl.correlation(a, key_added="grn"), []),
        (lambda a: scgrn.tl.deepsem(a, max_steps=2, **FAST_DEEPSEM),
         lambda a: scgrn.tl.deepsem(a, groupby="cell_type", max_steps=2, **FAST_DEEPSEM), []),
        (lambda a: scgrn.tl.deepsem(a, max_steps=2, **FAST_DEEPSEM),
         lambda a: scgrn.tl.correlation(a, groupby="cell_type", key_added="deepsem"), []),
        # guards: a rerun that writes an embedding keeps (rewrites) it; another key is untouched
        (lambda a: scgrn.tl.deepsem(a, max_steps=2, **FAST_DEEPSEM),
         lambda a: scgrn.tl.deepsem(a, max_steps=2, **FAST_DEEPSEM), ["X_deepsem"]),
        (lambda a: scgrn.tl.deepsem(a, max_steps=2, **FAST_DEEPSEM),
         lambda a: scgrn.tl.correlation(a), ["X_deepsem"]),
    ],
    ids=["correlation_over_deepsem", "grouped_over_ungrouped", "grouped_correlation_over_deepsem", "deepsem_again", "other_key"],
)
def test_rewriting_a_key_removes_the_earlier_runs_embedding(adata, first, second, kept_obsm):
    a = _small(adata, 200)
    first(a)
    second(a)
    assert sorted(a.obsm) == kept_obsm


def test_a_foreign_key_keeps_its_embedding(adata):
    """uns['mine'] written by someone else is not an scgrn record: a run with key_added='mine'
    leaves obsm['X_mine']. (scanpy's own keys, such as 'pca', are refused outright.)"""
    a = _small(adata)
    a.uns["mine"] = {"params": {"n_comps": 3}}
    a.obsm["X_mine"] = np.zeros((a.n_obs, 3))
    scgrn.tl.correlation(a, key_added="mine")
    assert "X_mine" in a.obsm


# ---------------------------------------------------------------------------------------------
# scanpy's own keys are not written (fourth run)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["umap", "pca", "neighbors", "tsne"])
def test_key_added_refuses_scanpy_keys(key):
    from scgrn._params import check_key

    with pytest.raises(ValueError, match="scanpy's own tools"):
        check_key("key_added", key)
    assert check_key("key_added", key, allow_scanpy_keys=True) == key  # leiden_matched's labels
    assert check_key("key", key) == key  # reading a key is not writing it


def test_grn_tool_with_scanpy_key_writes_nothing():
    adata, _ = scgrn.datasets.krumsiek11()
    sc.pp.pca(adata, n_comps=5)
    before = adata.obsm["X_pca"].copy()
    with pytest.raises(ValueError, match="key_added='scgrn_pca'"):
        scgrn.tl.correlation(adata, key_added="pca")
    np.testing.assert_array_equal(adata.obsm["X_pca"], before)
    assert "pca" not in adata.varp
