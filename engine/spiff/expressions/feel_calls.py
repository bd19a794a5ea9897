"""FEEL inside the sandbox: the `feel("...")` call that deployed FEEL expressions become.

At deploy a FEEL expression (Camunda 8's `=...`, or a `language` naming FEEL) is checked with
engine.dmn.feel and turned into the sandbox Python `feel('<the FEEL text>')`. At run time the
sandbox calls `evaluate` with the task data of the expression being evaluated: the FEEL text is
compiled once per process (cached by its text), the data becomes the FEEL context, and the
result comes back as plain JSON-able Python (numbers as int/float, dates and durations as ISO
text). FEEL never reaches eval/exec.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

from engine.dmn.feel import CompiledExpression, EvalState, FeelError, FeelSyntaxError, compile_expression, to_python
from engine.spiff.expressions.deadline import Watchdog, current

CALL_NAME = "feel"


def call_source(feel_text: str, names: tuple[str, ...] = ()) -> str:
    """The sandbox Python that evaluates `feel_text` (already checked); `names`: its multi-word names."""
    used = tuple(sorted(n for n in set(names) if n in feel_text))
    return f"{CALL_NAME}({feel_text!r}, {list(used)!r})" if used else f"{CALL_NAME}({feel_text!r})"


@functools.lru_cache(maxsize=4096)
def compiled(source: str, names: tuple[str, ...] = ()) -> CompiledExpression:
    """The FEEL text compiled once; raises FeelSyntaxError."""
    return compile_expression(source, frozenset(names))


def check(source: str, names: tuple[str, ...] = ()) -> str | None:
    """None if `source` is a FEEL expression that compiles, else the reason."""
    try:
        compiled(source, tuple(sorted(set(names))))
    except FeelSyntaxError as err:
        return str(err)
    return None


def _now() -> datetime:
    now: datetime = spiff_timer.datetime.now(UTC)  # the injected clock (engine.spiff.runtime.clock patches it)
    return now


def _time_left() -> float:
    """What the sandboxed code calling feel() has left of its time limit (FEEL stops there too)."""
    watchdog: Watchdog | None = getattr(current, "watchdog", None)
    if watchdog is None:
        return EvalState().time_limit
    return max(watchdog.deadline - time.monotonic(), 0.001)


def evaluate(source: Any, names: Any, namespace: Mapping[str, Any]) -> Any:
    """The value of FEEL `source` (with multi-word `names`) over the data in `namespace`; raises FeelError."""
    if not isinstance(source, str) or not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise FeelError("feel() needs the text of a FEEL expression (and a list of names)")
    try:
        expression = compiled(source, tuple(sorted(set(names))))
    except FeelSyntaxError as err:
        raise FeelError(f"FEEL expression does not parse: {err}") from err
    variables = {
        k: v
        for k, v in namespace.items()
        if type(k) is str and k[:1] != "_" and not callable(v) and not isinstance(v, ModuleType)
    }
    try:
        return to_python(expression.evaluate(variables, EvalState(now=_now, time_limit=_time_left())))
    except (FeelError, ArithmeticError, ValueError, RecursionError) as err:
        raise FeelError(f"FEEL expression {source!r} failed: {err}") from err
