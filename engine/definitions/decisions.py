"""Decisions as a service: versioned DMN decisions, read and evaluated on request.

Decisions are deployed with `engine.definitions.deployments.deploy` (which calls `store_decisions`):
each decision of a DMN file becomes an immutable `(key, version)` holding its model and the
models of the decisions it requires; identical content makes no new version. Evaluating
through this service is read-only and is not recorded; evaluations inside a process are
(see the `decision_evaluated` event).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from threading import Lock
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.core.context import EngineContext, check_bounds
from engine.core.errors import DecisionFailed, InvalidInput, NotFound
from engine.core.permissions import Actor, require
from engine.db.models import DecisionDefinition, Deployment
from engine.definitions.versions import all_versions, find_version, latest_of_each, latest_version
from engine.dmn.compiled import CompiledModel
from engine.dmn.compiler import compile_model
from engine.dmn.errors import DecisionError, ModelInvalid
from engine.dmn.evaluate import evaluate as evaluate_model
from engine.dmn.expressions import DecisionTable
from engine.dmn.model import DecisionModel
from engine.events import stream as audit
from engine.spiff.extensions.decisions import DecisionResolver, PublishedDecision
from engine.spiff.model.dmn_checks import ParsedDecision

MAX_INPUTS = 500


@dataclass(frozen=True)
class DecisionView:
    """One version of a decision, as services return it."""

    id: str
    key: str
    version: int
    name: str
    deployment_id: str
    created_at: datetime
    dmn_file: str
    kind: str
    hit_policy: str | None
    language: str
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    required_decisions: list[str] = field(default_factory=list)
    tests: int = 0
    new: bool = False

    @classmethod
    def of(cls, row: DecisionDefinition, new: bool = False) -> DecisionView:
        model = DecisionModel.from_dict(row.model)
        top = model.top
        logic = top.logic
        table = logic if isinstance(logic, DecisionTable) else None
        return cls(
            id=row.uuid,
            key=row.key,
            version=row.version,
            name=row.name,
            deployment_id=row.deployment.uuid,
            created_at=row.created_at,
            dmn_file=row.dmn_file,
            kind=logic.kind,
            hit_policy=table.hit_policy if table else None,
            language=model.language(),
            inputs=[
                {"id": i.id, "label": i.label, "expression": i.expression.text, "type_ref": i.type_ref}
                for i in table.inputs
            ]
            if table
            else [],
            outputs=list(top.output_names),
            required_decisions=[d.id for d in model.decisions[:-1]],
            tests=len(top.tests),
            new=new,
        )


@dataclass(frozen=True)
class DecisionResult:
    """What one evaluation gave: outputs, the decision's matched rules, and the trace."""

    decision: str
    version: int
    outputs: dict[str, Any]
    matched_rules: list[dict[str, Any]]
    trace: list[dict[str, Any]]


# ---------------------------------------------------------------- deploying


def store_decisions(
    session: Session,
    decisions: list[ParsedDecision],
    deployment: Callable[[], Deployment],
    actor: Actor,
    now: datetime,
) -> tuple[list[DecisionView], dict[str, tuple[str, int]]]:
    """Version every parsed decision (identical content: no new version); returns views and key -> (hash, version)."""
    views, versions = [], {}
    for parsed in decisions:
        latest = _latest(session, parsed.key)
        if latest is not None and latest.content_hash == parsed.content_hash:
            views.append(DecisionView.of(latest))
            versions[parsed.key] = (parsed.content_hash, latest.version)
            continue
        row = DecisionDefinition(
            key=parsed.key,
            version=(latest.version + 1) if latest else 1,
            name=parsed.name,
            deployment=deployment(),
            content_hash=parsed.content_hash,
            dmn_file=parsed.dmn_file,
            model=parsed.model.to_dict(),
            created_at=now,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            "decision_deployed",
            now,
            actor=actor.username,
            data={"key": row.key, "version": row.version, "deployment": row.deployment.uuid, "file": row.dmn_file},
        )
        views.append(DecisionView.of(row, new=True))
        versions[parsed.key] = (parsed.content_hash, row.version)
    return views, versions


def _latest(session: Session, key: str) -> DecisionDefinition | None:
    return latest_version(session, DecisionDefinition, key)


def published_decision_resolver(ctx: EngineContext) -> DecisionResolver:
    """Finds a published decision (the latest, or a version) for business rule tasks of a new deployment."""

    def find(key: str, version: int | None) -> PublishedDecision | None:
        with ctx.uow(write=False) as uow:
            row = find_version(uow.session, DecisionDefinition, key, version)
            if row is None:
                return None
            return PublishedDecision(key=row.key, version=row.version, model=DecisionModel.from_dict(row.model))

    return find


# ---------------------------------------------------------------- reading


def list_decisions(ctx: EngineContext, actor: Actor) -> list[DecisionView]:
    """The latest version of every decision; raises Forbidden."""
    require(actor, "decision.read")
    with ctx.uow(write=False) as uow:
        rows = latest_of_each(uow.session, DecisionDefinition)
        return [DecisionView.of(r) for r in rows]


def get_decision(ctx: EngineContext, actor: Actor, key: str) -> list[DecisionView]:
    """Every version of a decision, newest first; raises NotFound, Forbidden."""
    require(actor, "decision.read")
    with ctx.uow(write=False) as uow:
        rows = all_versions(uow.session, DecisionDefinition, key)
        if not rows:
            raise NotFound(f"no decision with key {key!r}")
        return [DecisionView.of(r) for r in rows]


# The evaluation's one read, built once (building a statement costs more than running it) and run on a plain
# connection: no ORM session, no objects; the stored model is read only when the compiled cache misses.
_TABLE = DecisionDefinition.__table__
_FOUND = (_TABLE.c.id, _TABLE.c.version, _TABLE.c.content_hash)
_LATEST = select(*_FOUND).where(_TABLE.c.key == bindparam("key")).order_by(_TABLE.c.version.desc()).limit(1)
_PINNED = select(*_FOUND).where(_TABLE.c.key == bindparam("key"), _TABLE.c.version == bindparam("version"))
_MODEL = select(_TABLE.c.model).where(_TABLE.c.id == bindparam("id"))


def _compiled_version(ctx: EngineContext, key: str, version: int | None) -> tuple[int, CompiledModel]:
    """(version, compiled model) of the given or latest version of `key`, in one read-only transaction: one
    indexed query, plus the model's on the first evaluation of that content in this process; raises NotFound,
    DecisionFailed."""
    with ctx.db.connect() as conn:
        if version is None:
            row = conn.execute(_LATEST, {"key": key}).first()
        else:
            row = conn.execute(_PINNED, {"key": key, "version": version}).first()
        if row is None:
            what = f"version {version} of decision {key!r}" if version is not None else f"decision {key!r}"
            raise NotFound(f"{what} is not deployed")
        found_id, found_version, digest = row
        compiled = _COMPILED.find(digest)
        if compiled is not None:
            return found_version, compiled
        stored: dict[str, Any] = conn.execute(_MODEL, {"id": found_id}).scalar_one()
    return found_version, _COMPILED.add(digest, stored)  # compiled after the connection went back to the pool


# ---------------------------------------------------------------- evaluating


def evaluate(
    ctx: EngineContext,
    actor: Actor,
    key: str,
    inputs: Mapping[str, Any],
    version: int | None = None,
) -> DecisionResult:
    """Evaluate a deployed decision; raises Forbidden, NotFound, InvalidInput, DecisionFailed."""
    require(actor, "decision.evaluate")
    _check_inputs(inputs)
    check_bounds(inputs, ctx.limits, "inputs")
    found_version, compiled = _compiled_version(ctx, key, version)
    sandbox = ctx.script_engine.environment if ctx.script_engine is not None else None
    try:
        result = evaluate_model(
            compiled, inputs, now=ctx.clock.now, python=sandbox, time_limit=ctx.settings.script_time_limit
        )
    except DecisionError as err:
        raise DecisionFailed(str(err), err.details()) from err
    return DecisionResult(
        decision=key,
        version=found_version,
        outputs=result.outputs,
        matched_rules=[r.as_dict() for r in result.matched_rules],
        trace=[t.as_dict() for t in result.trace],
    )


def _check_inputs(inputs: object) -> None:
    if not isinstance(inputs, Mapping) or not all(isinstance(k, str) for k in inputs):
        raise InvalidInput(
            "inputs must be an object of variable names to values", {"fields": {"inputs": "not an object"}}
        )
    if len(inputs) > MAX_INPUTS:
        raise InvalidInput(f"at most {MAX_INPUTS} inputs", {"fields": {"inputs": "too many"}})


class _CompiledCache:
    """Compiled models by content hash: stored versions never change, so they can be shared."""

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[str, CompiledModel] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def find(self, digest: str) -> CompiledModel | None:
        """The compiled model of this content, if this process has compiled it."""
        with self._lock:
            compiled = self._items.get(digest)
            if compiled is not None:
                self._items.move_to_end(digest)
            return compiled

    def add(self, digest: str, stored: dict[str, Any]) -> CompiledModel:
        """Compile a stored model and keep it; raises DecisionFailed if it does not compile."""
        try:
            compiled = compile_model(DecisionModel.from_dict(stored))
        except ModelInvalid as err:
            raise DecisionFailed(f"the stored decision cannot be compiled: {err}") from err
        with self._lock:
            self._items[digest] = compiled
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return compiled


_COMPILED = _CompiledCache()
