"""One user task per instance through the HTTP API on PostgreSQL: the figure beside Camunda 8's.

Camunda 8 published about 160 completed one-task instances/s on 2 dedicated CPUs (zeebe-chaos,
November 2025). Here a process with one user task (`bench/one-task.bpmn`) is started and its task
completed over HTTP by concurrent clients (2 requests per instance), served by gunicorn as the
Dockerfile runs it (2 workers x 4 threads, gthread) on PostgreSQL, clients, server and database
sharing this machine's CPUs. Each configuration (`--cache-sizes`: the warm workflow cache's size in
each server process, 0 = off) gets its own database and server; their runs alternate `--rounds`
times so machine noise hits all alike. Printed per run: completed instances/s, CPU per instance
of the server, PostgreSQL and the clients (from /proc), instances per CPU second of each, the
CPU-bound ceiling those costs allow on this machine, and the cache hit rate.

    .venv/bin/python -m bench.onetask --duration 20 --rounds 3 --cache-sizes 256,0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .flows import Flow, Measured, cpu_lines, drive
from .server import APPROVERS, STARTER, BenchError, ServerOptions, Stack
from .stats import LATENCY_HEADER, latency_row, table

ONE_TASK = Path(__file__).resolve().parent / "one-task.bpmn"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/pmoflow_bench_onetask"
TARGET = 160.0  # Camunda 8, one-task instances/s on 2 CPUs
REVIEWER = APPROVERS["it_manager_approval"].name

FLOW = Flow(
    process="one-task",
    steps=(("task", REVIEWER),),
    data={"decision": "approve"},
    variables=lambda n: {"n": n},
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.onetask", description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--duration", type=float, default=20.0, help="seconds per measured run")
    p.add_argument("--rounds", type=int, default=2, help="runs of each configuration, alternating")
    p.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds per server before the first run")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (the Dockerfile's WEB_CONCURRENCY)")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (the Dockerfile's)")
    p.add_argument("--cache-sizes", default="256,0", help="warm workflow cache size per configuration (0: off)")
    p.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="its database name must contain 'bench'")
    return p


def report(m: Measured) -> str:
    hit = f"{m.hit_rate:.0%}" if m.hit_rate is not None else "-"
    lines = [
        f"{m.label}: {m.instances} instances in {m.seconds:.1f} s = {m.rate:.1f} completed instances/s"
        f" (target {TARGET:.0f}/s: {m.rate / TARGET:.2f}); cache hits {m.hits}, misses {m.misses} ({hit});"
        f" errors {len(m.errors)}",
        *(f"  {line}" for line in cpu_lines(m)),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes = [int(s) for s in args.cache_sizes.split(",") if s.strip()]
    options = ServerOptions(workers=args.workers, threads=args.threads)
    stacks: list[tuple[str, Stack]] = []
    results: list[Measured] = []
    try:
        for size in sizes:
            url = args.postgres_url.rsplit("/", 1)
            stack = Stack(
                "postgres",
                options,
                postgres_url=f"{url[0]}/{url[1]}_cache{size}",
                environment={"PMOFLOW_WORKFLOW_CACHE_SIZE": str(size)},
            )
            stack.__enter__()
            stacks.append((f"cache {size}", stack))
            stack.cli("deploy", str(ONE_TASK), "--name", "one task")
            stack.tokens["starter"] = stack.tokens[STARTER.name]
            drive(stack, [stack.base_url], FLOW, args.clients, args.warmup, "none", "warmup", args.workers)
        for round_ in range(1, args.rounds + 1):
            for label, stack in stacks:
                m = drive(
                    stack,
                    [stack.base_url],
                    FLOW,
                    args.clients,
                    args.duration,
                    "none",
                    f"round {round_}, {label}",
                    args.workers,
                )
                results.append(m)
                print(report(m), flush=True)
                for error in m.errors.items[:5]:
                    print(f"    error: {error}")
        print()
        rows = [latency_row(m.label, m.samples.all()) for m in results]
        print(table(LATENCY_HEADER, rows))
    except BenchError as err:
        print(f"benchmark failed: {err}", file=sys.stderr)
        return 1
    finally:
        for _, stack in stacks:
            stack.close()
    return 1 if any(m.errors.items for m in results) else 0


if __name__ == "__main__":
    sys.exit(main())
