"""Training that diverges stops with an error that names the learning rates, and writes nothing."""

import numpy as np
import pytest

import scgrn
from scgrn.models import DivergenceError


@pytest.mark.parametrize("overrides", [{"lr_nn": 1e4, "lr_adj": 1e4}, {"lr_nn": 1e4, "lr_adj": 1e4, "mlp_grid": None},
                                       {"lr_adj": 1e6}])
def test_divergence_is_an_error_naming_the_learning_rates(overrides):
    adata, _ = scgrn.datasets.krumsiek11()
    before = adata.X.copy()
    with pytest.raises(DivergenceError, match=r"lr_nn=.*lr_adj=.*Fix: lower them"):
        scgrn.tl.deepsem(adata, n_models=2, n_epochs=3, show_progress_bar=False, **overrides)
    assert "deepsem" not in adata.varp and "X_deepsem" not in adata.obsm and "deepsem" not in adata.uns
    np.testing.assert_array_equal(adata.X, before)


def test_default_learning_rates_do_not_trip_the_check():
    adata, _ = scgrn.datasets.krumsiek11()
    scgrn.tl.deepsem(adata, n_models=2, n_epochs=3, show_progress_bar=False)
    assert np.isfinite(adata.varp["deepsem"]).all()
