"""Benchmark of the shipped 3-step approval: in-process baseline vs. the HTTP API, plus loop latency.

Run with `make bench` (or `.venv/bin/python -m bench.approval --help`); see bench/README.md.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import signal
import sys
import time
from collections.abc import Sequence
from importlib.metadata import version
from types import FrameType

from .baseline import BaselineResult, measure
from .cpu import CpuUse
from .load import REQUEST_KINDS, LoadResult, run_load
from .loop import LoopResult, run_loop
from .server import REPO, BenchError, ServerOptions, Stack
from .stats import LATENCY_HEADER, latency_row, ms, table

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/pmoflow_bench"
DATABASES = ("sqlite", "postgres")
RATIO_TARGET = 0.5  # (b)/(a) instances/s on PostgreSQL
LOOP_TARGET = 1.5  # p50 complete latency after the long loop / after the short one
MAX_ERRORS_SHOWN = 50


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.approval",
        description="Measure the shipped project-intake approval (budget 300,000: IT Manager, Finance, PMO "
        "Director): (a) in-process SpiffWorkflow through engine/spiff, (b) through the HTTP API under "
        "gunicorn with concurrent clients on SQLite and PostgreSQL, (c) complete-task latency of a "
        "looping instance after a short and a long history. Prints tables and the (b)/(a) ratio.",
        epilog="Each database is created for the run and dropped at the end (SQLite: a temporary file; "
        "PostgreSQL: the database named in --postgres-url, whose name must contain 'bench'). "
        "Exit status: 0, or 1 if any request failed or a result could not be verified.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients (threads) in (b)")
    run = p.add_mutually_exclusive_group()
    run.add_argument(
        "--duration", type=float, default=15.0, help="seconds to keep starting instances in (b), per database"
    )
    run.add_argument(
        "--instances",
        type=int,
        default=None,
        help="instead of --duration: run exactly this many instances in (b), per database",
    )
    p.add_argument("--warmup", type=int, default=2, help="unmeasured instances per client before (b) measures")
    p.add_argument(
        "--databases", default=",".join(DATABASES), help="comma-separated databases for (b) and (c): sqlite, postgres"
    )
    p.add_argument(
        "--postgres-url",
        default=os.environ.get("PMOFLOW_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="database to create, use and drop (env PMOFLOW_BENCH_POSTGRES_URL)",
    )
    p.add_argument("--workers", type=int, default=3, help="gunicorn worker processes on PostgreSQL")
    p.add_argument("--sqlite-workers", type=int, default=2, help="gunicorn worker processes on SQLite")
    p.add_argument("--threads", type=int, default=3, help="gunicorn threads per worker")
    p.add_argument("--baseline-instances", type=int, default=300, help="measured instances in (a)")
    p.add_argument("--skip-loop", action="store_true", help="skip (c), the loop-latency measurement")
    p.add_argument("--loop-short", type=int, default=10, help="passes of the short loop instance in (c)")
    p.add_argument("--loop-long", type=int, default=1000, help="passes of the long loop instance in (c)")
    p.add_argument("--loop-samples", type=int, default=50, help="measured completions per loop instance in (c)")
    return p


def _check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(DATABASES))
    if unknown or not kinds:
        p.error(f"--databases takes a comma-separated list of {', '.join(DATABASES)}")
    positive = (
        "clients",
        "workers",
        "sqlite_workers",
        "threads",
        "baseline_instances",
        "loop_short",
        "loop_long",
        "loop_samples",
    )
    for name in positive:
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.instances is not None and args.instances < 1:
        p.error("--instances must be at least 1")
    if args.duration <= 0:
        p.error("--duration must be positive")
    if args.loop_long <= args.loop_short:
        p.error("--loop-long must be greater than --loop-short")
    return list(dict.fromkeys(kinds))


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through every `with Stack`, so cleanup runs


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    p = _parser()
    args = p.parse_args(argv)
    kinds = _check_args(p, args)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    began = time.perf_counter()
    _print_header(args, kinds)

    progress(f"(a) baseline: {args.baseline_instances} instances in-process")
    baseline = measure(REPO / "workflows", args.baseline_instances)
    _print_baseline(baseline)

    loads: dict[str, LoadResult] = {}
    loops: dict[str, LoopResult] = {}
    try:
        for kind in kinds:
            loads[kind], loop = _run_database(kind, args)
            _print_load(loads[kind], baseline, args)
            if loop is not None:
                loops[kind] = loop
                _print_loop(loop)
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the server was stopped and the benchmark databases dropped", file=sys.stderr)
        return 130
    _print_summary(baseline, loads, loops)
    print(f"total time {time.perf_counter() - began:.0f} s")
    failures = sum(len(r.errors) for r in loads.values()) + sum(len(r.errors) for r in loops.values())
    return 1 if failures else 0


def _run_database(kind: str, args: argparse.Namespace) -> tuple[LoadResult, LoopResult | None]:
    workers = args.sqlite_workers if kind == "sqlite" else args.workers
    options = ServerOptions(workers=workers, threads=args.threads)
    began = time.perf_counter()
    progress(
        f"{kind}: creating the database, users and tokens; starting gunicorn "
        f"({workers} workers x {args.threads} threads)"
    )
    with Stack(kind, options, postgres_url=args.postgres_url) as stack:
        progress(
            f"{kind}: server up after {time.perf_counter() - began:.1f} s; "
            f"(b) {args.clients} clients, warm-up {args.warmup} instances each, then "
            + (f"{args.instances} instances" if args.instances else f"{args.duration:g} s")
        )
        load = run_load(stack, args.clients, args.duration, args.instances, args.warmup)
        loop = None
        if not args.skip_loop:
            progress(
                f"{kind}: (c) driving loop instances to {args.loop_short} and {args.loop_long} passes, "
                f"then timing {args.loop_samples} completions of each"
            )
            loop = run_loop(stack, args.loop_short, args.loop_long, args.loop_samples)
        progress(f"{kind}: stopping gunicorn and dropping the database")
    return load, loop


# ---------------------------------------------------------------- output


def _print_header(args: argparse.Namespace, kinds: list[str]) -> None:
    print("pmoflow benchmark: project-intake, budget 300,000 -> IT Manager, Finance, PMO Director approvals")
    print(
        f"  machine: {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, SpiffWorkflow {version('SpiffWorkflow')}, "
        f"SQLAlchemy {version('SQLAlchemy')}, gunicorn {version('gunicorn')}"
    )
    run = f"{args.instances} instances" if args.instances else f"{args.duration:g} s"
    print(
        f"  (b) {args.clients} clients, {run} per database after {args.warmup} warm-up instances per client; "
        f"databases: {', '.join(kinds)}"
    )
    print(
        f"  gunicorn gthread: PostgreSQL {args.workers} workers, SQLite {args.sqlite_workers} workers, "
        f"{args.threads} threads each"
    )
    print(flush=True)


def _print_baseline(result: BaselineResult) -> None:
    print("(a) Baseline: in-process SpiffWorkflow (engine/spiff adapter, sandbox, compaction, dump/load per step)")
    print(
        f"  {result.instances} instances sequentially in {result.seconds:.2f} s = {result.rate:.1f} instances/s; "
        f"state {result.state_bytes:,} bytes"
    )
    print(f"  CPU per instance {result.cpu.client * 1000 / result.instances:.1f} ms; " + _machine_note(result.cpu))
    rows = [latency_row(k, result.samples.by_kind.get(k, [])) for k in ("start", "complete", "instance")]
    print(table(["step", *LATENCY_HEADER[1:]], rows))
    print(flush=True)


def _print_load(result: LoadResult, baseline: BaselineResult, args: argparse.Namespace) -> None:
    print(f"(b) HTTP API on {result.kind}: {result.clients} clients")
    ratio = result.rate / baseline.rate
    print(
        f"  {result.instances} instances completed in {result.seconds:.2f} s = {result.rate:.1f} instances/s "
        f"({result.rate * 4:.0f} requests/s: 1 start, 3 complete each); ratio (b)/(a) = {ratio:.2f}"
        + (
            f" (target >= {RATIO_TARGET}: {'met' if ratio >= RATIO_TARGET else 'NOT met'})"
            if result.kind == "postgres"
            else ""
        )
    )
    print(f"  verified: {result.verified} of them completed with outcome 'approved'; errors: {len(result.errors)}")
    print(table(LATENCY_HEADER, result.samples.rows(REQUEST_KINDS)))
    if result.instances:
        cpu = result.cpu
        per = 1000 / result.instances
        db = f", PostgreSQL {cpu.database * per:.1f}" if result.kind == "postgres" else " (SQLite runs inside it)"
        base_ms = baseline.cpu.client * 1000 / baseline.instances
        print(
            f"  CPU per instance (ms): clients {cpu.client * per:.1f}, gunicorn {cpu.server * per:.1f}{db}; "
            f"(a) used {base_ms:.1f} on one CPU"
        )
        ours = (cpu.client + cpu.server + cpu.database) * per
        ceiling = cpu.cpus * 1000 / ours if ours else math.nan
        print(
            f"  CPU-bound ceiling if the {cpu.cpus} CPUs did nothing else: {ceiling:.1f} instances/s; "
            f"(a) on one idle CPU: {1000 / base_ms:.1f}; ratio of the two {ceiling * base_ms / 1000:.2f}"
        )
        print(f"  {_machine_note(cpu)}")
    _print_errors(result.errors.items)
    print(flush=True)


def _machine_note(cpu: CpuUse) -> str:
    note = f"machine busy {cpu.busy_share * 100:.0f}% of {cpu.cpus} CPUs, other processes {cpu.other_share * 100:.0f}%"
    if cpu.other_share > 0.05:
        note += " (NOTE: the machine was shared during this measurement; its rate is pessimistic)"
    return note


def _print_loop(result: LoopResult) -> None:
    print(f"(c) Loop latency on {result.kind}: review-loop, complete {{'again': true}}")
    rows = []
    for passes in (result.short, result.long):
        values = result.samples.by_kind.get(f"complete@{passes}", [])
        rows.append(
            [
                f"after {passes} passes",
                str(result.history.get(passes, "-")),
                str(len(values)),
                ms(result.p(passes, 50)),
                ms(result.p(passes, 95)),
                ms(max(values) if values else math.nan),
            ]
        )
    print(table(["instance", "completed tasks", "count", "p50 ms", "p95 ms", "max ms"], rows))
    if not result.errors:
        print(
            f"  ratio p50 {result.long}/{result.short} = {result.ratio:.2f} "
            f"(target <= {LOOP_TARGET}: {'met' if result.ratio <= LOOP_TARGET else 'NOT met'})"
        )
    _print_errors(result.errors.items)
    print(flush=True)


def _print_errors(items: list[str]) -> None:
    for item in items[:MAX_ERRORS_SHOWN]:
        print(f"  ERROR {item}")
    if len(items) > MAX_ERRORS_SHOWN:
        print(f"  ... and {len(items) - MAX_ERRORS_SHOWN} more errors")


def _print_summary(baseline: BaselineResult, loads: dict[str, LoadResult], loops: dict[str, LoopResult]) -> None:
    print("Summary")
    rows = [["(a) in-process", "1", f"{baseline.instances}", f"{baseline.rate:.1f}", "1.00", "-", "-"]]
    for kind, r in loads.items():
        ratio = r.rate / baseline.rate
        target = (
            ("met" if ratio >= RATIO_TARGET else "NOT met") + f" (>= {RATIO_TARGET})" if kind == "postgres" else "-"
        )
        rows.append(
            [
                f"(b) HTTP {kind}",
                str(r.clients),
                str(r.instances),
                f"{r.rate:.1f}",
                f"{ratio:.2f}",
                target,
                str(len(r.errors)),
            ]
        )
    print(table(["run", "clients", "instances", "inst/s", "vs (a)", "target", "errors"], rows))
    if loops:
        rows = []
        for kind, r in loops.items():
            ok = not r.errors
            rows.append(
                [
                    f"(c) loop {kind}",
                    ms(r.p(r.short, 50)),
                    ms(r.p(r.long, 50)),
                    f"{r.ratio:.2f}" if ok else "-",
                    (("met" if r.ratio <= LOOP_TARGET else "NOT met") + f" (<= {LOOP_TARGET})") if ok else "-",
                    str(len(r.errors)),
                ]
            )
        print()
        short, long = next(iter(loops.values())).short, next(iter(loops.values())).long
        print(table(["run", f"p50 ms @{short}", f"p50 ms @{long}", f"{long}/{short}", "target", "errors"], rows))
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main())
