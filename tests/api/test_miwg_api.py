"""What the MIWG reference models need, in models written as their tools write them, run through the API:
flows without conditions leaving gateways (itp-commerce, Signavio), XPath conditions with multi-word names,
dotted and spaced Camunda 8 mapping targets, start-event output mappings, decisions deployed earlier."""

from __future__ import annotations

import io
from pathlib import Path

MODELS = Path(__file__).parent.parent / "models" / "miwg"


def deploy(as_, *names: str, status: int = 201) -> dict:
    files = [(io.BytesIO((MODELS / name).read_bytes()), name) for name in names]
    response = as_("pmo").post("/api/v1/process-definitions", data={"files": files},
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


def test_unconditioned_flows_leaving_gateways_are_taken_as_bpmn_says(as_):
    """Exclusive: the first flow in document order whose condition holds or that has none (task_second is
    drawn above task_first and never taken); inclusive: an unconditioned flow always, the default never."""
    deploy(as_, "gateways_unconditioned.bpmn")
    small = start(as_, "order_routing", {"Order Total": 5, "vip": False})
    assert instance(as_, small["id"])["status"] == "completed"
    assert path(as_, small["id"]) == ["start", "gw_route", "task_first", "merge", "gw_notify", "task_log",
                                      "gw_join", "end"]
    assert instance(as_, small["id"])["variables"]["route"] == "first"

    large = start(as_, "order_routing", {"Order Total": 5000, "vip": True})
    got = instance(as_, large["id"])
    assert got["status"] == "completed"
    steps = path(as_, large["id"])
    assert steps[:5] == ["start", "gw_route", "task_big", "merge", "gw_notify"]
    assert sorted(steps[5:7]) == ["task_log", "task_vip"] and steps[7:] == ["gw_join", "end"]
    assert got["variables"]["route"] == "big" and got["variables"]["told"] is True
    assert "nobody" not in got["variables"]
