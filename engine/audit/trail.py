"""The auditor's services: search the event stream, read an instance's trail, export, verify the chain.

All of it is read-only and needs `audit.read`. Searches page by `seq` (newest first, keyset), so a
page costs the same on the millionth event as on the first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engine.audit.presets import ACTIONS, HUMAN_TASK_EVENTS, PRESETS
from engine.core.context import EngineContext
from engine.core.errors import InvalidInput, NotFound
from engine.core.permissions import Actor, require
from engine.db.models import DecisionDefinition, DeploymentFile, Event, ProcessDefinition, ProcessInstance
from engine.events import stream as audit

PER_PAGE = 50
EXPORT_LIMIT = 100_000
EXPORT_FIELDS = (
    "seq",
    "id",
    "occurred_at",
    "type",
    "actor",
    "actor_kind",
    "token_id",
    "on_behalf_of",
    "instance_id",
    "business_key",
    "definition_key",
    "definition_version",
    "task_id",
    "element_id",
    "summary",
    "data",
    "hash",
)


@dataclass(frozen=True)
class AuditFilter:
    """What an auditor searches by; every field is optional. `preset` narrows by kind of action (PRESETS)
    unless `action` names one."""

    process: str | None = None
    business_key: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    instance_id: str | None = None
    before: int | None = None  # keyset cursor: only events with seq < before
    per_page: int = PER_PAGE
    preset: str | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=UTC))
        if self.since and self.until and self.since > self.until:
            raise InvalidInput("the date range ends before it starts", {"fields": {"until": "before 'since'"}})
        if self.text is not None and len(self.text.strip()) < 3:
            raise InvalidInput("text: search for at least 3 characters", {"fields": {"text": "at least 3 characters"}})
        if self.preset is not None and self.preset not in PRESETS:
            raise InvalidInput(f"preset: must be one of {', '.join(PRESETS)}", {"fields": {"preset": "unknown preset"}})
        if not 1 <= self.per_page <= 500:
            raise InvalidInput("per_page must be 1-500", {"fields": {"per_page": "out of range"}})


@dataclass(frozen=True)
class AuditEventView:
    seq: int
    id: str
    occurred_at: datetime
    type: str
    actor: str | None
    actor_kind: str
    token_id: int | None
    on_behalf_of: str | None
    instance_id: str | None
    business_key: str | None
    definition_key: str | None
    definition_version: int | None
    task_id: str | None
    element_id: str | None
    summary: str
    data: dict[str, Any]
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in EXPORT_FIELDS}

    @property
    def human_task_id(self) -> str | None:
        """The id of the person's task the event is about (a task page can show it); None for the engine's
        own steps (a decision table's or a script's `task_id` is not a human task)."""
        return self.task_id if self.type.startswith("task_") or self.type in HUMAN_TASK_EVENTS else None


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEventView]
    next_before: int | None  # pass as `before` for the next (older) page


@dataclass(frozen=True)
class InstanceTrail:
    instance_id: str
    business_key: str | None
    status: str
    started_by: str | None
    definition_key: str
    definition_name: str
    definition_version: int
    bpmn_xml: str | None
    path: list[str]  # element ids completed, in order (shown on the diagram)
    open_elements: list[str]
    events: list[AuditEventView] = field(default_factory=list)
    outcome: str | None = None  # engine.core.outcomes


# ---------------------------------------------------------------------------------------- services


def search(ctx: EngineContext, actor: Actor, flt: AuditFilter) -> AuditPage:
    """One page of events matching the filter, newest first; raises Forbidden, InvalidInput."""
    require(actor, "audit.read")
    with ctx.uow(write=False) as uow:
        rows = list(uow.session.scalars(_query(flt).order_by(Event.seq.desc()).limit(flt.per_page + 1)))
        more = len(rows) > flt.per_page
        rows = rows[: flt.per_page]
        names = _Namer(uow.session)
        return AuditPage([view_of(r, names) for r in rows], rows[-1].seq if more and rows else None)


def export(ctx: EngineContext, actor: Actor, flt: AuditFilter) -> Iterator[AuditEventView]:
    """Every event matching the filter, oldest first (at most EXPORT_LIMIT); raises Forbidden."""
    require(actor, "audit.read")
    with ctx.uow(write=False) as uow:
        names = _Namer(uow.session)
        query = _query(flt).order_by(Event.seq).limit(EXPORT_LIMIT).execution_options(yield_per=1000)
        result = uow.session.scalars(query)
        try:
            for row in result:
                yield view_of(row, names)
        finally:
            result.close()


def instance_trail(ctx: EngineContext, actor: Actor, instance_id: str) -> InstanceTrail:
    """An instance's events as a readable timeline, with the diagram of the version it ran on;
    raises Forbidden, NotFound."""
    require(actor, "audit.read")
    with ctx.uow(write=False) as uow:
        session = uow.session
        instance = session.scalars(select(ProcessInstance).where(ProcessInstance.uuid == instance_id)).first()
        rows = list(session.scalars(select(Event).where(Event.instance_uuid == instance_id).order_by(Event.seq)))
        if instance is None and not rows:
            raise NotFound(f"process instance {instance_id} does not exist")
        names = _Namer(session)
        events = [view_of(r, names) for r in rows]
        definition = (
            instance.definition
            if instance is not None
            else session.scalars(
                select(ProcessDefinition).where(
                    ProcessDefinition.key == rows[0].definition_key,
                    ProcessDefinition.version == rows[0].definition_version,
                )
            ).first()
        )
        if definition is None:
            raise NotFound(f"the process definition of instance {instance_id} no longer exists")
        xml = session.scalars(
            select(DeploymentFile.content).where(
                DeploymentFile.deployment_id == definition.deployment_id,
                DeploymentFile.filename == definition.bpmn_file,
            )
        ).first()
        path = [e.element_id for e in rows if e.type == "element_completed" and e.element_id]
        open_elements = [
            e.element_id
            for e in rows
            if e.type == "task_created"
            and e.element_id
            and not any(x.type in ("task_completed", "task_cancelled") and x.task_uuid == e.task_uuid for x in rows)
        ]
        return InstanceTrail(
            instance_id=instance_id,
            business_key=rows[0].business_key if rows or instance is None else instance.business_key,
            status=instance.status if instance is not None else "removed",
            started_by=instance.started_by if instance is not None else None,
            definition_key=definition.key,
            definition_name=definition.name or definition.key,
            definition_version=definition.version,
            bpmn_xml=xml,
            path=path,
            open_elements=open_elements,
            events=events,
            outcome=instance.outcome if instance is not None else None,
        )


def verify(ctx: EngineContext, actor: Actor) -> audit.Verification:
    """Check the whole hash chain; the result names the first broken link. Raises Forbidden."""
    require(actor, "audit.read")
    with ctx.uow(write=False) as uow:
        return audit.verify(uow.session)


def event_types(ctx: EngineContext, actor: Actor) -> list[str]:
    """The actions the search form offers: every kind of event the engine records."""
    require(actor, "audit.read")
    return sorted(ACTIONS)


# ---------------------------------------------------------------------------------------- queries


def _query(flt: AuditFilter) -> Select[Event]:
    query = select(Event)
    if flt.process:
        query = query.where(Event.definition_key == flt.process)
    if flt.business_key:
        query = query.where(Event.business_key == flt.business_key)
    if flt.actor:
        query = query.where(Event.actor == flt.actor)
    if flt.action:
        query = query.where(Event.type == flt.action)
    elif flt.preset and (condition := PRESETS[flt.preset].condition()) is not None:
        query = query.where(condition)
    if flt.instance_id:
        query = query.where(Event.instance_uuid == flt.instance_id)
    if flt.since:
        query = query.where(Event.occurred_at >= flt.since)
    if flt.until:
        query = query.where(Event.occurred_at <= flt.until)
    if flt.text:
        needle = "%" + flt.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Event.search_text.ilike(needle, escape="\\"))
    if flt.before is not None:
        query = query.where(Event.seq < flt.before)
    return query


class _Namer:
    """Looks up what a readable summary needs (rule numbers), once per request."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._rules: dict[tuple[str, int | None], list[str]] = {}

    def rule_number(self, decision: str, version: int | None, rule_id: str) -> str:
        key = (decision, version)
        if key not in self._rules:
            query = select(DecisionDefinition.model).where(DecisionDefinition.key == decision)
            query = (
                query.where(DecisionDefinition.version == version)
                if version is not None
                else query.order_by(DecisionDefinition.version.desc())
            )
            model = self.session.scalars(query.limit(1)).first() or {}
            ids: list[str] = []
            for dec in model.get("decisions", []):
                ids = [str(r.get("id")) for r in (dec.get("logic") or {}).get("rules", [])] or ids
            self._rules[key] = ids
        ids = self._rules[key]
        return f"rule {ids.index(rule_id) + 1}" if rule_id in ids else f"rule {rule_id}"


# ---------------------------------------------------------------------------------------- summaries


def view_of(row: Event, names: _Namer | None = None) -> AuditEventView:
    return AuditEventView(
        seq=row.seq,
        id=row.uuid,
        occurred_at=row.occurred_at,
        type=row.type,
        actor=row.actor,
        actor_kind=row.actor_kind,
        token_id=row.token_id,
        on_behalf_of=row.on_behalf_of,
        instance_id=row.instance_uuid,
        business_key=row.business_key,
        definition_key=row.definition_key,
        definition_version=row.definition_version,
        task_id=row.task_uuid,
        element_id=row.element_id,
        summary=summary(row, names),
        data=dict(row.data or {}),
        hash=row.hash,
    )


def _when(at: datetime) -> str:
    return f"{at.day} {at:%b %H:%M}"


def _who(row: Event) -> str:
    who = row.actor or "system"
    if row.actor_kind == "token":
        who += f" (API token #{row.token_id})"
    if row.on_behalf_of:
        who += f" on behalf of {row.on_behalf_of}"
    return who


def _value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}"


def summary(row: Event, names: _Namer | None = None) -> str:
    """One readable line: 'Finance / bob approved on 3 Mar 14:02: "within budget"'."""
    data = row.data or {}
    when = _when(row.occurred_at)
    name = data.get("name") or row.element_id or ""
    if row.type == "task_completed":
        submitted = data.get("data") or {}
        decision = next((str(v) for k, v in submitted.items() if k.endswith("decision") and v), None)
        comment = next((str(v) for k, v in submitted.items() if k.endswith("comment") and v), None)
        verb = _past(decision) if decision else f"completed {name!r}"
        who = f"{data['role']} / {_who(row)}" if data.get("role") else _who(row)
        text = f"{who} {verb} on {when}"
        if decision:
            text += f" ({name})"
        return text + (f': "{comment}"' if comment else "")
    if row.type == "decision_evaluated":
        decision = str(data.get("decision") or name)
        rules = [
            names.rule_number(decision, data.get("version"), r) if names else f"rule {r}"
            for r in data.get("matched_rules") or []
        ]
        inputs = ", ".join(f"{k} {_value(v)}" for k, v in (data.get("inputs") or {}).items())
        outputs = ", ".join(f"{k} = {_value(v)}" for k, v in (data.get("outputs") or {}).items())
        matched = f"{', '.join(rules)} of {decision} matched" if rules else f"no rule of {decision} matched"
        return f"{matched} on {when}: {inputs or '(no inputs)'} -> {outputs or '(no outputs)'}"
    if row.type in ("task_delegated", "task_reassigned"):
        verb = "delegated" if row.type == "task_delegated" else "reassigned"
        reason = f': "{data["reason"]}"' if data.get("reason") else ""
        return f"{_who(row)} {verb} {name!r} to {data.get('to')} on {when}{reason}"
    if row.type == "comment_added":
        return f'{_who(row)} commented on {when}: "{_short(str(data.get("text") or data.get("body") or ""))}"'
    if row.type == "instance_started":
        return f"{_who(row)} started {row.definition_key or 'the process'} v{row.definition_version} on {when}"
    if row.type == "instance_migrated":
        return (
            f"{_who(row)} moved the instance from version {data.get('from_version')} to version "
            f'{data.get("to_version")} on {when}: "{data.get("reason", "")}"'
        )
    if row.type == "instance_cancelled":
        return f'{_who(row)} cancelled the instance on {when}: "{data.get("reason", "")}"'
    if row.type.endswith("_deployed"):
        return f"{_who(row)} deployed {data.get('key')} version {data.get('version')} on {when}"
    if row.type == "sla_breached":
        return f"SLA breached on {name!r} on {when}"
    if row.type == "login_locked":
        what = f"account {row.actor}" if data.get("scope") == "account" else f"address {data.get('remote')}"
        return f"sign-in locked for {what} after too many failed attempts on {when}, until {data.get('until')}"
    if row.type == "channel_setting_changed":
        turned = "on" if data.get("to") else "off"
        how = " (back to the environment's value)" if data.get("to_source") == "environment" else ""
        was = "on" if data.get("from") else "off"
        return f"{_who(row)} turned {data.get('label') or data.get('setting')} {turned}{how} on {when} (was {was})"
    if row.type == "task_created":
        return f"task {name!r} created on {when}" + (f" for {', '.join(data['groups'])}" if data.get("groups") else "")
    subject = f" {name!r}" if name else ""
    target = f" {data['username']}" if data.get("username") else ""
    return f"{_who(row)}: {row.type.replace('_', ' ')}{subject}{target} on {when}"


def _past(decision: str) -> str:
    word = decision.strip().lower()
    if word.endswith("e"):
        return word + "d"
    return word if word.endswith("ed") else word + "ed"


def _short(text: str, limit: int = 120) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
