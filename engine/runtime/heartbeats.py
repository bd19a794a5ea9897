"""Worker heartbeats in the database: how `/healthz` of any process sees every worker.

`engine.runtime.health` sees only what runs in its own process (the worker thread of `pmoflow serve`).
In production, web processes and `pmoflow worker` processes run apart, on several hosts, sharing
one database; so every worker also keeps a row in `worker_heartbeats`:

- `Heartbeat.beat` upserts it as the worker comes round: one statement, at most every
  `beat_interval` seconds of the injected clock, saying what the worker turned to then
  (``timers``, ``jobs`` or ``waiting``);
- `Heartbeat.stop` deletes it when the worker stops cleanly;
- `silent` reads, in one query, the rows whose beat is older than `worker_stale_seconds`.

A worker killed without stopping (SIGKILL, a lost host) leaves its row behind: it is reported as
silent until its beat is `GONE_AFTER` times the stale time old (10 minutes by default); from then
on it counts as gone: `/healthz` ignores it and the next worker that beats deletes it. Beats are
written with each host's clock, so keep the hosts' clocks synchronised (NTP); a skew of a second
is nothing next to the stale time.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from engine.core.context import EngineContext
from engine.db.models import WorkerHeartbeat
from engine.runtime import health

log = logging.getLogger("pmoflow.worker")

GONE_AFTER = 10  # a beat this many stale times old: the worker is gone, not stuck


def beat_interval(stale_seconds: float) -> float:
    """Seconds between two writes of a worker's row: a few, and well within the stale time."""
    return max(0.0, min(5.0, stale_seconds / 4))


class Heartbeat:
    """The heartbeat of the worker `name`: in this process (engine.runtime.health) and in the database."""

    def __init__(self, ctx: EngineContext, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self.started_at = ctx.clock.now()
        self._written: datetime | None = None
        self._purged: datetime | None = None

    def beat(self, activity: str) -> None:
        """The worker is alive and turns to `activity`; writes its row when one is due (never raises)."""
        health.beat(self.name)
        now = self.ctx.clock.now()
        stale = self.ctx.settings.worker_stale_seconds
        if _within(now, self._written, beat_interval(stale)):
            return
        purge = not _within(now, self._purged, stale)
        try:
            with self.ctx.uow() as uow:
                uow.session.execute(
                    _upsert(
                        uow.dialect,
                        {"name": self.name, "started_at": self.started_at, "beat_at": now, "activity": activity},
                    )
                )
                if purge:
                    uow.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - _gone(stale)))
                uow.commit()
        except Exception:  # noqa: BLE001 - the worker goes on; /healthz reports a database that fails
            log.warning("worker %s: writing its heartbeat failed", self.name, exc_info=True)
            return
        self._written = now
        if purge:
            self._purged = now

    def stop(self) -> None:
        """The worker stops cleanly: forget it here and delete its row (never raises)."""
        health.worker_stopped(self.name)
        try:
            with self.ctx.uow() as uow:
                uow.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.name == self.name))
                uow.commit()
        except Exception:  # noqa: BLE001 - its row turns stale, then gone
            log.warning("worker %s: deleting its heartbeat failed", self.name, exc_info=True)


def silent(ctx: EngineContext, exclude: Collection[str] = ()) -> list[dict[str, Any]]:
    """Workers (but those in `exclude`) silent for longer than `worker_stale_seconds` and not yet
    gone, in one query; [] when the table cannot be read (the database check reports that)."""
    now = ctx.clock.now()
    stale = ctx.settings.worker_stale_seconds
    row = WorkerHeartbeat
    try:
        with ctx.db.connect() as conn:
            rows = conn.execute(
                select(row.name, row.beat_at, row.activity)
                .where(row.beat_at < now - timedelta(seconds=stale), row.beat_at >= now - _gone(stale))
                .order_by(row.name)
            ).all()
    except Exception:  # noqa: BLE001 - a missing table or a failing database is no 500
        log.debug("reading worker heartbeats failed", exc_info=True)
        return []
    return [
        {
            "kind": "worker",
            "worker": name,
            "silent_seconds": round((now - beat_at).total_seconds(), 1),
            "activity": activity,
        }
        for name, beat_at, activity in rows
        if name not in exclude
    ]


def stuck(ctx: EngineContext, everywhere: bool = True) -> list[dict[str, Any]]:
    """What `/healthz` reports as stuck: this process's steps and worker (engine.runtime.health) and, with
    `everywhere`, the silent workers of every process; an empty list when all is well."""
    found: list[dict[str, Any]] = health.stuck(ctx.settings.worker_stale_seconds)
    if everywhere:
        found += silent(ctx, exclude=health.workers())
    return found


def _within(now: datetime, then: datetime | None, seconds: float) -> bool:
    return then is not None and timedelta(0) <= now - then < timedelta(seconds=seconds)


def _gone(stale_seconds: float) -> timedelta:
    return timedelta(seconds=GONE_AFTER * stale_seconds)


def _upsert(dialect: str, values: dict[str, Any]) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(WorkerHeartbeat).values(**values)
    return statement.on_conflict_do_update(
        index_elements=[WorkerHeartbeat.name],
        set_={
            "beat_at": statement.excluded.beat_at,
            "activity": statement.excluded.activity,
            "started_at": statement.excluded.started_at,
        },
    )
