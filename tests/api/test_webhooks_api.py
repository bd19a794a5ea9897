"""/api/v1/webhooks: admins manage subscriptions, read the delivery log and redeliver."""

from __future__ import annotations

from engine.events import stream as audit


def emit(ctx, type_="instance_started"):
    with ctx.uow() as uow:
        audit.record(uow.session, type_, ctx.clock.now(), actor="tester", data={"n": 1})
        uow.commit()


def test_an_admin_manages_a_webhook_and_sees_its_deliveries(as_, engine_ctx):
    pmo = as_("pmo")
    created = pmo.post(
        "/api/v1/webhooks",
        json={"url": "https://93.184.215.14/hook", "event_types": ["task_created"], "description": "ERP"},
    )
    assert created.status_code == 201, created.json
    assert created.headers["Cache-Control"] == "no-store"
    hook = created.json
    assert hook["secret"].startswith("whsec_") and hook["event_types"] == ["task_created"] and hook["active"]
    listed = pmo.get("/api/v1/webhooks").json
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    assert "secret" not in pmo.get(f"/api/v1/webhooks/{hook['id']}").json

    changed = pmo.client.patch(f"/api/v1/webhooks/{hook['id']}", headers=pmo.headers, json={"event_types": ["*"]})
    assert changed.status_code == 200 and changed.json["event_types"] == ["*"]
    rotated = pmo.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret")
    assert rotated.status_code == 200 and rotated.json["secret"] not in (hook["secret"], None)

    emit(engine_ctx)
    [delivery] = pmo.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json
    assert delivery["event_type"] == "instance_started" and delivery["status"] == "pending"
    detail = pmo.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}").json
    assert detail["body"]["type"] == "instance_started" and detail["attempts"] == []

    again = pmo.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 200 and again.json["status"] in ("retrying", "pending")

    deleted = pmo.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=pmo.headers)
    assert deleted.status_code == 204
    assert pmo.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404


def test_bad_input_is_422_naming_each_field(as_):
    pmo = as_("pmo")
    bad = pmo.post("/api/v1/webhooks", json={"url": "http://169.254.169.254/latest", "event_types": ["Not A Type"]})
    assert bad.status_code == 422
    assert set(bad.json["error"]["details"]["fields"]) == {"url", "event_types"}
    unknown = pmo.post("/api/v1/webhooks", json={"url": "https://93.184.215.14/hook", "event_types": ["*"], "x": 1})
    assert unknown.status_code == 422
    missing = pmo.post("/api/v1/webhooks", json={"url": "https://93.184.215.14/hook"})
    assert missing.status_code == 422


def test_a_delivery_of_another_webhook_is_404(as_, engine_ctx):
    pmo = as_("pmo")
    first = pmo.post("/api/v1/webhooks", json={"url": "https://93.184.215.14/a", "event_types": ["*"]}).json
    second = pmo.post("/api/v1/webhooks", json={"url": "https://93.184.215.14/b", "event_types": ["*"]}).json
    emit(engine_ctx)
    [delivery] = pmo.get(f"/api/v1/webhooks/{first['id']}/deliveries").json
    assert pmo.get(f"/api/v1/webhooks/{second['id']}/deliveries/{delivery['id']}").status_code == 404
    assert pmo.post(f"/api/v1/webhooks/{second['id']}/deliveries/{delivery['id']}/redeliver").status_code == 404


def test_only_admins_may(as_):
    for name in ("bot", "designer", "audrey", "alice"):
        assert as_(name).get("/api/v1/webhooks").status_code == 403
        assert (
            as_(name)
            .post("/api/v1/webhooks", json={"url": "https://93.184.215.14/a", "event_types": ["*"]})
            .status_code
            == 403
        )
