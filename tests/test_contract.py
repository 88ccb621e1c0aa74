"""The contract every public tool keeps with its user: nothing silently wrong.

One parametrised contract over every registered GRN method (``scgrn.tl.grn_methods()``):
bad ``key_added``, NaN in X, empty data, integer ``var_names``, ``random_state=None`` (runs and
records the seed) and string seeds (a clear error), copy semantics, ``adata.X`` never mutated,
and nothing written when a call fails. Then the other public tools, degenerate data, and
property-based tests (hypothesis) of the argument validators in ``scgrn._params``.
"""

from __future__ import annotations

import math
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scgrn
from _registry_helpers import REGISTRY, call_method, method_data
from scgrn._params import (
    MAX_SEED,
    SCANPY_KEYS,
    ParameterTypeError,
    check_device,
    check_float,
    check_int,
    check_key,
    check_random_state,
)
from scgrn._settings import resolve_device


DATA = {kind: method_data(kind) for kind in REGISTRY["input"].unique()}


def _fresh(name: str) -> ad.AnnData:
    return DATA[REGISTRY.loc[name, "input"]].copy()


def _untouched(adata, before: ad.AnnData, key: str = "k") -> None:
    """``adata`` holds nothing under ``key`` and the same X as ``before``."""
    assert key not in adata.varp and key not in adata.uns
    assert not any(str(c).startswith(key) for c in adata.var.columns)
    np.testing.assert_array_equal(adata.X, before.X)


METHODS = list(REGISTRY.index)
SEEDED = [m for m in METHODS if REGISTRY.loc[m, "seeded"]]


# ---------------------------------------------------------------------------------------------
# the GRN contract, over every registered method
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("key, error", [(5, TypeError), ("", ValueError), ("a/b", ValueError)])
def test_bad_key_added_refused_before_any_work(name, key, error):
    adata = _fresh(name)
    before = adata.copy()
    with pytest.raises(error, match="key_added"):
        call_method(name, adata, key_added=key)
    _untouched(adata, before, key="a")


@pytest.mark.parametrize("name", METHODS)
def test_nan_in_x_refused(name):
    adata = _fresh(name)
    adata.X[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        call_method(name, adata, key_added="k")
    assert "k" not in adata.varp


@pytest.mark.parametrize("name", METHODS)
def test_empty_data_refused(name):
    adata = _fresh(name)
    with pytest.raises(ValueError, match="cell"):
        call_method(name, adata[:0].copy(), key_added="k")


@pytest.mark.parametrize("name", METHODS)
def test_integer_var_names_refused_with_the_fix(name):
    adata = _fresh(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anndata's ImplicitModificationWarning
        adata.var_names = pd.RangeIndex(adata.n_vars)
    extra = {"tfs": [0, 3]} if REGISTRY.loc[name, "tfs"] else {}
    with pytest.raises(ValueError, match=r"adata\.var_names = adata\.var_names\.astype\(str\)"):
        call_method(name, adata, key_added="k", **extra)


@pytest.mark.parametrize("name", SEEDED)
def test_random_state_none_runs_and_records_the_seed(name):
    out = call_method(name, _fresh(name), key_added="k", random_state=None, copy=True)
    seed = out.uns["k"]["params"]["random_state"]
    assert isinstance(seed, int) and 0 <= seed < 2**31


@pytest.mark.parametrize("name", SEEDED)
@pytest.mark.parametrize("seed", ["0", "abc", 1.5, True])
def test_non_integer_seed_refused(name, seed):
    adata = _fresh(name)
    with pytest.raises(TypeError, match="random_state"):
        call_method(name, adata, key_added="k", random_state=seed)
    assert "k" not in adata.varp


@pytest.mark.parametrize("name", METHODS)
def test_copy_semantics_and_x_never_mutated(name, tmp_path):
    adata = _fresh(name)
    before = adata.copy()
    out = call_method(name, adata, key_added="k", copy=True)
    assert isinstance(out, ad.AnnData) and out is not adata
    _untouched(adata, before)
    grn = out.varp["k"]
    assert grn.shape == (adata.n_vars, adata.n_vars) and grn.dtype == np.float32
    out.write_h5ad(tmp_path / "out.h5ad")  # everything written is h5ad-writable
    assert call_method(name, adata, key_added="k", copy=False) is None
    assert "k" in adata.varp and "k" in adata.uns
    np.testing.assert_array_equal(adata.X, before.X)


@pytest.mark.parametrize("name", METHODS)
def test_copy_on_backed_refused_before_any_work(name, tmp_path):
    _fresh(name).write_h5ad(tmp_path / "a.h5ad")
    backed = ad.read_h5ad(tmp_path / "a.h5ad", backed="r")
    with pytest.raises(ValueError, match="backed"):
        call_method(name, backed, key_added="k", copy=True)
    backed.file.close()


# ---------------------------------------------------------------------------------------------
# all or nothing: a failure after the computation leaves adata as it was
# ---------------------------------------------------------------------------------------------
def _boom(*args, **kwargs):
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    "name, cls, method",
    [("deepsem", scgrn.models.DeepSEM, "get_latent_representation"),
     ("perturbode", scgrn.models.PerturbODE, "get_parameters")],
)
def test_failure_after_training_writes_nothing(name, cls, method, monkeypatch):
    adata = _fresh(name)
    before = adata.copy()
    monkeypatch.setattr(cls, method, _boom)
    with pytest.raises(RuntimeError, match="boom"):
        call_method(name, adata, key_added="k")
    _untouched(adata, before)
    assert not any(str(k).startswith("k") for k in list(adata.varm) + list(adata.obsm))


def test_select_genes_subset_on_backed_refused_before_writing(tmp_path):
    adata = DATA["expression"].copy()
    adata.write_h5ad(tmp_path / "a.h5ad")
    backed = ad.read_h5ad(tmp_path / "a.h5ad", backed="r")
    tfs = list(adata.var_names[adata.var["is_tf"]])
    with pytest.raises(ValueError, match="backed"):
        scgrn.pp.select_genes(backed, tfs=tfs, n_top=2, subset=True)
    assert list(backed.var.columns) == ["is_tf"] and "scgrn_selected" not in backed.uns
    backed.file.close()


# ---------------------------------------------------------------------------------------------
# the other public tools: keys, seeds, names checked before anything happens
# ---------------------------------------------------------------------------------------------
def _tfs(adata):
    return list(adata.var_names[adata.var["is_tf"]])


OTHER_TOOLS = {
    "select_genes": lambda a, **kw: scgrn.pp.select_genes(a, tfs=_tfs(a), n_top=2, **kw),
    "simulate": lambda a, **kw: scgrn.tl.simulate(a, n_obs=5, n_epochs=1, show_progress_bar=False, **kw),
    "simulate_baseline": lambda a, **kw: scgrn.tl.simulate_baseline(a, n_obs=5, **kw),
    "leiden_matched": lambda a, **kw: scgrn.tl.leiden_matched(a, n_clusters=2, use_rep="X", **kw),
    "pair_classifier": lambda a, **kw: scgrn.tl.pair_classifier(a, train=[], **kw),
}


@pytest.mark.parametrize("tool", list(OTHER_TOOLS))
@pytest.mark.parametrize("key, error", [(5, TypeError), ("", ValueError)])
def test_other_tools_refuse_bad_keys(tool, key, error):
    adata = DATA["expression"].copy()
    before = adata.copy()
    with pytest.raises(error, match="key_added"):
        OTHER_TOOLS[tool](adata, key_added=key)
    assert list(adata.var.columns) == list(before.var.columns) and set(adata.uns) == set(before.uns)
    assert not adata.obsp and set(adata.obs.columns) == set(before.obs.columns)


def test_simulate_seed_none_recorded_and_bad_numbers_refused():
    adata = DATA["expression"].copy()
    adata.X = np.abs(adata.X)  # log-expression-like: non-negative
    sim = scgrn.tl.simulate(adata, n_obs=5, n_epochs=1, random_state=None, show_progress_bar=False)
    assert 0 <= sim.uns["simulate"]["params"]["random_state"] < 2**31
    for kw, match in [(dict(n_obs=10.7), "n_obs"), (dict(noise_scale=float("nan")), "noise_scale"),
                      (dict(spread=float("inf")), "spread"), (dict(random_state="1"), "random_state"),
                      (dict(device="bogus"), "'cuda:N'"), (dict(batch_size="64"), "batch_size")]:
        with pytest.raises(ValueError, match=match):
            scgrn.tl.simulate(adata, **kw)


def test_get_edges_and_select_genes_name_the_type_of_var_names():
    adata = DATA["expression"].copy()
    adata.varp["x"] = np.ones((adata.n_vars, adata.n_vars), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata.var_names = pd.RangeIndex(adata.n_vars)
    with pytest.raises(ValueError, match=r"astype\(str\)"):
        scgrn.get.edges(adata, key="x")
    with pytest.raises(ValueError, match=r"astype\(str\)"):
        scgrn.pp.select_genes(adata, tfs=[0, 3])


# ---------------------------------------------------------------------------------------------
# degenerate data
# ---------------------------------------------------------------------------------------------
def test_pidc_with_a_bin_per_cell_refused():
    adata = DATA["expression"].copy()
    with pytest.raises(ValueError, match="n_bins=40 must be below the number of cells"):
        scgrn.tl.pidc(adata, n_bins=40, show_progress_bar=False)


@pytest.mark.parametrize("kwargs", [dict(engine="sklearn"), dict(engine="numba")])
def test_grnboost2_single_tf(kwargs):
    adata = DATA["expression"].copy()
    tf = _tfs(adata)[:1]
    out = scgrn.tl.grnboost2(adata, tfs=tf, n_estimators=10, n_jobs=1, show_progress_bar=False, copy=True, **kwargs)
    W = out.varp["grnboost2"]
    i = adata.var_names.get_loc(tf[0])
    assert W[i].sum() > 0 and not np.delete(W, i, axis=0).any()


def test_genie3_single_tf():
    adata = DATA["expression"].copy()
    tf = _tfs(adata)[:1]
    out = scgrn.tl.genie3(adata, tfs=tf, n_estimators=5, n_jobs=1, show_progress_bar=False, copy=True)
    assert out.varp["genie3"][adata.var_names.get_loc(tf[0])].sum() > 0


@pytest.mark.parametrize("n_cells", [0, 1])
def test_select_genes_needs_two_cells(n_cells):
    adata = DATA["expression"][:n_cells].copy()
    with pytest.raises(ValueError, match="at least 2 cells"):
        scgrn.pp.select_genes(adata, tfs=_tfs(adata))


def test_select_genes_nan_names_nan_and_writes_nothing():
    adata = DATA["expression"].copy()
    adata.X[0, adata.var_names.get_loc(_tfs(adata)[0])] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        scgrn.pp.select_genes(adata, tfs=_tfs(adata))
    assert "scgrn_selected" not in adata.var


def test_evaluate_grn_warns_on_an_all_tied_network():
    adata = DATA["expression"]
    ref = pd.DataFrame({"source": adata.var_names[:2], "target": adata.var_names[2:4]})
    with pytest.warns(UserWarning, match="same \\|weight\\|"):
        scgrn.metrics.evaluate_grn(np.zeros((adata.n_vars,) * 2), ref, var_names=adata.var_names)


def test_leiden_matched_refuses_nan_representation_and_one_cell():
    adata = DATA["expression"].copy()
    adata.obsm["X_bad"] = np.where(np.arange(adata.n_obs)[:, None] == 0, np.nan, adata.X[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        scgrn.tl.leiden_matched(adata, n_clusters=2, use_rep="X_bad")
    assert "leiden_matched_neighbors" not in adata.uns and not adata.obsp
    with pytest.raises(ValueError, match="at least 2 cells"):
        scgrn.tl.leiden_matched(adata[:1].copy(), n_clusters=1, use_rep="X")
    with pytest.raises(TypeError, match="n_clusters"):
        scgrn.tl.leiden_matched(adata, n_clusters=2.5, use_rep="X")
    out = scgrn.tl.leiden_matched(adata, n_clusters=2, use_rep="X", random_state=None, copy=True)
    assert 0 <= out.uns["leiden_matched"]["params"]["random_state"] < 2**31
    assert "leiden_matched_neighbors" in out.uns and "leiden_matched_neighbors" not in adata.uns


@pytest.mark.parametrize(
    "make, kwargs, match",
    [
        (scgrn.datasets.planted_network, dict(noise=float("nan")), "noise"),
        (scgrn.datasets.planted_network, dict(n_genes=30.7), "n_genes"),
        (scgrn.datasets.simulate_perturbation_screen, dict(noise=float("nan")), "noise"),
        (scgrn.datasets.simulate_perturbation_screen, dict(dt=float("nan")), "dt"),
        (scgrn.datasets.simulate_perturbation_screen, dict(n_perturbations=2.5), "n_perturbations"),
        (scgrn.datasets.planted_time_series, dict(noise=float("inf")), "noise"),
        (scgrn.datasets.planted_time_series, dict(dt=float("nan")), "dt"),
        (scgrn.datasets.planted_counts, dict(mean_count=-1.0), "mean_count"),
        (scgrn.datasets.planted_network, dict(random_state="0"), "random_state"),
    ],
)
def test_simulators_refuse_bad_parameters(make, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make(**kwargs)


def test_simulators_record_a_drawn_seed():
    adata, _ = scgrn.datasets.planted_network(random_state=None)
    seed = adata.uns["dataset"]["params"]["random_state"]
    again, _ = scgrn.datasets.planted_network(random_state=seed)
    np.testing.assert_array_equal(adata.X, again.X)


# ---------------------------------------------------------------------------------------------
# hyperparameters of the models
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field, value, error",
    [("lr_nn", -1.0, ValueError), ("lr_adj", -1e-3, ValueError), ("alpha", -1.0, ValueError),
     ("alpha", float("nan"), ValueError), ("beta", -0.1, ValueError), ("w_travel", -0.5, ValueError),
     ("chi", -1.0, ValueError), ("n_epochs", 2.5, TypeError), ("n_epochs", "2", TypeError),
     ("hidden_dim", 8.7, TypeError), ("batch_size", "64", TypeError), ("n_models", True, TypeError),
     ("init_noise", float("inf"), ValueError), ("dropout_augmentation", 1.0, ValueError)],
)
def test_deepsem_config_checks_every_number(field, value, error):
    with pytest.raises(error, match=field):
        scgrn.models.make_config("default", **{field: value})


def test_zero_adjacency_learning_rate_freezes_the_grn():
    """lr_adj=0 (or w_travel=0) is a documented control, not a bad input: W keeps its start."""
    assert scgrn.models.make_config("default", lr_adj=0.0).lr_adj == 0.0
    assert scgrn.models.make_config("default", w_travel=0).w_travel == 0.0


def test_configs_store_plain_python_numbers():
    cfg = scgrn.models.make_config("default", n_epochs=np.int64(3), alpha=np.float32(2.0))
    assert type(cfg.n_epochs) is int and type(cfg.alpha) is float


@pytest.mark.parametrize("field, value", [("n_epochs", 2.5), ("lr", float("nan")), ("l1", -1.0),
                                          ("counterfactual", "yes"), ("knockout_level_init", 1.0)])
def test_perturbode_config_checks(field, value):
    with pytest.raises(ValueError, match=field):
        scgrn.models.PerturbODEConfig(**{field: value}).validate(10)


@pytest.mark.parametrize("field, value", [("n_epochs", 2.5), ("lr", -1.0), ("dropout", float("nan")),
                                          ("weight_decay", -1.0), ("n_models", "5")])
def test_pair_classifier_config_checks(field, value):
    with pytest.raises(ValueError, match=field):
        scgrn.models.PairClassifierConfig(**{field: value})


def test_device_errors_name_the_allowed_values():
    for bad in ("bogus", "gpu", "cuda:x"):
        with pytest.raises(ValueError, match="'auto'.*'cpu'.*'cuda'.*'cuda:N'.*'mps'"):
            resolve_device(bad)
    with pytest.raises(TypeError, match="device"):
        resolve_device(0)
    old = scgrn.settings.device
    try:
        with pytest.raises(ValueError, match="settings.device"):  # refused when set
            scgrn.settings.device = "bogus"
        assert scgrn.settings.device == old
        object.__setattr__(scgrn.settings, "device", "bogus")  # and when read, if set around the check
        with pytest.raises(ValueError, match="settings.device"):
            resolve_device("auto")
    finally:
        object.__setattr__(scgrn.settings, "device", old)


# ---------------------------------------------------------------------------------------------
# property-based tests of the validators
# ---------------------------------------------------------------------------------------------
FAST_PROPERTIES = settings(max_examples=200, deadline=None)
ints = st.integers(min_value=-(2**40), max_value=2**40)


@FAST_PROPERTIES
@given(value=ints, low=st.integers(-100, 100), span=st.integers(0, 200))
def test_check_int_accepts_exactly_the_integers_in_range(value, low, span):
    high = low + span
    if low <= value <= high:
        out = check_int("n", np.int64(value) if abs(value) < 2**62 else value, min=low, max=high)
        assert out == value and type(out) is int
    else:
        with pytest.raises(ValueError, match="n must be an integer"):
            check_int("n", value, min=low, max=high)


@FAST_PROPERTIES
@given(value=st.one_of(st.floats(allow_nan=True), st.text(), st.booleans(), st.lists(st.integers())))
def test_check_int_refuses_every_non_integer(value):
    with pytest.raises(ParameterTypeError, match="must be an integer"):
        check_int("n", value)


@FAST_PROPERTIES
@given(value=st.floats(allow_nan=True, allow_infinity=True), low=st.floats(-1e6, 1e6), open_=st.booleans())
def test_check_float_accepts_finite_numbers_in_range_only(value, low, open_):
    ok = math.isfinite(value) and (value > low if open_ else value >= low)
    if ok:
        assert check_float("x", value, min=low, min_open=open_) == value
    else:
        with pytest.raises(ValueError, match="x must be a finite number"):
            check_float("x", value, min=low, min_open=open_)


@FAST_PROPERTIES
@given(value=st.one_of(st.text(), st.booleans(), st.none(), st.lists(st.floats())))
def test_check_float_refuses_non_numbers(value):
    with pytest.raises(ParameterTypeError):
        check_float("x", value)


@FAST_PROPERTIES
@given(key=st.text())
def test_check_key_accepts_non_blank_strings_without_slash(key):
    if key.strip() and "/" not in key:
        assert check_key("key_added", key, allow_scanpy_keys=True) == key
        if key not in SCANPY_KEYS:
            assert check_key("key_added", key) == key
    else:
        with pytest.raises(ValueError, match="key_added"):
            check_key("key_added", key)


@FAST_PROPERTIES
@given(key=st.one_of(st.integers(), st.floats(), st.none(), st.booleans(), st.binary()))
def test_check_key_refuses_non_strings(key):
    with pytest.raises(ParameterTypeError, match="key_added"):
        check_key("key_added", key)


@FAST_PROPERTIES
@given(seed=st.integers(-(2**40), 2**40))
def test_check_random_state_integers(seed):
    if 0 <= seed < MAX_SEED:
        assert check_random_state(np.uint32(seed) if seed < 2**32 else seed) == seed
    else:
        with pytest.raises(ValueError, match="random_state"):
            check_random_state(seed)


@FAST_PROPERTIES
@given(seed=st.integers(0, 2**32 - 1))
def test_check_random_state_generators_are_reproducible(seed):
    a = check_random_state(np.random.default_rng(seed))
    assert a == check_random_state(np.random.default_rng(seed)) and 0 <= a < 2**31
    assert check_random_state(np.random.RandomState(seed)) == check_random_state(np.random.RandomState(seed))
    assert 0 <= check_random_state(None) < 2**31


@FAST_PROPERTIES
@given(value=st.one_of(st.text(), st.floats(), st.booleans()))
def test_check_random_state_refuses_non_integers(value):
    with pytest.raises(ParameterTypeError, match="random_state"):
        check_random_state(value)


@FAST_PROPERTIES
@given(index=st.integers(0, 10**6), name=st.text(max_size=8))
def test_check_device_spellings(index, name):
    for ok in ("auto", "cpu", "cuda", "mps", f"cuda:{index}"):
        assert check_device(ok) == ok
    if name not in ("auto", "cpu", "cuda", "mps") and not name.startswith("cuda:"):
        with pytest.raises(ValueError, match="'cuda:N'"):
            check_device(name)
