"""The GRN method registry (scgrn.tl._registry): flags match the real signatures."""

from __future__ import annotations

import dataclasses
import inspect

import anndata as ad
import numpy as np
import pytest

import scgrn
from scgrn.bench import _beeline
from scgrn.metrics import _consistency
from scgrn.tl._registry import GRN_METHODS, INPUTS, GRNMethod, get_grn_method

_FLAGS = {  # GRNMethod flag -> the argument it says the function takes
    "tfs": "tfs",
    "seeded": "random_state",
    "progress_bar": "show_progress_bar",
    "parallel": "n_jobs",
    "distributed": "client",
    "groupby": "groupby",
}


@pytest.mark.parametrize("name", list(GRN_METHODS))
def test_flags_match_signature(name):
    m = GRN_METHODS[name]
    params = inspect.signature(m.function).parameters
    first = next(iter(params.values()))
    assert first.name == "adata" and first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    for arg in ("key_added", "copy"):
        assert params[arg].kind is inspect.Parameter.KEYWORD_ONLY, (name, arg)
    for flag, arg in _FLAGS.items():
        takes = arg in params and params[arg].kind is inspect.Parameter.KEYWORD_ONLY
        assert getattr(m, flag) == takes, f"{name}.{flag}={getattr(m, flag)}, takes {arg}: {takes}"
    for arg in m.kwargs:  # fixed arguments are named parameters, not swallowed by **kwargs
        assert arg in params and params[arg].kind is inspect.Parameter.KEYWORD_ONLY, (name, arg)
    assert m.input in INPUTS


def test_every_grn_tool_is_registered():
    """A public tl function with the GRN tool interface (tfs=, key_added=) is in the registry."""
    registered = {m.function for m in GRN_METHODS.values()}
    for name in scgrn.tl.__all__:
        fn = getattr(scgrn.tl, name)
        params = inspect.signature(fn).parameters if callable(fn) else {}
        if "tfs" in params and "key_added" in params:
            assert fn in registered, f"scgrn.tl.{name} looks like a GRN tool but is not registered"


def test_registry_users_agree():
    expression = list(scgrn.tl.grn_methods(input="expression").index)
    assert list(_beeline.METHODS) == expression
    assert set(_consistency._JUDGES) == set(expression)


def test_grn_methods_table():
    table = scgrn.tl.grn_methods()
    assert list(table.index) == list(GRN_METHODS)
    assert list(table.columns) == ["function", "kwargs", "input", "tfs", "seeded", "progress_bar",
                                   "parallel", "distributed", "groupby"]
    assert table.loc["pearson", "kwargs"] == {"method": "pearson"}
    series = set(scgrn.tl.grn_methods(input="time_series").index)
    assert series == {"dyngenie3", "time_lagged_correlation"}
    with pytest.raises(ValueError, match="input"):
        scgrn.tl.grn_methods(input="images")


def test_method_is_frozen_and_lookup_errors():
    m = get_grn_method("pearson")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.seeded = True
    with pytest.raises(TypeError):
        m.kwargs["method"] = "spearman"
    with pytest.raises(ValueError, match="registered"):
        get_grn_method("aracne")
    with pytest.raises(ValueError, match="input"):
        GRNMethod("x", scgrn.tl.pidc, input="images")


def test_infer_passes_shared_arguments_by_flag():
    calls = []

    def tool(adata, *, tfs=None, key_added="k", random_state=0, show_progress_bar=None,
             n_jobs=None, copy=False, **kw):
        calls.append({"tfs": tfs, "random_state": random_state,
                      "show_progress_bar": show_progress_bar, "n_jobs": n_jobs, **kw})
        out = adata.copy()
        out.varp[key_added] = np.ones((adata.n_vars, adata.n_vars), dtype=np.float32)
        return out

    adata = ad.AnnData(np.zeros((3, 2), dtype=np.float32))
    full = GRNMethod("full", tool, {"alpha": 1}, seeded=True, progress_bar=True, parallel=True)
    W = full.infer(adata, tfs=["0"], random_state=7, n_jobs=2, alpha=2)
    assert W.shape == (2, 2) and "_grn_method" not in adata.varp
    assert calls[-1] == {"tfs": ["0"], "random_state": 7, "show_progress_bar": False, "n_jobs": 2,
                         "alpha": 2}
    GRNMethod("bare", tool).infer(adata, random_state=7, n_jobs=2)
    assert calls[-1] == {"tfs": None, "random_state": 0, "show_progress_bar": None, "n_jobs": None}
    with pytest.raises(ValueError, match="does not take tfs"):
        GRNMethod("no_tfs", tool, tfs=False).infer(adata, tfs=["0"])


def test_infer_runs_a_real_tool():
    adata, truth = scgrn.datasets.planted_network(n_genes=25, n_cells=120, random_state=1)
    tfs = list(truth["source"].unique())
    W = get_grn_method("spearman").infer(adata, tfs=tfs)
    ref = scgrn.tl.correlation(adata, method="spearman", tfs=tfs, copy=True).varp["spearman"]
    np.testing.assert_array_equal(W, ref)
    assert not adata.varp  # the input is left alone


def test_grn_consistency_takes_a_function():
    adata, _ = scgrn.datasets.planted_network(n_genes=25, n_cells=120, random_state=2)
    by_fn = scgrn.metrics.grn_consistency(adata, adata, method=scgrn.tl.correlation, top=(0.1,))
    by_name = scgrn.metrics.grn_consistency(adata, adata, method="pearson", top=(0.1,))
    assert by_fn.equals(by_name)
    with pytest.raises(ValueError, match="method"):
        scgrn.metrics.grn_consistency(adata, adata, method="dyngenie3")
