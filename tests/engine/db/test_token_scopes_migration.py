"""Revision 0021 on SQLite and PostgreSQL: existing tokens keep today's behaviour (every scope of their
user's roles); accounts with only system roles become system accounts without a password."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from engine.core.permissions import scopes_of_roles
from engine.db.schema import alembic_config
from engine.db.session import make_engine

USERS = [  # id, username, roles, password hash
    (1, "intake-bot", '["api"]', "argon-hash"),
    (2, "alice", '["approver"]', "argon-hash"),
    (3, "worker", '["external-worker"]', None),
    (4, "pmo", '["admin", "api"]', "argon-hash"),
]


def test_old_tokens_get_the_scopes_of_their_roles_and_system_accounts_lose_their_password(blank_database_url):
    url = blank_database_url
    engine = make_engine(url)
    config = alembic_config(url)
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0020")
        with engine.begin() as conn:
            for user_id, name, roles, hashed in USERS:
                conn.execute(
                    text(
                        "INSERT INTO users (id, username, display_name, roles, password_hash, active, session_epoch,"
                        " created_at) VALUES (:i, :n, :n, :r, :h, true, 0, '2026-03-03 14:02:00')"
                    ),
                    {"i": user_id, "n": name, "r": roles, "h": hashed},
                )
                conn.execute(
                    text(
                        "INSERT INTO api_tokens (uuid, user_id, name, token_hash, created_at) VALUES "
                        "(:u, :i, 'old', :h, '2026-03-03 14:02:00')"
                    ),
                    {"u": f"00000000-0000-0000-0000-00000000000{user_id}", "i": user_id, "h": f"hash{user_id}"},
                )
                conn.execute(
                    text(
                        "INSERT INTO web_sessions (uuid, token_hash, user_id, created_at, last_seen_at, user_agent,"
                        " remote) VALUES (:u, :h, :i, '2026-03-03 14:02:00', '2026-03-03 14:02:00', 'b', '::1')"
                    ),
                    {"u": f"10000000-0000-0000-0000-00000000000{user_id}", "i": user_id, "h": f"s{user_id}"},
                )
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0021")
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT u.username, u.kind, u.password_hash, u.session_epoch, t.scopes FROM users u"
                    " JOIN api_tokens t ON t.user_id = u.id ORDER BY u.id"
                )
            ).all()
            ended = conn.execute(text("SELECT user_id, end_reason FROM web_sessions WHERE ended_at IS NOT NULL")).all()
    finally:
        engine.dispose()
    import json

    found = {r[0]: (r[1], r[2], r[3], sorted(json.loads(r[4]) if isinstance(r[4], str) else r[4])) for r in rows}
    later = {"notifications", "scim"}  # scopes added after 0021 (0026, #18): old tokens get none of them
    assert found == {
        "intake-bot": ("system", None, 1, sorted(scopes_of_roles({"api"}) - later)),
        "alice": ("person", "argon-hash", 0, sorted(scopes_of_roles({"approver"}) - later)),
        "worker": ("system", None, 1, ["external-tasks"]),
        "pmo": ("person", "argon-hash", 0, sorted(scopes_of_roles({"admin", "api"}) - later)),
    }
    assert sorted(tuple(r) for r in ended) == [(1, "system_account"), (3, "system_account")]
