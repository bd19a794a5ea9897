"""The REST API end to end through Flask, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json

from tests.bpmn_samples import one_approval


def upload(*files: tuple[str, str | bytes]) -> dict:
    return {"files": [(io.BytesIO(c.encode() if isinstance(c, str) else c), n) for n, c in files]}


def start(caller, process="p1", **body):
    return caller.post("/api/v1/process-instances", json={"process": process, **body})


def deploy_simple(as_):
    response = as_("pmo").post(
        "/api/v1/process-definitions", data=upload(("p.bpmn", one_approval())), content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.json
    return response


def test_health_needs_no_token(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and (response.json["status"], response.json["database"]) == ("ok", "ok")


def test_health_gives_the_warm_cache_figures_of_the_answering_process(app, as_):
    """engine.runtime.warm: the start keeps the workflow, the completion reuses it."""
    import os

    deploy_simple(as_)
    [task] = start(as_("bot")).json["open_tasks"]
    assert as_("alice").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}).status_code == 200
    figures = app.test_client().get("/healthz").json["workflow_cache"]
    assert figures == {
        "process": os.getpid(),
        "capacity": 256,
        "size": 0,  # the instance ended: nothing left to keep
        "hits": 1,
        "misses": 0,
        "evictions": 0,
        "hit_rate": 1.0,
    }


def test_health_answers_503_naming_what_is_stuck(app, monkeypatch):
    from engine.runtime import health

    now = [100.0]
    monkeypatch.setattr(health, "_clock", lambda: now[0])
    health.beat("worker-a")
    try:
        with health.step_running("inst-9", 5.0):
            now[0] += 61
            response = app.test_client().get("/healthz")
    finally:
        health.worker_stopped("worker-a")
    assert response.status_code == 503
    assert response.json["status"] == "stuck" and response.json["database"] == "ok"
    assert {(s["kind"], s.get("instance") or s.get("worker")) for s in response.json["stuck"]} == {
        ("step", "inst-9"),
        ("worker", "worker-a"),
    }
    assert app.test_client().get("/healthz").status_code == 200


def test_health_answers_503_naming_a_worker_of_another_process_gone_silent(app, engine_ctx, clock):
    """A `pmoflow worker` elsewhere keeps a heartbeat row (engine.runtime.heartbeats): silent past
    PMOFLOW_WORKER_STALE_SECONDS it makes every /healthz answer 503; 10 stale times old it is gone."""
    from datetime import timedelta

    from engine.runtime import health
    from engine.runtime.heartbeats import Heartbeat

    other = Heartbeat(engine_ctx, "host-b:4242:1")  # as another process's worker writes it
    other.beat("jobs")
    health.worker_stopped(other.name)  # ... not beating in this process
    try:
        clock.advance(timedelta(seconds=60))
        assert app.test_client().get("/healthz").json["status"] == "ok"
        clock.advance(timedelta(seconds=1))
        response = app.test_client().get("/healthz")
        assert response.status_code == 503 and response.json == {
            "workflow_cache": response.json["workflow_cache"],
            "status": "stuck",
            "database": "ok",
            "stuck": [{"kind": "worker", "worker": "host-b:4242:1", "silent_seconds": 61.0, "activity": "jobs"}],
        }
        assert app.test_client().get("/healthz?scope=process").status_code == 200  # this process is fine
        other.beat("timers")  # it came round again
        assert app.test_client().get("/healthz").status_code == 200
        clock.advance(timedelta(seconds=600))  # killed long ago: gone, not stuck
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        other.stop()


def test_health_names_the_worker_of_its_own_process_once(app, engine_ctx, clock, monkeypatch):
    from datetime import timedelta

    from engine.runtime import health
    from engine.runtime.heartbeats import Heartbeat

    now = [100.0]
    monkeypatch.setattr(health, "_clock", lambda: now[0])
    mine = Heartbeat(engine_ctx, "host-a:1:1")  # `pmoflow serve`'s worker thread: row and memory
    mine.beat("timers")
    try:
        now[0] += 61
        clock.advance(timedelta(seconds=61))
        response = app.test_client().get("/healthz")
        assert response.status_code == 503
        assert response.json["stuck"] == [{"kind": "worker", "worker": "host-a:1:1", "silent_seconds": 61.0}]
    finally:
        mine.stop()
    assert app.test_client().get("/healthz").status_code == 200


def test_openapi_documents_every_route(app):
    spec = app.test_client().get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    paths = set(spec["paths"])
    assert {
        "/api/v1/process-definitions",
        "/api/v1/process-definitions/{key}",
        "/api/v1/process-instances",
        "/api/v1/process-instances/{instance_id}",
        "/api/v1/process-instances/{instance_id}/cancel",
        "/api/v1/process-instances/{instance_id}/audit",
        "/api/v1/messages",
        "/api/v1/signals",
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/{task_id}/complete",
    } <= paths
    api_rules = {
        r.rule
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/v1/") and not r.rule.endswith("openapi.json")
    }
    documented = {p.replace("{", "<").replace("}", ">") for p in paths}
    assert api_rules <= documented
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def test_no_token_is_401_and_a_bad_token_is_401(as_):
    for caller in (as_(None), as_("nobody")):
        response = caller.get("/api/v1/process-instances")
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthenticated"
    response = as_(None).client.get("/api/v1/tasks", headers={"Authorization": "Bearer pmo_wrong"})
    assert response.status_code == 401


def test_deploy_then_redeploy_identical_creates_no_version(as_):
    first = deploy_simple(as_).json
    assert [(d["key"], d["version"], d["new"]) for d in first["definitions"]] == [("p1", 1, True)]
    again = as_("pmo").post(
        "/api/v1/process-definitions", data=upload(("p.bpmn", one_approval())), content_type="multipart/form-data"
    )
    assert again.status_code == 200 and again.json["id"] is None
    assert again.json["definitions"][0]["new"] is False
    detail = as_("alice").get("/api/v1/process-definitions/p1").json
    assert detail["latest"]["version"] == 1 and len(detail["versions"]) == 1
    assert as_("alice").get("/api/v1/process-definitions/nope").status_code == 404


def test_only_designers_and_admins_deploy(as_):
    for name in ("alice", "audrey", "bot"):
        response = as_(name).post(
            "/api/v1/process-definitions", data=upload(("p.bpmn", one_approval())), content_type="multipart/form-data"
        )
        assert response.status_code == 403, name
    response = as_("designer").post(
        "/api/v1/process-definitions", data=upload(("p.bpmn", one_approval())), content_type="multipart/form-data"
    )
    assert response.status_code == 201


def test_bad_deployments_get_422_with_every_problem(as_):
    broken = one_approval().replace("</bpmn:userTask>", "</bpmn:userTsk>")
    xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    response = as_("pmo").post(
        "/api/v1/process-definitions",
        data=upload(("broken.bpmn", broken), ("xxe.bpmn", xxe)),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_deployment"
    by_file = {p["file"]: p for p in error["details"]["problems"]}
    assert by_file["broken.bpmn"]["line"] > 1 and "malformed" in by_file["broken.bpmn"]["message"]
    assert "DOCTYPE" in by_file["xxe.bpmn"]["message"]
    assert "/etc/passwd" not in json.dumps(error).replace("file:///etc/passwd", "")
    none = as_("pmo").post("/api/v1/process-definitions", data={}, content_type="multipart/form-data")
    assert none.status_code == 422 and none.json["error"]["details"]["fields"]["files"]


def test_start_read_complete_and_audit(as_):
    deploy_simple(as_)
    created = start(as_("bot"), business_key="PRJ-9", variables={"budget": 10})
    assert created.status_code == 201
    instance = created.json
    assert instance["status"] == "running" and instance["business_key"] == "PRJ-9"
    [task] = instance["open_tasks"]
    assert task["role"] == "IT Manager"
    listed = as_("alice").get("/api/v1/tasks?role=IT%20Manager").json
    assert [t["id"] for t in listed["items"]] == [task["id"]]
    assert as_("bob").get("/api/v1/tasks").json["total"] == 0
    assert as_("bob").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}).status_code == 403
    done = as_("alice").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"ok": True}})
    assert done.status_code == 200 and done.json["status"] == "completed"
    again = as_("alice").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}})
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"
    got = as_("bot").get(f"/api/v1/process-instances/{instance['id']}").json
    assert got["status"] == "completed" and got["variables"]["ok"] is True
    audit = as_("audrey").get(f"/api/v1/process-instances/{instance['id']}/audit")
    assert audit.status_code == 200
    assert audit.json["events"][0]["type"] == "instance_started"
    assert as_("alice").get(f"/api/v1/process-instances/{instance['id']}/audit").status_code == 403
    page = as_("bot").get("/api/v1/process-instances?process=p1&status=completed").json
    assert page["total"] == 1 and page["items"][0]["id"] == instance["id"]


def test_idempotency_key_replays_the_first_start(as_):
    deploy_simple(as_)
    headers = {"Idempotency-Key": "order-42"}
    first = as_("bot").post("/api/v1/process-instances", json={"process": "p1"}, headers=headers)
    second = as_("bot").post("/api/v1/process-instances", json={"process": "p1"}, headers=headers)
    assert first.status_code == 201 and second.status_code == 200
    assert second.json["id"] == first.json["id"] and second.headers["Idempotent-Replayed"] == "true"
    other = as_("bot").post("/api/v1/process-instances", json={"process": "p1", "business_key": "x"}, headers=headers)
    assert other.status_code == 409


def test_bad_requests_are_named_and_never_500(as_):
    deploy_simple(as_)
    bot = as_("bot")
    assert start(bot, "nope").status_code == 404
    assert "nope" in start(bot, "nope").json["error"]["message"]
    unknown_field = bot.post("/api/v1/process-instances", json={"process": "p1", "colour": "red"})
    assert unknown_field.status_code == 422 and "colour" in unknown_field.json["error"]["details"]["fields"]
    bad_json = bot.post("/api/v1/process-instances", data="{not json", content_type="application/json")
    assert bad_json.status_code in (400, 422) and "error" in bad_json.json
    wrong_type = bot.post("/api/v1/process-instances", json={"process": "p1", "variables": [1]})
    assert wrong_type.status_code == 422
    underscore = bot.post("/api/v1/process-instances", json={"process": "p1", "variables": {"_x": 1}})
    assert underscore.status_code == 422
    missing = bot.get("/api/v1/process-instances/not-a-uuid")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert bot.get("/api/v1/process-instances?status=weird").status_code == 422
    assert bot.get("/api/v1/process-instances?page=0").status_code == 422
    assert bot.post("/api/v1/tasks/nope/complete", json={"data": {}}).status_code == 404


def test_messages_and_cancel(as_):
    deploy_simple(as_)
    instance = start(as_("bot"), business_key="B-1").json
    missing = as_("bot").post("/api/v1/messages", json={"message": "paid", "business_key": "B-1"})
    assert missing.status_code == 404 and "paid" in missing.json["error"]["message"]
    assert as_("bot").post("/api/v1/messages", json={"message": "paid"}).status_code == 422
    no_reason = as_("bot").post(f"/api/v1/process-instances/{instance['id']}/cancel", json={})
    assert no_reason.status_code == 422
    cancelled = as_("bot").post(f"/api/v1/process-instances/{instance['id']}/cancel", json={"reason": "dup"})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert (
        as_("bot").post(f"/api/v1/process-instances/{instance['id']}/cancel", json={"reason": "again"}).status_code
        == 409
    )


def test_the_landing_page_says_how_to_use_the_api(app):
    page = app.test_client().get("/")
    assert page.status_code == 200
    assert b"/api/v1/openapi.json" in page.data and b"pmoflow tokens create" in page.data
