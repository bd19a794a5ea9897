"""Instance monitoring: search filters, the instance in depth, variable corrections, bulk actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.core.errors import Conflict, Forbidden, InvalidInput
from engine.core.permissions import Actor
from engine.db.models import Event, ProcessInstance
from engine.definitions import deployments
from engine.monitoring import bulk
from engine.monitoring import instances as monitoring
from engine.monitoring.instances import InstanceFilter
from engine.runtime import instances
from engine.sla.state import state as sla_state
from engine.spiff.model.parsing import SourceFile
from engine.tasks import completion
from tests.bpmn_samples import linear, script_task
from tests.factories import ADMIN, ALICE, AUDREY, BOT, deploy_shipped

DESIGNER = Actor("dana", roles=frozenset({"designer"}))


def intake(ctx, key: str, budget: int = 50_000, **extra):
    return instances.start(
        ctx,
        BOT,
        "project-intake",
        business_key=key,
        variables={"title": f"Project {key}", "budget": budget, "department": "Sales", **extra},
    )


def failing(ctx):
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


def flt(**kw) -> InstanceFilter:
    return InstanceFilter.from_args({k: str(v) for k, v in kw.items()})


def ids(result) -> set[str]:
    return {r.business_key for r in result.items}


def test_search_filters_by_every_field(ctx, clock):
    deploy_shipped(ctx)
    a = intake(ctx, "A-1")
    clock.advance(timedelta(days=3))  # A-1's IT Manager task is now overdue (P2D)
    b = intake(ctx, "B-1")
    completion.complete(ctx, ALICE, b.open_tasks[0].id, {"decision": "reject", "comment": "no budget"})
    broken = failing(ctx)
    everything = monitoring.search(ctx, DESIGNER, InstanceFilter())
    assert everything.total == 3 and [r.business_key for r in everything.items] == ["CALC-1", "B-1", "A-1"]
    assert ids(monitoring.search(ctx, ADMIN, flt(process="project-intake"))) == {"A-1", "B-1"}
    assert ids(monitoring.search(ctx, ADMIN, flt(process="project-intake", version=1))) == {"A-1", "B-1"}
    assert ids(monitoring.search(ctx, ADMIN, flt(process="project-intake", version=2))) == set()
    assert ids(monitoring.search(ctx, ADMIN, flt(status="completed"))) == {"B-1"}
    assert ids(monitoring.search(ctx, ADMIN, flt(business_key="A-1"))) == {"A-1"}
    assert ids(monitoring.search(ctx, ADMIN, flt(started_by="intake-bot"))) == {"A-1", "B-1", "CALC-1"}
    assert ids(monitoring.search(ctx, ADMIN, flt(started_by="nobody"))) == set()
    day_a, day_b = a.created_at.date(), b.created_at.date()
    assert ids(monitoring.search(ctx, ADMIN, flt(started_from=day_a, started_to=day_a))) == {"A-1"}
    assert ids(monitoring.search(ctx, ADMIN, flt(started_from=day_b))) == {"B-1", "CALC-1"}
    assert ids(monitoring.search(ctx, ADMIN, flt(overdue=1))) == {"A-1"}
    assert ids(monitoring.search(ctx, ADMIN, flt(in_error=1))) == {"CALC-1"}
    assert ids(monitoring.search(ctx, ADMIN, flt(step="it_manager_approval"))) == {"A-1"}
    assert ids(monitoring.search(ctx, ADMIN, flt(group="IT Manager"))) == {"A-1"}
    assert ids(monitoring.search(ctx, ADMIN, flt(sla="breached"))) == {"A-1"}
    assert ids(monitoring.search(ctx, ADMIN, flt(rejected=1))) == {"B-1"}
    row = next(r for r in everything.items if r.business_key == "A-1")
    assert (row.open_tasks, row.overdue_tasks, row.title) == (1, 1, "Project A-1")
    assert next(r for r in everything.items if r.business_key == "CALC-1").error
    assert broken.status == "error"


def test_search_paginates_and_refuses_bad_filters_and_callers(ctx):
    deploy_shipped(ctx)
    for i in range(5):
        intake(ctx, f"P-{i}")
    page = monitoring.search(ctx, ADMIN, InstanceFilter(), page=2, per_page=2)
    assert (page.total, page.pages, [r.business_key for r in page.items]) == (5, 3, ["P-2", "P-1"])
    with pytest.raises(InvalidInput) as err:
        InstanceFilter.from_args({"status": "lost", "started_from": "yesterday", "version": "x"})
    assert set(err.value.details["fields"]) == {"status", "started_from", "version"}
    with pytest.raises(Forbidden):
        monitoring.search(ctx, ALICE, InstanceFilter())
    assert monitoring.search(ctx, AUDREY, InstanceFilter()).total == 5
    assert flt(process="x", overdue=1).to_query() == {"process": "x", "overdue": "1"}


def test_detail_shows_path_active_tasks_with_sla_and_incidents(ctx, clock):
    deploy_shipped(ctx)
    view = intake(ctx, "D-1", budget=150_000)
    completion.complete(ctx, ALICE, view.open_tasks[0].id, {"decision": "approve"})
    clock.advance(timedelta(days=1, hours=13))  # finance has 2 days: the last quarter is at risk
    d = monitoring.detail(ctx, DESIGNER, view.id)
    assert d.process == "project-intake" and d.business_key == "D-1" and d.variables["budget"] == 150_000
    assert "it_manager_approval" in d.visited and "finance_approval" not in d.visited
    [active] = d.active
    assert (active.element_id, active.sla) == ("finance_approval", "at_risk")
    assert d.bpmn_xml and "finance_approval" in d.bpmn_xml
    assert any(s.kind == "task_completed" for s in d.timeline)
    assert not (d.may_edit or d.may_cancel or d.may_retry)  # a designer reads only
    assert monitoring.detail(ctx, ADMIN, view.id).may_edit
    broken = failing(ctx)
    d = monitoring.detail(ctx, ADMIN, broken.id)
    assert d.may_retry and [i.kind for i in d.incidents] == ["incident_raised"] and "budget" in d.incidents[0].message
    assert sla_state(None, None, clock.now(), view.created_at) == "none"
    assert sla_state(clock.now() - timedelta(seconds=1), None, clock.now(), view.created_at) == "overdue"
    assert sla_state(clock.now() + timedelta(days=2), None, clock.now(), clock.now()) == "on_track"


def test_an_admin_corrects_variables_with_a_reason_and_the_workflow_sees_it(ctx):
    deploy_shipped(ctx)
    view = intake(ctx, "V-1", budget=150_000, note="typo")
    assert view.variables["tier"] == 2
    changed = monitoring.edit_variables(
        ctx, ADMIN, view.id, {"tier": 1, "cost_center": "CC-7"}, ["note"], "budget was mistyped"
    )
    assert changed.changes["tier"] == {"before": 2, "after": 1}
    assert changed.changes["cost_center"] == {"before": None, "after": "CC-7"}
    assert changed.changes["note"]["removed"] is True
    assert changed.variables["tier"] == 1 and "note" not in changed.variables
    trail = instances.audit_trail(ctx, ADMIN, view.id)
    [event] = [e for e in trail if e.type == "variables_changed"]
    assert event.actor == "pmo" and event.data["reason"] == "budget was mistyped"
    # the running workflow took the change: tier 1 needs no finance approval, so the instance completes
    completion.complete(ctx, ALICE, view.open_tasks[0].id, {"decision": "approve"})
    done = instances.get(ctx, ADMIN, view.id)
    assert done.status == "completed" and done.variables["tier"] == 1
    assert done.variables["cost_center"] == "CC-7" and "note" not in done.variables
    with pytest.raises(Conflict):
        monitoring.edit_variables(ctx, ADMIN, view.id, {"budget": 1}, [], "too late")


def test_variable_corrections_are_refused_whole(ctx):
    deploy_shipped(ctx)
    view = intake(ctx, "V-2")
    with ctx.uow(write=False) as uow:
        events = uow.session.scalar(select(func.count()).select_from(Event))
    with pytest.raises(Forbidden):
        monitoring.edit_variables(ctx, DESIGNER, view.id, {"budget": 1}, [], "why not")
    with pytest.raises(InvalidInput, match="reason"):
        monitoring.edit_variables(ctx, ADMIN, view.id, {"budget": 1}, [], "  ")
    with pytest.raises(InvalidInput, match="invalid variable names"):
        monitoring.edit_variables(ctx, ADMIN, view.id, {"_secret": 1}, [], "r")
    with pytest.raises(InvalidInput, match="no such variables"):
        monitoring.edit_variables(ctx, ADMIN, view.id, {}, ["ghost"], "r")
    with pytest.raises(InvalidInput, match="nothing to change"):
        monitoring.edit_variables(ctx, ADMIN, view.id, {"budget": 50_000}, [], "r")
    with ctx.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Event)) == events
        assert uow.session.scalars(select(ProcessInstance)).one().variables["budget"] == 50_000


def test_bulk_cancel_and_retry_over_a_filter_report_each_instance(ctx):
    deploy_shipped(ctx)
    keep = intake(ctx, "K-1")
    for i in range(3):
        intake(ctx, f"C-{i}", budget=10)
    done = intake(ctx, "C-done")
    completion.complete(ctx, ALICE, done.open_tasks[0].id, {"decision": "reject", "comment": "no"})
    with pytest.raises(Forbidden):
        bulk.run(ctx, DESIGNER, "cancel", flt(process="project-intake"), "cleanup")
    with pytest.raises(InvalidInput, match="reason"):
        bulk.run(ctx, ADMIN, "cancel", flt(process="project-intake"), "")
    with pytest.raises(InvalidInput, match="filter"):
        bulk.run(ctx, ADMIN, "cancel", InstanceFilter(), "everything")
    result = bulk.run(ctx, ADMIN, "cancel", flt(started_by="intake-bot", process="project-intake"), "duplicates")
    assert (result.matched, result.not_applicable, result.succeeded, result.failed) == (5, 1, 4, 0)  # C-done: skipped
    statuses = {r.business_key: r.status for r in monitoring.search(ctx, ADMIN, InstanceFilter()).items}
    assert statuses == {
        "K-1": "cancelled",
        "C-0": "cancelled",
        "C-1": "cancelled",
        "C-2": "cancelled",
        "C-done": "completed",
    }
    assert instances.get(ctx, ADMIN, keep.id).cancel_reason == "duplicates"
    broken = failing(ctx)
    retried = bulk.run(ctx, ADMIN, "retry", flt(in_error=1))
    assert retried.matched == 1 and retried.items[0].id == broken.id and retried.items[0].ok
    assert retried.items[0].message == "error"  # still failing: budget is still missing
    with pytest.raises(InvalidInput):
        bulk.run(ctx, ADMIN, "delete", flt(in_error=1))
