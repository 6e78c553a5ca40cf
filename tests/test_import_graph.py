"""The modules of ``server/`` import each other without a cycle.

Every import counts, including those inside functions (a cycle held apart by a lazy
import is still a cycle: it only moves the failure to the first call), and importing
``a.b.c`` counts as importing the packages ``a.b`` and ``a`` too, since their
``__init__`` runs first. Imports under ``if TYPE_CHECKING:`` never run; they let two
modules name each other's types, so they are left out of the graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_names(top: str = "server") -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in (ROOT / top).rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skipped


def _resolve(target: str, modules: dict[str, Path]) -> str | None:
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``server`` that importing ``name`` runs, directly."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            targets.add(source)
            targets |= {f"{source}.{alias.name}" for alias in node.names}
    found: set[str] = set()
    for target in targets:
        if not target.startswith("server"):
            continue
        resolved = _resolve(target, modules)
        if resolved is None:
            continue
        parts = resolved.split(".")
        found |= {".".join(parts[:k]) for k in range(1, len(parts) + 1)} & modules.keys()
    own = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 2)}
    return found - own


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
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
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
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


def test_server_has_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 100  # the walk found the package
    described = [
        " -> ".join(f"{m} (imports {sorted(graph[m] & set(c))})" for m in c) for c in cycles(graph)
    ]
    assert described == []


def test_the_cycle_finder_finds_lazy_and_package_cycles() -> None:
    """The checker itself: a cycle through a function-level import and one through an __init__."""
    graph = {
        "server.a": {"server.b"},
        "server.b": {"server.a"},  # e.g. ``def f(): from server.a import x``
        "server.p": {"server.p.m"},  # a package re-exporting its module
        "server.p.m": {"server.q"},
        "server.q": {"server.p"},  # importing server.p.anything runs server/p/__init__.py
        "server.free": set(),
    }
    expected = [["server.a", "server.b"], ["server.p", "server.p.m", "server.q"]]
    assert sorted(cycles(graph)) == expected


def test_imports_inside_functions_and_packages_are_edges(tmp_path: Path) -> None:
    """What ``imports_of`` reads from real source text."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from server.config.schema import Config\n"
        "def later():\n"
        "    from server.memory.store import MemoryStore\n"
        "    import server.tools.registry\n"
    )
    path = tmp_path / "probe.py"
    path.write_text(source)
    modules = module_names()
    edges = imports_of("server.probe", path, modules)
    assert {"server.memory.store", "server.memory", "server.tools.registry"} <= edges
    assert "server.tools" in edges
    assert "server.config.schema" not in edges and "server.config" not in edges
