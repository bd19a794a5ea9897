"""End to end: hostile models against a real `pmoflow serve` cannot hurt it.

Each hostile model of tests/models/safety is started over HTTP at the same time (a process
calling itself, a loop that never waits, a million-item collection, a million-fold loop
cardinality); while they run, the shipped intake
is started and approved to the end and /healthz keeps answering. Every hostile start answers
with an incident naming its element (the server runs with a 1 s step budget), and the
incidents can be retried or cancelled.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.admin.tokens import create_token
from engine.core.config import Settings
from engine.core.context import EngineContext
from tests.e2e.test_server import cli, client
from tests.servers import ROOT, serving

BUDGET = 1.0  # seconds: PMOFLOW_STEP_TIME_LIMIT of the server under test
MODELS = ROOT / "tests" / "models" / "safety"
HOSTILE = {  # process -> (start variables, element the incident names, kind)
    "safety_recursive_call": ({}, "call_self", "CallDepthLimit"),
    "safety_script_loop": ({"n": 0, "stop": 10**9}, "*", "StepTimeLimit"),
    "safety_exploding_mi": ({"count": 10**6}, "handle_item", "MultiInstanceLimit"),
    "safety_counted_reminders": ({"reminders": 10**6, "sent": 0}, "send_reminder", "MultiInstanceLimit"),
}


@pytest.fixture
def hostile_server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {
        **os.environ,
        "PMOFLOW_DATABASE_URL": database_url,
        "PMOFLOW_SECRET_KEY": "e2e",
        "PMOFLOW_WORKFLOWS_DIR": str(ROOT / "workflows"),
        "PMOFLOW_STEP_TIME_LIMIT": str(BUDGET),
        "PMOFLOW_STEP_TASK_LIMIT": "1000000",
        # the million-item collection (about 7 MB) must reach the multi-instance guard: with the default
        # byte limit the script building it is already the incident (tests/engine/runtime/test_variable_bounds.py)
        "PMOFLOW_VARIABLE_MAX_BYTES": str(64 * 1024 * 1024),
    }
    init = cli(env, "init", "--demo")
    assert init.returncode == 0, init.stderr
    deployed = cli(env, "deploy", *map(str, sorted(MODELS.glob("*.bpmn"))))
    assert deployed.returncode == 0, deployed.stderr
    ctx = EngineContext.from_settings(Settings(database_url=database_url))
    tokens = {user: create_token(ctx, user, "e2e") for user in ("intake-bot", "alice", "bob", "erin", "pmo")}
    ctx.db.dispose()
    with serving(env, tmp_path / "server.log") as base:
        yield base, tokens


def test_hostile_models_end_as_incidents_while_the_server_keeps_serving(hostile_server):
    base, tokens = hostile_server
    answers: dict[str, tuple[float, float, httpx.Response]] = {}

    def start_hostile(process: str, variables: dict[str, Any]) -> None:
        with client(base, tokens["intake-bot"]) as c:
            began = time.monotonic()
            response = c.post("/api/v1/process-instances", json={"process": process, "variables": variables})
            answers[process] = (began, time.monotonic(), response)

    threads = [threading.Thread(target=start_hostile, args=(p, v)) for p, (v, _, _) in HOSTILE.items()]
    [t.start() for t in threads]
    intake_began = time.monotonic()
    intake = run_the_intake(base, tokens)  # meanwhile: another instance, start to end
    health = [httpx.get(f"{base}/healthz", timeout=10) for _ in range(3)]  # answers, however busy
    [t.join(timeout=120) for t in threads]

    assert not any(t.is_alive() for t in threads)
    assert intake["status"] == "completed" and intake["variables"]["outcome"] == "approved"
    for answer in health:  # ok, or (a step saving a million items past twice its 1 s budget) saying so
        assert answer.status_code == 200 or {s["kind"] for s in answer.json()["stuck"]} == {"step"}, answer.text
    assert intake_began < max(ended for _, ended, _ in answers.values())  # it ran while they did
    bound = len(HOSTILE) * (2 * BUDGET + 2)  # each waits at most for the others' steps, each bounded
    for process, (_, element, kind) in HOSTILE.items():
        began, ended, response = answers[process]
        assert response.status_code == 201, (process, response.text)
        body = response.json()
        assert body["status"] == "error" and body["error"]["kind"] == kind, (process, body["error"])
        assert element == "*" or body["error"]["element_id"] == element, (process, body["error"])
        assert ended - began < bound, (process, ended - began)

    admin = client(base, tokens["pmo"])
    loop_id = answers["safety_script_loop"][2].json()["id"]
    retried = admin.post(f"/api/v1/process-instances/{loop_id}/retry", json={"variables": {}})
    assert retried.status_code == 200 and retried.json()["status"] == "error", retried.text
    for process in HOSTILE:
        instance_id = answers[process][2].json()["id"]
        cancelled = admin.post(f"/api/v1/process-instances/{instance_id}/cancel", json={"reason": "hostile"})
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    admin.close()
    assert httpx.get(f"{base}/healthz", timeout=10).json()["status"] == "ok"


def run_the_intake(base: str, tokens: dict[str, str]) -> dict[str, Any]:
    """The shipped intake through its three approvals over HTTP; returns the finished instance."""
    with client(base, tokens["intake-bot"]) as bot:
        started = bot.post(
            "/api/v1/process-instances",
            json={
                "process": "project-intake",
                "variables": {"title": "During the storm", "budget": 300000, "department": "IT"},
            },
        )
        assert started.status_code == 201, started.text
        instance_id = started.json()["id"]
        for user in ("alice", "bob", "erin"):
            [task] = bot.get(f"/api/v1/process-instances/{instance_id}").json()["open_tasks"]
            with client(base, tokens[user]) as person:
                done = person.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}})
            assert done.status_code == 200, done.text
        return bot.get(f"/api/v1/process-instances/{instance_id}").json()
