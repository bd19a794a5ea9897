"""FEEL's `instance of`: type names and the generic types of DMN 1.5 (`list<number>`, `context<a: string>`, ...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.dmn.feel.values import OPEN, Function, Range, type_name

Named = Callable[[Any, str], bool | None]  # whether a value is of a type the model names (an item definition)


def is_instance(value: Any, spec: Any, named: Named | None = None) -> bool:
    """FEEL `value instance of T`: a type name, or a generic type as the parser reads it (`list<number>` is
    ("list", "number"), `context<a: string>` is ("context", (("a", "string"),)), `function<number> -> Any` is
    ("function", ("number",), "Any")). Inside a list, range or context, null conforms to every type. `named`
    decides names that are not FEEL's (the model's item definitions, also inside `list<...>`), or says None."""
    if spec == "Any":
        return value is not None
    if spec == "Null":
        return value is None
    if isinstance(spec, str):
        verdict = named(value, spec) if named is not None else None
        return type_name(value) == spec if verdict is None else verdict
    kind = spec[0]
    if kind == "list":
        return isinstance(value, list) and all(v is None or is_instance(v, spec[1], named) for v in value)
    if kind == "range":
        return isinstance(value, Range) and all(
            v is None or v is OPEN or is_instance(v, spec[1], named) for v in (value.low, value.high)
        )
    if kind == "context":
        return isinstance(value, dict) and all(
            key in value and (value[key] is None or is_instance(value[key], inner, named)) for key, inner in spec[1]
        )
    if kind == "function":
        return isinstance(value, Function) and (value.variadic or not value.params or len(value.params) == len(spec[1]))
    return False
