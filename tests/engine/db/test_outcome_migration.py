"""Revision 0022 on SQLite and PostgreSQL: finished instances get their outcome from what the database holds
(the outcome variable, the name of the last end event reached, the last task decision), cancelled ones are
'cancelled', one stopped on an uncaught error end event 'failed', running ones none."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import text

from engine.db.schema import alembic_config
from engine.db.session import make_engine

NOW = "2026-03-03 14:02:00"
# id, status, variables, error, end event name reached (an element_completed event), last task decision
INSTANCES = [
    (1, "cancelled", {"outcome": "approved"}, None, None, None),
    (2, "completed", {"outcome": "rejected"}, None, "Approved", None),
    (3, "completed", {}, None, "Vendor declined", None),
    (4, "completed", {"decision": "approve"}, None, "Done", "reject"),
    (5, "completed", {"title": "x"}, None, "Project onboarded", None),
    (6, "error", {}, {"kind": "UncaughtError", "message": "error 'E1' thrown by e"}, None, None),
    (7, "error", {}, {"kind": "NameError", "message": "x is not defined"}, None, None),
    (8, "running", {"outcome": "approved"}, None, None, None),
    (9, "completed", {"approved": False}, None, None, None),
]
EXPECTED = {
    1: "cancelled",
    2: "rejected",
    3: "rejected",
    4: "rejected",
    5: "completed",
    6: "failed",
    7: None,
    8: None,
    9: "rejected",
}


def _seed(conn) -> None:
    conn.execute(
        text("INSERT INTO deployments (id, uuid, name, lane_map, created_at) VALUES (1, 'd1', 'd', '{}', :t)"),
        {"t": NOW},
    )
    conn.execute(
        text(
            "INSERT INTO process_definitions (id, uuid, key, version, name, deployment_id, content_hash, bpmn_file,"
            " spec, lane_map, forms, user_tasks, created_at) VALUES (1, 'p1', 'p', 1, 'P', 1, 'h', 'p.bpmn', '{}',"
            " '{}', '{}', '[]', :t)"
        ),
        {"t": NOW},
    )
    seq = 0
    for pk, status, variables, error, end, decision in INSTANCES:
        conn.execute(
            text(
                "INSERT INTO process_instances (id, uuid, definition_id, status, state, variables, revision, error,"
                " created_at, updated_at) VALUES (:i, :u, 1, :s, '{}', :v, 0, :e, :t, :t)"
            ),
            {
                "i": pk,
                "u": f"i{pk}",
                "s": status,
                "v": json.dumps(variables),
                "e": json.dumps(error) if error else None,
                "t": NOW,
            },
        )
        if end:
            for name, kind in (("Review", "UserTask"), (end, "EndEvent")):
                seq += 1
                conn.execute(
                    text(
                        "INSERT INTO events (uuid, type, instance_id, occurred_at, data, seq, prev_hash, hash, actor_kind,"
                        " search_text) VALUES (:u, 'element_completed', :i, :t, :d, :s, 'x', 'y', 'person', '')"
                    ),
                    {"u": f"e{seq}", "i": pk, "t": NOW, "d": json.dumps({"name": name, "type": kind}), "s": seq},
                )
        if decision:
            conn.execute(
                text(
                    "INSERT INTO human_tasks (uuid, instance_id, element_id, name, candidate_groups, status, created_at,"
                    " completed_at, data) VALUES (:u, :i, 'review', 'Review', '[]', 'completed', :t, :t, :d)"
                ),
                {"u": f"t{pk}", "i": pk, "t": NOW, "d": json.dumps({"finance_decision": decision})},
            )


def test_finished_instances_get_their_outcome(blank_database_url):
    engine = make_engine(blank_database_url)
    config = alembic_config(blank_database_url)
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0021")
        with engine.begin() as conn:
            _seed(conn)
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0022")
        with engine.connect() as conn:
            found = dict(conn.execute(text("SELECT id, outcome FROM process_instances ORDER BY id")).all())
        assert found == EXPECTED
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0021")
        with engine.connect() as conn:
            columns = conn.execute(text("SELECT * FROM process_instances")).keys()
        assert "outcome" not in columns
    finally:
        engine.dispose()
