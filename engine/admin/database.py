"""The database as operators handle it: bring its schema up to date, name it, probe it, let it go.

The CLI and the web app's `/healthz` call these, so neither touches SQLAlchemy or engine.db.
"""

from __future__ import annotations

from sqlalchemy import text

from engine.core.context import EngineContext
from engine.db.schema import upgrade

_PING = text("SELECT 1")


def upgrade_schema(ctx: EngineContext) -> None:
    """Create or upgrade the schema to the newest Alembic revision; raises SQLAlchemy's errors."""
    upgrade(ctx.db)


def address(ctx: EngineContext) -> str:
    """The database URL with its password hidden, for messages."""
    return ctx.db.url.render_as_string(hide_password=True)


def answers(ctx: EngineContext) -> bool:
    """True when the database runs a trivial statement; never raises."""
    try:
        with ctx.db.connect() as conn:
            conn.execute(_PING)
    except Exception:  # noqa: BLE001 - any database failure means it does not answer
        return False
    return True


def close(ctx: EngineContext) -> None:
    """Close the pooled connections (a command that is done with the database)."""
    ctx.db.dispose()
