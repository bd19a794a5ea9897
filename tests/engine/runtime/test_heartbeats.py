"""engine.runtime.heartbeats: workers keep a row in worker_heartbeats that /healthz of any process reads,
on SQLite and PostgreSQL, timed by the injected clock only."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from engine.db.models import WorkerHeartbeat
from engine.runtime import health, heartbeats, jobs
from engine.runtime.heartbeats import Heartbeat
from engine.runtime.worker import Worker


def rows(ctx) -> dict[str, tuple]:
    with ctx.uow(write=False) as uow:
        return {r.name: (r.started_at, r.beat_at, r.activity) for r in uow.session.scalars(select(WorkerHeartbeat))}


def elsewhere(ctx, name: str, ago: timedelta, activity: str = "timers") -> None:
    """A worker of another process that last beat `ago`."""
    beat = Heartbeat(ctx, name)
    ctx.clock.advance(-ago)
    try:
        beat.beat(activity)
    finally:
        ctx.clock.advance(ago)
        health.worker_stopped(name)  # not this process's worker: only its row remains


def test_a_worker_round_writes_its_heartbeat_and_a_clean_stop_deletes_it(ctx, clock):
    worker = Worker(ctx)
    worker.stop.set()  # no round: nothing registers
    worker.run_forever()
    assert rows(ctx) == {}

    rounds = []

    def one_round() -> int:
        rounds.append(rows(ctx))
        worker.request_stop()
        return 0

    worker = Worker(ctx)
    worker.fire_timers = one_round  # type: ignore[method-assign]
    worker.run_forever()
    [seen] = rounds
    assert seen == {jobs.worker_id(): (clock.now(), clock.now(), "timers")}
    assert rows(ctx) == {}  # stopped cleanly: its row is gone
    assert jobs.worker_id() not in health.workers()


def test_beats_are_written_at_most_every_few_seconds(ctx, clock):
    beat = Heartbeat(ctx, "host-a:1:1")
    started = clock.now()
    try:
        beat.beat("timers")
        clock.advance(timedelta(seconds=4))
        beat.beat("jobs")  # within the interval: not written
        assert rows(ctx) == {"host-a:1:1": (started, started, "timers")}
        clock.advance(timedelta(seconds=1))
        beat.beat("waiting")
        assert rows(ctx) == {"host-a:1:1": (started, clock.now(), "waiting")}
        assert heartbeats.beat_interval(60) == 5.0 and heartbeats.beat_interval(8) == 2.0
    finally:
        beat.stop()
    assert rows(ctx) == {}


def test_a_silent_worker_elsewhere_is_reported_until_it_counts_as_gone(ctx, clock):
    stale = ctx.settings.worker_stale_seconds
    elsewhere(ctx, "host-b:7:1", timedelta(seconds=stale), "jobs")  # just at the limit: fine
    elsewhere(ctx, "host-c:8:1", timedelta(seconds=stale + 1), "timers")  # past it: silent
    elsewhere(ctx, "host-d:9:1", timedelta(seconds=10 * stale + 1))  # long dead: gone
    assert heartbeats.silent(ctx) == [
        {"kind": "worker", "worker": "host-c:8:1", "silent_seconds": stale + 1, "activity": "timers"}
    ]
    assert heartbeats.silent(ctx, exclude={"host-c:8:1"}) == []
    assert set(rows(ctx)) == {"host-b:7:1", "host-c:8:1", "host-d:9:1"}

    beat = Heartbeat(ctx, "host-e:1:1")  # the next worker that beats deletes the gone row
    try:
        beat.beat("timers")
        assert set(rows(ctx)) == {"host-b:7:1", "host-c:8:1", "host-e:1:1"}
        clock.advance(timedelta(seconds=10 * stale))
        beat.beat("timers")  # host-b and host-c are gone by now
        assert set(rows(ctx)) == {"host-e:1:1"}
    finally:
        beat.stop()


def test_a_missing_table_or_a_failing_beat_is_no_error(ctx, clock):
    """An older schema, or a database failing meanwhile (/healthz reports the database itself)."""
    with ctx.db.begin() as conn:
        conn.execute(text("DROP TABLE worker_heartbeats"))
    try:
        beat = Heartbeat(ctx, "host-f:1:1")
        beat.beat("timers")  # logged, the worker goes on
        assert "host-f:1:1" in health.workers()
        assert heartbeats.silent(ctx) == []
        assert heartbeats.stuck(ctx) == []
        beat.stop()
        assert "host-f:1:1" not in health.workers()
    finally:
        WorkerHeartbeat.__table__.create(ctx.db)  # the PostgreSQL database is shared by the session


def test_a_long_batch_of_jobs_beats_between_the_jobs(ctx, clock, monkeypatch):
    """Jobs may each take their timeout (an HTTP call): the worker beats before each, so a batch of
    them does not look like a stuck worker."""
    monkeypatch.setattr(jobs, "HANDLERS", {})

    @jobs.handler("slow")
    def slow(_ctx, _job):
        clock.advance(timedelta(seconds=40))

    worker = Worker(ctx)
    with ctx.uow() as uow:
        for _ in range(3):
            jobs.enqueue(uow.session, "slow", {}, clock.now())
        uow.commit()
    worker.heartbeat = Heartbeat(ctx, "host-g:1:1")
    started = clock.now()
    try:
        assert worker.run_jobs() == 3
        assert rows(ctx)["host-g:1:1"][1:] == (started + timedelta(seconds=80), "jobs")  # before the third
    finally:
        worker.heartbeat.stop()
