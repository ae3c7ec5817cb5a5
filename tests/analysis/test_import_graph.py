"""The module graph of costlab.analysis and costlab.core has no cycle, imports inside
functions included, and core depends on nothing else of costlab."""

from __future__ import annotations

import ast
from pathlib import Path

import costlab

ROOT = Path(costlab.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The costlab modules ``path`` imports anywhere in it (``from pkg import mod`` names the
    module ``pkg.mod`` when there is one)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in found if m in modules}


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in ROOT.rglob("*.py")}
    return {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}


def cycles(edges: dict[str, set[str]], within: tuple[str, ...]) -> list[list[str]]:
    """Every cycle through the modules under ``within`` (a package importing its own
    submodules, or a submodule its package, is not a cycle of files)."""
    def ours(m):
        return m.startswith(within)

    def package_edge(a, b):
        return b.startswith(a + ".") or a.startswith(b + ".")

    found, state = [], {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if not ours(nxt) or package_edge(node, nxt):
                continue
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if ours(node) and node not in state:
            visit(node, [node])
    return found


def test_no_import_cycle_in_analysis_and_core():
    assert cycles(graph(), ("costlab.analysis", "costlab.core")) == []


def test_core_imports_nothing_else_of_costlab():
    edges = graph()
    core = {m: deps for m, deps in edges.items() if m.startswith("costlab.core")}
    assert set(core) >= {"costlab.core", "costlab.core.records", "costlab.core.categories"}
    for module, deps in core.items():
        assert {d for d in deps if not d.startswith("costlab.core")} == set(), module


def test_meta_kernels_needs_only_its_dependency_free_helpers():
    assert graph()["costlab.build.meta_kernels"] == {
        "costlab.build.gcpause", "costlab.build.opargs"}
    assert graph()["costlab.build.opargs"] == set()
    assert graph()["costlab.build.gcpause"] == set()


def test_the_cycle_finder_finds_a_cycle():
    edges = {"costlab.analysis.a": {"costlab.analysis.b"},
             "costlab.analysis.b": {"costlab.analysis.a"}}
    assert cycles(edges, ("costlab.analysis",)) == [
        ["costlab.analysis.a", "costlab.analysis.b", "costlab.analysis.a"]]
