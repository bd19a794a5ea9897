"""One SLA state: every service that labels a task (the inbox, the task page, the instance view, the
monitor, the monitor's and the inbox's overdue filters and counts) gives one task the same label at
every boundary, the task's own `at_risk_at` included, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.monitoring import instances as monitoring
from engine.monitoring.filters import InstanceFilter
from engine.runtime import instances
from engine.sla.state import AT_RISK_SHARE, at_risk_time, state
from engine.tasks import completion
from engine.tasks import inbox as tasks
from tests.engine.sla.test_sla import FRIDAY_5PM, TUESDAY_5PM, business_timer, deploy, sla_process, start
from tests.factories import ADMIN, ALICE

CREATED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_boundaries_are_decided_once():
    due, at_risk = CREATED + timedelta(days=4), CREATED + timedelta(days=2)
    assert state(None, None, CREATED, CREATED) == "none"
    assert state(due, at_risk, at_risk - timedelta(microseconds=1), CREATED) == "on_track"
    assert state(due, at_risk, at_risk, CREATED) == "at_risk"  # from the at-risk instant on
    assert state(due, at_risk, due - timedelta(microseconds=1), CREATED) == "at_risk"
    assert state(due, at_risk, due, CREATED) == "overdue"  # from the due instant on
    default = at_risk_time(CREATED, due)  # no at_risk_at: the default share
    assert default == CREATED + timedelta(days=4) * AT_RISK_SHARE
    assert state(due, None, default - timedelta(microseconds=1), CREATED) == "on_track"
    assert state(due, None, default, CREATED) == "at_risk"


def labels(ctx, instance_id: str, task_id: str) -> dict[str, object]:
    """What each service says about the task now."""
    [row] = [r for r in tasks.inbox(ctx, ALICE, tasks.InboxFilter()).items if r.task.id == task_id]
    [active] = monitoring.detail(ctx, ADMIN, instance_id).active
    [listed] = monitoring.search(ctx, ADMIN, InstanceFilter(process="p1")).items
    [open_task] = instances.get(ctx, ADMIN, instance_id).open_tasks
    return {
        "inbox": row.sla,
        "inbox task": row.task.sla_state,
        "task": tasks.get(ctx, ALICE, task_id).sla_state,
        "task page": completion.task_context(ctx, ALICE, task_id).sla,
        "listed": tasks.list_tasks(ctx, ALICE).items[0].sla_state,
        "instance": open_task.sla_state,
        "monitor": active.sla,
        "monitor overdue count": "overdue" if listed.overdue_tasks else "not overdue",
        "monitor overdue filter": "overdue"
        if monitoring.search(ctx, ADMIN, InstanceFilter(overdue=True)).total
        else "not overdue",
        "inbox overdue filter": "overdue"
        if tasks.inbox(ctx, ALICE, tasks.InboxFilter(due="overdue")).total
        else "not overdue",
    }


@pytest.mark.parametrize("case", ["property, calendar time, atRisk 0.5", "business-time timer, atRisk 0.25"])
def test_the_monitor_and_the_inbox_label_one_task_alike_at_every_boundary(ctx, clock, case):
    clock.set(FRIDAY_5PM)
    if case.startswith("property"):
        deploy(ctx, sla_process('<pmoflow:sla due="P4D" atRisk="0.5"/>'))
    else:
        deploy(ctx, sla_process('<pmoflow:sla due="P9D" calendar="default" atRisk="0.25"/>', business_timer()))
    view = start(ctx)
    [task] = view.open_tasks
    created, due, at_risk = task.created_at, task.due_at, task.at_risk_at
    assert due == (FRIDAY_5PM + timedelta(days=4) if case.startswith("property") else TUESDAY_5PM)
    assert at_risk is not None and at_risk != at_risk_time(created, due)  # the task's own, not the default
    moments = [
        ("before at risk", created + timedelta(seconds=1), "on_track"),
        ("just before its at_risk_at", at_risk - timedelta(seconds=1), "on_track"),
        ("at its at_risk_at", at_risk, "at_risk"),
        ("between", at_risk + (due - at_risk) / 2, "at_risk"),
        ("just before due", due - timedelta(seconds=1), "at_risk"),
        ("at due", due, "overdue"),
        ("past due", due + timedelta(hours=1), "overdue"),
    ]
    for name, moment, expected in moments:
        clock.set(moment)
        seen = labels(ctx, view.id, task.id)
        overdue = "overdue" if expected == "overdue" else "not overdue"
        want = {k: (overdue if "overdue" in k else expected) for k in seen}
        assert seen == want, name
