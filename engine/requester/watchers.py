"""Watching a request: anyone who may see a request can follow it and is told when it is decided.

A watcher is a row of `instance_watchers` (one per request and person). Watching and unwatching are
events (`instance_watched`, `instance_unwatched`) like every change; the notice itself is derived from
the event that decides the request (engine/notify/recipients.py, kind `watched_finished`), by each
watcher's chosen channels. The requester needs no row: they are told as the requester.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.core.errors import Conflict
from engine.core.permissions import Actor, require
from engine.db.models import ProcessInstance, Watcher
from engine.db.statements import load_instance
from engine.db.uow import rows_changed
from engine.events import stream as audit
from engine.runtime.instances import check_can_see


@dataclass(frozen=True)
class WatchState:
    """Whether the actor watches the request, and how many people do."""

    instance_id: str
    watching: bool
    watchers: int


def state(session: Session, instance: ProcessInstance, username: str) -> WatchState:
    """The actor's watch state of a loaded instance (one query)."""
    names = list(session.scalars(select(Watcher.username).where(Watcher.instance_id == instance.id)))
    return WatchState(instance.uuid, username in names, len(names))


def watch(ctx: EngineContext, actor: Actor, instance_id: str) -> WatchState:
    """Follow a request (again: nothing changes); raises NotFound, Forbidden (someone who may not see it),
    Conflict (it is decided: there is nothing left to be told)."""
    return _set(ctx, actor, instance_id, True)


def unwatch(ctx: EngineContext, actor: Actor, instance_id: str) -> WatchState:
    """Stop following a request (not watching: nothing changes); raises NotFound, Forbidden."""
    return _set(ctx, actor, instance_id, False)


def _set(ctx: EngineContext, actor: Actor, instance_id: str, on: bool) -> WatchState:
    require(actor, "instance.watch")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        session = uow.session
        instance = load_instance(session, instance_id)
        check_can_see(session, actor, instance)
        if on and instance.outcome is not None:
            raise Conflict(f"the request is {instance.outcome} already: there is nothing left to be told")
        mine = (Watcher.instance_id == instance.id) & (Watcher.username == actor.username)
        present = session.scalar(select(func.count()).select_from(Watcher).where(mine)) or 0
        if on and not present:
            session.add(Watcher(instance_id=instance.id, username=actor.username, created_at=now))
            audit.record(session, "instance_watched", now, instance=instance, actor=actor.username)
        elif not on and present:
            if rows_changed(session.execute(delete(Watcher).where(mine))):
                audit.record(session, "instance_unwatched", now, instance=instance, actor=actor.username)
        try:
            uow.commit()
        except IntegrityError:  # the same person's second click, at the same moment: already watching
            pass
    with ctx.uow(write=False) as uow:
        return state(uow.session, load_instance(uow.session, instance_id), actor.username)
