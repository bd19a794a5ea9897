"""SLAs on human tasks with an injected clock, on SQLite and PostgreSQL: due dates from the SLA
property and from business-time timers, SLA states, breaches recorded once, reminders,
escalation and default outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.admin import groups, users
from engine.core.errors import DeploymentInvalid
from engine.core.records import EventView
from engine.db.models import Event
from engine.definitions import deployments
from engine.notify import bell as notifications
from engine.runtime import instances, jobs
from engine.runtime.timers import fire_due, next_due
from engine.sla import calendars
from engine.tasks import claims, completion
from engine.tasks import inbox as tasks
from tests.bpmn_samples import document, flow, lane, process
from tests.factories import ADMIN, ALICE, AUDREY, BOT, CAROL, deploy_shipped, source

FRIDAY_5PM = datetime(2026, 1, 9, 17, 0, tzinfo=UTC)
TUESDAY_5PM = datetime(2026, 1, 13, 17, 0, tzinfo=UTC)


def sla_process(sla: str = "", boundary: str = "", attrs: str = "") -> str:
    ext = f"<bpmn:extensionElements>{sla}</bpmn:extensionElements>" if sla else ""
    body = (
        '<bpmn:startEvent id="start"/>\n'
        f'<bpmn:userTask id="review" name="Review"{attrs}>{ext}</bpmn:userTask>\n'
        + boundary
        + '<bpmn:endEvent id="end"/>\n'
        + flow("f1", "start", "review")
        + flow("f2", "review", "end")
    )
    refs = ["review"] + (["timer", "timed_out"] if boundary else [])
    if boundary:
        body += '<bpmn:endEvent id="timed_out"/>\n' + flow("f3", "timer", "timed_out")
    return document(process(body, lane("IT Manager", *refs)))


def deploy(ctx, xml: str) -> None:
    deployments.deploy(ctx, ADMIN, [source("sla.bpmn", xml)])


def start(ctx, **variables):
    return instances.start(ctx, BOT, "p1", variables={"title": "t", **variables})


def events(ctx, event_type: str) -> list[EventView]:
    with ctx.uow(write=False) as uow:
        return [
            EventView.of(e)
            for e in uow.session.scalars(select(Event).where(Event.type == event_type).order_by(Event.id))
        ]


def count(ctx, event_type: str) -> int:
    with ctx.uow(write=False) as uow:
        return uow.session.scalar(select(func.count()).select_from(Event).where(Event.type == event_type)) or 0


# ---------------------------------------------------------------- the SLA property


def test_sla_property_on_business_time_gives_the_due_date_and_the_states(ctx, clock):
    clock.set(FRIDAY_5PM)
    deploy(ctx, sla_process('<pmoflow:sla due="P2D" calendar="default" atRisk="0.5"/>'))
    task = start(ctx).open_tasks[0]
    assert task.due_at == TUESDAY_5PM and task.sla_state == "on_track"
    assert task.at_risk_at == datetime(2026, 1, 12, 17, tzinfo=UTC)  # half the working time: Monday evening
    clock.set(task.at_risk_at + timedelta(minutes=1))
    assert tasks.get(ctx, ALICE, task.id).sla_state == "at_risk"
    clock.set(TUESDAY_5PM)
    assert tasks.get(ctx, ALICE, task.id).sla_state == "overdue"
    [row] = tasks.inbox(ctx, ALICE, tasks.InboxFilter()).items
    assert row.sla == "overdue"


def test_sla_property_on_calendar_time_and_as_an_expression(ctx, clock):
    clock.set(FRIDAY_5PM)
    deploy(ctx, sla_process('<pmoflow:sla due="P2D"/>'))
    assert start(ctx).open_tasks[0].due_at == FRIDAY_5PM + timedelta(days=2)
    deploy(ctx, sla_process('<pmoflow:sla due="deadline"/>'))
    assert start(ctx, deadline="2026-01-20T12:00:00+00:00").open_tasks[0].due_at == datetime(
        2026, 1, 20, 12, tzinfo=UTC
    )
    deploy(ctx, sla_process('<pmoflow:sla due="&quot;P%dD&quot; % days" calendar="default"/>'))
    assert start(ctx, days=1).open_tasks[0].due_at == datetime(2026, 1, 12, 17, tzinfo=UTC)


def test_camunda_due_dates_are_read(ctx, clock):
    deploy(ctx, sla_process(attrs=' xmlns:camunda="http://camunda.org/schema/1.0/bpmn" camunda:dueDate="PT6H"'))
    assert start(ctx).open_tasks[0].due_at == clock.now() + timedelta(hours=6)


def test_a_breach_of_the_sla_property_is_recorded_once_by_the_job(ctx, clock):
    clock.set(FRIDAY_5PM)
    deploy(ctx, sla_process('<pmoflow:sla due="PT4H" calendar="default"/>'))
    late = start(ctx).open_tasks[0]
    done_in_time = start(ctx).open_tasks[0]
    assert late.due_at == datetime(2026, 1, 12, 13, tzinfo=UTC)
    completion.complete(ctx, ALICE, done_in_time.id, {})
    clock.set(datetime(2026, 1, 12, 12, 59, tzinfo=UTC))
    assert jobs.run_due(ctx) == 0 and count(ctx, "sla_breached") == 0
    clock.set(datetime(2026, 1, 12, 13, 1, tzinfo=UTC))
    assert jobs.run_due(ctx) == 2
    assert jobs.run_due(ctx) == 0
    [breach] = events(ctx, "sla_breached")
    assert (breach.task_id, breach.data["kind"], breach.actor) == (late.id, "due_date", "timer")
    trail = [e.type for e in instances.audit_trail(ctx, AUDREY, late.instance_id)]
    assert "sla_breached" in trail


def test_a_task_with_a_boundary_timer_takes_its_due_date_from_the_timer(ctx, clock):
    timer = (
        '<bpmn:boundaryEvent id="timer" attachedToRef="review"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration>"PT3H"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>\n'
    )
    deploy(ctx, sla_process('<pmoflow:sla due="P5D"/>', timer))
    assert start(ctx).open_tasks[0].due_at == clock.now() + timedelta(hours=3)


# ---------------------------------------------------------------- timers on business time


def business_timer(kind: str = "", cycle: bool = False, calendar: str = "default") -> str:
    value = '<bpmn:timeCycle>"R/P1D"</bpmn:timeCycle>' if cycle else '<bpmn:timeDuration>"P2D"</bpmn:timeDuration>'
    kind_attr = f' pmoflow:timerKind="{kind}"' if kind else ""
    return (
        f'<bpmn:boundaryEvent id="timer" attachedToRef="review"{kind_attr}>'
        f'<bpmn:timerEventDefinition id="timer_def" pmoflow:calendar="{calendar}">{value}'
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>\n"
    )


def test_a_boundary_timer_on_business_time_fires_after_working_time_only(ctx, clock):
    clock.set(FRIDAY_5PM)
    deploy(ctx, sla_process(boundary=business_timer()))
    view = start(ctx)
    assert view.open_tasks[0].due_at == TUESDAY_5PM and next_due(ctx) == TUESDAY_5PM
    clock.set(FRIDAY_5PM + timedelta(days=2, minutes=1))  # Sunday: two calendar days, no working time
    assert fire_due(ctx) == 0
    clock.set(TUESDAY_5PM + timedelta(minutes=1))
    assert fire_due(ctx) == 1
    assert instances.get(ctx, ADMIN, view.id).status == "completed"
    [breach] = events(ctx, "sla_breached")
    assert breach.data["kind"] == "escalation" and breach.element_id == "review"


def test_business_time_follows_the_saved_default_calendar(ctx, clock):
    calendars.save_calendar(ctx, ADMIN, "default", "Europe/Berlin", calendars.DEFAULT_HOURS)
    clock.set(datetime(2026, 1, 9, 16, tzinfo=UTC))  # 17:00 in Berlin
    deploy(ctx, sla_process(boundary=business_timer()))
    assert start(ctx).open_tasks[0].due_at == datetime(2026, 1, 13, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timer", "message"),
    [
        (business_timer(calendar="nights"), "business calendar 'nights' does not exist"),
        (business_timer(cycle=True), "cycle timer cannot run on a business calendar"),
        (business_timer(kind="panic"), "timerKind 'panic'"),
    ],
)
def test_deploy_names_bad_calendars_and_kinds_with_the_element(ctx, timer, message):
    with pytest.raises(DeploymentInvalid) as info:
        deploy(ctx, sla_process(boundary=timer))
    problems = [p for p in info.value.problems if message in p.message]
    assert problems and problems[0].element_id == "timer", info.value.problems


@pytest.mark.parametrize(
    ("sla", "message"),
    [
        ('<pmoflow:sla due="P2D" calendar="nights"/>', "business calendar 'nights' does not exist"),
        ('<pmoflow:sla due="P1M" calendar="default"/>', "months and years"),
        ('<pmoflow:sla due="P2D" atRisk="2"/>', "atRisk"),
        ('<pmoflow:sla due="1 +"/>', "neither ISO 8601 nor an expression"),
    ],
)
def test_deploy_names_bad_sla_properties_with_the_task(ctx, sla, message):
    with pytest.raises(DeploymentInvalid) as info:
        deploy(ctx, sla_process(sla))
    problems = [p for p in info.value.problems if message in p.message]
    assert problems and problems[0].element_id == "review", info.value.problems


def test_a_calendar_created_later_can_be_used_by_a_new_deployment(ctx, clock):
    calendars.save_calendar(ctx, ADMIN, "nights", "UTC", {d: "22:00-24:00" for d in calendars.WEEKDAYS}, new=True)
    clock.set(datetime(2026, 1, 5, 12, tzinfo=UTC))
    deploy(ctx, sla_process('<pmoflow:sla due="PT3H" calendar="nights"/>'))
    assert start(ctx).open_tasks[0].due_at == datetime(2026, 1, 6, 23, tzinfo=UTC)


# ---------------------------------------------------------------- the shipped patterns


@pytest.fixture
def people(ctx):
    users.create_user(ctx, "alice", None, ["IT Manager"])
    users.create_user(ctx, "ivan", None, ["IT Manager"])
    users.create_user(ctx, "bob", None, ["Finance"])
    deploy_shipped(ctx)
    return ctx


def test_reminders_fire_every_day_notify_the_group_and_do_not_breach(people, clock):
    ctx = people
    view = instances.start(
        ctx,
        BOT,
        "project-intake",
        variables={"title": "CRM", "budget": 1000, "department": "IT", "approval_sla": "P3D"},
    )
    task = view.open_tasks[0]
    assert task.due_at == clock.now() + timedelta(days=3)  # the reminder is not the due date
    clock.advance(timedelta(days=1, minutes=1))
    assert fire_due(ctx) == 1
    [reminder] = events(ctx, "task_reminder")
    assert (reminder.task_id, reminder.data["notified"]) == (task.id, ["alice", "ivan"])
    assert count(ctx, "sla_breached") == 0
    assert [t.id for t in instances.get(ctx, ADMIN, view.id).open_tasks] == [task.id]
    bell = notifications.list_notifications(ctx, ALICE).items
    assert [n.kind for n in bell] == ["task_reminder"] and bell[0].task_id == task.id
    claims.claim(ctx, ALICE, task.id)
    clock.advance(timedelta(days=1))
    assert fire_due(ctx) == 1
    second = events(ctx, "task_reminder")[1]
    assert second.data["notified"] == ["alice"]  # claimed: only the assignee
    assert len(notifications.list_notifications(ctx, users_actor("ivan")).items) == 1


def users_actor(name: str):
    from tests.factories import actor

    return actor(name, "IT Manager")


def test_escalation_to_the_pmo_director_records_the_breach_with_its_kind(people, clock):
    ctx = people
    view = instances.start(
        ctx,
        BOT,
        "project-intake",
        variables={"title": "CRM", "budget": 1000, "department": "IT", "approval_sla": "PT2H"},
    )
    clock.advance(timedelta(hours=2, minutes=1))
    assert fire_due(ctx) == 1
    [escalated] = instances.get(ctx, ADMIN, view.id).open_tasks
    assert (escalated.element_id, escalated.role) == ("escalated_it_manager_approval", "PMO Director")
    [breach] = events(ctx, "sla_breached")
    assert (breach.element_id, breach.data["kind"], breach.data["interrupting"]) == (
        "it_manager_approval",
        "escalation",
        True,
    )
    assert count(ctx, "task_reminder") == 0


def test_change_request_security_review_defaults_to_reject_after_its_business_time_sla(people, clock):
    ctx = people
    clock.set(datetime(2026, 1, 9, 16, tzinfo=UTC))  # Friday 16:00
    view = instances.start(
        ctx,
        BOT,
        "change-request",
        variables={"title": "Patch DB", "change_type": "normal", "impact": "high", "security_sla": "PT4H"},
    )
    review = next(t for t in view.open_tasks if t.element_id == "security_review")
    assert review.due_at == datetime(2026, 1, 12, 12, tzinfo=UTC)  # 1 h on Friday, 3 h on Monday
    clock.set(datetime(2026, 1, 12, 12, 1, tzinfo=UTC))
    assert fire_due(ctx) == 1
    it_review = instances.get(ctx, ADMIN, view.id).open_tasks
    assert [t.element_id for t in it_review] == ["it_manager_review"]
    completion.complete(ctx, ALICE, it_review[0].id, {"it_decision": "approve", "it_comment": "fine"})
    final = instances.get(ctx, ADMIN, view.id)
    assert final.status == "completed" and final.variables["outcome"] == "rejected"
    assert final.variables["auto_rejected"] is True
    trail = instances.audit_trail(ctx, AUDREY, view.id)
    breach = next(e for e in trail if e.type == "sla_breached")
    assert (breach.element_id, breach.data["kind"]) == ("security_review", "outcome")
    done = next(e for e in trail if e.type == "instance_completed")
    assert "Rejected automatically" in done.data["variables"]["security_comment"]
    assert CAROL.username not in [e.actor for e in trail]


def test_handoff_sign_offs_are_due_in_two_business_days_and_go_live_by_its_date(people, clock):
    ctx = people
    clock.set(FRIDAY_5PM)
    view = instances.start(
        ctx,
        BOT,
        "cross-functional-handoff",
        business_key="GL-9",
        variables={"title": "CRM go-live", "go_live_date": "2026-01-30"},
    )
    prepare = view.open_tasks[0]
    assert prepare.due_at is None and prepare.sla_state == "none"
    completion.complete(
        ctx, ALICE, prepare.id, {"release_notes": "v2", "rollback_plan": "restore", "go_live_date": "2026-01-30"}
    )
    sign_offs = instances.get(ctx, ADMIN, view.id).open_tasks
    assert {t.due_at for t in sign_offs} == {TUESDAY_5PM}
    assert {t.at_risk_at for t in sign_offs} == {datetime(2026, 1, 12, 17, tzinfo=UTC)}


def reassign_timer() -> str:
    return (
        '<bpmn:boundaryEvent id="timer" attachedToRef="review" cancelActivity="false" '
        'pmoflow:timerKind="reassign"><bpmn:timerEventDefinition><bpmn:timeDuration>"PT2H"</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>\n"
    )


def test_a_reassign_timer_gives_the_overdue_task_to_the_groups_manager(people, clock):
    ctx = people
    groups.set_group_manager(ctx, "IT Manager", "ivan", actor="pmo")
    deploy(ctx, sla_process(boundary=reassign_timer()))
    task = start(ctx).open_tasks[0]
    claims.claim(ctx, ALICE, task.id)
    clock.advance(timedelta(hours=2, minutes=1))
    assert fire_due(ctx) == 1
    after = tasks.get(ctx, ADMIN, task.id)
    assert (after.status, after.assignee) == ("open", "ivan")
    [breach] = events(ctx, "sla_breached")
    assert breach.data["kind"] == "reassign" and breach.task_id == task.id
    [moved] = events(ctx, "task_reassigned")
    assert (moved.data["from"], moved.data["to"], moved.actor) == ("alice", "ivan", "timer")
    bell = notifications.list_notifications(ctx, users_actor("ivan")).items
    assert [n.kind for n in bell] == ["task_assigned"] and "overdue" in bell[0].text


def test_without_a_manager_the_reassign_timer_records_why_nothing_moved(people, clock):
    ctx = people
    deploy(ctx, sla_process(boundary=reassign_timer()))
    task = start(ctx).open_tasks[0]
    clock.advance(timedelta(hours=3))
    assert fire_due(ctx) == 1
    assert tasks.get(ctx, ADMIN, task.id).assignee is None
    [skipped] = events(ctx, "escalation_skipped")
    assert "no manager" not in skipped.data["reason"] and "has a manager" in skipped.data["reason"]
