"""datasets.simulate_perturbation_screen, datasets.crop_seq and datasets.papalexi2021."""

import numpy as np
import pandas as pd
import pytest

from scgrn.datasets import crop_seq, papalexi2021, simulate_perturbation_screen

SMALL = dict(n_genes=20, n_perturbations=8, n_double=3, n_cells_per_perturbation=40, n_control=100)


@pytest.fixture(scope="module")
def screen():
    return simulate_perturbation_screen(random_state=1, **SMALL)


def test_shapes_labels_network(screen):
    adata, net = screen
    labels = adata.obs["perturbation"]
    assert adata.shape == (100 + 40 * 11, 20)
    assert adata.X.dtype == np.float32 and (adata.X >= 0).all() and np.isfinite(adata.X).all()
    assert labels.cat.categories[0] == "control" and (labels == "control").sum() == 100
    singles = [lab for lab in labels.cat.categories[1:] if "+" not in lab]
    doubles = [lab for lab in labels.cat.categories if "+" in lab]
    assert len(singles) == 8 and len(doubles) == 3
    for d in doubles:  # doubles combine singly perturbed genes
        assert all(g in singles for g in d.split("+"))
    assert set(adata.var_names[adata.var["perturbed"]]) == set(singles)
    assert list(net.columns) == ["source", "target", "weight"]
    assert (net["source"] != net["target"]).all() and not net.duplicated(["source", "target"]).any()
    assert set(net["source"]) == set(adata.var_names[adata.var["is_regulator"]])
    assert (net["weight"] != 0).all()
    assert adata.obs["n_knockouts"].max() == 2


def test_knockouts_act_on_their_targets(screen):
    adata, net = screen
    X = adata.X
    labels = adata.obs["perturbation"].astype(str).to_numpy()
    ctrl = X[labels == "control"]
    mu, sd = ctrl.mean(0), ctrl.std(0)
    genes = list(adata.var_names)
    own, downstream, unrelated = [], [], []
    for lab in pd.unique(labels):
        if lab == "control":
            continue
        ko = lab.split("+")
        z = (X[labels == lab].mean(0) - mu) / sd
        for g in ko:  # the knocked gene itself collapses
            own.append(X[labels == lab][:, genes.index(g)].mean() / mu[genes.index(g)])
        if len(ko) == 1:
            tgt = set(net.loc[net["source"] == ko[0], "target"]) - set(ko)
            # genes reachable from ko (any path) may move; genes not reachable must not
            reach, frontier = set(), {ko[0]}
            while frontier:
                nxt = set(net.loc[net["source"].isin(frontier), "target"]) - reach - set(ko)
                reach |= nxt
                frontier = nxt
            downstream += [abs(z[genes.index(t)]) for t in tgt]
            unrelated += [abs(z[i]) for i, g in enumerate(genes) if g not in reach and g not in ko]
    assert max(own) < 0.1  # complete knockout: production removed
    assert np.median(downstream) > 1.0  # direct targets shift by more than a control SD
    assert np.percentile(unrelated, 95) < 0.6  # unconnected genes do not move


def test_deterministic_and_seeded():
    a1, n1 = simulate_perturbation_screen(random_state=3, **SMALL)
    a2, n2 = simulate_perturbation_screen(random_state=3, **SMALL)
    a3, _ = simulate_perturbation_screen(random_state=4, **SMALL)
    assert np.array_equal(a1.X, a2.X) and n1.equals(n2)
    assert not np.array_equal(a1.X, a3.X)


def test_knockout_efficiency_leaves_residual_expression():
    adata, _ = simulate_perturbation_screen(random_state=0, knockout_efficiency=0.5, **SMALL)
    labels = adata.obs["perturbation"].astype(str).to_numpy()
    g = [lab for lab in pd.unique(labels) if lab != "control" and "+" not in lab][0]
    i = list(adata.var_names).index(g)
    ratio = adata.X[labels == g, i].mean() / adata.X[labels == "control", i].mean()
    assert 0.2 < ratio < 0.9


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_perturbations=30), "n_perturbations"),
        (dict(n_double=100), "n_double"),
        (dict(edge_density=0.0), "edge_density"),
        (dict(noise=-1.0), "noise"),
        (dict(knockout_efficiency=1.5), "knockout_efficiency"),
    ],
)
def test_simulator_errors(kwargs, match):
    params = {**SMALL, **kwargs}
    with pytest.raises(ValueError, match=match):
        simulate_perturbation_screen(**params)


@pytest.mark.realdata
def test_crop_seq_labels(shared_data_dir):
    adata = crop_seq()
    labels = adata.obs["perturbation"]
    assert labels.cat.categories[0] == "control"
    assert (adata.obs["n_guides"] == 1).all()  # multi-guide and guide-less cells dropped
    assert set(labels.cat.categories) - {"control"} <= set(adata.var_names)
    assert "CDKN2A" not in adata.var_names and "MLL2" not in set(labels)
    ctrl = adata.obs["guide_genes"][labels == "control"]
    assert (ctrl == "NonTargetingControlGuideForHuman").all()
    assert (labels == "TP53").sum() == 271 and (labels == "control").sum() == 400
    X = adata.X.toarray()
    assert np.array_equal(X, np.round(X)) and X.min() >= 0  # raw counts

    full = crop_seq(measured_targets_only=False)
    assert full.n_vars == 28 and full.n_obs == 4292 and "MLL2" in set(full.obs["perturbation"])

    norm = crop_seq(log_normalize=True)
    counts = norm.layers["counts"].toarray()
    expect = np.log1p(1e4 * counts / norm.obs["nUMI"].to_numpy()[:, None])
    assert np.allclose(norm.X, expect, atol=1e-5)

    # the CRISPR knockouts lower their targets' expression on average (PTEN, STK11)
    for g in ("PTEN", "STK11"):
        i = list(norm.var_names).index(g)
        assert norm.X[labels == g, i].mean() < 0.8 * norm.X[labels == "control", i].mean()


def test_crop_seq_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="perturbation"):
        crop_seq(tmp_path)


@pytest.mark.realdata
def test_papalexi2021(shared_data_dir, tmp_path):
    adata = papalexi2021()
    labels = adata.obs["perturbation"]
    assert adata.shape == (10961 - 966, 299)  # unassigned cells dropped
    assert adata.uns["dataset"]["n_unassigned_dropped"] == 966
    assert labels.cat.categories[0] == "control" and "unassigned" not in set(labels)
    assert (labels == "control").sum() == 2304 and (labels == "JAK2").sum() == 1004
    assert labels.nunique() == 13  # control + 12 targets (CD274, the 13th of the file, has no cell)
    assert "CD274" not in set(labels) and "CD274" in set(adata.uns["grna_targets"])
    measured = ["CMTM6", "JAK2", "STAT3", "TNFRSF14", "UBE2L6"]
    assert sorted(adata.var_names[adata.var["targeted"]]) == measured
    assert set(labels[adata.obs["target_measured"].to_numpy()]) == set(measured)
    assert (adata.obs["guide"][labels == "control"].astype(str).str.startswith("NT")).all()

    # counts kept; X = normalize_total(1e4) + log1p of them
    counts = adata.layers["counts"].toarray()
    assert adata.layers["counts"].dtype == np.float32 and np.array_equal(counts, np.round(counts))
    assert np.allclose(counts.sum(1), adata.obs["n_counts_in_panel"].to_numpy())
    expect = np.log1p(1e4 * counts / counts.sum(1, keepdims=True))
    assert adata.X.dtype == np.float32 and np.allclose(adata.X.toarray(), expect, atol=1e-5)

    # loader by argument = loader by environment variable; h5ad round trip
    again = papalexi2021(data_dir=shared_data_dir)
    assert again.obs_names.equals(adata.obs_names) and (again.X != adata.X).nnz == 0
    adata.write_h5ad(tmp_path / "p.h5ad")
    import anndata as ad

    assert ad.read_h5ad(tmp_path / "p.h5ad").uns["dataset"]["name"] == "papalexi2021"

    # JAK2 knockout lowers JAK2 and the IFN-gamma pathway (STAT1, PSMB9, UBE2L6)
    X = adata.X.toarray()
    ctrl, jak2 = X[(labels == "control").to_numpy()], X[(labels == "JAK2").to_numpy()]
    for g in ("JAK2", "STAT1", "PSMB9", "UBE2L6"):
        i = adata.var_names.get_loc(g)
        assert jak2[:, i].mean() < ctrl[:, i].mean() - 0.5, g


def test_papalexi2021_example_and_missing(tmp_path):
    from scgrn.datasets._perturbation import _example_papalexi

    root = _example_papalexi(tmp_path / "data")
    adata = papalexi2021(data_dir=root)
    assert adata.n_obs == 20 and list(adata.layers) == ["counts"]
    assert list(adata.obs["perturbation"].cat.categories) == ["control", "CAV1", "JAK2", "STAT3"]
    with pytest.raises(FileNotFoundError, match="perturbation"):
        papalexi2021(data_dir=tmp_path)
