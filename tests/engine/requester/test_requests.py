"""The requester's side: start forms, starting a request, my requests and one request, on both databases."""

from __future__ import annotations

import json

import pytest

from engine.admin import users
from engine.core.errors import DeploymentInvalid, Forbidden, FormDataInvalid, NotFound
from engine.definitions import deployments
from engine.forms.checks import check_form
from engine.requester import portal as requests
from engine.tasks import collaboration, completion
from tests.bpmn_samples import document, flow, lane, process, user_task
from tests.factories import ADMIN, ALICE, AUDREY, BOB, ERIN, actor, deploy_shipped, source


@pytest.fixture
def shipped(ctx):
    deploy_shipped(ctx, separation_of_duties=False)  # alice hands her task to bob, outside the lane
    users.ensure_demo_users(ctx)
    return ctx


def test_the_shipped_processes_can_be_started_from_their_start_forms(shipped):
    listed = {p.key: p for p in requests.startable(shipped, ALICE)}
    assert set(listed) == {"project-intake", "change-request", "cross-functional-handoff"}
    assert listed["project-intake"].name == "Project intake"
    for key, fields in [
        ("project-intake", ["title", "budget", "department", "description", "justification", "desired_start"]),
        ("change-request", ["title", "change_type", "impact"]),
        ("cross-functional-handoff", ["title", "go_live_date"]),
    ]:
        form = requests.start_form(shipped, ALICE, key)
        assert not form.generic and form.schema["id"] == f"{key}-start"
        assert [c["key"] for c in form.schema["components"] if "key" in c] == fields
    with pytest.raises(Forbidden):
        requests.startable(shipped, AUDREY)
    with pytest.raises(NotFound):
        requests.start_form(shipped, ALICE, "no-such-process")


def test_a_start_is_validated_like_a_task_form(shipped):
    with pytest.raises(FormDataInvalid) as err:
        requests.start_request(shipped, ALICE, "project-intake", None, "x" * 201, {"budget": "lots"})
    assert err.value.errors == {
        "business_key": "at most 200 characters",
        "title": "required",
        "budget": "must be a number",
        "department": "required",
    }
    with pytest.raises(FormDataInvalid) as err:
        requests.start_request(
            shipped,
            ALICE,
            "project-intake",
            None,
            None,
            {"title": "t", "budget": "5", "department": "Sales", "tier": 3, "_x": 1},
        )
    assert err.value.errors == {"tier": "not a field of this form", "_x": "not a field of this form"}


def test_starting_a_request_and_following_it(shipped):
    view = requests.start_request(
        shipped,
        ERIN,
        "project-intake",
        None,
        "PRJ-100",
        {"title": "New CRM", "budget": "120000", "department": "Sales"},
    )
    assert view.started_by == "erin" and view.variables["budget"] == 120000 and view.variables["tier"] == 2
    [row] = requests.my_requests(shipped, ERIN).items
    assert (row.id, row.title, row.business_key, row.status) == (view.id, "New CRM", "PRJ-100", "running")
    assert [(s.name, s.waiting_for) for s in row.current] == [("IT Manager approval", "IT Manager")]
    assert requests.my_requests(shipped, BOB).items == []
    assert requests.my_requests(shipped, ERIN, status="completed").total == 0
    task_id = row.current[0].task_id
    collaboration.delegate(shipped, ALICE, task_id, "bob", "bob knows the CRM")
    completion.complete(shipped, BOB, task_id, {"decision": "approve", "comment": "go"})
    detail = requests.request_view(shipped, ERIN, view.id)
    kinds = [s.kind for s in detail.path]
    assert kinds[0] == "instance_started" and "task_delegated" in kinds and "task_completed" in kinds
    delegated = next(s for s in detail.path if s.kind == "task_delegated")
    assert (delegated.actor, delegated.to, delegated.comment) == ("alice", "bob", "bob knows the CRM")
    completed = next(s for s in detail.path if s.kind == "task_completed")
    assert (completed.actor, completed.on_behalf_of, completed.decision) == ("bob", "alice", "approve")
    assert [(s.name, s.waiting_for) for s in detail.request.current] == [("Finance approval", "Finance")]
    assert detail.may_comment and detail.may_attach
    with pytest.raises(Forbidden):
        requests.request_view(shipped, users_actor(shipped, "carol"), view.id)
    assert requests.request_view(shipped, AUDREY, view.id).may_comment is False


def users_actor(ctx, name):
    from engine.admin.identity import actor_of
    from engine.db.models import User

    with ctx.uow(write=False) as uow:
        from sqlalchemy import select

        return actor_of(uow.session.scalars(select(User).where(User.username == name)).one())


def test_a_process_without_a_start_form_gets_the_generic_one(shipped):
    deployments.deploy(
        shipped,
        ADMIN,
        [
            source(
                "plain.bpmn",
                document(
                    process(
                        '<bpmn:startEvent id="s"/>'
                        + user_task("approve")
                        + '<bpmn:endEvent id="e"/>'
                        + flow("f1", "s", "approve")
                        + flow("f2", "approve", "e"),
                        lane("IT Manager", "s", "approve", "e"),
                        pid="plain",
                    )
                ),
            )
        ],
    )
    form = requests.start_form(shipped, ALICE, "plain")
    assert form.generic and check_form(form.schema) == []
    view = requests.start_request(shipped, ALICE, "plain", form.version, "", {"title": "Something"})
    assert view.variables == {"title": "Something"} and view.business_key is None


def test_a_start_form_must_be_in_the_deployment(shipped):
    bpmn = document(
        process(
            '<bpmn:startEvent id="s"><bpmn:extensionElements><pmoflow:form ref="missing"/></bpmn:extensionElements>'
            '</bpmn:startEvent><bpmn:endEvent id="e"/>' + flow("f1", "s", "e"),
            pid="p_missing",
        )
    )
    with pytest.raises(DeploymentInvalid) as err:
        deployments.deploy(shipped, ADMIN, [source("m.bpmn", bpmn)])
    assert [(p.element_id, p.code) for p in err.value.problems] == [("s", "missing_form")]
    form = json.dumps(
        {"type": "default", "id": "missing", "components": [{"type": "textfield", "key": "title", "label": "Title"}]}
    )
    deployments.deploy(shipped, ADMIN, [source("m.bpmn", bpmn), source("missing.form", form)])
    assert requests.start_form(shipped, ALICE, "p_missing").schema["id"] == "missing"


def test_the_catalogue_says_what_each_process_is_for_who_owns_it_and_how_long_it_takes(shipped, clock):
    from datetime import timedelta

    listed = {p.key: p for p in requests.startable(shipped, ALICE)}
    intake = listed["project-intake"]
    assert intake.description.startswith("A department asks for a new IT project; the budget decides who approves")
    assert intake.owner == "pmo"  # the shipped workflows name their owner (pmoflow:owner="pmo")
    assert (intake.typical, intake.finished) == (None, 0)
    for hours in (2, 4, 30):
        view = requests.start_request(
            shipped, ERIN, "project-intake", None, None, {"title": "t", "budget": "10", "department": "IT"}
        )
        clock.advance(timedelta(hours=hours))
        completion.complete(shipped, ALICE, view.open_tasks[0].id, {"decision": "approve"})
    running = requests.start_request(
        shipped, ERIN, "project-intake", None, None, {"title": "t", "budget": "10", "department": "IT"}
    )
    clock.advance(timedelta(days=9))
    assert running.status == "running"
    intake = next(p for p in requests.startable(shipped, ALICE) if p.key == "project-intake")
    assert (intake.typical, intake.finished) == (timedelta(hours=4), 3)  # the median; the running one not counted
    owned = document(
        process(
            '<bpmn:documentation>Order a laptop.\nReads: model</bpmn:documentation><bpmn:startEvent id="s"/>'
            + flow("f", "s", "e")
            + '<bpmn:endEvent id="e"/>',
            pid="laptop",
            name="Laptop",
        )
    ).replace('id="laptop"', 'id="laptop" pmoflow:owner="erin"')
    deployments.deploy(shipped, ADMIN, [source("laptop.bpmn", owned)])
    laptop = next(p for p in requests.startable(shipped, ALICE) if p.key == "laptop")
    assert (laptop.description, laptop.owner) == ("Order a laptop.", "erin")
    unowned = document(
        process('<bpmn:startEvent id="s"/>' + flow("f", "s", "e") + '<bpmn:endEvent id="e"/>', pid="pens")
    )
    deployments.deploy(shipped, ADMIN, [source("pens.bpmn", unowned)])
    assert next(p for p in requests.startable(shipped, ALICE) if p.key == "pens").owner == "pmo"  # who published it
    deployments.deploy(shipped, actor("cli", roles=("admin", "designer")), [source("pens.bpmn", unowned + " ")])
    # a system actor (the command line deploying) is not a person to ask: no owner named
    assert next(p for p in requests.startable(shipped, ALICE) if p.key == "pens").owner is None
