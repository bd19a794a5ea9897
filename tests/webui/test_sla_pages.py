"""One SLA state on every screen: the inbox, the task page, the monitor's instance page and the API show
one task with the same label at every boundary (its own at-risk time and its due time included)."""

from __future__ import annotations

import re
from datetime import timedelta

from engine.admin.tokens import create_token
from engine.definitions import deployments
from engine.runtime import instances
from engine.spiff.model.parsing import SourceFile
from tests.engine.sla.test_sla import sla_process
from tests.factories import ADMIN, BOT

BADGE = re.compile(r'class="badge sla-(\w+)"')


def test_every_page_and_the_api_label_a_task_alike_at_every_boundary(app, browser_of, clock):
    ctx = app.extensions["pmoflow"]
    deployments.deploy(
        ctx, ADMIN, [SourceFile("sla.bpmn", sla_process('<pmoflow:sla due="P4D" atRisk="0.5"/>').encode())]
    )
    view = instances.start(ctx, BOT, "p1", variables={"title": "Laptop"})
    [task] = view.open_tasks
    api = {"Authorization": f"Bearer {create_token(ctx, 'alice', 'test')}"}
    moments = [
        (task.created_at + timedelta(hours=1), "on_track"),
        (task.at_risk_at, "at_risk"),
        (task.due_at - timedelta(seconds=1), "at_risk"),
        (task.due_at, "overdue"),
        (task.due_at + timedelta(days=1), "overdue"),
    ]
    for moment, expected in moments:
        clock.set(moment)
        alice, pmo = browser_of("alice"), browser_of("pmo")  # sessions time out over days: sign in at each moment
        seen = {
            "inbox": BADGE.findall(alice.get("/tasks").get_data(as_text=True)),
            "task page": BADGE.findall(alice.get(f"/tasks/{task.id}").get_data(as_text=True)),
            "monitor": BADGE.findall(pmo.get(f"/monitor/instances/{view.id}").get_data(as_text=True)),
            "api": [app.test_client().get(f"/api/v1/tasks/{task.id}", headers=api).get_json()["sla_state"]],
        }
        assert seen == {k: [expected] for k in seen}, moment
