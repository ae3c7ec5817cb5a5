"""The layers hold: no file of costlab imports one that imports it back, and import-linter's
contracts (pyproject.toml) pass. Imports inside functions and under TYPE_CHECKING count."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "costlab"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(module: str, is_package: bool, node: ast.AST, known: set[str]) -> list[str]:
    """The costlab modules an import statement names (``from a import b`` is ``a.b`` when
    that is a module, else ``a``)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        names = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in known else prefix
                 for alias in node.names]
    else:
        return []
    found = []
    for name in names:
        while name and name not in known:  # a name inside a module: the module
            name = name.rpartition(".")[0]
        if name:
            found.append(name)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            for target in _imported(module, path.name == "__init__.py", node, known):
                if target != module:
                    graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    # an import inside a function is an edge like any other
    tree = ast.parse("def f():\n    from costlab.core import errors\n")
    edges = [t for n in ast.walk(tree)
             for t in _imported("costlab.x", False, n, {"costlab.core", "costlab.core.errors"})]
    assert edges == ["costlab.core.errors"]


def test_no_file_of_costlab_imports_one_that_imports_it_back():
    found = cycles(import_graph())
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_core_imports_nothing_else_of_costlab():
    graph = import_graph()
    outside = {m: sorted(t for t in targets if not t.startswith("costlab.core"))
               for m, targets in graph.items() if m.startswith("costlab.core")}
    assert {m: t for m, t in outside.items() if t} == {}


@pytest.mark.skipif(shutil.which("lint-imports") is None and
                    not (Path(sys.executable).parent / "lint-imports").exists(),
                    reason="import-linter is not installed (pip install -e '.[dev]')")
def test_import_linter_contracts_hold():
    command = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    done = subprocess.run([command], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]


def test_meta_kernels_need_only_their_dependency_free_helpers():
    # the tracer (analysis) and construction on meta (build) both use them: they must stay
    # importable without either side's machinery
    graph = import_graph()
    assert graph["costlab.build.meta_kernels"] == {"costlab.build.opargs",
                                                   "costlab.build.gcpause"}
    assert graph["costlab.build.opargs"] == set() and graph["costlab.build.gcpause"] == set()


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "benchmarks").glob("*.py")))
def test_benchmark_scripts_import(script):
    # the scripts run by hand, not in CI: an import that no longer resolves fails here
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{script[:-3]}",
                                                  ROOT / "benchmarks" / script)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
