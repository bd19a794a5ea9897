"""/api/v1/process-instances/{id}/migration-plan and /migrate on both databases."""

from __future__ import annotations

from engine.definitions import deployments
from engine.runtime import instances
from tests.bpmn_samples import document, flow, lane, one_approval, process, user_task
from tests.factories import ADMIN, BOT, source

FIXED = one_approval(pid="mig").replace('name="Approve"', 'name="Approve the request"')
OTHER = document(
    process(
        '<bpmn:startEvent id="start"/>\n'
        + user_task("check", "Check")
        + '<bpmn:endEvent id="end"/>\n'
        + flow("f1", "start", "check")
        + flow("f2", "check", "end"),
        lane("IT Manager", "check"),
        pid="mig",
    )
)


def start(ctx) -> tuple[str, str]:
    deployments.deploy(ctx, ADMIN, [source("mig.bpmn", one_approval(pid="mig"))])
    view = instances.start(ctx, BOT, "mig", variables={"title": "t"})
    return view.id, view.open_tasks[0].id


def test_plan_then_migrate(engine_ctx, as_):
    instance_id, task_id = start(engine_ctx)
    deployments.deploy(engine_ctx, ADMIN, [source("mig.bpmn", FIXED)])
    plan = as_("pmo").get(f"/api/v1/process-instances/{instance_id}/migration-plan?version=2")
    assert plan.status_code == 200, plan.json
    body = plan.json
    assert body["safe"] is True and body["problems"] == [] and (body["from_version"], body["to_version"]) == (1, 2)
    assert {"element_id": "approve", "change": "changed"}.items() <= next(
        c for c in body["changes"] if c["element_id"] == "approve"
    ).items()
    assert [(a["task_id"], a["state"], a["problem"]) for a in body["active"]] == [(task_id, "ready", None)]

    moved = as_("pmo").post(f"/api/v1/process-instances/{instance_id}/migrate", json={"version": 2, "reason": "typo"})
    assert moved.status_code == 200, moved.json
    assert moved.json["kept_tasks"] == [task_id] and moved.json["to_version"] == 2
    assert instances.get(engine_ctx, ADMIN, instance_id).version == 2
    trail = as_("pmo").get(f"/api/v1/process-instances/{instance_id}/audit").json["events"]
    assert [e["type"] for e in trail].count("instance_migrated") == 1


def test_refusals_and_bad_input(engine_ctx, as_):
    instance_id, _ = start(engine_ctx)
    deployments.deploy(engine_ctx, ADMIN, [source("mig.bpmn", OTHER)])
    plan = as_("pmo").get(f"/api/v1/process-instances/{instance_id}/migration-plan?version=2").json
    assert plan["safe"] is False and "approve (Approve) is ready and does not exist" in plan["problems"][0]
    refused = as_("pmo").post(f"/api/v1/process-instances/{instance_id}/migrate", json={"version": 2, "reason": "x"})
    assert refused.status_code == 409 and "approve (Approve)" in refused.json["error"]["message"]
    assert instances.get(engine_ctx, ADMIN, instance_id).version == 1
    url = f"/api/v1/process-instances/{instance_id}/migrate"
    assert as_("pmo").post(url, json={"version": 7, "reason": "x"}).status_code == 404
    assert as_("pmo").post(url, json={"version": 2}).status_code == 422
    assert as_("pmo").post(url, json={"version": "two", "reason": "x"}).status_code == 422
    assert as_("pmo").get(f"/api/v1/process-instances/{instance_id}/migration-plan").status_code == 422
    assert as_("designer").post(url, json={"version": 2, "reason": "x"}).status_code == 403
    assert as_("bot").get(f"/api/v1/process-instances/{instance_id}/migration-plan?version=2").status_code == 403
