"""Running instances through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from engine.core.errors import Conflict, DeploymentInvalid, Forbidden, FormDataInvalid, InvalidInput, NotFound
from engine.core.permissions import Actor
from engine.db import statements
from engine.db.models import Event, HumanTask, ProcessInstance
from engine.definitions import deployments
from engine.runtime import instances, messages, steps
from engine.spiff.model.parsing import SourceFile
from engine.tasks import completion
from engine.tasks import inbox as tasks
from tests.bpmn_samples import (
    document,
    flow,
    lane,
    linear,
    one_approval,
    process,
    script_task,
    user_task,
)
from tests.factories import ADMIN, ALICE, AUDREY, BOB, BOT

FORM = json.dumps(
    {
        "type": "default",
        "id": "decide",
        "schemaVersion": 16,
        "components": [
            {
                "type": "radio",
                "key": "decision",
                "label": "Decision",
                "validate": {"required": True},
                "values": [{"label": "Approve", "value": "approve"}, {"label": "Reject", "value": "reject"}],
            },
            {
                "type": "textarea",
                "key": "comment",
                "label": "Comment",
                "properties": {"pmoflow:requiredWhen": 'decision == "reject"'},
            },
        ],
    }
)


def deploy(ctx, *files: tuple[str, str], lane_map=None):
    return deployments.deploy(ctx, ADMIN, [SourceFile(n, c.encode()) for n, c in files], lane_map)


def approval_with_form(ctx):
    deploy(ctx, ("p.bpmn", one_approval(form="decide")), ("decide.form", FORM))


def test_start_creates_an_open_task_for_the_lane_group(ctx):
    approval_with_form(ctx)
    view = instances.start(ctx, BOT, "p1", business_key="PRJ-1", variables={"budget": 1000})
    assert view.status == "running"
    [task] = view.open_tasks
    assert (task.element_id, task.role, task.candidate_groups, task.status) == (
        "approve",
        "IT Manager",
        ["IT Manager"],
        "open",
    )
    assert view.variables == {"budget": 1000}


def test_only_the_group_or_an_admin_may_complete(ctx):
    approval_with_form(ctx)
    task_id = instances.start(ctx, BOT, "p1").open_tasks[0].id
    with pytest.raises(Forbidden):
        completion.complete(ctx, BOB, task_id, {"decision": "approve"})
    with pytest.raises(Forbidden):
        completion.complete(ctx, AUDREY, task_id, {"decision": "approve"})
    done = completion.complete(ctx, ALICE, task_id, {"decision": "approve"})
    assert (done.status, done.completed_by) == ("completed", "alice")


def test_completing_runs_the_instance_to_the_end_and_records_the_trail(ctx):
    approval_with_form(ctx)
    start = instances.start(ctx, BOT, "p1", business_key="PRJ-2", variables={"title": "CRM"})
    completion.complete(ctx, ALICE, start.open_tasks[0].id, {"decision": "approve", "comment": "fine"})
    view = instances.get(ctx, ADMIN, start.id)
    assert view.status == "completed" and view.open_tasks == [] and view.ended_at is not None
    assert view.variables["decision"] == "approve" and view.variables["title"] == "CRM"
    types = [e.type for e in instances.audit_trail(ctx, AUDREY, start.id)]
    assert types[0] == "instance_started"
    assert {"task_created", "task_completed", "element_completed", "instance_completed"} <= set(types)
    completed = [e for e in instances.audit_trail(ctx, AUDREY, start.id) if e.type == "task_completed"]
    assert completed[0].actor == "alice" and completed[0].data["data"]["comment"] == "fine"


def test_wrong_form_data_names_each_field_and_changes_nothing(ctx):
    approval_with_form(ctx)
    start = instances.start(ctx, BOT, "p1")
    task_id = start.open_tasks[0].id
    with pytest.raises(FormDataInvalid) as info:
        completion.complete(ctx, ALICE, task_id, {"decision": "maybe", "extra": 1})
    assert set(info.value.errors) == {"decision", "extra"}
    with pytest.raises(FormDataInvalid) as info:
        completion.complete(ctx, ALICE, task_id, {"decision": "reject"})
    assert set(info.value.errors) == {"comment"}
    with pytest.raises(FormDataInvalid) as info:
        completion.complete(ctx, ALICE, task_id, {"decision": "approve", "__builtins__": {}})
    assert "__builtins__" in info.value.errors
    assert tasks.get(ctx, ALICE, task_id).status == "open"
    assert instances.get(ctx, ADMIN, start.id).status == "running"


def test_idempotent_start_returns_the_first_result(ctx):
    approval_with_form(ctx)
    first = instances.start(ctx, BOT, "p1", business_key="K", variables={"a": 1}, idempotency_key="abc")
    again = instances.start(ctx, BOT, "p1", business_key="K", variables={"a": 1}, idempotency_key="abc")
    assert again.id == first.id and again.replayed
    with pytest.raises(Conflict):
        instances.start(ctx, BOT, "p1", business_key="K", variables={"a": 2}, idempotency_key="abc")
    with ctx.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(ProcessInstance)) == 1


def test_concurrent_idempotent_starts_make_one_instance(ctx):
    approval_with_form(ctx)
    results, errors = [], []

    def go():
        try:
            results.append(instances.start(ctx, BOT, "p1", idempotency_key="same").id)
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=go) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors and len(set(results)) == 1


def test_two_concurrent_completions_give_one_success_and_one_conflict(ctx):
    approval_with_form(ctx)
    task_id = instances.start(ctx, BOT, "p1").open_tasks[0].id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def complete(actor):
        barrier.wait()
        try:
            completion.complete(ctx, actor, task_id, {"decision": "approve"})
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=complete, args=(a,)) for a in (ALICE, ADMIN)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(outcomes) == ["conflict", "ok"]
    with ctx.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Event).where(Event.type == "task_completed")) == 1


def test_completing_twice_is_a_conflict(ctx):
    approval_with_form(ctx)
    task_id = instances.start(ctx, BOT, "p1").open_tasks[0].id
    completion.complete(ctx, ALICE, task_id, {"decision": "approve"})
    with pytest.raises(Conflict):
        completion.complete(ctx, ALICE, task_id, {"decision": "approve"})


def test_unknown_things_are_not_found(ctx):
    approval_with_form(ctx)
    with pytest.raises(NotFound):
        instances.start(ctx, BOT, "nope")
    with pytest.raises(NotFound):
        instances.start(ctx, BOT, "p1", version=7)
    with pytest.raises(NotFound):
        instances.get(ctx, ADMIN, "00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound):
        completion.complete(ctx, ALICE, "00000000-0000-0000-0000-000000000000", {})


def test_variables_with_underscore_names_are_refused(ctx):
    approval_with_form(ctx)
    with pytest.raises(InvalidInput):
        instances.start(ctx, BOT, "p1", variables={"__class__": 1})


def test_cancel_cancels_open_tasks_and_records_the_reason(ctx):
    approval_with_form(ctx)
    start = instances.start(ctx, BOT, "p1")
    view = instances.cancel(ctx, BOT, start.id, "duplicate request")
    assert (view.status, view.cancel_reason, view.open_tasks) == ("cancelled", "duplicate request", [])
    assert tasks.get(ctx, ADMIN, start.open_tasks[0].id).status == "cancelled"
    with pytest.raises(Conflict):
        instances.cancel(ctx, BOT, start.id, "again")
    with pytest.raises(Conflict):
        completion.complete(ctx, ALICE, start.open_tasks[0].id, {"decision": "approve"})


def test_approvers_cannot_cancel_someone_elses_instance(ctx):
    approval_with_form(ctx)
    start = instances.start(ctx, BOT, "p1")
    with pytest.raises(Forbidden):
        instances.cancel(ctx, BOB, start.id, "no")


def message_process() -> str:
    body = (
        '<bpmn:startEvent id="start"/>\n<bpmn:intermediateCatchEvent id="wait_payment" name="Paid">'
        '<bpmn:messageEventDefinition id="med" messageRef="msg_paid"/></bpmn:intermediateCatchEvent>\n'
        '<bpmn:endEvent id="end"/>\n' + flow("f0", "start", "wait_payment") + flow("f1", "wait_payment", "end")
    )
    return document(process(body, pid="pay")).replace(
        "</bpmn:definitions>", '<bpmn:message id="msg_paid" name="payment_received"/>\n</bpmn:definitions>'
    )


def test_a_message_correlates_by_business_key_with_variables(ctx):
    deploy(ctx, ("pay.bpmn", message_process()))
    start = instances.start(ctx, BOT, "pay", business_key="INV-7")
    with pytest.raises(NotFound) as info:
        messages.correlate(ctx, BOT, "other_message", business_key="INV-7")
    assert "other_message" in info.value.message
    with pytest.raises(NotFound):
        messages.correlate(ctx, BOT, "payment_received", business_key="INV-8")
    view = messages.correlate(ctx, BOT, "payment_received", business_key="INV-7", variables={"amount": 12})
    assert view.id == start.id and view.status == "completed"
    assert view.variables["amount"] == 12
    with pytest.raises(Forbidden):
        messages.correlate(ctx, ALICE, "payment_received", instance_id=start.id)


def failing_process(script: str) -> str:
    return linear((script_task("compute", script), "compute"), pid="calc")


def test_a_failing_script_is_an_incident_an_admin_can_retry(ctx):
    deploy(ctx, ("calc.bpmn", failing_process("total = budget * 2")))
    start = instances.start(ctx, BOT, "calc", variables={})
    assert start.status == "error"
    assert start.error["element_id"] == "compute" and "budget" in start.error["message"]
    with pytest.raises(Forbidden):
        instances.retry(ctx, BOT, start.id, {"budget": 5})
    view = instances.retry(ctx, ADMIN, start.id, {"budget": 5})
    assert view.status == "completed" and view.variables["total"] == 10 and view.error is None
    types = [e.type for e in instances.audit_trail(ctx, ADMIN, start.id)]
    assert "incident_raised" in types and "incident_retried" in types


@pytest.mark.parametrize(
    "script",
    [
        "__import__('os').system('touch /tmp/pmoflow-pwned')",
        "open('/etc/passwd').read()",
        "x = ().__class__.__base__.__subclasses__()",
        "g = (i for i in [1])\nf = g.gi_frame.f_back",
        "import os",
    ],
)
def test_sandbox_escapes_are_refused_at_deploy_or_become_incidents(ctx, script):
    marker = Path("/tmp/pmoflow-pwned")
    marker.unlink(missing_ok=True)
    try:
        deploy(ctx, ("calc.bpmn", failing_process(script.replace("'", "&apos;"))))
    except DeploymentInvalid as err:
        assert [p.element_id for p in err.problems] == ["compute"]
        return
    view = instances.start(ctx, BOT, "calc")
    assert view.status == "error" and view.error["element_id"] == "compute", view
    assert not marker.exists()


def test_a_runaway_script_is_stopped_and_other_requests_go_on(ctx):
    deploy(ctx, ("calc.bpmn", failing_process("while True: pass")))
    approval_with_form(ctx)
    other: list[float] = []

    def meanwhile():
        t0 = time.monotonic()
        instances.start(ctx, BOT, "p1")
        other.append(time.monotonic() - t0)

    began = time.monotonic()
    thread = threading.Thread(target=meanwhile)
    thread.start()
    view = instances.start(ctx, BOT, "calc")
    thread.join()
    assert view.status == "error" and "time" in view.error["message"].lower()
    assert time.monotonic() - began < 10
    assert other, "the other request finished"


def test_a_crash_in_the_middle_of_a_step_leaves_state_intact(ctx, monkeypatch):
    approval_with_form(ctx)
    start = instances.start(ctx, BOT, "p1")
    with ctx.uow(write=False) as uow:
        before = uow.session.scalars(select(ProcessInstance)).one()
        state, revision = before.state, before.revision

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(steps, "sync_tasks", crash)
    with pytest.raises(RuntimeError):
        completion.complete(ctx, ALICE, start.open_tasks[0].id, {"decision": "approve"})
    monkeypatch.undo()
    with ctx.uow(write=False) as uow:
        after = uow.session.scalars(select(ProcessInstance)).one()
        assert (after.state, after.revision, after.status) == (state, revision, "running")
        task = uow.session.scalars(select(HumanTask)).one()
        assert (task.status, task.completed_by) == ("open", None)
        assert uow.session.scalar(select(func.count()).select_from(Event).where(Event.type == "task_completed")) == 0
    completion.complete(ctx, ALICE, start.open_tasks[0].id, {"decision": "approve"})


def test_redeploying_identical_content_makes_no_new_version_and_instances_pin_theirs(ctx):
    approval_with_form(ctx)
    again = deploy(ctx, ("p.bpmn", one_approval(form="decide")), ("decide.form", FORM))
    assert again.id is None and [(d.version, d.new) for d in again.definitions] == [(1, False)]
    old = instances.start(ctx, BOT, "p1")
    changed = one_approval(form="decide").replace('name="Approve"', 'name="Approve it"')
    result = deploy(ctx, ("p.bpmn", changed), ("decide.form", FORM))
    assert [(d.version, d.new) for d in result.definitions] == [(2, True)]
    assert instances.start(ctx, BOT, "p1").open_tasks[0].name == "Approve it"
    assert instances.start(ctx, BOT, "p1", version=1).open_tasks[0].name == "Approve"
    assert instances.get(ctx, ADMIN, old.id).version == 1
    completion.complete(ctx, ALICE, old.open_tasks[0].id, {"decision": "approve"})


def test_a_deployment_maps_lanes_to_other_groups(ctx):
    deploy(ctx, ("p.bpmn", one_approval()), lane_map={"IT Manager": "it-managers"})
    task = instances.start(ctx, BOT, "p1").open_tasks[0]
    assert (task.role, task.candidate_groups) == ("IT Manager", ["it-managers"])
    assert tasks.list_tasks(ctx, ALICE).total == 0
    with pytest.raises(Forbidden):
        completion.complete(ctx, ALICE, task.id, {})
    it_manager = Actor("ivan", roles=frozenset({"approver"}), groups=frozenset({"it-managers"}))
    assert [t.id for t in tasks.list_tasks(ctx, it_manager).items] == [task.id]
    assert instances.list_instances(ctx, it_manager).total == 1
    completion.complete(ctx, it_manager, task.id, {})


def test_the_spec_is_not_stored_in_the_instance(ctx):
    approval_with_form(ctx)
    instances.start(ctx, BOT, "p1")
    with ctx.uow(write=False) as uow:
        row = uow.session.scalars(select(ProcessInstance)).one()
        assert '"task_specs"' not in row.state
        assert len(row.state) < len(row.definition.spec)


def sla_process() -> str:
    body = (
        user_task("approve", "Approve")
        + '<bpmn:boundaryEvent id="sla_timer" attachedToRef="approve"><bpmn:timerEventDefinition id="sla_t">'
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">var("approval_sla", "P2D")</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>\n"
        + user_task("escalated", "Escalated approval")
        + '<bpmn:startEvent id="start"/>\n<bpmn:endEvent id="end"/>\n<bpmn:endEvent id="end2"/>\n'
        + flow("f0", "start", "approve")
        + flow("f1", "approve", "end")
        + flow("f2", "sla_timer", "escalated")
        + flow("f3", "escalated", "end2")
    )
    return document(process(body, lane("IT Manager", "approve"), lane("PMO Director", "escalated"), pid="sla"))


def test_an_sla_timer_sets_due_dates_from_the_injected_clock(ctx, clock):
    deploy(ctx, ("sla.bpmn", sla_process()))
    view = instances.start(ctx, BOT, "sla", variables={"approval_sla": "PT4H"})
    assert view.open_tasks[0].due_at == clock.now() + timedelta(hours=4)
    with ctx.uow(write=False) as uow:
        assert uow.session.scalars(select(ProcessInstance)).one().next_due_at == clock.now() + timedelta(hours=4)
    default = instances.start(ctx, BOT, "sla")
    assert default.open_tasks[0].due_at == clock.now() + timedelta(days=2)


def test_a_fired_boundary_timer_cancels_the_task_row(ctx, clock):
    deploy(ctx, ("sla.bpmn", sla_process()))
    view = instances.start(ctx, BOT, "sla", variables={"approval_sla": "PT1H"})
    clock.advance(timedelta(hours=2))
    with ctx.uow() as uow:
        row = statements.load_instance(uow.session, view.id, lock=True)
        steps.run_step(ctx, uow.session, row, lambda run: run.advance(), "timer")
        uow.commit()
    after = instances.get(ctx, ADMIN, view.id)
    assert [t.element_id for t in after.open_tasks] == ["escalated"]
    assert tasks.get(ctx, ADMIN, view.open_tasks[0].id).status == "cancelled"


def test_instances_list_filters_and_paginates(ctx):
    approval_with_form(ctx)
    for i in range(5):
        instances.start(ctx, BOT, "p1", business_key=f"B{i}")
    page = instances.list_instances(ctx, ADMIN, process="p1", page=2, per_page=2)
    assert page.total == 5 and len(page.items) == 2
    assert instances.list_instances(ctx, ADMIN, business_key="B3").total == 1
    assert instances.list_instances(ctx, ADMIN, status="completed").total == 0
    assert instances.list_instances(ctx, BOB).total == 0
    assert instances.list_instances(ctx, ALICE).total == 5


def test_a_multi_lane_process_hands_over_between_groups(ctx):
    body = (
        user_task("a", "First") + user_task("b", "Second") + '<bpmn:startEvent id="start"/>'
        '<bpmn:endEvent id="end"/>' + flow("f0", "start", "a") + flow("f1", "a", "b") + flow("f2", "b", "end")
    )
    deploy(ctx, ("two.bpmn", document(process(body, lane("IT Manager", "a"), lane("Finance", "b"), pid="two"))))
    start = instances.start(ctx, BOT, "two")
    completion.complete(ctx, ALICE, start.open_tasks[0].id, {})
    view = instances.get(ctx, ADMIN, start.id)
    assert [(t.element_id, t.role) for t in view.open_tasks] == [("b", "Finance")]
    assert tasks.list_tasks(ctx, BOB).total == 1
    assert tasks.list_tasks(ctx, ALICE).total == 0
    assert tasks.list_tasks(ctx, ALICE, status="completed").total == 1


def test_a_task_offered_to_two_of_my_groups_is_counted_once(ctx):
    from engine.tasks.inbox import InboxFilter, inbox

    body = (
        '<bpmn:startEvent id="start"/><bpmn:userTask id="t" name="Shared"><bpmn:extensionElements>'
        '<pmoflow:assignment candidateGroups="Finance, Security"/></bpmn:extensionElements></bpmn:userTask>'
        '<bpmn:endEvent id="end"/>' + flow("f0", "start", "t") + flow("f1", "t", "end")
    )
    deploy(ctx, ("shared.bpmn", document(process(body, pid="shared"))))
    instances.start(ctx, BOT, "shared")
    both = Actor("fred", roles=frozenset({"approver"}), groups=frozenset({"Finance", "Security"}))
    page = inbox(ctx, both, InboxFilter())
    assert (page.total, len(page.items)) == (1, 1)


def test_the_rows_a_completion_reads_are_session_objects_that_need_no_further_sql(ctx):
    """statements.lock_task_instance reads by Core statements and hands out session objects as if the ORM had
    loaded them: nothing is read back on access, and an object the session already held is refreshed."""
    approval_with_form(ctx)
    view = instances.start(ctx, BOT, "p1", business_key="PRJ-9", variables={"budget": 1000})
    [task] = view.open_tasks
    with ctx.uow() as uow:
        session = uow.session
        held = session.scalars(select(HumanTask).where(HumanTask.uuid == task.id)).one()
        held.__dict__["name"] = "stale"  # as if loaded before another writer changed it
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731 - before_cursor_execute's statement
        sa_event.listen(ctx.db, "before_cursor_execute", listener)
        try:
            instance, row, known = statements.lock_task_instance(ctx, session, task.id)
            values = (
                instance.uuid,
                instance.status,
                instance.variables,
                instance.definition.key,
                row.name,
                row.candidate_groups,
                row.instance is instance,
                [r.uuid for r in known.rows],
            )
        finally:
            sa_event.remove(ctx.db, "before_cursor_execute", listener)
        assert len(seen) == 2, seen  # the locked instance, the open rows: no lazy loads
        assert values == (view.id, "running", {"budget": 1000}, "p1", "Approve", ["IT Manager"], True, [task.id])
        assert row is held and not session.is_modified(row)
