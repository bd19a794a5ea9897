"""engine.admin.database: what the CLI and /healthz ask of the database, without touching SQLAlchemy themselves."""

from __future__ import annotations

from engine.admin import database, groups
from engine.core.config import Settings
from engine.core.context import EngineContext


def test_upgrading_a_blank_database_makes_it_ready(blank_database_url):
    ctx = EngineContext.from_settings(Settings(database_url=blank_database_url, secret_key="s"))
    try:
        assert database.answers(ctx)
        database.upgrade_schema(ctx)
        database.upgrade_schema(ctx)  # idempotent, as `pmoflow init` promises
        assert groups.group_names(ctx) == []
    finally:
        database.close(ctx)


def test_a_database_that_does_not_answer_is_reported_and_its_password_is_never_shown():
    ctx = EngineContext.from_settings(Settings(database_url="postgresql://pmo:s3cret@127.0.0.1:1/none", secret_key="s"))
    try:
        assert database.answers(ctx) is False
        assert "s3cret" not in database.address(ctx) and "127.0.0.1:1/none" in database.address(ctx)
    finally:
        database.close(ctx)
