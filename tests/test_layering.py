"""The dependency picture holds: engine/ knows no web, SpiffWorkflow stays in its adapter, and
only engine/outbound opens connections to other systems."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NETWORK = {"httpcore", "httpx", "requests", "urllib3", "aiohttp", "http.client", "urllib.request", "smtplib"}
WEB = {"flask", "flask_login", "flask_smorest", "flask_wtf", "marshmallow", "api", "webui", "werkzeug"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engine_imports_no_web_code():
    offenders = {str(p.relative_to(ROOT)): sorted(imports_of(p) & WEB) for p in (ROOT / "engine").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_spiffworkflow_is_imported_only_by_the_adapter():
    adapter = ROOT / "engine" / "spiff"
    offenders = [str(p.relative_to(ROOT)) for folder in ("engine", "api", "webui", "designer")
                 for p in (ROOT / folder).rglob("*.py")
                 if "SpiffWorkflow" in imports_of(p) and adapter not in p.parents]
    assert offenders == []


def test_nothing_imports_webui():
    offenders = [str(p.relative_to(ROOT)) for folder in ("engine", "api", "designer")
                 for p in (ROOT / folder).rglob("*.py") if "webui" in imports_of(p)]
    assert offenders == []


def full_imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update([node.module] + [f"{node.module}.{alias.name}" for alias in node.names])
    return names


def test_only_the_outbound_package_opens_connections_to_other_systems():
    outbound = ROOT / "engine" / "outbound"
    offenders = {str(p.relative_to(ROOT)): sorted(full_imports_of(p) & NETWORK)
                 for folder in ("engine", "api", "webui", "designer") for p in (ROOT / folder).rglob("*.py")
                 if outbound not in p.parents}
    assert {k: v for k, v in offenders.items() if v} == {}
