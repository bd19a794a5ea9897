"""Roles without lanes: models as Camunda Modeler 5 (Camunda 7 and 8) and Signavio write them, deployed
and run through the API on both databases: who sees each task, who may claim and complete it, an
assignee at creation, the default groups, due dates, priorities and forms, the path and the variables."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.core.permissions import Actor
from engine.db.models import Notification
from engine.tasks import claims, collaboration
from engine.tasks import inbox as tasks
from tests.api.journeys import path_of as path
from tests.factories import make_token

MODELS = Path(__file__).parents[1] / "models" / "roles"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the FixedClock's start


@pytest.fixture
def people(engine_ctx, tokens, as_):  # type: ignore[no-untyped-def]
    """The usual callers plus olga, an approver in the deployment's default group (PMO Office)."""
    tokens["olga"] = make_token(engine_ctx, "olga", ["PMO Office"], ["approver"])
    return as_


def deploy(as_, *names: str) -> None:  # type: ignore[no-untyped-def]
    files = {"files": [(io.BytesIO((MODELS / n).read_bytes()), n) for n in names]}
    response = as_("pmo").post("/api/v1/process-definitions", data=files, content_type="multipart/form-data")
    assert response.status_code == 201, response.json


def start(as_, process: str, variables: dict, who: str = "bot") -> dict:  # type: ignore[no-untyped-def]
    response = as_(who).post("/api/v1/process-instances", json={"process": process, "variables": variables})
    assert response.status_code == 201, response.json
    return response.json


def visible(as_, who: str, instance: str) -> set[str]:  # type: ignore[no-untyped-def]
    """Element ids of the instance's open tasks `who` finds in their task list."""
    response = as_(who).get(f"/api/v1/tasks?instance={instance}")
    assert response.status_code == 200, response.json
    return {t["element_id"] for t in response.json["items"]}


def complete(as_, who: str, task: dict, data: dict | None = None):  # type: ignore[no-untyped-def]
    return as_(who).post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data or {}})


def created(as_, instance: str, element: str) -> dict:  # type: ignore[no-untyped-def]
    events = as_("audrey").get(f"/api/v1/process-instances/{instance}/audit").json["events"]
    return next(e["data"] for e in events if e["type"] == "task_created" and e["element_id"] == element)


def bell(engine_ctx, username: str) -> list[str]:  # type: ignore[no-untyped-def]
    with engine_ctx.uow(write=False) as uow:
        return list(uow.session.scalars(select(Notification.kind).where(Notification.username == username)))


def test_a_camunda_7_model_runs_as_the_modeler_wrote_it(people, engine_ctx):
    as_ = people
    deploy(as_, "camunda7-purchase.bpmn", "c7-review.form")
    instance = start(
        as_,
        "c7_purchase",
        {"title": "Laptops", "amount": 5000, "urgency": 70, "approver": "dave", "approvalDue": "P1D"},
    )
    [review] = instance["open_tasks"]
    assert (
        review["element_id"],
        review["candidate_groups"],
        review["candidate_users"],
        review["group_source"],
        review["assignee"],
        review["form_key"],
        review["priority"],
    ) == ("Activity_Review", ["Finance"], ["carol"], "candidate_groups", None, "c7-review", 70)
    assert review["offered_to"] == "Finance, carol (candidate groups)"
    assert datetime.fromisoformat(review["due_at"]) == START + timedelta(days=2)  # camunda:dueDate="P2D"

    iid = instance["id"]
    assert visible(as_, "bob", iid) == visible(as_, "carol", iid) == {"Activity_Review"}  # group, and by name
    assert visible(as_, "alice", iid) == set() and visible(as_, "olga", iid) == set()
    assert as_("alice").get(f"/api/v1/tasks/{review['id']}").status_code == 403
    assert as_("alice").post(f"/api/v1/tasks/{review['id']}/claim").status_code == 403
    assert complete(as_, "alice", review, {"reviewDecision": "approve"}).status_code == 403

    claimed = as_("carol").post(f"/api/v1/tasks/{review['id']}/claim")  # a candidate user claims it
    assert claimed.status_code == 200 and claimed.json["assignee"] == "carol"
    assert complete(as_, "bob", review, {"reviewDecision": "approve"}).status_code == 403  # carol has it now
    assert as_("carol").post(f"/api/v1/tasks/{review['id']}/unclaim").status_code == 200
    done = complete(as_, "bob", review, {"reviewDecision": "approve"})
    assert done.status_code == 200, done.json

    [approve] = done.json["open_tasks"]  # camunda:assignee="${approver}": dave has it at once
    assert (approve["element_id"], approve["assignee"], approve["candidate_groups"], approve["group_source"]) == (
        "Activity_Approve",
        "dave",
        ["PMO Office"],
        "default",
    )
    assert datetime.fromisoformat(approve["due_at"]) == START + timedelta(days=1)  # ${approvalDue}
    assert "task_assigned" in bell(engine_ctx, "dave")
    assert visible(as_, "olga", iid) == {"Activity_Approve"}  # her group's, but assigned: she may not act
    assert complete(as_, "olga", approve).status_code == 403
    assert as_("olga").post(f"/api/v1/tasks/{approve['id']}/claim").status_code == 409
    done = complete(as_, "dave", approve, {"approved": True})
    assert done.status_code == 200, done.json

    [file_it] = done.json["open_tasks"]  # nothing named: the deployment's default group; an HTML form key
    assert (file_it["element_id"], file_it["candidate_groups"], file_it["group_source"], file_it["form_key"]) == (
        "Activity_File",
        ["PMO Office"],
        "default",
        None,
    )
    assert file_it["offered_to"] == "PMO Office (default group)"
    assert visible(as_, "olga", iid) == {"Activity_File"} and visible(as_, "dave", iid) == set()
    assert complete(as_, "dave", file_it).status_code == 403
    done = complete(as_, "olga", file_it, {"filed": "PO-17"})
    assert done.status_code == 200 and done.json["instance_status"] == "completed"

    assert path(as_, iid) == ["StartEvent_1", "Activity_Review", "Activity_Approve", "Activity_File", "EndEvent_1"]
    variables = as_("pmo").get(f"/api/v1/process-instances/{iid}").json["variables"]
    assert {k: variables[k] for k in ("reviewDecision", "approved", "filed", "approver", "requester")} == {
        "reviewDecision": "approve",
        "approved": True,
        "filed": "PO-17",
        "approver": "dave",
        "requester": "bot",
    }  # camunda:initiator="requester" on the start event


def test_the_initiator_variable_can_name_the_assignee(people):
    as_ = people
    text = (
        (MODELS / "camunda7-purchase.bpmn")
        .read_text()
        .replace('camunda:assignee="${approver}"', 'camunda:assignee="${requester}"')
    )
    files = {
        "files": [
            (io.BytesIO(text.encode()), "c7.bpmn"),
            (io.BytesIO((MODELS / "c7-review.form").read_bytes()), "c7-review.form"),
        ]
    }
    assert (
        as_("pmo").post("/api/v1/process-definitions", data=files, content_type="multipart/form-data").status_code
        == 201
    )
    instance = start(as_, "c7_purchase", {"amount": 5000, "urgency": 20, "approvalDue": "P1D"}, who="alice")
    done = complete(as_, "bob", instance["open_tasks"][0], {"reviewDecision": "approve"})
    [approve] = done.json["open_tasks"]
    assert approve["assignee"] == "alice"


def test_a_camunda_8_model_runs_as_the_modeler_wrote_it(people):
    as_ = people
    deploy(as_, "camunda8-onboarding.bpmn", "c8-vet.form")
    vet_due = "2026-01-09T12:00:00+00:00"
    instance = start(
        as_,
        "c8_onboarding",
        {
            "title": "ACME",
            "riskLevel": "high",
            "reviewers": ["alice"],
            "vetDue": vet_due,
            "owner": {"name": "erin"},
            "contractPriority": 30,
        },
    )
    iid = instance["id"]
    [vet] = instance["open_tasks"]
    assert (vet["element_id"], vet["candidate_groups"], vet["candidate_users"], vet["priority"], vet["form_key"]) == (
        "Activity_Vet",
        ["Security"],
        ["alice"],
        80,
        "c8-vet",
    )
    assert datetime.fromisoformat(vet["due_at"]) == datetime.fromisoformat(vet_due)  # dueDate="=vetDue"
    assert visible(as_, "carol", iid) == visible(as_, "alice", iid) == {"Activity_Vet"}
    assert visible(as_, "bob", iid) == set()
    assert complete(as_, "bob", vet, {"vetDecision": "approve"}).status_code == 403
    done = complete(as_, "alice", vet, {"vetDecision": "approve"})  # a candidate user completes it
    assert done.status_code == 200, done.json

    [contract] = done.json["open_tasks"]  # assignee="=owner.name"
    assert (contract["element_id"], contract["assignee"], contract["priority"]) == ("Activity_Contract", "erin", 30)
    assert datetime.fromisoformat(contract["due_at"]) == datetime(2026, 12, 10, 17, 0, tzinfo=UTC)
    assert complete(as_, "alice", contract).status_code == 403
    done = complete(as_, "erin", contract, {"signed": True})
    assert done.status_code == 200, done.json

    [checklist] = done.json["open_tasks"]  # a form embedded in the BPMN file
    assert (checklist["form_key"], checklist["group_source"]) == ("UserTaskForm_2kq9v1", "default")
    form = as_("olga").get(f"/api/v1/tasks/{checklist['id']}").json["form"]
    assert [c["key"] for c in form["components"]] == ["checked"]
    done = complete(as_, "olga", checklist, {"checked": True})
    assert done.status_code == 200 and done.json["instance_status"] == "completed"
    assert path(as_, iid) == ["StartEvent_1", "Activity_Vet", "Activity_Contract", "Activity_Checklist", "EndEvent_1"]
    variables = as_("pmo").get(f"/api/v1/process-instances/{iid}").json["variables"]
    assert (variables["vetDecision"], variables["signed"], variables["checked"]) == ("approve", True, True)


def test_a_model_without_lanes_uses_the_process_default_group(people):
    as_ = people
    deploy(as_, "plain-no-lanes.bpmn")
    instance = start(as_, "sid-plain-handover", {"title": "Billing"})
    iid = instance["id"]
    for element in ("sid-prepare", "sid-walkthrough"):  # a user task, then a manual task
        [task] = as_("dave").get(f"/api/v1/tasks?instance={iid}").json["items"]
        assert (task["element_id"], task["candidate_groups"], task["group_source"], task["offered_to"]) == (
            element,
            ["Operations"],
            "process_default",
            "Operations (process default)",
        )
        by_role = as_("dave").get(f"/api/v1/tasks?instance={iid}&role=Operations").json["items"]
        assert [t["id"] for t in by_role] == [task["id"]]  # no lane: the role filter finds its group
        assert complete(as_, "olga", task).status_code == 403
        assert complete(as_, "dave", task).status_code == 200
    assert path(as_, iid) == ["sid-start", "sid-prepare", "sid-walkthrough", "sid-end"]


def test_unknown_users_and_failing_expressions_leave_the_task_with_its_candidates(people):
    as_ = people
    deploy(as_, "camunda7-purchase.bpmn", "c7-review.form")
    instance = start(as_, "c7_purchase", {"amount": 5000, "urgency": "high", "approver": "ghost", "approvalDue": "P1D"})
    [review] = instance["open_tasks"]
    assert review["priority"] == 50  # "high" is no number: the default priority
    done = complete(as_, "carol", review, {"reviewDecision": "approve"})
    [approve] = done.json["open_tasks"]
    assert (approve["assignee"], approve["candidate_groups"], approve["group_source"]) == (
        None,
        ["PMO Office"],
        "default",
    )
    assert "'ghost' is not an active user" in created(as_, instance["id"], "Activity_Approve")["warnings"][0]
    assert complete(as_, "olga", approve).status_code == 200

    instance = start(as_, "c7_purchase", {"amount": 50, "urgency": 10, "approvalDue": "P1D"})  # no approver
    assert instance["open_tasks"][0]["candidate_groups"] == ["IT Manager"]  # amount <= 1000
    done = complete(as_, "alice", instance["open_tasks"][0], {"reviewDecision": "approve"})
    [approve] = done.json["open_tasks"]
    assert (approve["assignee"], approve["group_source"]) == (None, "default")
    assert "could not be evaluated" in created(as_, instance["id"], "Activity_Approve")["warnings"][0]


def test_candidate_users_respect_separation_of_duties(people):
    as_ = people
    deploy(as_, "separation.bpmn")
    instance = start(as_, "two_looks", {"title": "Budget"}, who="alice")  # alice may not look at her own
    [first] = instance["open_tasks"]
    assert (first["candidate_users"], first["candidate_groups"], first["group_source"]) == (
        ["carol"],
        [],
        "candidate_users",
    )
    assert "separation of duties" in created(as_, instance["id"], "first_look")["warnings"][0]
    assert complete(as_, "alice", first).status_code == 403
    done = complete(as_, "carol", first)
    assert done.status_code == 200, done.json
    [second] = done.json["open_tasks"]
    assert second["candidate_users"] == ["carol", "bob"]
    refused = complete(as_, "carol", second)  # she decided once already
    assert refused.status_code == 403 and "separation of duties" in refused.json["error"]["message"]
    assert complete(as_, "bob", second).status_code == 200
    assert path(as_, instance["id"]) == ["start", "first_look", "second_look", "end"]


def test_an_assignment_expression_we_cannot_run_is_refused_at_deploy(people):
    as_ = people
    text = (
        (MODELS / "camunda7-purchase.bpmn")
        .read_text()
        .replace('camunda:assignee="${approver}"', 'camunda:assignee="${users.pick(1)}"')
    )
    files = {
        "files": [
            (io.BytesIO(text.encode()), "c7.bpmn"),
            (io.BytesIO((MODELS / "c7-review.form").read_bytes()), "c7-review.form"),
        ]
    }
    response = as_("pmo").post("/api/v1/process-definitions", data=files, content_type="multipart/form-data")
    assert response.status_code == 422, response.json
    [problem] = response.json["error"]["details"]["problems"]
    assert (problem["element_id"], problem["code"], problem["file"]) == (
        "Activity_Approve",
        "bad_assignment",
        "c7.bpmn",
    )
    assert problem["line"] == 1 + next(i for i, line in enumerate(text.splitlines()) if 'id="Activity_Approve"' in line)


def test_inbox_and_substitute_for_named_people(people, engine_ctx, clock):
    as_ = people
    deploy(as_, "camunda7-purchase.bpmn", "c7-review.form")
    today = clock.now().date()
    collaboration.set_out_of_office(
        engine_ctx, Actor("dave", roles=frozenset({"approver"})), "erin", today, today + timedelta(days=3)
    )
    instance = start(
        as_, "c7_purchase", {"title": "Chairs", "amount": 5000, "urgency": 20, "approver": "dave", "approvalDue": "P1D"}
    )
    [review] = instance["open_tasks"]
    carol = Actor("carol", roles=frozenset({"approver"}), groups=frozenset({"Security"}))
    for scope in ("all", "groups"):  # offered to her by name, in her inbox's group part
        page = tasks.inbox(engine_ctx, carol, tasks.InboxFilter(scope=scope))
        assert [r.task.id for r in page.items] == [review["id"]] and page.total == 1
    assert tasks.inbox(engine_ctx, carol, tasks.InboxFilter(scope="mine")).total == 0
    claims.claim(engine_ctx, carol, review["id"])
    assert tasks.inbox(engine_ctx, carol, tasks.InboxFilter(scope="groups")).total == 0
    assert [r.task.id for r in tasks.inbox(engine_ctx, carol, tasks.InboxFilter(scope="mine")).items] == [review["id"]]
    done = complete(as_, "carol", review, {"reviewDecision": "approve"})
    [approve] = done.json["open_tasks"]  # dave is away: erin, his substitute, has it
    assert approve["assignee"] == "erin"
    with engine_ctx.uow(write=False) as uow:
        [text] = uow.session.scalars(
            select(Notification.text).where(Notification.username == "erin", Notification.kind == "task_assigned")
        )
    assert "for dave, who is away" in text
    assert complete(as_, "erin", approve).status_code == 200
