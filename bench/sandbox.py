"""The cost of one sandboxed evaluation, this tree against another (e.g. main) side by side.

    .venv/bin/python -m bench.sandbox [--compare /work/main] [--repeat 7] [--seconds 0.5]

Measures, in one process with no database, the microseconds per evaluation of:

- `comparison`: the gateway condition `amount > 1000 and region == 'EU'` (SandboxedEnvironment.evaluate);
- `script, fast`: a script without loops (`total = price * qty` ...), written back (execute);
- `script, loop`: a script that sums 10 order lines in a `for` loop, written back (execute);
- `comprehension`: `sum([l['qty'] for l in lines])`, an expression that is not bounded by construction;
- `dmn feel 50`: a 50-rule, 5-input FEEL decision table (bench.decisions.table_xml) evaluated by engine.dmn;
- `dmn python 50`: a 50-rule decision table whose cells are Python (3 per rule), each run by the sandbox.

Each figure is the median of `--repeat` runs of as many evaluations as fit in `--seconds` (after a
warm-up); a run of another tree is a child process with that tree first on PYTHONPATH (this file is
self-contained so that it runs against a tree that does not have it). CPU-bound: compare runs made
on the same machine at the same time (the output says how busy it was).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CASES = ("comparison", "script, fast", "script, loop", "comprehension", "dmn feel 50", "dmn python 50")
LINES = [{"qty": q, "price": 10 * q} for q in range(1, 11)]
LOOP_SCRIPT = "total = 0\nfor line in lines:\n    total = total + line['qty'] * line['price']\napproved = total < 10000"
FAST_SCRIPT = (
    "total = price * qty\napproved = total < 10000 and region == 'EU'\nlabel = 'big' if total > 500 else 'small'"
)


def python_table(rules: int) -> str:
    """A UNIQUE table with Python cells: rule r matches amounts in [r*1000, r*1000+999] in region EU."""
    cols = "".join(
        f'<input id="in_{n}" label="{n}"><inputExpression id="ie_{n}"><text>{e}</text></inputExpression></input>'
        for n, e in (("low", "amount"), ("high", "amount"), ("region", "region"))
    )
    rows = "".join(
        f'<rule id="r{r}"><inputEntry id="r{r}a"><text>&gt;= {r * 1000}</text></inputEntry>'
        f'<inputEntry id="r{r}b"><text>&lt; {r * 1000 + 1000}</text></inputEntry>'
        f"<inputEntry id=\"r{r}c\"><text>'EU'</text></inputEntry>"
        f"<outputEntry id=\"r{r}o\"><text>'tier {r}'</text></outputEntry></rule>"
        for r in range(rules)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" '
        'id="d" name="d" namespace="https://pmoflow.dev/bench" expressionLanguage="python">'
        f'<decision id="py_table" name="py_table"><decisionTable id="t" hitPolicy="UNIQUE">{cols}'
        f'<output id="out" name="tier"/>{rows}</decisionTable></decision></definitions>'
    )


def _cases() -> dict[str, Callable[[int], object]]:
    from lxml import etree

    from bench.decisions import table_xml
    from engine.dmn.compiler import compile_model
    from engine.dmn.evaluate import evaluate
    from engine.dmn.reader import read_dmn
    from engine.spiff.expressions.sandbox import SandboxedEnvironment, check_expression

    env = SandboxedEnvironment(time_limit=3.0)
    feel = compile_model(read_dmn("f.dmn", etree.fromstring(table_xml(50).encode())).models[0])
    dmn = read_dmn("p.dmn", etree.fromstring(python_table(50).encode()), lambda s: check_expression(s, "eval"))
    python = compile_model(dmn.models[0])
    data = {"amount": 1500, "region": "EU", "price": 30, "qty": 4, "lines": LINES}
    feel_inputs = {"category": "standard", "score": 50, "urgent": False, "region": "EU", "amount": 0}

    def comparison(i: int) -> object:
        return env.evaluate("amount > 1000 and region == 'EU'", data)

    def script_fast(i: int) -> object:
        return env.execute(FAST_SCRIPT, dict(data))

    def script_loop(i: int) -> object:
        return env.execute(LOOP_SCRIPT, dict(data))

    def comprehension(i: int) -> object:
        return env.evaluate("sum([l['qty'] for l in lines])", data)

    def dmn_feel(i: int) -> object:
        return evaluate(feel, {**feel_inputs, "amount": (i * 7919) % 50_000})

    def dmn_python(i: int) -> object:
        result = evaluate(python, {"amount": (i * 7919) % 50_000, "region": "EU"}, python=env)
        if not result.matched_rules:
            raise RuntimeError("the Python table matched no rule")
        return result

    return dict(zip(CASES, (comparison, script_fast, script_loop, comprehension, dmn_feel, dmn_python), strict=True))


def measure(repeat: int, seconds: float) -> dict[str, float]:
    """Median microseconds per evaluation of each case, in this process."""
    figures = {}
    for name, once in _cases().items():
        for i in range(50):  # warm up: compile caches, a worker process
            once(i)
        runs = []
        for _ in range(repeat):
            count, began = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - began) < seconds:
                once(count)
                count += 1
            runs.append(elapsed / count * 1e6)
        figures[name] = statistics.median(runs)
    return figures


def _busy() -> float:
    """The load average of the last minute per CPU (a hint of how noisy the figures are)."""
    return os.getloadavg()[0] / (os.cpu_count() or 1)


def _child(tree: Path, repeat: int, seconds: float) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    run = f"import runpy, sys; sys.argv[1:] = {['--json', f'--repeat={repeat}', f'--seconds={seconds}']!r}; "
    run += f"runpy.run_path({str(Path(__file__).resolve())!r}, run_name='__main__')"
    args = [sys.executable, "-c", run]  # sys.path[0] is `tree`: its engine and bench packages
    done = subprocess.run(args, env=env, cwd=tree, check=True, capture_output=True, text=True)  # noqa: S603
    figures: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", type=Path, help="another tree (e.g. /work/main) measured the same way")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--json", action="store_true", help="print the figures of this tree as JSON")
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps(measure(args.repeat, args.seconds)))
        return 0
    here = Path(__file__).resolve().parent.parent
    load = _busy()
    columns: list[tuple[str, dict[str, Any]]] = []
    if args.compare:
        columns.append(
            (args.compare.name or str(args.compare), _child(args.compare.resolve(), args.repeat, args.seconds))
        )
    columns.append((f"{here.name} (this tree)", _child(here, args.repeat, args.seconds)))
    if args.compare:
        columns.append((args.compare.name + " again", _child(args.compare.resolve(), args.repeat, args.seconds)))
    print(f"microseconds per evaluation, median of {args.repeat} runs of {args.seconds:g} s")
    print(f"{'case':<16}" + "".join(f"{name:>24}" for name, _ in columns))
    for case in CASES:
        print(f"{case:<16}" + "".join(f"{figures[case]:>24.1f}" for _, figures in columns))
    print(f"load per CPU: {load:.2f} before, {_busy():.2f} after (above 1: other processes competed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
