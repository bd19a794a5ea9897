"""Sign-in benchmark: what server-side sessions and the shared sign-in counters cost per call.

    .venv/bin/python -m bench.signin [--calls 2000] [--redis-url redis://127.0.0.1:6379/15]

For SQLite (a temporary file) and PostgreSQL (a database created and dropped here), times:
- `session check`: `engine.admin.sessions.current`, the read every signed-in request makes (no touch
  write: the clock stands still), against `before`: the user-and-groups read the old epoch check made;
- `counter add` / `counter read`: one failed sign-in counted (two counters, account and address) and
  the check before a password, with the database counters and, given a Redis, the Redis counters.
Prints the median and p95 in microseconds per call.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engine.admin import sessions, throttle, users
from engine.bootstrap import context
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.db.models import User
from engine.db.schema import upgrade

from .server import scratch_context

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@contextmanager
def sqlite_context() -> Iterator[EngineContext]:
    with tempfile.TemporaryDirectory() as folder:
        ctx = context(Settings(database_url=f"sqlite:///{Path(folder) / 'bench.sqlite3'}"), clock=FixedClock(NOW))
        try:
            upgrade(ctx.db)
            yield ctx
        finally:
            ctx.db.dispose()


def timed(calls: int, work: Callable[[int], object]) -> tuple[float, float]:
    """Median and p95 of `work(i)` in microseconds."""
    samples = []
    for i in range(calls):
        start = time.perf_counter()
        work(i)
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def old_epoch_check(ctx: EngineContext, user_id: int) -> None:
    with ctx.uow(write=False) as uow:
        uow.session.scalars(select(User).where(User.id == user_id).options(selectinload(User.groups))).first()


def measure(name: str, ctx: EngineContext, calls: int, redis_url: str | None) -> None:
    users.create_user(ctx, "alice", "demo", ["IT Manager"], ["approver"])
    with ctx.uow(write=False) as uow:
        user_id = uow.session.scalars(select(User.id).where(User.username == "alice")).one()
    token, _ = sessions.start(ctx, user_id, "10.0.0.1", "bench")
    rows = {
        "session check (before: epoch read)": timed(calls, lambda i: old_epoch_check(ctx, user_id)),
        "session check (sessions.current)": timed(calls, lambda i: sessions.current(ctx, token)),
    }
    stores: dict[str, throttle.Counters] = {"database": throttle.DatabaseCounters(ctx)}
    if redis_url:
        stores["redis"] = throttle.RedisCounters(redis_url, f"pmoflow-bench-{name}")
    for label, store in stores.items():
        rows[f"counter add, {label} (2 counters)"] = timed(
            calls, lambda i, s=store: s.add([f"account:u{i % 50}", "address:10.0.0.1"], 1, 900)
        )
        rows[f"counter read, {label} (2 counters)"] = timed(
            calls, lambda i, s=store: s.hits([f"account:u{i % 50}", "address:10.0.0.1"], 1)
        )
        store.clear([f"account:u{i}" for i in range(50)] + ["address:10.0.0.1"], 1)
    print(f"\n{name}: {calls} calls each, microseconds per call")
    for label, (median, p95) in rows.items():
        print(f"  {label:<42} median {median:8.0f}   p95 {p95:8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    with sqlite_context() as ctx:
        measure("sqlite", ctx, args.calls, args.redis_url)
    with scratch_context(args.postgres_url, "signin", NOW) as ctx:
        measure("postgres", ctx, args.calls, args.redis_url)


if __name__ == "__main__":
    main()
