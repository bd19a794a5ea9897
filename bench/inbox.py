"""Inbox benchmark: one user's inbox page over 100,000 open tasks, 1,000 users and 50 groups.

    .venv/bin/python -m bench.inbox [--tasks 100000] [--users 1000] [--groups 50] [--samples 300]

Seeds a fresh PostgreSQL database (created and dropped here) with users, groups (each user
in two), instances and open tasks (a fifth assigned to a person, the rest offered to a
group), then times `engine.tasks.inbox.inbox` (the query behind /tasks, count included) for random
users and filters. Prints p50/p95/p99 and the query plan of the default page. Target: p95
under 50 ms on PostgreSQL.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from engine.core.context import EngineContext
from engine.core.permissions import Actor
from engine.db.models import (
    Deployment,
    Group,
    GroupMember,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    User,
)
from engine.tasks.inbox import InboxFilter, inbox, inbox_page, inbox_query

from .server import scratch_context

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def main() -> None:
    args = _parser().parse_args()
    with scratch_context(args.postgres_url, "inbox", NOW) as ctx:
        t0 = time.perf_counter()
        memberships = seed(ctx, args.tasks, args.users, args.groups, random.Random(7))
        print(
            f"seeded {args.tasks:,} open tasks, {args.users:,} users, {args.groups} groups "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        with ctx.db.begin() as conn:  # committed, or the statistics are discarded
            conn.execute(text("ANALYZE"))
        measure(ctx, memberships, args.samples, random.Random(11))
        explain(ctx, memberships)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench.inbox", description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--samples", type=int, default=300, help="inbox pages timed")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="a server where this benchmark may create and drop a database",
    )
    return parser


def seed(ctx: EngineContext, n_tasks: int, n_users: int, n_groups: int, rnd: random.Random) -> dict[str, list[str]]:
    """Bulk-insert the data set; returns each user's groups."""
    with ctx.db.begin() as conn:
        conn.execute(
            insert(User),
            [
                {
                    "id": i + 1,
                    "username": f"user{i}",
                    "display_name": f"User {i}",
                    "roles": ["approver"],
                    "active": True,
                    "session_epoch": 0,
                    "created_at": NOW,
                }
                for i in range(n_users)
            ],
        )
        conn.execute(insert(Group), [{"id": g + 1, "name": f"Group {g}"} for g in range(n_groups)])
        memberships: dict[str, list[str]] = {}
        rows = []
        for i in range(n_users):
            groups = rnd.sample(range(n_groups), 2)
            memberships[f"user{i}"] = [f"Group {g}" for g in groups]
            rows += [{"group_id": g + 1, "user_id": i + 1} for g in groups]
        conn.execute(insert(GroupMember), rows)
        conn.execute(
            insert(Deployment),
            [{"id": 1, "uuid": str(uuid.uuid4()), "name": "bench", "lane_map": {}, "created_at": NOW}],
        )
        conn.execute(
            insert(ProcessDefinition),
            [
                {
                    "id": 1,
                    "uuid": str(uuid.uuid4()),
                    "key": "project-intake",
                    "version": 1,
                    "name": "Project intake",
                    "deployment_id": 1,
                    "content_hash": "x",
                    "bpmn_file": "x.bpmn",
                    "spec": "{}",
                    "lane_map": {},
                    "forms": {},
                    "user_tasks": [],
                    "created_at": NOW,
                }
            ],
        )
        n_instances = max(1, n_tasks // 2)
        for start in range(0, n_instances, 10_000):
            conn.execute(
                insert(ProcessInstance),
                [
                    {
                        "id": i + 1,
                        "uuid": str(uuid.uuid4()),
                        "definition_id": 1,
                        "business_key": f"PRJ-{i}",
                        "status": "running",
                        "state": "{}",
                        "variables": {"title": f"Request {i}", "budget": i * 10},
                        "revision": 1,
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for i in range(start, min(start + 10_000, n_instances))
                ],
            )
        for start in range(0, n_tasks, 10_000):
            tasks = []
            for t in range(start, min(start + 10_000, n_tasks)):
                personal = rnd.random() < 0.2
                group = f"Group {rnd.randrange(n_groups)}"
                created = NOW - timedelta(hours=rnd.randrange(1, 24 * 30))
                tasks.append(
                    {
                        "id": t + 1,
                        "uuid": str(uuid.uuid4()),
                        "instance_id": t % n_instances + 1,
                        "element_id": "approve",
                        "name": f"Approval step {t % 7}",
                        "role": group,
                        "candidate_groups": [] if personal else [group],
                        "status": "open",
                        "created_at": created,
                        "due_at": created + timedelta(days=rnd.choice([1, 2, 5, 10])) if rnd.random() < 0.8 else None,
                        "assignee": f"user{rnd.randrange(n_users)}" if personal else None,
                        "priority": 0,
                    }
                )
            conn.execute(insert(HumanTask), tasks)  # a trigger writes their task_groups rows
    return memberships


def measure(ctx: EngineContext, memberships: dict[str, list[str]], samples: int, rnd: random.Random) -> None:
    names = list(memberships)
    filters = [
        InboxFilter(),
        InboxFilter(sort="created"),
        InboxFilter(due="overdue"),
        InboxFilter(scope="mine"),
        InboxFilter(search="request 12"),
        InboxFilter(page=3),
    ]
    for _ in range(20):  # warm-up
        inbox(ctx, _actor(rnd.choice(names), memberships), InboxFilter())
    print(f"\n{'inbox page':<28}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'rows/page':>11}{'matches':>9}")
    for flt in filters:
        times, sizes, totals = [], [], []
        for _ in range(samples // len(filters)):
            actor = _actor(rnd.choice(names), memberships)
            t0 = time.perf_counter()
            page = inbox(ctx, actor, flt)
            times.append((time.perf_counter() - t0) * 1000)
            sizes.append(len(page.items))
            totals.append(page.total)
        q = statistics.quantiles(times, n=100)
        label = ", ".join(f"{k}={v}" for k, v in vars(flt).items() if v != getattr(InboxFilter(), k)) or "default"
        print(
            f"{label:<28}{q[49]:>9.1f}{q[94]:>9.1f}{q[98]:>9.1f}{statistics.mean(sizes):>11.0f}"
            f"{statistics.mean(totals):>9.0f}"
        )
    print("\ntarget: p95 under 50 ms for one user's inbox page (default filter)")


def explain(ctx: EngineContext, memberships: dict[str, list[str]]) -> None:
    """EXPLAIN ANALYZE the exact statement of a default inbox page, so a regression is visible."""
    name = next(iter(memberships))
    statement = inbox_page(inbox_query(_actor(name, memberships), InboxFilter(), NOW), InboxFilter())
    sql = str(statement.compile(dialect=ctx.db.dialect, compile_kwargs={"literal_binds": True}))
    with ctx.db.connect() as conn:
        plan = conn.execute(text("EXPLAIN ANALYZE " + sql)).all()
    print("\nplan of a default inbox page:")
    for line in plan:
        print("  " + line[0])


def _actor(name: str, memberships: dict[str, list[str]]) -> Actor:
    return Actor(name, roles=frozenset({"approver"}), groups=frozenset(memberships[name]))


if __name__ == "__main__":
    main()
