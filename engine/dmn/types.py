"""Item definitions at run time: does a value conform to a typeRef, and inputs from their JSON form.

DMN 1.5 (7.3.2 and 10.3.2.9): a value that does not conform to the type of the variable it is
assigned to (an input data, a decision's result, a parameter, a context entry) becomes null, and
the evaluation carries a warning naming the type; it is not an error. Conversions on the way:
a singleton list assigned to a non-collection type is its item, and an item assigned to a
collection type is a singleton list. Inputs arrive as JSON, so an ISO text assigned to a date,
time, date and time or duration type (also inside structures and collections) is parsed the way
the TCK runners pass them.

Base types: `number` (and `integer`, `long`, `double`, ...), `string`, `boolean`, `date`,
`time`, `dateTime` / `date and time`, `dayTimeDuration` / `days and time duration`,
`yearMonthDuration` / `years and months duration`, `duration`, `context`, `list`, `function`,
`Any`. A typeRef that is none of them and no item definition is not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from engine.dmn.feel import FeelError, FeelSyntaxError, RootScope, compile_unary_tests
from engine.dmn.feel.state import current
from engine.dmn.feel.temporal import YearsMonths, is_date, parse_date, parse_date_time, parse_duration, parse_time
from engine.dmn.feel.values import Function, Range, type_name
from engine.dmn.model import ItemDefinition

_MISMATCH = object()


class _Unparsed(Exception):
    """An input's ISO text that does not parse as its type (the message says why)."""


_BASE: dict[str, Callable[[Any], bool]] = {
    "number": lambda v: isinstance(v, Decimal),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "date": is_date,
    "time": lambda v: isinstance(v, time),
    "date and time": lambda v: isinstance(v, datetime),
    "days and time duration": lambda v: isinstance(v, timedelta),
    "years and months duration": lambda v: isinstance(v, YearsMonths),
    "duration": lambda v: isinstance(v, timedelta | YearsMonths),
    "context": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, list),
    "function": lambda v: isinstance(v, Function),
    "range": lambda v: isinstance(v, Range),
    "Any": lambda v: True,
}
_ALIASES = {
    "integer": "number",
    "int": "number",
    "long": "number",
    "double": "number",
    "decimal": "number",
    "float": "number",
    "dateTime": "date and time",
    "dayTimeDuration": "days and time duration",
    "yearMonthDuration": "years and months duration",
}
_PARSERS: dict[str, Callable[[str], Any]] = {
    "date": parse_date,
    "time": parse_time,
    "date and time": parse_date_time,
    "days and time duration": parse_duration,
    "years and months duration": parse_duration,
    "duration": parse_duration,
}


def base_type(type_ref: str | None) -> str | None:
    """The FEEL base type a typeRef names (`xsd:date` -> `date`), or None when it names none."""
    if not type_ref:
        return None
    name = type_ref.split(":", 1)[1] if ":" in type_ref and not type_ref.startswith("date") else type_ref
    name = _ALIASES.get(name, name)
    return name if name in _BASE else None


@dataclass(frozen=True)
class _Item:
    definition: ItemDefinition
    allowed: Callable[[Any], bool] | None


class Types:
    """The item definitions of a model, compiled; `conform` and `from_input` work on FEEL values."""

    def __init__(self, definitions: Iterable[ItemDefinition]) -> None:
        self.items = {d.name: self._compile(d) for d in definitions}
        self._components: dict[int, tuple[ItemDefinition, _Item]] = {}  # by id(): compiled once

    @staticmethod
    def _compile(definition: ItemDefinition) -> _Item:
        allowed = None
        if definition.allowed is not None and definition.allowed.text.strip():
            try:
                tests = compile_unary_tests(definition.allowed.text)
            except FeelSyntaxError:
                tests = None
            if tests is not None:
                fn = tests.fn

                def allowed_fn(value: Any, fn: Any = fn) -> bool:
                    state = current()
                    if state is None:
                        return True
                    return fn(RootScope({}, state).with_input(value)) is True

                allowed = allowed_fn
        return _Item(definition, allowed)

    def function_output(self, type_ref: str | None) -> str | None:
        """The output type of a function item definition (a decision service's or BKM's type), or None."""
        item = self.items.get(type_ref or "")
        return item.definition.output_type if item is not None and item.definition.function else None

    def instance(self, value: Any, name: str) -> bool | None:
        """FEEL `value instance of name` for an item definition's name; None when no item definition has it."""
        if name not in self.items:
            return None
        return value is not None and self._conform(value, name, None, 0, strict=True) is not _MISMATCH

    def known(self, type_ref: str | None) -> bool:
        """Whether values are checked against this typeRef."""
        return bool(type_ref) and (type_ref in self.items or base_type(type_ref) is not None)

    def conform(self, value: Any, type_ref: str | None, what: str) -> Any:
        """`value` converted to the type (singleton lists), or null with a warning when it does not conform."""
        if value is None or not type_ref:
            return value
        result = self._conform(value, type_ref, None, 0)
        if result is _MISMATCH:
            _warn(f"{what}: {_describe(value)} does not conform to type {type_ref!r}; it was taken as null")
            return None
        return result

    def from_input(self, value: Any, type_ref: str | None, what: str) -> Any:
        """An input (a FEEL value from JSON) with ISO texts of temporal types parsed, then conformed."""
        if value is None or not type_ref:
            return value
        try:
            result = self._conform(value, type_ref, None, 0, parse=True)
        except _Unparsed as err:
            _warn(f"{what}: {err}; it was taken as null")
            return None
        if result is _MISMATCH:
            _warn(f"{what}: {_describe(value)} does not conform to type {type_ref!r}; it was taken as null")
            return None
        return result

    def _conform(
        self, value: Any, type_ref: str, item: _Item | None, depth: int, parse: bool = False, strict: bool = False
    ) -> Any:
        """`value` conformed to the type (`parse`: ISO texts of temporal types parsed; `strict`: `instance of`,
        without singleton-list conversions and allowed values), or _MISMATCH."""
        if value is None:
            return None
        if depth > 32:
            return value
        if item is None:
            found = self.items.get(type_ref)
            if found is None:
                return self._base(value, type_ref, parse, strict)
            item = found
        definition = item.definition
        if definition.is_collection:
            if strict and not isinstance(value, list):
                return _MISMATCH
            items = value if isinstance(value, list) else [value]
            element = _Item(
                ItemDefinition(definition.name, definition.type_ref, False, None, definition.components), None
            )
            converted = []
            for entry in items:
                one = self._conform(entry, type_ref, element, depth + 1, parse, strict)
                if one is _MISMATCH:
                    return _MISMATCH
                converted.append(one)
            result: Any = converted
        else:
            if isinstance(value, list) and len(value) == 1 and not strict:
                value = value[0]
            if definition.function:
                result = value if isinstance(value, Function) else _MISMATCH
            elif definition.components:
                result = self._structure(value, definition, depth, parse, strict)
            elif definition.type_ref:
                result = self._conform(value, definition.type_ref, None, depth + 1, parse, strict)
            else:
                result = value
        if result is _MISMATCH or result is None:
            return result
        if item.allowed is not None and not strict and not item.allowed(result):
            return _MISMATCH
        return result

    def _structure(self, value: Any, definition: ItemDefinition, depth: int, parse: bool, strict: bool) -> Any:
        if not isinstance(value, dict):
            return _MISMATCH
        result = dict(value)
        for component in definition.components:
            if component.name not in value:
                if parse:  # an input may leave a component out (JSON has no undefined): it is null
                    continue
                return _MISMATCH  # a result must have every component (DMN 1.5, 10.3.2.9.4)
            one = self._conform(
                value[component.name], component.name, self._component(component), depth + 1, parse, strict
            )
            if one is _MISMATCH:
                return _MISMATCH
            result[component.name] = one
        return result

    def _component(self, component: ItemDefinition) -> _Item:
        cached = self._components.get(id(component))
        if cached is None or cached[0] is not component:
            cached = self._components[id(component)] = (component, self._compile(component))
        return cached[1]

    @staticmethod
    def _base(value: Any, type_ref: str, parse: bool, strict: bool = False) -> Any:
        base = base_type(type_ref)
        if base is None:
            return value
        if parse and isinstance(value, str) and base in _PARSERS:
            try:
                value = _PARSERS[base](value)
            except (FeelError, ValueError) as err:
                raise _Unparsed(str(err)) from err
        if not strict and base not in ("list", "Any") and isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not strict and base == "list" and not isinstance(value, list):
            value = [value]
        return value if _BASE[base](value) else _MISMATCH


def _describe(value: Any) -> str:
    return f"a {type_name(value)}"


def _warn(message: str) -> None:
    state = current()
    if state is not None:
        state.warn(message)
