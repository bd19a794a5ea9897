"""Deploying BPMN/DMN/form files as immutable, versioned process definitions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core.caches import DefinitionCache
from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput, NotFound
from engine.core.permissions import Actor, require
from engine.core.records import DefinitionView, DeploymentView
from engine.db.models import Deployment, DeploymentFile, ProcessDefinition
from engine.definitions.decisions import published_decision_resolver, store_decisions
from engine.definitions.versions import all_versions, find_version, latest_of_each, latest_version, version_id
from engine.events import stream as audit
from engine.sla.calendars import known_names as calendar_names
from engine.spiff.extensions.calls import PublishedProcess, Resolver
from engine.spiff.extensions.decisions import pin_decision_versions
from engine.spiff.model.builder import ParsedProcess
from engine.spiff.model.parsing import SourceFile, parse_deployment


def deploy(
    ctx: EngineContext,
    actor: Actor,
    files: Sequence[SourceFile],
    lane_map: dict[str, str] | None = None,
    name: str = "",
    note: str | None = None,
) -> DeploymentView:
    """Deploy files; identical content makes no new version. Raises DeploymentInvalid, Forbidden, Conflict."""
    require(actor, "definition.deploy")
    lane_map = _check_lane_map(lane_map or {})
    with ctx.uow(write=False) as uow:
        known_calendars = calendar_names(uow.session)
    parsed = parse_deployment(
        files,
        max_bytes=ctx.settings.max_upload_bytes,
        max_files=ctx.settings.max_deployment_files,
        calendars=known_calendars,
        published=published_resolver(ctx),
        decisions=published_decision_resolver(ctx),
        channels=set(ctx.settings.channels()),  # pmoflow:announce names one of them
    )
    with ctx.uow() as uow:
        session = uow.session
        now = ctx.clock.now()
        deployment: Deployment | None = None

        def current_deployment() -> Deployment:
            nonlocal deployment
            if deployment is None:
                deployment = _new_deployment(session, files, lane_map, name, actor, now)
                deployment.note = note or None
            return deployment

        decisions, versions = store_decisions(session, parsed.decisions, current_deployment, actor, now)
        results = []
        for process in parsed.processes:
            latest = _latest(session, process.key)
            digest = _digest(process, lane_map)
            if latest is not None and latest.content_hash == digest:
                results.append(DefinitionView.of(latest))
                continue
            deployment = current_deployment()
            row = ProcessDefinition(
                key=process.key,
                version=(latest.version + 1) if latest else 1,
                name=process.name,
                deployment=deployment,
                content_hash=digest,
                bpmn_file=process.bpmn_file,
                spec=pin_decision_versions(process.spec_json, versions),
                lane_map=lane_map,
                forms=process.forms,
                user_tasks=process.user_tasks,
                announce=process.announce,
                created_at=now,
            )
            session.add(row)
            session.flush()
            audit.record(
                session,
                "definition_deployed",
                now,
                actor=actor.username,
                data={
                    "key": row.key,
                    "version": row.version,
                    "deployment": deployment.uuid,
                    "files": list(process.files),
                    **({"note": note} if note else {}),
                },
            )
            results.append(DefinitionView.of(row, new=True))
        try:
            uow.commit()
        except IntegrityError as err:
            raise Conflict(
                "another deployment of the same process or decision happened at the same time; retry"
            ) from err
    return DeploymentView(id=deployment.uuid if deployment else None, definitions=results, decisions=decisions)


def published_resolver(ctx: EngineContext) -> Resolver:
    """Finds a published process (the latest, or a version) for call activities of a new deployment."""

    def find(key: str, version: int | None) -> PublishedProcess | None:
        with ctx.uow(write=False) as uow:
            row = find_version(uow.session, ProcessDefinition, key, version)
            if row is None:
                return None
            return PublishedProcess(
                key=row.key,
                version=row.version,
                spec_json=row.spec,
                user_tasks=list(row.user_tasks),
                forms=dict(row.forms),
                content_hash=row.content_hash,
            )

    return find


def _digest(process: ParsedProcess, lane_map: dict[str, str]) -> str:
    return hashlib.sha256((process.content_hash + json.dumps(lane_map, sort_keys=True)).encode()).hexdigest()


def _check_lane_map(lane_map: object) -> dict[str, str]:
    if not isinstance(lane_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in lane_map.items()
    ):
        raise InvalidInput("lane_map must map lane names to group names (strings)", {"field": "lane_map"})
    return dict(lane_map)


def _new_deployment(
    session: Session, files: Sequence[SourceFile], lane_map: dict[str, str], name: str, actor: Actor, now: datetime
) -> Deployment:
    deployment = Deployment(
        name=name or ", ".join(f.filename for f in files)[:200],
        lane_map=lane_map,
        created_at=now,
        created_by=actor.username,
    )
    for f in files:
        kind = f.filename.rsplit(".", 1)[-1].lower()
        deployment.files.append(
            DeploymentFile(
                filename=f.filename,
                kind=kind,
                sha256=hashlib.sha256(f.content).hexdigest(),
                content=f.content.decode("utf-8", errors="replace"),
            )
        )
    session.add(deployment)
    return deployment


def _latest(session: Session, key: str) -> ProcessDefinition | None:
    return latest_version(session, ProcessDefinition, key)


def list_definitions(ctx: EngineContext, actor: Actor) -> list[DefinitionView]:
    """The latest version of every process."""
    require(actor, "definition.read")
    with ctx.uow(write=False) as uow:
        rows = latest_of_each(uow.session, ProcessDefinition)
        return [DefinitionView.of(r) for r in rows]


def get_definition(ctx: EngineContext, actor: Actor, key: str) -> list[DefinitionView]:
    """Every version of a process, newest first; raises NotFound."""
    require(actor, "definition.read")
    with ctx.uow(write=False) as uow:
        rows = all_versions(uow.session, ProcessDefinition, key)
        if not rows:
            raise NotFound(f"no process definition with key {key!r}")
        return [DefinitionView.of(r) for r in rows]


def find_definition(session: Session, cache: DefinitionCache, key: str, version: int | None) -> ProcessDefinition:
    """The given or latest version of a process; raises NotFound naming what is missing.

    Only the id is read; the (immutable) row comes from `cache` (EngineContext.definitions)."""
    found = version_id(session, ProcessDefinition, key, version)
    row = cache.get(session, found) if found is not None else None
    if row is None:
        what = f"version {version} of process {key!r}" if version is not None else f"process {key!r}"
        raise NotFound(f"{what} is not deployed")
    return row
