"""Moving a running instance to another published version of its process (an administrator's act).

`plan` says what would change and whether it is safe; `migrate` does it as one engine step: the
instance (locked) is loaded with its own version's specs, moved onto the target's, saved, its open
task rows kept (same ids and assignees) and brought up to date (form, SLA due date), its next timer
recomputed, and one `instance_migrated` event written. Anything unsafe is refused with a Conflict
naming the elements, before anything is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput, NotFound
from engine.core.permissions import Actor, require
from engine.db.models import Deployment, HumanTask, Job, ProcessDefinition, ProcessInstance
from engine.db.statements import load_instance, open_rows
from engine.events import stream as audit
from engine.runtime import jobs
from engine.runtime.steps import loaded_run, run_step
from engine.sla import deadlines as sla
from engine.sla.state import AT_RISK_SHARE, at_risk_time
from engine.spiff.runtime import migration as spiff_migration
from engine.spiff.runtime.clock import clock_scope
from engine.spiff.runtime.migration import ElementChange, LiveElement
from engine.spiff.runtime.run import Run

MIGRATABLE = ("running", "error")
# user-task settings kept in the definition row (not in the spec), compared element by element
TASK_SETTINGS = (
    "form",
    "lane",
    "candidate_groups",
    "candidate_users",
    "assignee",
    "expressions",
    "default_group",
    "approval",
    "priority",
    "sla",
)


@dataclass(frozen=True)
class MigrationPlan:
    """What moving an instance to `to_version` changes, and every reason it cannot (empty: safe)."""

    instance_id: str
    process: str
    from_version: int
    to_version: int
    status: str
    changes: list[ElementChange]
    active: list[LiveElement]
    problems: list[str] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        return not self.problems

    def as_event(self) -> list[dict[str, Any]]:
        return [
            {"process": c.process, "element_id": c.element_id, "change": c.change, "attributes": list(c.attributes)}
            for c in self.changes
        ]


@dataclass(frozen=True)
class MigrationResult:
    instance_id: str
    from_version: int
    to_version: int
    status: str
    kept_tasks: list[str]  # open task ids that stayed (same id, same assignee)
    next_due_at: datetime | None
    changes: list[ElementChange]


def _target(session: Session, instance: ProcessInstance, version: int) -> ProcessDefinition:
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidInput("version must be a positive whole number", {"fields": {"version": "invalid"}})
    key = instance.definition.key
    target = session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
    ).first()
    if target is None:
        raise NotFound(f"process {key} has no version {version}")
    return target


def _meta(definition: ProcessDefinition) -> dict[tuple[str, str], dict[str, Any]]:
    return {(t["process"], t["element_id"]): t for t in definition.user_tasks}


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _task_setting_changes(old: ProcessDefinition, new: ProcessDefinition) -> dict[tuple[str, str], list[str]]:
    """(process, element) -> the user-task settings that differ (a form whose content changed counts)."""
    before, after = _meta(old), _meta(new)
    out: dict[tuple[str, str], list[str]] = {}
    for key, info in before.items():
        if key not in after:
            continue
        # `or None`: a setting an older version did not record ([] / {} / None) is the same as an empty one
        attrs = [s for s in TASK_SETTINGS if not _same(info.get(s) or None, after[key].get(s) or None)]
        ref = info.get("form")
        new_ref = after[key].get("form")
        if "form" not in attrs and ref and not _same(old.forms.get(ref), new.forms.get(new_ref) if new_ref else None):
            attrs.append("form")
        if attrs:
            out[key] = attrs
    return out


def _timer_setting_changes(old_bundle: Any, new_bundle: Any) -> set[str]:
    """Timer elements whose kind or business calendar (kept beside the spec) differ."""
    before = dict(getattr(old_bundle[0], "pmoflow", {}).get("timers", {}))
    after = dict(getattr(new_bundle[0], "pmoflow", {}).get("timers", {}))
    return {k for k in set(before) | set(after) if k in before and k in after and not _same(before[k], after[k])}


def _compare(
    ctx: EngineContext, instance: ProcessInstance, run: Run, target: ProcessDefinition, version: int
) -> tuple[MigrationPlan, Any]:
    bundle = ctx.specs.get(target.id, lambda: target.spec)
    found = spiff_migration.compare(run, bundle)
    changes = {(c.process, c.element_id): c for c in found.changes}
    for key, attrs in _task_setting_changes(instance.definition, target).items():
        c = changes.get(key)
        if c is not None and c.change == "changed":
            changes[key] = ElementChange(
                c.process, c.element_id, c.name, c.type, "changed", tuple(dict.fromkeys(c.attributes + tuple(attrs)))
            )
        elif c is None:
            changes[key] = ElementChange(key[0], key[1], key[1], "UserTask", "changed", tuple(attrs))
    for element in _timer_setting_changes(
        ctx.specs.get(instance.definition_id, lambda: instance.definition.spec), bundle
    ):
        key = (run.wf.spec.name, element)
        c = changes.get(key)
        timer_attrs = (c.attributes if c else ()) + ("timer",)
        changes[key] = ElementChange(
            key[0], element, c.name if c else element, c.type if c else "timer", "changed", timer_attrs
        )
    problems = list(found.problems)
    if target.id == instance.definition_id:
        problems.insert(0, f"process instance {instance.uuid} is already on version {version}")
    ordered = sorted(changes.values(), key=lambda c: (c.change, c.process, c.element_id))
    plan = MigrationPlan(
        instance.uuid,
        instance.definition.key,
        instance.definition.version,
        version,
        instance.status,
        ordered,
        found.live,
        problems,
    )
    return plan, bundle


def _ended(instance: ProcessInstance) -> str:
    return f"process instance {instance.uuid} is {instance.status}; only running instances move"


def plan(ctx: EngineContext, actor: Actor, instance_id: str, target_version: int) -> MigrationPlan:
    """What moving the instance to `target_version` would change; raises Forbidden, NotFound, InvalidInput."""
    require(actor, "instance.migrate")
    with ctx.uow(write=False) as uow:
        session = uow.session
        instance = load_instance(session, instance_id)
        target = _target(session, instance, target_version)
        if instance.status not in MIGRATABLE:  # an ended instance's state may be purged: no diff
            return MigrationPlan(
                instance.uuid,
                instance.definition.key,
                instance.definition.version,
                target_version,
                instance.status,
                [],
                [],
                [_ended(instance)],
            )
        with clock_scope(ctx.clock.now):
            return _compare(ctx, instance, loaded_run(ctx, instance), target, target_version)[0]


def refusal(p: MigrationPlan) -> str:
    """The Conflict message for an unsafe plan: every problem, each naming its element."""
    return (
        f"process instance {p.instance_id} cannot move from version {p.from_version} to {p.to_version}: "
        + "; ".join(p.problems)
    )


def migrate(ctx: EngineContext, actor: Actor, instance_id: str, target_version: int, reason: str) -> MigrationResult:
    """Move a running instance to another version of its process in one transaction.

    Raises Forbidden, NotFound (instance or version), InvalidInput (no reason, bad version) or
    Conflict (unsafe: an active or waiting element is missing from the target or changed type;
    the instance has ended; it is already on that version). Nothing is written on any error.
    """
    require(actor, "instance.migrate")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a reason is required to move an instance", {"fields": {"reason": "required"}})
    with ctx.uow() as uow:
        session = uow.session
        instance = load_instance(session, instance_id, lock=True)
        target = _target(session, instance, target_version)
        if instance.status not in MIGRATABLE:
            raise Conflict(_ended(instance))
        rows = open_rows(session, instance)
        before = {r.uuid: (r.assignee, r.due_at) for r in rows}
        old = instance.definition
        state: dict[str, Any] = {}

        def act(run: Run) -> None:
            p, bundle = _compare(ctx, instance, run, target, target_version)
            if not p.safe:
                raise Conflict(refusal(p), {"problems": p.problems})
            rearm = {
                c.element_id
                for c in p.changes  # timers whose value, kind or calendar changed
                if c.change == "changed" and {"event_definition", "timer"} & set(c.attributes)
            }
            spiff_migration.apply(run, bundle, rearm, {r.approval_batch or r.uuid: r.created_at for r in rows})
            instance.definition = target
            instance.definition_id = target.id
            state["plan"] = p

        run = run_step(ctx, session, instance, act, actor.username)
        p: MigrationPlan = state["plan"]
        now = ctx.clock.now()
        kept = [uuid for uuid in _refresh_rows(session, instance, old, target, run, now) if uuid in before]
        audit.record(
            session,
            "instance_migrated",
            now,
            instance=instance,
            actor=actor.username,
            data={
                "from_version": p.from_version,
                "to_version": p.to_version,
                "reason": reason,
                "changes": p.as_event(),
                "kept_tasks": kept,
                "tasks": {k: {"assignee": v[0]} for k, v in before.items() if k in kept},
                "next_due_at": instance.next_due_at.isoformat() if instance.next_due_at else None,
            },
        )
        result = MigrationResult(
            instance.uuid, p.from_version, p.to_version, instance.status, kept, instance.next_due_at, p.changes
        )
        uow.commit()
    return result


def _refresh_rows(
    session: Session, instance: ProcessInstance, old: ProcessDefinition, new: ProcessDefinition, run: Run, now: datetime
) -> list[str]:
    """Open rows get the new version's form and SLA due date; returns their ids."""
    changed = _task_setting_changes(old, new)
    meta = _meta(new)
    boundary = {t.id: t.due_at for t in run.open_tasks()}
    kept = []
    for row in open_rows(session, instance):
        kept.append(row.uuid)
        process = next((t["process"] for t in new.user_tasks if t["element_id"] == row.element_id), None)
        attrs = changed.get((process or "", row.element_id), [])
        info = meta.get((process or "", row.element_id), {})
        if "form" in attrs:
            row.form_key = info.get("form")
        due = boundary.get(row.approval_batch or row.uuid)
        if "sla" in attrs or due != row.due_at:
            previous = row.due_at
            _set_due(session, instance, row, due, info.get("sla"))
            if row.due_at != previous:
                _move_check_job(session, instance, row, now)
    return kept


def _set_due(
    session: Session, instance: ProcessInstance, row: HumanTask, due: datetime | None, setting: dict[str, Any] | None
) -> None:
    """The row's due date as if it had been created under the new version: a boundary timer's, else
    the SLA property's counted from the row's creation, else none."""
    share = float(setting.get("at_risk") or AT_RISK_SHARE) if setting else AT_RISK_SHARE
    if due is None and setting and setting.get("due"):
        try:
            due = sla.property_due(session, setting, instance.variables, row.created_at)
        except Exception as err:  # noqa: BLE001 - a bad SLA must not stop the move; the trail says why
            audit.record(
                session,
                "sla_invalid",
                instance.updated_at,
                instance=instance,
                task_uuid=row.uuid,
                element_id=row.element_id,
                data={"due": setting.get("due"), "error": str(err)[:500]},
            )
    row.due_at = due
    row.at_risk_at = at_risk_time(row.created_at, due, share)


def _move_check_job(session: Session, instance: ProcessInstance, row: HumanTask, now: datetime) -> None:
    """The SLA breach check follows the row's new due date (one job per task, by its dedupe key)."""
    key = f"{sla.CHECK_JOB}:{row.uuid}"
    job = session.scalars(select(Job).where(Job.dedupe_key == key)).first()
    if row.due_at is None:
        return  # the check finds no due date and records nothing
    if job is None:
        jobs.enqueue(
            session, sla.CHECK_JOB, {"task": row.uuid}, now, run_at=row.due_at, dedupe_key=key, instance=instance
        )
        return
    if job.status == "running":
        return  # being checked now, against the due date it reads then
    if job.status != "pending":
        jobs.requeue(session, job, now)  # a new due date: a new check (the old one found no breach, or an
    job.run_at = row.due_at  # earlier one that stays recorded)


@dataclass(frozen=True)
class VersionChoice:
    """A published version an instance could move to, as a picker shows it."""

    version: int
    name: str
    note: str | None  # the designer's change note, when it was published from a draft
    created_at: datetime
    created_by: str | None

    @property
    def label(self) -> str:
        """'version 3 · Add a finance step · 4 Dec 2026'."""
        parts = [f"version {self.version}", (self.note or self.name or "").strip()[:80]]
        parts.append(f"{self.created_at.day} {self.created_at:%b %Y}")
        return " · ".join(p for p in parts if p)


def other_versions(ctx: EngineContext, actor: Actor, process: str, current: int | None = None) -> list[VersionChoice]:
    """The published versions of `process` (but `current`) an instance could move to, newest first, with their
    change note and date; raises Forbidden."""
    require(actor, "instance.migrate")
    with ctx.uow(write=False) as uow:
        rows = uow.session.execute(
            select(
                ProcessDefinition.version,
                ProcessDefinition.name,
                Deployment.note,
                ProcessDefinition.created_at,
                Deployment.created_by,
            )
            .join(Deployment, Deployment.id == ProcessDefinition.deployment_id)
            .where(ProcessDefinition.key == process)
            .order_by(ProcessDefinition.version.desc())
        ).all()
    return [VersionChoice(v, name or "", note, at, by) for v, name, note, at, by in rows if v != current]
