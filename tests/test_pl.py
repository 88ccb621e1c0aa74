import matplotlib

matplotlib.use("Agg")

import anndata as ad  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy import sparse  # noqa: E402

import scgrn  # noqa: E402

GENES = ["Gata1", "Fli1", "Klf1", "Pu.1", "Cebpa", "Gfi1"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def adata():
    W = np.zeros((6, 6), dtype=np.float32)
    W[0, 2] = 0.9  # Gata1 -> Klf1
    W[0, 1] = 0.7  # Gata1 -> Fli1
    W[0, 3] = -0.8  # Gata1 -| Pu.1
    W[3, 0] = -0.75  # Pu.1 -| Gata1
    W[3, 4] = 0.6  # Pu.1 -> Cebpa
    W[4, 5] = 0.3  # Cebpa -> Gfi1
    adata = ad.AnnData(np.zeros((4, 6), dtype=np.float32), var=pd.DataFrame(index=GENES))
    adata.varp["deepsem"] = W
    epochs = 12
    adata.uns["deepsem"] = {
        "method": "manual",
        "params": {},
        "history": {
            "loss": np.linspace(3, 1, epochs),
            "reconstruction": np.linspace(2.5, 0.9, epochs),
            "kl": np.linspace(0.4, 0.05, epochs),
            "sparsity": np.linspace(0.1, 0.05, epochs),
        },
    }
    return adata


def _drawn_labels(ax):
    return {t.get_text() for t in ax.texts}


def test_grn_return_fig(adata):
    fig = scgrn.pl.grn(adata, return_fig=True)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert _drawn_labels(ax) == set(GENES)
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert any(s.startswith("regulator") for s in legend) and any(s.startswith("target") for s in legend)
    assert {"activation (+)", "repression (−)"} <= legend


def test_grn_respects_ax(adata):
    fig, (ax0, ax1) = plt.subplots(1, 2)
    out = scgrn.pl.grn(adata, ax=ax1, show=False)
    assert out is ax1
    assert len(ax0.texts) == 0 and len(ax1.texts) == len(GENES)
    assert scgrn.pl.grn(adata, ax=ax0, return_fig=True) is fig


def test_grn_show_true_returns_none(adata):
    assert scgrn.pl.grn(adata, show=True) is None


def test_grn_top_k_and_genes(adata):
    ax = scgrn.pl.grn(adata, top_k=1, show=False)
    assert _drawn_labels(ax) == {"Gata1", "Klf1"}
    ax = scgrn.pl.grn(adata, genes=["Pu.1", "Cebpa", "Gfi1"], show=False)
    assert _drawn_labels(ax) == {"Pu.1", "Cebpa", "Gfi1"}
    with pytest.raises(ValueError, match="not in adata.var_names"):
        scgrn.pl.grn(adata, genes=["nope"])


def test_grn_deterministic_layout(adata):
    def positions():
        ax = scgrn.pl.grn(adata, show=False)
        return {t.get_text(): t.get_position() for t in ax.texts}

    assert positions() == positions()


def _drawing(ax):
    """What a GRN figure shows: node labels and positions, edge colours and widths, legend, title."""
    edges = [
        (tuple(np.round(p.get_facecolor(), 6)), round(float(p.get_linewidth()), 6))
        for p in ax.patches
    ]
    return (
        {t.get_text(): tuple(np.round(t.get_position(), 9)) for t in ax.texts},
        sorted(edges),
        [t.get_text() for t in ax.get_legend().get_texts()],
        ax.get_title(),
    )


@pytest.mark.parametrize("top_k", [3, 30])
def test_grn_sparse_varp_draws_like_dense(adata, top_k):
    rng = np.random.default_rng(0)
    W = np.round(rng.normal(size=(6, 6)), 1).astype(np.float32)
    W[rng.random((6, 6)) < 0.4] = 0
    adata.varp["deepsem"] = W
    dense = _drawing(scgrn.pl.grn(adata, top_k=top_k, show=False))
    adata.varp["deepsem"] = sparse.csr_matrix(W)
    fig = scgrn.pl.grn(adata, top_k=top_k, return_fig=True)
    assert isinstance(fig, Figure)
    assert _drawing(fig.axes[0]) == dense
    assert len(fig.axes[0].patches) == min(top_k, np.count_nonzero(W) - np.count_nonzero(np.diag(W)))


@pytest.mark.parametrize("layout", ["kamada_kawai", "circular", "shell"])
def test_grn_layouts(adata, layout):
    assert isinstance(scgrn.pl.grn(adata, layout=layout, show=False), Axes)


def test_grn_empty_graph_raises(adata):
    adata.varp["deepsem"] = np.eye(6, dtype=np.float32)  # self-loops only
    with pytest.raises(ValueError, match="No edges to draw"):
        scgrn.pl.grn(adata)
    with pytest.raises(ValueError, match="top_k"):
        scgrn.pl.grn(adata, top_k=0)


def test_training_history_anndata(adata):
    fig = scgrn.pl.training_history(adata, return_fig=True)
    assert isinstance(fig, Figure)
    assert [a.get_title() for a in fig.axes] == ["loss", "reconstruction", "kl", "sparsity"]
    axes = scgrn.pl.training_history(adata, show=False, log=True)
    assert len(axes) == 4 and all(a.get_yscale() == "log" for a in axes)


def test_training_history_dict_1d_and_2d():
    rng = np.random.default_rng(0)
    history = {"loss": list(np.linspace(1, 0.1, 8)), "kl": 0.1 + rng.random((8, 3))}
    axes = scgrn.pl.training_history(history, show=False)
    assert len(axes) == 2
    assert len(axes[1].collections) == 1  # min-max band for the 2-D term
    assert len(axes[0].collections) == 0
    np.testing.assert_allclose(axes[1].lines[0].get_ydata(), history["kl"].mean(axis=1))


def test_training_history_single_ax_and_model_like():
    class Model:
        history = {"loss": np.arange(5.0, 0, -1), "kl": np.ones((5, 2))}

    fig, ax = plt.subplots()
    out = scgrn.pl.training_history(Model(), ax=ax, show=False)
    assert out is ax and len(ax.lines) == 2 and ax.get_legend() is not None


def test_training_history_errors(adata):
    with pytest.raises(ValueError, match="empty"):
        scgrn.pl.training_history({})
    del adata.uns["deepsem"]["history"]
    with pytest.raises(KeyError, match="history"):
        scgrn.pl.training_history(adata)
    with pytest.raises(KeyError, match="scgrn.tl.deepsem"):
        scgrn.pl.training_history(adata, key="missing")
    with pytest.warns(UserWarning, match="non-positive"):
        scgrn.pl.training_history({"loss": np.array([1.0, -1.0])}, log=True, show=False)
