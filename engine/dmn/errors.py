"""Errors of the decision engine: a model that cannot work, and an evaluation that failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.dmn.expressions import Cell


@dataclass(frozen=True)
class CellError:
    """One cell that does not parse or compile, and where it is in its decision."""

    decision: str
    where: str
    cell: Cell
    reason: str

    def describe(self) -> str:
        return f"decision {self.decision!r}, {self.where}: cannot use {self.cell.text!r}: {self.reason}"


class ModelInvalid(Exception):
    """A decision model has cells that cannot be evaluated; `errors` names each one."""

    def __init__(self, errors: list[CellError]) -> None:
        self.errors = errors
        first = errors[0].describe() if errors else "no details"
        super().__init__(first + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))


class DecisionError(Exception):
    """Evaluating a decision failed; the attributes name the decision, rule and column."""

    def __init__(
        self,
        message: str,
        decision: str,
        *,
        rule_id: str | None = None,
        rule_number: int | None = None,
        column: str | None = None,
        text: str | None = None,
        element_id: str | None = None,
    ) -> None:
        self.message = message
        self.decision = decision
        self.rule_id = rule_id
        self.rule_number = rule_number
        self.column = column
        self.text = text
        self.element_id = element_id
        super().__init__(self._full())

    def _full(self) -> str:
        where = [f"decision {self.decision!r}"]
        if self.rule_number is not None:
            where.append(f"rule {self.rule_number} ({self.rule_id})")
        if self.column:
            where.append(self.column)
        text = f" {self.text!r}" if self.text is not None else ""
        return f"{', '.join(where)}{text}: {self.message}"

    def details(self) -> dict[str, Any]:
        """The error's location as plain data (for the API and for incidents)."""
        data = {
            "decision": self.decision,
            "rule_id": self.rule_id,
            "rule_number": self.rule_number,
            "column": self.column,
            "text": self.text,
            "element_id": self.element_id,
            "reason": self.message,
        }
        return {k: v for k, v in data.items() if v is not None}
