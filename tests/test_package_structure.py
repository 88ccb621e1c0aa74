"""Package structure: every public function of ``scgrn.pp``, ``tl``, ``pl``, ``get`` and ``metrics``
(its subpackage's ``__all__``) follows the API conventions of the design (scanpy's), read from its
signature (:func:`inspect.signature`) and its numpydoc docstring (:mod:`numpydoc.docscrape`).
One parametrised test per rule and function; a failure names the function and what to fix.

Data first
    ``pp``, ``tl``, ``get``: the first parameter is ``adata`` annotated ``AnnData``. Exempt, in
    ``NO_ADATA`` with the reason: functions that take no AnnData at all (checked: no parameter is
    annotated with one). ``pl``: the first parameter is what is drawn; a single AnnData is
    ``adata: AnnData`` (an AnnData-or-history union, like scanpy's ``data: AnnData | ...``, may
    have its own name); a results table or several AnnData of equal standing (``real``,
    ``simulated``) are named by role. ``metrics``: pure functions on arrays and tables, whose
    data are named by role (``y_true``, ``scores``, ``grn``, ``reference``, ``real``, ...); one
    that reads a single AnnData takes ``adata`` first. Everywhere: a parameter called ``adata``
    is the first and is annotated ``AnnData``, every data argument is annotated, and so is the
    return value.
Keyword-only options
    The data arguments are the leading positional parameters, and they have no default. Every
    other parameter (every one with a default) is keyword-only, after ``*``; no ``*args``.
    Parameters that were positional before keep working by position, with a FutureWarning
    (``scgrn._compat.old_positionals``), while the signature shows them keyword-only.
Writers (``pp`` / ``tl`` functions that take ``adata``)
    A function that writes into ``adata`` has ``copy: bool = False`` and ``key_added``, both
    keyword-only, returns ``AnnData | None`` (annotated), and its Returns section names what it
    writes through ``key_added``. A function that returns a new AnnData instead (return
    annotation ``AnnData``, e.g. ``tl.simulate``) has no ``copy``; its ``key_added`` names the
    ``uns`` record of the new object, named in Returns.
Shared names
    Where they appear: ``copy: bool = False``, ``layer: str | None = None``, ``device: str =
    "auto"``, ``show_progress_bar: bool | None = None`` (``None``: the ``scgrn.settings``
    default), ``random_state`` annotated.
Plots (``pl``)
    ``ax=None``, ``show: bool | None = None`` and ``return_fig: bool = False``, keyword-only; the
    return annotation names ``Figure`` and ``Axes``; Returns says what ``return_fig`` gives.
Docstrings (numpydoc)
    Parsed without warnings; a summary line; ``Parameters``, ``Returns`` (or ``Yields``) and
    ``Examples`` sections; the examples are doctests (``>>>``, run by ``--doctest-modules``);
    every parameter of the signature (``**kwargs`` written as ``**kwargs``) is documented, in
    signature order, and no parameter that the signature lacks.
"""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from numpydoc.docscrape import FunctionDoc

import scgrn

MODULES = ("pp", "tl", "pl", "get", "metrics")
#: Functions of pp / tl / get that take no AnnData, with the reason.
NO_ADATA = {
    "tl.grn_methods": "lists the registry of GRN methods; takes no data",
    "get.edges_from_matrix": "the matrix counterpart of get.edges (a weight matrix and gene names)",
}
#: Shared parameter names: annotation and default wherever they appear.
SHARED = {
    "copy": ("bool", False),
    "layer": ("str | None", None),
    "device": ("str", "auto"),
    "show_progress_bar": ("bool | None", None),
}
PLOT_PARAMS = {"show": ("bool | None", None), "return_fig": ("bool", False)}
POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
API = [
    (f"{module}.{name}", getattr(getattr(scgrn, module), name))
    for module in MODULES
    for name in getattr(scgrn, module).__all__
    if callable(getattr(getattr(scgrn, module), name))
]
IDS = [qualname for qualname, _ in API]


def _ann(annotation) -> str:
    """An annotation as written (they are strings under ``from __future__ import annotations``)."""
    if annotation is inspect.Parameter.empty:
        return ""
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def _data_params(sig: inspect.Signature) -> list[inspect.Parameter]:
    return [p for p in sig.parameters.values() if p.kind in POSITIONAL]


def _takes_adata(qualname: str) -> bool:
    return qualname.split(".")[0] in ("pp", "tl", "get") and qualname not in NO_ADATA


def _doc(func) -> FunctionDoc:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpydoc warns on unknown sections, bad headers, ...
        return FunctionDoc(func)


def test_api_is_listed():
    """Every public callable of the five subpackages is in ``__all__`` and is a function."""
    for module in MODULES:
        mod = getattr(scgrn, module)
        public = {n for n, o in vars(mod).items() if not n.startswith("_") and not inspect.ismodule(o)}
        assert public == set(mod.__all__), f"scgrn.{module}: not in __all__: {public - set(mod.__all__)}"
    assert len(API) > 30 and all(inspect.isfunction(f) for _, f in API)


@pytest.mark.parametrize(("qualname", "func"), API, ids=IDS)
def test_data_first(qualname, func):
    sig = inspect.signature(func)
    params = list(sig.parameters.values())
    problems = []
    if _takes_adata(qualname):
        if not params or params[0].name != "adata":
            problems.append("the first parameter must be `adata`")
    elif qualname in NO_ADATA:
        annotated = [p.name for p in params if "AnnData" in _ann(p.annotation)]
        if annotated:
            problems.append(f"exempt from `adata` first ({NO_ADATA[qualname]}) but takes AnnData: {annotated}")
    else:  # pl, metrics: data named by role, but a single AnnData is `adata`
        data = _data_params(sig)
        anndatas = [p for p in data if "AnnData" in _ann(p.annotation)]
        if len(anndatas) == 1 and _ann(anndatas[0].annotation) == "AnnData" and anndatas[0].name != "adata":
            problems.append(f"the one AnnData argument `{anndatas[0].name}` must be called `adata`")
    if "adata" in sig.parameters:
        if params[0].name != "adata":
            problems.append("`adata` must be the first parameter")
        if _ann(sig.parameters["adata"].annotation) != "AnnData":
            problems.append("`adata` must be annotated `AnnData`")
    for p in _data_params(sig):
        if not _ann(p.annotation):
            problems.append(f"data argument `{p.name}` has no annotation")
    if sig.return_annotation is inspect.Signature.empty:
        problems.append("no return annotation")
    assert not problems, f"{qualname}: " + "; ".join(problems)


@pytest.mark.parametrize(("qualname", "func"), API, ids=IDS)
def test_options_are_keyword_only(qualname, func):
    sig = inspect.signature(func)
    problems = []
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            problems.append(f"*{p.name}: no *args in the public API")
        elif p.kind in POSITIONAL and p.default is not inspect.Parameter.empty:
            problems.append(f"`{p.name}` has a default, so it is an option: make it keyword-only (after `*`)")
    positional = [p.name for p in sig.parameters.values() if p.kind in POSITIONAL]
    if _takes_adata(qualname) and positional != ["adata"]:
        problems.append(f"only `adata` may be positional, not {positional[1:]}")
    assert not problems, f"{qualname}: " + "; ".join(problems)


@pytest.mark.parametrize(("qualname", "func"), API, ids=IDS)
def test_shared_names(qualname, func):
    sig = inspect.signature(func)
    problems = []
    for name, (annotation, default) in SHARED.items():
        p = sig.parameters.get(name)
        if p is None:
            continue
        if _ann(p.annotation) != annotation or p.default != default or p.kind is not p.KEYWORD_ONLY:
            problems.append(f"`{name}` must be keyword-only `{name}: {annotation} = {default!r}`")
    if "random_state" in sig.parameters and not _ann(sig.parameters["random_state"].annotation):
        problems.append("`random_state` has no annotation")
    assert not problems, f"{qualname}: " + "; ".join(problems)


WRITERS = [(q, f) for q, f in API if q.split(".")[0] in ("pp", "tl") and _takes_adata(q)]


@pytest.mark.parametrize(("qualname", "func"), WRITERS, ids=[q for q, _ in WRITERS])
def test_writers_copy_and_key_added(qualname, func):
    sig = inspect.signature(func)
    returns = _ann(sig.return_annotation)
    problems = []
    key_added = sig.parameters.get("key_added")
    if key_added is None or key_added.kind is not key_added.KEYWORD_ONLY:
        problems.append("needs a keyword-only `key_added`")
    elif _ann(key_added.annotation) not in ("str", "str | None"):
        problems.append("`key_added` must be annotated `str` (or `str | None` for a derived default)")
    returns_doc = " ".join(" ".join([r.name, r.type, *r.desc]) for r in _doc(func)["Returns"])
    if "key_added" not in returns_doc:
        problems.append("the Returns section must name what is written through `key_added`")
    if returns == "AnnData":  # builds a new AnnData: nothing written into the input
        if "copy" in sig.parameters:
            problems.append("returns a new AnnData, so `copy` means nothing")
    else:
        if "copy" not in sig.parameters:
            problems.append("writes into adata: needs `copy: bool = False`")
        if returns != "AnnData | None":
            problems.append(f"return annotation must be `AnnData | None` (None, or the copy), not {returns!r}")
        if "copy" not in returns_doc:
            problems.append("the Returns section must say what `copy=True` returns")
    assert not problems, f"{qualname}: " + "; ".join(problems)


PLOTS = [(q, f) for q, f in API if q.startswith("pl.")]


@pytest.mark.parametrize(("qualname", "func"), PLOTS, ids=[q for q, _ in PLOTS])
def test_plots_take_ax_show_return_fig(qualname, func):
    sig = inspect.signature(func)
    problems = []
    for name, (annotation, default) in {"ax": (None, None), **PLOT_PARAMS}.items():
        p = sig.parameters.get(name)
        if p is None:
            problems.append(f"no `{name}`")
            continue
        if p.kind is not p.KEYWORD_ONLY or p.default != default:
            problems.append(f"`{name}` must be keyword-only with default {default!r}")
        if annotation and _ann(p.annotation) != annotation:
            problems.append(f"`{name}` must be annotated `{annotation}`")
        if name == "ax" and "Axes" not in _ann(p.annotation):
            problems.append("`ax` must be annotated with `Axes`")
    returns = _ann(sig.return_annotation)
    if "Figure" not in returns or "Axes" not in returns:
        problems.append(f"return annotation {returns!r} must name Figure and Axes")
    returns_doc = " ".join(" ".join([r.name, r.type, *r.desc]) for r in _doc(func)["Returns"])
    if "return_fig" not in returns_doc:
        problems.append("the Returns section must say what `return_fig` gives")
    assert not problems, f"{qualname}: " + "; ".join(problems)


@pytest.mark.parametrize(("qualname", "func"), API, ids=IDS)
def test_numpydoc_docstring(qualname, func):
    try:
        doc = _doc(func)
    except Warning as w:  # raised by the "error" filter
        pytest.fail(f"{qualname}: numpydoc cannot parse the docstring cleanly: {w}")
    problems = []
    if not doc["Summary"]:
        problems.append("no summary line")
    for section in ("Parameters", "Examples"):
        if not doc[section]:
            problems.append(f"no {section} section")
    if not (doc["Returns"] or doc["Yields"]):
        problems.append("no Returns (or Yields) section")
    if doc["Examples"] and not any(line.lstrip().startswith(">>>") for line in doc["Examples"]):
        problems.append("the Examples section has no doctest (`>>>`)")
    sig = inspect.signature(func)
    expected = [
        ("**" if p.kind is p.VAR_KEYWORD else "") + p.name for p in sig.parameters.values()
    ]
    documented = [name.strip() for p in doc["Parameters"] for name in p.name.split(",")]
    missing = [n for n in expected if n not in documented]
    unknown = [n for n in documented if n not in expected]
    if missing:
        problems.append(f"parameters not documented: {missing}")
    if unknown:
        problems.append(f"documented but not in the signature: {unknown}")
    if not missing and not unknown and documented != expected:
        problems.append(f"Parameters are documented in another order than the signature's: {documented}")
    assert not problems, f"{qualname}: " + "; ".join(problems)


# -- former positional arguments -----------------------------------------------------------------
def _grn_adata() -> AnnData:
    adata = AnnData(np.zeros((3, 4), dtype=np.float32), var=pd.DataFrame(index=["a", "b", "c", "d"]))
    adata.varp["w"] = np.arange(16, dtype=np.float32).reshape(4, 4)
    return adata


def test_former_positional_arguments_still_work_with_a_future_warning():
    adata = _grn_adata()
    expected = scgrn.get.edges(adata, key="w")
    with pytest.warns(FutureWarning, match=re.escape("edges(..., key='w')")):
        pd.testing.assert_frame_equal(scgrn.get.edges(adata, "w"), expected)
    with pytest.warns(FutureWarning, match="input"):
        assert list(scgrn.tl.grn_methods("perturbation").index) == ["perturbode"]
    with pytest.raises(TypeError, match="multiple values for argument 'key'"):
        scgrn.get.edges(adata, "w", key="w")
    with pytest.raises(TypeError, match="positional"):
        scgrn.get.edges(adata, "w", 3)
