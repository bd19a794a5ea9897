"""Separation of duties on the task page (Flask client, both databases): who may act, and delegation refused."""

from __future__ import annotations

import html

from engine.admin import users
from engine.runtime import instances
from tests.engine.runtime.test_instances import deploy
from tests.engine.tasks.test_separation import model, person
from tests.webui.conftest import csrf_of


def test_the_task_page_explains_and_delegation_outside_the_lane_is_refused(app, browser_of):
    ctx = app.extensions["pmoflow"]
    for name, group in (("ann", "Finance"), ("ben", "Finance"), ("olga", "Sales")):
        users.create_user(ctx, name, "demo", [group], ["approver"])
    deploy(ctx, ("spend.bpmn", model()))
    task_id = instances.start(ctx, person("ann"), "spend", variables={"title": "Laptops"}).open_tasks[0].id
    ann = browser_of("ann")
    page = html.unescape(ann.get(f"/tasks/{task_id}").get_data(as_text=True))
    assert "You started this request, so another member of Finance must decide on it" in page
    assert "ann started this request, so another person must decide on it" in page
    assert "delegated only to its candidates" in page
    response = ann.post(
        f"/tasks/{task_id}/delegate",
        data={"to": "olga", "reason": "please", "csrf_token": csrf_of(ann, f"/tasks/{task_id}")},
    )
    assert response.status_code == 422
    assert "olga is not in Finance: this request is under separation of duties" in html.unescape(
        response.get_data(as_text=True)
    )
    ben_page = html.unescape(browser_of("ben").get(f"/tasks/{task_id}").get_data(as_text=True))
    assert "Your decision" in ben_page and "You started this request" not in ben_page
