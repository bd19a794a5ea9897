"""The migrations and the models describe the same schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.db.models import Base
from engine.db.session import make_engine


def test_migrations_match_the_models(database_url):
    engine = make_engine(database_url)          # the fixture's database is migrated to head
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()
