"""What one evaluation carries along: the clock, limits on work, time and memory, and warnings for the trace.

Every evaluation has a wall-clock deadline (`time_limit` seconds from its start; the callers pass
the script time limit of the settings). The clock is read every `CHECK_EVERY` units of work, so
the common case (a comparison) never reads it: loops `tick` (which also counts toward
`MAX_STEPS`), other work that grows with the size of a value (`spend`) only brings the next
clock check nearer. What an evaluation allocates (characters of the strings and items of the
lists that operations build) is counted against `MAX_ALLOCATED`; each single operation is also
sized before it builds its result (`MAX_STRING`, `MAX_ITEMS`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from engine.dmn.feel.errors import FeelLimit

MAX_STEPS = 1_000_000  # loop iterations (for, some/every, filters, list functions) per evaluation
MAX_ITEMS = 100_000  # longest list one operation may build
MAX_CALL_DEPTH = 64  # nested calls of user-defined functions
MAX_ALLOCATED = 16_000_000  # characters and list items all the operations of one evaluation may build
MAX_NODES = 1_000_000  # values (list items, context entries) one conversion or comparison may visit
CONVERTED_WEIGHT = 8  # a value converted from or to Python (a Decimal object) counts as 8 toward MAX_ALLOCATED
DEFAULT_TIME_LIMIT = 3.0  # seconds, when the caller passes none (Settings.script_time_limit)
CHECK_EVERY = 256  # units of work between two readings of the clock

_monotonic = time.monotonic
RUNNING = threading.local()  # .state: the evaluation running on this thread


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EvalState:
    """Per-evaluation state shared by every expression of a decision (a plain class: it is made per evaluation)."""

    __slots__ = (
        "now",
        "time_limit",
        "deadline",
        "until_check",
        "steps",
        "depth",
        "allocated",
        "warnings",
        "host",
        "item_types",
    )

    def __init__(self, now: Callable[[], datetime] = _utc_now, time_limit: float = DEFAULT_TIME_LIMIT) -> None:
        if not time_limit > 0:
            raise ValueError("time_limit must be positive")
        self.now = now
        self.time_limit = time_limit
        self.deadline = _monotonic() + time_limit
        self.until_check = CHECK_EVERY
        self.steps = 0
        self.depth = 0
        self.allocated = 0
        self.warnings: list[str] = []
        self.host: Any = None  # the decision evaluator's frame (Python cells reach their sandbox through it)
        # `value instance of tName` for a name that is no FEEL type: the model's item definitions (None: unknown)
        self.item_types: Callable[[Any, str], bool | None] | None = None

    def tick(self, count: int = 1) -> None:
        """Count loop work; raises FeelError past the step limit or the deadline."""
        self.steps += count
        if self.steps > MAX_STEPS:
            raise FeelLimit(f"evaluation stopped after {MAX_STEPS:,} steps")
        self.until_check -= count
        if self.until_check <= 0:
            self.check_clock()

    def spend(self, count: int = 1) -> None:
        """Count work that is not a loop step (visiting values, comparisons); raises FeelError past the deadline."""
        self.until_check -= count
        if self.until_check <= 0:
            self.check_clock()

    def check_clock(self) -> None:
        """Raises FeelError once the deadline has passed."""
        self.until_check = CHECK_EVERY
        if _monotonic() > self.deadline:
            raise FeelLimit(f"evaluation stopped after the time limit of {self.time_limit:g} s")

    def remaining(self) -> float:
        """Seconds left before the deadline; raises FeelError if none are."""
        left = self.deadline - _monotonic()
        if left <= 0:
            raise FeelLimit(f"evaluation stopped after the time limit of {self.time_limit:g} s")
        return left

    def allocate(self, count: int) -> None:
        """Count characters or list items an operation built; raises FeelError past MAX_ALLOCATED."""
        self.allocated += count
        if self.allocated > MAX_ALLOCATED:
            raise FeelLimit(f"evaluation stopped after building more than {MAX_ALLOCATED:,} characters and list items")
        self.spend(1 + (count >> 7))  # building a thousand items takes about as long as ten loop steps

    def warn(self, message: str) -> None:
        if len(self.warnings) < 50 and message not in self.warnings:
            self.warnings.append(message)


def check_items(count: int) -> None:
    """Raises FeelError if a list of `count` items would be too long."""
    if count > MAX_ITEMS:
        raise FeelLimit(f"list would have more than {MAX_ITEMS:,} items")


@contextmanager
def running(state: EvalState) -> Iterator[EvalState]:
    """Make `state` the evaluation of this thread (see `spend`) while the block runs."""
    previous = enter(state)
    try:
        yield state
    finally:
        leave(previous)


def enter(state: EvalState) -> EvalState | None:
    """Make `state` the evaluation of this thread; returns the one to restore with `leave`."""
    previous: EvalState | None = getattr(RUNNING, "state", None)
    RUNNING.state = state
    return previous


def leave(previous: EvalState | None) -> None:
    RUNNING.state = previous


def current() -> EvalState | None:
    """The evaluation running on this thread, if any."""
    state: EvalState | None = getattr(RUNNING, "state", None)
    return state


def spend(count: int = 1) -> None:
    """Count work for the evaluation running on this thread (for code that is not handed the state)."""
    state: EvalState | None = getattr(RUNNING, "state", None)
    if state is not None:
        state.spend(count)


class Budget:
    """Counts the values one traversal visits (a conversion, a comparison, a text); raises past MAX_NODES.

    A conversion (`builds`) builds what it visits, so it counts toward the evaluation's MAX_ALLOCATED too."""

    __slots__ = ("left", "what", "state", "builds")

    def __init__(self, what: str, builds: bool = False) -> None:
        self.left = MAX_NODES
        self.what = what
        self.state = current()
        self.builds = builds

    def visit(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise FeelLimit(f"{self.what} is too large (more than {MAX_NODES:,} values)")
        if self.state is not None:
            if self.builds:
                self.state.allocate(count * CONVERTED_WEIGHT)
            else:
                self.state.spend(count)
