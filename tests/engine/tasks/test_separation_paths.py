"""Separation of duties on every path that hands a task on or decides it, on SQLite and PostgreSQL: bulk
actions, out-of-office substitutes, an admin's reassignment, decision links and Slack, deactivation, parallel
tasks decided through delegation, and a delegation chain whose first link started the request.

The rules are decided in one place (engine.tasks.approvals: `barred`, `delegation_chain`, `check_separation`);
these tests only walk the paths to it."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from engine.admin import users
from engine.admin.deactivation import deactivate_in
from engine.core.errors import Forbidden, InvalidInput
from engine.core.permissions import Actor
from engine.db.models import HumanTask, User
from engine.integration.slack import decisions as slack
from engine.notify import actions
from engine.runtime import instances
from engine.tasks import bulk, claims, collaboration, completion
from engine.tasks.approvals import delegation_chain
from tests.bpmn_samples import document, flow, lane, process
from tests.engine.notify.test_decision_links import DECISION
from tests.engine.runtime.test_instances import deploy
from tests.engine.tasks.test_approvals import start as start_board
from tests.factories import ADMIN

FINANCE = ("ann", "ben", "fay")
OUTSIDE = ("olga", "otto")
VOTE = {"decision": "approve"}


def person(name: str) -> Actor:
    groups = {"Finance"} if name in FINANCE else {"Sales"}
    return Actor(name, roles=frozenset({"approver"}), groups=frozenset(groups))


def task(element: str, name: str, assignee: str | None = None) -> str:
    assign = f'<pmoflow:assignment assignee="{assignee}"/>' if assignee else ""
    return (
        f'<bpmn:userTask id="{element}" name="{name}"><bpmn:extensionElements>'
        f'<pmoflow:form ref="decide"/>{assign}</bpmn:extensionElements></bpmn:userTask>\n'
    )


def model(duties: str, *, parallel: bool = False, approver: str | None = None) -> str:
    """A Finance request: a first look then an approval, or both at once (`parallel`)."""
    if parallel:
        body = (
            '<bpmn:startEvent id="start"/>\n<bpmn:parallelGateway id="split"/>\n'
            + task("first", "First look")
            + task("approve", "Approve", approver)
            + '<bpmn:parallelGateway id="join"/>\n<bpmn:endEvent id="end"/>\n'
            + flow("f0", "start", "split")
            + flow("f1", "split", "first")
            + flow("f2", "split", "approve")
            + flow("f3", "first", "join")
            + flow("f4", "approve", "join")
            + flow("f5", "join", "end")
        )
    else:
        body = (
            '<bpmn:startEvent id="start"/>\n'
            + task("first", "First look")
            + task("approve", "Approve", approver)
            + '<bpmn:endEvent id="end"/>\n'
            + flow("f0", "start", "first")
            + flow("f1", "first", "approve")
            + flow("f2", "approve", "end")
        )
    text = document(process(body, lane("Finance", "first", "approve"), pid="spend"))
    return text.replace(
        'isExecutable="true">', f'isExecutable="true"><bpmn:extensionElements>{duties}</bpmn:extensionElements>'
    )


INITIATOR = '<pmoflow:separationOfDuties initiator="true" repeat="false"/>'
REPEAT = '<pmoflow:separationOfDuties initiator="false" repeat="true"/>'
BOTH = '<pmoflow:separationOfDuties initiator="true" repeat="true"/>'


@pytest.fixture
def people(ctx):
    for name in FINANCE:
        users.create_user(ctx, name, None, ["Finance"], ["approver"])
    for name in OUTSIDE:
        users.create_user(ctx, name, None, ["Sales"], ["approver"])
    return ctx


def use(ctx, duties: str = BOTH, **kwargs) -> None:
    deploy(ctx, ("spend.bpmn", model(duties, **kwargs)), ("decide.form", json.dumps(DECISION)))


def start(ctx, who: str = "ann") -> tuple[str, dict[str, str]]:
    view = instances.start(ctx, person(who), "spend", variables={"title": "Laptops"})
    return view.id, {t.element_id: t.id for t in view.open_tasks}


def open_tasks(ctx, instance_id: str) -> dict[str, str]:
    return {t.element_id: t.id for t in instances.get(ctx, ADMIN, instance_id).open_tasks}


def legacy_delegation(monkeypatch) -> None:
    """Delegations made before the hand-over check existed (an upgraded database): completion must still hold."""
    monkeypatch.setattr(collaboration, "_duties_problem", lambda *args: None)


# ---------------------------------------------------------------- bulk actions


def test_bulk_has_no_approve_or_reject(people):
    use(people)
    _, tasks = start(people)
    with pytest.raises(InvalidInput):
        bulk.bulk_action(people, person("ann"), "approve", [tasks["first"]])


def test_bulk_claim_by_the_initiator_and_bulk_reassign_to_barred_people_are_refused(people):
    use(people)
    instance, tasks = start(people)
    [claimed] = bulk.bulk_action(people, person("ann"), "claim", [tasks["first"]])
    assert not claimed.done and isinstance(claimed.error, Forbidden)
    assert "started this request" in claimed.message
    [given] = bulk.bulk_action(people, ADMIN, "reassign", [tasks["first"]], "ann", "she knows it")
    assert not given.done and "ann started this request" in given.message
    completion.complete(people, person("ben"), tasks["first"], VOTE)
    second = open_tasks(people, instance)["approve"]
    outcomes = bulk.bulk_action(people, ADMIN, "reassign", [second], "ben", "ben again")
    assert not outcomes[0].done and "ben already decided" in outcomes[0].message
    [taken] = bulk.bulk_action(people, person("ben"), "claim", [second])
    assert not taken.done and "already decided" in taken.message


def test_a_task_delegated_to_an_outsider_before_the_rules_is_not_decided_through_bulk(people, monkeypatch):
    use(people)
    _, tasks = start(people)
    legacy_delegation(monkeypatch)
    collaboration.delegate(people, person("ann"), tasks["first"], "olga", "olga, please")
    [claimed] = bulk.bulk_action(people, person("olga"), "claim", [tasks["first"]])  # no candidate: no way around
    assert not claimed.done and isinstance(claimed.error, Forbidden)
    with pytest.raises(Forbidden, match="on behalf of ann, who started this request"):
        completion.complete(people, person("olga"), tasks["first"], VOTE)


# ---------------------------------------------------------------- out-of-office substitutes


def test_an_initiator_standing_in_for_the_named_approver_does_not_get_the_task(people, clock):
    use(people, approver="ben")
    today = clock.now().date()
    collaboration.set_out_of_office(people, person("ben"), "ann", today, today + timedelta(days=3))
    instance, tasks = start(people, "ann")
    completion.complete(people, person("fay"), tasks["first"], VOTE)
    row = next(t for t in instances.get(people, ADMIN, instance).open_tasks if t.element_id == "approve")
    assert row.assignee is None and row.candidate_groups == ["Finance"]
    with pytest.raises(Forbidden, match="started this request"):
        completion.complete(people, person("ann"), row.id, VOTE)


def test_the_substitute_of_a_barred_approver_does_not_decide_on_their_behalf(people, clock):
    """ben decided the first look; the approval names him, he is away and fay stands in: she would decide for
    him, so she is refused until she takes the task for herself (as a delegate of his would be)."""
    use(people, REPEAT, approver="ben")
    today = clock.now().date()
    collaboration.set_out_of_office(people, person("ben"), "fay", today, today + timedelta(days=3))
    instance, tasks = start(people, "ann")
    completion.complete(people, person("ben"), tasks["first"], VOTE)
    second = open_tasks(people, instance)["approve"]
    with people.uow(write=False) as uow:
        row = uow.session.scalars(select(HumanTask).where(HumanTask.uuid == second)).one()
        assert row.assignee == "fay"
        assert delegation_chain(uow.session, row) == ["ben"]
    with pytest.raises(Forbidden, match="fay would decide on behalf of ben, who already decided"):
        completion.complete(people, person("fay"), second, VOTE)
    claims.claim(people, person("fay"), second)  # fay takes it as her own decision
    assert completion.complete(people, person("fay"), second, VOTE).instance_status == "completed"


def test_a_substitute_outside_the_candidates_does_not_get_the_task(people, clock):
    use(people, INITIATOR, approver="ben")
    today = clock.now().date()
    collaboration.set_out_of_office(people, person("ben"), "olga", today, today + timedelta(days=3))
    instance, tasks = start(people, "ann")
    completion.complete(people, person("fay"), tasks["first"], VOTE)
    row = next(t for t in instances.get(people, ADMIN, instance).open_tasks if t.element_id == "approve")
    assert row.assignee is None and row.candidate_groups == ["Finance"]
    with pytest.raises(Forbidden):
        completion.complete(people, person("olga"), row.id, VOTE)
    assert completion.complete(people, person("ben"), row.id, VOTE).instance_status == "completed"


# ---------------------------------------------------------------- an admin's reassignment


def test_an_admin_may_not_reassign_to_the_initiator_or_to_someone_who_decided(people):
    use(people)
    instance, tasks = start(people, "ann")
    with pytest.raises(InvalidInput) as err:
        collaboration.reassign(people, ADMIN, tasks["first"], "ann", "ann knows it")
    assert "ann started this request and may not decide on it" in err.value.details["fields"]["to"]
    with pytest.raises(InvalidInput) as err:
        collaboration.reassign(people, ADMIN, tasks["first"], "olga", "olga knows it")
    assert "olga is not in Finance" in err.value.details["fields"]["to"]
    completion.complete(people, person("ben"), tasks["first"], VOTE)
    second = open_tasks(people, instance)["approve"]
    with pytest.raises(InvalidInput) as err:
        collaboration.reassign(people, ADMIN, second, "ben", "ben again")
    assert "ben already decided" in err.value.details["fields"]["to"]
    assert collaboration.reassign(people, ADMIN, second, "fay", "fay decides").assignee == "fay"


# ---------------------------------------------------------------- decision links and Slack


def path(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


def test_a_decision_link_of_the_initiator_is_refused(people):
    use(people)
    _, tasks = start(people, "ann")
    token = path(actions.issue_link(people, tasks["first"], "ann", "approve"))
    with pytest.raises(actions.LinkNotYours, match="started this request"):
        actions.decide(people, token, None)
    assert open_tasks(people, _)["first"] == tasks["first"]


def test_a_link_received_before_deciding_elsewhere_is_refused(people):
    """Both tasks are open at once and ben got both emails; he decides one on the web, then clicks the other."""
    use(people, REPEAT, parallel=True)
    instance, tasks = start(people, "ann")
    token = path(actions.issue_link(people, tasks["approve"], "ben", "approve"))
    completion.complete(people, person("ben"), tasks["first"], VOTE)
    with pytest.raises(actions.LinkNotYours, match="already decided"):
        actions.decide(people, token, None)
    assert "approve" in open_tasks(people, instance)


def test_a_link_of_the_owner_is_refused_once_the_task_is_delegated(people):
    use(people)
    instance, tasks = start(people, "fay")
    claims.claim(people, person("ben"), tasks["first"])
    token = path(actions.issue_link(people, tasks["first"], "ben", "approve"))
    collaboration.delegate(people, person("ben"), tasks["first"], "ann", "ann, please")
    with pytest.raises(actions.LinkNotYours):  # the link is bound to ben, who no longer holds the task
        actions.decide(people, token, None)
    completion.complete(people, person("ann"), tasks["first"], VOTE)  # ann, for ben
    second = open_tasks(people, instance)["approve"]
    token = path(actions.issue_link(people, second, "ann", "approve"))
    with pytest.raises(actions.LinkNotYours, match="You already decided"):  # her decision for ben counts
        actions.decide(people, token, None)


def test_slack_decisions_by_barred_people_are_refused(people):
    use(people, REPEAT, parallel=True)
    instance, tasks = start(people, "fay")
    completion.complete(people, person("ben"), tasks["first"], VOTE)
    refused = slack.decide(people, person("ben"), tasks["approve"], "approve", None, "U1")
    assert isinstance(refused, slack.Refusal) and "ben already decided" in refused.message
    use(people, INITIATOR)
    _, tasks = start(people, "ann")
    refused = slack.decide(people, person("ann"), tasks["first"], "approve", None, "U2")
    assert isinstance(refused, slack.Refusal) and "started this request" in refused.message
    assert "approve" in open_tasks(people, instance)


# ---------------------------------------------------------------- deactivation


def test_tasks_given_back_on_deactivation_stay_barred_to_the_initiator(people, monkeypatch):
    use(people)
    _, tasks = start(people, "ann")
    legacy_delegation(monkeypatch)
    collaboration.delegate(people, person("ann"), tasks["first"], "olga", "olga, please")
    with people.uow() as uow:
        olga = uow.session.scalars(select(User).where(User.username == "olga")).one()
        assert deactivate_in(uow.session, olga, "scim", people.clock.now()) == 1
        uow.commit()
    view = instances.get(people, ADMIN, _).open_tasks[0]
    assert (view.assignee, view.owner) == (None, None)
    with pytest.raises(Forbidden, match="started this request"):
        claims.claim(people, person("ann"), view.id)
    with pytest.raises(Forbidden, match="started this request"):
        completion.complete(people, person("ann"), view.id, VOTE)
    with pytest.raises(Forbidden):
        completion.complete(people, person("otto"), view.id, VOTE)
    completion.complete(people, person("ben"), view.id, VOTE)


# ---------------------------------------------------------------- parallel tasks and delegation


def test_the_same_person_does_not_decide_two_parallel_tasks_through_delegation(people):
    use(people, REPEAT, parallel=True)
    instance, tasks = start(people, "ann")
    claims.claim(people, person("ben"), tasks["first"])
    claims.claim(people, person("fay"), tasks["approve"])
    collaboration.delegate(people, person("fay"), tasks["approve"], "ben", "ben, please")  # nobody decided yet
    completion.complete(people, person("ben"), tasks["first"], VOTE)
    with pytest.raises(Forbidden, match="ben already decided"):
        completion.complete(people, person("ben"), tasks["approve"], VOTE)
    assert "approve" in open_tasks(people, instance)


def test_deciding_a_parallel_task_for_someone_bars_both(people):
    use(people, REPEAT, parallel=True)
    instance, tasks = start(people, "ann")
    claims.claim(people, person("fay"), tasks["approve"])
    collaboration.delegate(people, person("fay"), tasks["approve"], "ben", "ben, please")
    completion.complete(people, person("ben"), tasks["approve"], VOTE)  # ben, for fay
    for who in ("ben", "fay"):
        with pytest.raises(Forbidden, match=f"{who} already decided"):
            completion.complete(people, person(who), tasks["first"], VOTE)
    assert completion.complete(people, person("ann"), tasks["first"], VOTE).instance_status == "completed"


# ---------------------------------------------------------------- a chain A -> B -> C, A the initiator


def test_a_chain_from_the_initiator_ending_outside_the_lane_can_not_claim_or_complete(people, monkeypatch):
    use(people)
    _, tasks = start(people, "ann")
    legacy_delegation(monkeypatch)
    collaboration.delegate(people, person("ann"), tasks["first"], "olga", "olga, please")
    collaboration.delegate(people, person("olga"), tasks["first"], "otto", "otto, please")
    with pytest.raises(Forbidden):  # otto is no candidate: he can not turn the delegation into his own task
        claims.claim(people, person("otto"), tasks["first"])
    with pytest.raises(Forbidden, match="otto would decide on behalf of ann"):
        completion.complete(people, person("otto"), tasks["first"], VOTE)
    claims.unclaim(people, person("otto"), tasks["first"])  # giving it back ends the chain, to the group
    with pytest.raises(Forbidden):
        completion.complete(people, person("otto"), tasks["first"], VOTE)
    with pytest.raises(Forbidden, match="started this request"):
        completion.complete(people, person("ann"), tasks["first"], VOTE)
    assert completion.complete(people, person("fay"), tasks["first"], VOTE).status == "completed"


def test_an_initiator_standing_in_for_an_approver_of_an_approval_pattern_may_not_vote(people, clock):
    today = clock.now().date()
    collaboration.set_out_of_office(people, person("ben"), "ann", today, today + timedelta(days=3))
    view = start_board(people, 'approvers="who" rule="all"', {"who": ["ben", "fay"]}, person("ann"), INITIATOR)
    rows = {t.assignee: t.id for t in view.open_tasks}
    assert set(rows) == {"ann", "fay"}  # ben's vote went to his substitute
    with pytest.raises(Forbidden, match="ann started this request"):
        completion.complete(people, person("ann"), rows["ann"], {"decision": "approve", "comment": ""})
    with pytest.raises(InvalidInput, match="not handed on"):  # nor may she pass it on for ben
        collaboration.delegate(people, person("ann"), rows["ann"], "olga", "olga, please")
