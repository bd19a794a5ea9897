"""Cleaning one submitted value per component type: the type's rules, a cleaned value or a message."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.forms.components import (
    DATE_PATTERN,
    EMAIL_PATTERN,
    PHONE_PATTERN,
    TIME_PATTERN,
    Schema,
    setting_number,
    to_number,
    validate_of,
)


def _clean_text(component: Schema, value: Any) -> tuple[Any, str | None]:
    """Text: a string within the length limits, matching the pattern and validation type."""
    if not isinstance(value, str):
        return None, "must be text"
    if value == "":
        return value, None
    validate = validate_of(component)
    return value, _length_problem(value, validate) or _format_problem(value, validate)


def _length_problem(value: str, validate: dict[str, Any]) -> str | None:
    """Return the minLength/maxLength violation of a text, or None."""
    low = setting_number(validate.get("minLength"), integer=True)
    high = setting_number(validate.get("maxLength"), integer=True)
    if low is not None and len(value) < low:
        return f"at least {low} characters"
    if high is not None and len(value) > high:
        return f"at most {high} characters"
    return None


def _format_problem(value: str, validate: dict[str, Any]) -> str | None:
    """Return the pattern or validationType violation of a text, or None."""
    pattern = validate.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        return "does not match the required format"
    kind = validate.get("validationType")
    if kind == "email" and not EMAIL_PATTERN.fullmatch(value):
        return "must be an email address"
    if kind == "phone" and not PHONE_PATTERN.fullmatch(value):
        return "must be a phone number in international format (+...)"
    return None


def _clean_number(component: Schema, value: Any) -> tuple[Any, str | None]:
    """Number: int/float or a numeric string (converted), within min/max, digits and increment."""
    if isinstance(value, str) and not value.strip():
        return None, None
    number = to_number(value)
    if number is None:
        return None, "must be a number"
    validate = validate_of(component)
    low, high = setting_number(validate.get("min")), setting_number(validate.get("max"))
    if low is not None and number < low:
        return None, f"at least {_show(low)}"
    if high is not None and number > high:
        return None, f"at most {_show(high)}"
    return number, _step_problem(component, number)


def _step_problem(component: Schema, number: int | float) -> str | None:
    """Return the decimalDigits or increment violation of a number, or None."""
    exact = Decimal(str(number))
    digits = setting_number(component.get("decimalDigits"), integer=True)
    exponent = exact.as_tuple().exponent
    if digits is not None and isinstance(exponent, int) and -exponent > digits:
        return f"at most {digits} decimal digits"
    increment = setting_number(component.get("increment"))
    try:
        if increment and exact % Decimal(str(increment)) != 0:
            return f"must be a multiple of {_show(increment)}"
    except InvalidOperation:
        return "must be a number"
    return None


def _show(number: int | float) -> str:
    """Render a limit without a useless '.0'."""
    return str(int(number)) if number == int(number) else str(number)


def _clean_checkbox(component: Schema, value: Any) -> tuple[Any, str | None]:
    """Checkbox: true or false."""
    return (value, None) if isinstance(value, bool) else (None, "must be true or false")


def _allowed(component: Schema) -> list[str] | None:
    """The static option values of a choice field, or None when options come from data."""
    if "valuesKey" in component or "valuesExpression" in component:
        return None
    values = component.get("values")
    options = values if isinstance(values, list) else []
    return [o["value"] for o in options if isinstance(o, dict) and isinstance(o.get("value"), str)]


def _clean_choice(component: Schema, value: Any) -> tuple[Any, str | None]:
    """Radio/select: one of the static values (any string when options come from data)."""
    allowed = _allowed(component)
    if not isinstance(value, str) or (allowed is not None and value not in allowed):
        return None, f"must be one of: {', '.join(allowed)}" if allowed is not None else "must be text"
    return value, None


def _clean_multi_choice(component: Schema, value: Any) -> tuple[Any, str | None]:
    """Checklist/taglist: a list of distinct allowed values."""
    allowed = _allowed(component)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None, "must be a list of values"
    if allowed is not None and any(item not in allowed for item in value):
        return None, f"may only contain: {', '.join(allowed)}"
    if len(set(value)) != len(value):
        return None, "must not repeat a value"
    return value, None


def _clean_datetime(component: Schema, value: Any) -> tuple[Any, str | None]:
    """Datetime: an ISO date, time or date-time string by subtype (kept as the string)."""
    subtype = str(component.get("subtype", "date"))
    expected = {
        "date": "must be a date (YYYY-MM-DD)",
        "time": "must be a time (HH:MM)",
        "datetime": "must be a date and time (YYYY-MM-DDTHH:MM)",
    }.get(subtype, "must be a date (YYYY-MM-DD)")
    parsed = _parse_iso(subtype, value) if isinstance(value, str) else None
    if parsed is None:
        return None, expected
    if isinstance(parsed, date) and not isinstance(parsed, datetime):
        return value, None
    return value, _zone_problem(component.get("timeSerializingFormat"), value, parsed)


def _parse_iso(subtype: str, value: str) -> date | time | datetime | None:
    """Parse an ISO date / time / date-time of the given subtype, or None."""
    shapes = {"date": DATE_PATTERN, "time": TIME_PATTERN, "datetime": f"{DATE_PATTERN}T{TIME_PATTERN}"}
    parsers: dict[str, Callable[[str], date | time | datetime]] = {
        "date": date.fromisoformat,
        "time": time.fromisoformat,
        "datetime": datetime.fromisoformat,
    }
    if subtype not in shapes or not re.fullmatch(shapes[subtype], value):
        return None
    try:
        return parsers[subtype](value)
    except ValueError:
        return None


def _zone_problem(time_format: Any, value: str, parsed: time | datetime) -> str | None:
    """Check the time zone against an explicit timeSerializingFormat."""
    if time_format == "no_timezone" and parsed.tzinfo is not None:
        return "must not include a time zone"
    if time_format in ("utc_offset", "utc_normalized") and parsed.tzinfo is None:
        return "must include a time zone"
    if time_format == "utc_normalized" and not value.endswith("Z"):
        return "must be in UTC (ending in Z)"
    return None


def _clean_file(component: Schema, value: Any) -> tuple[Any, str | None]:
    """An uploaded file, described as {"name", "size"}; the engine stores the content as an attachment."""
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not isinstance(value.get("size"), int):
        return None, "must be an uploaded file"
    if value["size"] <= 0:
        return None, "the file is empty"
    return {"name": value["name"], "size": value["size"]}, None


CLEANERS: dict[str, Callable[[Schema, Any], tuple[Any, str | None]]] = {
    "filepicker": _clean_file,
    "textfield": _clean_text,
    "textarea": _clean_text,
    "number": _clean_number,
    "checkbox": _clean_checkbox,
    "radio": _clean_choice,
    "select": _clean_choice,
    "checklist": _clean_multi_choice,
    "taglist": _clean_multi_choice,
    "datetime": _clean_datetime,
}
