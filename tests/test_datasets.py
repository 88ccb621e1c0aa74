"""Dataset loaders: krumsiek11, planted networks, BEELINE folders, data folder resolution."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from scgrn import datasets
from scgrn.datasets._krumsiek11 import _parse_model


# ------------------------------------------------------------------ krumsiek11
def test_krumsiek11_network():
    adata, net = datasets.krumsiek11()
    assert adata.shape == (640, 11)
    assert adata.X.dtype == np.float32
    assert adata.obs_names.is_unique
    assert set(adata.obs["cell_type"].unique()) == {"progenitor", "Mo", "Ery", "Mk", "Neu"}
    assert list(net.columns) == ["source", "target", "weight", "sign"]
    assert len(net) == 26  # 30 couplings minus 4 self-loops (Gata2, Gata1, Cebpa, Pu.1)
    assert (net["source"] != net["target"]).all()
    assert set(net["source"]) | set(net["target"]) == set(adata.var_names)
    edges = set(zip(net["source"], net["target"]))
    # "Fog1 = Gata1": Gata1 -> Fog1, not the reverse
    assert ("Gata1", "Fog1") in edges and ("Fog1", "Gata1") not in edges
    # "cJun = Pu.1 and not Gfi1"; "Gfi1 = Cebpa and not EgrNab"
    assert {("Pu.1", "cJun"), ("Gfi1", "cJun"), ("Cebpa", "Gfi1"), ("EgrNab", "Gfi1")} <= edges
    assert ("cJun", "Pu.1") not in edges and ("Gfi1", "Cebpa") not in edges
    w = net.set_index(["source", "target"])
    assert w.loc[("Gfi1", "cJun"), "sign"] == -1 and w.loc[("Pu.1", "cJun"), "sign"] == 1
    assert w.loc[("EgrNab", "Gfi1"), "weight"] == -5.0
    assert adata.var["is_tf"].all()


def test_krumsiek11_parse_matches_boolean_rules():
    rules, coupling = _parse_model()
    assert len(rules) == 11 and len(coupling) == 30
    coupled = set(zip(coupling["source"], coupling["target"]))
    for target, regulators in rules.items():
        for reg in regulators:  # every regulator in a target's rule is a source of that target
            assert (reg, target) in coupled, (reg, target)
    from_rules = {(r, t) for t, regs in rules.items() for r in regs}
    assert from_rules == coupled


# ------------------------------------------------------------------ planted network
def test_planted_network_shapes_and_determinism():
    a1, n1 = datasets.planted_network(n_genes=40, n_cells=300, random_state=1)
    a2, n2 = datasets.planted_network(n_genes=40, n_cells=300, random_state=1)
    a3, _ = datasets.planted_network(n_genes=40, n_cells=300, random_state=2)
    assert a1.shape == (300, 40) and a1.X.dtype == np.float32
    np.testing.assert_array_equal(a1.X, a2.X)
    pd.testing.assert_frame_equal(n1, n2)
    assert not np.array_equal(a1.X, a3.X)
    assert list(n1.columns) == ["source", "target", "weight"]
    assert len(n1) == 5 * 4
    assert (n1["weight"].abs().between(0.5, 1.5)).all()
    assert set(a1.var_names[a1.var["is_tf"]]) == set(n1["source"])
    assert not n1.duplicated(["source", "target"]).any()
    assert (n1["source"] != n1["target"]).all()


def test_planted_network_regulators_correlate_with_targets():
    adata, net = datasets.planted_network(random_state=0)
    X = pd.DataFrame(adata.X, columns=adata.var_names)
    corr = X.corr().abs()
    for reg, tg in net.groupby("source")["target"]:
        non = [g for g in adata.var_names if g not in set(tg) and g != reg]
        assert corr.loc[reg, list(tg)].min() > 0.3
        assert corr.loc[reg, list(tg)].mean() > 3 * corr.loc[reg, non].mean()


def test_planted_network_cascade_and_errors():
    adata, net = datasets.planted_network(n_genes=40, cascade=True, random_state=0)
    assert len(net) > 20
    assert adata.var["is_tf"].sum() > 5
    # second-layer regulators are first-layer targets
    first = net.iloc[:20]
    assert set(net.iloc[20:]["source"]) <= set(first["target"])
    with pytest.raises(ValueError, match="too small"):
        datasets.planted_network(n_genes=10)


# ------------------------------------------------------------------ BEELINE folders
@pytest.fixture
def beeline_folder(tmp_path):
    rng = np.random.default_rng(0)
    genes = ["g1", "g2", "g3", "g4"]
    cells = [f"E{i}_0_{i}" for i in range(6)]
    expr = pd.DataFrame(rng.random((4, 6)), index=genes, columns=cells)
    with gzip.open(tmp_path / "ExpressionData.csv.gz", "wt") as fh:
        expr.to_csv(fh)
    pt = pd.DataFrame({"PseudoTime0": [0.1, np.nan, 0.3, np.nan, 0.5, 0.6],
                       "PseudoTime1": [np.nan, 0.2, np.nan, 0.4, np.nan, np.nan]}, index=cells)
    pt.to_csv(tmp_path / "PseudoTime.csv")
    (tmp_path / "refNetwork.csv").write_text(
        "Gene1,Gene2,Type\ng1,g1,+\ng1,g2,+\ng2,g3,-\ng1,g2,+\ng3,g4,+\n"
    )
    return tmp_path, expr


def test_read_beeline_folder(beeline_folder):
    path, expr = beeline_folder
    adata, net = datasets.read_beeline_folder(path)
    assert adata.shape == (6, 4)  # cells x genes
    assert adata.X.dtype == np.float32
    assert list(adata.var_names) == ["g1", "g2", "g3", "g4"]
    np.testing.assert_allclose(adata.X, expr.T.to_numpy(), rtol=1e-6)
    assert list(adata.obs.columns) == ["PseudoTime0", "PseudoTime1"]
    assert adata.obs["PseudoTime0"].isna().sum() == 2
    # self-loop g1->g1 and the duplicate g1->g2 dropped
    assert list(zip(net["source"], net["target"])) == [("g1", "g2"), ("g2", "g3"), ("g3", "g4")]
    assert net["sign"].tolist() == [1, -1, 1]


def test_read_beeline_folder_errors(tmp_path, beeline_folder):
    path, _ = beeline_folder
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        datasets.read_beeline_folder(path, network_file="missing.csv")
    adata, net = datasets.read_beeline_folder(path, network_file=None)
    assert net is None and adata.n_obs == 6
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="ExpressionData"):
        datasets.read_beeline_folder(empty)


# ------------------------------------------------------------------ data folder
def test_data_dir_unset(monkeypatch):
    monkeypatch.delenv("SCGRN_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError) as e:
        datasets.data_dir()
    msg = str(e.value)
    for part in ("SCGRN_DATA_DIR", "data_dir=", "beeline/", "dream4/", "10.5281/zenodo.3378975"):
        assert part in msg


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("SCGRN_DATA_DIR", str(tmp_path))
    assert datasets.data_dir() == tmp_path.resolve()
    assert datasets.data_dir(tmp_path) == tmp_path.resolve()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.data_dir(tmp_path / "nope")
    # folder exists but has no beeline/ subfolder: the missing path is named
    with pytest.raises(FileNotFoundError, match=r"beeline"):
        datasets.beeline("mHSC-L")


def test_beeline_on_tiny_tree(tmp_path, beeline_folder):
    src, _ = beeline_folder
    folder = tmp_path / "beeline" / "scRNA-seq" / "cellA" / "TFs+500"
    (folder / "STRING").mkdir(parents=True)
    (folder / "ExpressionData.csv.gz").write_bytes((src / "ExpressionData.csv.gz").read_bytes())
    (folder / "STRING" / "refNetwork.csv").write_text("Gene1,Gene2\ng1,g2\ng2,g1\n")
    (folder / "STRING" / "TFs.csv").write_text("TF\ng1\ng2\n")
    adata, net = datasets.beeline("CELLA", ground_truth="string", data_dir=tmp_path)
    assert adata.var["is_tf"].tolist() == [True, True, False, False]
    assert adata.uns["dataset"]["ground_truth"] == "STRING"
    assert adata.uns["dataset"]["n_genes"] == 500
    assert len(net) == 2
    with pytest.raises(ValueError, match=r"Available.*\['STRING'\]"):
        datasets.beeline("cellA", ground_truth="chip-seq", data_dir=tmp_path)
    with pytest.raises(ValueError, match=r"Available.*cellA"):
        datasets.beeline("cellB", data_dir=tmp_path)
    with pytest.raises(ValueError, match=r"TFs\+500"):
        datasets.beeline("cellA", n_genes=1000, data_dir=tmp_path)
    with pytest.raises(ValueError, match="Unknown ground_truth"):
        datasets.beeline("cellA", ground_truth="bogus", data_dir=tmp_path)
    (folder / "ExpressionData.csv.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing.*ExpressionData\.csv\.gz"):
        datasets.beeline("cellA", data_dir=tmp_path)


# ------------------------------------------------------------------ real data
@pytest.mark.realdata
def test_beeline_mhsc_l_string(shared_data_dir):
    adata, net = datasets.beeline("mHSC-L", n_genes=500, ground_truth="STRING")
    assert adata.shape == (847, 560)
    assert len(net) == 137
    assert adata.X.dtype == np.float32
    assert set(net["source"]) | set(net["target"]) <= set(adata.var_names)
    assert adata.var["is_tf"].sum() == 60
    assert adata.uns["dataset"]["cell_type"] == "mHSC-L"
    assert adata.obs_names[0] == "HSPC_025"


@pytest.mark.realdata
def test_beeline_missing_expression_message(shared_data_dir):
    with pytest.raises(FileNotFoundError, match=r"mESC TFs\+1000 is missing"):
        datasets.beeline("mESC", n_genes=1000, ground_truth="specific")


@pytest.mark.realdata
def test_beeline_synthetic_and_curated(shared_data_dir):
    assert datasets.data_dir() == shared_data_dir.resolve()
    adata, net = datasets.beeline_synthetic("dyn-BF", n_cells=2000, replicate=0)
    assert adata.shape == (2000, 7)
    assert len(net) == 10 and set(net["sign"]) == {1, -1}
    assert {"PseudoTime0", "PseudoTime1"} <= set(adata.obs.columns)
    gsd, gnet = datasets.beeline_synthetic("gsd", replicate=1, dropout=20)
    assert gsd.shape == (2000, 19) and len(gnet) == 76  # duplicates and self-loops dropped
    assert gsd.uns["dataset"]["dropout"] == 20
    with pytest.raises(ValueError, match="no dropout"):
        datasets.beeline_synthetic("dyn-BF", dropout=20)
    with pytest.raises(ValueError, match=r"Available n_cells: \[500, 2000\]"):
        datasets.beeline_synthetic("dyn-BF", n_cells=5000)
    listing = datasets.list_beeline()
    assert {"scRNA-seq", "synthetic", "curated"} <= set(listing["kind"])
    mhsc = listing.query("kind == 'scRNA-seq' and name == 'mHSC-L'")
    assert mhsc["has_expression"].all()
    assert not listing.query("name == 'mHSC-E'")["has_expression"].any()


def test_loader_outputs_are_h5ad_writable(tmp_path):
    import anndata as ad

    from scgrn.datasets._beeline import _example_tree

    root = _example_tree(tmp_path / "data")
    adatas = [
        datasets.planted_network(n_genes=25, n_cells=50, cascade=True)[0],
        datasets.krumsiek11()[0],
        datasets.beeline("demo", data_dir=root)[0],
        datasets.beeline_synthetic("dyn-demo", n_cells=100, data_dir=root)[0],
    ]
    for i, adata in enumerate(adatas):
        adata.write_h5ad(tmp_path / f"{i}.h5ad")
        back = ad.read_h5ad(tmp_path / f"{i}.h5ad")
        assert back.uns["dataset"]["name"] == adata.uns["dataset"]["name"]
        np.testing.assert_array_equal(back.X, adata.X)


def test_tf_list_reads_the_shared_lists(shared_data_dir):
    human, mouse = datasets.tf_list("human"), datasets.tf_list("mouse")
    assert len(human) == 1839 and len(mouse) == 1721
    assert "SPI1" in human and "Spi1" in mouse
    with pytest.raises(ValueError, match="organism"):
        datasets.tf_list("fly")
