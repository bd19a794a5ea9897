"""The job queue: outbox semantics, leases, retries with backoff, exactly-once outcomes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.db.models import Job
from engine.runtime import jobs

CALLS: list[tuple[str, int]] = []


@pytest.fixture(autouse=True)
def handlers(monkeypatch):
    CALLS.clear()
    registry: dict[str, jobs.JobHandler] = {}
    monkeypatch.setattr(jobs, "HANDLERS", registry)

    def note_result(ctx, session, job, result):
        job.payload = {**job.payload, "seen": result["n"]}

    @jobs.handler("echo", done=note_result)
    def echo(ctx, job):
        CALLS.append((job.uuid, job.attempt))
        return {"n": job.payload["n"]}

    def flaky_exhausted(ctx, session, job, error):
        CALLS.append(("exhausted", job.attempts))

    @jobs.handler("flaky", exhausted=flaky_exhausted)
    def flaky(ctx, job):
        CALLS.append((job.uuid, job.attempt))
        raise RuntimeError("receiver down")

    @jobs.handler("refused")
    def refused(ctx, job):
        raise jobs.PermanentFailure("410 Gone")

    @jobs.handler("later")
    def later(ctx, job):
        raise jobs.RetryLater("429", delay=timedelta(seconds=30))

    return registry


def enqueue(ctx, kind: str, **kw) -> str:
    with ctx.uow() as uow:
        job = jobs.enqueue(uow.session, kind, {"n": 1}, ctx.clock.now(), **kw)
        uow.commit()
        return job.uuid


def row(ctx, uuid: str) -> Job:
    with ctx.uow(write=False) as uow:
        job = uow.session.scalars(select(Job).where(Job.uuid == uuid)).one()
        uow.session.expunge(job)
        return job


def test_a_job_exists_only_if_its_transaction_committed(ctx):
    with ctx.uow() as uow:
        jobs.enqueue(uow.session, "echo", {"n": 1}, ctx.clock.now())
        # leaving without commit rolls back
    assert jobs.run_due(ctx) == 0 and CALLS == []


def test_a_due_job_runs_once_and_applies_its_result(ctx):
    uuid = enqueue(ctx, "echo")
    assert jobs.run_due(ctx) == 1
    assert jobs.run_due(ctx) == 0
    done = row(ctx, uuid)
    assert done.status == "done" and done.result == {"n": 1} and done.attempts == 1 and CALLS == [(uuid, 1)]


def test_a_job_waits_for_its_run_time(ctx, clock):
    uuid = enqueue(ctx, "echo", run_at=clock.now() + timedelta(minutes=5))
    assert jobs.run_due(ctx) == 0
    assert jobs.next_run_at(ctx) == clock.now() + timedelta(minutes=5)
    clock.advance(timedelta(minutes=5))
    assert jobs.run_due(ctx) == 1 and row(ctx, uuid).status == "done"


def test_failures_back_off_exponentially_then_fail_for_good(ctx, clock):
    uuid = enqueue(ctx, "flaky", max_attempts=3)
    assert jobs.run_due(ctx) == 1
    first = row(ctx, uuid)
    assert first.status == "pending" and first.run_at == clock.now() + timedelta(seconds=10)
    assert "receiver down" in first.last_error
    clock.advance(timedelta(seconds=10))
    assert jobs.run_due(ctx) == 1 and row(ctx, uuid).run_at == clock.now() + timedelta(seconds=20)
    clock.advance(timedelta(seconds=20))
    assert jobs.run_due(ctx) == 1
    failed = row(ctx, uuid)
    assert failed.status == "failed" and failed.attempts == 3 and CALLS[-1] == ("exhausted", 3)
    clock.advance(timedelta(hours=1))
    assert jobs.run_due(ctx) == 0


def test_permanent_failures_and_explicit_delays(ctx, clock):
    refused = enqueue(ctx, "refused")
    later = enqueue(ctx, "later")
    assert jobs.run_due(ctx) == 2
    assert row(ctx, refused).status == "failed" and row(ctx, refused).last_error == "410 Gone"
    assert row(ctx, later).status == "pending" and row(ctx, later).run_at == clock.now() + timedelta(seconds=30)


def test_an_expired_lease_is_claimed_again_and_the_old_outcome_is_dropped(ctx, clock):
    uuid = enqueue(ctx, "echo")
    [crashed] = jobs.claim(ctx, "host:1:dead")  # this worker dies mid-job
    assert jobs.claim(ctx, "host:2:live") == []  # its lease holds
    clock.advance(jobs.DEFAULT_LEASE + timedelta(seconds=1))
    [again] = jobs.claim(ctx, "host:2:live")
    assert again.uuid == uuid and again.attempt == 2
    assert jobs.finish(ctx, again, jobs.execute(ctx, again))
    assert not jobs.finish(ctx, crashed, jobs.Outcome(result={"n": 99}))  # too late: not ours any more
    assert row(ctx, uuid).result == {"n": 1} and row(ctx, uuid).payload["seen"] == 1


def test_concurrent_workers_run_each_job_once(ctx):
    uuids = {enqueue(ctx, "echo") for _ in range(30)}
    ran: list[int] = []
    threads = [
        threading.Thread(target=lambda i=i: ran.append(sum(iter(lambda: jobs.run_due(ctx, 3, f"w{i}"), 0))))
        for i in range(3)
    ]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sum(ran) == 30
    assert sorted(u for u, _ in CALLS) == sorted(uuids)


def test_requeue_runs_a_failed_job_again(ctx, clock):
    uuid = enqueue(ctx, "refused")
    jobs.run_due(ctx)
    with ctx.uow() as uow:
        jobs.requeue(uow.session, uow.session.scalars(select(Job).where(Job.uuid == uuid)).one(), clock.now())
        uow.commit()
    assert jobs.run_due(ctx) == 1 and row(ctx, uuid).attempts == 2


def test_release_gives_back_a_stopping_workers_leases(ctx):
    uuid = enqueue(ctx, "echo")
    jobs.claim(ctx, "w-stop")
    assert jobs.release_worker(ctx, "w-stop") == 1
    assert jobs.run_due(ctx) == 1 and row(ctx, uuid).attempts == 1
