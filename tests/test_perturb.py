"""In-silico perturbation: DeepSEM.perturb (models), tl.perturb and pl.perturbation."""

from __future__ import annotations

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import scgrn
from scgrn.models._perturb import feedback_gain
from scgrn.pl._perturbation import embedding_shift

# members whose GRN ends above loop gain 1 are left out with a warning; short test runs have some
pytestmark = pytest.mark.filterwarnings("ignore:.*loop gain:UserWarning")

FAST = {"n_models": 2, "n_epochs": 3, "show_progress_bar": False}


def _krumsiek() -> ad.AnnData:
    adata, _ = scgrn.datasets.krumsiek11()
    adata.X = adata.X.clip(0)
    adata.obsm["X_umap"] = np.random.default_rng(0).normal(size=(adata.n_obs, 2)).astype(np.float32)
    adata.uns["cell_type_colors"] = np.array(["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"])
    return adata


@pytest.fixture(scope="module")
def adata():
    return _krumsiek()


@pytest.fixture(scope="module")
def perturbed(adata):
    before = adata.copy()
    out = scgrn.tl.perturb(adata, perturbations={"Gata1": 0.0, "Pu.1": 1.5}, **FAST)
    return before, out


@pytest.fixture(scope="module")
def model(adata):
    m = scgrn.models.DeepSEM(adata, n_models=2, n_epochs=2, mlp_grid=None)
    m.train(show_progress_bar=False)
    return m


# -- the tool's output ---------------------------------------------------------------------------
def test_output_keys_shapes_dtypes(adata, perturbed, tmp_path):
    _, out = perturbed
    assert out.shape == adata.shape
    assert list(out.obs_names) == list(adata.obs_names) and list(out.var_names) == list(adata.var_names)
    assert out.obs["perturbed"].dtype == bool and out.obs["perturbed"].all()
    assert (out.obs["cell_type"] == adata.obs["cell_type"]).all()
    assert isinstance(out.X, np.ndarray) and out.X.dtype == np.float32
    for key in ("unperturbed", "delta"):
        assert out.layers[key].shape == adata.shape and out.layers[key].dtype == np.float32
    np.testing.assert_allclose(out.layers["delta"], out.X - out.layers["unperturbed"], atol=1e-6)
    assert out.var["delta"].dtype == np.float32
    np.testing.assert_allclose(out.var["delta"], out.layers["delta"].mean(0), atol=1e-6)
    np.testing.assert_array_equal(out.obsm["X_umap"], adata.obsm["X_umap"])
    assert out.obsm["X_umap"] is not adata.obsm["X_umap"]
    assert list(out.uns["cell_type_colors"]) == list(adata.uns["cell_type_colors"])
    rec = out.uns["perturb"]
    assert rec["perturbations"] == {"Gata1": 0.0, "Pu.1": 1.5} and rec["genes"] == ["Gata1", "Pu.1"]
    assert rec["model"] == "trained" and rec["method"] == "deepsem" and rec["version"] == scgrn.__version__
    assert rec["params"]["random_state"] == 0 and rec["params"]["n_models"] == 2 and rec["n_epochs"] == 3
    assert len(rec["feedback_gain"]) == 2 and set(rec["members"]) <= {0, 1}
    out.write_h5ad(tmp_path / "p.h5ad")
    back = ad.read_h5ad(tmp_path / "p.h5ad")
    np.testing.assert_array_equal(back.layers["delta"], out.layers["delta"])
    assert back.uns["perturb"]["perturbations"] == {"Gata1": 0.0, "Pu.1": 1.5}


def test_input_unchanged(adata, perturbed):
    before, _ = perturbed
    np.testing.assert_array_equal(adata.X, before.X)
    pd.testing.assert_frame_equal(adata.obs, before.obs)
    pd.testing.assert_frame_equal(adata.var, before.var)
    assert set(adata.uns) == set(before.uns) and set(adata.obsm) == set(before.obsm) and not adata.layers


def test_clamped_genes_hold_their_values(perturbed):
    _, out = perturbed
    for gene, value in (("Gata1", 0.0), ("Pu.1", 1.5)):
        j = out.var_names.get_loc(gene)
        np.testing.assert_array_equal(out.X[:, j], np.float32(value))
        np.testing.assert_allclose(out.layers["delta"][:, j], value - out.layers["unperturbed"][:, j], atol=1e-6)


def test_same_seed_same_result(adata):
    kw = dict(perturbations={"Gata1": 0.0}, n_samples=2, **FAST)
    a = scgrn.tl.perturb(adata, random_state=3, **kw)
    b = scgrn.tl.perturb(adata, random_state=3, **kw)
    c = scgrn.tl.perturb(adata, random_state=4, **kw)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.layers["delta"], b.layers["delta"])
    assert not np.array_equal(a.layers["unperturbed"], c.layers["unperturbed"])
    assert a.uns["perturb"]["latent"] == "samples" and a.uns["perturb"]["params"]["n_samples"] == 2


# -- the mechanism ------------------------------------------------------------------------------
def _explicit(model, x, clamps: dict, members: np.ndarray | None = None):
    """The do-intervention solved the long way: (I - W) from the module's own inverse, the
    clamped genes' equations replaced by h_T = c, a dense solve, then the decoder."""
    from scgrn._matrix import gene_moments, summarise_columns
    from scgrn.models._deepsem_data import scale_rows

    module = model.module
    e, g = module.config.n_models, module.n_genes
    mean, std = gene_moments(summarise_columns(x), model.config.standardise)
    genes = [list(model.var_names).index(k) for k in clamps]
    values = np.array(list(clamps.values()), dtype=np.float32)
    with torch.no_grad():
        layer = module.grn_layer()
        inverse = module.invert_grn(torch.eye(g).expand(e, g, g).contiguous(), layer)  # (I - W)^-1
        system = torch.linalg.inv(inverse.double())
        mu, _ = module.encode_cells(torch.as_tensor(scale_rows(x, mean, std, "all")), layer)
        c = module.encoder(torch.as_tensor((values - mean[genes]) / std[genes]).expand(e, -1))[..., 0]
        system[:, :, genes] = 0.0
        system[:, genes, genes] = 1.0
        z = mu.double().clone()
        z[:, :, genes] = c.double()[:, None, :]
        h = torch.linalg.solve(system, z, left=False).float()
        dec = module.decoder(h.reshape(e, -1)).reshape(e, -1, g)
    use = np.ones(e, dtype=bool) if members is None else members
    y = dec[torch.as_tensor(np.flatnonzero(use))].mean(0).numpy() * std + mean
    y[:, genes] = values
    return y


def _randomise(model, scale=0.25, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.module.adj.copy_(torch.randn(model.module.adj.shape, generator=gen) * scale)
        model.module.zero_self_loops()
        if hasattr(model.module, "coexp_b"):
            model.module.coexp_b.copy_(torch.randn(model.module.coexp_b.shape, generator=gen) * 0.2)


def test_do_intervention_is_exact_genes_x_genes(adata):
    m = scgrn.models.DeepSEM(adata, n_models=2, n_epochs=1, mlp_grid=None)
    m.train(show_progress_bar=False)
    _randomise(m)
    clamps = {"Gata1": 0.0, "Cebpa": 0.9}
    cells = m.perturb(clamps, members="all")
    np.testing.assert_allclose(cells.perturbed[:50], _explicit(m, adata.X, clamps)[:50], atol=2e-5)
    # unperturbed is the ordinary decode of the same latent
    np.testing.assert_allclose(cells.unperturbed[:50], _explicit(m, adata.X, {})[:50], atol=2e-5)


def test_do_intervention_is_exact_tf_rows_model(adata):
    tfs = ["Gata2", "Gata1", "Pu.1", "Cebpa", "EKLF"]
    m = scgrn.models.DeepSEM(adata, tfs=tfs, tf_rows_only=True, coexpression_rank=2, n_models=2, n_epochs=1,
                             mlp_grid=None, grn_precision="float32")
    m.train(show_progress_bar=False)
    assert m.get_grn(members=True).shape == (2, 11, 11) and m.module.n_regulators == 5
    _randomise(m)
    clamps = {"Gata1": 0.0, "Fog1": 0.8}  # a TF and a gene that is not one
    cells = m.perturb([clamps, {"Pu.1": 1.2}], members="all")
    np.testing.assert_allclose(cells.perturbed[0, :50], _explicit(m, adata.X, clamps)[:50], atol=5e-5)
    np.testing.assert_allclose(cells.perturbed[1, :50], _explicit(m, adata.X, {"Pu.1": 1.2})[:50], atol=5e-5)


def test_zero_w_changes_nothing_but_the_target(adata, model):
    with torch.no_grad():
        saved = model.module.adj.detach().clone()
        model.module.adj.zero_()
    try:
        assert float(feedback_gain(model.module).max()) < 1e-6
        cells = model.perturb({"Gata1": 0.0})
    finally:
        with torch.no_grad():
            model.module.adj.copy_(saved)
    j = list(model.var_names).index("Gata1")
    others = np.delete(cells.delta, j, axis=1)
    assert np.abs(others).max() < 1e-5
    assert np.abs(cells.delta[:, j]).mean() > 0.05  # the target itself moves


def _target_ratios(cells, net, names, regulators):
    """Per regulator: mean |change| of its true targets / mean |change| of the other genes."""
    out = []
    for i, r in enumerate(regulators):
        targets = [names.index(t) for t in net.loc[net["source"] == r, "target"]]
        others = [j for j in range(len(names)) if j not in targets and names[j] != r]
        change = np.abs(cells.delta[i].mean(0))
        out.append(change[targets].mean() / change[others].mean())
    return np.array(out)


def test_planted_knockout_moves_true_targets_more():
    """Knocking out each planted regulator moves its true targets far more than other genes.

    Observed with tl.perturb's settings and 30 epochs (30 genes, 300 cells) on data seeds 0, 3,
    4, 5: the targets' mean |change| was 99 to 444 times the other genes' (seed 0: 139 to 284).
    Asserted: at least 10 times for every regulator. Seed 0 ends with one of its 4 members at
    loop gain 1.47, which is left out; averaging it in gave 2.2 to 4.5 times, so the assertion
    fails without that choice (checked below when a member is unstable).
    """
    from scgrn.tl._perturb import PERTURB_DEFAULTS

    adata, net = scgrn.datasets.planted_network(n_genes=30, n_cells=300, random_state=0)
    adata.X = adata.X - adata.X.min(0)  # a knockout value of 0 = each gene's lowest level
    regulators = list(net["source"].unique())
    names = list(adata.var_names)
    out = scgrn.tl.perturb(adata, perturbations={regulators[0]: 0.0}, n_epochs=30, show_progress_bar=False)
    model = scgrn.models.DeepSEM.from_array(adata.X, adata.var_names, **{**PERTURB_DEFAULTS, "n_epochs": 30})
    model.train(random_state=0, show_progress_bar=False)
    cells = model.perturb([{r: 0.0} for r in regulators])
    # tl.perturb trains the same model (same settings and seed)
    np.testing.assert_allclose(out.var["delta"], cells.delta[0].mean(0), atol=1e-6)
    ratios = _target_ratios(cells, net, names, regulators)
    assert (ratios > 10).all(), ratios
    if not cells.members.all():
        every = _target_ratios(model.perturb([{r: 0.0} for r in regulators], members="all"), net, names, regulators)
        assert every.min() < ratios.min() / 10, (every, ratios)


def test_model_path(adata, model):
    sub = adata[:100].copy()
    out = scgrn.tl.perturb(sub, perturbations={"Gata1": 0.0}, model=model)
    assert out.shape == (100, 11) and out.uns["perturb"]["model"] == "given"
    direct = model.perturb({"Gata1": 0.0}, adata=sub)
    np.testing.assert_array_equal(out.X, direct.perturbed)
    # the training cells' z-scoring is used, so a subset predicts as the whole does
    np.testing.assert_allclose(direct.perturbed, model.perturb({"Gata1": 0.0}).perturbed[:100], atol=1e-5)
    with pytest.raises(ValueError, match="would be ignored"):
        scgrn.tl.perturb(sub, perturbations={"Gata1": 0.0}, model=model, n_epochs=5)
    with pytest.raises(ValueError, match="differ from the 11 genes the model was trained on"):
        scgrn.tl.perturb(sub[:, :6].copy(), perturbations={"Gata1": 0.0}, model=model)
    shifted = sub.copy()
    shifted.X = shifted.X - 0.5
    with pytest.warns(UserWarning, match="negative values"):
        scgrn.tl.perturb(shifted, perturbations={"Gata1": 0.0}, model=model)
    untrained = scgrn.models.DeepSEM(adata, n_models=1, n_epochs=1)
    with pytest.raises(ValueError, match="not trained"):
        scgrn.tl.perturb(sub, perturbations={"Gata1": 0.0}, model=untrained)
    with pytest.raises(TypeError, match="DeepSEM"):
        scgrn.tl.perturb(sub, perturbations={"Gata1": 0.0}, model="model")


def test_errors(adata):
    with pytest.raises(ValueError, match=r"2 gene\(s\).*\['GATA1', 'Nope'\].*Did you mean \{'GATA1': 'Gata1'\}"):
        scgrn.tl.perturb(adata, perturbations={"GATA1": 0.0, "Nope": 1.0, "Pu.1": 0.0})
    for bad in (float("nan"), float("inf"), "high", None):
        with pytest.raises(ValueError, match="perturbations\\['Gata1'\\]"):
            scgrn.tl.perturb(adata, perturbations={"Gata1": bad})
    with pytest.raises(ValueError, match="empty"):
        scgrn.tl.perturb(adata, perturbations={})
    with pytest.raises(TypeError, match="dict"):
        scgrn.tl.perturb(adata, perturbations=["Gata1"])
    counts = adata.copy()
    counts.X = np.random.default_rng(0).poisson(20, size=adata.shape).astype(np.float32)
    with pytest.raises(ValueError, match="raw counts.*log1p"):
        scgrn.tl.perturb(counts, perturbations={"Gata1": 0.0})
    with pytest.raises(ValueError, match="n_epochs"):  # hyperparameters fail before the data are read
        scgrn.tl.perturb(counts, perturbations={"Gata1": 0.0}, n_epochs=0)
    with pytest.raises(ValueError, match="n_samples"):
        scgrn.tl.perturb(adata, perturbations={"Gata1": 0.0}, n_samples=0)


def test_model_method_errors(model):
    with pytest.raises(ValueError, match="not in the model's genes"):
        model.perturb({"JAK2": 0.0})
    with pytest.raises(ValueError, match="empty list"):
        model.perturb([])
    with pytest.raises(TypeError, match="dict"):
        model.perturb("Gata1")
    with pytest.raises(ValueError, match="members"):
        model.perturb({"Gata1": 0.0}, members="some")
    with pytest.raises(RuntimeError, match="not trained"):
        scgrn.models.DeepSEM(_krumsiek(), n_models=1).perturb({"Gata1": 0.0})


# -- plots ---------------------------------------------------------------------------------------
def test_plot_both_panels(perturbed):
    _, out = perturbed
    axes = scgrn.pl.perturbation(out, color="cell_type", show=False)
    assert isinstance(axes, list) and len(axes) == 2 and all(isinstance(a, Axes) for a in axes)
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    assert len(labels) == 9 and "Gata1" not in labels  # clamped genes left out by default
    fig = scgrn.pl.perturbation(out, include_perturbed=True, n_genes=3, grid=5, return_fig=True)
    assert isinstance(fig, Figure)
    assert "Gata1" in [t.get_text() for t in fig.axes[0].get_yticklabels()]
    plt.close("all")


def test_plot_single_panels_and_errors(perturbed):
    _, out = perturbed
    _, ax = plt.subplots()
    assert scgrn.pl.perturbation(out, kind="arrows", ax=ax, show=False) is ax
    no_embedding = out.copy()
    del no_embedding.obsm["X_umap"]
    assert isinstance(scgrn.pl.perturbation(no_embedding, show=False), Axes)  # "auto": the bars
    with pytest.raises(ValueError, match="X_umap"):
        scgrn.pl.perturbation(no_embedding, kind="arrows", show=False)
    with pytest.raises(ValueError, match="tl.perturb"):
        scgrn.pl.perturbation(_krumsiek(), show=False)
    with pytest.raises(ValueError, match="2 panel"):
        scgrn.pl.perturbation(out, kind="both", ax=ax, show=False)
    plt.close("all")


def test_embedding_shift_points_to_cells_the_shift_resembles():
    rng = np.random.default_rng(0)
    emb = np.column_stack([np.linspace(0, 1, 60), rng.normal(0, 0.01, 60)])
    x = np.column_stack([np.linspace(0, 5, 60), np.linspace(5, 0, 60), rng.normal(0, 0.01, 60)])
    up = embedding_shift(emb, x, np.tile([1.0, -1.0, 0.0], (60, 1)), n_neighbors=6)
    assert (up[5:-5, 0] > 0).all()  # gene 0 up, gene 1 down: towards larger embedding x
    down = embedding_shift(emb, x, np.tile([-1.0, 1.0, 0.0], (60, 1)), n_neighbors=6)
    assert (down[5:-5, 0] < 0).all()
    assert np.abs(embedding_shift(emb, x, np.zeros((60, 3)))).max() == 0


# -- eighth pass (issue 18): a given model's layer is the one checked and recorded ----------------------
def test_tl_perturb_given_model_reads_checks_and_records_its_layer(adata):
    a = adata[:200].copy()
    a.layers["log"] = a.X.copy()
    x = a.X * 3.0
    x[0, 0] = np.nan  # X is never read: the model reads layers['log']
    a.X = x
    model = scgrn.models.DeepSEM(a, layer="log", n_models=1, n_epochs=1, hidden_dim=4)
    model.train(show_progress_bar=False)
    out = scgrn.tl.perturb(a, perturbations={"Gata1": 0.0}, model=model)
    assert out.uns["perturb"]["params"]["layer"] == "log"
    np.testing.assert_array_equal(out.X, scgrn.tl.perturb(a, perturbations={"Gata1": 0.0}, model=model, layer="log").X)
    a.layers["log"] = a.layers["log"].copy()
    a.layers["log"][1, 1] = np.nan
    with pytest.raises(ValueError, match=r"adata.layers\['log'\] contains 1 NaN"):
        scgrn.tl.perturb(a, perturbations={"Gata1": 0.0}, model=model)


def test_a_users_perturbed_column_is_replaced_in_the_output_with_a_warning(adata, model):
    sub = adata[:50].copy()
    sub.obs["perturbed"] = np.where(np.arange(50) % 2 == 0, "guide", "control")  # a screen's own labels
    with pytest.warns(UserWarning, match=r"adata.obs\['perturbed'\] is replaced by True"):
        out = scgrn.tl.perturb(sub, perturbations={"Gata1": 0.0}, model=model)
    assert bool(out.obs["perturbed"].all())
    assert list(sub.obs["perturbed"][:2]) == ["guide", "control"]  # the input keeps its column
