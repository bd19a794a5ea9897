"""What one evaluation carries along: the clock, limits on work, and warnings for the trace."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.dmn.feel.errors import FeelError

MAX_STEPS = 1_000_000  # loop iterations (for, some/every, filters, list functions) per evaluation
MAX_ITEMS = 100_000  # longest list one operation may build
MAX_CALL_DEPTH = 64  # nested calls of user-defined functions


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class EvalState:
    """Per-evaluation state shared by every expression of a decision."""

    now: Callable[[], datetime] = _utc_now
    steps: int = 0
    depth: int = 0
    warnings: list[str] = field(default_factory=list)
    host: Any = None  # the decision evaluator's frame (Python cells reach their sandbox through it)

    def tick(self, count: int = 1) -> None:
        """Count loop work; raises FeelError past the limit."""
        self.steps += count
        if self.steps > MAX_STEPS:
            raise FeelError(f"evaluation stopped after {MAX_STEPS:,} steps")

    def warn(self, message: str) -> None:
        if len(self.warnings) < 50 and message not in self.warnings:
            self.warnings.append(message)


def check_items(count: int) -> None:
    """Raises FeelError if a list of `count` items would be too long."""
    if count > MAX_ITEMS:
        raise FeelError(f"list would have more than {MAX_ITEMS:,} items")
