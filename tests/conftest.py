"""Fixtures: every database test runs on SQLite and on PostgreSQL (PMOFLOW_TEST_POSTGRES_URL).

Every test is given its tier markers here, from what it uses (see `tiers_of`), so a new test needs
no marker by hand: `make test-fast` runs what needs neither a database server nor a browser.
Under pytest-xdist each worker has its own temporary folder (so its own SQLite files), its own
PostgreSQL database and its own servers on free ports.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine import bootstrap
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.db.models import Base
from engine.db.schema import upgrade
from engine.db.session import make_engine
from tests.identity import groups_source, idp, sso_app  # noqa: F401 - the in-process OpenID provider's fixtures (SSO tests)

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
POSTGRES_URL = os.environ.get("PMOFLOW_TEST_POSTGRES_URL")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")  # gw0, gw1, ... under xdist
BROWSER_TESTS = Path(__file__).resolve().parent / "browser"
# Every step that reuses a workflow kept by the warm cache compares it with a fresh restore of its saved
# state (engine.runtime.warm), so the whole suite checks that the cache changes nothing; apps and servers
# built from the environment take it too.
os.environ.setdefault("PMOFLOW_WORKFLOW_CACHE_CHECK", "1")


def tiers_of(item: pytest.Item) -> set[str]:
    """The tiers a test belongs to, from what it needs: `browser` (in tests/browser or uses the browser
    fixture), `postgres` (the PostgreSQL server), `sqlite` (a SQLite database), else `unit`.
    A browser test also carries the tier of its database."""
    names = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec else {}
    database = next((v for k, v in params.items() if k.endswith("database_url")), None)  # database_url, blank_...
    tiers = set()
    if BROWSER_TESTS in item.path.parents or "browser" in names:
        tiers.add("browser")
    if database == "postgres" or "postgres_database" in names or item.get_closest_marker("postgres"):
        tiers.add("postgres")
    elif database == "sqlite" or "sqlite_template" in names:
        tiers.add("sqlite")
    return tiers or {"unit"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its tiers (see `tiers_of`): `-m "not postgres and not browser"` is the fast tier."""
    for item in items:
        for tier in sorted(tiers_of(item)):
            item.add_marker(tier)


@pytest.fixture(scope="session", autouse=True)
def composed() -> None:
    """Every subscriber and job handler registered, as the app factory and the CLI do (engine.bootstrap),
    also for tests that build their own engine context."""
    bootstrap.bootstrap()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@contextmanager
def new_postgres_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards; skips without PMOFLOW_TEST_POSTGRES_URL."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need PMOFLOW_TEST_POSTGRES_URL (CI sets it)")
    name = f"{prefix}_{WORKER}_{uuid.uuid4().hex[:10]}"  # named after its xdist worker
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    with new_postgres_database("pmoflow_test") as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, without any schema (for upgrades from an old revision)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.sqlite3'}"
        return
    with new_postgres_database("pmoflow_blank") as url:
        yield url


def _truncate(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # past the audit trail's triggers
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        target = tmp_path / "pmoflow.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("postgres_database")
    _truncate(url)
    return url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, secret_key="test-secret", script_time_limit=1.0, workflow_cache_check=True
    )


@pytest.fixture
def ctx(settings: Settings, clock: FixedClock) -> Iterator[EngineContext]:
    context = bootstrap.context(settings, clock=clock)
    yield context
    context.db.dispose()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same Argon2id code path with test-sized costs (production keeps argon2's defaults)."""
    from argon2 import PasswordHasher

    import engine.admin.passwords

    monkeypatch.setattr(engine.admin.passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
