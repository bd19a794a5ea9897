"""Moving running instances to another version of their process, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.db.models import Event, HumanTask, Job, ProcessInstance
from engine.definitions import deployments
from engine.runtime import instances, migration
from engine.runtime.timers import fire_due, next_due
from engine.tasks import claims, completion
from tests.bpmn_samples import document, flow, lane, process, user_task
from tests.factories import ADMIN, ALICE, AUDREY, BOT, source

PMO = ADMIN


def review_process(sla: str = "", boundary: str = "", after: str = "", name: str = "Review") -> str:
    """start -> review (user task, optional SLA / boundary timer) -> [after] -> end."""
    ext = f"<bpmn:extensionElements>{sla}</bpmn:extensionElements>" if sla else ""
    body = (
        '<bpmn:startEvent id="start"/>\n'
        f'<bpmn:userTask id="review" name="{name}">{ext}</bpmn:userTask>\n'
        + boundary
        + '<bpmn:endEvent id="end"/>\n'
        + flow("f1", "start", "review")
    )
    refs = ["review"]
    if after:
        body += user_task(after, "Sign off") + flow("f2", "review", after) + flow("f3", after, "end")
        refs.append(after)
    else:
        body += flow("f2", "review", "end")
    if boundary:
        body += '<bpmn:endEvent id="timed_out"/>\n' + flow("f9", "timer", "timed_out")
        refs += ["timer", "timed_out"]
    return document(process(body, lane("IT Manager", *refs)))


def timer(duration: str) -> str:
    return (
        '<bpmn:boundaryEvent id="timer" attachedToRef="review"><bpmn:timerEventDefinition>'
        f'<bpmn:timeDuration>"{duration}"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>\n'
    )


def deploy(ctx, xml: str) -> int:
    return next(
        d.version for d in deployments.deploy(ctx, ADMIN, [source("review.bpmn", xml)]).definitions if d.key == "p1"
    )


def events(ctx, instance_id: str, kind: str) -> list[Event]:
    with ctx.uow(write=False) as uow:
        inst = uow.session.scalars(select(ProcessInstance).where(ProcessInstance.uuid == instance_id)).one()
        found = list(uow.session.scalars(select(Event).where(Event.instance_id == inst.id, Event.type == kind)))
        uow.session.expunge_all()
        return found


def snapshot(ctx, instance_id: str) -> tuple:
    with ctx.uow(write=False) as uow:
        inst = uow.session.scalars(select(ProcessInstance).where(ProcessInstance.uuid == instance_id)).one()
        rows = list(
            uow.session.scalars(select(HumanTask).where(HumanTask.instance_id == inst.id).order_by(HumanTask.id))
        )
        count = len(list(uow.session.scalars(select(Event.id).where(Event.instance_id == inst.id))))
        return (
            inst.definition_id,
            inst.state,
            inst.next_due_at,
            inst.revision,
            count,
            [(r.uuid, r.status, r.assignee, r.due_at, r.form_key) for r in rows],
        )


def test_a_waiting_task_keeps_its_id_and_assignee_and_takes_the_new_sla(ctx, clock):
    deploy(ctx, review_process('<pmoflow:sla due="P5D"/>'))
    view = instances.start(ctx, BOT, "p1", variables={"title": "CRM"})
    task = view.open_tasks[0]
    claims.claim(ctx, ALICE, task.id)
    clock.advance(timedelta(hours=6))
    v2 = deploy(ctx, review_process('<pmoflow:sla due="P2D"/>', after="sign_off", name="Review (fixed)"))

    p = migration.plan(ctx, PMO, view.id, v2)
    assert p.safe and (p.from_version, p.to_version) == (1, 2)
    assert ("review", "changed") in {(c.element_id, c.change) for c in p.changes}
    assert "sla" in next(c for c in p.changes if c.element_id == "review").attributes
    assert ("sign_off", "added") in {(c.element_id, c.change) for c in p.changes}
    assert [(a.element_id, a.state, a.problem) for a in p.active] == [("review", "ready", None)]

    done = migration.migrate(ctx, PMO, view.id, v2, "SLA shortened to two days")
    assert done.kept_tasks == [task.id] and done.to_version == 2
    after = instances.get(ctx, ADMIN, view.id)
    assert after.version == 2
    [open_task] = after.open_tasks
    assert (open_task.id, open_task.assignee) == (task.id, "alice")
    assert open_task.due_at == task.created_at + timedelta(days=2)  # counted from when it was created
    [event] = events(ctx, view.id, "instance_migrated")
    assert (event.actor, event.data["from_version"], event.data["to_version"]) == ("pmo", 1, 2)
    assert event.data["reason"] == "SLA shortened to two days"
    changes = {c["element_id"]: c for c in event.data["changes"]}
    assert changes["sign_off"]["change"] == "added" and "sla" in changes["review"]["attributes"]
    assert event.data["tasks"] == {task.id: {"assignee": "alice"}}
    with ctx.uow(write=False) as uow:
        job = uow.session.scalars(select(Job).where(Job.dedupe_key == f"sla_check:{task.id}")).one()
        assert job.run_at == task.created_at + timedelta(days=2)

    # the next steps run on the new version: completing the review leads to the added sign-off
    nxt = completion.complete(ctx, ALICE, task.id, {"decision": "approve"})
    assert [t.element_id for t in instances.get(ctx, ADMIN, view.id).open_tasks] == ["sign_off"]
    assert nxt is not None
    assert len(events(ctx, view.id, "instance_migrated")) == 1


def test_a_removed_waiting_element_is_refused_and_nothing_changes(ctx):
    deploy(ctx, review_process())
    view = instances.start(ctx, BOT, "p1", variables={"title": "CRM"})
    body = (
        '<bpmn:startEvent id="start"/>\n'
        + user_task("check", "Check")
        + '<bpmn:endEvent id="end"/>\n'
        + flow("f1", "start", "check")
        + flow("f2", "check", "end")
    )
    other = document(process(body, lane("IT Manager", "check")))
    v2 = deploy(ctx, other)
    p = migration.plan(ctx, PMO, view.id, v2)
    assert not p.safe
    assert any("review" in problem and "does not exist" in problem for problem in p.problems)
    assert ("review", "removed") in {(c.element_id, c.change) for c in p.changes}
    before = snapshot(ctx, view.id)
    with pytest.raises(Conflict) as err:
        migration.migrate(ctx, PMO, view.id, v2, "try")
    assert "review (Review)" in err.value.message and "does not exist in the target version" in err.value.message
    assert snapshot(ctx, view.id) == before
    assert events(ctx, view.id, "instance_migrated") == []


def test_a_changed_boundary_timer_is_recomputed_and_an_unchanged_one_kept(ctx, clock):
    deploy(ctx, review_process(boundary=timer("PT10H")))
    view = instances.start(ctx, BOT, "p1", variables={"title": "CRM"})
    started = clock.now()
    assert next_due(ctx) == started + timedelta(hours=10)
    clock.advance(timedelta(hours=2))
    same = deploy(ctx, review_process(boundary=timer("PT10H"), name="Review (typo fixed)"))
    migration.migrate(ctx, PMO, view.id, same, "typo")
    assert next_due(ctx) == started + timedelta(hours=10)  # not restarted by the move
    clock.advance(timedelta(hours=1))
    shorter = deploy(ctx, review_process(boundary=timer("PT4H")))
    migration.migrate(ctx, PMO, view.id, shorter, "escalate sooner")
    assert next_due(ctx) == started + timedelta(hours=4)  # from when the task became ready
    assert instances.get(ctx, ADMIN, view.id).open_tasks[0].due_at == started + timedelta(hours=4)
    clock.advance(timedelta(hours=1, minutes=1))
    assert fire_due(ctx) == 1
    assert instances.get(ctx, ADMIN, view.id).status == "completed"


REMINDER = (
    '<bpmn:boundaryEvent id="remind" attachedToRef="review" cancelActivity="false">'
    '<bpmn:timerEventDefinition><bpmn:timeDuration>"PT8H"</bpmn:timeDuration></bpmn:timerEventDefinition>'
    '</bpmn:boundaryEvent>\n<bpmn:endEvent id="reminded"/>\n' + flow("f8", "remind", "reminded")
)


def test_a_boundary_timer_added_beside_an_existing_one_is_armed(ctx, clock):
    deploy(ctx, review_process(boundary=timer("PT10H")))
    view = instances.start(ctx, BOT, "p1", variables={"title": "CRM"})
    task = view.open_tasks[0]
    clock.advance(timedelta(hours=1))
    v2 = deploy(ctx, review_process(boundary=timer("PT10H") + REMINDER))
    migration.migrate(ctx, PMO, view.id, v2, "remind after a day's work")
    assert next_due(ctx) == task.created_at + timedelta(hours=8)
    assert instances.get(ctx, ADMIN, view.id).open_tasks[0].id == task.id
    clock.advance(timedelta(hours=7, minutes=1))
    assert fire_due(ctx) == 1  # the reminder; the task stays
    assert [t.id for t in instances.get(ctx, ADMIN, view.id).open_tasks] == [task.id]


def test_a_first_boundary_event_on_a_waiting_task_is_refused(ctx):
    deploy(ctx, review_process())
    view = instances.start(ctx, BOT, "p1", variables={"title": "CRM"})
    v2 = deploy(ctx, review_process(boundary=timer("PT8H")))
    p = migration.plan(ctx, PMO, view.id, v2)
    assert [a.problem for a in p.active] == [
        "review (Review) is ready and gains its first boundary event in the target version; "
        "move it once it has finished"
    ]
    with pytest.raises(Conflict, match="gains its first boundary event"):
        migration.migrate(ctx, PMO, view.id, v2, "x")


def test_only_admins_migrate_and_bad_requests_are_named(ctx):
    deploy(ctx, review_process())
    view = instances.start(ctx, BOT, "p1", variables={"title": "CRM"})
    v2 = deploy(ctx, review_process(name="Review v2"))
    for who in (ALICE, AUDREY, BOT):
        with pytest.raises(Forbidden):
            migration.plan(ctx, who, view.id, v2)
        with pytest.raises(Forbidden):
            migration.migrate(ctx, who, view.id, v2, "x")
    with pytest.raises(NotFound, match="no version 9"):
        migration.migrate(ctx, PMO, view.id, 9, "x")
    with pytest.raises(InvalidInput, match="reason"):
        migration.migrate(ctx, PMO, view.id, v2, "  ")
    with pytest.raises(Conflict, match="already on version 1"):
        migration.migrate(ctx, PMO, view.id, 1, "x")
    instances.cancel(ctx, ADMIN, view.id, "stop")
    with pytest.raises(Conflict, match="is cancelled"):
        migration.migrate(ctx, PMO, view.id, v2, "x")


def test_an_instance_in_error_moves_to_a_fixed_version_and_retries(ctx):
    from tests.bpmn_samples import linear, script_task

    deploy(ctx, linear((script_task("compute", "total = budgett * 2"), "compute"), pid="p1"))
    failed = instances.start(ctx, BOT, "p1", variables={"budget": 5})
    assert failed.status == "error"
    v2 = deploy(ctx, linear((script_task("compute", "total = budget * 2"), "compute"), pid="p1"))
    p = migration.plan(ctx, PMO, failed.id, v2)
    assert p.safe and [(a.element_id, a.state) for a in p.active] == [("compute", "error")]
    assert "script" in next(c for c in p.changes if c.element_id == "compute").attributes
    migration.migrate(ctx, PMO, failed.id, v2, "typo in the script")
    assert instances.get(ctx, ADMIN, failed.id).status == "error"  # moved, not run: the admin retries
    done = instances.retry(ctx, ADMIN, failed.id, {})
    assert (done.status, done.variables["total"]) == ("completed", 10)


def test_corrected_variables_survive_the_move(ctx):
    from engine.monitoring import instances as monitoring

    deploy(ctx, review_process())
    view = instances.start(ctx, BOT, "p1", variables={"title": "CRM", "budget": 1})
    monitoring.edit_variables(ctx, PMO, view.id, {"budget": 2}, [], "typo")
    v2 = deploy(ctx, review_process(name="Review v2"))
    migration.migrate(ctx, PMO, view.id, v2, "new name")
    assert instances.get(ctx, ADMIN, view.id).variables["budget"] == 2


def subprocess_process(inner_name: str) -> str:
    """p1 calls inner_p, whose user task waits."""
    inner = (
        '<bpmn:startEvent id="sub_start"/>\n'
        + user_task("inner", inner_name)
        + '<bpmn:endEvent id="sub_end"/>\n'
        + flow("s1", "sub_start", "inner")
        + flow("s2", "inner", "sub_end")
    )
    body = (
        '<bpmn:startEvent id="start"/>\n<bpmn:callActivity id="call" name="Call" calledElement="inner_p"/>\n'
        '<bpmn:endEvent id="end"/>\n' + flow("f1", "start", "call") + flow("f2", "call", "end")
    )
    return document(
        process(body, pid="p1"), process(inner, lane("IT Manager", "inner", lane_id="inner_lane"), pid="inner_p")
    )


def test_a_task_inside_a_running_call_activity_moves_and_the_instance_finishes(ctx):
    deploy(ctx, subprocess_process("Inner"))
    view = instances.start(ctx, BOT, "p1", variables={"title": "CRM"})
    [task] = view.open_tasks
    v2 = deploy(ctx, subprocess_process("Inner (fixed)"))
    p = migration.plan(ctx, PMO, view.id, v2)
    assert p.safe, p.problems
    assert {(a.process, a.element_id, a.state) for a in p.active} == {
        ("p1", "call", "started"),
        ("inner_p", "inner", "ready"),
    }
    assert ("inner_p", "inner", "changed") in {(c.process, c.element_id, c.change) for c in p.changes}
    migration.migrate(ctx, PMO, view.id, v2, "typo")
    assert [t.id for t in instances.get(ctx, ADMIN, view.id).open_tasks] == [task.id]
    completion.complete(ctx, ALICE, task.id, {})
    assert instances.get(ctx, ADMIN, view.id).status == "completed"


def test_a_removed_element_inside_a_running_call_activity_is_refused(ctx):
    deploy(ctx, subprocess_process("Inner"))
    view = instances.start(ctx, BOT, "p1", variables={"title": "CRM"})
    v2 = deploy(ctx, subprocess_process("Inner").replace('"inner"', '"inner2"').replace(">inner<", ">inner2<"))
    with pytest.raises(Conflict, match=r"inner \(Inner\) is ready and does not exist"):
        migration.migrate(ctx, PMO, view.id, v2, "x")


def breaches(ctx) -> int:
    with ctx.uow(write=False) as uow:
        return len(list(uow.session.scalars(select(Event.id).where(Event.type == "sla_breached"))))


def test_the_breach_check_follows_the_new_due_date_and_is_not_repeated(ctx, clock):
    from engine.runtime import jobs

    deploy(ctx, review_process('<pmoflow:sla due="P1D"/>'))
    view = instances.start(ctx, BOT, "p1", variables={"title": "CRM"})
    created = view.open_tasks[0].created_at
    clock.advance(timedelta(hours=1))
    longer = deploy(ctx, review_process('<pmoflow:sla due="P3D"/>'))
    migration.migrate(ctx, PMO, view.id, longer, "three days")
    clock.set(created + timedelta(days=1, minutes=1))
    jobs.run_due(ctx)
    assert breaches(ctx) == 0  # the old due date no longer counts
    clock.set(created + timedelta(days=3, minutes=1))
    jobs.run_due(ctx)
    assert breaches(ctx) == 1
    renamed = deploy(ctx, review_process('<pmoflow:sla due="P3D"/>', name="Review (renamed)"))
    migration.migrate(ctx, PMO, view.id, renamed, "typo")
    clock.advance(timedelta(hours=1))
    jobs.run_due(ctx)
    assert breaches(ctx) == 1  # the same due date: no second breach


def test_a_bulk_move_reports_each_instance_and_leaves_the_refused_ones_alone(ctx):
    from engine.monitoring import bulk
    from engine.monitoring.filters import InstanceFilter

    deploy(ctx, review_process(after="sign_off"))
    at_review = instances.start(ctx, BOT, "p1", business_key="AT-REVIEW", variables={"title": "a"})
    at_sign_off = instances.start(ctx, BOT, "p1", business_key="AT-SIGN-OFF", variables={"title": "b"})
    completion.complete(ctx, ALICE, at_sign_off.open_tasks[0].id, {})
    v2 = deploy(ctx, review_process())  # no sign-off any more
    flt = InstanceFilter(process="p1")
    with pytest.raises(InvalidInput, match="choose the version"):
        bulk.run(ctx, PMO, "migrate", flt, "x")
    with pytest.raises(InvalidInput, match="filter the list by one process"):
        bulk.run(ctx, PMO, "migrate", InstanceFilter(status="running"), "x", version=v2)
    with pytest.raises(Forbidden):
        bulk.run(ctx, ALICE, "migrate", flt, "x", version=v2)
    result = bulk.run(ctx, PMO, "migrate", flt, "drop the sign-off", version=v2)
    outcome = {i.business_key: (i.ok, i.message) for i in result.items}
    assert outcome["AT-REVIEW"] == (True, "version 2")
    assert (
        outcome["AT-SIGN-OFF"][0] is False
        and "sign_off (Sign off) is ready and does not exist" in outcome["AT-SIGN-OFF"][1]
    )
    assert [instances.get(ctx, ADMIN, i.id).version for i in (at_review, at_sign_off)] == [2, 1]
    assert bulk.run(ctx, PMO, "migrate", flt, "again", version=v2).items[0].business_key == "AT-SIGN-OFF"
