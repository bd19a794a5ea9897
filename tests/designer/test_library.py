"""The library lists every process with versions, drafts and running counts; a version shows live figures."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from designer import drafts
from engine.admin import users
from engine.db.models import HumanTask, ProcessInstance
from engine.designer import library
from engine.runtime import instances
from tests.designer.test_drafts import DANA
from tests.factories import BOT, deploy_shipped


def start_handoff(ctx, key: str = "cross-functional-handoff"):
    return instances.start(ctx, BOT, key, variables={"title": "t", "go_live_date": "2026-12-01"})


def test_the_library_lists_versions_drafts_and_running_instances(ctx):
    deploy_shipped(ctx)
    users.ensure_demo_users(ctx)
    start_handoff(ctx)
    start_handoff(ctx)
    blank = drafts.create_draft(ctx, DANA, "new-one", "A new one")
    entries = {e.key: e for e in library.library(ctx, DANA)}
    assert {"project-intake", "change-request", "cross-functional-handoff", "new-one"} <= set(entries)
    handoff = entries["cross-functional-handoff"]
    assert [(v.version, v.running, v.created_by) for v in handoff.versions] == [(1, 2, "pmo")]
    assert handoff.draft is None
    assert entries["new-one"].versions == [] and entries["new-one"].draft.updated_by == "dana"
    refusing = [p for p in blank.problems if p.get("severity") != "warning"]  # advice is not counted
    assert entries["new-one"].draft.problems == len(refusing)


def test_a_version_counts_tokens_waiting_overdue_and_errors_per_element(ctx, clock):
    deploy_shipped(ctx)
    users.ensure_demo_users(ctx)
    late, failed = start_handoff(ctx), start_handoff(ctx)
    detail = library.version_detail(ctx, DANA, "cross-functional-handoff", 1)
    assert detail.counts == {"prepare_handoff": {"active": 2, "waiting": 2}}
    assert sorted(w.id for w in detail.instances) == sorted([late.id, failed.id])
    assert "prepare_handoff" in detail.bpmn and detail.versions == [1]
    with ctx.uow() as uow:
        task = uow.session.scalars(select(HumanTask).join(ProcessInstance).where(ProcessInstance.uuid == late.id)).one()
        task.due_at = clock.now() + timedelta(hours=1)
        broken = uow.session.scalars(select(ProcessInstance).where(ProcessInstance.uuid == failed.id)).one()
        broken.status, broken.error = "error", {"element_id": "prepare_handoff", "message": "boom"}
        uow.commit()
    clock.advance(timedelta(hours=2))
    detail = library.version_detail(ctx, DANA, "cross-functional-handoff", 1)
    assert detail.counts["prepare_handoff"] == {"active": 2, "waiting": 2, "overdue": 1, "error": 1}
    assert {(w.id, w.status) for w in detail.instances} == {
        (late.id, "overdue"),
        (failed.id, "error"),
        (failed.id, "waiting"),
    }
    assert library.counts_json(detail)["counts"] == detail.counts
