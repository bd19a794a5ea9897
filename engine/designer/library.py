"""The process library: every process with its versions and draft, and a version's live figures."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from engine.core.context import EngineContext
from engine.core.permissions import Actor, require
from engine.db.models import Draft, HumanTask, ProcessDefinition, ProcessInstance
from engine.designer.versions import version_files, version_row
from engine.sla import state as sla
from engine.spiff.runtime.tokens import active_tokens

LIVE = ("running", "error")


@dataclass(frozen=True)
class VersionRow:
    version: int
    name: str
    created_at: datetime
    created_by: str | None
    note: str | None
    running: int
    in_error: int


@dataclass(frozen=True)
class DraftRow:
    updated_by: str
    updated_at: datetime
    revision: int
    problems: int
    base_version: int | None


@dataclass(frozen=True)
class ProcessEntry:
    key: str
    name: str
    versions: list[VersionRow]
    draft: DraftRow | None

    @property
    def latest(self) -> VersionRow | None:
        return self.versions[0] if self.versions else None


@dataclass(frozen=True)
class WaitingInstance:
    id: str
    business_key: str | None
    status: str
    element_id: str
    overdue: bool


@dataclass(frozen=True)
class VersionDetail:
    key: str
    version: int
    name: str
    bpmn: str
    files: list[str]
    note: str | None
    created_by: str | None
    created_at: datetime
    versions: list[int]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # element -> active/waiting/overdue/error
    instances: list[WaitingInstance] = field(default_factory=list)


def library(ctx: EngineContext, actor: Actor) -> list[ProcessEntry]:
    """Every process key (published or drafted), newest version first, with live instance counts."""
    require(actor, "definition.design")
    with ctx.uow(write=False) as uow:
        session = uow.session
        rows = list(
            session.scalars(
                select(ProcessDefinition)
                .options(joinedload(ProcessDefinition.deployment))
                .order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
            )
        )
        live: dict[tuple[int, str], int] = {
            (d, s): n
            for d, s, n in session.execute(
                select(ProcessInstance.definition_id, ProcessInstance.status, func.count())
                .where(ProcessInstance.status.in_(LIVE))
                .group_by(ProcessInstance.definition_id, ProcessInstance.status)
            )
        }
        drafts = {
            d.key: DraftRow(d.updated_by, d.updated_at, d.revision, _blocking(d.problems), d.base_version)
            for d in session.scalars(select(Draft))
        }
        draft_names = dict(session.execute(select(Draft.key, Draft.name)).all())
        versions: dict[str, list[VersionRow]] = {}
        names: dict[str, str] = {}
        for r in rows:
            names.setdefault(r.key, r.name)
            versions.setdefault(r.key, []).append(
                VersionRow(
                    r.version,
                    r.name,
                    r.created_at,
                    r.deployment.created_by,
                    r.deployment.note,
                    live.get((r.id, "running"), 0),
                    live.get((r.id, "error"), 0),
                )
            )
    for key, name in draft_names.items():
        names[key] = name or names.get(key, key)
    return [
        ProcessEntry(key, names[key], versions.get(key, []), drafts.get(key))
        for key in sorted(names, key=lambda k: names[k].lower())
    ]


def version_detail(ctx: EngineContext, actor: Actor, key: str, version: int) -> VersionDetail:
    """A version's diagram and, per element, live tokens, waiting tasks, overdue tasks and errors. Raises NotFound."""
    require(actor, "definition.design")
    now = ctx.clock.now()
    with ctx.uow(write=False) as uow:
        session = uow.session
        row = version_row(session, key, version)
        bpmn, files = version_files(row)
        numbers = list(
            session.scalars(
                select(ProcessDefinition.version)
                .where(ProcessDefinition.key == key)
                .order_by(ProcessDefinition.version.desc())
            )
        )
        live = list(
            session.execute(
                select(
                    ProcessInstance.id,
                    ProcessInstance.uuid,
                    ProcessInstance.business_key,
                    ProcessInstance.status,
                    ProcessInstance.state,
                    ProcessInstance.error,
                ).where(ProcessInstance.definition_id == row.id, ProcessInstance.status.in_(LIVE))
            )
        )
        tasks = list(
            session.execute(
                select(HumanTask.instance_id, HumanTask.element_id, HumanTask.due_at)
                .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)
                .where(ProcessInstance.definition_id == row.id, HumanTask.status == "open")
            )
        )
        detail: dict[str, Any] = dict(
            key=row.key,
            version=row.version,
            name=row.name,
            bpmn=bpmn,
            files=sorted(files),
            note=row.deployment.note,
            created_by=row.deployment.created_by,
            created_at=row.created_at,
            versions=numbers,
        )
    counts: dict[str, Counter[str]] = {}
    by_instance = {i.id: i for i in live}
    listed: list[WaitingInstance] = []
    for inst in live:
        for element, n in active_tokens(inst.state).items():
            counts.setdefault(element, Counter())["active"] += n
        if inst.status == "error":
            failed_at = (inst.error or {}).get("element_id") if isinstance(inst.error, dict) else None
            if failed_at:
                counts.setdefault(failed_at, Counter())["error"] += 1
                listed.append(WaitingInstance(inst.uuid, inst.business_key, "error", failed_at, False))
    for instance_id, element, due in tasks:
        overdue = sla.is_overdue(due, now)
        c = counts.setdefault(element, Counter())
        c["waiting"] += 1
        if overdue:
            c["overdue"] += 1
        waiting = by_instance.get(instance_id)
        if waiting is not None:
            listed.append(
                WaitingInstance(
                    waiting.uuid, waiting.business_key, "overdue" if overdue else "waiting", element, overdue
                )
            )
    return VersionDetail(
        **detail,
        counts={k: dict(v) for k, v in counts.items()},
        instances=sorted(listed, key=lambda w: (w.element_id, w.status, w.id)),
    )


def counts_json(detail: VersionDetail) -> dict[str, Any]:
    """The figures as the diagram overlay script reads them."""
    return {
        "counts": detail.counts,
        "instances": [
            {"id": w.id, "business_key": w.business_key, "status": w.status, "element": w.element_id}
            for w in detail.instances
        ],
    }


def _blocking(problems: list[dict[str, Any]] | None) -> int:
    """How many of a draft's saved problems stop it from being published (advice does not)."""
    return len([p for p in problems or [] if p.get("severity") != "warning"])
