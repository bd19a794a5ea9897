"""The outcome in the REST API: every instance carries it, the list filters by it, the OpenAPI document says so."""

from __future__ import annotations


def _intake(caller, title: str):
    body = {"process": "project-intake", "variables": {"title": title, "budget": 1000, "department": "IT"}}
    created = caller.post("/api/v1/process-instances", json=body)
    assert created.status_code == 201, created.json
    return created.json


def test_instances_carry_their_outcome_and_the_list_filters_by_it(as_, shipped):
    bot = as_("bot")
    yes, no, running = (_intake(bot, t) for t in ("yes", "no", "open"))
    assert running["outcome"] is None
    for instance, decision in ((yes, "approve"), (no, "reject")):
        [task] = instance["open_tasks"]
        done = as_("alice").post(
            f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": decision, "comment": "see notes"}}
        )
        assert done.status_code == 200, done.json
    got = bot.get(f"/api/v1/process-instances/{no['id']}").json
    assert (got["status"], got["outcome"]) == ("completed", "rejected")
    assert bot.get(f"/api/v1/process-instances/{yes['id']}").json["outcome"] == "approved"
    rejected = bot.get("/api/v1/process-instances?outcome=rejected").json
    assert [i["id"] for i in rejected["items"]] == [no["id"]] and rejected["items"][0]["outcome"] == "rejected"
    assert bot.get("/api/v1/process-instances?outcome=approved&process=project-intake").json["total"] == 1
    cancelled = bot.post(f"/api/v1/process-instances/{running['id']}/cancel", json={"reason": "duplicate"})
    assert cancelled.status_code == 200 and cancelled.json["outcome"] == "cancelled"
    assert bot.get("/api/v1/process-instances?outcome=cancelled").json["total"] == 1


def test_an_unknown_outcome_is_a_422_naming_the_field(as_):
    answer = as_("bot").get("/api/v1/process-instances?outcome=maybe")
    assert answer.status_code == 422
    assert "outcome" in str(answer.json)


def test_openapi_documents_the_outcome(app):
    spec = app.test_client().get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]
    summary = next(v for k, v in schemas.items() if k.startswith("InstanceSummary"))
    assert "rejected" in summary["properties"]["outcome"]["enum"]
    assert "approved" in summary["properties"]["outcome"]["description"]
    listing = spec["paths"]["/api/v1/process-instances"]["get"]["parameters"]
    outcome = next(p for p in listing if p["name"] == "outcome")
    assert outcome["in"] == "query" and "rejected" in outcome["schema"]["enum"]
