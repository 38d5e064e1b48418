"""The core's import graph has no circles, evaluation does not import training, and the modules that
used to sit on circles import on their own in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def module_files() -> dict[str, Path]:
    files = {}
    for folder in ("recframe", "hydra_plugins"):
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[name] = path
    return files


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> core modules it imports, at any depth (function-level imports count too).

    ``from a import b`` counts as importing ``a.b`` when that is a module, else ``a``. The root
    package ``recframe`` is left out: it is a facade whose ``run`` imports the runner when called.
    """
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                subs = {f"{node.module}.{a.name}" for a in node.names} & files.keys()
                found |= subs or {node.module}
        graph[name] = {m for m in found if m in files and m != name and m != "recframe"}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_circle_through_a_function_level_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_core_has_no_import_circles():
    graph = import_graph(module_files())
    assert "recframe.runner" in graph and "recframe.stages.compression" in graph["recframe.stages"]
    assert cycles(graph) == []


def test_evaluation_does_not_import_training():
    graph = import_graph(module_files())
    offenders = {
        m: sorted(d for d in deps if d.startswith("recframe.training"))
        for m, deps in graph.items()
        if m.startswith("recframe.evaluation")
    }
    assert not {m: d for m, d in offenders.items() if d}


@pytest.mark.slow  # a fresh interpreter per module (torch imported each time)
@pytest.mark.parametrize(
    "module",
    [
        "recframe.compression",
        "recframe.sweeps.settings",
        "recframe.config",
        "recframe.evaluation.labeled",
        "recframe.stages",
        "recframe.runner",
    ],
)
def test_module_imports_alone_in_a_fresh_interpreter(module):
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
