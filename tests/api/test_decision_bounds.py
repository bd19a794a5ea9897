"""Hostile decisions through the API, on SQLite and PostgreSQL: each ends within the time limit (1 s in these
apps) plus a margin, as a 422 or an incident naming the element, while other requests are served."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask

from tests.api.journeys import instance, start
from tests.bpmn_samples import linear
from tests.engine.dmn.samples import dmn, literal, table

LIMIT = 1.0  # script_time_limit of the app fixture
MARGIN = 9.0  # generous: a busy machine
BACKTRACK = "a" * 50_000 + "!"
REGEX = dmn(literal("hostile", 'matches(s, "^(a|aa)+$")'))
FIB = "{f: function(n) if n < 2 then n else f(n - 1) + f(n - 2), r: f(22)}.r > ?"
RECURSIVE = dmn(table("recursive", ["x"], ["out"], [([FIB], [f'"r{r}"']) for r in range(100)], hit_policy="COLLECT"))
PROCESS = linear(
    (
        '<bpmn:businessRuleTask id="decide" name="Decide"><bpmn:extensionElements>'
        '<pmoflow:decision ref="hostile"/></bpmn:extensionElements></bpmn:businessRuleTask>\n',
        "decide",
    ),
    pid="hostile_process",
)


def deploy(as_, *files: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    response = as_("pmo").post(
        "/api/v1/process-definitions",
        data={"files": [(io.BytesIO(text.encode()), name) for name, text in files]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json


def while_serving_healthz(app: Flask, run: Callable[[], Any]) -> tuple[Any, float, list[int]]:
    """`run()`'s result and seconds, and the status of every /healthz answered while it ran."""
    answered: list[int] = []
    done = threading.Event()

    def poll() -> None:
        client = app.test_client()
        while not done.is_set():
            answered.append(client.get("/healthz").status_code)
            time.sleep(0.05)

    poller = threading.Thread(target=poll)
    began = time.monotonic()
    poller.start()
    try:
        result = run()
    finally:
        elapsed = time.monotonic() - began
        done.set()
        poller.join()
    return result, elapsed, answered


def test_a_backtracking_regex_is_a_422_within_the_limit_while_healthz_is_served(app, as_):
    deploy(as_, ("hostile.dmn", REGEX))
    caller = as_("bot")
    response, elapsed, answered = while_serving_healthz(
        app, lambda: caller.post("/api/v1/decisions/hostile/evaluate", json={"inputs": {"s": BACKTRACK}})
    )
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "decision_failed" and "time limit of 1 s" in error["details"]["reason"]
    assert error["details"]["decision"] == "hostile"
    assert elapsed < LIMIT + MARGIN
    assert answered and set(answered) == {200}, answered


def test_a_table_of_exponential_recursion_is_a_422_naming_the_rule(app, as_):
    deploy(as_, ("recursive.dmn", RECURSIVE))
    caller = as_("bot")
    response, elapsed, answered = while_serving_healthz(
        app, lambda: caller.post("/api/v1/decisions/recursive/evaluate", json={"inputs": {"x": 10**6}})
    )
    assert response.status_code == 422, response.json
    details = response.json["error"]["details"]
    assert "stopped" in details["reason"] and details["rule_number"] >= 1
    assert elapsed < LIMIT + MARGIN
    assert answered and set(answered) == {200}, answered


def test_a_business_rule_task_with_a_hostile_decision_becomes_an_incident_naming_the_element(app, as_):
    deploy(as_, ("hostile.dmn", REGEX), ("hostile.bpmn", PROCESS))
    started, elapsed, answered = while_serving_healthz(app, lambda: start(as_, "hostile_process", {"s": BACKTRACK}))
    assert elapsed < LIMIT + MARGIN
    assert answered and set(answered) == {200}, answered
    got = instance(as_, started["id"])
    assert got["status"] != "completed" and got["error"] is not None, got
    text = str(got["error"])
    assert "decide" in text and "time limit" in text, got["error"]
