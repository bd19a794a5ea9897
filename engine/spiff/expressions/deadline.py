"""The deadline of sandboxed code: a per-thread watchdog (`sys.settrace` plus a `tick` at the top of every
loop and function body), and the traced run of compiled code under it."""

from __future__ import annotations

import decimal
import sys
import threading
import time
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from engine.spiff.expressions.limits import MAX_DECIMAL_EXPONENT, ScriptTimeout

FILENAME = "<string>"  # SpiffWorkflow reads script line numbers from frames of this name
# the sandbox's own modules: a frame of one of them may raise the timeout at once
_OWN_FILES = frozenset(
    {
        FILENAME,
        *(
            str(Path(__file__).with_name(f"{name}.py"))
            for name in ("limits", "deadline", "guards", "safe_builtins", "sandbox")
        ),
    }
)

_monotonic = time.monotonic
current = threading.local()  # per thread: namespace (for var()), watchdog, decimal context


class Watchdog:
    """Trace function that raises ScriptTimeout once the deadline has passed."""

    __slots__ = ("deadline", "expired", "limit")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.deadline = _monotonic() + limit
        self.expired = False

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Watchdog | None:
        filename = frame.f_code.co_filename
        if _monotonic() > self.deadline:
            if filename in _OWN_FILES:
                raise self.expire()
            # Anything else may be a garbage-collector callback, where an exception is lost:
            # mark the run expired; the script's next line or `tick` raises.
            self.expired = True
            return None
        if event == "call" and filename != FILENAME:
            return None  # our own guards: checked on call, their lines are not traced
        return self

    def expire(self) -> ScriptTimeout:
        self.expired = True
        return ScriptTimeout(f"stopped after the time limit of {self.limit:g} s")


def tick() -> None:
    """Run at the top of every loop and function body: check the deadline, re-arm the trace.

    The trace alone is not enough: a one-line `while True: pass` jumps to itself without any
    trace event, and a RecursionError raised inside the trace function switches tracing off.
    """
    watchdog = current.watchdog
    if sys.gettrace() is not watchdog:
        sys.settrace(watchdog)
    if watchdog.expired or _monotonic() > watchdog.deadline:
        raise watchdog.expire()


def decimal_context() -> decimal.Context:
    """This thread's Decimal context, whose results stay below 10**MAX_DECIMAL_EXPONENT."""
    context = getattr(current, "decimal_context", None)
    if context is None:  # arithmetic results stay below 10**MAX_DECIMAL_EXPONENT
        context = decimal.Context(Emax=MAX_DECIMAL_EXPONENT, Emin=-MAX_DECIMAL_EXPONENT)
        current.decimal_context = context
    return context


def traced_eval(code: CodeType, namespace: dict[str, Any], watchdog: Watchdog) -> Any:
    """Run compiled code in `namespace` under `watchdog`; raises what the code raises, ScriptTimeout included."""
    previous_trace = sys.gettrace()
    previous_decimal = decimal.getcontext()
    previous_local = getattr(current, "namespace", None), getattr(current, "watchdog", None)
    decimal.setcontext(decimal_context())
    current.namespace, current.watchdog = namespace, watchdog
    sys.settrace(watchdog)  # last: no Python-level call may run between here and the eval
    try:
        return eval(code, namespace)  # noqa: S307 -- restricted code, guarded builtins only
    finally:
        sys.settrace(previous_trace)  # first, before any Python-level call
        current.namespace, current.watchdog = previous_local
        decimal.setcontext(previous_decimal)
