"""The injected clock of the runtime: SpiffWorkflow's timers (and FEEL's `now()`) ask `datetime.now` of its
timer module, which this module answers from the clock the caller sets with `clock_scope`."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

_now: contextvars.ContextVar[Callable[[], datetime]] = contextvars.ContextVar(
    "pmoflow_now", default=lambda: datetime.now(UTC)
)


class _ClockedDatetime(datetime):
    """SpiffWorkflow's timer module asks `datetime.now`; we answer from the injected clock."""

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        value = _now.get()()
        return value.astimezone(tz) if tz else value.replace(tzinfo=None)


spiff_timer.datetime = _ClockedDatetime


@contextmanager
def clock_scope(now: Callable[[], datetime]) -> Iterator[None]:
    """Run engine code with `now` as the time source."""
    token = _now.set(now)
    try:
        yield
    finally:
        _now.reset(token)


def now() -> datetime:
    """The current time of the injected clock (the wall clock outside `clock_scope`)."""
    return _now.get()()
