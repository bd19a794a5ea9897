"""Evaluations per second of a 50-rule, 5-input DMN decision table, in process and through the API.

    .venv/bin/python -m bench.decisions [--rules 50] [--seconds 5] [--clients 4] [--database sqlite]

(a) engine, in process: the compiled model evaluated by engine.dmn alone (no database);
(b) service, in process: engine.definitions.decisions.evaluate (one read-only transaction per evaluation,
    the compiled model cached), on a temporary database;
(b2) app, in process: the same request as (c) as one WSGI call to the Flask app (token, schemas, service), no HTTP;
(c) HTTP API: POST /api/v1/decisions/{key}/evaluate against gunicorn on loopback (started by
    bench.server.Stack, as an operator would), from N client threads with keep-alive connections.

The table is UNIQUE and every rule tests all five inputs (a range, a comparison, a negation,
a list of strings, a boolean), so each evaluation runs about 250 unary tests; exactly one
rule matches. Prints evaluations/s of each, latencies of (c), and the ratios (a)/(c), (b)/(c), (b2)/(c);
(c) also the CPU each party spent per evaluation (gunicorn, the database, the clients) and the rate those costs
allow on this machine's CPUs if nothing else ran (compare runs by it when the machine is busy).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

from engine import bootstrap
from engine.core.config import Settings
from engine.core.permissions import SYSTEM
from engine.db.schema import upgrade
from engine.definitions import decisions, deployments
from engine.dmn.compiler import compile_model
from engine.dmn.evaluate import evaluate
from engine.dmn.reader import read_dmn
from engine.spiff.model.parsing import SourceFile

from .client import Api
from .cpu import CpuUse, window
from .server import STARTER, BenchError, ServerOptions, Stack, create_postgres_database, drop_postgres_database
from .stats import percentile

KEY = "bench_routing"
INPUTS = ("category", "score", "urgent", "region", "amount")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/pmoflow_bench_decisions"  # not bench.approval's


# ---------------------------------------------------------------- the decision table


def table_xml(rules: int) -> str:
    """A UNIQUE table over five inputs; rule r matches amounts in [r*1000..r*1000+999]."""
    columns = "".join(
        f'<input id="in_{name}" label="{name}"><inputExpression id="expr_{name}"><text>{name}</text>'
        f"</inputExpression></input>"
        for name in INPUTS
    )
    rows = []
    for r in range(rules):
        entries = [
            'not("blocked")',
            "[0..100]",
            "false" if r % 3 else "-",
            '"EU","US","APAC"',
            f"[{r * 1000}..{r * 1000 + 999}]",
        ]
        cells = "".join(
            f'<inputEntry id="r{r}_{c}"><text>{escape(t)}</text></inputEntry>' for c, t in enumerate(entries)
        )
        cells += f'<outputEntry id="r{r}_tier"><text>"tier {r}"</text></outputEntry>'
        cells += f'<outputEntry id="r{r}_points"><text>{r} * 10 + score</text></outputEntry>'
        rows.append(f'<rule id="rule_{r}">{cells}</rule>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="bench_defs" name="bench" '
        f'namespace="https://pmoflow.dev/bench"><decision id="{KEY}" name="Benchmark routing">'
        f'<decisionTable id="bench_table" hitPolicy="UNIQUE">{columns}'
        '<output id="out_tier" name="tier" typeRef="string"/>'
        '<output id="out_points" name="points" typeRef="number"/>'
        + "".join(rows)
        + "</decisionTable></decision></definitions>\n"
    )


def sample_inputs(rules: int, rng: random.Random) -> dict[str, object]:
    return {
        "category": "standard",
        "score": rng.randint(0, 100),
        "urgent": False,
        "region": "EU",
        "amount": rng.randint(0, rules * 1000 - 1),
    }


# ---------------------------------------------------------------- measuring


@dataclass
class Rate:
    name: str
    count: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu: CpuUse | None = None  # (c): who used the CPUs while it was measured
    own_cpu: float = 0.0  # (a), (b), (b2): CPU seconds of this process (PostgreSQL's own not included)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def _loop(name: str, seconds: float, once: Callable[[dict[str, object]], None], rules: int) -> Rate:
    rng = random.Random(7)
    rate = Rate(name)
    for _ in range(200):  # warm up: compile, caches, connections
        once(sample_inputs(rules, rng))
    began, cpu = time.perf_counter(), time.process_time()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        once(sample_inputs(rules, rng))
        rate.count += 1
    rate.seconds = time.perf_counter() - began
    rate.own_cpu = time.process_time() - cpu
    return rate


def measure_engine(xml: str, seconds: float, rules: int) -> Rate:
    """(a) the compiled model, evaluated by engine.dmn alone."""
    dmn = read_dmn("bench.dmn", etree.fromstring(xml.encode()))
    if dmn.problems:
        raise BenchError(f"the generated table does not read: {dmn.problems[0]}")
    compiled = compile_model(dmn.models[0])

    def once(inputs: dict[str, object]) -> None:
        evaluate(compiled, inputs)

    return _loop("(a) engine, in process", seconds, once, rules)


def measure_service(xml: str, seconds: float, rules: int, database_url: str | None) -> Rate:
    """(b) engine.definitions.decisions.evaluate against a temporary database (SQLite unless a URL is given)."""
    with tempfile.TemporaryDirectory(prefix="pmoflow-bench-decisions-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        if database_url:
            create_postgres_database(database_url)
        ctx = bootstrap.context(Settings(database_url=url, secret_key="bench-only"))
        try:
            upgrade(ctx.db)
            deployments.deploy(ctx, SYSTEM, [SourceFile("bench-routing.dmn", xml.encode())])

            def once(inputs: dict[str, object]) -> None:
                decisions.evaluate(ctx, SYSTEM, KEY, inputs)

            return _loop("(b) service, in process", seconds, once, rules)
        finally:
            ctx.db.dispose()
            if database_url:
                drop_postgres_database(database_url)


def measure_app(xml: str, args: argparse.Namespace) -> Rate:
    """(b2) the whole app in this process: one WSGI call per evaluation (bearer token, Flask, request and response
    schemas, the service), without HTTP, sockets or gunicorn; the database and token as (c) has them."""
    from webui.app import create_app  # the app reads PMOFLOW_* from the environment the stack gives

    options = ServerOptions(workers=1, threads=1)
    with (
        tempfile.TemporaryDirectory(prefix="pmoflow-bench-decisions-") as tmp,
        Stack(args.database, options, postgres_url=args.postgres_url, serve=False) as stack,
    ):
        path = Path(tmp) / "bench-routing.dmn"
        path.write_text(xml)
        stack.cli("deploy", str(path), "--name", "decision benchmark")
        saved = dict(os.environ)
        os.environ.update(stack.env())
        try:
            app = create_app()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {stack.tokens[STARTER.name]}", "CONTENT_TYPE": "application/json"}

        def once(inputs: dict[str, object]) -> None:
            body = json.dumps({"inputs": inputs}).encode()
            environ = {
                **WSGI_BASE,
                **headers,
                "PATH_INFO": f"/api/v1/decisions/{KEY}/evaluate",
                "CONTENT_LENGTH": str(len(body)),
                "wsgi.input": io.BytesIO(body),
                "wsgi.errors": sys.stderr,
            }
            status: list[str] = []
            b"".join(app(environ, lambda s, _h, *_a: status.append(s)))  # type: ignore[arg-type]
            if not status[0].startswith("200"):
                raise BenchError(f"the app answered {status[0]}")

        try:
            return _loop("(b2) app, in process", args.seconds, once, args.rules)
        finally:
            app.extensions["pmoflow"].db.dispose()


WSGI_BASE: dict[str, object] = {
    "REQUEST_METHOD": "POST",
    "SCRIPT_NAME": "",
    "QUERY_STRING": "",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "HTTP_HOST": "127.0.0.1",
    "wsgi.url_scheme": "http",
    "wsgi.multithread": True,
    "wsgi.multiprocess": True,
    "wsgi.run_once": False,
    "wsgi.version": (1, 0),
}


def measure_api(xml: str, args: argparse.Namespace) -> Rate:
    """(c) POST /api/v1/decisions/{key}/evaluate on gunicorn, from `args.clients` threads."""
    options = ServerOptions(workers=args.workers, threads=args.threads, access_log=args.access_log)
    with (
        tempfile.TemporaryDirectory(prefix="pmoflow-bench-decisions-") as tmp,
        Stack(args.database, options, postgres_url=args.postgres_url) as stack,
    ):
        path = Path(tmp) / "bench-routing.dmn"
        path.write_text(xml)
        stack.cli("deploy", str(path), "--name", "decision benchmark")
        token = stack.tokens[STARTER.name]
        return _api_clients(stack, token, args)


def _api_clients(stack: Stack, token: str, args: argparse.Namespace) -> Rate:
    rate = Rate(f"(c) HTTP API, {args.clients} clients")
    lock = threading.Lock()
    start = threading.Barrier(args.clients + 1)
    deadline: list[float] = []

    def client(number: int) -> None:
        api, rng = Api(stack.base_url), random.Random(number)
        path = f"/api/v1/decisions/{KEY}/evaluate"
        for _ in range(20):
            api.request("POST", path, token, {"inputs": sample_inputs(args.rules, rng)})
        start.wait()
        local: list[float] = []
        errors: list[str] = []
        while time.perf_counter() < deadline[0]:
            began = time.perf_counter()
            response = api.request("POST", path, token, {"inputs": sample_inputs(args.rules, rng)})
            local.append(time.perf_counter() - began)
            if response.status != 200:
                errors.append(f"{response.status} {response.text[:200]}")
        api.close()
        with lock:
            rate.latencies.extend(local)
            rate.errors.extend(errors)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    for thread in threads:
        thread.start()
    deadline.append(time.perf_counter() + args.seconds)
    began = time.perf_counter()
    with window(stack.server_pids, stack.database_pids) as cpu:
        start.wait()
        for thread in threads:
            thread.join()
    rate.seconds = time.perf_counter() - began
    rate.cpu = cpu
    rate.count = len(rate.latencies) - len(rate.errors)
    return rate


# ---------------------------------------------------------------- the command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.decisions",
        description="Evaluations/s of a decision table (rules x 5 inputs): engine and service in process, "
        "and through the HTTP API under gunicorn; prints the ratio.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--rules", type=int, default=50, help="rules in the table")
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds of each measurement")
    p.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients (threads) in (c)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    p.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite", help="database of (b) and (c)")
    p.add_argument(
        "--postgres-url",
        default=os.environ.get("PMOFLOW_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="PostgreSQL URL for --database postgres (the database is created and dropped; "
        "its name must contain 'bench')",
    )
    p.add_argument(
        "--access-log", action="store_true", help="gunicorn writes an access log line per request, as `make run` does"
    )
    p.add_argument("--no-api", action="store_true", help="skip (c), the HTTP measurement")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.rules < 1 or args.seconds <= 0 or args.clients < 1:
        print("--rules, --seconds and --clients must be positive", file=sys.stderr)
        return 2
    xml = table_xml(args.rules)
    print(
        f"decision table: {args.rules} rules x {len(INPUTS)} inputs, hit policy UNIQUE, "
        f"~{args.rules * len(INPUTS)} unary tests per evaluation; {os.cpu_count()} CPUs"
    )
    try:
        engine = measure_engine(xml, args.seconds, args.rules)
        _report(engine)
        service = measure_service(
            xml, args.seconds, args.rules, args.postgres_url if args.database == "postgres" else None
        )
        _report(service)
        app = measure_app(xml, args)
        _report(app)
        if args.no_api:
            return 0
        api = measure_api(xml, args)
    except BenchError as err:
        print(f"benchmark failed: {err}", file=sys.stderr)
        return 1
    _report(api)
    if api.per_second:
        print(
            f"ratio in process / API: engine {engine.per_second / api.per_second:.1f}x, "
            f"service {service.per_second / api.per_second:.1f}x, app {app.per_second / api.per_second:.1f}x"
        )
    return 1 if api.errors else 0


def _report(rate: Rate) -> None:
    line = f"{rate.name:<32} {rate.per_second:>10,.0f} evaluations/s  ({rate.count:,} in {rate.seconds:.1f} s"
    if rate.latencies:
        ms = [v * 1000 for v in rate.latencies]
        line += f"; p50 {percentile(ms, 50):.2f} ms, p95 {percentile(ms, 95):.2f} ms, p99 {percentile(ms, 99):.2f} ms"
    else:
        each = 1e6 / max(rate.count, 1)
        line += f"; {rate.seconds * each:.0f} us each, {rate.own_cpu * each:.0f} us of CPU"
    print(line + ")")
    if rate.cpu is not None and rate.count:
        cpu, per = rate.cpu, 1e6 / rate.count
        spent = (cpu.server + cpu.database + cpu.client) * per
        print(
            f"  CPU us per evaluation: gunicorn {cpu.server * per:.0f}, database {cpu.database * per:.0f}, "
            f"clients {cpu.client * per:.0f}; CPU-bound ceiling on {cpu.cpus} CPUs "
            f"{cpu.cpus * 1e6 / spent if spent else 0:,.0f}/s; other processes {cpu.other_share:.0%} of the machine"
        )
    for error in rate.errors[:5]:
        print(f"  error: {error}")
    if len(rate.errors) > 5:
        print(f"  ... and {len(rate.errors) - 5} more errors")


if __name__ == "__main__":
    sys.exit(main())
