"""Revision 0026 on SQLite and PostgreSQL: every existing user and group gets its own SCIM id; groups a
creation time; nothing else changes."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from engine.db.schema import alembic_config
from engine.db.session import make_engine


def test_existing_users_and_groups_get_scim_ids(blank_database_url):
    url = blank_database_url
    engine = make_engine(url)
    config = alembic_config(url)
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0025")
        with engine.begin() as conn:
            for n in (1, 2, 3):
                conn.execute(
                    text(
                        "INSERT INTO users (id, username, display_name, roles, active, session_epoch, created_at, kind)"
                        " VALUES (:i, :n, :n, '[]', true, 0, '2026-03-03 14:02:00', 'person')"
                    ),
                    {"i": n, "n": f"user{n}"},
                )
                conn.execute(text("INSERT INTO groups (id, name) VALUES (:i, :n)"), {"i": n, "n": f"group{n}"})
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0026")
        with engine.connect() as conn:
            users = conn.execute(text("SELECT username, scim_id, external_id, modified_at FROM users")).all()
            groups = conn.execute(text("SELECT name, scim_id, created_at FROM groups")).all()
    finally:
        engine.dispose()
    ids = [u.scim_id for u in users] + [g.scim_id for g in groups]
    assert len(set(ids)) == 6 and all(len(i) == 36 for i in ids)
    assert all(u.external_id is None and u.modified_at is None for u in users)
    assert all(g.created_at is not None for g in groups)
