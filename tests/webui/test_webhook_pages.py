"""Administration > Webhooks: create (secret shown once), edit, delivery log, send again, rotate, delete."""

from __future__ import annotations

import re

from engine.events import stream as audit
from engine.integration import webhooks
from tests.factories import ADMIN
from tests.webui.conftest import csrf_of


def emit(ctx, type_="task_created"):
    with ctx.uow() as uow:
        audit.record(uow.session, type_, ctx.clock.now(), actor="tester", data={"n": 1})
        uow.commit()


def test_an_admin_creates_a_webhook_and_sees_its_secret_once(app, browser_of):
    pmo = browser_of("pmo")
    token = csrf_of(pmo, "/admin/webhooks")
    page = pmo.post(
        "/admin/webhooks",
        data={
            "url": "https://93.184.215.14/hook",
            "description": "ERP",
            "event_types": ["task_created", "task_completed"],
            "active": "1",
            "csrf_token": token,
        },
    )
    assert page.status_code == 201 and page.headers["Cache-Control"] == "no-store"
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", page.get_data(as_text=True)).group(0)
    [sub] = webhooks.list_subscriptions(app.extensions["pmoflow"], ADMIN)
    assert sub.event_types == ["task_completed", "task_created"] and sub.description == "ERP"
    detail = pmo.get(f"/admin/webhooks/{sub.id}").get_data(as_text=True)
    assert secret not in detail and "https://93.184.215.14/hook" in detail
    assert secret not in pmo.get("/admin/webhooks").get_data(as_text=True)


def test_refused_urls_are_shown_on_the_form(app, browser_of):
    pmo = browser_of("pmo")
    token = csrf_of(pmo, "/admin/webhooks")
    page = pmo.post("/admin/webhooks", data={"url": "https://10.0.0.5/hook", "csrf_token": token})
    text = page.get_data(as_text=True)
    assert page.status_code == 422 and "private or loopback" in text and "Choose at least one event type" in text
    assert webhooks.list_subscriptions(app.extensions["pmoflow"], ADMIN) == []


def test_forms_need_their_csrf_token(browser_of):
    pmo = browser_of("pmo")
    refused = pmo.post("/admin/webhooks", data={"url": "https://93.184.215.14/hook", "event_types": "*"})
    assert refused.status_code == 400


def test_the_delivery_log_redelivery_rotation_and_deletion(app, browser_of):
    ctx = app.extensions["pmoflow"]
    sub = webhooks.create_subscription(ctx, ADMIN, "https://93.184.215.14/hook", ["*"]).subscription
    emit(ctx)
    pmo = browser_of("pmo")
    detail = pmo.get(f"/admin/webhooks/{sub.id}").get_data(as_text=True)
    assert "task_created" in detail and "Pending" in detail
    [delivery] = [d for d in webhooks.list_deliveries(ctx, ADMIN, sub.id) if d.event_type == "task_created"]
    page = pmo.get(f"/admin/webhooks/{sub.id}/deliveries/{delivery.id}").get_data(as_text=True)
    assert "Body sent" in page and delivery.event_id in page and "Not attempted yet" in page
    token = csrf_of(pmo, f"/admin/webhooks/{sub.id}")
    edited = pmo.post(
        f"/admin/webhooks/{sub.id}",
        data={"url": sub.url, "event_types": "task_completed", "other_types": "budget_changed", "csrf_token": token},
    )
    assert edited.status_code == 302
    changed = webhooks.get_subscription(ctx, ADMIN, sub.id)
    assert changed.event_types == ["budget_changed", "task_completed"] and not changed.active
    rotated = pmo.post(f"/admin/webhooks/{sub.id}/rotate", data={"csrf_token": token})
    assert rotated.status_code == 200 and "whsec_" in rotated.get_data(as_text=True)
    again = pmo.post(
        f"/admin/webhooks/{sub.id}/deliveries/{delivery.id}/redeliver",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "disabled" in again.get_data(as_text=True)  # a disabled webhook sends nothing
    gone = pmo.post(f"/admin/webhooks/{sub.id}/delete", data={"csrf_token": token})
    assert gone.status_code == 302 and webhooks.list_subscriptions(ctx, ADMIN) == []
