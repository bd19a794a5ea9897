"""Resource attacks through the app: a gateway condition or a script task of a deployed process started over
the API, a decision test at deploy and a designer dry run each end as an incident or a problem within the time
limit plus the margin, while /healthz is served meanwhile (one long C call used to freeze every thread)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

import pytest
from flask import Flask

from engine.admin import users
from engine.core.config import Settings
from tests.bpmn_samples import document, flow, linear, process, script_task
from tests.engine.dmn.samples import case_row, dmn, table
from tests.engine.spiff.resource_attacks import ATTACKS
from tests.webui.conftest import TOKEN as CSRF
from tests.webui.conftest import sign_in

LIMIT = 1.0  # the app fixture's script_time_limit
BOUND = LIMIT + Settings().script_kill_margin + 6.0  # generous: a loaded 2-CPU machine
PAYLOADS = {a[0]: a[2] for a in ATTACKS}


def gateway_process(condition: str) -> str:
    body = (
        '<bpmn:startEvent id="start"/>\n'
        '<bpmn:exclusiveGateway id="route" default="f_no"/>\n'
        '<bpmn:endEvent id="yes"/>\n<bpmn:endEvent id="no"/>\n'
        + flow("f0", "start", "route")
        + flow("f_yes", "route", "yes", escape(condition))
        + flow("f_no", "route", "no")
    )
    return document(process(body, pid="attack"))


def script_process(script: str) -> str:
    return linear((script_task("compute", escape(script)), "compute"), pid="attack")


def deploy(as_: Any, name: str, text: str) -> Any:
    files = {"files": [(io.BytesIO(text.encode()), name)]}
    return as_("pmo").post("/api/v1/process-definitions", data=files, content_type="multipart/form-data")


def while_served(app: Flask, work: Callable[[], Any]) -> tuple[Any, float, list[float]]:
    """Run `work` in a thread; meanwhile GET /healthz again and again. Returns its result, time, /healthz times."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()))
    began = time.monotonic()
    thread.start()
    client, answers = app.test_client(), []
    while thread.is_alive():
        sent = time.monotonic()
        assert client.get("/healthz").status_code in (200, 503)  # served (503 may name the long step)
        answers.append(time.monotonic() - sent)
        time.sleep(0.05)
    thread.join()
    return result[0], time.monotonic() - began, answers


def assert_served(took: float, answers: list[float]) -> None:
    assert took < BOUND, f"{took:.1f} s"
    assert answers and max(answers) < 2.0, answers  # before: stalled for the whole C call


@pytest.mark.parametrize(
    ("kind", "payload"),
    [("gateway", "sum-of-lists"), ("gateway", "str-shared"), ("script", "append-forever"), ("script", "big-lists")],
)
def test_an_attack_in_a_started_process_is_an_incident_within_the_bound(
    app: Flask, as_: Any, kind: str, payload: str
) -> None:
    source = PAYLOADS[payload]
    text = gateway_process(source) if kind == "gateway" else script_process(source)
    assert deploy(as_, "attack.bpmn", text).status_code == 201
    started, took, answers = while_served(
        app, lambda: as_("bot").post("/api/v1/process-instances", json={"process": "attack", "variables": {}})
    )
    assert started.status_code == 201, started.json
    assert started.json["status"] == "error" and started.json["error"] is not None, started.json
    assert started.json["error"]["element_id"] in ("route", "compute", "f_yes")
    assert "ScriptTimeout:" in started.json["error"]["message"] or "SandboxError:" in started.json["error"]["message"]
    assert_served(took, answers)


def test_an_attack_in_a_decision_test_is_a_deploy_problem_within_the_bound(app: Flask, as_: Any) -> None:
    rules = [([f"{PAYLOADS['sum-of-lists']} and ? > 0"], ['"big"']), (["<= 0"], ['"small"'])]
    text = dmn(
        table("tiers", ["amount"], ["tier"], rules, tests=case_row("t1", {"amount": "5"}, {"tier": '"big"'})),
        language="python",
    )
    response, took, answers = while_served(app, lambda: deploy(as_, "tiers.dmn", text))
    assert response.status_code == 422, response.json
    [problem] = response.json["error"]["details"]["problems"]
    assert problem["code"] == "decision_test_failed" and "time limit" in problem["message"]
    assert_served(took, answers)


def test_an_attack_in_a_dry_run_ends_within_the_bound(app: Flask) -> None:
    users.create_user(app.extensions["pmoflow"], "dana", "demo", [], ["designer"])
    client = app.test_client()
    assert sign_in(client, "dana").status_code == 302
    page = client.get("/login", follow_redirects=True).get_data(as_text=True)
    client.environ_base["HTTP_X_CSRFTOKEN"] = CSRF.search(page).group(1)  # type: ignore[union-attr]
    files = [{"name": "attack.bpmn", "content": gateway_process(PAYLOADS["str-shared"])}]
    response, took, answers = while_served(app, lambda: client.post("/designer/dry-run", json={"files": files}))
    assert response.status_code == 200, response.json
    assert response.json["status"] == "error" and response.json["incident"]["element_id"] == "route"
    assert_served(took, answers)
