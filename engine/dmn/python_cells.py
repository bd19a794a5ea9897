"""Cells written in Python, as SpiffWorkflow's DMN engine reads them, run in an injected sandbox.

This package never runs Python itself: the caller passes a `PythonRunner` (the sandbox of
engine/spiff) to evaluate and a checker to validate. An input entry is tested the way
SpiffWorkflow did: `?` stands for the input value; a complete expression (`"high"`, `5`) is
compared with `==`; anything else (`>= 100000`, `in ["a", "b"]`) is appended to the input.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any, Protocol

from engine.dmn.feel.temporal import FineDuration, FineTime, WideDate, WideDateTime, YearsMonths
from engine.dmn.feel.values import Range, decimal_to_python, to_text

INPUT_NAME = "dmninputexpr"
_QUESTION = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")  # a `?` outside quotes, as Spiff finds it

PythonCheck = Callable[[str], "str | None"]


class PythonRunner(Protocol):
    """Evaluates one Python expression over variables; raises whatever the expression raises."""

    def evaluate(self, expression: str, context: Mapping[str, Any]) -> Any: ...


def test_source(text: str) -> str:
    """The Python expression that tests an input entry against `dmninputexpr`."""
    if _QUESTION.search(text):
        return _QUESTION.sub(INPUT_NAME, text)
    try:
        ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return f"{INPUT_NAME} {text.strip()}"
    return f"{INPUT_NAME} == ({text.strip()})"


def is_any(text: str) -> bool:
    """An empty input entry or `-` accepts every value."""
    return text.strip() in ("", "-")


def check_test(text: str, check: PythonCheck) -> str | None:
    """Why an input entry is not valid Python (None if it is)."""
    return None if is_any(text) else check(test_source(text))


def to_native(value: Any) -> Any:
    """A FEEL value as the Python a Spiff-style expression expects (numbers as int/float)."""
    if isinstance(value, Decimal):
        number = decimal_to_python(value)
        return float(number) if isinstance(number, str) else number
    if isinstance(value, list):
        return [to_native(v) for v in value]
    if isinstance(value, dict):
        return {k: to_native(v) for k, v in value.items()}
    if isinstance(value, YearsMonths | Range | WideDate | WideDateTime | FineTime | FineDuration):
        return to_text(value)
    if value is None or isinstance(value, bool | str | date | time | timedelta):
        return value
    return to_text(value)
