"""Audit search benchmark: one search page over 1,000,000 events on PostgreSQL.

    .venv/bin/python -m bench.audit [--events 1000000] [--samples 40] [--verify-events 20000]

Seeds a fresh PostgreSQL database (created and dropped here) with events in one INSERT ... SELECT
over generate_series: 50,000 instances of 5 processes (20 events each, with business keys), 200
actors, 14 action types, one event every 30 s (about a year), comments in the data. Then times
`engine.audit.trail.search` (the service behind /audit and GET /api/v1/audit/events: query, rows
and readable summaries of a 50-event page) for typical filters and prints p50/p95/p99 and the plan
of the slowest. Target: p95 under 200 ms for a search page. The seeded rows carry placeholder
hashes (searching does not read them); `--verify-events` real chained events are written through
`engine.events.stream.record` in a second database to time `audit verify`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from engine.audit import trail as audit_trail
from engine.audit.trail import AuditFilter
from engine.core.context import EngineContext
from engine.core.permissions import Actor
from engine.events import stream as audit

from .server import scratch_context

START = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
AUDITOR = Actor("audrey", roles=frozenset({"auditor"}))
TYPES = (
    "instance_started",
    "element_completed",
    "element_completed",
    "element_completed",
    "decision_evaluated",
    "task_created",
    "task_claimed",
    "task_completed",
    "comment_added",
    "task_created",
    "task_completed",
    "element_completed",
    "sla_breached",
    "instance_completed",
)
PROCESSES = ("project-intake", "change-request", "cross-functional-handoff", "vendor-onboarding", "budget-review")
WORDS = (
    "within budget",
    "needs more detail",
    "approved for Q3",
    "see attached plan",
    "risk accepted",
    "escalate to board",
    "vendor contract signed",
    "duplicate of earlier request",
)

SEED = """
INSERT INTO events (uuid, seq, type, instance_id, instance_uuid, business_key, definition_key, definition_version,
                    task_uuid, element_id, actor, actor_kind, occurred_at, data, prev_hash, hash, search_text)
SELECT md5('e' || i)::uuid::text, i, (CAST(:types AS text[]))[1 + i % 14], i / 20 + 1, md5('i' || (i / 20))::uuid::text,
       'PRJ-' || (i / 20), (CAST(:processes AS text[]))[1 + (i / 20) % 5], 1 + (i / 20) % 3,
       md5('t' || i)::uuid::text, 'element_' || (i % 14), 'user' || ((i * 7919) % 200),
       CASE WHEN i % 10 = 0 THEN 'token' ELSE 'user' END,
       CAST(:start AS timestamptz) + (i * interval '30 seconds'),
       json_build_object('name', 'Step ' || (i % 14), 'data',
                         json_build_object('decision', 'approve', 'comment', (CAST(:words AS text[]))[1 + (i * 31) % 8]
                                           || ' #' || (i % 997))),
       md5('p' || i) || md5('q' || i), md5('h' || i) || md5('k' || i),
       'element_' || (i % 14) || ' Step ' || (i % 14) || ' approve '
       || (CAST(:words AS text[]))[1 + (i * 31) % 8] || ' #' || (i % 997)
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i
"""


def main() -> None:
    args = _parser().parse_args()
    with (
        scratch_context(args.postgres_url, "audit", START) as search_ctx,
        scratch_context(args.postgres_url, "audit_verify", START) as verify_ctx,
    ):
        t0 = time.perf_counter()
        seed(search_ctx, args.events)
        print(f"seeded {args.events:,} events in {time.perf_counter() - t0:.1f} s")
        with search_ctx.db.begin() as conn:
            conn.execute(text("ANALYZE"))
        slowest = measure(search_ctx, args.events, args.samples, random.Random(5))
        explain(search_ctx, slowest)
        if args.verify_events:
            time_verify(verify_ctx, args.verify_events)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench.audit", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=40, help="pages timed per filter")
    parser.add_argument(
        "--verify-events", type=int, default=20_000, help="real chained events written, then verified (0: skip)"
    )
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="a server where this benchmark may create and drop databases",
    )
    return parser


def seed(ctx: EngineContext, n_events: int) -> None:
    """Bulk-insert the events in batches of 200,000 rows, all in SQL."""
    params = {"types": list(TYPES), "processes": list(PROCESSES), "words": list(WORDS), "start": START}
    for first in range(1, n_events + 1, 200_000):
        with ctx.db.begin() as conn:
            conn.execute(text(SEED), {**params, "first": first, "last": min(n_events, first + 199_999)})


def filters(n_events: int, rnd: random.Random) -> dict[str, AuditFilter]:
    """Typical searches; values drawn at random on each call."""
    instances = n_events // 20
    day = START + timedelta(seconds=30 * rnd.randrange(n_events))
    return {
        "newest page": AuditFilter(),
        "business key": AuditFilter(business_key=f"PRJ-{rnd.randrange(instances)}"),
        "actor": AuditFilter(actor=f"user{rnd.randrange(200)}"),
        "action": AuditFilter(action=rnd.choice(("task_completed", "sla_breached", "decision_evaluated"))),
        "process": AuditFilter(process=rnd.choice(PROCESSES)),
        "one day": AuditFilter(since=day, until=day + timedelta(days=1)),
        "actor + month": AuditFilter(actor=f"user{rnd.randrange(200)}", since=day, until=day + timedelta(days=30)),
        "process + action + week": AuditFilter(
            process=rnd.choice(PROCESSES), action="task_completed", since=day, until=day + timedelta(days=7)
        ),
        "text (common)": AuditFilter(text=rnd.choice(WORDS)),
        "text (rare) + week": AuditFilter(text=f"#{rnd.randrange(997)}", since=day, until=day + timedelta(days=7)),
        "page 20 (keyset)": AuditFilter(before=n_events - 50 * 19),
        "instance trail": AuditFilter(instance_id=str(uuid.UUID(_md5(f"i{rnd.randrange(instances)}")))),
    }


def _md5(value: str) -> str:
    import hashlib

    return hashlib.md5(value.encode()).hexdigest()  # noqa: S324 - matches the seed's md5(), not security


def measure(ctx: EngineContext, n_events: int, samples: int, rnd: random.Random) -> AuditFilter:
    for _ in range(5):  # warm-up
        audit_trail.search(ctx, AUDITOR, AuditFilter())
    times: dict[str, list[float]] = {}
    sizes: dict[str, list[int]] = {}
    examples: dict[str, AuditFilter] = {}
    for _ in range(samples):
        for label, flt in filters(n_events, rnd).items():
            t0 = time.perf_counter()
            page = audit_trail.search(ctx, AUDITOR, flt)
            times.setdefault(label, []).append((time.perf_counter() - t0) * 1000)
            sizes.setdefault(label, []).append(len(page.items))
            examples[label] = flt
    print(f"\n{'search page (50 rows)':<28}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'rows':>7}")
    overall: list[float] = []
    for label, values in times.items():
        q = statistics.quantiles(values, n=100)
        overall += values
        print(f"{label:<28}{q[49]:>9.1f}{q[94]:>9.1f}{q[98]:>9.1f}{statistics.mean(sizes[label]):>7.0f}")
    q = statistics.quantiles(overall, n=100)
    print(f"{'all searches':<28}{q[49]:>9.1f}{q[94]:>9.1f}{q[98]:>9.1f}")
    print("\ntarget: p95 under 200 ms for a search page")
    worst = max(times, key=lambda k: statistics.quantiles(times[k], n=100)[94])
    print(f"slowest: {worst}")
    return examples[worst]


def explain(ctx: EngineContext, flt: AuditFilter) -> None:
    """EXPLAIN ANALYZE the page query of the slowest filter, so a regression is visible."""
    statement = audit_trail._query(flt).order_by(audit_trail.Event.seq.desc()).limit(flt.per_page + 1)
    sql = str(statement.compile(dialect=ctx.db.dialect, compile_kwargs={"literal_binds": True}))
    with ctx.db.connect() as conn:
        plan = conn.execute(text("EXPLAIN ANALYZE " + sql)).all()
    print("\nplan of the slowest search:")
    for line in plan:
        print("  " + line[0])


def time_verify(ctx: EngineContext, n_events: int) -> None:
    """Write `n_events` real chained events (100 per transaction) and time a full `audit verify`."""
    t0 = time.perf_counter()
    for batch in range(0, n_events, 100):
        with ctx.uow() as uow:
            for i in range(batch, min(batch + 100, n_events)):
                audit.record(
                    uow.session,
                    "task_completed",
                    START + timedelta(seconds=i),
                    actor=f"user{i % 200}",
                    data={"name": "Approval", "data": {"decision": "approve", "comment": WORDS[i % 8]}},
                )
            uow.commit()
    write = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = audit_trail.verify(ctx, AUDITOR)
    took = time.perf_counter() - t0
    assert result.ok and result.checked == n_events, result
    print(
        f"\nchained writes: {n_events:,} events in {write:.1f} s ({n_events / write:,.0f} events/s, "
        f"100 per transaction)"
    )
    print(f"audit verify: {n_events:,} events in {took:.2f} s ({n_events / took:,.0f} events/s)")


if __name__ == "__main__":
    main()
