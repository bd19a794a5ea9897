"""Bulk cancel / retry / move-to-version from the monitor: over instances picked on the list, or over every
instance matching its filter.

Each instance goes through the same service as the single action (`engine.runtime.instances.cancel` /
`retry`, `engine.runtime.migration.migrate`), in its own transaction, so it is permission-checked and
audited exactly like one done by hand, and one failure never rolls back the others. Every instance gets
an outcome: `done`, `skipped` (the action does not apply to it: a completed instance cannot be retried),
`conflict` (it changed after the list was shown: someone else acted on it, or won a race with this action)
or `failed` (the service refused, with its reason). At most MAX_BULK instances per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select

from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput, PmoflowError
from engine.core.permissions import Actor, require
from engine.db.models import Event, ProcessDefinition, ProcessInstance
from engine.monitoring.filters import InstanceFilter, filtered
from engine.runtime import instances, migration

MAX_BULK = 500
ACTIONS = ("cancel", "retry", "migrate")
APPLIES_TO = {"cancel": ("running", "error"), "retry": ("error",), "migrate": migration.MIGRATABLE}
PERMISSION = {"cancel": "instance.cancel_any", "retry": "instance.retry", "migrate": "instance.migrate"}
OUTCOMES = ("done", "skipped", "conflict", "failed")


@dataclass(frozen=True)
class Picked:
    """An instance ticked on the list, with the revision the list showed (None: act whatever it is now)."""

    id: str
    revision: int | None = None

    @classmethod
    def parse(cls, value: str) -> Picked:
        """'<uuid>' or '<uuid>:<revision>' (the list's checkbox value); raises InvalidInput."""
        ident, _, rev = value.strip().partition(":")
        if not ident or len(ident) > 36 or (rev and not (rev.isdigit() and len(rev) < 12)):
            raise InvalidInput("a picked instance is not understood", {"fields": {"ids": "invalid"}})
        return cls(ident, int(rev) if rev else None)


@dataclass(frozen=True)
class Target:
    """An instance the action would touch, as the confirmation lists it."""

    id: str
    business_key: str | None
    title: str | None
    status: str
    applies: bool
    why_not: str | None = None  # when it does not apply


@dataclass(frozen=True)
class BulkPlan:
    """What the confirmation says: how many instances, and how many of them the action applies to."""

    action: str
    picked: bool  # True: instances ticked on the list; False: every instance matching the filter
    matched: int  # instances picked, or matching the filter
    applicable: int  # of those, how many the action applies to (all matching: capped at MAX_BULK is done now)
    targets: list[Target]  # the first MAX_BULK (picked: all of them, with those that do not apply)
    version: int | None = None

    @property
    def to_do(self) -> int:
        return min(self.applicable, MAX_BULK)


@dataclass(frozen=True)
class BulkItem:
    id: str
    business_key: str | None
    outcome: str  # done | skipped | conflict | failed
    message: str

    @property
    def ok(self) -> bool:
        return self.outcome == "done"


@dataclass(frozen=True)
class BulkResult:
    action: str
    matched: int  # instances picked, or matching the filter
    items: list[BulkItem]
    not_applicable: int = 0  # all matching: instances the action does not apply to, left out (not listed)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def succeeded(self) -> int:
        return self.counts.get("done", 0)

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0) + self.counts.get("conflict", 0)

    @property
    def left(self) -> int:
        """All matching: applicable instances beyond this request's cap, for another run."""
        return max(0, self.matched - self.not_applicable - len(self.items))


# ---------------------------------------------------------------- checks


def check(
    actor: Actor,
    action: str,
    filters: InstanceFilter,
    picked: Sequence[Picked] | None,
    version: int | None,
    reason: str | None = None,
) -> None:
    """Refuse what cannot run at all, naming the fields; raises InvalidInput or Forbidden."""
    if action not in ACTIONS:
        raise InvalidInput(
            f"unknown bulk action {action!r}", {"fields": {"action": "must be cancel, retry or migrate"}}
        )
    require(actor, "instance.monitor")
    require(actor, PERMISSION[action])
    errors: dict[str, str] = {}
    if picked is None and filters.is_empty():
        errors["filters"] = "narrow the list with at least one filter before acting on all of it"
    if picked is not None and not picked:
        errors["ids"] = "tick at least one instance"
    if picked is not None and len(picked) > MAX_BULK:
        errors["ids"] = f"tick at most {MAX_BULK} instances at a time"
    if action == "migrate" and not filters.process:
        errors["process"] = "filter the list by one process to move its instances"
    if action == "migrate" and version is None:
        errors["to_version"] = "choose the version to move to"
    if reason is not None and action in ("cancel", "migrate") and not reason.strip():
        errors["reason"] = f"a reason is required to {'cancel' if action == 'cancel' else 'move instances'}"
    if errors:
        raise InvalidInput("; ".join(errors.values()), {"fields": errors})


def _why_not(
    action: str, status: str, process: str, version: int, filters: InstanceFilter, to: int | None
) -> str | None:
    """Why the action does not apply to an instance in this state (None: it applies)."""
    if status not in APPLIES_TO[action]:
        return {
            "cancel": f"it is {status}; only running or failed instances are cancelled",
            "retry": f"it is {status}; only failed instances are retried",
            "migrate": f"it is {status}; only running or failed instances move",
        }[action]
    if action == "migrate" and process != filters.process:
        return f"it is an instance of {process}, not {filters.process}"
    if action == "migrate" and version == to:
        return f"it is already on version {to}"
    return None


# ---------------------------------------------------------------- plan and run


def _rows() -> Select[Any]:
    return select(
        ProcessInstance.uuid,
        ProcessInstance.business_key,
        ProcessInstance.variables["title"].as_string(),
        ProcessInstance.status,
        ProcessInstance.revision,
        ProcessDefinition.key,
        ProcessDefinition.version,
    ).join(ProcessInstance.definition)


def _applicable(query: Select[Any], action: str, version: int | None) -> Select[Any]:
    query = query.where(ProcessInstance.status.in_(APPLIES_TO[action]))
    if action == "migrate" and version is not None:
        query = query.where(ProcessDefinition.version != version)
    return query


def plan(
    ctx: EngineContext,
    actor: Actor,
    action: str,
    filters: InstanceFilter,
    picked: Sequence[Picked] | None = None,
    version: int | None = None,
) -> BulkPlan:
    """What the action would touch, for the confirmation; raises InvalidInput or Forbidden."""
    check(actor, action, filters, picked, version)
    now = ctx.clock.now()
    with ctx.uow(write=False) as uow:
        session = uow.session
        if picked is not None:
            found = {r[0]: r for r in session.execute(_rows().where(ProcessInstance.uuid.in_([p.id for p in picked])))}
            targets = []
            for p in picked:
                r = found.get(p.id)
                if r is None:
                    targets.append(Target(p.id, None, None, "missing", False, "it does not exist"))
                    continue
                why = _why_not(action, r[3], r[5], r[6], filters, version)
                targets.append(Target(r[0], r[1], _text(r[2]), r[3], why is None, why))
            return BulkPlan(action, True, len(picked), sum(1 for t in targets if t.applies), targets, version)
        base = filtered(select(ProcessInstance.id).join(ProcessInstance.definition), filters, now)
        matched = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        mine = _applicable(base, action, version)
        applicable = session.scalar(select(func.count()).select_from(mine.subquery())) or 0
        rows = session.execute(
            _applicable(filtered(_rows(), filters, now), action, version).order_by(ProcessInstance.id).limit(MAX_BULK)
        ).all()
    targets = [Target(r[0], r[1], _text(r[2]), r[3], True) for r in rows]
    return BulkPlan(action, False, int(matched), int(applicable), targets, version)


def run(
    ctx: EngineContext,
    actor: Actor,
    action: str,
    filters: InstanceFilter,
    reason: str = "",
    picked: Sequence[Picked] | None = None,
    version: int | None = None,
) -> BulkResult:
    """Do the action on each picked instance (or every applicable one matching the filter, at most MAX_BULK),
    each through the single action's service in its own transaction.

    Raises InvalidInput or Forbidden before touching anything; per-instance outcomes are reported, not raised.
    """
    check(actor, action, filters, picked, version, reason)
    p = plan(ctx, actor, action, filters, picked, version)
    seen = {x.id: x.revision for x in picked or []}
    items: list[BulkItem] = []
    for target in p.targets[:MAX_BULK]:
        if not target.applies:
            changed = _changed_since(ctx, target.id, seen.get(target.id))
            outcome = "conflict" if changed else "skipped"
            items.append(BulkItem(target.id, target.business_key, outcome, changed or target.why_not or ""))
            continue
        changed = _changed_since(ctx, target.id, seen.get(target.id))
        if changed:
            items.append(BulkItem(target.id, target.business_key, "conflict", changed))
            continue
        items.append(_one(ctx, actor, action, target, reason, version))
    counts = {o: sum(1 for i in items if i.outcome == o) for o in OUTCOMES}
    return BulkResult(action, p.matched, items, 0 if p.picked else p.matched - p.applicable, counts)


def _one(ctx: EngineContext, actor: Actor, action: str, target: Target, reason: str, version: int | None) -> BulkItem:
    """One instance through the single action's service; its refusal is the item's outcome."""
    try:
        if action == "cancel":
            message = instances.cancel(ctx, actor, target.id, reason).status
        elif action == "retry":
            message = instances.retry(ctx, actor, target.id, None).status
        else:
            assert version is not None  # check() refused a move without a version
            message = f"version {migration.migrate(ctx, actor, target.id, version, reason).to_version}"
    except Conflict as err:  # a race lost inside the step (its status changed, or its revision)
        return BulkItem(target.id, target.business_key, "conflict", err.message)
    except PmoflowError as err:
        return BulkItem(target.id, target.business_key, "failed", err.message)
    return BulkItem(target.id, target.business_key, "done", message)


def _changed_since(ctx: EngineContext, instance_id: str, revision: int | None) -> str | None:
    """If the instance is no longer at the revision the list showed: what changed it, and who."""
    if revision is None:
        return None
    with ctx.uow(write=False) as uow:
        session = uow.session
        row = session.execute(
            select(ProcessInstance.id, ProcessInstance.revision, ProcessInstance.status).where(
                ProcessInstance.uuid == instance_id
            )
        ).first()
        if row is None or row[1] == revision:
            return None
        last = session.execute(
            select(Event.type, Event.actor)  # the last person's act (the engine's follow-ups come after it)
            .where(Event.instance_id == row[0], Event.actor.is_not(None), Event.type != "element_completed")
            .order_by(Event.seq.desc())
            .limit(1)
        ).first()
    by = f": {last[0].replace('_', ' ')} by {last[1]}" if last else ""
    return f"it changed after the list was shown (now {row[2]}{by}); reload the list and review it"


def _text(value: object) -> str | None:
    return str(value)[:200] if value else None


__all__ = ["ACTIONS", "MAX_BULK", "BulkItem", "BulkPlan", "BulkResult", "Picked", "Target", "check", "plan", "run"]
