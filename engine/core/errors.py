"""Domain exceptions. The API maps each `code` to an HTTP status in one table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One problem found in a deployment: where it is and what is wrong."""

    message: str
    file: str | None = None
    element_id: str | None = None
    line: int | None = None
    code: str = "invalid"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        elem = f" [{self.element_id}]" if self.element_id else ""
        return f"{where}{elem} {self.message}".strip()


class PmoflowError(Exception):
    """Base of every error the engine reports to a caller."""

    code = "error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(PmoflowError):
    code = "not_found"


class Forbidden(PmoflowError):
    code = "forbidden"


class Unauthenticated(PmoflowError):
    code = "unauthenticated"


class Conflict(PmoflowError):
    """The state changed under the caller (lost race, task already completed)."""

    code = "conflict"


class InvalidInput(PmoflowError):
    """Request data is malformed or fails a rule; details name the fields."""

    code = "invalid_input"


class TooLarge(PmoflowError):
    code = "too_large"


@dataclass
class DeploymentInvalid(PmoflowError):
    """A deployment has problems; every one found is listed."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        count = len(self.problems)
        first = str(self.problems[0]) if self.problems else ""
        PmoflowError.__init__(
            self,
            f"deployment has {count} problem{'s' if count != 1 else ''}: {first}"
            + (" (and more)" if count > 1 else ""),
            {"problems": [p.as_dict() for p in self.problems]},
        )

    code = "invalid_deployment"


class FormDataInvalid(InvalidInput):
    """Submitted task data fails the task's form; details map field -> message."""

    code = "invalid_form_data"

    def __init__(self, errors: dict[str, str]) -> None:
        names = ", ".join(sorted(errors))
        super().__init__(f"form data is invalid: {names}", {"fields": errors})
        self.errors = errors


class DecisionFailed(PmoflowError):
    """Evaluating a decision failed; details name the decision, rule, column and text."""

    code = "decision_failed"


class IncidentError(PmoflowError):
    """An engine step failed inside the process (expression or service error)."""

    code = "incident"
