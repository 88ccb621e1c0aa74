"""The README's examples run, and name every public tool.

How the blocks run
------------------
Every fenced block tagged ``python`` in ``README.md`` is one test, in README order
(parametrised by its line and section). **Each block runs in a fresh namespace of its own**:
the README's blocks are self-contained (each starts with its imports), so a reader can copy any
one of them alone, and a test can run alone (``pytest tests/test_readme.py -k Time``).
A block runs with the working directory set to a temporary folder (files it writes, such as
``atlas.h5ad``, land there) and matplotlib's Agg backend (``MPLBACKEND=Agg``); afterwards its
figures are closed, backed h5ad files it opened are closed, and scanpy's verbosity and torch's
thread count are restored.

Blocks that read the real benchmark data (``datasets.beeline``, ``datasets.dream4``,
``datasets.tf_list``, ``bench.beeline``, ...) are marked ``realdata`` and take the
``shared_data_dir`` fixture, which fails in CI when ``SCGRN_DATA_DIR`` is missing.

Blocks in another language (``bash``) are not run. ``test_every_tl_function_is_in_an_executed_block``
checks the README's promise to name every public tool with a working example: every function of
``scgrn.tl.__all__`` must be called in a ``python`` block, outside comments, i.e. in code this
file executes (``test_main_functions_are_in_an_executed_block``: the same for the main functions
of the other subpackages).

Budget: each block under 30 s on a 2-core machine, the whole file under about a minute; the
README keeps its examples small for that and says so where a setting differs from the default.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

import scgrn

README = Path(__file__).resolve().parents[1] / "README.md"

#: calls that read ``$SCGRN_DATA_DIR`` (the benchmark data folder)
_REAL_DATA = re.compile(
    r"\bscgrn\.(?:datasets\.(?:beeline|beeline_synthetic|list_beeline|read_beeline_folder|dream4|tf_list|"
    r"crop_seq|papalexi2021|clustering|list_clustering|mouse_bladder)|bench\.(?:beeline|dream4|available_datasets|"
    r"clustering|prepare_clustering))\("
)


@dataclass(frozen=True)
class Block:
    line: int  # line of the opening fence, 1-based
    section: str  # the nearest heading above it
    language: str
    code: str

    @property
    def id(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.section).strip("-")
        return f"L{self.line}-{slug}"

    @property
    def executed_code(self) -> str:
        """The code without its comments: a call named only in a comment is not executed."""
        lines = self.code.splitlines()
        for token in tokenize.generate_tokens(io.StringIO(self.code).readline):
            if token.type == tokenize.COMMENT:
                row, col = token.start
                lines[row - 1] = lines[row - 1][:col]
        return "\n".join(lines) + "\n"

    @property
    def needs_data(self) -> bool:
        return bool(_REAL_DATA.search(self.executed_code))


def _blocks(text: str) -> list[Block]:
    blocks, section, fence = [], "", None
    lines = text.splitlines()
    for i, line in enumerate(lines, 1):
        if fence is None:
            if line.startswith("#"):
                section = line.lstrip("#").strip()
            elif line.startswith("```"):
                fence = (i, line[3:].strip(), [])
        elif line.startswith("```"):
            start, language, body = fence
            blocks.append(Block(start, section, language, "\n".join(body) + "\n"))
            fence = None
        else:
            fence[2].append(line)
    assert fence is None, f"README.md: the code fence opened on line {fence[0]} is never closed"
    return blocks


BLOCKS = _blocks(README.read_text(encoding="utf-8"))
PYTHON = [b for b in BLOCKS if b.language == "python"]


PARAMS = [
    pytest.param(b, id=b.id, marks=[pytest.mark.realdata] if b.needs_data else []) for b in PYTHON
]


@pytest.mark.parametrize("block", PARAMS)
def test_readme_block_runs(block, request, tmp_path, monkeypatch):
    import scanpy as sc

    if block.needs_data:
        request.getfixturevalue("shared_data_dir")  # sets SCGRN_DATA_DIR, or fails in CI / skips
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    verbosity, torch_threads = sc.settings.verbosity, torch.get_num_threads()
    namespace = {"__name__": f"readme_line_{block.line}"}
    try:
        exec(compile(block.code, f"README.md:{block.line}", "exec"), namespace)  # noqa: S102
    finally:
        plt.close("all")
        sc.settings.verbosity = verbosity
        # decoupler's numba kernels (tl.tf_activity) run on numba's OpenMP layer, which resets the
        # OpenMP thread count that torch shares to one per core: every later block then trained
        # with 2 threads next to other jobs, 7-10x slower (PerturbODE 126 s instead of 10 s).
        torch.set_num_threads(torch_threads)
        for value in list(namespace.values()):  # close backed h5ad files the block opened
            if getattr(value, "isbacked", False):
                value.file.close()


def _called_in(code: str, module: str, name: str) -> bool:
    return re.search(rf"\b{module}\.{name}\s*\(", code) is not None


def test_every_tl_function_is_in_an_executed_block():
    executed = "\n".join(b.executed_code for b in PYTHON)
    missing = [name for name in scgrn.tl.__all__ if not _called_in(executed, "tl", name)]
    assert not missing, f"scgrn.tl functions without an executed README example: {missing}"


# The other subpackages' main functions: named in an executed example too (not every helper).
MAIN_FUNCTIONS = {
    "pp": ["select_genes"],
    "get": ["edges", "edge_differences", "to_prediction"],
    "pl": ["grn", "training_history", "edge_differences", "benchmark_heatmap"],
    "metrics": ["evaluate_grn", "random_baseline", "realism_auc", "grn_consistency", "cluster_scores"],
    "datasets": ["krumsiek11", "planted_counts", "beeline", "dream4", "tf_list", "planted_time_series",
                 "simulate_perturbation_screen"],
    "bench": ["beeline"],
}


@pytest.mark.parametrize("module", sorted(MAIN_FUNCTIONS))
def test_main_functions_are_in_an_executed_block(module):
    executed = "\n".join(b.executed_code for b in PYTHON)
    public = getattr(scgrn, module).__all__
    missing = [n for n in MAIN_FUNCTIONS[module] if n in public and not _called_in(executed, module, n)]
    assert not missing, f"scgrn.{module} functions without an executed README example: {missing}"
    assert set(MAIN_FUNCTIONS[module]) <= set(public), "MAIN_FUNCTIONS names a function that is gone"


def test_quickstart_commands_are_the_ones_ci_runs():
    """The Quickstart's two commands stay as they are: `.ci/run` mirrors them."""
    bash = [b for b in BLOCKS if b.section == "Quickstart" and b.language == "bash"]
    assert [b.code for b in bash] == [
        'python -m pip install -c constraints.txt -e ".[test]" && scgrn demo\npython -m pytest\n'
    ]


def test_readme_cites_only_result_files_that_exist():
    """Every ``benchmarks/results/<file>`` and bare ``<name>.md`` / ``.csv`` the README cites exists."""
    text = README.read_text(encoding="utf-8")
    results = README.parent / "benchmarks" / "results"
    cited = set(re.findall(r"benchmarks/results/([\w.-]+\.(?:md|csv|png|jsonl))", text))
    cited |= set(re.findall(r"`([\w-]+\.(?:md|csv|jsonl))`", text))  # table cells name the file alone
    cited -= {"CHANGELOG.md", "README.md"}
    missing = sorted(c for c in cited if not (results / c).exists())
    assert not missing, f"README cites result files that do not exist: {missing}"

