"""Sphinx configuration for the scgrn documentation.

Build (warnings are errors; notebooks are rendered from their committed outputs)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

Parts of the site are generated here, at configuration time, so that they never go stale
(all of them are git-ignored, see ``docs/.gitignore``):

- ``api/index.md``: the API reference, one section per public subpackage of scgrn
  (discovered with :mod:`pkgutil`), listing that subpackage's ``__all__``; autosummary
  writes one page per entry into ``api/generated/``;
- ``generated/tool_outputs.inc``: the Returns section of every ``pp`` / ``tl`` function,
  included by ``anndata.md`` ("what each tool writes");
- ``generated/benchmarks/results/``: a copy of ``benchmarks/results/`` (every ``*.md`` there
  becomes a page; figures, tables and the benchmark scripts come along so that relative links
  resolve); a placeholder page if there is none;
- ``tutorials/*.ipynb``: copies of the committed notebooks in ``tutorials/``.

No network is needed: intersphinx is only switched on with ``SCGRN_DOCS_INTERSPHINX=1``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import shutil
import sys
import textwrap
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))  # an uninstalled checkout builds too

import scgrn  # noqa: E402

# -- project ---------------------------------------------------------------------------------
project = "scgrn"
author = "scgrn developers"
copyright = f"{date.today().year}, {author}"
release = scgrn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
if os.environ.get("SCGRN_DOCS_INTERSPHINX") == "1":  # needs the network: opt-in only
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "pandas": ("https://pandas.pydata.org/docs/", None),
        "anndata": ("https://anndata.readthedocs.io/en/stable/", None),
        "scanpy": ("https://scanpy.readthedocs.io/en/stable/", None),
        "matplotlib": ("https://matplotlib.org/stable/", None),
        "torch": ("https://pytorch.org/docs/stable/", None),
        "sklearn": ("https://scikit-learn.org/stable/", None),
    }

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
master_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "_templates"]
templates_path = ["_templates"]

# -- MyST / myst-nb ---------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # rendered from committed outputs; .ci/docs executes them separately
nb_merge_streams = True
# Pages copied from benchmarks/results/ are written by benchmark scripts, not by hand:
# their heading levels may skip (# then ###).
suppress_warnings = ["myst.header"]

# -- autodoc / autosummary / napoleon ---------------------------------------------------------
autosummary_generate = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_default_options = {"show-inheritance": False}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_param = True

# -- HTML ---------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = f"scgrn {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "use_download_button": True,
}
html_show_sourcelink = False

# ---------------------------------------------------------------------------------------------
# Generated parts
# ---------------------------------------------------------------------------------------------

#: Subpackages first, in the order of the analysis flow; anything else public follows A-Z.
_SUBPACKAGE_ORDER = ["pp", "tl", "pl", "get", "metrics", "datasets", "models", "bench"]
_SUBPACKAGE_TITLES = {
    "pp": "Preprocessing",
    "tl": "Tools",
    "pl": "Plotting",
    "get": "Getters",
    "metrics": "Metrics",
    "datasets": "Datasets",
    "models": "Models",
    "bench": "Benchmarking",
}


def _write_if_changed(path: Path, text: str) -> None:
    """Rewrite only on change, so Sphinx does not rebuild untouched pages."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


def _copy_if_changed(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.is_file() or dst.read_bytes() != src.read_bytes():
        shutil.copyfile(src, dst)


def _public_subpackages() -> list[str]:
    found = [m.name for m in pkgutil.iter_modules(scgrn.__path__) if m.ispkg and not m.name.startswith("_")]
    ordered = [n for n in _SUBPACKAGE_ORDER if n in found]
    return ordered + sorted(n for n in found if n not in ordered)


def _api_section(name: str) -> str:
    module = importlib.import_module(f"scgrn.{name}")  # an import error fails the build loudly
    public = [n for n in getattr(module, "__all__", []) if not n.startswith("_")]
    if not public:
        return ""
    functions, classes, data = [], [], []
    for obj_name in public:
        obj = getattr(module, obj_name)
        if inspect.isclass(obj):
            classes.append(obj_name)
        elif callable(obj):
            functions.append(obj_name)
        else:
            data.append(obj_name)
    title = _SUBPACKAGE_TITLES.get(name, name.capitalize())
    doc = inspect.getdoc(module) or ""
    summary = doc.strip().split("\n\n")[0].replace("\n", " ") if doc else ""
    lines = [f"## {title}: `scgrn.{name}`", "", "```{eval-rst}", f".. module:: scgrn.{name}", ""]
    if summary:
        lines += [summary, ""]
    lines += [f".. currentmodule:: scgrn.{name}", ""]
    for names, template in ((functions, None), (classes, "class.rst"), (data, "data.rst")):
        if not names:
            continue
        lines += [".. autosummary::", "   :toctree: generated", "   :nosignatures:"]
        if template:
            lines.append(f"   :template: {template}")
        lines += [""] + [f"   {n}" for n in names] + [""]
    lines += ["```", ""]
    return "\n".join(lines)


def _write_api() -> None:
    sections = [s for s in (_api_section(n) for n in _public_subpackages()) if s]
    header = """\
# API reference

```{eval-rst}
.. module:: scgrn
```

Import scgrn next to scanpy, `import scgrn`, and call its subpackages the way you call
scanpy's: `scgrn.pp` prepares an AnnData, `scgrn.tl` runs a method and writes documented keys
(see {doc}`/anndata`), `scgrn.get` and `scgrn.pl` read them, `scgrn.metrics` scores a network
against a reference. Every entry below is generated from the subpackage's `__all__`.

```{eval-rst}
.. autosummary::
   :toctree: generated
   :nosignatures:
   :template: data.rst

   settings
```

"""
    text = header + "\n".join(sections)
    _write_if_changed(HERE / "api" / "index.md", text)
    # drop stubs of names that left an __all__ (they would be orphan pages: a warning)
    listed = {line.strip() for line in text.splitlines() if line.startswith("   ") and ":" not in line}
    for stub in (HERE / "api" / "generated").glob("scgrn.*.rst"):
        if stub.stem.rsplit(".", 1)[-1] not in listed:
            stub.unlink()


def _copy_benchmarks() -> None:
    src = Path(os.environ.get("SCGRN_DOCS_BENCHMARK_RESULTS", ROOT / "benchmarks" / "results"))
    top = HERE / "generated" / "benchmarks"
    dst = top / "results"  # same layout as the repository, so links like ../beeline.py resolve
    if top.exists():
        shutil.rmtree(top)
    dst.mkdir(parents=True)
    for script in sorted(src.parent.glob("*.py")):  # the scripts the results link to
        _copy_if_changed(script, top / script.name)
    pages = sorted(src.glob("*.md")) if src.is_dir() else []
    if src.is_dir():  # figures, tables and the like, so that relative links keep working
        for f in src.rglob("*"):
            if f.is_file() and f.suffix != ".md" and not any(p.startswith(".") for p in f.parts):
                _copy_if_changed(f, dst / f.relative_to(src))
    for page in pages:
        text = page.read_text()
        first = next((line for line in text.splitlines() if line.strip()), "")
        if not first.startswith("# "):
            text = f"# {page.stem}\n\n{text}"
        _write_if_changed(dst / page.name, text)
    if not pages:
        _write_if_changed(
            dst / "none.md",
            "# No results yet\n\nNo benchmark results are committed in `benchmarks/results/` yet.\n",
        )


def _docstring_section(obj, name: str) -> str | None:
    """The body of a numpydoc section (``Returns``), dedented; ``None`` if absent."""
    lines = (inspect.getdoc(obj) or "").splitlines()

    def is_header(i: int) -> bool:
        return (
            i + 1 < len(lines)
            and lines[i].strip() != ""
            and not lines[i].startswith(" ")
            and set(lines[i + 1].strip()) == {"-"}
            and len(lines[i + 1].strip()) >= 3
        )

    for i in range(len(lines)):
        if is_header(i) and lines[i].strip() == name:
            body = []
            j = i + 2
            while j < len(lines) and not is_header(j):
                body.append(lines[j])
                j += 1
            return textwrap.dedent("\n".join(body)).strip("\n")
    return None


def _write_tool_outputs() -> None:
    """Per-tool 'what is written where', from each pp/tl function's Returns section."""
    parts = []
    for sub in ("pp", "tl"):
        module = importlib.import_module(f"scgrn.{sub}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if not inspect.isfunction(obj):
                continue
            returns = _docstring_section(obj, "Returns")
            parts.append(f"### {{func}}`scgrn.{sub}.{name}`\n")
            if returns:
                parts.append("```{eval-rst}\n" + returns + "\n```\n")
            else:
                parts.append("*The docstring has no Returns section.*\n")
    _write_if_changed(HERE / "generated" / "tool_outputs.inc", "\n".join(parts))


def _copy_tutorials() -> None:
    src, dst = ROOT / "tutorials", HERE / "tutorials"
    wanted = {p.name for p in src.glob("*.ipynb")} if src.is_dir() else set()
    for old in dst.glob("*.ipynb"):
        if old.name not in wanted:
            old.unlink()
    for name in sorted(wanted):
        _copy_if_changed(src / name, dst / name)


_write_api()
_copy_benchmarks()
_write_tool_outputs()
_copy_tutorials()


def _drop_builtin_docstrings(app, what, name, obj, options, lines) -> None:
    """A constant without its own doc comment would show ``dict``'s (or ``tuple``'s) docstring."""
    if what in ("data", "attribute") and type(obj).__module__ == "builtins":
        if lines and (type(obj).__doc__ or "").strip().startswith(lines[0].strip()):
            lines.clear()


def setup(app) -> None:
    app.connect("autodoc-process-docstring", _drop_builtin_docstrings)
