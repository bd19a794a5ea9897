"""User-task forms: form-js ("Camunda Forms") schemas, checked at deploy time and enforced on submit.

The server's validation is authoritative; the tasklist renders the same schema with form-js.

Decisions, so that callers and form authors know what to expect:

- Input types: textfield, textarea, number, checkbox, checklist, radio, select, taglist, datetime.
  Containers: ``group`` (its fields sit beside the group's siblings, or under ``path`` when it has
  one) and ``dynamiclist`` (a list of objects under its required ``path``). Display-only types
  carry no data.
- ``expression`` is refused by `check_form`: it is computed in the browser with FEEL, which the
  server cannot recompute (accepting the browser's value would let a client write anything).
  ``multipage``/``page`` are refused too. Compute derived values in a script task instead.
- ``filepicker`` takes ``{"name", "size"}``: the engine stores the upload as an attachment of the
  request in the same step and keeps ``{"attachment", "name", "size"}`` in the task data.
- Keys name process variables: an identifier, or words separated by single spaces (``Vacation
  Approval``, as Trisotech and FEEL write them; expressions read it with ``var('Vacation
  Approval')``), or several of those joined by dots (``Current Vacation Status.name``), which,
  as in form-js, is a path into nested objects: the value is read from and submitted as
  ``{"Current Vacation Status": {"name": ...}}`` (the flat dotted key is accepted too). No part
  may start with ``_`` (such keys could shadow the sandbox's builtins); a key and a path through
  it (``a`` and ``a.b``) may not both be fields. ``path`` of groups and lists stays an identifier.
- ``disabled``, ``readonly`` and ``conditional.hide`` set to ``true`` make a field inactive:
  values submitted for it are ignored (form-js itself may send readonly values) and it is never
  required. Expressions in ``disabled``/``readonly`` are refused (the server cannot evaluate
  FEEL). A ``conditional.hide`` expression is left to the browser; a field carrying one may not
  be ``validate.required`` (use ``properties["pmoflow:requiredWhen"]`` instead), since the server
  could not tell whether the field was shown.
- ``properties["pmoflow:requiredWhen"]`` is a Python expression; when ``evaluate(expression,
  values)`` is truthy the empty field is an error. ``values`` are the cleaned submitted values
  (for fields in a ``path`` group or a list item, the outer values overlaid with that scope's).
  Without an ``evaluate`` only ``key == literal`` and ``key != literal`` are understood; anything
  else raises ValueError (a deployment problem, not the user's). Errors of ``evaluate`` propagate.
- Dates and times stay ISO strings (``date`` objects do not serialize); numbers become int/float.
  ``disallowPassedDates`` is checked in the browser only (it needs a clock and a time zone).
- Error keys are field keys; nested ones read ``group.key`` and ``items[0].key``.
"""

from __future__ import annotations

import ast
import json
import keyword
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

Schema = dict[str, Any]
Evaluate = Callable[[str, dict[str, Any]], object]

REQUIRED_WHEN = "pmoflow:requiredWhen"
MAX_DEPTH = 16
MAX_KEY_PARTS = 8
_KEY_PART = re.compile(r"^[^\W\d_]\w*(?: \w+)*$")       # a name, or words separated by single spaces

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

_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?"
_INTEGER = re.compile(r"[+-]?\d{1,30}")
_DECIMAL = re.compile(r"[+-]?(\d{1,30}(\.\d{0,30})?|\.\d{1,30})([eE][+-]?\d{1,3})?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"(\+|00)[1-9][0-9 ()-]{5,20}")


@dataclass(frozen=True)
class FormProblem:
    """A problem with a form schema itself, found at deploy time."""

    path: str
    message: str


class FormSchemaError(Exception):
    """A .form file that is not a valid form-js schema; ``problems`` lists everything found."""

    def __init__(self, problems: list[FormProblem], filename: str = "") -> None:
        self.problems = list(problems)
        self.filename = filename
        first = self.problems[0] if self.problems else FormProblem("", "invalid form")
        where = f"{first.path}: " if first.path else ""
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{filename or 'form'}: {where}{first.message}{more}")


def load_form(text: str | bytes, filename: str) -> Schema:
    """Parse a .form file; raises FormSchemaError listing every problem if it is not a valid schema."""
    try:
        schema: Schema = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise FormSchemaError([FormProblem("", f"not valid JSON: {exc}")], filename) from exc
    problems = check_form(schema)
    if problems:
        raise FormSchemaError(problems, filename)
    return schema


def _refuse_constant(name: str) -> None:
    """Refuse NaN and Infinity, which are not JSON; raises ValueError."""
    raise ValueError(f"{name} is not allowed")


def check_form(schema: Schema) -> list[FormProblem]:
    """Return every problem of a form-js schema (empty if it is usable); never raises."""
    if not isinstance(schema, dict):
        return [FormProblem("", "a form must be a JSON object")]
    checker = _SchemaChecker()
    checker.check_header(schema)
    components = schema.get("components")
    if isinstance(components, list):
        checker.check_components(components, "components", {}, depth=0, hide_condition=False)
    else:
        checker.add("components", "must be a list")
    return checker.problems


class _SchemaChecker:
    """Collects the problems of one schema while walking its components."""

    def __init__(self) -> None:
        self.problems: list[FormProblem] = []
        self.ids: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        """Record one problem."""
        self.problems.append(FormProblem(path, message))

    def check_header(self, schema: Schema) -> None:
        """Check the form's own attributes."""
        form_id = schema.get("id")
        if not isinstance(form_id, str) or not form_id.strip():
            self.add("id", "missing form id")
        if schema.get("type") != "default":
            self.add("type", "must be 'default'")
        version = schema.get("schemaVersion")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            self.add("schemaVersion", "must be an integer")

    def check_components(
        self, components: list[Any], path: str, scope: dict[str, str], depth: int, hide_condition: bool
    ) -> None:
        """Check a list of components sharing one data scope (key -> path of its first use)."""
        if depth > MAX_DEPTH:
            self.add(path, f"nested more than {MAX_DEPTH} levels deep")
            return
        for index, component in enumerate(components):
            where = f"{path}[{index}]"
            if isinstance(component, dict):
                self.check_component(component, where, scope, depth, hide_condition)
            else:
                self.add(where, "must be an object")

    def check_component(
        self, component: Schema, path: str, scope: dict[str, str], depth: int, hide_condition: bool
    ) -> None:
        """Check one component of any type."""
        kind = _kind(component)
        self.check_id(component, path)
        self.check_common(component, path)
        hide_condition = hide_condition or isinstance(_conditional(component).get("hide"), str)
        if kind in INPUT_TYPES:
            self.check_input(component, path, scope, hide_condition)
        elif kind in CONTAINER_TYPES:
            self.check_container(component, path, scope, depth, hide_condition)
        elif kind in UNSUPPORTED_TYPES:
            self.add(f"{path}.type", UNSUPPORTED_TYPES[kind])
        elif not kind:
            self.add(f"{path}.type", "missing component type")
        elif kind not in DISPLAY_TYPES:
            self.add(f"{path}.type", f"unknown component type '{kind}'")
        if kind not in INPUT_TYPES and REQUIRED_WHEN in _properties(component):
            self.add(f"{path}.properties", f"only input fields can have {REQUIRED_WHEN}")

    def check_id(self, component: Schema, path: str) -> None:
        """Component ids are optional but must be unique strings."""
        if "id" not in component:
            return
        comp_id = component["id"]
        if not isinstance(comp_id, str) or not comp_id:
            self.add(f"{path}.id", "must be a non-empty string")
        elif comp_id in self.ids:
            self.add(f"{path}.id", f"duplicate id '{comp_id}' (also at {self.ids[comp_id]})")
        else:
            self.ids[comp_id] = path

    def check_common(self, component: Schema, path: str) -> None:
        """Check attributes any component may have: disabled, readonly, conditional, properties."""
        for name in ("disabled", "readonly"):
            if name in component and not isinstance(component[name], bool):
                self.add(f"{path}.{name}", "must be true or false (expressions are not supported)")
        conditional = component.get("conditional", {})
        if not isinstance(conditional, dict) or not isinstance(conditional.get("hide", False), bool | str):
            self.add(f"{path}.conditional", "must be an object with an optional 'hide' condition")
        properties = component.get("properties", {})
        if not isinstance(properties, dict) or not all(isinstance(v, str) for v in properties.values()):
            self.add(f"{path}.properties", "must be an object of strings")
        elif REQUIRED_WHEN in properties:
            self.check_required_when(properties[REQUIRED_WHEN], f"{path}.properties.{REQUIRED_WHEN}")

    def check_required_when(self, expression: str, path: str) -> None:
        """The condition must be a Python expression; it is compiled, never run."""
        if not expression.strip():
            self.add(path, "must not be empty")
            return
        try:
            compile(expression, "<requiredWhen>", "eval")
        except (SyntaxError, ValueError) as exc:
            self.add(path, f"not a valid expression: {getattr(exc, 'msg', exc)}")

    def check_input(self, component: Schema, path: str, scope: dict[str, str], hide_condition: bool) -> None:
        """Check an input field: key, choices, validation and type-specific settings."""
        self.check_name(component.get("key"), f"{path}.key", scope, "field without key", dotted=True)
        kind = component["type"]
        if kind in CHOICE_TYPES | MULTI_CHOICE_TYPES:
            self.check_values(component, path)
        if kind == "datetime":
            self.check_datetime(component, path)
        if kind == "number":
            self.check_number_settings(component, path)
        self.check_validate(component, path)
        if hide_condition and _validate(component).get("required") is True:
            self.add(
                f"{path}.validate.required",
                f"a field with a hide condition cannot be required; use properties {REQUIRED_WHEN}",
            )

    def check_name(self, name: Any, path: str, scope: dict[str, str], missing: str, dotted: bool = False) -> None:
        """Check a key or path: an identifier not starting with '_' (a key: also words with spaces, joined
        by dots into a path) and unique in its data scope, without a path through another key."""
        if name is None or name == "":
            self.add(path, missing)
        elif not isinstance(name, str) or not _valid_name(name, dotted):
            allowed = ("letters, digits, '_' and single spaces; dots between parts" if dotted
                       else "letters, digits and '_'; no dots")
            self.add(path, f"'{name}' is not a valid {'key' if dotted else 'identifier'} ({allowed})")
        elif any(part.startswith("_") for part in name.split(".")):
            self.add(path, "may not start with '_'")
        elif name in scope:
            self.add(path, f"duplicate key '{name}' (also at {scope[name]})")
        elif (clash := next((k for k in scope if k.startswith(name + ".") or name.startswith(k + ".")), None)):
            self.add(path, f"key '{name}' and key '{clash}' (at {scope[clash]}) would hold the same value")
        else:
            scope[name] = path

    def check_values(self, component: Schema, path: str) -> None:
        """Choice fields need static values unless they name a values source."""
        if "valuesKey" in component or "valuesExpression" in component:
            for name in ("valuesKey", "valuesExpression"):
                if name in component and not isinstance(component[name], str):
                    self.add(f"{path}.{name}", "must be a string")
            return
        values = component.get("values")
        if not isinstance(values, list) or not values:
            self.add(f"{path}.values", f"{component['type']} without values")
            return
        seen: set[str] = set()
        for index, option in enumerate(values):
            value = option.get("value") if isinstance(option, dict) else None
            if not isinstance(value, str):
                self.add(f"{path}.values[{index}]", "must have a string value")
            elif value in seen:
                self.add(f"{path}.values[{index}]", f"duplicate value '{value}'")
            seen.add(value if isinstance(value, str) else "")

    def check_datetime(self, component: Schema, path: str) -> None:
        """Check subtype and time serializing format of a datetime field."""
        if component.get("subtype", "date") not in DATETIME_SUBTYPES:
            self.add(f"{path}.subtype", f"must be one of: {', '.join(DATETIME_SUBTYPES)}")
        if component.get("timeSerializingFormat", "utc_offset") not in TIME_FORMATS:
            self.add(f"{path}.timeSerializingFormat", f"must be one of: {', '.join(TIME_FORMATS)}")

    def check_number_settings(self, component: Schema, path: str) -> None:
        """Check decimalDigits and increment of a number field."""
        if "decimalDigits" in component:
            digits = _setting_number(component["decimalDigits"], integer=True)
            if digits is None or digits < 0:
                self.add(f"{path}.decimalDigits", "must be a non-negative integer")
        increment = component.get("increment")
        if increment not in (None, "") and not (_setting_number(increment) or 0) > 0:
            self.add(f"{path}.increment", "must be a positive number")

    def check_validate(self, component: Schema, path: str) -> None:
        """Check the validate settings and that they apply to the field's type."""
        validate = component.get("validate", {})
        if not isinstance(validate, dict):
            self.add(f"{path}.validate", "must be an object")
            return
        for name, value in validate.items():
            if value is None or value == "":
                continue
            message = _validate_setting_problem(component["type"], name, value)
            if message:
                self.add(f"{path}.validate.{name}", message)
        for low, high in (("minLength", "maxLength"), ("min", "max")):
            low_value, high_value = _setting_number(validate.get(low)), _setting_number(validate.get(high))
            if low_value is not None and high_value is not None and low_value > high_value:
                self.add(f"{path}.validate.{low}", f"greater than {high}")

    def check_container(
        self, component: Schema, path: str, scope: dict[str, str], depth: int, hide_condition: bool
    ) -> None:
        """Check a group or dynamic list and its children."""
        children = component.get("components", [])
        if not isinstance(children, list):
            self.add(f"{path}.components", "must be a list")
            children = []
        data_path = component.get("path")
        if component["type"] == "dynamiclist" or data_path not in (None, ""):
            self.check_name(data_path, f"{path}.path", scope, f"{component['type']} without path")
            scope = {}
        self.check_components(children, f"{path}.components", scope, depth + 1, hide_condition)


def _validate_setting_problem(kind: str, name: str, value: Any) -> str | None:
    """Return what is wrong with one validate setting of a field of this type, or None."""
    if name == "required":
        return None if isinstance(value, bool) else "must be true or false"
    if name not in SETTINGS_FOR:
        return f"unknown validation setting '{name}'"
    if kind not in SETTINGS_FOR[name]:
        return f"does not apply to {kind} fields"
    if name in ("minLength", "maxLength"):
        number = _setting_number(value, integer=True)
        return None if number is not None and number >= 0 else "must be a non-negative integer"
    if name in ("min", "max"):
        return None if _setting_number(value) is not None else "must be a number (expressions are not supported)"
    if name == "validationType":
        return None if value in VALIDATION_TYPES else f"must be one of: {', '.join(VALIDATION_TYPES[:3])}"
    return _pattern_problem(value)


def _pattern_problem(pattern: Any) -> str | None:
    """Return why a validate.pattern does not compile, or None."""
    if not isinstance(pattern, str):
        return "must be a string"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    return None


def _setting_number(value: Any, integer: bool = False) -> int | float | None:
    """Read a numeric schema setting (a number or numeric string), or None if it is not one."""
    number = _to_number(value) if value is not None else None
    if integer and number is not None and number != int(number):
        return None
    return int(number) if integer and number is not None else number


def _to_number(value: Any) -> int | float | None:
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


def _kind(component: Schema) -> str:
    """The component's type, or "" when it has none (or a non-string one)."""
    kind = component.get("type")
    return kind if isinstance(kind, str) else ""


def _validate(component: Schema) -> dict[str, Any]:
    """The component's validate settings (empty if absent or malformed)."""
    validate = component.get("validate")
    return validate if isinstance(validate, dict) else {}


def _properties(component: Schema) -> dict[str, Any]:
    """The component's custom properties (empty if absent or malformed)."""
    properties = component.get("properties")
    return properties if isinstance(properties, dict) else {}


def _conditional(component: Schema) -> dict[str, Any]:
    """The component's conditional settings (empty if absent or malformed)."""
    conditional = component.get("conditional")
    return conditional if isinstance(conditional, dict) else {}


def _inactive(component: Schema) -> bool:
    """True for a field that accepts no input: disabled, readonly or always hidden."""
    return any(component.get(name) is True for name in ("disabled", "readonly")) or (
        _conditional(component).get("hide") is True
    )


def form_fields(schema: Schema) -> list[Schema]:
    """Return the form's input components in order, including those inside groups and dynamic lists."""
    return list(_iter_inputs(schema.get("components") if isinstance(schema, dict) else None))


def _iter_inputs(components: Any) -> Iterator[Schema]:
    """Yield input components depth-first in document order."""
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, dict):
            continue
        if _kind(component) in INPUT_TYPES:
            yield component
        elif _kind(component) in CONTAINER_TYPES:
            yield from _iter_inputs(component.get("components"))


def _scope_entries(components: Any, inactive: bool = False) -> Iterator[tuple[str, Schema, bool]]:
    """Yield (data name, component, inactive) for every input and nested scope of one data scope."""
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, dict):
            continue
        kind = _kind(component)
        off = inactive or _inactive(component)
        if kind in INPUT_TYPES and isinstance(component.get("key"), str):
            yield component["key"], component, off
        elif kind == "dynamiclist" or (kind == "group" and component.get("path")):
            if isinstance(component.get("path"), str):
                yield component["path"], component, off
        elif kind == "group":
            yield from _scope_entries(component.get("components"), off)


def validate_submission(
    schema: Schema, data: dict[str, Any], evaluate: Evaluate | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (cleaned, errors), cleaned empty if any error; raises TypeError for non-dict data, ValueError."""
    if not isinstance(data, dict):
        raise TypeError("submitted form data must be an object")
    errors: dict[str, str] = {}
    components = schema.get("components", [])
    cleaned = _clean_scope(components, data, "", errors)
    _check_required(components, cleaned, {}, "", errors, evaluate or _fallback_evaluate)
    return ({}, errors) if errors else (cleaned, {})


def _clean_scope(components: Any, data: dict[str, Any], prefix: str, errors: dict[str, str]) -> dict[str, Any]:
    """Convert and check the submitted values of one data scope; unknown names are errors."""
    entries = {name: (component, off) for name, component, off in _scope_entries(components)}
    cleaned: dict[str, Any] = {}
    for name, value in _flatten(data, _prefixes(entries)).items():
        where = f"{prefix}{name}"
        if isinstance(name, str) and name.startswith("_"):
            errors[where] = "field names may not start with '_'"
        elif name not in entries:
            errors[where] = "not a field of this form"
        elif not entries[name][1]:
            result, message = _clean_value(entries[name][0], value, where, errors)
            if message:
                errors[where] = message
            elif where not in errors:
                cleaned[name] = result
    return _nest(cleaned)


def _valid_name(name: str, dotted: bool) -> bool:
    if not dotted:
        return name.isidentifier() and not keyword.iskeyword(name)
    parts = name.split(".")
    if len(parts) == 1 and name.isidentifier():
        return not keyword.iskeyword(name)
    return len(parts) <= MAX_KEY_PARTS and all(_KEY_PART.match(part) for part in parts)


def _prefixes(names: Iterable[str]) -> set[str]:
    """Every path leading to a dotted key ("a" and "a.b" for "a.b.c")."""
    return {".".join(parts[:i]) for name in names if "." in name
            for parts in [name.split(".")] for i in range(1, len(parts))}


def _flatten(data: dict[str, Any], prefixes: set[str]) -> dict[str, Any]:
    """Submitted values with nested objects along dotted keys ({"a": {"b": 1}}) under the dotted key ("a.b")."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(key, str) and key in prefixes and isinstance(value, dict):
            flat.update(_flatten({f"{key}.{k}" if isinstance(k, str) else k: v for k, v in value.items()}, prefixes))
        else:
            flat[key] = value
    return flat


def _nest(cleaned: dict[str, Any]) -> dict[str, Any]:
    """Cleaned values with dotted keys put into nested objects, as form-js submits and reads them."""
    nested: dict[str, Any] = {}
    for key, value in cleaned.items():
        target, parts = nested, key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return nested


def value_at(data: dict[str, Any], key: str) -> Any:
    """The value of form field `key` in (cleaned or task) data, following a dotted key into nested objects."""
    if key in data or "." not in key:
        return data.get(key)
    value: Any = data
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _clean_value(component: Schema, value: Any, where: str, errors: dict[str, str]) -> tuple[Any, str | None]:
    """Return (cleaned value, error message or None) for one submitted value."""
    kind = component["type"]
    if kind == "group":
        if not isinstance(value, dict):
            return None, "must be an object"
        return _clean_scope(component.get("components"), value, f"{where}.", errors), None
    if kind == "dynamiclist":
        return _clean_list(component, value, where, errors)
    if value is None:
        return None, None
    return CLEANERS[kind](component, value)


def _clean_list(component: Schema, value: Any, where: str, errors: dict[str, str]) -> tuple[Any, str | None]:
    """Clean the items of a dynamic list: a list of objects."""
    if not isinstance(value, list):
        return None, "must be a list"
    items: list[dict[str, Any] | None] = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            items.append(_clean_scope(component.get("components"), item, f"{where}[{index}].", errors))
        else:
            errors[f"{where}[{index}]"] = "must be an object"
            items.append(None)  # keeps the indexes of later items right in error keys
    return items, None


def _clean_text(component: Schema, value: Any) -> tuple[Any, str | None]:
    """Text: a string within the length limits, matching the pattern and validation type."""
    if not isinstance(value, str):
        return None, "must be text"
    if value == "":
        return value, None
    validate = _validate(component)
    return value, _length_problem(value, validate) or _format_problem(value, validate)


def _length_problem(value: str, validate: dict[str, Any]) -> str | None:
    """Return the minLength/maxLength violation of a text, or None."""
    low = _setting_number(validate.get("minLength"), integer=True)
    high = _setting_number(validate.get("maxLength"), integer=True)
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
    if kind == "email" and not _EMAIL.fullmatch(value):
        return "must be an email address"
    if kind == "phone" and not _PHONE.fullmatch(value):
        return "must be a phone number in international format (+...)"
    return None


def _clean_number(component: Schema, value: Any) -> tuple[Any, str | None]:
    """Number: int/float or a numeric string (converted), within min/max, digits and increment."""
    if isinstance(value, str) and not value.strip():
        return None, None
    number = _to_number(value)
    if number is None:
        return None, "must be a number"
    validate = _validate(component)
    low, high = _setting_number(validate.get("min")), _setting_number(validate.get("max"))
    if low is not None and number < low:
        return None, f"at least {_show(low)}"
    if high is not None and number > high:
        return None, f"at most {_show(high)}"
    return number, _step_problem(component, number)


def _step_problem(component: Schema, number: int | float) -> str | None:
    """Return the decimalDigits or increment violation of a number, or None."""
    exact = Decimal(str(number))
    digits = _setting_number(component.get("decimalDigits"), integer=True)
    exponent = exact.as_tuple().exponent
    if digits is not None and isinstance(exponent, int) and -exponent > digits:
        return f"at most {digits} decimal digits"
    increment = _setting_number(component.get("increment"))
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
    shapes = {"date": _DATE, "time": _TIME, "datetime": f"{_DATE}T{_TIME}"}
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


def _check_required(
    components: Any,
    cleaned: dict[str, Any],
    context: dict[str, Any],
    prefix: str,
    errors: dict[str, str],
    evaluate: Evaluate,
) -> None:
    """Report empty required fields of one scope, recursing into nested scopes."""
    values = {**context, **cleaned}
    for name, component, off in _scope_entries(components):
        where = f"{prefix}{name}"
        if off or where in errors:
            continue
        if component["type"] == "dynamiclist":
            for index, item in enumerate(cleaned.get(name) or []):
                if item is not None:
                    nested_where = f"{where}[{index}]."
                    _check_required(component.get("components"), item, values, nested_where, errors, evaluate)
        elif component["type"] == "group":
            nested = cleaned.get(name) or {}
            _check_required(component.get("components"), nested, values, f"{where}.", errors, evaluate)
        elif _is_empty(component, value_at(cleaned, name)) and _is_required(component, values, evaluate):
            errors[where] = "required"


def _is_empty(component: Schema, value: Any) -> bool:
    """True for a missing value, blank text, an empty list or an unchecked checkbox."""
    if component["type"] == "checkbox":
        return value is not True
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _is_required(component: Schema, values: dict[str, Any], evaluate: Evaluate) -> bool:
    """True if validate.required is set or the requiredWhen condition holds for these values."""
    if _validate(component).get("required") is True:
        return True
    condition = _properties(component).get(REQUIRED_WHEN)
    return isinstance(condition, str) and bool(condition) and bool(evaluate(condition, values))


def _fallback_evaluate(expression: str, values: dict[str, Any]) -> bool:
    """Evaluate ``key == literal`` or ``key != literal`` without eval; raises ValueError otherwise."""
    try:
        node = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"not a valid expression: {expression!r}") from exc
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in (ast.Eq, ast.NotEq)):
        raise ValueError(f"needs an expression evaluator: {expression!r}")
    left, right = node.left, node.comparators[0]
    if isinstance(right, ast.Name):
        left, right = right, left
    if not isinstance(left, ast.Name) or not isinstance(right, ast.Constant):
        raise ValueError(f"needs an expression evaluator: {expression!r}")
    equal = _same(values.get(left.id), right.value)
    return equal if isinstance(node.ops[0], ast.Eq) else not equal


def _same(a: Any, b: Any) -> bool:
    """Equality that does not take True for 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)
