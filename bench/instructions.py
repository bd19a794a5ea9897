"""Instructions per approval instance, one layer at a time, counted by valgrind (investigation helper).

    .venv/bin/python -m bench.instructions [--database postgres] [--instances 20] [--layers spiff,flask]

The same layers as `bench.breakdown` (spiff, services, + auth, flask), run sequentially in one
Python process under `valgrind --tool=callgrind`, which counts the instructions that process
executes: the same code and inputs give the same count to a few parts in 10,000, whatever
else the machine is doing, where CPU times on a shared VM drift by 15% and more. Use it to
compare two trees (run it in each); use `bench.approval` for what the counts mean in
instances per second. It counts this process only: the database server's work is not in
it (`bench.statements` counts the statements that cause it), nor is the kernel's.

Instrumentation is off while the program starts and sets up (a scratch database, users,
tokens, the app, warm-up instances) and is switched on around each layer's measured
instances with `callgrind_control`. Needs valgrind (Debian package `valgrind`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .approval import DEFAULT_POSTGRES_URL
from .stats import table

LAYERS = ("spiff", "services", "+ auth", "flask")
WARMUP = 10
POLL = 0.05


def _wait(path: Path, child: subprocess.Popen[bytes] | None = None) -> None:
    while not path.exists():
        if child is not None and child.poll() is not None:
            raise RuntimeError(f"the measured process ended early (exit status {child.returncode})")
        time.sleep(POLL)


def _child(args: argparse.Namespace) -> int:
    """Under valgrind: set up, then for each layer say `ready-i`, wait for `go-i`, run, say `done-i`."""
    from .breakdown import _layers
    from .server import ServerOptions, Stack

    signals = Path(args.signals)
    with Stack(
        args.database, ServerOptions(workers=1, threads=1), postgres_url=args.postgres_url, serve=False
    ) as stack:
        os.environ.update(stack.env())  # create_app reads PMOFLOW_* from the environment
        layers = _layers(stack)
        for i, name in enumerate(args.layers):
            one = layers[name]
            for n in range(WARMUP):
                one(10_000 * (i + 1) + n)
            (signals / f"ready-{i}").touch()
            _wait(signals / f"go-{i}")
            for n in range(args.instances):
                one(n + 100_000 * (i + 1))
            (signals / f"done-{i}").touch()
            _wait(signals / f"next-{i}")
    return 0


def _control(pid: int, *flags: str) -> None:
    subprocess.run(["callgrind_control", *flags, str(pid)], check=True, capture_output=True)


def _totals(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def measure(database: str, layers: Sequence[str], instances: int, postgres_url: str) -> dict[str, float]:
    """Instructions per instance of each layer (this process only)."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("bench.instructions needs valgrind: apt-get install -y valgrind")
    with tempfile.TemporaryDirectory(prefix="pmoflow-instr-") as tmp:
        signals = Path(tmp)
        out = signals / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "bench.instructions",
            "--child",
            str(signals),
            "--database",
            database,
            "--instances",
            str(instances),
            "--postgres-url",
            postgres_url,
            "--layers",
            ",".join(layers),
        ]
        log = (signals / "log").open("wb")
        child = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONHASHSEED": "0"}
        )
        counts: dict[str, float] = {}
        try:
            for i, name in enumerate(layers):
                print(f"... {name}: {instances} instances under callgrind", file=sys.stderr, flush=True)
                _wait(signals / f"ready-{i}", child)
                _control(child.pid, "--instr=on")
                _control(child.pid, "--zero")
                (signals / f"go-{i}").touch()
                _wait(signals / f"done-{i}", child)
                _control(child.pid, "--dump")
                _control(child.pid, "--instr=off")
                counts[name] = _totals(out.with_name(f"{out.name}.{i + 1}")) / instances
                (signals / f"next-{i}").touch()
            if child.wait(timeout=120) != 0:
                raise RuntimeError(f"the measured process failed:\n{(signals / 'log').read_text()[-3000:]}")
        finally:
            if child.poll() is None:
                child.kill()
            log.close()
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    p.add_argument("--database", choices=("sqlite", "postgres"), default="postgres")
    p.add_argument("--instances", type=int, default=20, help="measured instances per layer")
    p.add_argument("--layers", default="spiff,flask", help=f"comma-separated, of: {', '.join(LAYERS)}")
    p.add_argument("--postgres-url", default=os.environ.get("PMOFLOW_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    p.add_argument("--child", metavar="DIR", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.layers = [name.strip() for name in args.layers.split(",") if name.strip()]
    unknown = [name for name in args.layers if name not in LAYERS]
    if unknown or not args.layers:
        p.error(f"--layers takes a comma-separated list of: {', '.join(LAYERS)}")
    if args.instances < 1:
        p.error("--instances must be at least 1")
    if args.child:
        args.signals = args.child
        return _child(args)
    counts = measure(args.database, args.layers, args.instances, args.postgres_url)
    spiff = counts.get("spiff")
    rows = [[name, f"{count / 1e6:.2f}", f"{count / spiff:.2f}" if spiff else "-"] for name, count in counts.items()]
    print(
        f"Instructions per approval instance on {args.database} (this process, callgrind), "
        f"{args.instances} instances per layer"
    )
    print(table(["layer", "M instructions", "x spiff"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
