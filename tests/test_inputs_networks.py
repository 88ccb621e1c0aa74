"""Networks read back: non-finite weights, get.edges arguments, group indexes, edge_differences.

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

from _inputs_helpers import closes_figures

pytestmark = closes_figures


# ---------------------------------------------------------------------------------------------
# an all-NaN network says NaN
# ---------------------------------------------------------------------------------------------
def test_pl_grn_all_nan_network_says_nan(adata):
    adata.varp["bad"] = np.full((adata.n_vars, adata.n_vars), np.nan, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match=r"\d+ NaN weight\(s\).*training\s+diverged"):
            scgrn.pl.grn(adata, key="bad", show=False)


# ---------------------------------------------------------------------------------------------
# get.edges: infinite weights, min_abs_weight=True, an inconsistent group index (second run)
# ---------------------------------------------------------------------------------------------
def _with_bad_weight(value, fmt="dense"):
    a = ad.AnnData(np.zeros((4, 3), dtype=np.float32), var=pd.DataFrame(index=list("ABC")))
    W = np.arange(9.0).reshape(3, 3)
    W[0, 1] = value
    a.varp["g"] = sparse.csr_matrix(W) if fmt == "csr" else W
    a.uns["g"] = {"method": "manual"}
    return a


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("value, kind", [(np.inf, "infinite"), (-np.inf, "infinite"), (np.nan, "NaN")])
def test_edges_drop_non_finite_weights_with_a_warning(value, kind, fmt):
    with pytest.warns(RuntimeWarning, match=rf"1 {kind} weight\(s\); they are dropped.*diverged"):
        got = scgrn.get.edges(_with_bad_weight(value, fmt), key="g")
    assert np.isfinite(got["weight"]).all() and len(got) == 5
    assert ("A", "B") not in set(zip(got["source"], got["target"]))


@pytest.mark.parametrize("value", [True, np.True_, "1", np.nan, -1.0])
def test_edges_refuse_min_abs_weight_that_is_not_a_number(value):
    with pytest.raises(ValueError, match=r"^min_abs_weight must be a finite number >= 0"):
        scgrn.get.edges(_with_bad_weight(1.0), key="g", min_abs_weight=value)


def _bad_index(groups, keys):
    a = _with_bad_weight(1.0)
    a.varp["g_A"] = np.ones((3, 3))
    a.varp["g_B"] = np.ones((3, 3))
    a.uns["h"] = {"groupby": "x", "groups": groups, "keys": keys}
    return a


@pytest.mark.parametrize(
    "groups, keys, problem",
    [(["A", "B"], ["g_A"], "2 groups but 1 keys"), (["A"], ["g_A", "g_B"], "1 groups but 2 keys"), (["A", "A"], ["g_A", "g_B"], "a group named twice")],
    ids=["more_groups", "more_keys", "duplicate_group"],
)
@pytest.mark.parametrize("group", [None, "A"])
def test_edges_refuse_an_inconsistent_group_index(groups, keys, problem, group):
    with pytest.raises(ValueError, match=rf"adata.uns\['h'\] indexes per-group networks but is inconsistent \({problem}"):
        scgrn.get.edges(_bad_index(groups, keys), key="h", group=group)


def test_edges_read_a_consistent_group_index():
    got = scgrn.get.edges(_bad_index(["A", "B"], ["g_A", "g_B"]), key="h")
    assert got["group"].unique().tolist() == ["A", "B"]


# ---------------------------------------------------------------------------------------------
# tl.tf_activity refuses a non-finite network (second run)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, kind", [(np.inf, "infinite"), (np.nan, "NaN")])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_tf_activity_refuses_a_non_finite_network(adata, value, kind, fmt):
    pytest.importorskip("decoupler")
    scgrn.tl.correlation(adata)
    W = np.array(adata.varp["pearson"])
    W[1, 2] = value
    adata.varp["pearson"] = sparse.csr_matrix(W) if fmt == "csr" else W
    with pytest.raises(ValueError, match=rf"adata.varp\['pearson'\] has 1 {kind} weight\(s\).*diverged"):
        scgrn.tl.tf_activity(adata, key="pearson", n_targets=5, tmin=3)
    assert "tf_activity" not in adata.obsm and "tf_activity" not in adata.uns


# ---------------------------------------------------------------------------------------------
# get.edge_differences / pl.edge_differences (sixth run)
# ---------------------------------------------------------------------------------------------
def _grouped_pearson(adata):
    a = adata[::3][:200].copy()
    scgrn.tl.correlation(a, groupby="cell_type")
    return a, list(a.uns["pearson"]["groups"])[:2], a.uns["pearson"]["keys"][0]


@pytest.mark.parametrize("normalize", ["max", None])
@pytest.mark.parametrize("value, found", [(np.nan, "1 NaN"), (np.inf, "1 infinite")], ids=["nan", "inf"])
@pytest.mark.parametrize("as_sparse", [False, True], ids=["dense", "csr"])
def test_edge_differences_refuses_a_nonfinite_network(adata, normalize, value, found, as_sparse):
    """normalize='max' scaled the other network only (max |weight| was NaN), mixing scales."""
    a, (ga, gb), key_a = _grouped_pearson(adata)
    W = np.asarray(a.varp[key_a], dtype=np.float32).copy()
    W[0, 1] = value
    a.varp[key_a] = sparse.csr_matrix(W) if as_sparse else W
    match = rf"^The network of group '{ga}' \(adata.varp\['{key_a}'\]\) has {found} weight\(s\), so its edges cannot be compared with group '{gb}'"
    with pytest.raises(ValueError, match=match):
        scgrn.get.edge_differences(a, key="pearson", groups=(ga, gb), normalize=normalize)
    with pytest.raises(ValueError, match=match):
        scgrn.pl.edge_differences(a, key="pearson", groups=(ga, gb), normalize=normalize, show=False)


def test_edge_differences_scales_both_networks_to_one(adata):
    a, groups, _ = _grouped_pearson(adata)
    d = scgrn.get.edge_differences(a, key="pearson", groups=groups, top_k=None)
    assert d["weight_a"].abs().max() == pytest.approx(1.0) and d["weight_b"].abs().max() == pytest.approx(1.0)


def test_pl_edge_differences_refuses_top_k_0(adata):
    """top_k=0 said 'No edge differs between groups', which was false."""
    a, groups, _ = _grouped_pearson(adata)
    with pytest.raises(ValueError, match=r"^top_k must be an integer >= 1, got 0"):
        scgrn.pl.edge_differences(a, key="pearson", groups=groups, top_k=0, show=False)
    assert scgrn.get.edge_differences(a, key="pearson", groups=groups, top_k=0).empty  # the table may be empty
