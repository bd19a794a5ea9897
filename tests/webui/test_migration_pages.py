"""Moving instances to another version from the monitor: one instance (plan, then confirm) and a filtered list."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.admin import users
from engine.db.models import Event
from engine.definitions import deployments
from engine.runtime import instances
from tests.bpmn_samples import document, flow, lane, one_approval, process, user_task
from tests.factories import ADMIN, BOT, source
from tests.webui.conftest import csrf_of

RENAMED = one_approval(pid="mig").replace('name="Approve"', 'name="Approve the request"')
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


@pytest.fixture
def ctx(app):
    ctx = app.extensions["pmoflow"]
    deployments.deploy(ctx, ADMIN, [source("mig.bpmn", one_approval(pid="mig"))])
    return ctx


def start(ctx, key: str) -> str:
    return instances.start(ctx, BOT, "mig", business_key=key, variables={"title": key}).id


def migrated(ctx) -> list[Event]:
    with ctx.uow(write=False) as uow:
        found = list(uow.session.scalars(select(Event).where(Event.type == "instance_migrated")))
        uow.session.expunge_all()
        return found


def test_an_admin_sees_the_plan_then_moves_the_instance(app, ctx, browser_of):
    instance_id = start(ctx, "M-1")
    deployments.deploy(ctx, ADMIN, [source("mig.bpmn", RENAMED)])
    pmo = browser_of("pmo")
    assert "Move to version" in pmo.get(f"/monitor/instances/{instance_id}").get_data(as_text=True)
    users.create_user(ctx, "dana", "demo", [], ["designer"])
    dana = browser_of("dana")
    assert "Move to version" not in dana.get(f"/monitor/instances/{instance_id}").get_data(as_text=True)
    assert dana.get(f"/monitor/instances/{instance_id}/migrate?version=2").status_code == 403

    page = pmo.get(f"/monitor/instances/{instance_id}/migrate?version=2").get_data(as_text=True)
    assert "Version 1 &rarr; 2" in page and "The move is safe" in page and "Yes, move to version 2" in page
    assert "approve" in page and "changed" in page
    assert migrated(ctx) == []  # the plan writes nothing

    token = csrf_of(pmo, f"/monitor/instances/{instance_id}/migrate?version=2")
    no_csrf = pmo.post(f"/monitor/instances/{instance_id}/migrate", data={"version": "2", "reason": "typo"})
    assert no_csrf.status_code == 400 and migrated(ctx) == []
    done = pmo.post(
        f"/monitor/instances/{instance_id}/migrate",
        data={"version": "2", "reason": "typo", "csrf_token": token},
        follow_redirects=True,
    )
    text = done.get_data(as_text=True)
    assert "Moved from version 1 to version 2; 1 open task kept." in text
    assert (
        'Moved from version 1 to version 2 by <a href="/admin/users/pmo">pmo</a>' in text
        and "<blockquote>typo</blockquote>" in text
    )  # the path
    trail = pmo.get(f"/audit/instances/{instance_id}").get_data(as_text=True)
    assert "pmo moved the instance from version 1 to version 2" in trail
    assert instances.get(ctx, ADMIN, instance_id).version == 2
    [event] = migrated(ctx)
    assert (event.actor, event.data["reason"]) == ("pmo", "typo")


def test_an_unsafe_move_shows_why_and_offers_no_confirmation(app, ctx, browser_of):
    instance_id = start(ctx, "M-2")
    deployments.deploy(ctx, ADMIN, [source("mig.bpmn", OTHER)])
    pmo = browser_of("pmo")
    page = pmo.get(f"/monitor/instances/{instance_id}/migrate?version=2").get_data(as_text=True)
    assert "This move is refused" in page and "approve (Approve) is ready and does not exist" in page
    assert "Yes, move" not in page
    token = csrf_of(pmo, f"/monitor/instances/{instance_id}/migrate")
    refused = pmo.post(
        f"/monitor/instances/{instance_id}/migrate",
        data={"version": "2", "reason": "x", "csrf_token": token},
        follow_redirects=True,
    )
    assert "does not exist in the target version" in refused.get_data(as_text=True)
    assert instances.get(ctx, ADMIN, instance_id).version == 1 and migrated(ctx) == []


def test_bulk_move_asks_first_then_reports_each_instance(app, ctx, browser_of):
    ids = [start(ctx, f"BM-{i}") for i in range(3)]
    deployments.deploy(ctx, ADMIN, [source("mig.bpmn", RENAMED)])
    ids.append(start(ctx, "BM-new"))  # already on version 2: left out
    pmo = browser_of("pmo")
    listing = pmo.get("/monitor?process=mig").get_data(as_text=True)
    assert "Move to another version" in listing and '<option value="2">version 2 · ' in listing  # the picker
    token = csrf_of(pmo, "/monitor?process=mig")
    form = {"process": "mig", "action": "migrate", "to_version": "2", "reason": "typo", "csrf_token": token}
    confirm = pmo.post("/monitor/bulk", data=form)
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Move 3 instances to version 2 · " in text
    assert migrated(ctx) == []
    result = pmo.post("/monitor/bulk", data={**form, "confirm": "yes"}).get_data(as_text=True)
    assert "Move to version: 3 done, 0 failed" in result and result.count("moved to version 2") == 3
    assert [instances.get(ctx, ADMIN, i).version for i in ids] == [2, 2, 2, 2]
    assert len(migrated(ctx)) == 3

    no_version = pmo.post("/monitor/bulk", data={**form, "to_version": ""}, follow_redirects=True)
    assert "choose the version to move to" in no_version.get_data(as_text=True)
