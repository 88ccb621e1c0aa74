"""tl.deepsem and models.DeepSEM: contract, orientation, determinism, persistence, errors."""

import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from anndata import AnnData

import scgrn

FAST = dict(n_models=2, n_epochs=3, show_progress_bar=False)


@pytest.fixture(scope="module")
def krumsiek():
    return scgrn.datasets.krumsiek11()


def test_keys_shapes_dtypes(krumsiek_deepsem):
    adata, _ = krumsiek_deepsem
    grn = adata.varp["deepsem"]
    assert grn.shape == (adata.n_vars, adata.n_vars) and grn.dtype == np.float32
    assert np.all(np.diag(grn) == 0)
    emb = adata.obsm["X_deepsem"]
    assert emb.shape == (adata.n_obs, adata.n_vars) and emb.dtype == np.float32
    assert np.isfinite(emb).all()
    record = adata.uns["deepsem"]
    assert record["method"] == "deepsem" and record["version"] == scgrn.__version__
    assert record["params"]["n_models"] == 4 and record["params"]["random_state"] == 0
    assert record["history"]["reconstruction"].shape == (60, 4)


def test_beats_random_on_krumsiek11(krumsiek_deepsem):
    adata, truth = krumsiek_deepsem
    scores = scgrn.metrics.evaluate_grn(adata, truth, convention="beeline")
    random = scgrn.metrics.random_baseline(truth, adata.var_names, convention="beeline", n_repeats=200)
    assert scores["AUROC"] > random["AUROC"] + 0.05
    assert scores["AUPRC_ratio"] > random["AUPRC_ratio"]


def test_orientation_of_the_grn_layer():
    """Plant one edge g0 -> g1 in W: the inverse GRN layer must feed g0 into g1, not back."""
    import torch

    from scgrn.models import DeepSEMEnsemble, make_config

    module = DeepSEMEnsemble(3, make_config(n_models=1, hidden_dim=4))
    with torch.no_grad():
        module.adj.zero_()
        module.adj[0, 0, 1] = 0.5  # row = regulator 0, column = target 1
    z = torch.tensor([[[1.0, 0.0, 0.0]]])  # latent drive on the regulator only
    with torch.no_grad():
        mixed = torch.linalg.solve(module.i_minus_w(), z, left=False)
        remixed = torch.bmm(torch.tensor([[[1.0, 0.5, 0.0]]]), module.i_minus_w())
    np.testing.assert_allclose(mixed.numpy()[0, 0], [1.0, 0.5, 0.0], atol=1e-6)
    # the GRN layer undoes it: z = h (I - W)
    np.testing.assert_allclose(remixed.numpy()[0, 0], [1.0, 0.0, 0.0], atol=1e-6)


def test_tabulated_mlp_matches_the_exact_one():
    """The training-time lookup table must give the MLP's values and gradients, not a new model."""
    import torch

    from scgrn.models import DeepSEMEnsemble, make_config

    module = DeepSEMEnsemble(5, make_config(n_models=2, hidden_dim=16), seed=0)
    x = (torch.randn(2, 3000, generator=torch.Generator().manual_seed(0)) * 4).requires_grad_(True)
    exact = module.decoder(x)
    grad_exact = torch.autograd.grad(exact.sum(), [x, module.decoder.w2])
    table = module.decoder.forward_tabulated(x, 512)
    grad_table = torch.autograd.grad(table.sum(), [x, module.decoder.w2])
    scale = exact.abs().mean().item()
    assert (table - exact).abs().max().item() < 1e-3 * scale
    weight_error = (grad_table[1] - grad_exact[1]).norm() / grad_exact[1].norm()
    assert weight_error.item() < 1e-3
    # the input gradient is the interpolation slope: close to the MLP's derivative
    assert np.corrcoef(grad_table[0].numpy().ravel(), grad_exact[0].numpy().ravel())[0, 1] > 0.999
    # a coarse table is measurably worse: the test can fail
    coarse = module.decoder.forward_tabulated(x, 4)
    assert (coarse - exact).abs().max().item() > 1e-2 * scale


def test_varp_is_the_models_w_untransposed(krumsiek):
    """tl.deepsem stores the model's W as is (row = regulator): no transpose at the boundary."""
    adata, _ = krumsiek
    model = scgrn.models.DeepSEM(adata, n_models=2, n_epochs=3)
    model.train(show_progress_bar=False)
    out = scgrn.tl.deepsem(adata, copy=True, **FAST)
    w = model.get_grn(members=True)
    expected = np.abs(w).mean(0) * np.sign(w.mean(0))
    np.testing.assert_allclose(out.varp["deepsem"], expected, rtol=1e-6)
    assert not np.allclose(expected, expected.T)


def test_recovers_planted_network():
    adata, truth = scgrn.datasets.planted_network(n_genes=25, n_cells=400, random_state=1)
    scgrn.tl.deepsem(adata, n_models=4, n_epochs=40, show_progress_bar=False)
    scores = scgrn.metrics.evaluate_grn(adata, truth, convention="beeline")
    random = scgrn.metrics.random_baseline(truth, adata.var_names, convention="beeline", n_repeats=50)
    assert scores["AUROC"] > 0.8 > random["AUROC"] + 0.2
    assert scores["EPR"] > 2 * random["EPR"]


def test_same_seed_same_result(krumsiek):
    adata, _ = krumsiek
    a = scgrn.tl.deepsem(adata, copy=True, random_state=3, **FAST)
    b = scgrn.tl.deepsem(adata, copy=True, random_state=3, **FAST)
    c = scgrn.tl.deepsem(adata, copy=True, random_state=4, **FAST)
    np.testing.assert_array_equal(a.varp["deepsem"], b.varp["deepsem"])
    np.testing.assert_array_equal(a.obsm["X_deepsem"], b.obsm["X_deepsem"])
    assert not np.array_equal(a.varp["deepsem"], c.varp["deepsem"])


def test_copy_semantics_and_nothing_else_changes(krumsiek):
    adata, _ = krumsiek
    adata = adata.copy()
    before = adata.copy()
    out = scgrn.tl.deepsem(adata, copy=True, **FAST)
    assert isinstance(out, AnnData) and "deepsem" not in adata.varp and "deepsem" not in adata.uns
    np.testing.assert_array_equal(adata.X, before.X)
    assert scgrn.tl.deepsem(adata, key_added="grn1", **FAST) is None
    np.testing.assert_array_equal(adata.X, before.X)
    assert set(adata.varp) == {"grn1"} and set(adata.obsm) == set(before.obsm) | {"X_grn1"}
    assert set(adata.uns) == set(before.uns) | {"grn1"}
    pd.testing.assert_frame_equal(adata.obs, before.obs)
    pd.testing.assert_frame_equal(adata.var, before.var)


def test_h5ad_round_trip(krumsiek_deepsem, tmp_path):
    adata, _ = krumsiek_deepsem
    path = tmp_path / "a.h5ad"
    adata.write_h5ad(path)
    back = sc.read_h5ad(path)
    np.testing.assert_array_equal(back.varp["deepsem"], adata.varp["deepsem"])
    np.testing.assert_array_equal(back.obsm["X_deepsem"], adata.obsm["X_deepsem"])
    assert back.uns["deepsem"]["params"]["preset"] == "default"
    np.testing.assert_array_equal(back.uns["deepsem"]["history"]["kl"], adata.uns["deepsem"]["history"]["kl"])


def test_tfs_zero_other_rows(krumsiek):
    adata, _ = krumsiek
    tfs = ["Gata1", "Pu.1"]
    out = scgrn.tl.deepsem(adata, tfs=tfs, copy=True, **FAST)
    grn = out.varp["deepsem"]
    other = ~out.var_names.isin(tfs)
    assert np.all(grn[other] == 0) and np.any(grn[~other] != 0)
    assert list(out.uns["deepsem"]["tfs"]) == tfs


def test_model_save_load(krumsiek, tmp_path):
    adata, _ = krumsiek
    model = scgrn.models.DeepSEM(adata, n_models=2, n_epochs=2)
    with pytest.raises(RuntimeError, match="train"):
        model.get_grn()
    model.train(show_progress_bar=False)
    model.save(tmp_path / "m")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m")
    loaded = scgrn.models.DeepSEM.load(tmp_path / "m", adata)
    np.testing.assert_array_equal(loaded.get_grn(), model.get_grn())
    np.testing.assert_allclose(loaded.get_latent_representation(), model.get_latent_representation())
    with pytest.raises(ValueError, match="var_names"):
        scgrn.models.DeepSEM.load(tmp_path / "m", adata[:, ::-1].copy())
    assert model.get_grn(members=True).shape == (2, 11, 11)


def test_latent_in_blocks_equals_one_block(krumsiek, monkeypatch):
    """Cells encoded a block at a time (members' signs read from the first block) give the
    embedding of one pass over all cells."""
    import scgrn.models._deepsem as deepsem_module

    adata, _ = krumsiek
    model = scgrn.models.DeepSEM(adata, n_models=3, n_epochs=3)
    model.train(show_progress_bar=False)
    whole = model.get_latent_representation()
    monkeypatch.setattr(deepsem_module, "LATENT_BLOCK_CELLS", 100)  # 640 cells: 7 blocks
    np.testing.assert_allclose(model.get_latent_representation(), whole, rtol=1e-5, atol=1e-5)


def test_presets_and_overrides(krumsiek):
    adata, _ = krumsiek
    out = scgrn.tl.deepsem(adata, preset="celltype_specific", copy=True, **FAST)
    params = out.uns["deepsem"]["params"]
    assert params["beta"] == 0.01 and params["alpha"] == 1.0 and params["optimizer"] == "alternate"
    assert params["n_epochs"] == 3  # override wins over the preset
    with pytest.raises(ValueError, match="preset"):
        scgrn.tl.deepsem(adata, preset="nope", **FAST)
    with pytest.raises(TypeError, match="hyperparameter"):
        scgrn.tl.deepsem(adata, not_a_param=1, **FAST)


def test_dropout_augmentation_follows_the_datas_zeros(small):
    """None (the default) augments dropouts only in data that have them, and then trains exactly as
    an explicit 0.1; a rate the user gives is kept; the resolved rate is what params record."""
    from scgrn.models import make_config, train_deepsem

    dense = small  # gamma draws: no zero entry
    sparse_like = small.copy()
    sparse_like.X[np.random.default_rng(1).random(sparse_like.shape) < 0.3] = 0.0
    assert scgrn.models.DeepSEM(dense).config.dropout_augmentation == 0.0
    assert scgrn.models.DeepSEM(sparse_like).config.dropout_augmentation == 0.1
    assert scgrn.models.DeepSEM(dense, dropout_augmentation=0.2).config.dropout_augmentation == 0.2
    auto = scgrn.tl.deepsem(sparse_like, copy=True, embedding=False, **FAST)
    given = scgrn.tl.deepsem(sparse_like, copy=True, embedding=False, dropout_augmentation=0.1, **FAST)
    np.testing.assert_array_equal(auto.varp["deepsem"], given.varp["deepsem"])
    assert auto.uns["deepsem"]["params"]["dropout_augmentation"] == 0.1
    off = scgrn.tl.deepsem(dense, copy=True, embedding=False, **FAST)
    assert off.uns["deepsem"]["params"]["dropout_augmentation"] == 0.0
    assert "dropout_classifier" not in off.uns["deepsem"]["history"]
    # the low-level trainer resolves None itself
    _, history = train_deepsem(dense.X, make_config(n_models=1, n_epochs=2, hidden_dim=4), show_progress_bar=False)
    assert "dropout_classifier" not in history


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 1.0, size=(60, 8)).astype(np.float32)
    return AnnData(x, obs=pd.DataFrame(index=[f"c{i}" for i in range(60)]),
                   var=pd.DataFrame(index=[f"G{i}" for i in range(8)]))


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (lambda a: a.X.__setitem__((0, 0), np.nan), "NaN"),
        (lambda a: a.X.__setitem__((1, 2), np.inf), "inf"),
        (lambda a: a.X.__setitem__((slice(None), 3), 0.0), "zero"),
    ],
)
def test_bad_values_raise(small, corrupt, match):
    corrupt(small)
    with pytest.raises(ValueError, match=match):
        scgrn.tl.deepsem(small, **FAST)


def test_too_few_cells(small):
    with pytest.raises(ValueError, match="cells"):
        scgrn.tl.deepsem(small[:5].copy(), **FAST)


def test_unknown_tfs(small):
    with pytest.raises(ValueError, match="NOT_A_GENE"):
        scgrn.tl.deepsem(small, tfs=["G0", "NOT_A_GENE"], **FAST)


def test_transposed_input(small):
    with pytest.raises(ValueError, match=r"adata\.T|transpos"):
        scgrn.tl.deepsem(small.T.copy(), tfs=["G0"], **FAST)


def test_raw_counts_warn(small):
    small.X = np.random.default_rng(0).poisson(40, size=small.shape).astype(np.float32)
    with pytest.warns(UserWarning, match="log1p"):
        scgrn.tl.deepsem(small, **FAST)


# -- eighth pass (issue 18): new cells are embedded with the training statistics -----------------------
def test_latent_of_subset_equals_rows_of_full(krumsiek):
    """get_latent_representation(adata) z-scores with the training statistics and keeps the members'
    signs: a subset gives the same rows as all cells, and single cells get their own embedding."""
    adata, _ = krumsiek
    model = scgrn.models.DeepSEM(adata, n_models=3, n_epochs=1, hidden_dim=4)
    model.train(show_progress_bar=False)
    full = model.get_latent_representation()
    ery = (adata.obs["cell_type"] == "Ery").to_numpy()
    np.testing.assert_allclose(model.get_latent_representation(adata[ery]), full[ery], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.get_latent_representation(adata[3:4], units="expression"),
                               model.get_latent_representation(units="expression")[3:4], rtol=1e-4, atol=1e-4)
    one, two = model.get_latent_representation(adata[:1]), model.get_latent_representation(adata[1:2])
    assert not np.allclose(one, two) or np.allclose(full[0], full[1])
    np.testing.assert_array_equal(model.get_latent_representation(adata), full)
