"""Decision forms: a choice named "...decision" offering approve and reject, and whether a form is no
more than that (a "simple decision", which the inbox lets people approve or reject from the list)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.forms.components import TEXT_TYPES, Schema, form_fields

DECIDED = frozenset({"approve", "reject"})


@dataclass(frozen=True)
class SimpleDecision:
    """A form that asks only for a decision, and perhaps a comment that is not always required."""

    key: str  # the decision field's key: its value is "approve" or "reject"
    comment_key: str | None = None
    comment_label: str | None = None
    comment_hint: str | None = None  # the comment field's description ("Required when you reject.")


def is_decision_field(field: dict[str, Any]) -> bool:
    """A radio or select whose key ends in 'decision' and that offers approve and reject (shown as buttons)."""
    values = {v.get("value") for v in field.get("values", []) if isinstance(v, dict)}
    key = field.get("key")
    return (
        field.get("type") in ("radio", "select")
        and isinstance(key, str)
        and key.endswith("decision")
        and DECIDED <= values
    )


def simple_decision(schema: Schema | None) -> SimpleDecision | None:
    """The form's decision and comment fields when it asks for nothing else, else None: one decision
    field, at most one text field that is not always required, and display components."""
    if not schema:
        return None
    fields = form_fields(schema)
    decisions = [f for f in fields if is_decision_field(f)]
    others = [f for f in fields if f not in decisions and not (f.get("disabled") or f.get("readonly"))]
    if len(decisions) != 1 or len(others) > 1:
        return None
    key = decisions[0]["key"]
    if not others:
        return SimpleDecision(key)
    comment = others[0]
    validate = comment.get("validate")
    always = isinstance(validate, dict) and bool(validate.get("required"))
    if comment.get("type") not in TEXT_TYPES or not isinstance(comment.get("key"), str) or always:
        return None
    label = comment.get("label")
    hint = comment.get("description")
    return SimpleDecision(
        key,
        comment["key"],
        label if isinstance(label, str) else comment["key"],
        hint if isinstance(hint, str) else None,
    )
