"""The dependency picture holds: engine/ knows no web, SpiffWorkflow stays in its adapter, the edges
(api/, webui/, designer/, cli/) reach the database only through engine services, only engine/outbound
opens connections to other systems, migrations stand alone, and no module imports another's private
names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NETWORK = {"httpcore", "httpx", "requests", "urllib3", "aiohttp", "http.client", "urllib.request", "smtplib"}
WEB = {"flask", "flask_login", "flask_smorest", "flask_wtf", "marshmallow", "api", "webui", "werkzeug"}
PROJECT = ("engine", "api", "webui", "designer", "cli")
EDGES = ("api", "webui", "designer", "cli")
DESIGNER_WEB = ROOT / "designer" / "web"
MIGRATIONS = ROOT / "engine" / "db" / "migrations" / "versions"
# The engine internals an edge must not reach for: the context's database engine and sessions, the unit of work.
DATABASE_ATTRIBUTES = {"db", "uow", "session", "_sessions"}
# Private names still imported across modules, (file, "module:name"), each to be made public by the engineer
# who owns it and then removed from here. Only engine/spiff and engine/dmn may appear; nothing is left today.
PRIVATE_IMPORTS_ALLOWED: set[tuple[str, str]] = set()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def modules_of(path: Path) -> set[str]:
    """Every absolute module an import statement of `path` names, function-level imports included."""
    names = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def imports_of(path: Path) -> set[str]:
    """The top-level packages `path` imports."""
    return {name.split(".")[0] for name in modules_of(path)}


def files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_engine_imports_no_web_code():
    offenders = {rel(p): sorted(imports_of(p) & WEB) for p in files("engine")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_designer_services_import_no_web_code():
    """designer/ outside designer/web/ is services: no flask, no api, no webui."""
    offenders = {rel(p): sorted(imports_of(p) & WEB) for p in files("designer") if DESIGNER_WEB not in p.parents}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_spiffworkflow_is_imported_only_by_the_adapter():
    adapter = ROOT / "engine" / "spiff"
    offenders = [
        rel(p)
        for p in files("engine", "api", "webui", "designer", "cli")
        if "SpiffWorkflow" in imports_of(p) and adapter not in p.parents
    ]
    assert offenders == []


WEB_APP_SHARED = ("webui.security", "webui.errors")  # the sign-in/permission decorator, the one error boundary


def test_nothing_imports_webui():
    """The designer's web part may use what every page of the web app shares: the sign-in and permission
    decorator (webui.security) and the one error boundary (webui.errors)."""
    offenders = {
        rel(p): sorted(m for m in modules_of(p) if m.split(".")[0] == "webui")
        for p in files("engine", "api", "designer")
    }
    offenders = {
        k: [m for m in v if not (k.startswith("designer/web/") and m.startswith(WEB_APP_SHARED))]
        for k, v in offenders.items()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_edges_never_touch_sqlalchemy_or_engine_db():
    """api/, webui/, designer/ (web part and services) and the CLI go through engine services."""
    offenders = {
        rel(p): sorted(
            m
            for m in modules_of(p)
            if m.split(".")[0] == "sqlalchemy" or m == "engine.db" or m.startswith("engine.db.")
        )
        for p in files(*EDGES)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_edges_never_use_the_database_engine_sessions_or_units_of_work():
    offenders = {
        rel(p): sorted(
            {
                node.attr
                for node in ast.walk(_tree(p))
                if isinstance(node, ast.Attribute) and node.attr in DATABASE_ATTRIBUTES
            }
        )
        for p in files(*EDGES)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_migrations_import_nothing_of_the_project():
    """A migration does the same forever: what it needs of engine code is frozen inside it."""
    offenders = {
        rel(p): sorted(m for m in modules_of(p) if m.split(".")[0] in PROJECT) for p in sorted(MIGRATIONS.glob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def _private_imports(path: Path) -> set[str]:
    """`from m import _x` and `import m._x` (relative imports too), and `m._x` on a name imported from the project."""
    found = set()
    project_names = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.add(f"{module}:{alias.name}")
                if node.level or (node.module or "").split(".")[0] in PROJECT:
                    project_names.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(part.startswith("_") and not part.startswith("__") for part in alias.name.split(".")):
                    found.add(alias.name)
                if alias.name.split(".")[0] in PROJECT:
                    project_names.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(_tree(path)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in project_names
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.add(f"{node.value.id}:{node.attr}")
    return found


def test_no_private_name_is_imported_across_modules():
    found = {(rel(p), name) for p in files(*PROJECT) for name in _private_imports(p)}
    assert found - PRIVATE_IMPORTS_ALLOWED == set()
    assert all(path.startswith(("engine/spiff/", "engine/dmn/")) for path, _ in PRIVATE_IMPORTS_ALLOWED)
    assert PRIVATE_IMPORTS_ALLOWED <= found, "made public meanwhile: remove from PRIVATE_IMPORTS_ALLOWED"


def test_only_the_outbound_package_opens_connections_to_other_systems():
    outbound = ROOT / "engine" / "outbound"
    offenders = {rel(p): sorted(modules_of(p) & NETWORK) for p in files(*PROJECT) if outbound not in p.parents}
    assert {k: v for k, v in offenders.items() if v} == {}
