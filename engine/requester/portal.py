"""The requester's side: my requests, one request's status and history, starting a new one.

A request is a process instance seen by the person who started it (and by anyone else who
may see the instance). The start form is the form on the process's start event
(`<pmoflow:form ref="..."/>`); a process without one gets a generic form (title and
description). Starting validates the form on the server, like a task form, and pins the
definition version whose form was shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from engine.core import outcomes
from engine.core.context import EngineContext
from engine.core.errors import FormDataInvalid, InvalidInput, NotFound
from engine.core.permissions import Actor, allowed, require
from engine.core.records import InstanceView, Page
from engine.db.models import Deployment, DeploymentFile, HumanTask, ProcessDefinition, ProcessInstance
from engine.db.statements import load_instance
from engine.definitions.deployments import find_definition
from engine.forms.submission import validate_submission
from engine.requester import attachments, comments, watchers
from engine.requester.attachments import AttachmentView
from engine.requester.comments import CommentView
from engine.runtime import instances
from engine.runtime.instances import check_can_see
from engine.sla import state as sla_state
from engine.spiff.model.parsing import about_process, start_form_of
from engine.tasks.collaboration import Receivers, may_hand_over, receivers
from engine.tasks.completion import form_evaluator
from engine.tasks.path import Step, display_names, path_of

BUSINESS_KEY_LIMIT = 200
GENERIC_START: dict[str, Any] = {
    "type": "default",
    "id": "generic-start",
    "schemaVersion": 16,
    "components": [
        {
            "type": "textfield",
            "id": "Field_title",
            "key": "title",
            "label": "Title",
            "validate": {"required": True, "maxLength": 200},
        },
        {
            "type": "textarea",
            "id": "Field_description",
            "key": "description",
            "label": "Description",
            "validate": {"maxLength": 5000},
        },
    ],
}


@dataclass(frozen=True)
class OpenStep:
    """A task the request waits for: who has it (a person by display name, else its lane's groups), since
    when, due when and its SLA state (engine.sla.state, the one place that decides it)."""

    task_id: str
    name: str
    waiting_for: str
    due_at: datetime | None
    since: datetime | None = None
    lane: str | None = None
    sla_state: str | None = None
    person: bool = False  # a person has it (assigned), not a group


@dataclass(frozen=True)
class RequestRow:
    id: str
    process: str
    process_name: str
    business_key: str | None
    title: str | None
    status: str
    current: list[OpenStep]
    created_at: datetime
    ended_at: datetime | None
    outcome: str | None = None  # engine.core.outcomes: approved, rejected, cancelled, failed, completed
    decided_by: str | None = None  # who ended it (the request page only), by display name


@dataclass(frozen=True)
class RequestDetail:
    request: RequestRow
    variables: dict[str, Any]
    started_by: str | None
    cancel_reason: str | None
    error: dict[str, Any] | None
    path: list[Step]
    comments: list[CommentView]
    attachments: list[AttachmentView]
    may_comment: bool
    may_attach: bool
    started_by_name: str | None = None  # the requester's display name
    watch: watchers.WatchState | None = None  # whether the actor watches it (engine/requester/watchers.py)
    may_watch: bool = False  # the actor may watch it (not the requester: they are told anyway; not once decided)


@dataclass(frozen=True)
class Workspace:
    """What the task page shows beside the form: comments, attachments, who it can go to."""

    instance_id: str
    comments: list[CommentView]
    attachments: list[AttachmentView]
    colleagues: list[str] = field(default_factory=list)  # whom the hand-over picker offers
    receivers: Receivers | None = None  # the same, with who of them may be reassigned to and why the list is limited
    may_hand_over: bool = False
    may_comment: bool = False
    may_attach: bool = False


@dataclass(frozen=True)
class StartableProcess:
    """A process in the "New request" catalogue: what it is for, who owns it and how long it usually takes."""

    key: str
    name: str
    version: int
    description: str | None = None
    owner: str | None = None  # the process's pmoflow:owner, else who published the version (by display name)
    typical: timedelta | None = None  # the median time its finished requests took; None: no history yet
    finished: int = 0  # how many finished requests the median is taken over


@dataclass(frozen=True)
class StartForm:
    key: str
    name: str
    version: int
    schema: dict[str, Any]
    generic: bool


# ---------------------------------------------------------------- reading


def my_requests(
    ctx: EngineContext,
    actor: Actor,
    status: str | None = None,
    page: int = 1,
    per_page: int = 25,
    outcome: str | None = None,
) -> Page:
    """Requests the actor started, newest first, with the steps they wait for, by status or outcome
    (engine.core.outcomes); raises InvalidInput."""
    require(actor, "instance.read_own")
    if status is not None and status not in instances.STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(instances.STATUSES)}", {"fields": {"status": "unknown"}})
    if outcome is not None and outcome not in outcomes.OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(outcomes.OUTCOMES)}", {"fields": {"outcome": "unknown"}})
    page, per_page = max(1, page), max(1, min(per_page, ctx.settings.page_size_max))
    query = select(ProcessInstance).where(ProcessInstance.started_by == actor.username)
    if status:
        query = query.where(ProcessInstance.status == status)
    if outcome:
        query = query.where(ProcessInstance.outcome == outcome)
    with ctx.uow(write=False) as uow:
        session = uow.session
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.options(joinedload(ProcessInstance.definition))
            .order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        waiting = _open_steps(session, [r.id for r in rows], ctx.clock.now())
        return Page([_row(r, waiting.get(r.id, [])) for r in rows], total, page, per_page)


def _open_steps(session: Session, instance_pks: list[int], now: datetime) -> dict[int, list[OpenStep]]:
    steps: dict[int, list[OpenStep]] = {}
    if not instance_pks:
        return steps
    tasks = list(
        session.scalars(
            select(HumanTask)
            .where(HumanTask.instance_id.in_(instance_pks), HumanTask.status == "open")
            .order_by(HumanTask.id)
        )
    )
    people = display_names(session, [t.assignee for t in tasks])
    for task in tasks:
        groups = ", ".join([*task.candidate_groups, *(task.candidate_users or [])])
        who = people.get(task.assignee, task.assignee) if task.assignee else groups or "nobody yet"
        steps.setdefault(task.instance_id, []).append(
            OpenStep(
                task.uuid,
                task.name,
                who,
                task.due_at,
                since=task.created_at,
                lane=task.role,
                sla_state=sla_state.of_task(task, now),
                person=bool(task.assignee),
            )
        )
    return steps


def _row(instance: ProcessInstance, current: list[OpenStep], decided_by: str | None = None) -> RequestRow:
    title = instance.variables.get("title") if isinstance(instance.variables, dict) else None
    return RequestRow(
        instance.uuid,
        instance.definition.key,
        instance.definition.name or instance.definition.key,
        instance.business_key,
        str(title) if title is not None else None,
        instance.status,
        current,
        instance.created_at,
        instance.ended_at,
        instance.outcome,
        decided_by,
    )


def _decided_by(path: list[Step]) -> str | None:
    """Who ended the request: the actor of its last step that finished it (by display name), if a person."""
    end = next((s for s in reversed(path) if s.kind in ("instance_completed", "instance_cancelled")), None)
    return end.shown(end.actor) if end is not None and end.actor else None


def request_view(ctx: EngineContext, actor: Actor, instance_id: str) -> RequestDetail:
    """One request: status, what it waits for, its path so far, comments and attachments.

    Raises NotFound or Forbidden (for someone who may not see the instance)."""
    require(actor, "instance.read_own")
    with ctx.uow(write=False) as uow:
        session = uow.session
        instance = load_instance(session, instance_id)
        check_can_see(session, actor, instance)
        path = path_of(session, instance.id)
        now = ctx.clock.now()
        return RequestDetail(
            request=_row(instance, _open_steps(session, [instance.id], now).get(instance.id, []), _decided_by(path)),
            variables=dict(instance.variables),
            started_by=instance.started_by,
            cancel_reason=instance.cancel_reason,
            error=instance.error,
            path=path,
            comments=comments.thread(session, instance),
            attachments=attachments.listing(session, instance),
            may_comment=allowed(actor, "comment.add"),
            may_attach=allowed(actor, "attachment.add"),
            started_by_name=display_names(session, [instance.started_by]).get(
                instance.started_by or "", instance.started_by
            ),
            watch=watchers.state(session, instance, actor.username),
            may_watch=allowed(actor, "instance.watch")
            and instance.started_by != actor.username
            and instance.outcome is None,  # a decided request is told nothing more
        )


def task_workspace(ctx: EngineContext, actor: Actor, task_id: str) -> Workspace:
    """Comments, attachments and hand-over choices for a task's page; raises NotFound, Forbidden."""
    with ctx.uow(write=False) as uow:
        session = uow.session
        task = session.scalars(select(HumanTask).where(HumanTask.uuid == task_id)).first()
        if task is None:
            raise NotFound(f"task {task_id} does not exist")
        instance = load_instance(session, task.instance.uuid)
        check_can_see(session, actor, instance)
        hand_over = may_hand_over(actor, task)
        offered = receivers(session, actor, task) if hand_over else None
        return Workspace(
            instance_id=instance.uuid,
            comments=comments.thread(session, instance),
            attachments=attachments.listing(session, instance),
            colleagues=offered.names if offered else [],
            receivers=offered,
            may_hand_over=hand_over,
            may_comment=allowed(actor, "comment.add"),
            may_attach=allowed(actor, "attachment.add"),
        )


# ---------------------------------------------------------------- starting


def startable(ctx: EngineContext, actor: Actor) -> list[StartableProcess]:
    """The latest version of every process, for a user who may start instances, each with its description,
    owner and typical duration (the median of its finished requests); raises Forbidden."""
    require(actor, "instance.start")
    with ctx.uow(write=False) as uow:
        session = uow.session
        latest = (
            select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
            .group_by(ProcessDefinition.key)
            .subquery()
        )
        rows = session.execute(
            select(ProcessDefinition, Deployment.created_by, DeploymentFile.content)
            .join(latest, (ProcessDefinition.key == latest.c.key) & (ProcessDefinition.version == latest.c.v))
            .join(Deployment, Deployment.id == ProcessDefinition.deployment_id)
            .outerjoin(
                DeploymentFile,
                (DeploymentFile.deployment_id == ProcessDefinition.deployment_id)
                & (DeploymentFile.filename == ProcessDefinition.bpmn_file),
            )
            .order_by(ProcessDefinition.name, ProcessDefinition.key)
        ).all()
        abouts = {
            d.key: about_process((content or "").encode(), d.bpmn_file, d.key, ctx.settings.max_upload_bytes)
            for d, _, content in rows
        }
        people = display_names(session, [abouts[d.key].owner or publisher for d, publisher, _ in rows])
        result = []
        for definition, publisher, _ in rows:
            about = abouts[definition.key]
            # the declared owner as written if nobody has that user name; a publisher only when a person (not
            # a system actor such as the command line that deployed the shipped workflows)
            owner = people.get(about.owner, about.owner) if about.owner else people.get(publisher or "")
            typical, finished = typical_duration(session, definition.key)
            result.append(
                StartableProcess(
                    definition.key,
                    definition.name or definition.key,
                    definition.version,
                    description=about.description,
                    owner=owner,
                    typical=typical,
                    finished=finished,
                )
            )
        return result


TYPICAL_SAMPLE = 200  # the newest finished requests of a process its typical duration is the median of


def typical_duration(session: Session, key: str) -> tuple[timedelta | None, int]:
    """The median time the newest finished (completed) requests of a process took, over all its versions,
    and how many it is taken over; (None, 0) with no history yet."""
    spans = session.execute(
        select(ProcessInstance.created_at, ProcessInstance.ended_at)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .where(
            ProcessDefinition.key == key,
            ProcessInstance.status == "completed",
            ProcessInstance.ended_at.is_not(None),
        )
        .order_by(ProcessInstance.ended_at.desc())
        .limit(TYPICAL_SAMPLE)
    ).all()
    seconds = [(ended - created).total_seconds() for created, ended in spans if ended is not None and ended >= created]
    if not seconds:
        return None, 0
    return timedelta(seconds=median(seconds)), len(seconds)


def start_form(ctx: EngineContext, actor: Actor, key: str, version: int | None = None) -> StartForm:
    """The form a requester fills in to start `key` (its start event's, else a generic one); raises NotFound."""
    require(actor, "instance.start")
    with ctx.uow(write=False) as uow:
        definition = find_definition(uow.session, ctx.definitions, key, version)
        schema = _start_schema(uow.session, definition, ctx.settings.max_upload_bytes)
        return StartForm(
            definition.key,
            definition.name or definition.key,
            definition.version,
            schema or GENERIC_START,
            schema is None,
        )


def _start_schema(session: Session, definition: ProcessDefinition, max_bytes: int) -> dict[str, Any] | None:
    content = session.scalar(
        select(DeploymentFile.content).where(
            DeploymentFile.deployment_id == definition.deployment_id, DeploymentFile.filename == definition.bpmn_file
        )
    )
    if content is None:
        return None
    ref = start_form_of(content.encode(), definition.bpmn_file, definition.key, max_bytes)
    schema = definition.forms.get(ref) if ref else None
    return schema if isinstance(schema, dict) else None


def start_request(
    ctx: EngineContext,
    actor: Actor,
    key: str,
    version: int | None,
    business_key: str | None,
    data: dict[str, Any],
) -> InstanceView:
    """Validate a start form and start the request; raises NotFound, Forbidden, FormDataInvalid."""
    form = start_form(ctx, actor, key, version)
    errors: dict[str, str] = {}
    business_key = (business_key or "").strip() or None
    if business_key and len(business_key) > BUSINESS_KEY_LIMIT:
        errors["business_key"] = f"at most {BUSINESS_KEY_LIMIT} characters"
    bad = {k: "not a field of this form" for k in data if not isinstance(k, str) or k.startswith("_")}
    cleaned, form_errors = validate_submission(
        form.schema, {k: v for k, v in data.items() if k not in bad}, form_evaluator(ctx, form.schema)
    )
    errors.update(bad)
    errors.update(form_errors)
    if errors:
        raise FormDataInvalid(errors)
    return instances.start(ctx, actor, form.key, version=form.version, business_key=business_key, variables=cleaned)
