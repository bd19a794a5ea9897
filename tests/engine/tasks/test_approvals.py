"""Approval patterns and separation of duties, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from engine.admin import users
from engine.core.errors import DeploymentInvalid, Forbidden
from engine.core.permissions import Actor
from engine.runtime import instances
from engine.tasks import completion
from engine.tasks.approvals import Tally, decide
from tests.bpmn_samples import document, flow, lane, process
from tests.engine.runtime.test_instances import FORM, deploy
from tests.factories import ADMIN, BOT

BOARD = ("ann", "ben", "cat")


def approver(name: str) -> Actor:
    return Actor(name, roles=frozenset({"approver"}), groups=frozenset({"Board"}))


def approval_process(attributes: str, duties: str = "") -> str:
    task = (
        '<bpmn:userTask id="board" name="Board approval"><bpmn:extensionElements>'
        f'<pmoflow:form ref="decide"/><pmoflow:approval {attributes}/></bpmn:extensionElements></bpmn:userTask>\n'
    )
    body = (
        '<bpmn:startEvent id="start"/>\n'
        + task
        + '<bpmn:endEvent id="end"/>\n'
        + flow("f0", "start", "board")
        + flow("f1", "board", "end")
    )
    text = document(process(body, lane("Board", "board"), pid="board_p"))
    if duties:
        text = text.replace(
            'isExecutable="true">', f'isExecutable="true"><bpmn:extensionElements>{duties}</bpmn:extensionElements>'
        )
    return text


@pytest.fixture
def board(ctx):
    for name in BOARD:
        users.create_user(ctx, name, None, ["Board"], ["approver"])
    return ctx


def start(ctx, attributes: str, variables=None, actor=BOT, duties: str = ""):
    deploy(ctx, ("b.bpmn", approval_process(attributes, duties)), ("decide.form", FORM))
    return instances.start(ctx, actor, "board_p", variables=variables or {})


def vote(ctx, view, name: str, decision: str = "approve"):
    row = next(t for t in instances.get(ctx, ADMIN, view.id).open_tasks if t.assignee == name)
    completion.complete(ctx, approver(name), row.id, {"decision": decision, "comment": f"{name} says {decision}"})
    return instances.get(ctx, ADMIN, view.id)


@pytest.mark.parametrize(
    ("config", "approvals", "rejections", "pending", "expected"),
    [
        ({"rule": "all"}, 2, 0, 1, None),
        ({"rule": "all"}, 3, 0, 0, "approve"),
        ({"rule": "all"}, 0, 1, 2, "reject"),
        ({"rule": "any"}, 1, 0, 2, "approve"),
        ({"rule": "any"}, 0, 2, 1, None),
        ({"rule": "any"}, 0, 3, 0, "reject"),
        ({"rule": "count", "count": 2}, 1, 1, 1, None),
        ({"rule": "count", "count": 2}, 1, 2, 0, "reject"),
        ({"rule": "count", "count": 2}, 2, 0, 1, "approve"),
        ({"rule": "percent", "percent": 60}, 1, 0, 2, None),
        ({"rule": "percent", "percent": 60}, 2, 0, 1, "approve"),
        ({"rule": "percent", "percent": 60}, 1, 2, 0, "reject"),
    ],
)
def test_completion_rules(config, approvals, rejections, pending, expected):
    assert decide(config, Tally(approvals, rejections, pending)) == expected


def test_two_of_three_completes_after_the_second_approval(board):
    view = start(board, 'group="Board" rule="count" count="2"')
    assert sorted(t.assignee for t in view.open_tasks) == list(BOARD)
    assert all(t.candidate_groups == [] for t in view.open_tasks)
    view = vote(board, view, "ann")
    assert view.status == "running" and len(view.open_tasks) == 2
    view = vote(board, view, "cat")
    assert view.status == "completed" and view.open_tasks == []
    assert view.variables["decision"] == "approve"
    assert [v["approver"] for v in view.variables["votes"]] == ["ann", "cat"]
    trail = [e.type for e in instances.audit_trail(board, ADMIN, view.id)]
    assert trail.count("task_completed") == 2 and "approval_decided" in trail and trail.count("task_cancelled") == 1


def test_all_must_approve_and_one_rejection_decides_early(board):
    view = start(board, 'group="Board" rule="all"')
    view = vote(board, view, "ben", "reject")
    assert view.status == "completed" and view.variables["decision"] == "reject"


def test_approvers_computed_from_variables(board):
    view = start(board, 'approvers="reviewers" rule="any"', {"reviewers": ["ben", "cat"]})
    assert sorted(t.assignee for t in view.open_tasks) == ["ben", "cat"]
    with pytest.raises(Forbidden):
        completion.complete(board, approver("ann"), view.open_tasks[0].id, {"decision": "approve"})
    assert vote(board, view, "cat").variables["decision"] == "approve"


def test_unknown_approvers_put_the_instance_in_error(board):
    view = start(board, 'approvers="reviewers" rule="any"', {"reviewers": ["ghost"]})
    assert view.status == "error" and "ghost" in view.error["message"]


def test_bad_approval_settings_are_named_at_deploy(ctx):
    with pytest.raises(DeploymentInvalid) as info:
        deploy(ctx, ("b.bpmn", approval_process('group="Board" rule="most"')), ("decide.form", FORM))
    assert "most" in info.value.problems[0].message and info.value.problems[0].element_id == "board"
    with pytest.raises(DeploymentInvalid):
        deploy(ctx, ("b.bpmn", approval_process('rule="count" count="0" group="Board"')), ("decide.form", FORM))


def test_the_initiator_may_not_approve_their_own_request(board):
    ann = approver("ann")
    view = start(board, 'group="Board" rule="any"', actor=ann, duties="<pmoflow:separationOfDuties/>")
    row = next(t for t in view.open_tasks if t.assignee == "ann")
    with pytest.raises(Forbidden) as info:
        completion.complete(board, ann, row.id, {"decision": "approve"})
    assert "separation of duties" in info.value.message
    assert vote(board, view, "ben").status == "completed"


def test_one_person_may_not_decide_twice(ctx):
    body = (
        '<bpmn:startEvent id="start"/>\n<bpmn:userTask id="a" name="First"/>\n<bpmn:userTask id="b" name="Second"/>'
        '<bpmn:endEvent id="end"/>' + flow("f0", "start", "a") + flow("f1", "a", "b") + flow("f2", "b", "end")
    )
    text = document(process(body, lane("IT Manager", "a", "b"), pid="twice")).replace(
        'isExecutable="true">',
        'isExecutable="true"><bpmn:extensionElements><pmoflow:separationOfDuties '
        'initiator="false"/></bpmn:extensionElements>',
    )
    deploy(ctx, ("t.bpmn", text))
    alice, ivy = (Actor(n, roles=frozenset({"approver"}), groups=frozenset({"IT Manager"})) for n in ("alice", "ivy"))
    view = instances.start(ctx, BOT, "twice")
    completion.complete(ctx, alice, view.open_tasks[0].id, {})
    second = instances.get(ctx, ADMIN, view.id).open_tasks[0]
    with pytest.raises(Forbidden):
        completion.complete(ctx, alice, second.id, {})
    completion.complete(ctx, ivy, second.id, {})


def test_an_absent_approver_s_vote_goes_to_the_substitute_who_is_notified(board, clock):
    from datetime import timedelta

    from engine.notify import bell as notifications
    from engine.tasks import collaboration

    collaboration.set_out_of_office(
        board, approver("ben"), "cat", clock.now().date(), clock.now().date() + timedelta(days=3)
    )
    view = start(board, 'approvers="reviewers" rule="all"', {"reviewers": ["ann", "ben"]})
    assert sorted(t.assignee for t in view.open_tasks) == ["ann", "cat"]
    items = notifications.list_notifications(board, approver("cat")).items
    assert any("ben, who is away" in n.text for n in items)
