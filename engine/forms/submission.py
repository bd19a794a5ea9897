"""Submit-time validation: a submission cleaned against its form, or every field error at once."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Any

from engine.forms.components import REQUIRED_WHEN, Evaluate, Schema, properties_of, scope_entries, validate_of
from engine.forms.values import CLEANERS


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
    entries = {name: (component, off) for name, component, off in scope_entries(components)}
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


def _prefixes(names: Iterable[str]) -> set[str]:
    """Every path leading to a dotted key ("a" and "a.b" for "a.b.c")."""
    return {
        ".".join(parts[:i])
        for name in names
        if "." in name
        for parts in [name.split(".")]
        for i in range(1, len(parts))
    }


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
    for name, component, off in scope_entries(components):
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
    if validate_of(component).get("required") is True:
        return True
    condition = properties_of(component).get(REQUIRED_WHEN)
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
