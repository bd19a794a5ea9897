"""How many SQL statements the 3-step approval costs through the API (deterministic; no timing).

The same flow as bench (b): start `project-intake` above 250,000, then three completions,
each answer naming the next open task. Upper bounds make a regression visible; run
`python -m bench.statements --verbose` to see each request's statements.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import event

APPROVERS = {"it_manager_approval": "alice", "finance_approval": "bob", "pmo_director_approval": "erin"}
DECISION = {"decision": "approve", "comment": "ok"}
# Whole requests, token check included, event subscribers (webhooks, notifications) and the audit chain
# included: the counts measured with bench.statements. SQLite adds BEGIN IMMEDIATE; PostgreSQL adds the
# chain's advisory lock.
MAX_START = {"postgresql": 7, "sqlite": 7}
MAX_COMPLETE = {"postgresql": 9, "sqlite": 9}


class Statements:
    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.seen: list[str] = []

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on)

    def _on(self, _conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        self.seen.append(" ".join(statement.split()))

    def count(self, verb: str, table: str) -> int:
        return sum(1 for s in self.seen if s.upper().startswith(verb) and _main_table(s) == table)

    def report(self) -> str:
        return "\n".join(f"{n:3} {s[:160]}" for s, n in Counter(self.seen).most_common())


def _main_table(statement: str) -> str:
    words = statement.replace('"', "").split()
    upper = [w.upper() for w in words]
    if upper[0] == "SELECT":
        return words[upper.index("FROM") + 1] if "FROM" in upper else ""
    if upper[0] == "UPDATE":
        return words[1]
    if upper[0] in ("INSERT", "DELETE"):
        return words[2]
    return ""


def run_instance(as_, engine, number: int) -> tuple[Statements, list[Statements]]:
    with Statements(engine) as started:
        response = as_("bot").post(
            "/api/v1/process-instances",
            json={
                "process": "project-intake",
                "business_key": f"stmt-{number}",
                "variables": {"title": f"Project {number}", "budget": 300_000, "department": "IT"},
            },
        )
    assert response.status_code == 201, response.json
    answer = response.json
    completes = []
    for element, who in APPROVERS.items():
        [task] = answer["open_tasks"]
        assert task["element_id"] == element
        with Statements(engine) as completed:
            response = as_(who).post(f"/api/v1/tasks/{task['id']}/complete", json={"data": DECISION})
        assert response.status_code == 200, response.json
        answer = response.json
        completes.append(completed)
    assert answer["instance_status"] == "completed" and answer["open_tasks"] == []
    return started, completes


@pytest.mark.usefixtures("shipped")
def test_statements_per_approval_instance_stay_within_bounds(as_, engine_ctx):
    run_instance(as_, engine_ctx.db, 0)  # warms the token and definition caches
    started, completes = run_instance(as_, engine_ctx.db, 1)
    dialect = engine_ctx.db.dialect.name
    assert len(started.seen) <= MAX_START[dialect], started.report()
    for step in (started, *completes):
        assert step.count("SELECT", "webhook_subscriptions") == 0, step.report()  # read with the chain head
        assert step.count("SELECT", "users") <= 1, step.report()  # recipients and settings in one query
        assert step.count("UPDATE", "human_tasks") <= 1, step.report()  # no second write of a new task row
    assert started.count("SELECT", "human_tasks") == 0, started.report()  # task_created carries the task
    assert started.count("UPDATE", "process_instances") == 0, started.report()  # inserted once, with its state
    for step in (started, *completes):
        assert step.count("INSERT", "events") == 1, step.report()  # the step's events in one statement
    for completed in completes:
        assert len(completed.seen) <= MAX_COMPLETE[dialect], completed.report()
        assert completed.count("SELECT", "human_tasks") == 1, completed.report()  # the open rows, once
        assert completed.count("SELECT", "api_tokens") == 0, completed.report()  # token checked earlier
        assert completed.count("SELECT", "process_definitions") == 0, completed.report()  # cached, immutable
        assert completed.count("SELECT", "process_instances") == 1, completed.report()  # locked once
    assert started.count("SELECT", "process_definitions") <= 1, started.report()  # the latest version


def test_the_complete_answer_names_the_next_open_tasks(as_, shipped):
    started = (
        as_("bot")
        .post(
            "/api/v1/process-instances",
            json={"process": "project-intake", "variables": {"title": "X", "budget": 300_000, "department": "IT"}},
        )
        .json
    )
    [first] = started["open_tasks"]
    done = as_("alice").post(f"/api/v1/tasks/{first['id']}/complete", json={"data": DECISION})
    assert done.status_code == 200
    body = done.json
    assert body["id"] == first["id"] and body["status"] == "completed" and body["instance_status"] == "running"
    [following] = body["open_tasks"]
    assert following["element_id"] == "finance_approval" and following["status"] == "open"
    again = as_("bot").get(f"/api/v1/process-instances/{started['id']}").json
    assert [t["id"] for t in again["open_tasks"]] == [following["id"]]
