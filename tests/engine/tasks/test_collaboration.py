"""Delegate, reassign, out-of-office substitutes and the notifications they cause, on both databases."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from engine.admin import users
from engine.core.errors import Conflict, Forbidden, InvalidInput
from engine.db.models import Event, Notification
from engine.notify import bell as notifications
from engine.runtime import instances
from engine.tasks import claims, collaboration, completion
from engine.tasks import inbox as tasks
from tests.factories import ADMIN, ALICE, AUDREY, BOB, BOT, DAVE, ERIN, actor

APPROVE = {"decision": "approve", "comment": "fine by me"}
IVAN = actor("ivan", "IT Manager")


def intake(ctx, budget: int = 10_000) -> tuple[str, str]:
    view = instances.start(
        ctx,
        BOT,
        "project-intake",
        business_key="PRJ-7",
        variables={"title": "New CRM", "budget": budget, "department": "Sales"},
    )
    return view.id, view.open_tasks[0].id


def events(ctx, kind: str) -> list[Event]:
    with ctx.uow(write=False) as uow:
        rows = list(uow.session.scalars(select(Event).where(Event.type == kind).order_by(Event.id)))
        uow.session.expunge_all()
        return rows


def inbox_of(ctx, who) -> list[notifications.NotificationView]:
    return notifications.list_notifications(ctx, who).items


def test_a_delegate_completes_on_the_owners_behalf(shipped):
    instance_id, task_id = intake(shipped)
    view = collaboration.delegate(shipped, ALICE, task_id, "erin", "I am at the steering board today")
    assert (view.assignee, view.owner, view.delegation_reason) == ("erin", "alice", "I am at the steering board today")
    [event] = events(shipped, "task_delegated")
    assert (event.actor, event.data["from"], event.data["to"], event.data["owner"], event.data["reason"]) == (
        "alice",
        None,
        "erin",
        "alice",
        "I am at the steering board today",
    )
    [note] = inbox_of(shipped, ERIN)
    assert note.kind == "delegation" and "on behalf of alice" in note.text and note.task_id == task_id
    assert tasks.get(shipped, ALICE, task_id).owner == "alice"  # the owner still sees the task
    with pytest.raises(Forbidden):
        completion.complete(shipped, ALICE, task_id, APPROVE)  # it is with erin now
    done = completion.complete(shipped, ERIN, task_id, APPROVE)
    assert done.completed_by == "erin"
    [completed] = [e for e in events(shipped, "task_completed") if e.task_uuid == task_id]
    assert completed.actor == "erin" and completed.data["on_behalf_of"] == "alice"
    assert instances.get(shipped, ERIN, instance_id).status == "completed"
    steps = [s for s in completion.task_context(shipped, ALICE, task_id).path if s.kind == "task_completed"]
    assert steps[0].on_behalf_of == "alice"


def test_who_may_delegate(shipped):
    _, task_id = intake(shipped)
    with pytest.raises(Forbidden):
        collaboration.delegate(shipped, BOB, task_id, "erin", "not my group")
    with pytest.raises(Forbidden):
        collaboration.delegate(shipped, AUDREY, task_id, "erin", "auditors do not hand tasks on")
    claims.claim(shipped, IVAN, task_id)
    with pytest.raises(Forbidden):  # ivan has it, alice may not move it
        collaboration.delegate(shipped, ALICE, task_id, "erin", "mine now")
    view = collaboration.delegate(shipped, ADMIN, task_id, "erin", "ivan is ill")
    assert (view.assignee, view.owner) == ("erin", "ivan")


def test_delegating_again_keeps_the_owner_and_back_to_the_owner_ends_it(shipped):
    _, task_id = intake(shipped)
    claims.claim(shipped, ALICE, task_id)
    collaboration.delegate(shipped, ALICE, task_id, "erin", "please")
    again = collaboration.delegate(shipped, ERIN, task_id, "dave", "dave knows this")
    assert (again.assignee, again.owner) == ("dave", "alice")
    back = collaboration.delegate(shipped, ALICE, task_id, "alice", "I am back")
    assert (back.assignee, back.owner, back.delegation_reason) == ("alice", None, None)
    done = completion.complete(shipped, ALICE, task_id, APPROVE)
    [completed] = [e for e in events(shipped, "task_completed") if e.task_uuid == done.id]
    assert "on_behalf_of" not in completed.data


@pytest.mark.parametrize(
    ("to", "reason", "fields"),
    [
        ("erin", "  ", {"reason"}),
        ("nobody", "why not", {"to"}),
        ("audrey", "auditors do not work tasks", {"to"}),
        ("alice", "to myself", {"to"}),
        ("", "", {"to", "reason"}),
    ],
)
def test_delegation_input_is_checked(shipped, to, reason, fields):
    _, task_id = intake(shipped)
    with pytest.raises(InvalidInput) as err:
        collaboration.delegate(shipped, ALICE, task_id, to, reason)
    assert set(err.value.details["fields"]) == fields


def test_a_deactivated_user_cannot_receive_a_task(shipped):
    _, task_id = intake(shipped)
    users.deactivate(shipped, "erin", "pmo")
    with pytest.raises(InvalidInput) as err:
        collaboration.delegate(shipped, ALICE, task_id, "erin", "please")
    assert "deactivated" in err.value.details["fields"]["to"]


def test_reassign_moves_the_task_for_good(shipped):
    _, task_id = intake(shipped)
    with pytest.raises(InvalidInput) as err:  # bob is not an IT Manager
        collaboration.reassign(shipped, ALICE, task_id, "bob", "budget question")
    assert "delegate instead" in err.value.details["fields"]["to"]
    view = collaboration.reassign(shipped, ALICE, task_id, "ivan", "ivan owns the CRM")
    assert (view.assignee, view.owner) == ("ivan", None)
    [event] = events(shipped, "task_reassigned")
    assert (event.actor, event.data["to"], event.data["reason"]) == ("alice", "ivan", "ivan owns the CRM")
    [note] = inbox_of(shipped, IVAN)
    assert note.kind == "task_assigned" and "ivan owns the CRM" in note.text
    admin = collaboration.reassign(shipped, ADMIN, task_id, "bob", "admins may send it anywhere")
    assert admin.assignee == "bob"
    done = completion.complete(shipped, BOB, task_id, APPROVE)
    [completed] = [e for e in events(shipped, "task_completed") if e.task_uuid == done.id]
    assert completed.actor == "bob" and "on_behalf_of" not in completed.data


def test_a_finished_task_cannot_be_handed_on(shipped):
    _, task_id = intake(shipped)
    completion.complete(shipped, ALICE, task_id, APPROVE)
    with pytest.raises(Conflict):
        collaboration.delegate(shipped, ADMIN, task_id, "erin", "too late")


def test_claiming_ends_a_delegation(shipped):
    _, task_id = intake(shipped)
    collaboration.delegate(shipped, ALICE, task_id, "ivan", "please")
    claims.unclaim(shipped, IVAN, task_id)
    view = claims.claim(shipped, ALICE, task_id)
    assert (view.assignee, view.owner) == ("alice", None)


def test_claiming_notifies_nobody(shipped):
    _, task_id = intake(shipped)
    claims.claim(shipped, ALICE, task_id)
    with shipped.uow(write=False) as uow:
        assert uow.session.scalars(select(Notification)).all() == []


# ---------------------------------------------------------------- out of office


def test_an_active_substitute_receives_personal_assignments(shipped, clock):
    today = clock.now().date()
    absence = collaboration.set_out_of_office(shipped, ERIN, "dave", today, today + timedelta(days=2))
    assert absence.active and absence.substitute == "dave"
    [note] = inbox_of(shipped, DAVE)
    assert note.kind == "substitute" and "erin is out of office" in note.text
    _, task_id = intake(shipped)
    view = collaboration.delegate(shipped, ALICE, task_id, "erin", "please")
    assert (view.assignee, view.owner) == ("dave", "alice")
    [event] = events(shipped, "task_delegated")
    assert event.data["substitute_for"] == "erin"
    assert "you stand in for erin" in inbox_of(shipped, DAVE)[0].text
    assert inbox_of(shipped, ERIN) == []
    clock.advance(timedelta(days=3))
    with shipped.uow(write=False) as uow:
        assert collaboration.effective_assignee(uow.session, "erin", clock.now().date()) == "erin"


def test_substitutes_are_followed_but_not_in_circles(shipped, clock):
    today = clock.now().date()
    later = today + timedelta(days=5)
    collaboration.set_out_of_office(shipped, ERIN, "dave", today, later)
    collaboration.set_out_of_office(shipped, DAVE, "bob", today, later)
    with shipped.uow(write=False) as uow:
        assert collaboration.effective_assignee(uow.session, "erin", today) == "bob"
        assert collaboration.effective_assignee(uow.session, "alice", today) == "alice"
    collaboration.set_out_of_office(shipped, BOB, "erin", today, later)
    with shipped.uow(write=False) as uow:
        assert collaboration.effective_assignee(uow.session, "erin", today) == "bob"
    users.deactivate(shipped, "dave", "pmo")
    with shipped.uow(write=False) as uow:
        assert collaboration.effective_assignee(uow.session, "erin", today) == "erin"


def test_a_future_absence_is_not_active_yet(shipped, clock):
    start = clock.now().date() + timedelta(days=10)
    absence = collaboration.set_out_of_office(
        shipped, ERIN, "dave", start.isoformat(), (start + timedelta(days=1)).isoformat()
    )
    assert not absence.active
    assert collaboration.out_of_office(shipped, ERIN).current == absence
    with shipped.uow(write=False) as uow:
        assert collaboration.effective_assignee(uow.session, "erin", clock.now().date()) == "erin"
        assert collaboration.effective_assignee(uow.session, "erin", start) == "dave"
    assert collaboration.clear_out_of_office(shipped, ERIN) is True
    assert collaboration.out_of_office(shipped, ERIN).current is None
    assert collaboration.clear_out_of_office(shipped, ERIN) is False
    assert [e.actor for e in events(shipped, "out_of_office_cleared")] == ["erin"]


@pytest.mark.parametrize(
    ("substitute", "start", "end", "fields"),
    [
        ("erin", "2026-01-05", "2026-01-06", {"substitute"}),
        ("ghost", "2026-01-05", "2026-01-06", {"substitute"}),
        ("audrey", "2026-01-05", "2026-01-06", {"substitute"}),
        ("dave", "2026-01-07", "2026-01-06", {"ends_on"}),
        ("dave", "2025-12-01", "2025-12-24", {"ends_on"}),
        ("dave", "5.1.2026", "", {"starts_on", "ends_on"}),
        ("", "2026-01-05", "2028-01-05", {"substitute", "ends_on"}),
    ],
)
def test_out_of_office_input_is_checked(shipped, substitute, start, end, fields):
    with pytest.raises(InvalidInput) as err:
        collaboration.set_out_of_office(shipped, ERIN, substitute, start, end)
    assert set(err.value.details["fields"]) == fields


def test_auditors_have_no_substitutes(shipped, clock):
    with pytest.raises(Forbidden):
        collaboration.set_out_of_office(shipped, AUDREY, "dave", date(2026, 1, 5), date(2026, 1, 6))


# ---------------------------------------------------------------- notifications


def test_the_requester_hears_when_the_request_is_decided(shipped):
    instance_id, task_id = intake(shipped)
    completion.complete(shipped, ALICE, task_id, APPROVE)
    [note] = inbox_of(shipped, BOT)
    assert note.kind == "request_decided" and note.instance_id == instance_id
    assert note.text == "Your request New CRM (PRJ-7) was approved by alice."
    assert note.link == f"/requests/{instance_id}"
    rejected, task_id = intake(shipped)
    completion.complete(shipped, ALICE, task_id, {"decision": "reject", "comment": "no budget"})
    assert inbox_of(shipped, BOT)[0].text == "Your request New CRM (PRJ-7) was rejected by alice."
    other, _ = intake(shipped)
    instances.cancel(shipped, ADMIN, other, "duplicate")
    assert inbox_of(shipped, BOT)[0].text == "Your request New CRM (PRJ-7) was cancelled by pmo: duplicate."
    own, _ = intake(shipped)
    instances.cancel(shipped, BOT, own, "changed my mind")
    assert len(inbox_of(shipped, BOT)) == 3  # cancelling one's own request: no news


def test_notifications_are_read_one_by_one_or_all_at_once(shipped, clock):
    _, first = intake(shipped)
    _, second = intake(shipped)
    collaboration.delegate(shipped, ALICE, first, "erin", "one")
    clock.advance(timedelta(minutes=1))
    collaboration.delegate(shipped, ALICE, second, "erin", "two")
    assert notifications.topbar(shipped, ERIN).unread == 2
    newest, oldest = inbox_of(shipped, ERIN)
    assert newest.task_id == second and not newest.read
    notifications.mark_read(shipped, ERIN, oldest.id)
    assert notifications.topbar(shipped, ERIN).unread == 1
    assert [n.id for n in notifications.list_notifications(shipped, ERIN, unread_only=True).items] == [newest.id]
    with pytest.raises(Exception) as err:
        notifications.mark_read(shipped, DAVE, newest.id)  # someone else's: as if it did not exist
    assert err.type.__name__ == "NotFound"
    assert notifications.mark_all_read(shipped, ERIN) == 1
    assert notifications.topbar(shipped, ERIN).unread == 0


def test_notify_refuses_unknown_kinds(shipped, clock):
    with shipped.uow() as uow, pytest.raises(ValueError, match="unknown notification kind"):
        notifications.notify(uow.session, "erin", "gossip", "psst", at=clock.now())
    with shipped.uow() as uow:
        assert notifications.notify(uow.session, None, "mention", "nobody", at=clock.now()) is None


def test_the_topbar_shows_an_active_absence(shipped, clock):
    today = clock.now().date()
    assert notifications.topbar(shipped, ERIN).away_until is None
    collaboration.set_out_of_office(shipped, ERIN, "dave", today, today + timedelta(days=4))
    assert notifications.topbar(shipped, ERIN).away_until == today + timedelta(days=4)
