"""Layering: no module of scgrn imports from a layer above its own.

The order follows the data flow of the design (AnnData -> pp -> tl -> get / metrics / pl):

    base (scgrn/_*.py) < pp, metrics, get, datasets < models < pl < tl < bench < CLI (__main__)

A module may import its own subpackage, base, and any layer below its own. The subpackages of
one layer are independent of each other (``datasets`` imports base only). Every import counts,
also those inside functions or under ``TYPE_CHECKING``. ``scgrn/__init__.py`` is the facade that
imports everything and is not checked; its ``__version__`` (set before any subpackage is
imported) counts as base; importing the root itself (``import scgrn``) is left to the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import scgrn

SRC = Path(scgrn.__file__).resolve().parent
LAYERS = {
    "base": 0,
    "pp": 1, "metrics": 1, "get": 1, "datasets": 1,
    "models": 2,
    "pl": 3,
    "tl": 4,
    "bench": 5,
    "scgrn": 6,  # the package root (``import scgrn``, the whole API): only the CLI uses it
    "__main__": 7,
}
_ROOT_BASE_NAMES = {"__version__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:]) if "." in name else Path()
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def _unit(name: str) -> str:
    """The layer unit of a module name: a subpackage, ``base``, ``__main__`` or ``scgrn``."""
    parts = name.split(".")
    if len(parts) == 1:
        return "scgrn"
    if parts[1] == "__main__":
        return "__main__"
    if parts[1].startswith("_") and not (SRC / parts[1]).is_dir():
        return "base"
    return parts[1]


def _imports(module: str, is_package: bool, source: str) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every scgrn import in ``source``."""
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "scgrn"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "scgrn":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if _is_module(sub):
                    out.append((node.lineno, sub))
                elif target == "scgrn" and alias.name in _ROOT_BASE_NAMES:
                    out.append((node.lineno, "scgrn._version"))  # counts as base
                else:
                    out.append((node.lineno, target))
    return out


def _violations(module: str, is_package: bool, source: str) -> list[str]:
    own = _unit(module)
    bad = []
    for line, target in _imports(module, is_package, source):
        unit = _unit(target)
        if unit == own:
            continue
        if unit not in LAYERS:
            bad.append(f"{module}:{line} imports {target}: unit {unit!r} has no layer in LAYERS")
        elif LAYERS[unit] >= LAYERS[own]:
            same = LAYERS[unit] == LAYERS[own]
            where = "a sibling in the same layer" if same else "a higher layer"
            bad.append(f"{module}:{line} imports {target} ({unit}, {where} than {own})")
    return bad


def _sources():
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        if module != "scgrn":
            yield module, path.name == "__init__.py", path.read_text(encoding="utf-8")


def test_every_unit_has_a_layer():
    units = {_unit(module) for module, _, _ in _sources()}
    assert units <= set(LAYERS), f"assign a layer to {sorted(units - set(LAYERS))}"


def test_no_import_goes_up():
    bad = [v for args in _sources() for v in _violations(*args)]
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("module", "source", "n_bad"),
    [
        ("scgrn.metrics._x", "def f():\n    from .. import tl\n", 1),  # inside a function
        ("scgrn.metrics._x", "from ..tl._registry import GRN_METHODS\n", 1),
        ("scgrn.metrics._x", "import scgrn.tl\n", 1),
        ("scgrn.metrics._x", "from .. import __version__\nfrom .._keys import X\n", 0),
        ("scgrn.datasets._x", "from ..metrics import epr\n", 1),  # sibling of the same layer
        ("scgrn.models._x", "import scgrn\n", 1),
        ("scgrn.__main__", "def main():\n    import scgrn\n    from .bench import beeline\n", 0),
        ("scgrn._x", "from .pp import select_genes\n", 1),
        ("scgrn.tl._x", "from ..models import DeepSEM\nfrom ..metrics import epr\n", 0),
        ("scgrn.tl._x", "from . import _y\nfrom ._correlation import correlation\n", 0),
        ("scgrn.bench._x", "from ..tl import deepsem\nfrom ..pl import grn\n", 0),
    ],
)
def test_checker_flags_upward_imports(module, source, n_bad):
    assert len(_violations(module, False, source)) == n_bad
