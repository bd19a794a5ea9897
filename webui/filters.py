"""Jinja filters and tests shared by the pages."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from flask import Flask


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


def is_decision_field(field: dict[str, Any]) -> bool:
    """A radio or select named '...decision' offering approve and reject is shown as buttons."""
    values = {v.get("value") for v in field.get("values", []) if isinstance(v, dict)}
    key = field.get("key")
    return (
        field.get("type") in ("radio", "select")
        and isinstance(key, str)
        and key.endswith("decision")
        and {"approve", "reject"} <= values
    )


SLA_TEXT = {"none": "No SLA", "on_track": "On track", "at_risk": "At risk", "overdue": "Overdue"}


def sla_label(state: str | None) -> str:
    """How every page names an SLA state (engine.sla.state decides it)."""
    return SLA_TEXT.get(state or "none", label(state or "none"))


def priority_label(value: int) -> str:
    return "High" if value >= 75 else "Low" if value <= 25 else "Normal"


def priority_class(value: int) -> str:
    return "priority-" + priority_label(value).lower()


def register(app: Flask) -> None:
    app.jinja_env.filters.update(
        age=age,
        when=when,
        label=label,
        show=show,
        priority_label=priority_label,
        priority_class=priority_class,
        sla_label=sla_label,
    )
    app.jinja_env.tests["decision_field"] = is_decision_field
