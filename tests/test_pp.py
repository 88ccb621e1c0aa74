"""BEELINE-style gene selection."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import scgrn


def _toy(n_cells=200, seed=0):
    """20 genes: TF0-TF4 (TF4 constant), G0-G14 with increasing variance (G0 constant)."""
    rng = np.random.default_rng(seed)
    tf_sd = [1.0, 0.5, 0.2, 0.05, 0.0]
    g_sd = [0.0] + list(np.linspace(0.1, 2.0, 14))
    sd = np.array(tf_sd + g_sd)
    X = (rng.standard_normal((n_cells, sd.size)) * sd + 5).astype(np.float32)
    names = [f"TF{i}" for i in range(5)] + [f"G{i}" for i in range(15)]
    return ad.AnnData(X=X, obs=pd.DataFrame(index=[f"c{i}" for i in range(n_cells)]),
                      var=pd.DataFrame(index=names))


TFS = [f"TF{i}" for i in range(5)]


def test_keeps_varying_tfs_plus_top_others():
    adata = _toy()
    X0 = adata.X.copy()
    assert scgrn.pp.select_genes(adata, tfs=TFS + ["NOT_A_GENE"], n_top=5) is None
    sel = adata.var_names[adata.var["scgrn_selected"]]
    # all TFs with non-zero variance, the constant TF4 is not varying
    assert {"TF0", "TF1", "TF2", "TF3"} <= set(sel) and "TF4" not in sel
    assert set(sel) - set(TFS) == {"G10", "G11", "G12", "G13", "G14"}
    assert adata.var["scgrn_selected_is_tf"].sum() == 5
    assert adata.var["scgrn_selected"].dtype == bool
    assert adata.uns["scgrn_selected"]["method"] == "variance"
    assert adata.uns["scgrn_selected"]["n_tfs"] == 4
    np.testing.assert_array_equal(adata.X, X0)
    assert adata.n_vars == 20


def test_n_top_larger_than_available():
    adata = _toy()
    scgrn.pp.select_genes(adata, tfs=TFS, n_top=100)
    assert adata.var["scgrn_selected"].sum() == 4 + 14  # constant TF4 and G0 excluded


def test_subset_and_copy_semantics():
    adata = _toy()
    X0 = adata.X.copy()
    out = scgrn.pp.select_genes(adata, tfs=TFS, n_top=3, copy=True)
    assert out is not adata and "scgrn_selected" not in adata.var
    assert out.n_vars == 20 and out.var["scgrn_selected"].sum() == 7
    sub = scgrn.pp.select_genes(adata, tfs=TFS, n_top=3, subset=True, copy=True)
    assert sub.n_vars == 7 and adata.n_vars == 20
    assert scgrn.pp.select_genes(adata, tfs=TFS, n_top=3, subset=True, key_added="sel") is None
    assert adata.n_vars == 7 and adata.var["sel"].all()
    np.testing.assert_array_equal(adata.X, X0[:, out.var["scgrn_selected"].to_numpy()])


def test_pvalue_key_bonferroni():
    adata = _toy()
    p = np.full(adata.n_vars, 1e-6)
    p[adata.var_names.get_loc("TF0")] = 0.01 / 20 * 2  # passes 0.01 raw, fails Bonferroni
    p[adata.var_names.get_loc("G14")] = 0.5
    adata.var["pval"] = p
    scgrn.pp.select_genes(adata, tfs=TFS, n_top=2, pvalue_key="pval")
    sel = set(adata.var_names[adata.var["scgrn_selected"]])
    assert sel == {"TF1", "TF2", "TF3", "G12", "G13"}
    assert adata.uns["scgrn_selected"]["method"] == "pvalue_key"


def test_pseudotime_ftest():
    rng = np.random.default_rng(1)
    n = 300
    t = rng.random(n)
    X = rng.standard_normal((n, 6)) * 0.3
    X[:, 0] += np.sin(3 * t)  # TF following pseudotime
    X[:, 2] += 4 * (t - 0.5) ** 2  # non-TF following pseudotime (smaller variance)
    X[:, 3] *= 5  # high-variance noise gene: not significant
    adata = ad.AnnData(X=X.astype(np.float32), var=pd.DataFrame(index=list("ABCDEF")),
                       obs=pd.DataFrame({"pt": t}, index=[f"c{i}" for i in range(n)]))
    adata.obs.loc[adata.obs_names[:5], "pt"] = np.nan  # off-branch cells are ignored
    adata.X = sparse.csr_matrix(adata.X)
    scgrn.pp.select_genes(adata, tfs=["A", "B"], n_top=5, pseudotime_key="pt")
    assert list(adata.var_names[adata.var["scgrn_selected"]]) == ["A", "C"]
    assert adata.uns["scgrn_selected"]["method"] == "pseudotime"


def test_layer_and_errors():
    adata = _toy()
    adata.layers["other"] = adata.X[:, ::-1].copy()
    scgrn.pp.select_genes(adata, tfs=TFS, n_top=1, layer="other")
    # in the reversed layer G0 column holds the largest spread
    assert adata.var.loc["G0", "scgrn_selected"]
    with pytest.raises(ValueError, match="None of the 2 TFs"):
        scgrn.pp.select_genes(adata, tfs=["X", "Y"])
    with pytest.raises(TypeError):
        scgrn.pp.select_genes(adata, tfs="TF0")
    with pytest.raises(ValueError, match="layers"):
        scgrn.pp.select_genes(adata, tfs=TFS, layer="nope")
    with pytest.raises(ValueError, match="adata.var"):
        scgrn.pp.select_genes(adata, tfs=TFS, pvalue_key="nope")
    with pytest.raises(ValueError, match="adata.obs"):
        scgrn.pp.select_genes(adata, tfs=TFS, pseudotime_key="nope")


def test_h5ad_roundtrip(tmp_path):
    adata = _toy()
    scgrn.pp.select_genes(adata, tfs=TFS, n_top=3)
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad")
    assert back.var["scgrn_selected"].tolist() == adata.var["scgrn_selected"].tolist()
    assert back.uns["scgrn_selected"]["params"]["n_top"] == 3
