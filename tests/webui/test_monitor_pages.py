"""The monitor pages: list and filters, the instance page, corrections, bulk actions, dashboard, retention."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from engine.admin import users
from engine.audit import retention
from engine.definitions import deployments
from engine.monitoring import instances as monitoring
from engine.monitoring.filters import InstanceFilter
from engine.runtime import instances
from engine.spiff.model.parsing import SourceFile
from engine.tasks import completion
from tests.bpmn_samples import linear, script_task
from tests.factories import ADMIN, ALICE, BOB, BOT, deploy_intake_renamed
from tests.webui.conftest import csrf_of, intake


@pytest.fixture
def dana(app, browser_of):
    users.create_user(app.extensions["pmoflow"], "dana", "demo", [], ["designer"])
    return browser_of("dana")


def failing(app):
    ctx = app.extensions["pmoflow"]
    deployments.deploy(
        ctx,
        ADMIN,
        [
            SourceFile(
                "calc.bpmn", linear((script_task("compute", "total = budget * 2"), "compute"), pid="calc").encode()
            )
        ],
    )
    return instances.start(ctx, BOT, "calc", business_key="CALC-1")


def test_the_list_filters_and_explains_bad_filters(app, browser_of, dana):
    intake(app, key="PRJ-A")
    intake(app, key="PRJ-B")
    failing(app)
    page = dana.get("/monitor?process=project-intake").get_data(as_text=True)
    assert "PRJ-A" in page and "PRJ-B" in page and "CALC-1" not in page and "(2)" in page
    page = dana.get("/monitor?in_error=1").get_data(as_text=True)
    assert "CALC-1" in page and "PRJ-A" not in page and "budget" in page  # the error message
    assert "Act on this list" not in page  # designers do not act in bulk
    bad = dana.get("/monitor?status=lost&started_from=soon")
    assert bad.status_code == 422 and "not understood" in bad.get_data(as_text=True)
    assert browser_of("alice").get("/monitor").status_code == 403
    assert "Act on this list" in browser_of("pmo").get("/monitor?in_error=1").get_data(as_text=True)


def test_the_instance_page_shows_path_tasks_variables_and_no_write_for_designers(app, browser_of, dana):
    view = intake(app, key="PRJ-C")
    page = dana.get(f"/monitor/instances/{view.id}").get_data(as_text=True)
    assert "IT Manager approval" in page and "On track" in page and "New CRM" in page
    assert 'data-bpmn data-mode="path"' in page and "determine_approval_tier" in page  # marks for the viewer
    assert f"/audit/instances/{view.id}" not in page  # designers do not read the audit trail
    assert "Correct variables" not in page and "Cancel this instance" not in page
    admin_page = browser_of("pmo").get(f"/monitor/instances/{view.id}").get_data(as_text=True)
    assert "Correct variables" in admin_page and "Cancel this instance" in admin_page
    assert f"/audit/instances/{view.id}" in admin_page
    assert dana.get("/monitor/instances/00000000-0000-0000-0000-000000000000").status_code == 404


def test_an_admin_corrects_variables_through_the_form(app, browser_of):
    view = intake(app, key="PRJ-D")
    pmo = browser_of("pmo")
    url = f"/monitor/instances/{view.id}"
    token = csrf_of(pmo, url)
    wanted = dict(view.variables, department="Marketing")
    bad = pmo.post(f"{url}/variables", data={"variables": "{not json", "reason": "r", "csrf_token": token})
    assert bad.status_code == 422 and "not valid JSON" in bad.get_data(as_text=True)
    too_deep = '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    bad = pmo.post(f"{url}/variables", data={"variables": too_deep, "reason": "r", "csrf_token": token})
    assert bad.status_code == 422 and "not valid JSON" in bad.get_data(as_text=True)
    deep = json.dumps(
        dict(view.variables, deep={"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})
    )
    bad = pmo.post(f"{url}/variables", data={"variables": deep, "reason": "r", "csrf_token": token})
    assert bad.status_code == 422 and "nests deeper than 32 levels" in bad.get_data(as_text=True)
    missing = pmo.post(f"{url}/variables", data={"variables": json.dumps(wanted), "reason": "", "csrf_token": token})
    assert missing.status_code == 422 and "A reason is required" in missing.get_data(as_text=True)
    done = pmo.post(
        f"{url}/variables", data={"variables": json.dumps(wanted), "reason": "wrong department", "csrf_token": token}
    )
    assert done.status_code == 302
    assert instances.get(app.extensions["pmoflow"], ADMIN, view.id).variables["department"] == "Marketing"
    assert "Variables changed: department" in pmo.get(url).get_data(as_text=True)
    assert pmo.post(f"{url}/variables", data={"variables": "{}", "reason": "x"}).status_code == 400  # no CSRF token


def test_cancel_and_retry_from_the_instance_page(app, browser_of):
    ctx = app.extensions["pmoflow"]
    view = intake(app, key="PRJ-E")
    broken = failing(app)
    pmo = browser_of("pmo")
    token = csrf_of(pmo, f"/monitor/instances/{view.id}")
    assert pmo.post(f"/monitor/instances/{view.id}/cancel", data={"reason": "", "csrf_token": token}).status_code == 302
    assert instances.get(ctx, ADMIN, view.id).status == "running"  # no reason: refused
    pmo.post(f"/monitor/instances/{view.id}/cancel", data={"reason": "duplicate", "csrf_token": token})
    assert instances.get(ctx, ADMIN, view.id).status == "cancelled"
    page = pmo.get(f"/monitor/instances/{broken.id}").get_data(as_text=True)
    assert "Retry the failed step" in page and "Incidents" in page
    retried = pmo.post(f"/monitor/instances/{broken.id}/retry", data={"csrf_token": token}, follow_redirects=True)
    assert "Retried: the instance is in error." in retried.get_data(as_text=True)  # budget is still missing
    trail = [e.type for e in instances.audit_trail(ctx, ADMIN, broken.id)]
    assert trail.count("incident_retried") == 1


def test_bulk_cancel_asks_first_then_reports_each_instance(app, browser_of, dana):
    ctx = app.extensions["pmoflow"]
    for key in ("B-1", "B-2", "B-3"):
        intake(app, key=key)
    pmo = browser_of("pmo")
    token = csrf_of(pmo, "/monitor")
    form = {"process": "project-intake", "action": "cancel", "reason": "cleanup", "csrf_token": token}
    confirm = pmo.post("/monitor/bulk", data=form)
    assert confirm.status_code == 200 and "Cancel 3 instances?" in confirm.get_data(as_text=True)
    assert all(i.status == "running" for i in instances.list_instances(ctx, ADMIN).items)  # nothing done yet
    result = pmo.post("/monitor/bulk", data={**form, "confirm": "yes"}).get_data(as_text=True)
    assert "3 done, 0 failed" in result
    assert {i.status for i in instances.list_instances(ctx, ADMIN).items} == {"cancelled"}
    assert dana.post("/monitor/bulk", data={**form, "csrf_token": csrf_of(dana, "/monitor")}).status_code == 403
    unfiltered = pmo.post(
        "/monitor/bulk",
        data={"action": "cancel", "reason": "x", "confirm": "yes", "csrf_token": token},
        follow_redirects=True,
    )
    assert "at least one filter" in unfiltered.get_data(as_text=True)


def test_the_dashboard_draws_charts_and_links_each_number(app, browser_of, clock, dana):
    ctx = app.extensions["pmoflow"]
    a, _ = intake(app, key="D-1"), intake(app, key="D-2")
    clock.advance(timedelta(hours=5))
    completion.complete(ctx, ALICE, a.open_tasks[0].id, {"decision": "approve"})
    clock.advance(timedelta(days=3))
    dana = browser_of("dana")  # three days on, the session has timed out: sign in again
    page = dana.get("/dashboard").get_data(as_text=True)
    assert page.count('<svg class="chart') == 4
    assert "/monitor?started_from=" in page and "status=completed" in page and "overdue=1" in page
    assert 'data-mode="heat"' in page and '"element_id": "it_manager_approval"' in page
    assert "33.3 %" in page  # of three approvals with an SLA one was on time (finance is late too)
    bad = dana.get("/dashboard?since=yesterday")
    assert bad.status_code == 422 and "Showing the last 30 days" in bad.get_data(as_text=True)
    assert browser_of("alice").get("/dashboard").status_code == 403


def test_retention_is_set_per_process_by_admins(app, browser_of, dana):
    pmo = browser_of("pmo")
    token = csrf_of(pmo, "/monitor/retention")
    assert (
        pmo.post("/monitor/retention", data={"process": "project-intake", "days": "0", "csrf_token": token}).status_code
        == 422
    )
    assert (
        pmo.post(
            "/monitor/retention", data={"process": "project-intake", "days": "many", "csrf_token": token}
        ).status_code
        == 422
    )
    assert (
        pmo.post(
            "/monitor/retention", data={"process": "project-intake", "days": "90", "csrf_token": token}
        ).status_code
        == 302
    )
    days = {p.process: p.days for p in retention.policies(app.extensions["pmoflow"], ADMIN)}
    assert days["project-intake"] == 90
    assert 'value="90"' in pmo.get("/monitor/retention").get_data(as_text=True)
    assert dana.get("/monitor/retention").status_code == 403


def test_pages_show_whom_a_task_without_lane_is_offered_to(app, browser_of, dana):
    """The monitor's task rows, the inbox and the task page name the group and where it came from."""
    ctx = app.extensions["pmoflow"]
    users.create_user(ctx, "olga", "demo", ["PMO Office"], ["approver"])
    deployments.deploy(
        ctx,
        ADMIN,
        [
            SourceFile(
                "nolane.bpmn",
                linear(('<bpmn:userTask id="file_it" name="File it"/>\n', "file_it"), pid="nolane").encode(),
            )
        ],
    )
    view = instances.start(ctx, BOT, "nolane", business_key="NL-1")
    [task] = view.open_tasks
    assert "PMO Office (default group)" in dana.get(f"/monitor/instances/{view.id}").get_data(as_text=True)
    olga = browser_of("olga")
    assert "PMO Office (default group)" in olga.get("/tasks").get_data(as_text=True)
    assert "PMO Office (default group)" in olga.get(f"/tasks/{task.id}").get_data(as_text=True)


def test_ticked_instances_are_confirmed_then_each_reported(app, browser_of):
    ctx = app.extensions["pmoflow"]
    a, b, done = intake(app, key="T-1"), intake(app, key="T-2"), intake(app, key="T-3")
    completion.complete(ctx, ALICE, done.open_tasks[0].id, {"decision": "reject", "comment": "no"})
    pmo = browser_of("pmo")
    listing = pmo.get("/monitor").get_data(as_text=True)  # no filter: ticking still works
    ticks = {i.id: f"{i.id}:{i.revision}" for i in monitoring.search(ctx, ADMIN, InstanceFilter()).items}
    assert all(f'name="ids" value="{v}"' in listing for v in ticks.values())
    assert "Review the ticked" in listing and "Review all" not in listing  # all matching needs a filter
    token = csrf_of(pmo, "/monitor")
    form = {"action": "cancel", "scope": "picked", "ids": [ticks[a.id], ticks[done.id]], "csrf_token": token}
    confirm = pmo.post("/monitor/bulk", data=form).get_data(as_text=True)
    assert "Cancel 1 instance?" in confirm and "You ticked 2 instances; 1 is skipped" in confirm
    assert "skipped: it is completed" in confirm and f'name="ids" value="{ticks[a.id]}"' in confirm
    instances.cancel(ctx, ADMIN, b.id, "not in this bulk")  # b was not ticked: untouched by what follows
    no_reason = pmo.post("/monitor/bulk", data={**form, "confirm": "yes"}, follow_redirects=True)
    assert "a reason is required to cancel" in no_reason.get_data(as_text=True)
    result = pmo.post("/monitor/bulk", data={**form, "reason": "duplicate", "confirm": "yes"}).get_data(as_text=True)
    assert "Cancel: 1 done, 0 failed" in result and "1 skipped" in result and "now cancelled" in result
    assert instances.get(ctx, ADMIN, a.id).status == "cancelled"
    stale = pmo.post("/monitor/bulk", data={**form, "reason": "again", "confirm": "yes"}).get_data(as_text=True)
    assert "changed meanwhile" in stale and "it changed after the list was shown" in stale  # a, since cancelled
    bad = pmo.post("/monitor/bulk", data={**form, "ids": "x:y"})
    assert bad.status_code == 422
    assert pmo.post("/monitor/bulk", data={k: v for k, v in form.items() if k != "csrf_token"}).status_code == 400


def test_the_instance_page_links_tasks_people_and_decisions_and_offers_the_versions(app, browser_of):
    ctx = app.extensions["pmoflow"]
    view = intake(app, key="L-1", budget=150_000)
    completion.complete(ctx, ALICE, view.open_tasks[0].id, {"decision": "approve", "comment": "fine"})
    task = instances.get(ctx, ADMIN, view.id).open_tasks[0]  # at finance now
    page = browser_of("pmo").get(f"/monitor/instances/{view.id}").get_data(as_text=True)
    assert f'class="task-link" href="/tasks/{task.id}"' in page  # the active task
    assert 'class="person" href="/admin/users/intake-bot"' in page  # who started it
    assert 'class="person" href="/admin/users/alice"' in page and "chose <strong>“approve”" in page
    assert f'class="task-link" href="/tasks/{view.open_tasks[0].id}"' in page  # the decided task
    assert f'class="decision-link" href="/audit/instances/{view.id}#ev-' in page  # the decision table's result
    assert "has no other published version" in page  # a picker, not a number to type
    deploy_intake_renamed(ctx, "Project intake (v2)")
    page = browser_of("pmo").get(f"/monitor/instances/{view.id}").get_data(as_text=True)
    assert '<select id="m-version" name="version" required><option value="2">version 2 · ' in page


def test_the_heat_map_does_not_paint_a_step_as_longest_when_waits_are_equal(app, browser_of, clock):
    ctx = app.extensions["pmoflow"]
    for key in ("H-1", "H-2"):
        view = intake(app, key=key, budget=150_000)
        completion.complete(ctx, ALICE, view.open_tasks[0].id, {"decision": "approve"})
        finance = instances.get(ctx, ADMIN, view.id).open_tasks[0]
        completion.complete(ctx, BOB, finance.id, {"decision": "approve"})  # both steps: 0 s
    page = browser_of("pmo").get("/dashboard?process=project-intake").get_data(as_text=True)
    assert "0.0 h" not in page and "&lt; 1 s" in page
    assert "Every step's median wait is under a minute, so no step is coloured as slower" in page
    assert '"heat": 4' not in page and '"heat": 0' in page
