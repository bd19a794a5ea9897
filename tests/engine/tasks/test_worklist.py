"""The inbox as a daily tool, on SQLite and PostgreSQL: bulk claim / give back / reassign (each task on its
own), "done by me", the pickers' choices, grouping by process, simple decisions, who is away."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.core.errors import Conflict, Forbidden, InvalidInput
from engine.forms.decisions import simple_decision
from engine.runtime import instances
from engine.tasks import bulk, claims, collaboration, completion
from engine.tasks import inbox as tasks
from tests.factories import ALICE, BOB, BOT, ERIN, actor

IVAN = actor("ivan", "IT Manager")


def intake(ctx, key: str, budget: int = 10_000) -> str:
    view = instances.start(
        ctx, BOT, "project-intake", business_key=key, variables={"title": key, "budget": budget, "department": "d"}
    )
    return view.open_tasks[0].id


def test_bulk_claim_reports_each_task_and_a_lost_race_does_not_undo_the_others(shipped):
    first, taken, third = intake(shipped, "A"), intake(shipped, "B"), intake(shipped, "C")
    claims.claim(shipped, IVAN, taken)  # ivan was faster
    outcomes = bulk.bulk_action(shipped, ALICE, "claim", [first, taken, third, first])
    assert [(o.task_id, o.done) for o in outcomes] == [(first, True), (taken, False), (third, True)]
    refused = outcomes[1]
    assert isinstance(refused.error, Conflict) and refused.message == f"task {taken} is assigned to ivan"
    assert outcomes[0].message == "Claimed" and outcomes[0].name == "IT Manager approval"
    assert {t.assignee for t in (tasks.get(shipped, ALICE, first), tasks.get(shipped, ALICE, third))} == {"alice"}
    assert tasks.get(shipped, IVAN, taken).assignee == "ivan"


def test_bulk_give_back_and_reassign_only_to_candidates(shipped):
    one, two = intake(shipped, "A"), intake(shipped, "B")
    bulk.bulk_action(shipped, ALICE, "claim", [one, two])
    back = bulk.bulk_action(shipped, ALICE, "unclaim", [one])
    assert back[0].done and tasks.get(shipped, ALICE, one).assignee is None
    outcomes = bulk.bulk_action(shipped, ALICE, "reassign", [one, two], "ivan", "ivan owns the CRM")
    assert [(o.done, o.message) for o in outcomes] == [(True, "Reassigned to ivan"), (True, "Reassigned to ivan")]
    refused = bulk.bulk_action(shipped, IVAN, "reassign", [one], "bob", "finance should look")
    assert not refused[0].done and isinstance(refused[0].error, InvalidInput)
    assert refused[0].message.startswith("to: bob is not in IT Manager")
    assert tasks.get(shipped, IVAN, one).assignee == "ivan"
    not_mine = bulk.bulk_action(shipped, BOB, "claim", [one])  # bob is no candidate
    assert isinstance(not_mine[0].error, Forbidden)


@pytest.mark.parametrize(
    ("action", "ids", "to", "reason", "fields"),
    [
        ("steal", ["x"], "", "", {"action"}),
        ("claim", [], "", "", {"task"}),
        ("claim", ["  "], "", "", {"task"}),
        ("reassign", ["x"], "", " ", {"to", "reason"}),
        ("claim", [str(i) for i in range(101)], "", "", {"task"}),
    ],
)
def test_bulk_input_is_checked_before_any_task_is_touched(shipped, action, ids, to, reason, fields):
    with pytest.raises(InvalidInput) as err:
        bulk.bulk_action(shipped, ALICE, action, ids, to, reason)
    assert set(err.value.details["fields"]) == fields


def test_an_unknown_task_is_one_refused_outcome(shipped):
    [outcome] = bulk.bulk_action(shipped, ALICE, "claim", ["no-such-task"])
    assert (outcome.done, outcome.name, outcome.error.code) == (False, "no-such-task", "not_found")


def test_done_by_me_lists_what_i_decided_latest_first(shipped, clock):
    first, second = intake(shipped, "A"), intake(shipped, "B")
    completion.complete(shipped, ALICE, first, {"decision": "approve", "comment": "fits"})
    clock.advance(timedelta(minutes=5))
    completion.complete(shipped, ALICE, second, {"decision": "reject", "comment": "no budget"})
    page = tasks.done_by_me(shipped, ALICE)
    assert page.total == 2
    assert [(r.task.business_key, r.decision, r.comment) for r in page.items] == [
        ("B", "reject", "no budget"),
        ("A", "approve", "fits"),
    ]
    assert page.items[0].task.completed_at > page.items[1].task.completed_at
    assert tasks.done_by_me(shipped, IVAN).total == 0
    assert tasks.done_by_me(shipped, ALICE, page=2, per_page=1).items[0].task.business_key == "A"


def test_a_delegate_sees_on_whose_behalf_they_decided(shipped):
    task_id = intake(shipped, "A")
    collaboration.delegate(shipped, ALICE, task_id, "erin", "please")
    completion.complete(shipped, ERIN, task_id, {"decision": "approve"})
    [row] = tasks.done_by_me(shipped, ERIN).items
    assert (row.decision, row.on_behalf_of) == ("approve", "alice")


def test_the_pickers_offer_processes_by_name_and_my_groups(shipped):
    choices = tasks.inbox_choices(shipped, ALICE)
    keys = [key for key, _ in choices.processes]
    assert "project-intake" in keys and "change-request" in keys and len(keys) == len(set(keys))
    names = [name for _, name in choices.processes]
    assert names == sorted(names, key=str.lower)
    assert choices.groups == ["IT Manager"]


def test_by_process_orders_the_inbox_by_process_name(shipped):
    intake(shipped, "A")
    instances.start(shipped, BOT, "change-request", business_key="CHG", variables={"title": "Firewall"})
    intake(shipped, "B")
    by_due = [r.task.process for r in tasks.inbox(shipped, ALICE, tasks.InboxFilter(sort="created")).items]
    by_process = [r.task.process for r in tasks.inbox(shipped, ALICE, tasks.InboxFilter(sort="process")).items]
    assert len(set(by_due)) == 2 and by_due != sorted(by_due)  # interleaved by creation
    assert by_process == sorted(by_due)  # grouped
    only = tasks.inbox(shipped, ALICE, tasks.InboxFilter(sort="process", process="project-intake")).items
    assert [r.task.business_key for r in only] == ["A", "B"]
    with pytest.raises(InvalidInput):
        tasks.inbox(shipped, ALICE, tasks.InboxFilter(sort="nonsense"))


def test_rows_say_when_a_task_is_a_simple_decision(shipped):
    intake(shipped, "A")
    [row] = tasks.inbox(shipped, ALICE, tasks.InboxFilter()).items
    assert row.may_complete and row.decision is not None
    assert (row.decision.key, row.decision.comment_key, row.decision.comment_hint) == (
        "decision",
        "comment",
        "Required when you reject: say what is missing or what would change your decision. The requester reads it.",
    )


DECISION = {"type": "radio", "key": "decision", "values": [{"value": "approve"}, {"value": "reject"}]}


@pytest.mark.parametrize(
    ("components", "simple"),
    [
        ([DECISION], True),
        ([{"type": "text", "text": "Read this"}, DECISION, {"type": "textarea", "key": "comment"}], True),
        ([DECISION, {"type": "textarea", "key": "comment", "validate": {"required": True}}], False),
        ([DECISION, {"type": "textarea", "key": "a"}, {"type": "textfield", "key": "b"}], False),
        ([DECISION, {"type": "number", "key": "amount"}], False),
        ([{"type": "textarea", "key": "comment"}], False),
        ([{**DECISION, "values": [{"value": "approve"}]}], False),
    ],
)
def test_a_simple_decision_asks_for_a_decision_and_perhaps_a_comment(components, simple):
    assert (simple_decision({"components": components}) is not None) is simple


def test_people_pickers_know_who_is_away_and_who_receives_their_tasks(shipped, clock):
    today = clock.now().date()
    collaboration.set_out_of_office(shipped, ERIN, "ivan", today, today + timedelta(days=3))
    collaboration.set_out_of_office(shipped, IVAN, "alice", today + timedelta(days=1), today + timedelta(days=5))
    people = collaboration.people(shipped, ALICE)
    assert "erin" in people.names and set(people.away) == {"erin"}
    away = people.away["erin"]
    assert (away.until, away.substitute, away.receiver) == (today + timedelta(days=3), "ivan", "ivan")
    clock.advance(timedelta(days=1))  # ivan is away now too: erin's tasks go on to alice
    people = collaboration.people(shipped, ALICE)
    assert set(people.away) == {"erin", "ivan"} and people.away["erin"].receiver == "alice"
    assert collaboration.out_of_office(shipped, BOB).away == people.away
