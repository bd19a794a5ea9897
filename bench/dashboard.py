"""Dashboard benchmark: the PMO dashboard and the monitor list over 100,000 instances on PostgreSQL.

    .venv/bin/python -m bench.dashboard [--instances 100000] [--samples 15]

Seeds a fresh PostgreSQL database (created and dropped here) with SQL (`generate_series`):
three processes, instances started over the last 120 days (70 % completed, 20 % running,
5 % in error, 5 % cancelled), two human tasks each (the second open while running, due two
days after creation, one decision in ten a rejection) and their group rows. Then times
`engine.monitoring.dashboard.overview` (every figure, percentiles included) for several periods and
`engine.monitoring.instances.search` (count included) for several filters. Prints p50/p95/p99.
Target: the dashboard under 1 s (p95) on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from engine.core.context import EngineContext
from engine.core.permissions import Actor
from engine.monitoring import dashboard
from engine.monitoring import instances as monitoring
from engine.monitoring.instances import InstanceFilter

from .server import scratch_context

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
PMO = Actor("pmo", roles=frozenset({"designer"}))
ROOT = Path(__file__).resolve().parent.parent
PROCESSES = (
    ("project-intake", "Project intake", "it_manager_approval", "finance_approval"),
    ("change-request", "Change request", "it_manager_review", "security_review"),
    ("cross-functional-handoff", "Cross-functional handoff", "prepare_handoff", "confirm_go_live"),
)
GROUPS = ("IT Manager", "Finance", "Security", "Operations", "PMO Director")


def main() -> None:
    args = _parser().parse_args()
    with scratch_context(args.postgres_url, "dashboard", NOW) as ctx:
        t0 = time.perf_counter()
        counts = seed(ctx, args.instances)
        print(
            f"seeded {counts['instances']:,} instances, {counts['tasks']:,} tasks, {counts['groups']:,} group rows "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        with ctx.db.begin() as conn:  # committed, or the statistics are discarded
            conn.execute(text("ANALYZE"))
        measure(ctx, args.samples)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench.dashboard", description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=15, help="timed runs of each query")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="a server where this benchmark may create and drop a database",
    )
    return parser


def seed(ctx: EngineContext, n: int) -> dict[str, int]:
    """Insert the data set with set-based SQL; returns row counts."""
    xml = (ROOT / "workflows" / "project-intake.bpmn").read_text()
    with ctx.db.begin() as conn:
        conn.execute(
            text("INSERT INTO deployments (id, uuid, name, lane_map, created_at) VALUES (1, :u, 'bench', '{}', :now)"),
            {"u": str(uuid.uuid4()), "now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO deployment_files (deployment_id, filename, kind, sha256, content) "
                "VALUES (1, 'project-intake.bpmn', 'bpmn', 'x', :xml)"
            ),
            {"xml": xml},
        )
        for i, (key, label, _, _) in enumerate(PROCESSES, 1):
            conn.execute(
                text(
                    "INSERT INTO process_definitions (id, uuid, key, version, name, deployment_id, content_hash, "
                    "bpmn_file, spec, lane_map, forms, user_tasks, created_at) VALUES (:id, :u, :key, 1, :name, 1, 'x', "
                    "'project-intake.bpmn', '{}', '{}', '{}', '[]', :now)"
                ),
                {"id": i, "u": str(uuid.uuid4()), "key": key, "name": label, "now": NOW},
            )
        conn.execute(
            text("""
            INSERT INTO process_instances (id, uuid, definition_id, business_key, status, state, variables, revision,
                                           started_by, created_at, updated_at, ended_at, error)
            SELECT i, gen_random_uuid()::text, 1 + i % 3, 'PRJ-' || i, s.status, '{}',
                   json_build_object('title', 'Request ' || i, 'budget', i * 10), 1, 'user' || (i % 40),
                   s.started, s.started, CASE WHEN s.status IN ('completed', 'cancelled')
                                              THEN s.started + make_interval(
                                                  hours => 1 + (i::bigint * 7919 % 480)::int) END,
                   CASE WHEN s.status = 'error' THEN '{"message": "seeded failure"}'::json END
            FROM (SELECT i, :now - make_interval(mins => (i::bigint * 104729 % (120 * 1440))::int) AS started,
                         CASE WHEN i % 20 = 0 THEN 'error' WHEN i % 20 = 1 THEN 'cancelled'
                              WHEN i % 10 IN (2, 3) THEN 'running' ELSE 'completed' END AS status
                  FROM generate_series(1, :n) AS i) AS s
        """),
            {"n": n, "now": NOW},
        )
        for slot in (0, 1):  # each instance's first and second human task
            conn.execute(
                text(f"""
                INSERT INTO human_tasks (uuid, instance_id, element_id, name, role, candidate_groups, status,
                                         created_at, due_at, completed_at, completed_by, data, priority)
                SELECT gen_random_uuid()::text, p.id,
                       CASE p.definition_id WHEN 1 THEN :e1_{slot} WHEN 2 THEN :e2_{slot} ELSE :e3_{slot} END,
                       'Step ' || {slot + 1}, g.name, json_build_array(g.name),
                       CASE WHEN {slot} = 1 AND p.status IN ('running', 'error') THEN 'open'
                            WHEN {slot} = 1 AND p.status = 'cancelled' THEN 'cancelled' ELSE 'completed' END,
                       p.created_at + make_interval(mins => {slot} * 30), p.created_at + interval '2 days',
                       CASE WHEN {slot} = 1 AND p.status IN ('running', 'error') THEN NULL
                            ELSE p.created_at + make_interval(
                                mins => {slot} * 30 + (p.id::bigint * 31 % 4000)::int) END,
                       'user' || (p.id % 40),
                       CASE WHEN p.id % 10 = 7 THEN '{{"decision": "reject"}}'::json
                            ELSE '{{"decision": "approve"}}'::json END, 50
                FROM process_instances p
                JOIN (SELECT ord - 1 AS k, name FROM unnest(CAST(:groups AS text[])) WITH ORDINALITY AS t(name, ord))
                     AS g ON g.k = (p.id + {slot}) % 5
            """),
                {"groups": list(GROUPS), **{f"e{i + 1}_{slot}": PROCESSES[i][2 + slot] for i in range(3)}},
            )
        conn.execute(
            text("""
            INSERT INTO task_groups (task_id, group_name, offered)
            SELECT id, role, true FROM human_tasks WHERE status = 'open'
        """)
        )
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("process_instances", "human_tasks", "task_groups")
        }
    return {"instances": counts["process_instances"], "tasks": counts["human_tasks"], "groups": counts["task_groups"]}


def _time(fn: Callable[[], Any], samples: int) -> tuple[list[float], Any]:
    fn()  # warm-up (plans, caches)
    times, result = [], None
    for _ in range(samples):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times, result


def _row(label: str, times: list[float], note: str) -> None:
    ordered = sorted(times)
    q = statistics.quantiles(ordered, n=100) if len(ordered) > 1 else ordered * 99
    print(f"{label:<44}{q[49]:>9.0f}{q[94]:>9.0f}{q[98]:>9.0f}   {note}")


def measure(ctx: EngineContext, samples: int) -> None:
    print(f"\n{'query':<44}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}   result")
    with ctx.db.connect() as conn:  # the machine's speed: one plain scan of every task
        times, n = _time(lambda: conn.execute(text("SELECT count(*) FROM human_tasks")).scalar_one(), samples)
    _row("baseline: SELECT count(*) FROM human_tasks", times, f"{n:,} rows")
    periods: list[tuple[str, date, str | None]] = [
        ("dashboard, all processes, 30 days", TODAY - timedelta(days=29), None),
        ("dashboard, all processes, 120 days", TODAY - timedelta(days=119), None),
        ("dashboard, project-intake, 120 days", TODAY - timedelta(days=119), "project-intake"),
        ("dashboard, project-intake, 7 days", TODAY - timedelta(days=6), "project-intake"),
    ]
    for label, since, process in periods:
        times, board = _time(lambda s=since, p=process: dashboard.overview(ctx, PMO, s, TODAY, p), samples)
        started = sum(p.started.value for p in board.processes)
        _row(label, times, f"{started:,} instances in the period, {len(board.steps)} steps, {len(board.groups)} groups")
    searches = [
        ("monitor list, no filter", InstanceFilter()),
        ("monitor list, process + status", InstanceFilter(process="change-request", status="running")),
        ("monitor list, overdue", InstanceFilter(overdue=True)),
        (
            "monitor list, step + overdue (heat map link)",
            InstanceFilter(process="project-intake", step="finance_approval", overdue=True),
        ),
        ("monitor list, started by + period", InstanceFilter(started_by="user7", started_from=TODAY - timedelta(30))),
        ("monitor list, rejected", InstanceFilter(rejected=True)),
    ]
    for label, flt in searches:
        times, page = _time(lambda f=flt: monitoring.search(ctx, PMO, f), samples)
        _row(label, times, f"{page.total:,} matches")
    print(
        f"\nload average while measuring: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs (anything above the CPU count means other work shared them)"
    )
    print("target: the dashboard under 1 s (p95) over 100,000 instances on PostgreSQL")


if __name__ == "__main__":
    main()
