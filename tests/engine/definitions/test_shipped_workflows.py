"""Every path of the three shipped workflows, through the engine, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.core.errors import Forbidden, FormDataInvalid
from engine.core.records import InstanceView
from engine.db import statements
from engine.runtime import instances, steps
from engine.tasks import completion
from engine.tasks import inbox as tasks
from tests.factories import ADMIN, ALICE, AUDREY, BOB, BOT, CAROL, DAVE, ERIN, deploy_shipped

APPROVE = {"decision": "approve", "comment": "ok"}
REJECT = {"decision": "reject", "comment": "not this year"}


@pytest.fixture
def shipped(ctx):
    deploy_shipped(ctx)
    return ctx


def open_ids(ctx, instance_id: str) -> list[str]:
    return sorted(t.element_id for t in instances.get(ctx, ADMIN, instance_id).open_tasks)


def do(ctx, instance_id: str, element_id: str, actor, data) -> InstanceView:
    """Complete the open task `element_id` of the instance as `actor`."""
    task = next(t for t in instances.get(ctx, ADMIN, instance_id).open_tasks if t.element_id == element_id)
    completion.complete(ctx, actor, task.id, data)
    return instances.get(ctx, ADMIN, instance_id)


def intake(ctx, budget: int, **extra) -> InstanceView:
    return instances.start(
        ctx,
        BOT,
        "project-intake",
        business_key=f"PRJ-{budget}",
        variables={"title": "New CRM", "budget": budget, "department": "Sales", **extra},
    )


@pytest.mark.parametrize(
    ("budget", "tier", "approvers"),
    [
        (10_000, 1, [("it_manager_approval", ALICE)]),
        (50_000, 2, [("it_manager_approval", ALICE), ("finance_approval", BOB)]),
        (250_000, 2, [("it_manager_approval", ALICE), ("finance_approval", BOB)]),
        (250_001, 3, [("it_manager_approval", ALICE), ("finance_approval", BOB), ("pmo_director_approval", ERIN)]),
    ],
)
def test_project_intake_approval_tiers(shipped, budget, tier, approvers):
    view = intake(shipped, budget)
    assert view.variables["tier"] == tier
    for element_id, actor in approvers:
        assert open_ids(shipped, view.id) == [element_id]
        view = do(shipped, view.id, element_id, actor, APPROVE)
    assert view.status == "completed" and view.variables["outcome"] == "approved"
    decisions = [e for e in instances.audit_trail(shipped, AUDREY, view.id) if e.type == "decision_evaluated"]
    assert decisions[0].data["outputs"] == {"tier": tier}
    assert decisions[0].data["inputs"]["budget"] == budget


@pytest.mark.parametrize("reject_at", [0, 1, 2])
def test_project_intake_any_rejection_ends_it(shipped, reject_at):
    chain = [("it_manager_approval", ALICE), ("finance_approval", BOB), ("pmo_director_approval", ERIN)]
    view = intake(shipped, 900_000)
    for i, (element_id, actor) in enumerate(chain):
        view = do(shipped, view.id, element_id, actor, REJECT if i == reject_at else APPROVE)
        if i == reject_at:
            break
    assert view.status == "completed" and view.variables["outcome"] == "rejected"
    assert view.open_tasks == []


def test_project_intake_reject_needs_a_comment_and_roles_are_enforced(shipped):
    view = intake(shipped, 10_000)
    task = view.open_tasks[0]
    with pytest.raises(FormDataInvalid) as info:
        completion.complete(shipped, ALICE, task.id, {"decision": "reject"})
    assert list(info.value.errors) == ["comment"]
    with pytest.raises(Forbidden):
        completion.complete(shipped, BOB, task.id, APPROVE)
    assert tasks.get(shipped, ALICE, task.id).form["id"] == "approval-decision"


def fire_timers(ctx, instance_id: str) -> None:
    with ctx.uow() as uow:
        row = statements.load_instance(uow.session, instance_id, lock=True)
        steps.run_step(ctx, uow.session, row, lambda run: run.advance(), "timer")
        uow.commit()


def test_project_intake_sla_escalates_to_the_pmo_director(shipped, clock):
    view = intake(shipped, 100_000, approval_sla="PT4H")
    assert view.open_tasks[0].due_at == clock.now() + timedelta(hours=4)
    clock.advance(timedelta(hours=5))
    fire_timers(shipped, view.id)
    escalated = instances.get(shipped, ADMIN, view.id).open_tasks
    assert [(t.element_id, t.role) for t in escalated] == [("escalated_it_manager_approval", "PMO Director")]
    view = do(shipped, view.id, "escalated_it_manager_approval", ERIN, APPROVE)
    assert open_ids(shipped, view.id) == ["finance_approval"]
    view = do(shipped, view.id, "finance_approval", BOB, APPROVE)
    assert view.variables["outcome"] == "approved"
    trail = [e.type for e in instances.audit_trail(shipped, AUDREY, view.id)]
    assert "task_cancelled" in trail


def test_project_intake_default_sla_is_two_days(shipped, clock):
    view = intake(shipped, 10_000)
    assert view.open_tasks[0].due_at == clock.now() + timedelta(days=2)


def change(ctx, change_type: str, impact: str) -> InstanceView:
    return instances.start(
        ctx,
        BOT,
        "change-request",
        business_key=f"CHG-{change_type}-{impact}",
        variables={"title": "Patch DB", "change_type": change_type, "impact": impact},
    )


def test_standard_changes_are_auto_approved(shipped):
    view = change(shipped, "standard", "low")
    assert view.status == "completed"
    assert (view.variables["route"], view.variables["outcome"]) == ("auto", "approved")


@pytest.mark.parametrize(
    ("it", "security", "outcome"),
    [
        ("approve", "approve", "approved"),
        ("reject", "approve", "rejected"),
        ("approve", "reject", "rejected"),
    ],
)
def test_normal_changes_need_it_and_security_in_parallel(shipped, it, security, outcome):
    view = change(shipped, "normal", "high")
    assert view.variables["route"] == "review" and view.variables["risk"] in ("medium", "high")
    assert open_ids(shipped, view.id) == ["it_manager_review", "security_review"]
    view = do(
        shipped, view.id, "security_review", CAROL, {"security_decision": security, "security_comment": "checked"}
    )
    assert open_ids(shipped, view.id) == ["it_manager_review"]
    view = do(shipped, view.id, "it_manager_review", ALICE, {"it_decision": it, "it_comment": "checked"})
    assert view.status == "completed" and view.variables["outcome"] == outcome


def handoff(ctx) -> InstanceView:
    return instances.start(
        ctx,
        BOT,
        "cross-functional-handoff",
        business_key="GL-1",
        variables={"title": "CRM go-live", "go_live_date": "2026-12-01"},
    )


def sign_offs(ctx, view: InstanceView, finance_ok: bool) -> InstanceView:
    view = do(
        ctx,
        view.id,
        "prepare_handoff",
        ALICE,
        {"release_notes": "v2", "rollback_plan": "restore snapshot", "go_live_date": "2026-12-01"},
    )
    assert open_ids(ctx, view.id) == ["finance_sign_off", "operations_readiness", "security_sign_off"]
    do(ctx, view.id, "security_sign_off", CAROL, {"pen_test_done": True, "access_reviewed": True, "security_ok": True})
    do(
        ctx,
        view.id,
        "finance_sign_off",
        BOB,
        {"budget_closed": True, "finance_ok": finance_ok, "finance_comment": "" if finance_ok else "PO missing"},
    )
    return do(
        ctx,
        view.id,
        "operations_readiness",
        DAVE,
        {"runbook_ready": True, "monitoring_ready": True, "on_call_assigned": True, "operations_ok": True},
    )


def test_handoff_goes_live_when_every_lane_signs_off(shipped):
    view = sign_offs(shipped, handoff(shipped), finance_ok=True)
    assert open_ids(shipped, view.id) == ["confirm_go_live"]
    view = do(shipped, view.id, "confirm_go_live", DAVE, {"go_live_confirmed": True})
    assert view.status == "completed" and view.variables["outcome"] == "handed_over"


def test_handoff_is_blocked_when_a_lane_does_not_sign_off(shipped):
    view = sign_offs(shipped, handoff(shipped), finance_ok=False)
    assert view.status == "completed" and view.variables["outcome"] == "blocked"


def test_large_intake_requests_get_high_priority(shipped):
    assert intake(shipped, 900_000).open_tasks[0].priority == 80
    assert intake(shipped, 10_000).open_tasks[0].priority == 50


def test_change_request_security_review_is_due_in_three_business_days(shipped, clock):
    clock.set(datetime(2026, 1, 9, 17, tzinfo=UTC))  # Friday evening (default calendar in UTC)
    view = change(shipped, "normal", "high")
    due = {t.element_id: t.due_at for t in view.open_tasks}
    assert due == {"it_manager_review": None, "security_review": datetime(2026, 1, 14, 17, tzinfo=UTC)}


def test_handoff_go_live_confirmation_is_due_by_the_end_of_the_go_live_date(shipped):
    view = sign_offs(shipped, handoff(shipped), finance_ok=True)
    [confirm] = view.open_tasks
    assert confirm.element_id == "confirm_go_live" and confirm.due_at == datetime(2026, 12, 2, tzinfo=UTC)
