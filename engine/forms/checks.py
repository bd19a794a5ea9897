"""Deploy-time checks of a form-js schema: every problem at once, each with its path."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from engine.forms.components import (
    CHOICE_TYPES,
    CONTAINER_TYPES,
    DATETIME_SUBTYPES,
    DISPLAY_TYPES,
    INPUT_TYPES,
    MAX_DEPTH,
    MULTI_CHOICE_TYPES,
    REQUIRED_WHEN,
    SETTINGS_FOR,
    TIME_FORMATS,
    UNSUPPORTED_TYPES,
    VALIDATION_TYPES,
    Schema,
    conditional_of,
    kind_of,
    properties_of,
    setting_number,
    valid_name,
    validate_of,
)


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
        kind = kind_of(component)
        self.check_id(component, path)
        self.check_common(component, path)
        hide_condition = hide_condition or isinstance(conditional_of(component).get("hide"), str)
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
        if kind not in INPUT_TYPES and REQUIRED_WHEN in properties_of(component):
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
        if hide_condition and validate_of(component).get("required") is True:
            self.add(
                f"{path}.validate.required",
                f"a field with a hide condition cannot be required; use properties {REQUIRED_WHEN}",
            )

    def check_name(self, name: Any, path: str, scope: dict[str, str], missing: str, dotted: bool = False) -> None:
        """Check a key or path: an identifier not starting with '_' (a key: also words with spaces, joined
        by dots into a path) and unique in its data scope, without a path through another key."""
        if name is None or name == "":
            self.add(path, missing)
        elif not isinstance(name, str) or not valid_name(name, dotted):
            allowed = (
                "letters, digits, '_' and single spaces; dots between parts"
                if dotted
                else "letters, digits and '_'; no dots"
            )
            self.add(path, f"'{name}' is not a valid {'key' if dotted else 'identifier'} ({allowed})")
        elif any(part.startswith("_") for part in name.split(".")):
            self.add(path, "may not start with '_'")
        elif name in scope:
            self.add(path, f"duplicate key '{name}' (also at {scope[name]})")
        elif clash := next((k for k in scope if k.startswith(name + ".") or name.startswith(k + ".")), None):
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
            digits = setting_number(component["decimalDigits"], integer=True)
            if digits is None or digits < 0:
                self.add(f"{path}.decimalDigits", "must be a non-negative integer")
        increment = component.get("increment")
        if increment not in (None, "") and not (setting_number(increment) or 0) > 0:
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
            low_value, high_value = setting_number(validate.get(low)), setting_number(validate.get(high))
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
        number = setting_number(value, integer=True)
        return None if number is not None and number >= 0 else "must be a non-negative integer"
    if name in ("min", "max"):
        return None if setting_number(value) is not None else "must be a number (expressions are not supported)"
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
