"""End to end: the CLI sets up a database, `pmoflow serve` serves it, clients talk HTTP."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.admin.tokens import create_token
from engine.core.config import Settings
from engine.core.context import EngineContext
from tests.servers import BIN, ROOT, serving


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pmoflow"), *args], env=env, input=stdin, capture_output=True, text=True, timeout=120, cwd=ROOT
    )


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {
        **os.environ,
        "PMOFLOW_DATABASE_URL": database_url,
        "PMOFLOW_SECRET_KEY": "e2e",
        "PMOFLOW_WORKFLOWS_DIR": str(ROOT / "workflows"),
    }
    init = cli(env, "init", "--demo")
    assert init.returncode == 0, init.stderr
    assert "demo users have the password 'demo'" in init.stderr
    ctx = EngineContext.from_settings(Settings(database_url=database_url))
    tokens = {user: create_token(ctx, user, "e2e") for user in ("intake-bot", "alice", "bob", "erin", "pmo", "audrey")}
    ctx.db.dispose()
    with serving(env, tmp_path / "server.log") as base:
        yield base, tokens


def client(base: str, token: str) -> httpx.Client:
    # a fresh connection per request: a kept-alive one that the server closes after its keep-alive timeout,
    # just as the client reuses it, fails the request (the race the tasklist tests met)
    return httpx.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


@pytest.fixture
def clients(server):
    base, tokens = server
    opened = {user: client(base, token) for user, token in tokens.items()}
    yield opened
    for c in opened.values():
        c.close()


def test_the_shipped_intake_runs_over_http_as_a_system_would(server, clients):
    base, _ = server
    bot, alice, bob, erin = (clients[u] for u in ("intake-bot", "alice", "bob", "erin"))
    started = bot.post(
        "/api/v1/process-instances",
        json={
            "process": "project-intake",
            "business_key": "PRJ-300",
            "variables": {"title": "Data platform", "budget": 300000, "department": "IT"},
        },
    )
    assert started.status_code == 201, started.text
    instance = started.json()
    for caller, element in ((alice, "it_manager_approval"), (bob, "finance_approval"), (erin, "pmo_director_approval")):
        [task] = bot.get(f"/api/v1/process-instances/{instance['id']}").json()["open_tasks"]
        assert task["element_id"] == element
        done = caller.post(
            f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "approve", "comment": "fine"}}
        )
        assert done.status_code == 200, done.text
    final = bot.get(f"/api/v1/process-instances/{instance['id']}").json()
    assert final["status"] == "completed" and final["variables"]["outcome"] == "approved"
    trail = clients["audrey"].get(f"/api/v1/process-instances/{instance['id']}/audit").json()
    assert [e["actor"] for e in trail["events"] if e["type"] == "task_completed"] == ["alice", "bob", "erin"]
    assert httpx.get(f"{base}/api/v1/openapi.json").json()["info"]["title"] == "pmoflow"


def test_two_people_completing_one_task_get_one_success_and_one_409(server, clients):
    base, tokens = server
    bot = clients["intake-bot"]
    for attempt in range(5):
        instance = bot.post(
            "/api/v1/process-instances",
            json={"process": "project-intake", "variables": {"title": "x", "budget": 10, "department": "IT"}},
        ).json()
        task_id = instance["open_tasks"][0]["id"]
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def complete(user: str) -> None:
            with client(base, tokens[user]) as c:
                barrier.wait()
                statuses.append(
                    c.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"decision": "approve"}}).status_code
                )

        threads = [threading.Thread(target=complete, args=(u,)) for u in ("alice", "pmo")]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert sorted(statuses) == [200, 409], (attempt, statuses)


def test_cli_reports_bad_files_and_users_and_tokens_work(database_url, tmp_path):
    env = {**os.environ, "PMOFLOW_DATABASE_URL": database_url, "PMOFLOW_WORKFLOWS_DIR": str(tmp_path / "none")}
    assert cli(env, "init").returncode == 0
    bad = tmp_path / "bad.bpmn"
    bad.write_text('<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="x">\n<oops>\n</bpmn:definitions>\n')
    result = cli(env, "deploy", str(bad))
    assert result.returncode == 1 and "bad.bpmn:4" in result.stderr and "malformed XML" in result.stderr
    made = cli(env, "users", "create", "frank", "--group", "Finance", "--role", "approver", stdin="s3cret-pw\n")
    assert made.returncode == 0 and "frank" in made.stdout
    again = cli(env, "users", "create", "frank", stdin="x1234\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    token = cli(env, "tokens", "create", "--user", "frank", "--name", "erp").stdout.strip()
    assert token.startswith("pmo_") and len(token) > 40
    assert cli(env, "tokens", "create", "--user", "ghost").returncode == 1
    help_text = cli(env, "--help").stdout
    for command in ("init", "serve", "deploy", "users", "tokens"):
        assert command in help_text
