"""Outcomes stored when an instance ends, on both databases, for BPMN of several shapes (engine.core.outcomes):
end event names, an end event's pmoflow:outcome, the decision of the last deciding task, a decision variable,
cancelled, an error end event, no decision at all; the list filter and the event that tells the requester."""

from __future__ import annotations

import pytest

from engine.admin import users
from engine.core.errors import DeploymentInvalid, InvalidInput
from engine.db.statements import load_instance
from engine.definitions import deployments
from engine.runtime import instances
from engine.tasks import completion
from engine.tasks.path import path_of
from tests.bpmn_samples import document, flow, process, script_task, user_task
from tests.factories import ADMIN, ALICE, AUDREY, BOB, deploy_shipped, source

START = '<bpmn:startEvent id="start"/>\n'


def deploy(ctx, pid: str, body: str, errors: str = "") -> None:
    deployments.deploy(ctx, ADMIN, [source(f"{pid}.bpmn", document(errors + process(body, pid=pid)))])


def gateway_to(yes_end: str, no_end: str) -> str:
    """start -> task 'review' -> gateway on `ok` -> one of two end events (given as XML)."""
    return (
        START
        + flow("f1", "start", "review")
        + user_task("review", "Review")
        + flow("f2", "review", "gw")
        + '<bpmn:exclusiveGateway id="gw" default="f_no"/>\n'
        + flow("f_yes", "gw", "yes", 'ok == "y"')
        + flow("f_no", "gw", "no")
        + yes_end
        + no_end
    )


def finish(ctx, instance_id: str, data: dict, actor=ADMIN):
    task = instances.get(ctx, ADMIN, instance_id).open_tasks[0]
    completion.complete(ctx, actor, task.id, data)
    return instances.get(ctx, ADMIN, instance_id)


def test_the_end_events_name_says_what_it_came_to(ctx):
    deploy(
        ctx,
        "vendor",
        gateway_to(
            '<bpmn:endEvent id="yes" name="Vendor approved"/>', '<bpmn:endEvent id="no" name="Vendor declined"/>'
        ),
    )
    approved = finish(ctx, instances.start(ctx, ADMIN, "vendor").id, {"ok": "y"})
    declined = finish(ctx, instances.start(ctx, ADMIN, "vendor").id, {"ok": "n"})
    assert (approved.status, approved.outcome) == ("completed", "approved")
    assert (declined.status, declined.outcome) == ("completed", "rejected")


def test_an_end_event_may_declare_its_outcome(ctx):
    deploy(
        ctx,
        "declared",
        gateway_to(
            '<bpmn:endEvent id="yes" name="Done"/>', '<bpmn:endEvent id="no" name="Done" pmoflow:outcome="rejected"/>'
        ),
    )
    assert finish(ctx, instances.start(ctx, ADMIN, "declared").id, {"ok": "n"}).outcome == "rejected"
    assert finish(ctx, instances.start(ctx, ADMIN, "declared").id, {"ok": "y"}).outcome == "completed"


def test_a_declared_outcome_must_be_one_of_the_outcomes_and_on_an_end_event(ctx):
    with pytest.raises(DeploymentInvalid) as err:
        deploy(ctx, "bad", START + flow("f", "start", "end") + '<bpmn:endEvent id="end" pmoflow:outcome="great"/>')
    assert "pmoflow:outcome 'great' is not one of approved" in str(err.value.problems[0])
    with pytest.raises(DeploymentInvalid) as err:
        deploy(
            ctx,
            "bad2",
            '<bpmn:startEvent id="start" pmoflow:outcome="approved"/>'
            + flow("f", "start", "end")
            + '<bpmn:endEvent id="end"/>',
        )
    assert "belongs on an end event" in str(err.value.problems[0])


def test_the_last_deciding_task_decides(ctx):
    body = (
        START
        + flow("f1", "start", "first")
        + user_task("first", "IT approval")
        + flow("f2", "first", "second")
        + user_task("second", "Finance approval")
        + flow("f3", "second", "end")
        + '<bpmn:endEvent id="end" name="Finished"/>'
    )
    deploy(ctx, "two", body)
    view = instances.start(ctx, ADMIN, "two")
    finish(ctx, view.id, {"it_decision": "approve"})
    done = finish(ctx, view.id, {"finance_decision": "reject"})
    assert done.outcome == "rejected"


def test_a_decision_variable_set_by_a_script_decides(ctx):
    deploy(
        ctx,
        "scripted",
        START
        + flow("f1", "start", "s")
        + script_task("s", 'decision = "declined"')
        + flow("f2", "s", "end")
        + '<bpmn:endEvent id="end"/>',
    )
    assert instances.start(ctx, ADMIN, "scripted").outcome == "rejected"


def test_no_decision_at_all_is_completed_and_a_terminate_end_ends_normally(ctx):
    deploy(ctx, "plain", START + flow("f1", "start", "end") + '<bpmn:endEvent id="end" name="Project onboarded"/>')
    deploy(
        ctx,
        "term",
        START
        + flow("f1", "start", "end")
        + '<bpmn:endEvent id="end" name="Stop"><bpmn:terminateEventDefinition/></bpmn:endEvent>',
    )
    assert instances.start(ctx, ADMIN, "plain").outcome == "completed"
    assert instances.start(ctx, ADMIN, "term").outcome == "completed"


def test_an_error_end_event_fails_the_request_and_a_cancellation_cancels_it(ctx):
    deploy(
        ctx,
        "err",
        START
        + flow("f1", "start", "end")
        + '<bpmn:endEvent id="end" name="Broken"><bpmn:errorEventDefinition errorRef="E"/></bpmn:endEvent>',
        errors='<bpmn:error id="E" errorCode="E1"/>',
    )
    failed = instances.start(ctx, ADMIN, "err")
    assert (failed.status, failed.outcome) == ("error", "failed")
    deploy(ctx, "wait", gateway_to('<bpmn:endEvent id="yes" name="Approved"/>', '<bpmn:endEvent id="no"/>'))
    running = instances.start(ctx, ADMIN, "wait")
    assert running.outcome is None
    cancelled = instances.cancel(ctx, ADMIN, running.id, "not needed")
    assert (cancelled.status, cancelled.outcome) == ("cancelled", "cancelled")
    cancelled_failure = instances.cancel(ctx, ADMIN, failed.id, "gave up")
    assert cancelled_failure.outcome == "cancelled"


def test_the_list_filters_by_outcome_and_the_finish_event_carries_it(ctx):
    deploy_shipped(ctx)
    users.ensure_demo_users(ctx)
    started = [
        instances.start(ctx, ADMIN, "project-intake", variables={"title": t, "budget": 1000, "department": "IT"})
        for t in ("yes", "no", "open")
    ]
    finish(ctx, started[0].id, {"decision": "approve"}, ALICE)
    finish(ctx, started[1].id, {"decision": "reject", "comment": "no budget"}, ALICE)
    assert [v.id for v in instances.list_instances(ctx, AUDREY, outcome="rejected").items] == [started[1].id]
    assert [v.id for v in instances.list_instances(ctx, AUDREY, outcome="approved").items] == [started[0].id]
    assert instances.list_instances(ctx, AUDREY, outcome="cancelled").total == 0
    with pytest.raises(InvalidInput):
        instances.list_instances(ctx, AUDREY, outcome="maybe")
    [done] = [e for e in instances.audit_trail(ctx, AUDREY, started[1].id) if e.type == "instance_completed"]
    assert done.data["outcome"] == "rejected" and done.actor == "alice"


def test_the_path_names_decisions_and_reads_decisions_as_verbs(ctx):
    deploy_shipped(ctx)
    users.ensure_demo_users(ctx)
    users.update_user(ctx, "alice", "Alice Martin", "", ["approver"], actor="pmo")
    view = instances.start(ctx, BOB, "project-intake", variables={"title": "CRM", "budget": 1000, "department": "IT"})
    finish(ctx, view.id, {"decision": "reject", "comment": "no"}, ALICE)
    with ctx.uow(write=False) as uow:
        steps = path_of(uow.session, load_instance(uow.session, view.id).id)
    decision = next(s for s in steps if s.kind == "decision_evaluated")
    assert decision.name == "Approval tier" and ("tier", 1) in decision.results
    completed = next(s for s in steps if s.kind == "task_completed")
    assert (completed.decision, completed.verdict) == ("reject", "rejected")
    assert completed.shown(completed.actor) == "Alice Martin" and steps[0].shown("bob") == "bob"
    end = steps[-1]
    assert (end.kind, end.outcome) == ("instance_completed", "rejected")
