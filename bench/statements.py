"""SQL statements per approval instance through the API (investigation helper; deterministic).

    .venv/bin/python -m bench.statements [--database sqlite|postgres] [--verbose]

Drives one `project-intake` instance (budget 300,000: three approvals) through the whole
app with Flask's test client, the same requests as (b) makes (`bench.load.one_instance`),
and counts the statements each request sends to the database (SQLAlchemy
`before_cursor_execute`; BEGIN on SQLite included, COMMIT/ROLLBACK counted apart).
`--verbose` lists the statements of each request, grouped by their first words.
tests/api/test_statements.py holds the same flow to an upper bound.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from .approval import DEFAULT_POSTGRES_URL
from .baseline import DECISION, PROCESS, STEPS, start_variables
from .server import APPROVERS, STARTER, ServerOptions, Stack


class StatementLog:
    """Statements and transaction ends seen on one engine while `watch` is active."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.ends = 0

    @contextmanager
    def watch(self, engine: Engine) -> Iterator[StatementLog]:
        def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            self.statements.append(statement)

        def on_end(_conn: Any) -> None:
            self.ends += 1

        event.listen(engine, "before_cursor_execute", on_execute)
        event.listen(engine, "commit", on_end)
        event.listen(engine, "rollback", on_end)
        try:
            yield self
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
            event.remove(engine, "commit", on_end)
            event.remove(engine, "rollback", on_end)


def shape(statement: str) -> str:
    """A statement's kind and main table, e.g. 'SELECT human_tasks' or 'INSERT INTO events'."""
    text = " ".join(statement.split())
    verb = text.split(" ", 1)[0].upper()
    if verb == "SELECT":
        table = re.search(r"\bFROM\s+\(?\s*([A-Za-z_\"]+)", text)
        return f"SELECT {table.group(1).strip(chr(34)) if table else '?'}"
    if verb in ("INSERT", "UPDATE", "DELETE"):
        table = re.search(r"^(?:INSERT INTO|UPDATE|DELETE FROM)\s+\"?([A-Za-z_]+)", text, re.IGNORECASE)
        return f"{verb} {table.group(1) if table else '?'}"
    return text[:40]


def one_instance(client: Any, tokens: dict[str, str], number: int) -> Iterator[tuple[str, Any]]:
    """The requests of (b) for one instance, as (label, response) pairs; asserts each succeeds."""

    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[name]}"}

    r = client.post(
        "/api/v1/process-instances",
        headers=auth(STARTER.name),
        json={"process": PROCESS, "business_key": f"stmt-{number}", "variables": start_variables(number)},
    )
    assert r.status_code == 201, r.text
    yield "start", r
    instance = r.json
    for step, element in enumerate(STEPS):
        [task] = instance["open_tasks"]
        assert task["element_id"] == element, task
        r = client.post(
            f"/api/v1/tasks/{task['id']}/complete", headers=auth(APPROVERS[element].name), json={"data": dict(DECISION)}
        )
        assert r.status_code == 200, r.text
        yield f"complete {step + 1}", r
        if step + 1 < len(STEPS):
            if "open_tasks" in r.json:  # the complete answer carries the next open tasks
                instance = {"id": instance["id"], "open_tasks": r.json["open_tasks"]}
                continue
            r = client.get(f"/api/v1/process-instances/{instance['id']}", headers=auth(STARTER.name))
            assert r.status_code == 200, r.text
            yield "get", r
            instance = r.json


def count(kind: str, postgres_url: str, verbose: bool) -> int:
    """Print statements per request of one instance (after one warm-up instance); returns the total."""
    from webui.app import create_app

    with Stack(kind, ServerOptions(workers=1, threads=1), postgres_url=postgres_url, serve=False) as stack:
        os.environ.update(stack.env())
        app = create_app()
        engine = app.extensions["pmoflow"].db
        client = app.test_client()
        list(one_instance(client, stack.tokens, 0))  # warm caches
        total = 0
        requests = one_instance(client, stack.tokens, 1)
        while True:
            log = StatementLog()
            with log.watch(engine):
                step = next(requests, None)
            if step is None:
                break
            total += len(log.statements)
            shapes = Counter(shape(s) for s in log.statements)
            print(f"{step[0]:<12} {len(log.statements):>3} statements, {log.ends} commits/rollbacks")
            if verbose:
                for text, n in sorted(shapes.items(), key=lambda kv: -kv[1]):
                    print(f"    {n:>3}  {text}")
        print(f"{kind}: {total} statements per instance")
        app.extensions["pmoflow"].db.dispose()
        return total


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.statements", description=__doc__.split("\n\n")[0])
    p.add_argument("--database", choices=("sqlite", "postgres"), default="postgres")
    p.add_argument("--postgres-url", default=os.environ.get("PMOFLOW_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    p.add_argument("--verbose", action="store_true", help="list each request's statements by kind and table")
    args = p.parse_args(argv)
    count(args.database, args.postgres_url, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
