"""Database engines. SQLite writers begin IMMEDIATE so concurrent steps serialize cleanly.

SQLite connections are pooled like PostgreSQL's: opening one (and its PRAGMAs) cost about a sixth of
an approval step's instructions when every unit of work opened its own. A pooled connection serves one
thread at a time (the pool hands it out and takes it back), so `check_same_thread` is off; it is
rolled back when it goes back to the pool, so no transaction, and no write lock, outlives its unit of
work; WAL lets readers on other pooled connections go on while a writer holds the lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool, QueuePool

# Connections kept open per process, and opened beyond that under load (closed when given back).
SQLITE_POOL_SIZE = 8
SQLITE_POOL_OVERFLOW = 24


def make_engine(url: str) -> Engine:
    """Create an engine for `url`; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if not parsed.database or parsed.database == ":memory:":
        engine = create_engine(parsed, poolclass=NullPool, connect_args={"timeout": 30})
    else:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            poolclass=QueuePool,
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=SQLITE_POOL_OVERFLOW,
            pool_reset_on_return="rollback",
            connect_args={"timeout": 30, "check_same_thread": False},
        )
    _tune_sqlite(engine)
    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:  # the sqlite3 connection (a DBAPI one: untyped)
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("pmoflow_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")
