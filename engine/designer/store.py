"""The drafts store: one draft row per process key, each save over the revision it names.

Only persistence lives here; `designer/drafts.py` checks, validates, imports and publishes.
A save over a stale revision is refused with a Conflict naming who saved meanwhile and when,
and nothing is written (optimistic locking on `Draft.revision`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from engine.core.context import EngineContext
from engine.core.errors import Conflict, NotFound
from engine.db.models import Draft
from engine.events import stream as audit
from engine.spiff.model.parsing import SourceFile


@dataclass(frozen=True)
class DraftView:
    id: str
    key: str
    name: str
    bpmn: str
    files: dict[str, str]
    revision: int
    base_version: int | None
    problems: list[dict[str, Any]]
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime

    @classmethod
    def of(cls, row: Draft) -> DraftView:
        return cls(
            id=row.uuid,
            key=row.key,
            name=row.name,
            bpmn=row.bpmn,
            files=dict(row.files or {}),
            revision=row.revision,
            base_version=row.base_version,
            problems=list(row.problems or []),
            created_by=row.created_by,
            created_at=row.created_at,
            updated_by=row.updated_by,
            updated_at=row.updated_at,
        )

    @property
    def bpmn_file(self) -> str:
        return f"{self.key}.bpmn"

    def source_files(self) -> list[SourceFile]:
        return [
            SourceFile(self.bpmn_file, self.bpmn.encode()),
            *(SourceFile(name, text.encode()) for name, text in sorted(self.files.items())),
        ]


def find_draft(ctx: EngineContext, key: str) -> DraftView | None:
    """The draft of `key`, or None."""
    with ctx.uow(write=False) as uow:
        row = _find(uow.session, key)
        return DraftView.of(row) if row is not None else None


def get_draft(ctx: EngineContext, key: str) -> DraftView:
    """The draft of `key`; raises NotFound."""
    with ctx.uow(write=False) as uow:
        return DraftView.of(_row(uow.session, key))


def insert_draft(
    ctx: EngineContext,
    actor: str,
    key: str,
    name: str,
    bpmn: str,
    files: dict[str, str],
    base_version: int | None,
    problems: list[dict[str, Any]],
    event: str,
    extra: dict[str, Any],
) -> DraftView:
    """Store a new draft of `key` and record `event`; raises Conflict when `key` has a draft already."""
    with ctx.uow() as uow:
        session = uow.session
        if _find(session, key) is not None:
            other = _row(session, key)
            raise Conflict(
                f"process {key!r} already has a draft (last saved by {other.updated_by}); open it instead",
                {"key": key, "updated_by": other.updated_by},
            )
        now = ctx.clock.now()
        row = Draft(
            key=key,
            name=name,
            bpmn=bpmn,
            files=files,
            base_version=base_version,
            problems=problems,
            created_by=actor,
            created_at=now,
            updated_by=actor,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        audit.record(session, event, now, actor=actor, data={"key": key, **extra})
        try:
            uow.commit()
        except IntegrityError as err:
            raise Conflict(f"process {key!r} got a draft at the same time; open it instead") from err
        return DraftView.of(row)


def save_draft(
    ctx: EngineContext,
    actor: str,
    key: str,
    revision: int,
    bpmn: str,
    files: dict[str, str],
    name: str | None,
    problems: list[dict[str, Any]],
) -> DraftView:
    """Write the draft over `revision` (a new revision even when nothing changed); `name` None or empty
    keeps the stored one. Raises Conflict when someone saved since `revision`, NotFound."""
    with ctx.uow() as uow:
        session = uow.session
        row = _row(session, key)
        check_revision(row, revision)
        row.bpmn, row.files, row.problems = bpmn, files, problems
        row.name = name or row.name
        row.updated_by, row.updated_at = actor, ctx.clock.now()
        flag_modified(row, "bpmn")  # every save is a new revision, even an unchanged one
        try:
            session.flush()
            uow.commit()
        except StaleDataError:
            raise _stale(ctx, key, revision) from None
        return DraftView.of(row)


def check_revision(draft: Draft | DraftView, revision: int) -> None:
    """Raises Conflict, naming who saved the draft and when, unless it is at `revision`."""
    if draft.revision != revision:
        raise Conflict(
            f"{draft.updated_by} saved this draft at {draft.updated_at:%Y-%m-%d %H:%M} UTC after you opened it "
            f"(revision {draft.revision}, yours is {revision}); your changes are not saved. Keep a copy "
            "(Download), reload their version, and apply your changes again.",
            {
                "key": draft.key,
                "revision": draft.revision,
                "updated_by": draft.updated_by,
                "updated_at": draft.updated_at.isoformat(),
            },
        )


def _stale(ctx: EngineContext, key: str, revision: int) -> Conflict:
    with ctx.uow(write=False) as uow:
        row = _find(uow.session, key)
        if row is None:
            return Conflict("the draft was published or discarded meanwhile; your changes are not saved", {"key": key})
        try:
            check_revision(row, revision)
        except Conflict as err:
            return err
    return Conflict("someone saved this draft at the same time; reload it", {"key": key})


def discard_draft(ctx: EngineContext, actor: str, key: str) -> None:
    """Delete the draft of `key` and record it; raises NotFound."""
    with ctx.uow() as uow:
        row = _row(uow.session, key)
        uow.session.delete(row)
        audit.record(uow.session, "draft_discarded", ctx.clock.now(), actor=actor, data={"key": key})
        uow.commit()


def drop_published(ctx: EngineContext, actor: str, key: str, revision: int, version: int, note: str) -> None:
    """Delete the draft just published as `version`, if it is still at `revision` (else keep the newer save)."""
    with ctx.uow() as uow:
        row = _find(uow.session, key)
        if row is not None and row.revision == revision:
            uow.session.delete(row)
            audit.record(
                uow.session,
                "draft_published",
                ctx.clock.now(),
                actor=actor,
                data={"key": key, "version": version, "note": note},
            )
            uow.commit()


def _find(session: Session, key: str) -> Draft | None:
    return session.scalars(select(Draft).where(Draft.key == key)).first()


def _row(session: Session, key: str) -> Draft:
    row = _find(session, key)
    if row is None:
        raise NotFound(f"process {key!r} has no draft")
    return row
