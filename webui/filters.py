"""Jinja filters and tests shared by the pages."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from markupsafe import Markup, escape

from engine.core import outcomes
from engine.forms.decisions import is_decision_field


def age(delta: timedelta) -> str:
    """'3 d', '5 h', '12 min', 'now'."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 86400:
        return f"{seconds // 86400} d"
    if seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return "now"


def when(value: datetime | None) -> str:
    return value.strftime("%d %b %Y %H:%M UTC") if value else ""


def label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def decision_label(value: str | None) -> str:
    """How pages name a task's decision: 'Approved', 'Rejected' (engine.core.outcomes reads the value, as it
    does for the request's outcome), another value as a word, none 'Completed'."""
    if not value:
        return "Completed"
    verdict = outcomes.classify(value)
    if verdict in (outcomes.APPROVED, outcomes.REJECTED):
        return outcomes.LABELS[verdict]
    return label(str(value))


SLA_TEXT = {"none": "No SLA", "on_track": "On track", "at_risk": "At risk", "overdue": "Overdue"}


def sla_label(state: str | None) -> str:
    """How every page names an SLA state (engine.sla.state decides it)."""
    return SLA_TEXT.get(state or "none", label(state or "none"))


# The badge colour of an outcome, from the status colours the stylesheet has (app.css).
OUTCOME_BADGE = {
    outcomes.APPROVED: "status-completed",
    outcomes.COMPLETED: "status-completed",
    outcomes.REJECTED: "status-error",
    outcomes.FAILED: "status-error",
    outcomes.CANCELLED: "status-cancelled",
}


def outcome_label(outcome: str | None, status: str | None = None) -> str:
    """How every page names a request's state: its outcome once decided ("Rejected"), else its status
    ("In progress", "Needs attention"); engine.core.outcomes decides both."""
    return outcomes.label(outcome, status)


def outcome_class(outcome: str | None, status: str | None = None) -> str:
    """The badge classes of a request's state: `outcome-rejected status-error`, or the status's own."""
    if outcome in OUTCOME_BADGE:
        return f"outcome-{outcome} {OUTCOME_BADGE[outcome]}"
    return f"status-{status or 'running'}"


def priority_label(value: int) -> str:
    return "High" if value >= 75 else "Low" if value <= 25 else "Normal"


def priority_class(value: int) -> str:
    return "priority-" + priority_label(value).lower()


_HEADING = re.compile(r"^#{1,6}\s+(.*)$")


def form_text(text: Any) -> Markup:
    """A form's text component (form-js markdown) as safe HTML: a `#` line becomes a bold lead line, blank
    lines separate paragraphs, other line breaks are kept; everything else is shown as written, escaped."""
    parts: list[Markup] = []
    for block in re.split(r"\n\s*\n", str(text or "").strip()):
        lines: list[Markup] = []
        for line in block.splitlines():
            if heading := _HEADING.match(line.strip()):
                if lines:
                    parts.append(Markup("<p>%s</p>") % Markup("<br>").join(lines))
                    lines = []
                parts.append(Markup('<p class="form-text-lead"><strong>%s</strong></p>') % heading.group(1))
            elif line.strip():
                lines.append(escape(line.strip()))
        if lines:
            parts.append(Markup("<p>%s</p>") % Markup("<br>").join(lines))
    return Markup("").join(parts)


def register(app: Flask) -> None:
    app.jinja_env.filters.update(
        age=age,
        when=when,
        label=label,
        show=show,
        priority_label=priority_label,
        priority_class=priority_class,
        sla_label=sla_label,
        outcome_label=outcome_label,
        outcome_class=outcome_class,
        decided=outcomes.decided,
        decision_label=decision_label,
        form_text=form_text,
    )
    app.jinja_env.tests["decision_field"] = is_decision_field
