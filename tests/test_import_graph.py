"""The house keeps its shape: no import cycles, no module over 500 lines, no folder over 15 modules.

The import graph counts imports inside functions too (a deferred import only hides a cycle) and
resolves relative imports. It covers every package of ours, migrations and static assets aside.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "api", "webui", "designer", "cli")
MAX_LINES = 500
MAX_MODULES_PER_FOLDER = 15


def our_modules() -> dict[str, Path]:
    """Every module of ours by dotted name (packages by their own name)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts or "static" in parts:
                continue
            found[".".join(parts).removesuffix(".__init__")] = path
    return found


def imported_by(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ours that one module imports, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets += [f"{base}.{alias.name}" for alias in node.names] + [base]
    found = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


def strongly_connected(graph: dict[str, set[str]]) -> Iterator[list[str]]:
    """Tarjan's components with more than one module: each is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> Iterator[list[str]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                yield from visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                yield sorted(component)

    for node in sorted(graph):
        if node not in index:
            yield from visit(node)


def test_no_import_cycles() -> None:
    known = our_modules()
    graph = {name: imported_by(name, path, known) for name, path in known.items()}
    # a package's __init__ importing its own modules is not a cycle with them
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    assert list(strongly_connected(graph)) == []


def test_no_module_over_500_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): count
        for path in our_modules().values()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_folder_over_15_modules() -> None:
    folders: dict[Path, int] = {}
    for path in our_modules().values():
        if path.name != "__init__.py":
            folders[path.parent] = folders.get(path.parent, 0) + 1
    wide = {str(folder.relative_to(ROOT)): count for folder, count in folders.items() if count > MAX_MODULES_PER_FOLDER}
    assert wide == {}


def test_the_graph_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The check itself: an import inside a function and a relative import are both edges."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from pkg import b\n")
    (package / "b.py").write_text("from . import a\n")
    known = {"pkg": package / "__init__.py", "pkg.a": package / "a.py", "pkg.b": package / "b.py"}
    graph = {name: imported_by(name, path, known) for name, path in known.items()}
    assert list(strongly_connected(graph)) == [["pkg.a", "pkg.b"]]
