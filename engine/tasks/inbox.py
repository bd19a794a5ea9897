"""Human tasks: the inbox query, one task, and completing a task with form data."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    cast,
    distinct,
    exists,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, joinedload, selectinload

from engine.core.context import EngineContext
from engine.core.errors import Conflict, Forbidden, FormDataInvalid, InvalidInput, NotFound
from engine.core.permissions import Actor, allowed, require
from engine.core.records import Page, TaskView
from engine.db.models import (
    Attachment,
    Event,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    TaskGroup,
    TaskUser,
    User,
)
from engine.events import stream as audit
from engine.forms.components import form_fields
from engine.forms.submission import validate_submission, value_at
from engine.runtime.steps import OpenRows, load_instance, lock_task_instance, run_step, update_loaded
from engine.spiff.expressions.sandbox import SandboxedEnvironment
from engine.tasks.approvals import check_separation, decide, decision_key, tally
from engine.tasks.candidates import in_my_groups, is_candidate, may_complete

TASK_STATUSES = ("open", "completed", "cancelled")


def _load(session: Session, task_id: str) -> HumanTask:
    row = session.scalars(
        select(HumanTask).where(HumanTask.uuid == task_id)
        .options(joinedload(HumanTask.instance).joinedload(ProcessInstance.definition))
    ).first()
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    return row


def _may_see(actor: Actor, task: HumanTask) -> bool:
    return (allowed(actor, "task.read_all") or may_complete(actor, task)
            or task.completed_by == actor.username or task.instance.started_by == actor.username
            or (task.owner is not None and task.owner == actor.username))


def get(ctx: EngineContext, actor: Actor, task_id: str) -> TaskView:
    """One task with its form schema; raises NotFound or Forbidden."""
    with ctx.uow(write=False) as uow:
        row = _load(uow.session, task_id)
        if not _may_see(actor, row):
            raise Forbidden(f"{actor.username} may not see task {task_id}")
        return TaskView.of(row, form=row.instance.definition.forms.get(row.form_key or ""), now=ctx.clock.now())


def has_role(role: str) -> ColumnElement[bool]:
    """SQL: the task's lane is `role`, or it is offered to group `role` (a task outside lanes has no lane)."""
    return or_(HumanTask.role == role, exists().where(TaskGroup.task_id == HumanTask.id, TaskGroup.group_name == role))


def list_tasks(
    ctx: EngineContext, actor: Actor, instance: str | None = None, role: str | None = None,
    assignee: str | None = None, status: str | None = "open", page: int = 1, per_page: int = 50,
) -> Page:
    """Tasks the actor may see, oldest first; raises InvalidInput for an unknown status, Forbidden."""
    require(actor, "task.read_own")
    if status is not None and status not in TASK_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(TASK_STATUSES)}", {"fields": {"status": "unknown"}})
    query = select(HumanTask).join(HumanTask.instance)
    if instance:
        query = query.where(ProcessInstance.uuid == instance)
    if role:
        query = query.where(has_role(role))
    if assignee:
        query = query.where(HumanTask.assignee == assignee)
    if status:
        query = query.where(HumanTask.status == status)
    if not allowed(actor, "task.read_all"):
        query = query.where(or_(
            HumanTask.assignee == actor.username, HumanTask.completed_by == actor.username,
            in_my_groups(actor), ProcessInstance.started_by == actor.username,
        ))
    with ctx.uow(write=False) as uow:
        total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = uow.session.scalars(
            query.options(joinedload(HumanTask.instance).joinedload(ProcessInstance.definition))
            .order_by(HumanTask.created_at, HumanTask.id).offset((page - 1) * per_page).limit(per_page)
        ).all()
        return Page([TaskView.of(r, now=ctx.clock.now()) for r in rows], total, page, per_page)


def complete(
    ctx: EngineContext, actor: Actor, task_id: str, data: dict[str, Any] | None,
    files: dict[str, tuple[str, bytes]] | None = None,
) -> TaskView:
    """Complete a task with form data (and files for its file fields, stored as attachments in the same
    transaction); raises NotFound, Forbidden, FormDataInvalid, Conflict."""
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("data must be a JSON object", {"fields": {"data": "must be an object"}})
    files = files or {}
    data = {**(data or {}), **{k: {"name": name, "size": len(content)} for k, (name, content) in files.items()}}
    with ctx.uow() as uow:
        session = uow.session
        instance, row, known = lock_task_instance(ctx, session, task_id)
        if not may_complete(actor, row):
            raise Forbidden(f"{actor.username} is not a candidate of task {task_id} "
                            f"({', '.join([*row.candidate_groups, *row.candidate_users]) or 'nobody'}) "
                            "and may not complete it")
        if row.status != "open":
            raise Conflict(f"task {task_id} is already {row.status}")
        if instance.status != "running":
            raise Conflict(f"process instance {instance.uuid} is {instance.status}")
        meta = _meta(instance, row)
        check_separation(session, meta, instance, row, actor.username)
        cleaned = _validated(ctx, row, data or {})
        now = ctx.clock.now()
        _store_files(ctx, session, instance, row, files, cleaned, actor.username, now)
        update_loaded(session, row, status="completed", completed_at=now, completed_by=actor.username, data=cleaned)
        audit.record(session, "task_completed", now, instance=instance, actor=actor.username, task_uuid=row.uuid,
                     element_id=row.element_id, data={"name": row.name, "role": row.role, "data": cleaned,
                                                      **_on_behalf_of(row, actor)})
        if row.approval_batch:
            _count_vote(ctx, session, instance, row, meta, now, actor.username, known)
        else:
            run_step(ctx, session, instance, lambda run: run.complete(row.uuid, cleaned), actor.username,
                     completed_task=row, known=known)
        view = replace(TaskView.of(row), instance_status=instance.status,
                       open_tasks=[TaskView.of(r, now=now) for r in known.rows if r.status == "open"])
        uow.commit()
        return view


def _store_files(
    ctx: EngineContext, session: Session, instance: ProcessInstance, row: HumanTask,
    files: dict[str, tuple[str, bytes]], cleaned: dict[str, Any], username: str, now: datetime,
) -> None:
    """Keep each uploaded file as a document on the request; the task data names the attachment."""
    from engine.requester.attachments import SAFE_TYPES, safe_filename  # attachments imports this module

    limit = ctx.settings.max_upload_bytes
    too_big = {k: f"larger than {limit:,} bytes" for k, (_, content) in files.items() if len(content) > limit}
    if too_big:
        raise FormDataInvalid(too_big)
    for key, (filename, content) in files.items():
        if key not in cleaned:
            continue
        name = safe_filename(filename) or "upload"
        guessed = mimetypes.guess_type(name)[0]
        doc = Attachment(instance_id=instance.id, task_uuid=row.uuid, kind="document", name=name, content=content,
                         size=len(content), created_by=username, created_at=now,
                         content_type=guessed if guessed in SAFE_TYPES else "application/octet-stream")
        session.add(doc)
        session.flush()
        cleaned[key] = {"attachment": doc.uuid, "name": name, "size": len(content)}
        audit.record(session, "attachment_added", now, instance=instance, actor=username, task_uuid=row.uuid,
                     data={"attachment": doc.uuid, "kind": "document", "name": name, "size": len(content),
                           "field": key})


def _meta(instance: ProcessInstance, row: HumanTask) -> dict[str, Any]:
    """The definition's settings for this task's element."""
    return next((t for t in instance.definition.user_tasks if t["element_id"] == row.element_id), {})


def _count_vote(
    ctx: EngineContext, session: Session, instance: ProcessInstance, row: HumanTask, meta: dict[str, Any],
    now: datetime, username: str, known: OpenRows | None = None,
) -> None:
    """Record one approver's vote; once the rule decides, close the batch and complete the BPMN task."""
    batch = list(session.scalars(select(HumanTask).where(HumanTask.approval_batch == row.approval_batch)
                                 .order_by(HumanTask.id)))
    key = decision_key(instance.definition.forms.get(row.form_key or ""))
    outcome = decide(meta["approval"], tally(batch, key))
    if outcome is None:
        session.flush()
        return
    for other in batch:
        if other.status == "open":
            other.status, other.completed_at = "cancelled", now
            audit.record(session, "task_cancelled", now, instance=instance, task_uuid=other.uuid,
                         element_id=other.element_id, data={"name": other.name, "reason": f"approval {outcome}d"})
    votes = [{"approver": r.completed_by, "decision": (r.data or {}).get(key, "approve") if key else "approve",
              "comment": (r.data or {}).get("comment")} for r in batch if r.status == "completed"]
    result = {key or "decision": outcome, "votes": votes}
    audit.record(session, "approval_decided", now, instance=instance, actor=username, task_uuid=row.approval_batch,
                 element_id=row.element_id, data={"outcome": outcome, "rule": meta["approval"], "votes": votes})
    assert row.approval_batch is not None
    spiff_task = row.approval_batch
    run_step(ctx, session, instance, lambda run: run.complete(spiff_task, result), username, completed_task=row,
             known=known)


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
    bad_links = {k: "must be an http:// or https:// address" for k in link_fields(schema)
                 if value_at(cleaned, k) and not _is_web_link(str(value_at(cleaned, k)))}
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
    return [f["key"] for f in form_fields(schema or {}) if isinstance(f.get("key"), str)
            and (f.get("properties") or {}).get("pmoflow:picker") == "user"]


def link_fields(schema: dict[str, Any] | None) -> list[str]:
    """Keys of the form's link fields (text fields with property pmoflow:type = link)."""
    return [f["key"] for f in form_fields(schema or {}) if isinstance(f.get("key"), str)
            and (f.get("properties") or {}).get("pmoflow:type") == "link"]


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


# ---------------------------------------------------------------- the inbox and the task page

SLA_AT_RISK_SHARE = 0.75          # past this share of the time allowed, a task is "at risk"


def sla_state(created_at: datetime, due_at: datetime | None, now: datetime,
              at_risk_at: datetime | None = None) -> str:
    """'none', 'on_track', 'at_risk' or 'overdue' (the task's own at-risk time when it has one)."""
    if at_risk_at is not None:
        from engine.sla.deadlines import state

        return state(created_at, due_at, now, at_risk_at)
    if due_at is None:
        return "none"
    if now >= due_at:
        return "overdue"
    allowed_time = (due_at - created_at).total_seconds()
    if allowed_time > 0 and (now - created_at).total_seconds() >= SLA_AT_RISK_SHARE * allowed_time:
        return "at_risk"
    return "on_track"


@dataclass(frozen=True)
class InboxFilter:
    scope: str = "all"                 # all | mine | groups
    process: str | None = None
    role: str | None = None
    due: str | None = None             # overdue | today | week
    search: str | None = None
    sort: str = "due"                  # due | created | name
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True)
class InboxRow:
    task: TaskView
    title: str | None
    sla: str


INBOX_SORTS = {"due": (HumanTask.due_at, HumanTask.created_at), "created": (HumanTask.created_at,),
               "name": (HumanTask.name, HumanTask.created_at),
               "priority": (HumanTask.priority.desc(), HumanTask.due_at, HumanTask.created_at)}


def inbox(ctx: EngineContext, actor: Actor, flt: InboxFilter) -> Page:
    """Open tasks assigned to the actor and unassigned tasks of the actor's groups; raises InvalidInput."""
    if flt.scope not in ("all", "mine", "groups") or flt.sort not in INBOX_SORTS:
        raise InvalidInput("unknown scope or sort", {"fields": {"scope": "unknown", "sort": "unknown"}})
    now = ctx.clock.now()
    matching = inbox_query(actor, flt, now)
    unfiltered = not (flt.process or flt.role or flt.due or flt.search)
    # Without filters the count comes from the two id indexes alone ('mine' and 'offered' are disjoint).
    counted = _inbox_ids(actor, flt.scope) if unfiltered else matching
    with ctx.uow(write=False) as uow:
        ids = counted.subquery()
        total = uow.session.scalar(select(func.count(distinct(ids.c[0])))) or 0   # one task, several groups
        rows = uow.session.scalars(inbox_page(matching, flt)).all()
        items = [InboxRow(TaskView.of(r, now=now), _title(r.instance.variables),
                          sla_state(r.created_at, r.due_at, now, r.at_risk_at))
                 for r in rows]
        return Page(items, total, flt.page, flt.per_page)


def inbox_query(actor: Actor, flt: InboxFilter, now: datetime) -> Select[HumanTask]:
    """Every open task of the actor's inbox that passes the filter (not yet ordered or paged)."""
    # Shaped so PostgreSQL walks ix_tasks_open_by_due in page order, testing membership in a hashed set
    # of offered ids, and stops after one page (3.8 ms instead of 23 ms over 100,000 open tasks).
    mine = HumanTask.assignee == actor.username
    offered = HumanTask.id.in_(_offered_ids(actor))
    who = {"all": or_(mine, offered), "mine": mine, "groups": offered}[flt.scope]
    query = select(HumanTask).where(HumanTask.status == "open", who)
    return _inbox_filters(query, flt, now)


def inbox_page(matching: Select[HumanTask], flt: InboxFilter) -> Select[HumanTask]:
    """One sorted page of an inbox query, loading each task's instance and definition with it."""
    order = INBOX_SORTS[flt.sort]
    return (matching.options(selectinload(HumanTask.instance).selectinload(ProcessInstance.definition))
            .order_by(*(c.asc().nulls_last() if c is HumanTask.due_at else c for c in order), HumanTask.id)
            .offset((flt.page - 1) * flt.per_page).limit(flt.per_page))


def _inbox_ids(actor: Actor, scope: str) -> Select[int] | CompoundSelect[int]:
    """Ids of open tasks assigned to the actor and/or offered to the actor's groups, each part index-driven."""
    mine = select(HumanTask.id).where(HumanTask.assignee == actor.username, HumanTask.status == "open")
    if scope == "mine":
        return mine
    if scope == "groups":
        return _offered_ids(actor)
    return union_all(mine, *_offered_parts(actor))


def _offered_parts(actor: Actor) -> tuple[Select[int], Select[int]]:
    """Ids of open, unassigned tasks offered to one of the actor's groups, and to the actor by name
    (candidate users): each a partial-index scan."""
    return (select(TaskGroup.task_id).where(TaskGroup.group_name.in_(sorted(actor.groups) or [""]),
                                            TaskGroup.offered.is_(True)),
            select(TaskUser.task_id).where(TaskUser.username == actor.username, TaskUser.offered.is_(True)))


def _offered_ids(actor: Actor) -> CompoundSelect[int]:
    """Ids of open, unassigned tasks offered to the actor (their groups, or they by name)."""
    return union_all(*_offered_parts(actor))


def _inbox_filters(query: Select[HumanTask], flt: InboxFilter, now: datetime) -> Select[HumanTask]:
    if flt.process or flt.search:
        query = query.join(HumanTask.instance)
    if flt.process:
        query = query.join(ProcessInstance.definition).where(ProcessDefinition.key == flt.process)
    if flt.role:
        query = query.where(has_role(flt.role))
    if flt.due == "overdue":
        query = query.where(HumanTask.due_at <= now)
    elif flt.due in ("today", "week"):
        horizon = now + (timedelta(days=1) if flt.due == "today" else timedelta(days=7))
        query = query.where(HumanTask.due_at <= horizon)
    if flt.search:
        needle = f"%{flt.search.strip().lower()}%"
        query = query.where(or_(func.lower(ProcessInstance.business_key).like(needle),
                                func.lower(cast(ProcessInstance.variables, String)).like(needle)))
    return query


def _title(variables: dict[str, Any]) -> str | None:
    value = variables.get("title") or variables.get("name")
    return str(value) if value is not None else None


def claim(ctx: EngineContext, actor: Actor, task_id: str) -> TaskView:
    """Take a group task; raises Forbidden, Conflict (someone else has it), NotFound."""
    return _set_assignee(ctx, actor, task_id, actor.username, "task_claimed")


def unclaim(ctx: EngineContext, actor: Actor, task_id: str) -> TaskView:
    """Give a claimed task back to its groups; raises Forbidden, Conflict, NotFound."""
    return _set_assignee(ctx, actor, task_id, None, "task_unclaimed")


def _set_assignee(ctx: EngineContext, actor: Actor, task_id: str, assignee: str | None, event: str) -> TaskView:
    with ctx.uow() as uow:
        row = _load(uow.session, task_id)
        load_instance(uow.session, row.instance.uuid, lock=True)
        uow.session.refresh(row)
        if row.status != "open":
            raise Conflict(f"task {task_id} is already {row.status}")
        _check_assignment(actor, row, assignee)
        row.assignee, row.owner, row.delegation_reason = assignee, None, None    # claiming ends a delegation
        audit.record(uow.session, event, ctx.clock.now(), instance=row.instance, actor=actor.username,
                     task_uuid=row.uuid, element_id=row.element_id, data={"name": row.name})
        view = TaskView.of(row)
        uow.commit()
        return view


def _check_assignment(actor: Actor, row: HumanTask, assignee: str | None) -> None:
    """Candidates claim unassigned tasks; the assignee (or an admin) gives them back."""
    admin = allowed(actor, "task.complete_any")
    if not (admin or is_candidate(actor, row) or (assignee is None and row.assignee == actor.username)):
        raise Forbidden(f"{actor.username} is not a candidate of task {row.uuid}")
    if assignee is not None and row.assignee not in (None, actor.username):
        raise Conflict(f"task {row.uuid} is assigned to {row.assignee}")
    if assignee is None and row.assignee is None:
        raise Conflict(f"task {row.uuid} is not assigned to anyone")
    if assignee is None and row.assignee != actor.username and not admin:
        raise Forbidden(f"only {row.assignee} can give task {row.uuid} back")


@dataclass(frozen=True)
class Step:
    """One line of an instance's path: something that happened, by whom, with what."""

    at: datetime
    kind: str
    name: str
    actor: str | None
    decision: str | None = None
    comment: str | None = None
    to: str | None = None                  # delegated / reassigned to
    on_behalf_of: str | None = None        # completed by a delegate for this owner


@dataclass(frozen=True)
class TaskContext:
    task: TaskView
    variables: dict[str, Any]
    started_by: str | None
    path: list[Step]
    sla: str
    may_complete: bool
    blocked: str | None = None          # why the actor may not complete it (e.g. separation of duties)
    users: list[str] = field(default_factory=list)   # for user-picker fields


def task_context(ctx: EngineContext, actor: Actor, task_id: str) -> TaskContext:
    """A task with what an approver needs to decide: variables, path so far, earlier decisions."""
    with ctx.uow(write=False) as uow:
        row = _load(uow.session, task_id)
        if not _may_see(actor, row):
            raise Forbidden(f"{actor.username} may not see task {task_id}")
        events = uow.session.scalars(select(Event).where(
            Event.instance_id == row.instance_id, Event.type.in_(PATH_EVENTS)).order_by(Event.id)).all()
        can = row.status == "open" and may_complete(actor, row)
        blocked = None
        if can:
            try:
                check_separation(uow.session, _meta(row.instance, row), row.instance, row, actor.username)
            except Forbidden as err:
                can, blocked = False, err.message
        return TaskContext(
            task=TaskView.of(row, form=row.instance.definition.forms.get(row.form_key or "")),
            variables=dict(row.instance.variables), started_by=row.instance.started_by,
            path=[_step(e) for e in events],
            sla=sla_state(row.created_at, row.due_at, ctx.clock.now(), row.at_risk_at),
            may_complete=can, blocked=blocked,
            users=active_usernames(uow.session) if can and picker_fields(
                row.instance.definition.forms.get(row.form_key or "")) else [],
        )


PATH_EVENTS = ("instance_started", "task_completed", "decision_evaluated", "sla_breached", "task_reminder",
               "task_cancelled",
               "instance_completed", "instance_cancelled", "incident_raised", "message_received", "signal_received",
               "task_delegated", "task_reassigned", "instance_migrated")


def _step(event: Event) -> Step:
    data = event.data or {}
    submitted = data.get("data") or {}
    decision = next((str(v) for k, v in submitted.items() if k.endswith("decision")), None)
    comment = next((str(v) for k, v in submitted.items() if k.endswith("comment") and v), None)
    name = data.get("name") or data.get("decision_table") or data.get("process") or event.type.replace("_", " ")
    if event.type in ("task_delegated", "task_reassigned"):
        comment = data.get("reason")
    if event.type == "instance_migrated":
        name, comment = f"version {data.get('from_version')} to version {data.get('to_version')}", data.get("reason")
    return Step(event.occurred_at, event.type, str(name), event.actor, decision, comment, data.get("to"),
                data.get("on_behalf_of"))


def _on_behalf_of(row: HumanTask, actor: Actor) -> dict[str, str]:
    """A delegate completes for the task's owner: the event says so."""
    return {"on_behalf_of": row.owner} if row.owner and row.owner != actor.username else {}


def path_of(session: Session, instance_pk: int) -> list[Step]:
    """The path of an instance so far, as the task and request pages show it."""
    events = session.scalars(select(Event).where(
        Event.instance_id == instance_pk, Event.type.in_(PATH_EVENTS)).order_by(Event.id)).all()
    return [_step(e) for e in events]
