"""The monitor's instance page shows what an instance waits for from systems (external tasks),
and a failure with no retries left as an incident."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.admin import users
from engine.core.permissions import Actor
from engine.definitions import deployments
from engine.integration import external_tasks as et
from engine.runtime import instances
from tests.factories import ADMIN, BOT, source

MODEL = Path(__file__).resolve().parent.parent / "models" / "external" / "camunda7_payment.bpmn"
WORKER = Actor("erp-worker", roles=frozenset({"external-worker"}))


@pytest.fixture
def dana(app, browser_of):
    users.create_user(app.extensions["pmoflow"], "dana", "demo", [], ["designer"])
    return browser_of("dana")


def test_the_instance_page_shows_external_tasks_and_their_incident(app, dana):
    ctx = app.extensions["pmoflow"]
    deployments.deploy(ctx, ADMIN, [source(MODEL.name, MODEL.read_bytes())])
    view = instances.start(ctx, BOT, "payment_c7", business_key="ORD-9", variables={"amount": 5})
    page = dana.get(f"/monitor/instances/{view.id}").get_data(as_text=True)
    assert "Waiting for systems" in page and "charge-card" in page and "not locked" in page
    [task] = et.fetch_and_lock(ctx, WORKER, "erp-7", 1, [et.TopicRequest("charge-card", 60_000)])
    page = dana.get(f"/monitor/instances/{view.id}").get_data(as_text=True)
    assert "erp-7" in page
    et.fail(ctx, WORKER, task.id, "erp-7", "card service down", retries=0)
    page = dana.get(f"/monitor/instances/{view.id}").get_data(as_text=True)
    assert "Incidents" in page and "card service down" in page and "Activity_charge" in page
