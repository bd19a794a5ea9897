"""A dry run predicts the due dates a live instance gets: the same engine functions on the same business
calendars (weekends, evenings, holidays, the calendar's time zone), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from designer import dryrun
from engine.definitions import deployments
from engine.runtime import instances
from engine.sla import calendars
from engine.sla.calendars import Holiday
from tests.bpmn_samples import document, flow, lane, process
from tests.factories import ADMIN, BOT, source

SUPPORT = "Support Berlin"
HOLIDAY = date(2026, 1, 12)  # a Monday


def model(sla: str = "", timer: str = "") -> str:
    """One user task with an SLA property or a boundary timer, both on the business calendar."""
    ext = f"<bpmn:extensionElements>{sla}</bpmn:extensionElements>" if sla else ""
    body = (
        '<bpmn:startEvent id="start"/>\n'
        f'<bpmn:userTask id="review" name="Review">{ext}</bpmn:userTask>\n'
        '<bpmn:endEvent id="end"/>\n' + flow("f1", "start", "review") + flow("f2", "review", "end")
    )
    refs = ["review"]
    if timer:
        body += (
            '<bpmn:boundaryEvent id="timer" attachedToRef="review">'
            f'<bpmn:timerEventDefinition id="timer_def" pmoflow:calendar="{SUPPORT}">'
            f"<bpmn:timeDuration>{timer}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>\n"
            '<bpmn:endEvent id="late"/>\n' + flow("f3", "timer", "late")
        )
        refs += ["timer", "late"]
    return document(process(body, lane("IT Manager", *refs)))


MODELS = {
    "sla property": model(sla=f'<pmoflow:sla due="P2D" calendar="{SUPPORT}"/>'),
    "sla expression": model(sla=f'<pmoflow:sla due="&quot;PT%dH&quot; % hours" calendar="{SUPPORT}"/>'),
    "boundary timer": model(timer='"P2D"'),
}
STARTS = {
    "friday evening": datetime(2026, 1, 9, 18, 30, tzinfo=UTC),  # after hours, before a weekend and a holiday
    "sunday": datetime(2026, 1, 11, 15, 0, tzinfo=UTC),
    "on the holiday": datetime(2026, 1, 12, 10, 0, tzinfo=UTC),
    "tuesday morning": datetime(2026, 1, 13, 8, 15, tzinfo=UTC),  # 09:15 in Berlin: inside working hours
}


@pytest.fixture
def support_calendar(ctx):
    """A saved calendar in Berlin time, 09:00-17:00 with a short Friday, and a Monday holiday."""
    calendars.save_calendar(
        ctx, ADMIN, SUPPORT, "Europe/Berlin", {**calendars.DEFAULT_HOURS, "fri": "09:00-13:00"}, new=True
    )
    calendars.set_holidays(ctx, ADMIN, SUPPORT, add=[Holiday(HOLIDAY, "Company day")])


@pytest.mark.parametrize("start_at", list(STARTS.values()), ids=list(STARTS))
@pytest.mark.parametrize("name", list(MODELS))
def test_the_dry_runs_due_date_is_the_live_instances(ctx, clock, support_calendar, name, start_at):
    xml = MODELS[name]
    deployments.deploy(ctx, ADMIN, [source("due.bpmn", xml)])
    clock.set(start_at)
    live = instances.start(ctx, BOT, "p1", variables={"hours": 12})
    [task] = live.open_tasks
    assert task.due_at is not None

    run = dryrun.start(
        [source("due.bpmn", xml)],
        {"hours": 12},
        now=start_at,
        limits=dryrun.Limits(calendars=calendars.snapshot(ctx)),
    )

    [predicted] = run.open_tasks
    assert datetime.fromisoformat(predicted["due_at"]) == task.due_at
    if name == "boundary timer":
        assert [datetime.fromisoformat(t["due_at"]) for t in run.timers] == [task.due_at]


def test_two_business_days_from_friday_evening_skip_the_weekend_and_the_holiday(ctx, support_calendar):
    """The case the issue names: not Sunday evening (two calendar days) but Wednesday 17:00 in Berlin."""
    run = dryrun.start(
        [source("due.bpmn", MODELS["boundary timer"])],
        {},
        now=STARTS["friday evening"],
        limits=dryrun.Limits(calendars=calendars.snapshot(ctx)),
    )
    assert run.open_tasks[0]["due_at"] == datetime(2026, 1, 14, 16, 0, tzinfo=UTC).isoformat()


def test_the_due_date_stays_what_it_was_when_the_task_opened():
    """The SLA property is counted once, when the task opens: a reminder firing later does not move it."""
    reminder = (
        '<bpmn:boundaryEvent id="remind" attachedToRef="review" cancelActivity="false">'
        '<bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>\n"
    )
    xml = model(sla='<pmoflow:sla due="PT4H" calendar="default"/>').replace(
        '<bpmn:endEvent id="end"/>', reminder + '<bpmn:endEvent id="end"/>'
    )
    friday = datetime(2026, 1, 9, 16, 0, tzinfo=UTC)
    due = datetime(2026, 1, 12, 12, 0, tzinfo=UTC).isoformat()  # one hour on Friday, three on Monday
    run = dryrun.start([source("due.bpmn", xml)], {}, now=friday)
    assert run.open_tasks[0]["due_at"] == due
    later = dryrun.step([source("due.bpmn", xml)], run.state, {"action": "timer"})
    assert later.now > run.now and later.open_tasks[0]["due_at"] == due


def test_a_calendar_that_does_not_exist_leaves_the_task_without_a_due_date_and_says_why():
    xml = model(sla='<pmoflow:sla due="P1D" calendar="nights"/>')
    run = dryrun.start([source("due.bpmn", xml)], {}, now=datetime(2026, 1, 9, 16, 0, tzinfo=UTC))
    assert run.open_tasks[0]["due_at"] is None
    assert any("nights" in note for note in run.notes)
