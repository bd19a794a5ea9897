"""Separation of duties holds through delegation, substitutes and claims, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.admin import users
from engine.core.errors import Forbidden, InvalidInput
from engine.core.permissions import Actor
from engine.runtime import instances
from engine.tasks import claims, collaboration, completion
from tests.bpmn_samples import document, flow, lane, process
from tests.engine.runtime.test_instances import deploy
from tests.factories import ADMIN

FINANCE = ("ann", "ben", "fay")
OUTSIDE = ("olga", "otto")


def person(name: str) -> Actor:
    groups = {"Finance"} if name in FINANCE else {"Sales"}
    return Actor(name, roles=frozenset({"approver"}), groups=frozenset(groups))


def model(duties: str = "<pmoflow:separationOfDuties/>") -> str:
    body = (
        '<bpmn:startEvent id="start"/>\n<bpmn:userTask id="first" name="First look"/>\n'
        '<bpmn:userTask id="approve" name="Approve"/>\n<bpmn:endEvent id="end"/>\n'
        + flow("f0", "start", "first")
        + flow("f1", "first", "approve")
        + flow("f2", "approve", "end")
    )
    text = document(process(body, lane("Finance", "first", "approve"), pid="spend"))
    return text.replace(
        'isExecutable="true">', f'isExecutable="true"><bpmn:extensionElements>{duties}</bpmn:extensionElements>'
    )


@pytest.fixture
def finance(ctx):
    for name in FINANCE:
        users.create_user(ctx, name, None, ["Finance"], ["approver"])
    for name in OUTSIDE:
        users.create_user(ctx, name, None, ["Sales"], ["approver"])
    deploy(ctx, ("spend.bpmn", model()))
    return ctx


def request_by(ctx, who: str = "ann"):
    view = instances.start(ctx, person(who), "spend", variables={"title": "Laptops"})
    return view.id, view.open_tasks[0].id


def test_the_initiator_may_not_delegate_outside_the_lane(finance):
    _, task = request_by(finance)
    with pytest.raises(InvalidInput) as err:
        collaboration.delegate(finance, person("ann"), task, "olga", "please approve")
    assert "olga is not in Finance" in err.value.details["fields"]["to"]
    assert "separation of duties" in err.value.details["fields"]["to"]


def test_the_initiator_may_not_delegate_to_a_colleague_in_the_lane_either(finance):
    """A delegate decides on the owner's behalf: the initiator's colleague would decide for them."""
    _, task = request_by(finance)
    with pytest.raises(InvalidInput) as err:
        collaboration.delegate(finance, person("ann"), task, "ben", "please approve")
    assert "ann started this request, so nobody may decide on it on their behalf" in err.value.details["fields"]["to"]
    view = collaboration.reassign(finance, person("ann"), task, "ben", "yours")  # handing it over for good is fine
    assert (view.assignee, view.owner) == ("ben", None)
    assert completion.complete(finance, person("ben"), task, {}).status == "completed"


def test_the_initiator_may_not_take_the_task(finance):
    _, task = request_by(finance)
    with pytest.raises(Forbidden) as err:
        claims.claim(finance, person("ann"), task)
    assert "started this request" in err.value.message


def test_a_chain_a_b_c_where_a_started_the_request(finance, monkeypatch):
    _, task = request_by(finance, "ann")
    with pytest.raises(InvalidInput):  # A -> B refused at once
        collaboration.delegate(finance, person("ann"), task, "olga", "olga, please")
    # a chain A -> B -> C delegated before these checks existed (an upgraded database) is refused when C completes
    monkeypatch.setattr(collaboration, "_duties_problem", lambda *args: None)
    collaboration.delegate(finance, person("ann"), task, "olga", "olga, please")
    collaboration.delegate(finance, person("olga"), task, "otto", "otto knows this")
    with pytest.raises(Forbidden) as err:
        completion.complete(finance, person("otto"), task, {})
    assert "otto would decide on behalf of ann, who started this request" in err.value.message
    collaboration.delegate(finance, person("otto"), task, "ben", "ben is in Finance")  # A -> B -> C -> D
    with pytest.raises(Forbidden) as err:
        completion.complete(finance, person("ben"), task, {})
    assert "on behalf of ann" in err.value.message
    claims.claim(finance, person("ben"), task)  # ben takes it for himself: the delegation ends
    assert completion.complete(finance, person("ben"), task, {}).status == "completed"


def test_whoever_a_task_was_decided_for_counts_as_having_decided(finance, monkeypatch):
    _, task = request_by(finance, "fay")
    monkeypatch.setattr(collaboration, "_duties_problem", lambda *args: None)
    collaboration.delegate(finance, person("ann"), task, "ben", "ben, please")  # ann -> ben, on ann's behalf
    second = completion.complete(finance, person("ben"), task, {}).open_tasks[0].id
    for who in ("ann", "ben"):
        with pytest.raises(Forbidden) as err:
            completion.complete(finance, person(who), second, {})
        assert f"{who} already decided" in err.value.message


def test_delegating_through_someone_who_already_decided_is_refused(finance):
    _, task = request_by(finance, "fay")
    second = completion.complete(finance, person("ann"), task, {}).open_tasks[0].id
    with pytest.raises(InvalidInput) as err:  # ann decided the first look: she may not pass the approval on
        collaboration.delegate(finance, person("ann"), second, "ben", "ben, please")
    assert "ann already decided on this request" in err.value.details["fields"]["to"]
    with pytest.raises(InvalidInput) as err:  # nor may ben hand it to her
        collaboration.delegate(finance, person("ben"), second, "ann", "ann, please")
    assert "ann already decided on this request and may not decide" in err.value.details["fields"]["to"]
    assert completion.complete(finance, person("ben"), second, {}).status == "completed"


def test_a_substitute_outside_the_lane_or_barred_does_not_get_the_task(finance, clock):
    _, task = request_by(finance, "fay")
    today = clock.now().date()
    collaboration.set_out_of_office(finance, person("ben"), "olga", today, today + timedelta(days=3))
    with pytest.raises(InvalidInput) as err:
        collaboration.delegate(finance, ADMIN, task, "ben", "ben, please")
    assert "olga (standing in for ben) is not in Finance" in err.value.details["fields"]["to"]
    collaboration.set_out_of_office(finance, person("ben"), "fay", today, today + timedelta(days=3))
    with pytest.raises(InvalidInput) as err:
        collaboration.delegate(finance, ADMIN, task, "ben", "ben, please")
    assert "fay started this request" in err.value.details["fields"]["to"]


def test_the_task_page_says_who_may_act(finance):
    _, task = request_by(finance)
    page = completion.task_context(finance, person("ann"), task)
    assert not page.may_complete
    assert (
        page.blocked
        == "You started this request, so another member of Finance must decide on it (separation of duties)"
    )
    assert any("ann started this request" in line for line in page.who_may_act)
    assert completion.task_context(finance, person("ben"), task).may_complete


def test_without_rules_delegation_outside_the_lane_still_works(ctx):
    for name in ("ann", "olga"):
        users.create_user(ctx, name, None, ["Finance" if name == "ann" else "Sales"], ["approver"])
    deploy(ctx, ("spend.bpmn", model("")))
    _, task = request_by(ctx)
    assert collaboration.delegate(ctx, person("ann"), task, "olga", "please").assignee == "olga"
    assert completion.complete(ctx, person("olga"), task, {}).status == "completed"


def test_a_substitute_who_started_the_request_does_not_get_the_task(ctx, clock):
    for name in FINANCE:
        users.create_user(ctx, name, None, ["Finance"], ["approver"])
    text = model().replace(
        '<bpmn:userTask id="first" name="First look"/>',
        '<bpmn:userTask id="first" name="First look"><bpmn:extensionElements>'
        '<pmoflow:assignment assignee="ben"/></bpmn:extensionElements></bpmn:userTask>',
    )
    deploy(ctx, ("spend.bpmn", text))
    today = clock.now().date()
    collaboration.set_out_of_office(ctx, person("ben"), "ann", today, today + timedelta(days=3))
    view = instances.start(ctx, person("ann"), "spend")
    [task] = view.open_tasks
    assert task.assignee is None and task.candidate_groups == ["Finance"]
    assert completion.complete(ctx, person("fay"), task.id, {}).status == "completed"
