"""Scoped API tokens: the intake system's token starts its process and reads what it started, and nothing else."""

from __future__ import annotations

import pytest

from engine.admin import tokens as tokens_service
from engine.admin import users
from engine.core.errors import InvalidInput
from tests.api.conftest import Caller

INTAKE = {"process": "project-intake", "variables": {"title": "CRM", "budget": 120000, "department": "Sales"}}


@pytest.fixture
def intake_token(engine_ctx, shipped) -> str:  # type: ignore[no-untyped-def]
    users.create_user(engine_ctx, "intake-system", None, [], ["api"], system=True)
    return tokens_service.create_token(
        engine_ctx, "intake-system", "intake form", ["instances:start:project-intake", "instances:read"]
    )


def forbidden(response, scope: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 403, response.json
    assert response.json["error"]["details"]["missing_scope"] == scope
    assert scope in response.json["error"]["message"]


def test_the_intake_token_starts_its_process_and_reads_what_it_started(app, as_, intake_token):
    intake = Caller(app.test_client(), intake_token)
    started = intake.post("/api/v1/process-instances", json=INTAKE)
    assert started.status_code == 201, started.json
    mine = started.json["id"]
    assert intake.get(f"/api/v1/process-instances/{mine}").status_code == 200
    listed = intake.get("/api/v1/process-instances")
    assert listed.status_code == 200 and [i["id"] for i in listed.json["items"]] == [mine]

    other = as_("bot").post("/api/v1/process-instances", json=INTAKE)  # another system's (all of role api)
    assert other.status_code == 201
    assert intake.get(f"/api/v1/process-instances/{other.json['id']}").status_code in (403, 404)

    change = {"process": "change-request", "variables": {"title": "Firewall"}}
    forbidden(intake.post("/api/v1/process-instances", json=change), "instances:start:change-request")
    forbidden(intake.get(f"/api/v1/process-instances/{mine}/audit"), "audit:read")
    forbidden(intake.get("/api/v1/audit/events"), "audit:read")
    forbidden(intake.post(f"/api/v1/process-instances/{mine}/cancel", json={"reason": "no"}), "instances:cancel")
    forbidden(intake.get("/api/v1/tasks"), "tasks:read")
    forbidden(intake.post("/api/v1/signals", json={"signal": "s"}), "signals")
    forbidden(
        intake.post("/api/v1/decisions/approval_tier/evaluate", json={"inputs": {"budget": 1}}), "decisions:evaluate"
    )
    forbidden(intake.get("/api/v1/process-definitions"), "definitions:read")
    assert as_("bot").get(f"/api/v1/process-instances/{mine}").status_code == 200  # the old full token still works


def test_scopes_narrow_a_role_and_never_widen_it(engine_ctx, as_, app, shipped):
    users.create_user(engine_ctx, "reader", None, [], ["approver"])
    with pytest.raises(InvalidInput) as err:
        tokens_service.create_token(engine_ctx, "reader", "x", ["audit:read"])  # an approver may not read the trail
    assert "audit:read" in err.value.details["fields"]["scopes"]
    with pytest.raises(InvalidInput):
        tokens_service.create_token(engine_ctx, "reader", "x", ["instances:everything"])
    with pytest.raises(InvalidInput):
        tokens_service.create_token(engine_ctx, "reader", "x", [])
    # a worker's scope on an approver: the scope is within the roles of neither, so the role still refuses
    token = tokens_service.create_token(engine_ctx, "reader", "x", ["definitions:read"])
    response = Caller(app.test_client(), token).get("/api/v1/audit/events")
    assert response.status_code == 403 and "allowed_roles" in response.json["error"]["details"]


def test_the_token_list_and_the_audit_trail_show_the_scopes(engine_ctx, intake_token):
    [row] = [t for t in tokens_service.token_overview(engine_ctx).tokens if t.username == "intake-system"]
    assert row.scopes == ["instances:read", "instances:start:project-intake"]
    issued = tokens_service.issue_token(engine_ctx, "intake-system", "erp", "pmo", ["instances:read"])
    assert issued.row.scopes == ["instances:read"]
    actor = tokens_service.actor_for_token(engine_ctx, intake_token)
    assert actor.scopes == frozenset({"instances:read", "instances:start:project-intake"})
    from engine.audit import trail
    from engine.audit.trail import AuditFilter
    from tests.factories import ADMIN

    created = trail.search(engine_ctx, ADMIN, AuditFilter(action="token_created")).items
    assert sorted(tuple(e.data["scopes"]) for e in created) == [
        ("instances:read",),
        ("instances:read", "instances:start:project-intake"),
    ]
