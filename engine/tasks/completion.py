"""Completing a human task: the form data validated against its form, files stored, votes counted,
one engine step; and what the task page shows around the form."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from engine.core import outcomes
from engine.core.context import EngineContext, check_bounds
from engine.core.errors import Conflict, Forbidden, FormDataInvalid, InvalidInput
from engine.core.permissions import Actor, require
from engine.core.records import TaskView
from engine.db.models import (
    Attachment,
    HumanTask,
    ProcessInstance,
    User,
)
from engine.db.statements import OpenRows, lock_task_instance, update_loaded
from engine.events import stream as audit
from engine.forms.components import form_fields
from engine.forms.submission import validate_submission, value_at
from engine.requester.attachments import SAFE_TYPES, safe_filename
from engine.runtime.steps import run_step
from engine.sla import state as sla
from engine.spiff.expressions.sandbox import SandboxedEnvironment
from engine.tasks.approvals import barred, check_separation, decide, decision_key, meta_of, tally, who_may_act
from engine.tasks.candidates import may_complete
from engine.tasks.inbox import load_task, may_see
from engine.tasks.path import Step, path_of


def complete(
    ctx: EngineContext,
    actor: Actor,
    task_id: str,
    data: dict[str, Any] | None,
    files: dict[str, tuple[str, bytes]] | None = None,
    *,
    channel: str | None = None,
) -> TaskView:
    """Complete a task with form data (and files for its file fields, stored as attachments in the same
    transaction); `channel` names where the decision came from ("email", "teams", "slack"; the web form and the API
    give none) and goes into the `task_completed` event. Raises NotFound, Forbidden, FormDataInvalid, Conflict."""
    require(actor, "task.complete")
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("data must be a JSON object", {"fields": {"data": "must be an object"}})
    check_bounds(data or {}, ctx.limits, "data")
    files = files or {}
    data = {**(data or {}), **{k: {"name": name, "size": len(content)} for k, (name, content) in files.items()}}
    with ctx.uow() as uow:
        session = uow.session
        instance, row, known = lock_task_instance(ctx, session, task_id)
        if not may_complete(actor, row):
            raise Forbidden(
                f"{actor.username} is not a candidate of task {task_id} "
                f"({', '.join([*row.candidate_groups, *row.candidate_users]) or 'nobody'}) "
                "and may not complete it"
            )
        if row.status != "open":
            raise Conflict(f"task {task_id} is already {row.status}")
        if instance.status != "running":
            raise Conflict(f"process instance {instance.uuid} is {instance.status}")
        meta = meta_of(instance, row)
        check_separation(session, meta, instance, row, actor.username)
        cleaned = _validated(ctx, row, data or {})
        now = ctx.clock.now()
        _store_files(ctx, session, instance, row, files, cleaned, actor.username, now)
        update_loaded(session, row, status="completed", completed_at=now, completed_by=actor.username, data=cleaned)
        audit.record(
            session,
            "task_completed",
            now,
            instance=instance,
            actor=actor.username,
            task_uuid=row.uuid,
            element_id=row.element_id,
            data={
                "name": row.name,
                "role": row.role,
                "data": cleaned,
                **_on_behalf_of(row, actor),
                **({"channel": channel} if channel else {}),
            },
        )
        if row.approval_batch:
            _count_vote(ctx, session, instance, row, meta, now, actor.username, known)
        else:
            run_step(
                ctx,
                session,
                instance,
                lambda run: run.complete(row.uuid, cleaned),
                actor.username,
                completed_task=row,
                known=known,
            )
        still_open = [TaskView.of(r, sla_state=sla.of_task(r, now)) for r in known.rows if r.status == "open"]
        view = replace(TaskView.of(row), instance_status=instance.status, open_tasks=still_open)
        uow.commit()
        return view


def _store_files(
    ctx: EngineContext,
    session: Session,
    instance: ProcessInstance,
    row: HumanTask,
    files: dict[str, tuple[str, bytes]],
    cleaned: dict[str, Any],
    username: str,
    now: datetime,
) -> None:
    """Keep each uploaded file as a document on the request; the task data names the attachment."""
    limit = ctx.settings.max_upload_bytes
    too_big = {k: f"larger than {limit:,} bytes" for k, (_, content) in files.items() if len(content) > limit}
    if too_big:
        raise FormDataInvalid(too_big)
    for key, (filename, content) in files.items():
        if key not in cleaned:
            continue
        name = safe_filename(filename) or "upload"
        guessed = mimetypes.guess_type(name)[0]
        doc = Attachment(
            instance_id=instance.id,
            task_uuid=row.uuid,
            kind="document",
            name=name,
            content=content,
            size=len(content),
            created_by=username,
            created_at=now,
            content_type=guessed if guessed in SAFE_TYPES else "application/octet-stream",
        )
        session.add(doc)
        session.flush()
        cleaned[key] = {"attachment": doc.uuid, "name": name, "size": len(content)}
        audit.record(
            session,
            "attachment_added",
            now,
            instance=instance,
            actor=username,
            task_uuid=row.uuid,
            data={"attachment": doc.uuid, "kind": "document", "name": name, "size": len(content), "field": key},
        )


def _count_vote(
    ctx: EngineContext,
    session: Session,
    instance: ProcessInstance,
    row: HumanTask,
    meta: dict[str, Any],
    now: datetime,
    username: str,
    known: OpenRows | None = None,
) -> None:
    """Record one approver's vote; once the rule decides, close the batch and complete the BPMN task."""
    batch = list(
        session.scalars(select(HumanTask).where(HumanTask.approval_batch == row.approval_batch).order_by(HumanTask.id))
    )
    key = decision_key(instance.definition.forms.get(row.form_key or ""))
    outcome = decide(meta["approval"], tally(batch, key))
    if outcome is None:
        session.flush()
        return
    for other in batch:
        if other.status == "open":
            other.status, other.completed_at = "cancelled", now
            audit.record(
                session,
                "task_cancelled",
                now,
                instance=instance,
                task_uuid=other.uuid,
                element_id=other.element_id,
                data={"name": other.name, "reason": f"approval {outcomes.decided(outcome)}"},
            )
    votes = [
        {
            "approver": r.completed_by,
            "decision": (r.data or {}).get(key, "approve") if key else "approve",
            "comment": (r.data or {}).get("comment"),
        }
        for r in batch
        if r.status == "completed"
    ]
    result = {key or "decision": outcome, "votes": votes}
    audit.record(
        session,
        "approval_decided",
        now,
        instance=instance,
        actor=username,
        task_uuid=row.approval_batch,
        element_id=row.element_id,
        data={"outcome": outcome, "rule": meta["approval"], "votes": votes},
    )
    assert row.approval_batch is not None
    spiff_task = row.approval_batch
    run_step(
        ctx, session, instance, lambda run: run.complete(spiff_task, result), username, completed_task=row, known=known
    )


def _validated(ctx: EngineContext, row: HumanTask, data: dict[str, Any]) -> dict[str, Any]:
    bad = {k: "field names may not start with '_'" for k in data if not isinstance(k, str) or k.startswith("_")}
    if bad:
        raise FormDataInvalid(bad)
    schema = row.instance.definition.forms.get(row.form_key or "")
    if schema is None:
        return dict(data)
    cleaned, errors = validate_submission(schema, data, form_evaluator(ctx, schema))
    if errors:
        raise FormDataInvalid(errors)
    bad_links = {
        k: "must be an http:// or https:// address"
        for k in link_fields(schema)
        if value_at(cleaned, k) and not _is_web_link(str(value_at(cleaned, k)))
    }
    if bad_links:
        raise FormDataInvalid(bad_links)
    picked = {k: value_at(cleaned, k) for k in picker_fields(schema) if value_at(cleaned, k)}
    if picked:
        with ctx.uow(write=False) as uow:
            known = set(active_usernames(uow.session, list(picked.values())))
        unknown = {k: "not an active user" for k, v in picked.items() if v not in known}
        if unknown:
            raise FormDataInvalid(unknown)
    return cleaned


def picker_fields(schema: dict[str, Any] | None) -> list[str]:
    """Keys of the form's user-picker fields (form-js text fields with property pmoflow:picker = user)."""
    return [
        f["key"]
        for f in form_fields(schema or {})
        if isinstance(f.get("key"), str) and (f.get("properties") or {}).get("pmoflow:picker") == "user"
    ]


def link_fields(schema: dict[str, Any] | None) -> list[str]:
    """Keys of the form's link fields (text fields with property pmoflow:type = link)."""
    return [
        f["key"]
        for f in form_fields(schema or {})
        if isinstance(f.get("key"), str) and (f.get("properties") or {}).get("pmoflow:type") == "link"
    ]


def _is_web_link(value: str) -> bool:
    parts = urlsplit(value.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value.strip()


def active_usernames(session: Session, only: list[str] | None = None) -> list[str]:
    """Active users' names, sorted (all of them, or those in `only`)."""
    query = select(User.username).where(User.active.is_(True)).order_by(User.username)
    if only is not None:
        query = query.where(User.username.in_(only))
    return list(session.scalars(query))


def form_evaluator(ctx: EngineContext, schema: dict[str, Any]) -> Callable[[str, dict[str, Any]], bool]:
    """Conditions see every field (None when not given); a failing condition requires nothing."""
    env = SandboxedEnvironment(time_limit=ctx.settings.script_time_limit)
    defaults = {f["key"]: None for f in form_fields(schema) if isinstance(f.get("key"), str)}

    def evaluate(expression: str, data: dict[str, Any]) -> bool:
        try:
            return bool(env.evaluate(expression, {**defaults, **data}))
        except Exception:  # noqa: BLE001 - the field it depends on carries its own error
            return False

    return evaluate


@dataclass(frozen=True)
class TaskContext:
    task: TaskView
    variables: dict[str, Any]
    started_by: str | None
    path: list[Step]
    sla: str
    may_complete: bool
    blocked: str | None = None  # why the actor may not complete it (e.g. separation of duties)
    who_may_act: list[str] = field(default_factory=list)  # who may work the task, who may not and why
    users: list[str] = field(default_factory=list)  # for user-picker fields


def task_context(ctx: EngineContext, actor: Actor, task_id: str) -> TaskContext:
    """A task with what an approver needs to decide: variables, path so far, earlier decisions."""
    with ctx.uow(write=False) as uow:
        row = load_task(uow.session, task_id)
        if not may_see(actor, row):
            raise Forbidden(f"{actor.username} may not see task {task_id}")
        can = row.status == "open" and may_complete(actor, row)
        blocked = None
        meta = meta_of(row.instance, row)
        if can:
            try:
                check_separation(uow.session, meta, row.instance, row, actor.username)
            except Forbidden as err:
                can, blocked = False, _personal(uow.session, meta, row, actor.username) or err.message
        return TaskContext(
            task=TaskView.of(row, form=row.instance.definition.forms.get(row.form_key or "")),
            variables=dict(row.instance.variables),
            started_by=row.instance.started_by,
            path=path_of(uow.session, row.instance_id),
            sla=sla.state(row.due_at, row.at_risk_at, ctx.clock.now(), row.created_at),
            may_complete=can,
            blocked=blocked,
            who_may_act=who_may_act(uow.session, meta, row.instance, row) if row.status == "open" else [],
            users=active_usernames(uow.session)
            if can and picker_fields(row.instance.definition.forms.get(row.form_key or ""))
            else [],
        )


def _personal(session: Session, meta: dict[str, Any], row: HumanTask, username: str) -> str | None:
    """Separation of duties in the second person: "You started this request, so another member of Finance
    must decide on it" (None when the actor is not barred themselves, but someone they act for)."""
    reason = barred(session, meta, row.instance, row, username)
    if reason is None:
        return None
    others = " or ".join(row.candidate_groups)
    who = f"another member of {others}" if others else "another candidate"
    return f"You {reason}, so {who} must decide on it (separation of duties)"


def _on_behalf_of(row: HumanTask, actor: Actor) -> dict[str, str]:
    """A delegate completes for the task's owner: the event says so."""
    return {"on_behalf_of": row.owner} if row.owner and row.owner != actor.username else {}
