"""The bell is derived from the event stream: each entry comes from its event, in the event's transaction."""

from __future__ import annotations

import ast
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from engine.admin import users
from engine.db.models import Event, Notification, ProcessInstance
from engine.events import stream
from engine.notify import bell
from engine.requester import comments
from engine.runtime import instances
from engine.runtime.instances import InstanceView
from engine.tasks import collaboration
from tests.conftest import ROOT
from tests.factories import ADMIN, ALICE, BOT, deploy_shipped


@pytest.fixture
def shipped(ctx):
    deploy_shipped(ctx, separation_of_duties=False)  # delegates outside the lane
    users.ensure_demo_users(ctx)
    return ctx


def intake(ctx) -> tuple[str, str]:
    view = instances.start(
        ctx,
        BOT,
        "project-intake",
        business_key="PRJ-7",
        variables={"title": "New CRM", "budget": 10_000, "department": "Sales"},
    )
    return view.id, view.open_tasks[0].id


def bell_rows(ctx) -> list[tuple[str, str, str, str | None, str | None]]:
    with ctx.uow(write=False) as uow:
        return [
            tuple(r)
            for r in uow.session.execute(
                select(
                    Notification.username,
                    Notification.kind,
                    Notification.text,
                    Notification.link,
                    Notification.task_uuid,
                ).order_by(Notification.id)
            )
        ]


def count(ctx, model) -> int:
    with ctx.uow(write=False) as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def record_alone(ctx, type_: str, instance_id: str | None, task_uuid: str | None, actor: str, data: dict) -> None:
    """Record one event in a unit of work of its own, as a service would, and commit."""
    with ctx.uow() as uow:
        instance = (
            uow.session.scalars(select(ProcessInstance).where(ProcessInstance.uuid == instance_id)).first()
            if instance_id
            else None
        )
        stream.record(
            uow.session, type_, ctx.clock.now(), instance=instance, actor=actor, task_uuid=task_uuid, data=data
        )
        uow.commit()


DUE = datetime(2026, 3, 2, 17, 30, tzinfo=UTC).isoformat()


@pytest.mark.parametrize(
    ("type_", "actor", "data", "expected"),
    [
        (
            "task_delegated",
            "alice",
            {"name": "Review", "from": None, "to": "erin", "reason": "away", "owner": "alice"},
            (
                "erin",
                "delegation",
                "alice delegated “Review” for New CRM (PRJ-7) to you; you complete it on behalf of alice. Reason: away",
                None,
            ),
        ),
        (
            "task_reassigned",
            "pmo",
            {"name": "Review", "from": "alice", "to": "erin", "reason": "moved", "substitute_for": "dave"},
            (
                "erin",
                "task_assigned",
                "pmo assigned “Review” for New CRM (PRJ-7) to you (you stand in for dave, who is "
                "out of office). Reason: moved",
                None,
            ),
        ),
        (
            "task_reassigned",
            "timer",
            {"name": "Review", "from": "alice", "to": "ivan", "reason": "SLA", "timer": "T1"},
            (
                "ivan",
                "task_assigned",
                "“Review” for New CRM (PRJ-7) is overdue and now yours as the group's manager.",
                "/tasks/",
            ),
        ),
        (
            "task_reminder",
            "timer",
            {"timer": "T2", "name": "Review", "notified": ["erin"], "due_at": DUE},
            (
                "erin",
                "task_reminder",
                "Reminder: Review for New CRM (PRJ-7) is waiting (due 2026-03-02 17:30 UTC).",
                "/tasks/",
            ),
        ),
        (
            "comment_added",
            "alice",
            {"comment": "c1", "parent": None, "body": "@erin look", "mentions": ["erin"]},
            ("erin", "mention", "alice mentioned you on New CRM (PRJ-7): @erin look", None),
        ),
        (
            "task_created",
            None,
            {
                "name": "Review",
                "assignee": "erin",
                "candidate_groups": [],
                "due_at": None,
                "approval_batch": None,
                "substitute_for": "dave",
            },
            ("erin", "task_assigned", "Review: New CRM (for dave, who is away)", "/tasks/"),
        ),
    ],
)
def test_recording_the_event_alone_gives_the_bell_entry(shipped, type_, actor, data, expected):
    """No service runs here, only `stream.record`: the entry can only come from the bell's subscriber."""
    instance_id, task_id = intake(shipped)
    before = len(bell_rows(shipped))
    record_alone(shipped, type_, instance_id, task_id, actor, data)
    [(username, kind, text, link, task_uuid)] = bell_rows(shipped)[before:]
    person, want_kind, want_text, want_link = expected
    assert (username, kind, text, task_uuid) == (person, want_kind, want_text, task_id)
    assert link == (f"{want_link}{task_id}" if want_link else None)


def test_the_requester_and_the_substitute_hear_from_their_events_alone(shipped):
    instance_id, _ = intake(shipped)
    record_alone(
        shipped,
        "out_of_office_set",
        None,
        None,
        "erin",
        {"substitute": "dave", "starts_on": "2026-01-05", "ends_on": "2026-01-09"},
    )
    with shipped.uow() as uow:  # a cancellation's event, without the cancel service
        instance = uow.session.scalars(select(ProcessInstance).where(ProcessInstance.uuid == instance_id)).one()
        instance.status, instance.cancel_reason = "cancelled", "duplicate"
        stream.record(
            uow.session,
            "instance_cancelled",
            shipped.clock.now(),
            instance=instance,
            actor="pmo",
            data={"reason": "duplicate"},
        )
        uow.commit()
    assert [r[:3] for r in bell_rows(shipped)] == [
        (
            "dave",
            "substitute",
            "erin is out of office from 05 Jan 2026 to 09 Jan 2026: new tasks for them come to you.",
        ),
        ("intake-bot", "request_decided", "Your request New CRM (PRJ-7) was cancelled by pmo: duplicate."),
    ]


def test_without_the_bell_subscriber_no_service_writes_a_bell_entry(shipped, monkeypatch):
    """Every flow that rings the bell, run with the subscriber taken out: no entry, while the events are there."""
    monkeypatch.setattr(stream, "_subscribers", [s for s in stream.subscribers() if s is not bell.on_event])
    instance_id, task_id = intake(shipped)
    collaboration.delegate(shipped, ALICE, task_id, "erin", "away today")
    collaboration.reassign(shipped, ADMIN, task_id, "alice", "back again")
    collaboration.set_out_of_office(shipped, ALICE, "erin", shipped.clock.now().date(), shipped.clock.now().date())
    comments.add_comment(shipped, ALICE, "@erin have a look", instance_id=instance_id)
    instances.cancel(shipped, ADMIN, instance_id, "duplicate")
    with shipped.uow(write=False) as uow:
        types = set(uow.session.scalars(select(Event.type)))
    assert {"task_delegated", "task_reassigned", "out_of_office_set", "comment_added", "instance_cancelled"} <= types
    assert count(shipped, Notification) == 0


def test_a_rolled_back_step_leaves_no_bell_entry(shipped, monkeypatch):
    instance_id, _ = intake(shipped)

    def fail(*args, **kwargs):
        raise RuntimeError("the view could not be built")

    monkeypatch.setattr(InstanceView, "of", fail)  # after the event was recorded: the step rolls back
    with pytest.raises(RuntimeError):
        instances.cancel(shipped, ADMIN, instance_id, "duplicate")
    assert bell_rows(shipped) == []
    monkeypatch.undo()
    instances.cancel(shipped, ADMIN, instance_id, "duplicate")
    assert [r[:2] for r in bell_rows(shipped)] == [("intake-bot", "request_decided")]


def imported(path) -> set[str]:
    """Every module a file imports, at any level of the file (`from engine import notify` counts as engine.notify)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_only_an_event_reaches_the_bell():
    """No engine module but the notifications' own and the composition root imports engine.notify: a service
    that wants someone told records its event."""
    allowed = {ROOT / "engine" / "bootstrap.py"}
    offenders = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "engine").rglob("*.py")
        if p not in allowed
        and "notify" not in p.relative_to(ROOT).parts[:2]
        and any(n == "engine.notify" or n.startswith("engine.notify.") for n in imported(p))
    )
    assert offenders == []
