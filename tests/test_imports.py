"""The package's import graph has no cycle: the imports of osteotrial modules by osteotrial
modules, at module level and inside functions, form a DAG (issue 23, item 6). And the Snakefile
and the most frequent workflow jobs load no heavy library at import (issue 28: start-up was most
of a small job's time; ``HEAVY_LIBRARIES``).

A cycle is a design smell even when a function-level import keeps it from failing at import
time: two modules that need each other are one concept split in two, or share a piece that
belongs lower in the graph. Imports under ``if TYPE_CHECKING:`` count too: a module that names
another's types depends on it.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import osteotrial

PACKAGE = Path(osteotrial.__file__).resolve().parent
ROOT = Path(__file__).resolve().parents[1]


def module_names() -> dict[str, Path]:
    """Return every module of the package by dotted name (a package by its own name)."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """Return the package modules that module ``name`` (file ``path``) imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {target for target in found if target in modules and target != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one cycle of ``graph`` as a list of nodes (first = last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def import_graph() -> dict[str, set[str]]:
    """Return the package's import graph: module -> the package modules it imports."""
    modules = module_names()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_function_level_and_relative_imports():
    graph = import_graph()
    assert "osteotrial.api" in graph["osteotrial"]  # imported inside __getattr__
    assert "osteotrial.io" in graph["osteotrial.trial.jobs"]


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# What the Snakefile (at every snakemake start, and in every SLURM job) and the workflow's most
# frequent jobs import must not load these: each costs every such process 0.2-0.6 s (scipy.stats
# parses its docstrings at import; lifelines brings pandas; matplotlib its backends), most of a
# small job's time. The modules that need them import them in the functions that use them.
HEAVY_LIBRARIES = ("scipy.stats", "lifelines", "pandas", "matplotlib")
LIGHT_JOBS = ("simulate_arm", "expected_fractures", "sample_cohort")


def osteotrial_imports(text: str) -> list[str]:
    """Return the ``from osteotrial... import ...`` / ``import osteotrial...`` statements of a
    script or a rule file (module level)."""
    lines = text.splitlines()
    pattern = re.compile(r"^(from osteotrial[\w.]* import .+|import osteotrial[\w.]*)$")
    return [line for line in lines if pattern.match(line)]


def heavy_loaded_by(statements: list[str]) -> list[str]:
    """Return the heavy libraries that running ``statements`` in a fresh interpreter loads."""
    probe = "\n".join(
        [*statements, "import sys", f"print([m for m in {HEAVY_LIBRARIES!r} if m in sys.modules])"]
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


def test_the_snakefile_imports_no_heavy_library():
    rules = sorted((ROOT / "workflow" / "rules").glob("*.smk"))
    statements = [s for path in rules for s in osteotrial_imports(path.read_text())]
    assert len(statements) >= 5  # the rule files do import the package
    assert heavy_loaded_by(statements) == []


@pytest.mark.parametrize("script", LIGHT_JOBS)
def test_a_light_job_imports_no_heavy_library(script):
    statements = osteotrial_imports((ROOT / "workflow" / "scripts" / f"{script}.py").read_text())
    assert statements
    assert heavy_loaded_by(statements) == []


def test_the_probe_sees_a_heavy_library():
    loaded = heavy_loaded_by(["from osteotrial.stats.aalen_johansen import collett_variance"])
    assert {"lifelines", "pandas"} <= set(loaded)
