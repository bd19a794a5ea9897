"""What the API tests of whole processes share: start an instance, read it, and the path it took."""

from __future__ import annotations

from typing import Any


def start(as_, process: str, variables: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Start `process` as the API bot; the instance (201 asserted)."""
    response = as_("bot").post("/api/v1/process-instances", json={"process": process, "variables": variables})
    assert response.status_code == 201, response.json
    return response.json


def instance(as_, instance_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The instance as the API bot reads it."""
    return as_("bot").get(f"/api/v1/process-instances/{instance_id}").json


def path_of(as_, instance_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The element ids the instance completed, in order, from its audit trail (read by the auditor)."""
    events = as_("audrey").get(f"/api/v1/process-instances/{instance_id}/audit").json["events"]
    return [e["element_id"] for e in events if e["type"] == "element_completed" and e["element_id"]]
