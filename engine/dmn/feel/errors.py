"""FEEL errors: text that does not parse, and evaluation that cannot go on."""

from __future__ import annotations


class FeelSyntaxError(Exception):
    """FEEL text does not parse; `position` is the 0-based character offset of the problem."""

    def __init__(self, reason: str, source: str, position: int) -> None:
        self.reason = reason
        self.source = source
        self.position = position
        super().__init__(f"{reason} at position {position + 1}{_near(source, position)}")


class FeelError(Exception):
    """Evaluation failed: an operation on the wrong types, or a limit was exceeded."""


class FeelLimit(FeelError):
    """A hard bound was reached (time, steps, memory, sizes, nesting): the evaluation stops.

    Other FeelErrors raised inside an operation (a built-in called with the wrong types, `"a" + 1`)
    make that operation null, with a warning, as the standard says; a FeelLimit never does."""


def _near(source: str, position: int) -> str:
    rest = source[position : position + 20].strip()
    if not rest:
        return " (at the end)"
    return f" (near {rest!r})"
