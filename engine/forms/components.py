"""What a form-js component is: its types, settings and accessors (shared by checks and submission)."""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

Schema = dict[str, Any]


Evaluate = Callable[[str, dict[str, Any]], object]


REQUIRED_WHEN = "pmoflow:requiredWhen"


MAX_DEPTH = 16


MAX_KEY_PARTS = 8


_KEY_PART = re.compile(r"^[^\W\d_]\w*(?: \w+)*$")  # a name, or words separated by single spaces


TEXT_TYPES = frozenset({"textfield", "textarea"})


CHOICE_TYPES = frozenset({"radio", "select"})


MULTI_CHOICE_TYPES = frozenset({"checklist", "taglist"})


INPUT_TYPES = TEXT_TYPES | CHOICE_TYPES | MULTI_CHOICE_TYPES | {"number", "checkbox", "datetime", "filepicker"}


CONTAINER_TYPES = frozenset({"group", "dynamiclist"})


DISPLAY_TYPES = frozenset(
    {"text", "html", "image", "spacer", "separator", "button", "iframe", "table", "documentPreview"}
)


UNSUPPORTED_TYPES = {
    "expression": "expression fields are not supported (computed in the browser); use a script task",
    "multipage": "multi-page forms are not supported",
    "page": "multi-page forms are not supported",
}


DATETIME_SUBTYPES = ("date", "time", "datetime")


TIME_FORMATS = ("utc_offset", "utc_normalized", "no_timezone")


VALIDATION_TYPES = ("email", "phone", "custom", "")


SETTINGS_FOR = {
    "minLength": TEXT_TYPES,
    "maxLength": TEXT_TYPES,
    "pattern": TEXT_TYPES,
    "validationType": TEXT_TYPES,
    "min": frozenset({"number"}),
    "max": frozenset({"number"}),
}


DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"


TIME_PATTERN = r"\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?"


_INTEGER = re.compile(r"[+-]?\d{1,30}")


_DECIMAL = re.compile(r"[+-]?(\d{1,30}(\.\d{0,30})?|\.\d{1,30})([eE][+-]?\d{1,3})?")


EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


PHONE_PATTERN = re.compile(r"(\+|00)[1-9][0-9 ()-]{5,20}")


def setting_number(value: Any, integer: bool = False) -> int | float | None:
    """Read a numeric schema setting (a number or numeric string), or None if it is not one."""
    number = to_number(value) if value is not None else None
    if integer and number is not None and number != int(number):
        return None
    return int(number) if integer and number is not None else number


def to_number(value: Any) -> int | float | None:
    """Convert a JSON number or numeric string to int/float; None for anything else (bools too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        number = float(text)
        return number if math.isfinite(number) else None
    return None


def kind_of(component: Schema) -> str:
    """The component's type, or "" when it has none (or a non-string one)."""
    kind = component.get("type")
    return kind if isinstance(kind, str) else ""


def validate_of(component: Schema) -> dict[str, Any]:
    """The component's validate settings (empty if absent or malformed)."""
    validate = component.get("validate")
    return validate if isinstance(validate, dict) else {}


def properties_of(component: Schema) -> dict[str, Any]:
    """The component's custom properties (empty if absent or malformed)."""
    properties = component.get("properties")
    return properties if isinstance(properties, dict) else {}


def conditional_of(component: Schema) -> dict[str, Any]:
    """The component's conditional settings (empty if absent or malformed)."""
    conditional = component.get("conditional")
    return conditional if isinstance(conditional, dict) else {}


def _inactive(component: Schema) -> bool:
    """True for a field that accepts no input: disabled, readonly or always hidden."""
    return any(component.get(name) is True for name in ("disabled", "readonly")) or (
        conditional_of(component).get("hide") is True
    )


def form_fields(schema: Schema) -> list[Schema]:
    """Return the form's input components in order, including those inside groups and dynamic lists."""
    return list(_iter_inputs(schema.get("components") if isinstance(schema, dict) else None))


def form_layout(schema: Schema) -> list[Schema]:
    """What a page shows of a form, in order: its input components and its text components (form-js's
    "text", markdown), including those inside groups and dynamic lists."""
    return list(_iter_inputs(schema.get("components") if isinstance(schema, dict) else None, with_text=True))


def _iter_inputs(components: Any, with_text: bool = False) -> Iterator[Schema]:
    """Yield input components (and text components, `with_text`) depth-first in document order."""
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, dict):
            continue
        if kind_of(component) in INPUT_TYPES or (with_text and kind_of(component) == "text"):
            yield component
        elif kind_of(component) in CONTAINER_TYPES:
            yield from _iter_inputs(component.get("components"), with_text)


def scope_entries(components: Any, inactive: bool = False) -> Iterator[tuple[str, Schema, bool]]:
    """Yield (data name, component, inactive) for every input and nested scope of one data scope."""
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, dict):
            continue
        kind = kind_of(component)
        off = inactive or _inactive(component)
        if kind in INPUT_TYPES and isinstance(component.get("key"), str):
            yield component["key"], component, off
        elif kind == "dynamiclist" or (kind == "group" and component.get("path")):
            if isinstance(component.get("path"), str):
                yield component["path"], component, off
        elif kind == "group":
            yield from scope_entries(component.get("components"), off)


def valid_name(name: str, dotted: bool) -> bool:
    if not dotted:
        return name.isidentifier() and not keyword.iskeyword(name)
    parts = name.split(".")
    if len(parts) == 1 and name.isidentifier():
        return not keyword.iskeyword(name)
    return len(parts) <= MAX_KEY_PARTS and all(_KEY_PART.match(part) for part in parts)
