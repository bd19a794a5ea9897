"""Timers due at once: how fast do `pmoflow worker` processes fire them, and how late?

    .venv/bin/python -m bench.timers                       # 10,000 timers, 1 then 2 workers, then a steady run
    .venv/bin/python -m bench.timers --timers 2000 --steady-count 500   # a quick smoke run

PostgreSQL only (SKIP LOCKED is what lets workers share the work). For each run the benchmark
creates a database whose name contains `bench`, starts the workers, creates the instances
in bulk (one started through the engine, the others copied from it in one INSERT with their
own due time), waits until every timer fired, reads the `timer_fired` events and drops the
database. Lateness is the event's time minus the instance's due time.

The e2e test tests/e2e/test_worker_kill.py uses `prepare`, `start_workers` and `fired_count`.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from .cpu import CpuUse, window
from .stats import percentile, table

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROCESS = "timer_load"
BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="https://pmoflow.dev/bench">
<bpmn:process id="timer_load" name="Timer load" isExecutable="true">
<bpmn:startEvent id="start"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
<bpmn:intermediateCatchEvent id="wait" name="Wait"><bpmn:timerEventDefinition id="wait_def">
<bpmn:timeDate xsi:type="bpmn:tFormalExpression">due</bpmn:timeDate></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="effect"/>
<bpmn:scriptTask id="effect" name="Effect"><bpmn:script>fired = fired + 1</bpmn:script></bpmn:scriptTask>
<bpmn:sequenceFlow id="f3" sourceRef="effect" targetRef="end"/>
<bpmn:endEvent id="end"/>
</bpmn:process>
</bpmn:definitions>
"""

# Copies of the first instance, each with its own uuid, business key `load-<i>` and due time:
# the due time is replaced in the serialized state and the variables, and set in next_due_at.
CLONE = text("""
INSERT INTO process_instances (uuid, definition_id, business_key, status, state, variables, revision, started_by,
                               next_due_at, created_at, updated_at)
SELECT gen_random_uuid()::text, p.definition_id, 'load-' || g.i, p.status,
       replace(p.state, :template_due, d.iso), replace(p.variables::text, :template_due, d.iso)::json,
       p.revision, p.started_by, d.ts, p.created_at, p.updated_at
FROM process_instances p
CROSS JOIN generate_series(1, :copies) AS g(i)
CROSS JOIN LATERAL (SELECT CAST(:due AS timestamptz) + g.i * CAST(:step_us AS bigint) * interval '1 microsecond'
                    AS ts) t
CROSS JOIN LATERAL (SELECT to_char(t.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00' AS iso,
                           t.ts AS ts) d
WHERE p.business_key = 'load-0'
""")


def database_url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def create_database(admin_url: str, name: str) -> str:
    """A new, migrated database (dropping a leftover of the same name); refuses a name without 'bench'/'test'."""
    if "bench" not in name and "test" not in name:
        raise SystemExit(f"refusing to create {name!r}: the name must contain 'bench'")
    admin = create_engine(database_url(admin_url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = database_url(admin_url, name)
    from engine.db.schema import upgrade
    from engine.db.session import make_engine

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(database_url(admin_url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"


def prepare(url: str, count: int, due: datetime, spread: timedelta = timedelta(0)) -> None:
    """Deploy the timer process and create `count` instances, the i-th due at due + spread * i / count."""
    from engine.bootstrap import context
    from engine.core.config import Settings
    from engine.core.permissions import SYSTEM
    from engine.definitions import deployments
    from engine.runtime import instances
    from engine.spiff.model.parsing import SourceFile

    due = due.replace(microsecond=max(1, due.microsecond))  # keep the microseconds in every iso string
    ctx = context(Settings(database_url=url, secret_key="bench"))
    try:
        deployments.deploy(ctx, SYSTEM, [SourceFile("timer_load.bpmn", BPMN.encode())])
        instances.start(ctx, SYSTEM, PROCESS, business_key="load-0", variables={"due": iso(due), "fired": 0})
        step_us = int(spread.total_seconds() * 1_000_000 / count) if count else 0
        with ctx.db.begin() as conn:
            conn.execute(CLONE, {"template_due": iso(due), "copies": count - 1, "due": due, "step_us": step_us})
    finally:
        ctx.db.dispose()


def start_workers(url: str, count: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    """`count` `pmoflow worker` processes on `url`, logging to log_dir/worker-<i>.log."""
    env = {**os.environ, "PMOFLOW_DATABASE_URL": url, "PMOFLOW_SECRET_KEY": "bench"}
    procs = []
    for i in range(count):
        with (log_dir / f"worker-{i}.log").open("w") as log:
            procs.append(
                subprocess.Popen(
                    [str(BIN / "pmoflow"), "worker"], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
                )
            )
    return procs


def wait_started(log_dir: Path, count: int, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        logs = [p.read_text() for p in sorted(log_dir.glob("worker-*.log"))]
        if sum("worker started" in log for log in logs) >= count:
            return
        time.sleep(0.1)
    raise SystemExit("workers did not start:\n" + "\n".join(p.read_text() for p in log_dir.glob("worker-*.log")))


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fired_count(conn) -> int:  # type: ignore[no-untyped-def]
    return int(conn.execute(text("SELECT count(*) FROM events WHERE type = 'timer_fired'")).scalar_one())


@dataclass
class RunResult:
    label: str
    timers: int
    fired_per_s: float
    lateness: list[float]
    duplicates: int
    seconds: float
    cpu: CpuUse

    def cpu_ms(self, seconds: float) -> float:
        return 1000 * seconds / len(self.lateness) if self.lateness else float("nan")

    @property
    def ceiling(self) -> float:
        """Timers/s the measured CPU cost per timer (workers + PostgreSQL) allows on all CPUs, if nothing else ran."""
        per_timer = (self.cpu.server + self.cpu.database) / len(self.lateness) if self.lateness else 0.0
        return self.cpu.cpus / per_timer if per_timer else float("nan")


def run(admin_url: str, workers: int, timers: int, lead: float, spread: float, label: str, timeout: float) -> RunResult:
    name = f"pmoflow_bench_timers_{os.getpid()}"
    procs: list[subprocess.Popen[bytes]] = []
    engine = None
    try:
        url = create_database(admin_url, name)
        log_dir = Path(tempfile.mkdtemp(prefix="pmoflow-bench-timers-"))
        procs = start_workers(url, workers, log_dir)
        engine = create_engine(url)
        wait_started(log_dir, workers)
        due = datetime.now(UTC) + timedelta(seconds=lead)
        prepare(url, timers, due, timedelta(seconds=spread))
        if datetime.now(UTC) > due:
            print(f"  NOTE: creating the instances took longer than --lead {lead} s; lateness includes it")
        end = time.monotonic() + timeout
        with engine.connect() as conn:
            backends = [
                int(p)
                for p in conn.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": name}
                ).scalars()
            ]
            with window(lambda: [p.pid for p in procs], lambda: backends) as cpu:
                while fired_count(conn) < timers and time.monotonic() < end:
                    conn.rollback()
                    time.sleep(0.2)
                    backends = sorted(
                        set(backends)
                        | {
                            int(p)
                            for p in conn.execute(
                                text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": name}
                            ).scalars()
                        }
                    )
        stop_workers(procs)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT e.occurred_at, p.business_key FROM events e JOIN process_instances p ON p.id = e.instance_id "
                    "WHERE e.type = 'timer_fired'"
                )
            ).all()
            duplicates = int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM (SELECT instance_id FROM events WHERE type = 'timer_fired' "
                        "GROUP BY instance_id HAVING count(*) > 1) d"
                    )
                ).scalar_one()
            )
        due = due.replace(microsecond=max(1, due.microsecond))
        step = spread / timers if timers else 0.0
        lateness = [(at - (due + timedelta(seconds=step * int(key.split("-")[1])))).total_seconds() for at, key in rows]
        fired_at = sorted(at for at, _ in rows)
        seconds = (fired_at[-1] - fired_at[0]).total_seconds() if len(fired_at) > 1 else float("nan")
        if len(rows) < timers:
            print(f"  WARNING: only {len(rows)} of {timers} timers fired within {timeout:.0f} s; see {log_dir}")
        return RunResult(
            label, timers, len(rows) / seconds if seconds else float("nan"), lateness, duplicates, seconds, cpu
        )
    finally:
        stop_workers(procs)
        if engine is not None:
            engine.dispose()
        drop_database(admin_url, name)


def _progress(r: RunResult) -> None:
    print(
        f"  {len(r.lateness):,} fired, {r.fired_per_s:,.1f}/s, p99 late {percentile(r.lateness, 99):.2f} s, "
        f"{r.duplicates} fired twice, other load {100 * r.cpu.other_share:.0f}%",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.timers", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("PMOFLOW_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--timers", type=int, default=10_000, help="timers due at once (default 10,000)")
    parser.add_argument("--workers", default="1,2", help="worker process counts to compare (default 1,2)")
    parser.add_argument("--lead", type=float, default=8.0, help="seconds from creating to due (default 8)")
    parser.add_argument(
        "--steady-count",
        type=int,
        default=2_000,
        help="timers of the unsaturated run, spread evenly (default 2,000; 0 skips it)",
    )
    parser.add_argument(
        "--steady-rate",
        type=float,
        default=0.0,
        help="timers per second due in the unsaturated run, 1 worker (default: half the rate "
        "1 worker reached in the burst, or 20/s without one)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for one run (default 600)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so the database is dropped on SIGTERM too
    counts = [int(c) for c in args.workers.split(",") if c.strip()]
    results = []
    for n in counts:
        print(f"burst: {args.timers:,} timers due at once, {n} worker process(es) ...", flush=True)
        results.append(run(args.postgres_url, n, args.timers, args.lead, 0.0, f"burst, {n} worker(s)", args.timeout))
        _progress(results[-1])
    if args.steady_count:
        one = [r for n, r in zip(counts, results, strict=True) if n == 1]
        rate = args.steady_rate or (one[0].fired_per_s / 2 if one and one[0].fired_per_s > 0 else 20.0)
        spread = args.steady_count / rate
        print(f"steady: {args.steady_count:,} timers due over {spread:.0f} s, 1 worker ...", flush=True)
        results.append(
            run(
                args.postgres_url,
                1,
                args.steady_count,
                args.lead,
                spread,
                f"steady {rate:.0f}/s, 1 worker",
                args.timeout,
            )
        )
        _progress(results[-1])
    rows = [
        [
            r.label,
            f"{len(r.lateness):,}",
            f"{r.fired_per_s:,.0f}",
            f"{percentile(r.lateness, 50):.2f}",
            f"{percentile(r.lateness, 95):.2f}",
            f"{percentile(r.lateness, 99):.2f}",
            str(r.duplicates),
            f"{r.cpu_ms(r.cpu.server):.1f}",
            f"{r.cpu_ms(r.cpu.database):.1f}",
            f"{r.ceiling:,.0f}",
            f"{100 * r.cpu.other_share:.0f}%",
        ]
        for r in results
    ]
    print()
    print(
        table(
            [
                "run",
                "fired",
                "fired/s",
                "p50 late s",
                "p95 late s",
                "p99 late s",
                "fired twice",
                "worker CPU ms/timer",
                "PostgreSQL CPU ms/timer",
                "CPU-bound ceiling/s",
                "other load",
            ],
            rows,
        )
    )
    burst = {counts[i]: results[i] for i in range(len(counts))}
    if 1 in burst and 2 in burst:
        ratio = burst[2].fired_per_s / burst[1].fired_per_s
        print(f"\n2 workers / 1 worker: {ratio:.2f}x (target >= 1.6x)")
    steady = [r for r in results if r.label.startswith("steady")]
    if steady:
        p99 = percentile(steady[0].lateness, 99)
        print(f"p99 lateness when not saturated: {p99:.2f} s (target < 2 s)")
    print(f"CPUs: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f} (other work on the machine slows this)")
    failed = any(r.duplicates or len(r.lateness) < r.timers for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
