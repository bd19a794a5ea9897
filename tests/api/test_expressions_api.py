"""Camunda 7 and Camunda 8 models, as their modelers write them, deployed and run through the API unchanged."""

from __future__ import annotations

import io
from pathlib import Path

MODELS = Path(__file__).parent.parent / "models" / "expressions"


def upload(*names: str, replace: dict[str, str] | None = None) -> dict:
    files = []
    for name in names:
        text = (MODELS / name).read_text()
        for old, new in (replace or {}).items():
            text = text.replace(old, new)
        files.append((io.BytesIO(text.encode()), name))
    return {"files": files}


def deploy(as_, *names: str, replace: dict[str, str] | None = None, status: int = 201):
    response = as_("pmo").post("/api/v1/process-definitions", data=upload(*names, replace=replace),
                               content_type="multipart/form-data")
    assert response.status_code == status, response.json
    return response.json


def start(as_, process: str, variables: dict) -> dict:
    response = as_("bot").post("/api/v1/process-instances", json={"process": process, "variables": variables})
    assert response.status_code == 201, response.json
    return response.json


def instance(as_, instance_id: str) -> dict:
    return as_("bot").get(f"/api/v1/process-instances/{instance_id}").json


def path(as_, instance_id: str) -> list[str]:
    events = as_("audrey").get(f"/api/v1/process-instances/{instance_id}/audit").json["events"]
    return [e["element_id"] for e in events if e["type"] == "element_completed"]


def complete(as_, who: str, task_id: str, data: dict | None = None) -> dict:
    response = as_(who).post(f"/api/v1/tasks/{task_id}/complete", json={"data": data or {}})
    assert response.status_code == 200, response.json
    return response.json


C7 = ("c7_invoice.bpmn", "c7_customer_check.bpmn", "invoice_risk.dmn")


def test_camunda7_invoice_runs_unchanged_without_approval(as_):
    deploy(as_, *C7)
    started = start(as_, "c7_invoice", {"amount": 1000, "trusted": False,
                                        "customer": {"name": "Acme", "segment": "smb"}})
    got = instance(as_, started["id"])
    assert got["status"] == "completed", (got, path(as_, started["id"]))
    assert path(as_, started["id"]) == [
        "StartEvent_1", "Activity_risk", "Gateway_route", "StartEvent_chk", "Activity_verdict",
        "EndEvent_chk", "Activity_check", "Gateway_paid", "EndEvent_paid"]
    variables = got["variables"]
    assert variables["net"] == 800 and variables["channel"] == "email"
    assert variables["tags"] == ["invoice", "smb"]
    assert variables["meta"] == {"who": "Acme", "greeting": "Dear Acme"}
    assert variables["approvalNeeded"] is False and variables["risk"] == "low"
    assert variables["checkResult"] == "ok"
    assert "verdict" not in variables and "verdict_seen" not in variables      # only mapped outputs come back


def test_camunda7_invoice_takes_the_approval_path(as_):
    deploy(as_, *C7)
    started = start(as_, "c7_invoice", {"amount": 20000, "trusted": False,
                                        "customer": {"name": "Big", "segment": "enterprise"}})
    [task] = started["open_tasks"]
    assert task["element_id"] == "Activity_approve"
    done = complete(as_, "alice", task["id"])
    assert done["status"] == "completed"
    got = instance(as_, started["id"])
    assert got["variables"]["risk"] == "high" and got["variables"]["approvalNeeded"] is True
    assert got["variables"]["checkResult"] == "review"
    assert path(as_, started["id"])[-3:] == ["Activity_check", "Gateway_paid", "EndEvent_unpaid"]
    assert "Activity_approve" in path(as_, started["id"])


C8 = ("c8_order.bpmn", "c8_notify.bpmn", "order_tier.dmn")


def test_camunda8_order_runs_unchanged_on_the_gold_path(as_):
    deploy(as_, *C8)
    lines = [{"qty": 2, "price": 300}, {"qty": 1, "price": 500.5}]
    started = start(as_, "c8_order", {"lines": lines, "customer": "acme"})
    got = instance(as_, started["id"])
    assert got["status"] == "completed", (got, path(as_, started["id"]))
    taken = path(as_, started["id"])
    assert taken[0] == "StartEvent_1" and taken.count("Activity_subtotal") >= 2
    assert [e for e in taken if e != "Activity_subtotal"] == [
        "StartEvent_1", "Activity_total", "Activity_tier", "Gateway_tier", "Activity_label", "StartEvent_n",
        "Activity_send", "EndEvent_n", "Activity_notify", "EndEvent_gold"]
    variables = got["variables"]
    assert variables["subtotals"] == [600, 500.5]
    assert variables["total"] == 1100.5 and variables["gross"] == 1320.6
    assert variables["amount"] == 1100.5 and variables["channel"] == "web"
    assert variables["tier"] == "gold" and variables["label"] == "VIP ACME"
    assert variables["notified"] == "sent: VIP ACME"
    assert "sent" not in variables and "message" not in variables   # only mapped outputs come back


def test_camunda8_order_takes_the_default_flow(as_):
    deploy(as_, *C8)
    started = start(as_, "c8_order", {"lines": [{"qty": 1, "price": 10}], "customer": "small"})
    got = instance(as_, started["id"])
    assert got["status"] == "completed", got
    assert path(as_, started["id"])[-3:] == ["Activity_tier", "Gateway_tier", "EndEvent_standard"]
    assert got["variables"]["tier"] == "silver" and "label" not in got["variables"]
