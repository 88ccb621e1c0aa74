"""Cell embeddings and clustering: tl.deepsem(preset="embedding"), tl.leiden_matched,
metrics.cluster_scores, datasets.clustering and bench.clustering."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from anndata import AnnData

import scgrn
from scgrn.bench import _clustering as bench_clustering

FAST = dict(n_epochs=3, show_progress_bar=False)


def _grouped(n_groups=4, n_per_group=40, n_genes=30, seed=0) -> AnnData:
    """Log-expression-like cells in clearly separated groups (each group lifts its own genes)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_groups), n_per_group)
    means = rng.uniform(0.5, 1.5, size=(n_groups, n_genes))
    for g in range(n_groups):
        means[g, g * (n_genes // n_groups) : (g + 1) * (n_genes // n_groups)] += 3.0
    x = rng.normal(means[labels], 0.4)
    x[rng.random(x.shape) < 0.1] = 0.0  # dropouts
    x = np.maximum(x, 0).astype(np.float32)
    obs = pd.DataFrame({"group": pd.Categorical([f"type{g}" for g in labels])},
                       index=[f"c{i}" for i in range(len(labels))])
    return AnnData(x, obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(n_genes)]))


@pytest.fixture(scope="module")
def grouped():
    return _grouped()


@pytest.fixture(scope="module")
def _embedded(grouped):
    adata = grouped.copy()
    scgrn.tl.deepsem(adata, preset="embedding", n_epochs=20, show_progress_bar=False)
    return adata


@pytest.fixture
def embedded(_embedded):
    """``grouped`` after ``tl.deepsem(preset="embedding", n_epochs=20)``, trained once: a copy."""
    return _embedded.copy()


# -- metrics.cluster_scores ---------------------------------------------------------------------
def test_cluster_scores_identical_labelings_score_one():
    obs = pd.DataFrame({"truth": list("aaabbbccc"), "pred": list("222000111")})
    s = scgrn.metrics.cluster_scores(AnnData(np.zeros((9, 1)), obs=obs.set_index(obs.index.astype(str))), labels_key="truth", cluster_key="pred")
    assert s["ARI"] == pytest.approx(1.0) and s["NMI"] == pytest.approx(1.0) and s["AMI"] == pytest.approx(1.0)
    assert (s["n_cells"], s["n_labels"], s["n_clusters"]) == (9, 3, 3)


def test_cluster_scores_random_labelings_score_near_zero():
    rng = np.random.default_rng(0)
    obs = pd.DataFrame({"truth": rng.integers(0, 5, 3000).astype(str), "pred": rng.integers(0, 5, 3000).astype(str)})
    s = scgrn.metrics.cluster_scores(AnnData(np.zeros((3000, 1)), obs=obs.set_index(obs.index.astype(str))), labels_key="truth", cluster_key="pred")
    assert abs(s["ARI"]) < 0.02 and abs(s["AMI"]) < 0.02 and s["NMI"] < 0.02


def test_cluster_scores_partial_agreement_in_between_and_nan_dropped():
    obs = pd.DataFrame({"truth": ["a", "a", "a", "b", "b", "b", None], "pred": ["0", "0", "1", "1", "1", "1", "0"]})
    s = scgrn.metrics.cluster_scores(AnnData(np.zeros((7, 1)), obs=obs.set_index(obs.index.astype(str))), labels_key="truth", cluster_key="pred")
    assert s["n_cells"] == 6
    assert 0.0 < s["NMI"] < 1.0 and s["ARI"] < 1.0


def test_cluster_scores_missing_key():
    adata = AnnData(np.zeros((3, 1)), obs=pd.DataFrame({"truth": list("abc")}, index=list("xyz")))
    with pytest.raises(KeyError, match="nope"):
        scgrn.metrics.cluster_scores(adata, labels_key="truth", cluster_key="nope")


# -- tl.leiden_matched --------------------------------------------------------------------------
@pytest.mark.parametrize("n_clusters", [4, 6, 9])
def test_leiden_matched_hits_requested_number(grouped, n_clusters):
    adata = grouped.copy()
    sc.pp.pca(adata, n_comps=10)
    scgrn.tl.leiden_matched(adata, n_clusters=n_clusters, use_rep="X_pca", n_neighbors=15)
    assert adata.obs["leiden_matched"].nunique() == n_clusters
    assert isinstance(adata.obs["leiden_matched"].dtype, pd.CategoricalDtype)
    record = adata.uns["leiden_matched"]
    assert record["n_clusters"] == record["target"] == n_clusters and record["resolution"] >= 0
    assert "leiden_matched_neighbors" in adata.uns


def test_leiden_matched_groupby_recovers_clear_groups(grouped):
    adata = grouped.copy()
    sc.pp.pca(adata, n_comps=10)
    out = scgrn.tl.leiden_matched(adata, groupby="group", use_rep="X_pca", key_added="lm", copy=True)
    assert "lm" not in adata.obs and out.obs["lm"].nunique() == 4
    s = scgrn.metrics.cluster_scores(out, labels_key="group", cluster_key="lm")
    assert s["ARI"] > 0.9


def test_leiden_matched_existing_graph_and_errors(grouped):
    adata = grouped.copy()
    sc.pp.pca(adata, n_comps=10)
    sc.pp.neighbors(adata, n_neighbors=15)
    assert scgrn.tl.leiden_matched(adata, n_clusters=4) is None  # uses adata.uns["neighbors"]
    assert adata.obs["leiden_matched"].nunique() == 4
    assert adata.uns["leiden_matched"]["params"]["neighbors_key"] == "neighbors"
    with pytest.raises(ValueError, match="exactly one"):
        scgrn.tl.leiden_matched(adata)
    with pytest.raises(ValueError, match="exactly one"):
        scgrn.tl.leiden_matched(adata, n_clusters=3, groupby="group")
    with pytest.raises(KeyError, match="nope"):
        scgrn.tl.leiden_matched(adata, groupby="nope")


# -- tl.deepsem(preset="embedding") -------------------------------------------------------------
def test_embedding_preset_is_the_papers():
    preset = scgrn.models.PRESETS["embedding"]
    assert preset["alpha"] == 10.0 and preset["beta"] == 1.0 and preset["loss_on"] == "nonzero"
    scgrn.models.DeepSEMConfig(**preset).validate()


def test_embedding_keys_and_shapes(embedded, grouped):
    emb = embedded.obsm["X_deepsem"]
    assert emb.shape == (grouped.n_obs, grouped.n_vars) and emb.dtype == np.float32 and np.isfinite(emb).all()
    params = embedded.uns["deepsem"]["params"]
    assert params["preset"] == "embedding" and params["alpha"] == 10.0 and params["loss_on"] == "nonzero"
    # usable as scanpy's representation
    sc.pp.neighbors(embedded, use_rep="X_deepsem", n_neighbors=15)
    assert embedded.obsp["connectivities"].shape == (grouped.n_obs, grouped.n_obs)


def test_embedding_separates_clear_groups(embedded):
    adata = embedded.copy()
    scgrn.tl.leiden_matched(adata, groupby="group", use_rep="X_deepsem", n_neighbors=15)
    s = scgrn.metrics.cluster_scores(adata, labels_key="group", cluster_key="leiden_matched")
    assert s["ARI"] > 0.9, s


def test_embedding_units(grouped):
    model = scgrn.models.DeepSEM(grouped, preset="embedding", n_epochs=2)
    model.train(show_progress_bar=False)
    z = model.get_latent_representation()
    sd = np.asarray(grouped.X).std(0)
    np.testing.assert_allclose(model.get_latent_representation(units="expression"), z * sd, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="units"):
        model.get_latent_representation(units="counts")
    out = scgrn.tl.deepsem(grouped, preset="embedding", copy=True, **FAST)
    assert out.uns["deepsem"]["params"]["embedding_units"] == "expression"
    out = scgrn.tl.deepsem(grouped, n_models=1, copy=True, **FAST)  # other presets keep z-scored units
    assert out.uns["deepsem"]["params"]["embedding_units"] == "standardised"
    with pytest.raises(ValueError, match="embedding_units"):
        scgrn.tl.deepsem(grouped, embedding_units="counts", copy=True, **FAST)


def test_embedding_copy_and_key_added(grouped):
    out = scgrn.tl.deepsem(grouped, preset="embedding", key_added="emb", copy=True, **FAST)
    assert "X_emb" in out.obsm and "X_emb" not in grouped.obsm


# -- datasets.clustering --------------------------------------------------------------------------
def test_pbmc68k_loader():
    adata = scgrn.datasets.clustering("pbmc68k_reduced")
    assert adata.shape == (700, 765) and adata.obs["label"].nunique() == 10
    assert adata.X.min() >= 0  # log-normalised .raw, not the scaled X


def test_clustering_loader_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("SCGRN_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="SCGRN_DATA_DIR"):
        scgrn.datasets.clustering("yan2013_human_embryo")
    (tmp_path / "clustering").mkdir()
    AnnData(np.ones((3, 2), dtype=np.float32), obs=pd.DataFrame({"label": list("abb")}, index=list("xyz"))).write_h5ad(
        tmp_path / "clustering" / "tiny.h5ad")
    with pytest.raises(FileNotFoundError, match="available.*tiny"):
        scgrn.datasets.clustering("nope", data_dir=tmp_path)
    tiny = scgrn.datasets.clustering("tiny", data_dir=tmp_path)  # integers: treated as counts
    assert tiny.uns["dataset"]["scale"] == "counts" and "counts" in tiny.layers
    np.testing.assert_allclose(tiny.X, np.log1p(5e3))
    assert scgrn.datasets.list_clustering(tmp_path) == ["tiny", "pbmc68k_reduced"]


@pytest.mark.realdata
def test_clustering_loader_real_sets(shared_data_dir):
    names = scgrn.datasets.list_clustering()
    assert len(names) >= 6
    scales = {}
    for name in names:
        adata = scgrn.datasets.clustering(name)
        assert adata.obs["label"].nunique() >= 3 and np.isfinite(adata.X).all()
        assert 0 <= adata.X.min() and adata.X.max() < 20  # log scale everywhere
        scales[name] = adata.uns["dataset"]["scale"]
    assert scales["mouse_bladder_2100"] == "counts" and scales["yan2013_human_embryo"] == "linear"
    assert scales["pollen2014_human_11types"] == "log"


# -- bench.clustering -----------------------------------------------------------------------------
def test_bench_clustering_pbmc(monkeypatch):
    monkeypatch.setattr(bench_clustering, "_scvi_available", lambda: False)
    with pytest.warns(UserWarning, match="scvi-tools"):
        table, emb = scgrn.bench.clustering(
            ["pbmc68k_reduced"], methods=["pca", "deepsem", "scvi"], seeds=[0], n_top_genes=100,
            deepsem_kwargs=dict(n_epochs=2), return_embeddings=True, show_progress_bar=False,
        )
    ok = table[table["status"] == "ok"]
    assert list(ok["method"]) == ["pca", "deepsem"]
    assert (ok["n_clusters"] == 10).all() and ok["ARI"].between(-1, 1).all() and (ok["seconds"] > 0).all()
    assert table.loc[table["method"] == "scvi", "status"].item().startswith("skipped")
    assert emb[("pbmc68k_reduced", "deepsem")].obsm["X_deepsem"].shape == (700, 100)
    summary = scgrn.bench.summarise_clustering(table)
    assert set(summary["method"]) == {"pca", "deepsem"} and (summary["n_seeds"] == 1).all()


def test_bench_scvi_missing_message(monkeypatch):
    monkeypatch.setattr(bench_clustering, "_scvi_available", lambda: False)
    adata = scgrn.datasets.clustering("pbmc68k_reduced")
    with pytest.raises(ImportError, match="pip install scvi-tools"):
        scgrn.bench.embed_cells(adata, "scvi")
    with pytest.raises(ValueError, match="Unknown method"):
        scgrn.bench.clustering(["pbmc68k_reduced"], methods=["umap"])
