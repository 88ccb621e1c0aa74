"""DeepSEM at scale, on small data: the TF-restricted GRN layer (block elimination), sparse and
backed input, sparse GRN output, the memory budget and the step cap."""

import anndata as ad
import numpy as np
import pytest
import torch
from scipy import sparse

import scgrn
from scgrn.models import DeepSEMEnsemble, DoesNotFitError, make_config
from scgrn.models._deepsem_training import member_bytes, parse_memory, plan_member_groups, train_deepsem

FAST = dict(n_models=2, n_epochs=3, show_progress_bar=False)
#: the TF-rows model even on small data (``"auto"`` keeps genes x genes up to 2,000 genes)
TF_ROWS = dict(FAST, tf_rows_only=True)


def _counts():
    return scgrn.datasets.planted_counts(n_genes=60, n_cells=300, n_tfs=8, random_state=1)


@pytest.fixture
def counts():
    return _counts()


@pytest.fixture(scope="module")
def _counts_tf_rows():
    adata, _ = _counts()
    scgrn.tl.deepsem(adata, tfs=list(adata.var_names[adata.var["is_tf"]]), **TF_ROWS)
    return adata


@pytest.fixture
def counts_tf_rows(_counts_tf_rows):
    """``counts`` (CSR X) after ``tl.deepsem(tfs=<its TFs>, **TF_ROWS)``, trained once: a copy."""
    return _counts_tf_rows.copy()


def _losses_and_grads(module, x, observed, dropped, seed=0):
    module.zero_grad(set_to_none=True)
    losses = module(x, observed, dropped, torch.Generator().manual_seed(seed))
    total = sum(v.sum() for v in losses.values())
    total.backward()
    module.zero_self_loop_grad()
    grads = {name: p.grad.clone() for name, p in module.named_parameters()}
    return {k: v.detach() for k, v in losses.items()}, grads


@pytest.mark.parametrize("n_genes", [6, 40])
def test_tf_rows_path_equals_full_model_when_every_gene_is_a_tf(n_genes):
    """Block elimination through the regulator block must be the full model exactly."""
    config = make_config(n_models=2, hidden_dim=8, mlp_grid=None, grn_precision="float32", dropout_augmentation=0.1)
    full = DeepSEMEnsemble(n_genes, config, seed=3)
    restricted = DeepSEMEnsemble(n_genes, config, seed=3, regulators=np.arange(n_genes))
    with torch.no_grad():  # leave the symmetric start: random W, as after some training
        w = torch.randn(full.adj.shape, generator=torch.Generator().manual_seed(0)) * 0.3 / n_genes**0.5
        full.adj.copy_(w)
        restricted.adj.copy_(w)
        full.zero_self_loops()
        restricted.zero_self_loops()
    x = torch.randn(2, 16, n_genes, generator=torch.Generator().manual_seed(1))
    observed = x > -0.5
    dropped = torch.zeros_like(observed)
    loss_full, grad_full = _losses_and_grads(full, x, observed, dropped)
    loss_tf, grad_tf = _losses_and_grads(restricted, x, observed, dropped)
    for k in loss_full:
        torch.testing.assert_close(loss_tf[k], loss_full[k], rtol=1e-4, atol=1e-6)
    for name in grad_full:
        torch.testing.assert_close(grad_tf[name], grad_full[name], rtol=1e-3, atol=1e-6)


def test_tf_rows_inverse_layer_inverts_the_layer():
    """z (I - W)^-1 through the regulator block, then (I - W), gives z back; W has TF rows only."""
    module = DeepSEMEnsemble(30, make_config(n_models=3, hidden_dim=4, grn_precision="float32", coexpression_rank=0),
                              regulators=[2, 5, 11, 29])  # the TF block alone (the term: next tests)
    with torch.no_grad():
        module.adj.normal_(0, 0.3, generator=torch.Generator().manual_seed(0))
        module.zero_self_loops()
    layer = module.grn_layer()
    z = torch.randn(3, 7, 30, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        back = module.apply_grn(module.invert_grn(z, layer), layer)
        # against the dense genes x genes W with zero non-TF rows
        dense = torch.zeros(3, 30, 30)
        dense[:, [2, 5, 11, 29]] = module.adj
        mixed = torch.linalg.solve(torch.eye(30) - dense, z, left=False)
    torch.testing.assert_close(back, z, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(module.invert_grn(z, layer).detach(), mixed, rtol=1e-4, atol=1e-5)
    assert float(module.grn().detach()[:, torch.arange(4), torch.tensor([2, 5, 11, 29])].abs().sum()) == 0.0


def test_tfs_use_the_tf_rows_model(counts, monkeypatch):
    adata, _ = counts
    tfs = list(adata.var_names[adata.var["is_tf"]])
    model = scgrn.models.DeepSEM(adata, tfs=tfs, tf_rows_only=True, n_models=2, n_epochs=3)
    model.train(show_progress_bar=False)
    assert model.module.adj.shape == (2, len(tfs), adata.n_vars)
    grn = model.get_grn()
    assert grn.shape == (adata.n_vars, adata.n_vars)
    assert np.all(grn[~adata.var["is_tf"].to_numpy()] == 0) and np.abs(grn).sum() > 0
    full = scgrn.models.DeepSEM(adata, tfs=tfs, tf_rows_only=False, n_models=2, n_epochs=3)
    full.train(show_progress_bar=False)
    assert full.module.adj.shape == (2, adata.n_vars, adata.n_vars)
    assert np.all(full.get_grn()[~adata.var["is_tf"].to_numpy()] == 0)
    assert not scgrn.models.DeepSEM(adata, tfs=tfs).tf_rows_only  # "auto": small data keep all rows
    monkeypatch.setattr("scgrn.models._deepsem.FULL_MODEL_MAX_GENES", 50)
    assert scgrn.models.DeepSEM(adata, tfs=tfs).tf_rows_only
    assert not scgrn.models.DeepSEM(adata).tf_rows_only  # no TFs: every gene regulates
    with pytest.raises(ValueError, match="tf_rows_only"):
        scgrn.models.DeepSEM(adata, tfs=tfs, tf_rows_only="yes")


def test_sparse_and_dense_input_give_the_same_result(counts, counts_tf_rows):
    adata, _ = counts
    dense = adata.copy()
    dense.X = adata.X.toarray()
    csc = adata.copy()
    csc.X = sparse.csc_matrix(adata.X)
    for a in (dense, csc):
        scgrn.tl.deepsem(a, tfs=list(adata.var_names[adata.var["is_tf"]]), **TF_ROWS)
    adata = counts_tf_rows  # the same call on the CSR input, run once for the module
    np.testing.assert_array_equal(adata.varp["deepsem"], dense.varp["deepsem"])
    np.testing.assert_array_equal(adata.varp["deepsem"], csc.varp["deepsem"])
    np.testing.assert_array_equal(adata.obsm["X_deepsem"], dense.obsm["X_deepsem"])
    assert sparse.issparse(adata.X)  # never densified in place


def test_backed_input(counts, counts_tf_rows, tmp_path, monkeypatch):
    """A backed h5ad trains block by block; with one block it matches the in-memory run."""
    adata, _ = counts
    path = tmp_path / "counts.h5ad"
    adata.write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    tfs = list(adata.var_names[adata.var["is_tf"]])
    memory = counts_tf_rows  # tl.deepsem(adata.copy(), tfs=tfs, **TF_ROWS)
    scgrn.tl.deepsem(backed, tfs=tfs, **TF_ROWS)
    np.testing.assert_allclose(backed.varp["deepsem"], memory.varp["deepsem"], rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="backed"):
        scgrn.tl.deepsem(backed, tfs=tfs, copy=True, **TF_ROWS)
    # several blocks: mini-batches come from one block at a time, and the run still learns
    monkeypatch.setattr("scgrn.models._deepsem_data.BACKED_BLOCK_CELLS", 100)
    scgrn.tl.deepsem(backed, tfs=tfs, key_added="blocks", **TF_ROWS)
    assert backed.uns["blocks"]["history"]["reconstruction"].shape == (3, 2)
    assert np.isfinite(backed.varp["blocks"]).all() and np.abs(backed.varp["blocks"]).sum() > 0
    assert not np.array_equal(backed.varp["blocks"], backed.varp["deepsem"])
    backed.file.close()


def test_sparse_grn_output(counts, counts_tf_rows, tmp_path):
    adata, _ = counts
    tfs = list(adata.var_names[adata.var["is_tf"]])
    dense = counts_tf_rows  # tl.deepsem(adata.copy(), tfs=tfs, **TF_ROWS): a dense GRN
    scgrn.tl.deepsem(adata, tfs=tfs, grn_format="sparse", **TF_ROWS)
    grn = adata.varp["deepsem"]
    assert sparse.issparse(grn) and grn.dtype == np.float32
    np.testing.assert_array_equal(grn.toarray(), dense.varp["deepsem"])
    assert set(np.unique(grn.nonzero()[0])) <= set(np.flatnonzero(adata.var["is_tf"]))
    top = scgrn.tl.deepsem(adata, tfs=tfs, grn_format="sparse", edges_per_target=3, copy=True, **TF_ROWS).varp["deepsem"]
    assert top.getnnz(axis=0).max() == 3
    # the kept edges are each target's three largest |weight|
    full = np.abs(dense.varp["deepsem"])
    col = int(np.argmax(top.getnnz(axis=0)))
    np.testing.assert_array_equal(np.sort(top[:, col].nonzero()[0]), np.sort(np.argsort(-full[:, col])[:3]))
    edges = scgrn.get.edges(adata, top_k=5)
    assert len(edges) == 5
    adata.write_h5ad(tmp_path / "out.h5ad")
    assert sparse.issparse(ad.read_h5ad(tmp_path / "out.h5ad").varp["deepsem"])
    with pytest.raises(ValueError, match="grn_format='sparse'"):
        scgrn.tl.deepsem(adata, tfs=tfs, edges_per_target=3, copy=True, **FAST)


def test_embedding_switch(counts, monkeypatch):
    adata, _ = counts
    out = scgrn.tl.deepsem(adata, embedding=False, copy=True, **FAST)
    assert "X_deepsem" not in out.obsm
    monkeypatch.setattr("scgrn.tl._deepsem.EMBEDDING_MAX_ENTRIES", 100)
    assert "X_deepsem" not in scgrn.tl.deepsem(adata, copy=True, **FAST).obsm
    assert "X_deepsem" in scgrn.tl.deepsem(adata, embedding=True, copy=True, **FAST).obsm


def test_memory_budget_splits_members_into_groups(counts):
    adata, _ = counts
    x = adata.X
    config = make_config(n_models=3, n_epochs=2, hidden_dim=8)
    one = member_bytes(adata.n_vars, 8, config)
    assert plan_member_groups(adata.n_vars, 8, config, budget=2 * one) == [2, 1]
    reg = np.flatnonzero(adata.var["is_tf"])
    model, history = train_deepsem(x, config, regulators=reg, max_memory=2 * one, show_progress_bar=False)
    assert model.adj.shape == (3, 8, adata.n_vars) and history["kl"].shape == (2, 3)
    assert not torch.equal(model.adj[0], model.adj[2])  # group 1 is seeded apart from group 0
    with pytest.raises(DoesNotFitError, match="tfs="):
        train_deepsem(x, config, max_memory=one // 2, show_progress_bar=False)
    with pytest.raises(MemoryError):
        scgrn.tl.deepsem(adata, max_memory="1KB", **FAST)
    assert parse_memory("2GB") == 2_000_000_000
    with pytest.raises(ValueError, match="max_memory"):
        parse_memory("lots")


def test_max_steps_caps_the_run_and_keeps_the_schedule(counts):
    adata, _ = counts
    config = make_config(n_models=1, n_epochs=10, batch_size=30, max_steps=25, hidden_dim=8, delay_sparsity=5)
    model = scgrn.models.DeepSEM(adata, **config.to_dict())
    assert model.params()["n_steps"] == 25  # 10 epochs x 10 steps, capped
    assert model.params()["lr_adj"] == pytest.approx(config.w_travel / ((adata.n_vars - 1) * 25))
    model.train(show_progress_bar=False)
    history = model.history["sparsity"]
    assert history.shape == (10, 1)  # the capped run still reports its n_epochs schedule points


def test_planted_counts_are_sparse_and_reproducible():
    a, truth = scgrn.datasets.planted_counts(n_genes=80, n_cells=150, n_tfs=10, random_state=4)
    b, _ = scgrn.datasets.planted_counts(n_genes=80, n_cells=150, n_tfs=10, random_state=4)
    assert sparse.isspmatrix_csr(a.X) and (a.X != b.X).nnz == 0
    assert 0.05 < a.X.nnz / np.prod(a.shape) < 0.9
    assert set(truth["source"]) <= set(a.var_names[a.var["is_tf"]])
    counts = a.layers["counts"]
    assert np.all(counts.data == np.round(counts.data))
    with pytest.raises(ValueError, match="n_tfs"):
        scgrn.datasets.planted_counts(n_genes=10, n_tfs=10)


def test_deepsem_beats_random_on_planted_counts(counts):
    adata, truth = counts
    tfs = list(adata.var_names[adata.var["is_tf"]])
    scgrn.tl.deepsem(adata, tfs=tfs, n_models=2, tf_rows_only=True, show_progress_bar=False)
    scores = scgrn.metrics.evaluate_grn(adata, truth, convention="deepsem")
    random = scgrn.metrics.random_baseline(truth, adata.var_names, convention="deepsem", n_repeats=50)
    assert scores["AUROC"] > random["AUROC"] + 0.1 and scores["EPR"] > 1.5 * random["EPR"]


def test_coexpression_term_inverse_matches_the_dense_layer():
    """TF rows plus a rank-k co-expression term (self-loops removed): apply and invert must be
    the dense genes x genes layer built from them."""
    g, reg, k = 25, [1, 4, 9], 3
    config = make_config(n_models=2, hidden_dim=4, coexpression_rank=k, grn_precision="float32")
    module = DeepSEMEnsemble(g, config, regulators=reg)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        module.adj.normal_(0, 0.3, generator=gen)
        module.zero_self_loops()
        module.coexp_b.normal_(0, 0.3, generator=gen)
    layer = module.grn_layer()
    a = (module.coexp_a * module.non_regulator).detach()
    low_rank = torch.bmm(a, module.coexp_b.detach())
    dense = low_rank - torch.diag_embed(torch.diagonal(low_rank, dim1=1, dim2=2))
    dense[:, reg] += module.adj.detach()
    assert float(a[:, reg].abs().sum()) == 0.0
    z = torch.randn(2, 6, g, generator=gen)
    with torch.no_grad():
        torch.testing.assert_close(module.apply_grn(z, layer), torch.bmm(z, torch.eye(g) - dense), rtol=1e-4, atol=1e-5)
        expected = torch.linalg.solve(torch.eye(g) - dense, z, left=False)
        torch.testing.assert_close(module.invert_grn(z, layer), expected, rtol=1e-4, atol=1e-5)
    # it trains, and the term stays out of the GRN
    adata, _ = scgrn.datasets.planted_counts(n_genes=40, n_cells=120, n_tfs=5)
    tfs = list(adata.var_names[adata.var["is_tf"]])
    model = scgrn.models.DeepSEM(adata, tfs=tfs, tf_rows_only=True, n_models=2, n_epochs=2, coexpression_rank=4)
    model.train(show_progress_bar=False)
    assert np.isfinite(model.history["reconstruction"]).all()
    assert np.all(model.get_grn()[~adata.var["is_tf"].to_numpy()] == 0)
    assert not hasattr(DeepSEMEnsemble(10, make_config(coexpression_rank=4)), "coexp_a")  # full model: no term


def test_coexpression_term_starts_as_the_full_models_non_tf_rows_except_in_tfs_only_members():
    """At construction the term's non-TF rows hold the genes x genes model's start (every edge
    1 / (genes - 1), self-loops out) except in the TFs-only members (member 1 of 3 here), whose
    term is zero; the TF rows hold none of it."""
    g, reg = 30, [2, 3, 11]
    module = DeepSEMEnsemble(g, make_config(n_models=3, coexpression_rank=4), seed=3, regulators=reg)
    term = torch.bmm(module.coexp_a * module.non_regulator, module.coexp_b).detach()
    term = term - torch.diag_embed(torch.diagonal(term, dim1=1, dim2=2))
    non_tf = np.setdiff1d(np.arange(g), reg)
    expected = torch.full((g, g), 1.0 / (g - 1)).fill_diagonal_(0.0)[non_tf]
    torch.testing.assert_close(term[[0, 2]][:, non_tf], expected.expand(2, -1, -1))
    assert float(term[1].abs().sum()) == 0.0
    assert float(term[:, reg].abs().sum()) == 0.0
    # 8 members, TFs a tenth of the genes: a quarter start TFs-only (1, 5); half when TFs are half
    for reg, zero in (([2, 3, 11], [1, 5]), (list(range(0, g, 2)), [1, 3, 5, 7])):
        module = DeepSEMEnsemble(g, make_config(n_models=8, coexpression_rank=2), seed=3, regulators=reg)
        started = (module.coexp_b.detach().abs().sum((1, 2)) > 0).nonzero().ravel().tolist()
        assert started == [m for m in range(8) if m not in zero]


def test_full_model_told_the_tfs_starts_non_tf_rows_at_zero_in_tfs_only_members(monkeypatch):
    """Genes x genes model with ``tfs``: the TFs-only members (here half the TFs' share: members 1
    and 3) start the non-TF rows at zero; the others, and every member's TF rows, start as without
    ``tfs``; with few TFs no member changes. DeepSEM passes its TFs' positions."""
    from scgrn.models import _deepsem_training

    g, tfs = 12, [1, 4, 5, 8, 9, 11]
    config = make_config(n_models=4, hidden_dim=4)
    plain = DeepSEMEnsemble(g, config, seed=5).grn().detach()
    told = DeepSEMEnsemble(g, config, seed=5, tfs=tfs).grn().detach()
    non_tf = np.setdiff1d(np.arange(g), tfs)
    torch.testing.assert_close(told[[0, 2]], plain[[0, 2]])
    torch.testing.assert_close(told[:, tfs], plain[:, tfs])
    assert float(told[1::2][:, non_tf].abs().sum()) == 0.0 < float(plain[1::2][:, non_tf].abs().sum())
    torch.testing.assert_close(DeepSEMEnsemble(g, config, seed=5, tfs=[4]).grn().detach(), plain)

    seen = []

    class Recording(DeepSEMEnsemble):
        def __init__(self, *args, tfs=None, **kwargs):
            seen.append(tfs)
            super().__init__(*args, tfs=tfs, **kwargs)

    monkeypatch.setattr(_deepsem_training, "DeepSEMEnsemble", Recording)
    adata, _ = scgrn.datasets.krumsiek11()
    names = list(adata.var_names[[0, 3]])  # 2 of 11: no TFs-only member, but the positions reach it
    scgrn.models.DeepSEM(adata, tfs=names, tf_rows_only=False, n_models=2, n_epochs=1).train(show_progress_bar=False)
    assert list(seen[0]) == [0, 3]
    scgrn.models.DeepSEM(adata, n_models=2, n_epochs=1).train(show_progress_bar=False)
    assert seen[-1] is None


def test_bfloat16_products_stay_close_to_float32():
    """grn_precision='bfloat16' rounds only the products with W: same layer within bf16 error."""
    config = dict(n_models=2, hidden_dim=4, coexpression_rank=3)
    exact = DeepSEMEnsemble(40, make_config(grn_precision="float32", **config), seed=1, regulators=[0, 5, 7, 20])
    low = DeepSEMEnsemble(40, make_config(grn_precision="bfloat16", **config), seed=1, regulators=[0, 5, 7, 20])
    low.load_state_dict(exact.state_dict())
    z = torch.randn(2, 8, 40, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = exact.invert_grn(z, exact.grn_layer()), low.invert_grn(z, low.grn_layer())
        assert low.grn_layer().w_low is not None and exact.grn_layer().w_low is None
        torch.testing.assert_close(b, a, rtol=2e-2, atol=4e-3)  # bfloat16 keeps 8 bits: 2^-8 = 3.9e-3
        assert not torch.equal(a, b)
    with pytest.raises(ValueError, match="grn_precision"):
        make_config(grn_precision="half")


def test_large_tf_rows_models_train_fewer_members_unless_asked(counts, monkeypatch):
    """The ensemble shrinks with members x TFs x genes only when n_models is not given."""
    from scgrn.models import DeepSEM, _deepsem_config

    adata, _ = counts
    tfs = list(adata.var_names[adata.var["is_tf"]])
    assert _deepsem_config.ensemble_size(8, 8, 60) == 8
    monkeypatch.setattr(_deepsem_config, "ENSEMBLE_WORK", 5 * 8 * 60)  # room for 5 members of this model
    assert DeepSEM(adata, tfs=tfs, tf_rows_only=True).config.n_models == 5
    assert DeepSEM(adata, tfs=tfs, tf_rows_only=True, n_models=8).config.n_models == 8
    assert DeepSEM(adata, tfs=tfs, tf_rows_only=False).config.n_models == 8  # genes x genes: its own rule
    monkeypatch.setattr(_deepsem_config, "ENSEMBLE_WORK", 1)
    assert DeepSEM(adata, tfs=tfs, tf_rows_only=True).config.n_models == _deepsem_config.MIN_AUTO_MEMBERS


def test_large_genes_x_genes_models_train_fewer_members_unless_asked(counts, monkeypatch):
    """The genes x genes ensemble shrinks with members x genes^3 (an LU per member and step),
    down to MIN_AUTO_MEMBERS, only when n_models is not given; presets with fewer keep theirs."""
    from scgrn.models import DeepSEM, _deepsem_config

    adata, _ = counts  # 60 genes
    assert _deepsem_config.ensemble_size(8, 2000, 2000, tf_rows=False) == 4
    assert DeepSEM(adata).config.n_models == 8
    monkeypatch.setattr(_deepsem_config, "FULL_ENSEMBLE_WORK", 6 * 60.0**3)  # room for 6 members
    assert DeepSEM(adata).config.n_models == 6
    assert DeepSEM(adata, n_models=8).config.n_models == 8
    assert DeepSEM(adata, preset="embedding").config.n_models == 4
    monkeypatch.setattr(_deepsem_config, "FULL_ENSEMBLE_WORK", 1.0)
    assert DeepSEM(adata).config.n_models == _deepsem_config.MIN_AUTO_MEMBERS
