"""Scale-out: one or two web process groups over one PostgreSQL, with and without sticky routing.

Each group is its own gunicorn (as on its own host: its own processes, each with its own warm
workflow cache); two `pmoflow worker` processes run beside them on the same database. The clients
drive the shipped 3-step approval (start + 3 completions) or the one-task process, and route each
request as a load balancer would (bench.flows.Router): to the next group in turn (`none`) or, for
requests about an instance, by a hash of its id (`instance`). Three set-ups alternate `--rounds`
times: one group; two groups without affinity; two groups with affinity. Printed per run: completed
instances/s, the cache hit rate (from every server process's `/healthz`), CPU per instance by party.

    .venv/bin/python -m bench.scaleout --duration 20 --rounds 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from .baseline import DECISION, PROCESS, STEPS, start_variables
from .flows import Flow, Measured, cpu_lines, drive
from .onetask import FLOW as ONE_TASK_FLOW
from .onetask import ONE_TASK
from .server import APPROVERS, STARTER, BenchError, ServerOptions, Stack
from .timers import start_workers, stop_workers, wait_started

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/pmoflow_bench_scaleout"
APPROVAL = Flow(
    process=PROCESS,
    steps=tuple((element, APPROVERS[element].name) for element in STEPS),
    data=dict(DECISION),
    variables=start_variables,
)
SETUPS = (
    ("one group", 1, "none"),
    ("two groups, no affinity", 2, "none"),
    ("two groups, by instance id", 2, "instance"),
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__.split("\n\n")[0])
    p.add_argument("--process", choices=("approval", "one-task"), default="approval")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--duration", type=float, default=20.0, help="seconds per measured run")
    p.add_argument("--rounds", type=int, default=2, help="runs of each set-up, alternating")
    p.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds per group before the first run")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers per group (the Dockerfile's)")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (the Dockerfile's)")
    p.add_argument("--job-workers", type=int, default=2, help="`pmoflow worker` processes beside the groups")
    p.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="its database name must contain 'bench'")
    return p


def report(m: Measured, one_group: float | None) -> str:
    hit = f"{m.hit_rate:.0%}" if m.hit_rate is not None else "-"
    versus = f", {m.rate / one_group:.2f} x one group" if one_group else ""
    lines = [
        f"{m.label}: {m.instances} instances in {m.seconds:.1f} s = {m.rate:.1f} instances/s{versus};"
        f" cache hits {m.hits}, misses {m.misses} ({hit}); errors {len(m.errors)}",
        *(f"  {line}" for line in cpu_lines(m)),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    flow = APPROVAL if args.process == "approval" else ONE_TASK_FLOW
    stack = Stack("postgres", ServerOptions(workers=args.workers, threads=args.threads), postgres_url=args.postgres_url)
    workers = []
    results: list[Measured] = []
    try:
        stack.__enter__()
        stack.cli("deploy", str(ONE_TASK), "--name", "one task")
        stack.tokens["starter"] = stack.tokens[STARTER.name]
        groups = [stack.base_url, stack.add_group()]
        logs = Path(tempfile.mkdtemp(prefix="pmoflow-bench-scaleout-"))
        workers = start_workers(stack.database_url, args.job_workers, logs)
        wait_started(logs, args.job_workers)
        worker_pids = [w.pid for w in workers]
        for url in groups:
            drive(stack, [url], flow, args.clients, args.warmup, "none", "warmup", args.workers)
        for round_ in range(1, args.rounds + 1):
            one_group = None
            for label, count, policy in SETUPS:
                m = drive(
                    stack,
                    groups[:count],
                    flow,
                    args.clients,
                    args.duration,
                    policy,
                    f"round {round_}, {label}",
                    args.workers,
                    worker_pids,
                )
                results.append(m)
                print(report(m, one_group), flush=True)
                for error in m.errors.items[:5]:
                    print(f"    error: {error}")
                one_group = one_group or m.rate
    except BenchError as err:
        print(f"benchmark failed: {err}", file=sys.stderr)
        return 1
    finally:
        stop_workers(workers)
        stack.close()
    return 1 if any(m.errors.items for m in results) else 0


if __name__ == "__main__":
    sys.exit(main())
