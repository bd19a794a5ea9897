"""engine/spiff and engine/dmn keep the shape their READMEs describe: the adapter's subpackages in lifecycle
order, no private names imported across modules, no module over 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.factories import ROOT

SPIFF = ROOT / "engine" / "spiff"
ORDER = ["namespaces", "xml", "expressions", "extensions", "model", "runtime"]  # each may import those before it
EXCEPTIONS = {("expressions", "engine.spiff.runtime.budget")}  # a script's time limit: the step's


def _modules(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py"))


def _imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    """Every import of a module, those inside functions too."""
    return [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Import | ast.ImportFrom)]


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    return [node.module or ""] if node.level == 0 else []


def _layer(module: str) -> str:
    return module.split(".")[2] if module.count(".") >= 2 else ""


def test_spiff_subpackages_import_only_the_ones_before_them():
    offenders = []
    for path in _modules(SPIFF):
        own = path.relative_to(SPIFF).parts[0].removesuffix(".py")
        for node in _imports(path):
            for target in _targets(node):
                if not target.startswith("engine.spiff.") or _layer(target) == own:
                    continue
                if (own, target) in EXCEPTIONS:
                    continue
                if ORDER.index(_layer(target)) > ORDER.index(own):
                    offenders.append(f"{path.relative_to(ROOT)} imports {target}")
    assert offenders == []


def _private_uses(path: Path) -> list[str]:
    """`from engine.spiff... import _name`, and `module._name` on a module imported from engine.spiff or engine.dmn."""
    tree = ast.parse(path.read_text())
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("engine.spiff", "engine.dmn")):
            found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
            modules |= {a.asname or a.name for a in node.names}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_no_private_name_is_used_across_modules():
    offenders = {
        str(p.relative_to(ROOT)): uses
        for p in _modules(SPIFF, ROOT / "engine" / "dmn", ROOT / "tests")
        if (uses := _private_uses(p))
    }
    assert offenders == {}


def test_no_spiff_or_dmn_module_is_over_500_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules(SPIFF, ROOT / "engine" / "dmn")
        if (n := len(p.read_text().splitlines())) > 500
    }
    assert long == {}
