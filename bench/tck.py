"""The DMN TCK (github.com/dmn-tck/tck) compliance levels 2 and 3, run in process with no network.

    .venv/bin/python -m bench.tck [--level 2|3] [--failures] [--case NAME] [--check] [--record]

The test cases are vendored in tests/engine/dmn/tck/ (Apache-2.0, see its README for the TCK commit).
Each `testCase` of a `*-test-*.xml` file is one case, as in the TCK's published results: it passes
when every `resultNode` gives the expected value, compared the way the TCK's runners compare
(CompareValuesUtil of the Drools runner): numbers as decimals within 1e-8, text exactly, booleans,
lists item by item, contexts key by key, temporal values of the same kind and value (offset and zone
included), null. A `resultNode` marked `errorResult` passes when the decision fails or gives null.

A case is "skipped" when its model is refused at deploy (every case of the file) or it invokes a
decision service of a file refused; skipped cases are not passed. `--check` exits 1 when a level passes fewer cases than
recorded in tests/engine/dmn/tck/baseline.json; `--record` writes today's figures there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time as clock
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from lxml import etree

from engine.dmn.compiled import CompiledModel
from engine.dmn.compiler import compile_model
from engine.dmn.errors import DecisionError, ModelInvalid
from engine.dmn.evaluate import evaluate
from engine.dmn.feel import FeelError
from engine.dmn.feel.temporal import YearsMonths, parse_date, parse_date_time, parse_duration, parse_time
from engine.dmn.feel.values import to_text
from engine.dmn.model import DecisionModel
from engine.dmn.reader import read_dmn

ROOT = Path(__file__).resolve().parent.parent / "tests" / "engine" / "dmn" / "tck"
BASELINE = ROOT / "baseline.json"
LEVELS = ("compliance-level-2", "compliance-level-3")
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
TOLERANCE = Decimal("0.00000001")
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass(frozen=True)
class CaseResult:
    level: str
    folder: str
    file: str
    case: str
    outcome: str
    detail: str = ""

    @property
    def name(self) -> str:
        return f"{self.folder}/{self.file}#{self.case}"


class Unparsed:
    """An expected temporal value our types cannot hold (compared by its text)."""

    def __init__(self, kind: str, text: str) -> None:
        self.kind, self.text = kind, text

    def __repr__(self) -> str:
        return f"{self.kind}({self.text!r})"


# ---------------------------------------------------------------- reading the test files


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _local(c) == name]


_SCALARS: dict[str, Any] = {
    "string": lambda t: t,
    "boolean": lambda t: t.strip() == "true",
    "decimal": Decimal,
    "double": Decimal,
    "float": Decimal,
    "int": Decimal,
    "integer": Decimal,
    "long": Decimal,
    "date": parse_date,
    "time": parse_time,
    "dateTime": parse_date_time,
    "duration": parse_duration,
}


def parse_value(node: etree._Element) -> Any:
    """The typed value a TCK `inputNode`, `expected`, `component`, `item` or `value` element holds."""
    if node.get(f"{XSI}nil") == "true":
        return None
    lists = _children(node, "list")
    if lists:
        return [parse_value(item) for item in _children(lists[0], "item")]
    components = _children(node, "component")
    if components:
        return {c.get("name", ""): parse_value(c) for c in components}
    values = _children(node, "value")
    if values:
        return parse_value(values[0])
    if _local(node) != "value":
        return None
    kind = (node.get(f"{XSI}type") or "xsd:string").partition(":")[2] or "string"
    text = node.text or ""
    convert = _SCALARS.get(kind)
    if convert is None:
        return text
    try:
        return convert(text)
    except (FeelError, InvalidOperation, ValueError):
        return Unparsed(kind, text.strip())


# ---------------------------------------------------------------- comparing


def same(expected: Any, actual: Any) -> bool:
    """Whether `actual` (a FEEL value) is what the TCK expects."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, Unparsed):
        return not isinstance(actual, str | bool | Decimal | list | dict) and to_text(actual) == expected.text
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, Decimal):
        return isinstance(actual, Decimal) and abs(expected - actual) < TOLERANCE
    if isinstance(expected, str) or isinstance(actual, str):
        return isinstance(expected, str) and to_text(actual) == expected
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(same, expected, actual))
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(same(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, date | time | timedelta | YearsMonths):
        return type(expected) is type(actual) and expected == actual and to_text(expected) == to_text(actual)
    return bool(expected == actual)


# ---------------------------------------------------------------- running


class _Model:
    """One DMN file, read and compiled once per decision name."""

    def __init__(self, path: Path) -> None:
        self.refused = ""
        self.models: dict[str, DecisionModel] = {}
        self.compiled: dict[str, CompiledModel] = {}
        files = {p.name: etree.fromstring(p.read_bytes(), _parser()) for p in sorted(path.parent.glob("*.dmn"))}
        read = read_dmn(path.name, files[path.name], None, files)  # the folder's other files: its imports
        if read.problems:
            self.refused = "; ".join(str(p) for p in read.problems[:3])
            return
        for model in read.models:
            self.models[model.top.name] = model

    def decision(self, name: str) -> CompiledModel:
        """The compiled model whose top decision is called `name`; raises KeyError or ModelInvalid."""
        if name not in self.compiled:
            self.compiled[name] = compile_model(self.models[name])
        return self.compiled[name]


def _result(model: _Model, name: str, inputs: Mapping[str, Any]) -> Any:
    """The value of decision `name` over `inputs`; raises DecisionError (or KeyError for no such decision)."""
    evaluation = evaluate(model.decision(name), inputs)
    return evaluation.value


def _run_case(model: _Model, case: etree._Element) -> tuple[str, str]:
    service = case.get("invocableName") if case.get("type") == "decisionService" else None
    inputs = {node.get("name", ""): parse_value(node) for node in _children(case, "inputNode")}
    problems = []
    for node in _children(case, "resultNode"):
        name = node.get("name", "")
        expected_nodes = _children(node, "expected")
        expected = parse_value(expected_nodes[0]) if expected_nodes else None
        error = node.get("errorResult") == "true"
        try:
            actual = _result(model, service or name, inputs)
            if service and isinstance(actual, dict) and name in actual:  # a service with several outputs
                actual = actual[name]
        except KeyError:
            problems.append(f"{name}: no such decision")
            continue
        except (DecisionError, ModelInvalid) as err:
            if not error:
                problems.append(f"{name}: {err}")
            continue
        except (FeelError, ArithmeticError, ValueError, TypeError, RecursionError) as err:
            problems.append(f"{name}: {type(err).__name__}: {err}")
            continue
        if not same(expected, actual):
            problems.append(f"{name}: expected {_show(expected)}, got {_show(actual)}")
    return (FAILED, " | ".join(problems)) if problems else (PASSED, "")


def _show(value: Any) -> str:
    if isinstance(value, Unparsed):
        return repr(value)
    try:
        return to_text(value, 300) if not isinstance(value, str) else repr(value)
    except FeelError:
        return repr(value)[:300]


def run(levels: tuple[str, ...] = LEVELS, folder: str | None = None, root: Path = ROOT) -> Iterator[CaseResult]:
    """Every test case of the given levels, in folder order."""
    for level in levels:
        for directory in sorted((root / level).iterdir()):
            if folder and folder not in directory.name:
                continue
            for test_file in sorted(directory.glob("*-test-*.xml")):
                tests = etree.fromstring(test_file.read_bytes(), _parser())
                model_names = [m.text or "" for m in tests if _local(m) == "modelName"]
                models_path = directory / (model_names[0].strip() if model_names else "")
                model = _Model(models_path)
                for case in _children(tests, "testCase"):
                    where = (level, directory.name, test_file.name, case.get("id", ""))
                    if model.refused:
                        yield CaseResult(*where, SKIPPED, f"model refused: {model.refused}")
                        continue
                    outcome, detail = _run_case(model, case)
                    yield CaseResult(*where, outcome, detail)


def tally(results: list[CaseResult]) -> dict[str, dict[str, int]]:
    """Passed, failed and skipped per level."""
    counts: dict[str, Counter[str]] = {level: Counter() for level in LEVELS}
    for result in results:
        counts[result.level][result.outcome] += 1
    return {
        level: {k: c[k] for k in (PASSED, FAILED, SKIPPED)} | {"total": sum(c.values())}
        for level, c in counts.items()
        if c
    }


def below_baseline(counts: Mapping[str, Mapping[str, int]], baseline: Mapping[str, Any]) -> list[str]:
    """The levels passing fewer cases than recorded, described."""
    return [
        f"{level}: {counts[level][PASSED]} passed, fewer than the {recorded} recorded"
        for level, recorded in baseline.get("passed", {}).items()
        if level in counts and counts[level][PASSED] < recorded
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tck", description=__doc__.split("\n")[0])
    parser.add_argument("--level", choices=("2", "3"), action="append", help="a compliance level (default: both)")
    parser.add_argument("--case", help="only folders whose name contains this text")
    parser.add_argument("--failures", action="store_true", help="list every case that did not pass, with why")
    parser.add_argument("--check", action="store_true", help="exit 1 if a level passes fewer cases than recorded")
    parser.add_argument("--record", action="store_true", help="record today's pass counts in baseline.json")
    args = parser.parse_args(argv)
    levels = tuple(f"compliance-level-{n}" for n in args.level) if args.level else LEVELS
    started = clock.perf_counter()
    results = list(run(levels, args.case))
    if args.failures:
        for result in results:
            if result.outcome != PASSED:
                print(f"{result.outcome.upper():8} {result.name}: {result.detail[:400]}")
    counts = tally(results)
    for level, figures in counts.items():
        print(
            f"{level}: {figures[PASSED]} passed, {figures[FAILED]} failed, {figures[SKIPPED]} skipped"
            f" of {figures['total']}"
        )
    print(f"({clock.perf_counter() - started:.1f} s)")
    if args.record:
        if args.case:
            parser.error("--record needs every folder (no --case)")
        recorded = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
        recorded["passed"] = dict(recorded.get("passed", {})) | {lvl: f[PASSED] for lvl, f in counts.items()}
        BASELINE.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    if args.check and not args.case and (drops := below_baseline(counts, json.loads(BASELINE.read_text()))):
        print("\n".join(drops), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
