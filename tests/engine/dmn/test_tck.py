"""The DMN TCK's compliance levels 2 and 3 (vendored in tests/engine/dmn/tck/): no level may pass fewer
test cases than tests/engine/dmn/tck/baseline.json records."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from bench.tck import BASELINE, LEVELS, PASSED, ROOT, CaseResult, below_baseline, parse_value, run, same, tally
from engine.dmn.feel.temporal import parse_date_time, parse_duration


@pytest.fixture(scope="module")
def results() -> list[CaseResult]:
    """Every test case of both levels, run once for the module."""
    return list(run())


def test_every_level_passes_at_least_the_recorded_count(results: list[CaseResult]) -> None:
    counts = tally(results)
    assert set(counts) == set(LEVELS)
    baseline = json.loads(BASELINE.read_text())
    assert not below_baseline(counts, baseline), "\n".join(
        f"{r.outcome} {r.name}: {r.detail[:200]}" for r in results if r.outcome != PASSED
    )


def test_the_vendored_suite_is_whole(results: list[CaseResult]) -> None:
    assert (ROOT / "LICENSE-ASL-2.0.txt").exists()
    counts = tally(results)
    assert counts["compliance-level-2"]["total"] == 116
    assert counts["compliance-level-3"]["total"] == 3275


def _value(xml: str) -> object:
    tc = 'xmlns="http://www.omg.org/spec/DMN/20160719/testcase" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    return parse_value(etree.fromstring(xml.replace("<expected", f"<expected {tc}", 1)))


def test_typed_values_are_read_as_the_tck_encodes_them() -> None:
    assert _value('<expected><value xsi:type="xsd:decimal">1.50</value></expected>') == Decimal("1.50")
    assert _value('<expected><value xsi:nil="true"/></expected>') is None
    assert _value(
        '<expected><list><item><value xsi:type="xsd:boolean">true</value></item>'
        '<item><component name="a"><value xsi:type="xsd:duration">P1D</value></component></item></list></expected>'
    ) == [True, {"a": parse_duration("P1D")}]


@pytest.mark.parametrize(
    ("expected", "actual", "result"),
    [
        (Decimal("0.1"), Decimal("0.100000000001"), True),
        (Decimal("0.1"), Decimal("0.1001"), False),
        (Decimal(1), "1", False),
        ("1", Decimal(1), True),  # a string expected compares with the value's text, as the TCK runners do
        (None, None, True),
        (None, Decimal(0), False),
        (True, Decimal(1), False),
        ([Decimal(1)], [Decimal(1), Decimal(2)], False),
        ({"a": None}, {"a": None, "b": None}, False),
        (parse_date_time("2020-01-01T10:00:00+01:00"), parse_date_time("2020-01-01T09:00:00Z"), False),
        (parse_date_time("2020-01-01T10:00:00+01:00"), parse_date_time("2020-01-01T10:00:00+01:00"), True),
    ],
)
def test_values_compare_as_the_tck_runners_compare(expected: object, actual: object, result: bool) -> None:
    assert same(expected, actual) is result


def test_the_runner_reads_the_vendored_folder() -> None:
    assert Path(ROOT, "compliance-level-2", "0001-input-data-string", "0001-input-data-string.dmn").exists()
