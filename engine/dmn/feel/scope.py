"""Name lookup during evaluation: a chain of scopes ending in the caller's variables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.dmn.feel.state import EvalState
from engine.dmn.feel.values import from_python

_MISSING = object()


class Scope:
    """Variables of one level: FEEL values in `values`, looked up before the parent's."""

    __slots__ = ("values", "parent", "state", "input")

    def __init__(self, values: dict[str, Any], parent: Scope | None, state: EvalState, input: Any = None) -> None:
        self.values = values
        self.parent = parent
        self.state = state
        self.input = input

    def lookup(self, name: str, fallback: Any = _MISSING) -> Any:
        """The value of `name`; `fallback` if given, else null (with a warning in the trace), if no scope
        defines it."""
        scope: Scope | None = self
        while scope is not None:
            value = scope.find(name)
            if value is not _MISSING:
                return value
            scope = scope.parent
        if fallback is not _MISSING:
            return fallback
        self.state.warn(f"{name!r} is not defined; it was taken as null")
        return None

    def find(self, name: str) -> Any:
        """The value of `name` in this scope only, or a marker when it has none."""
        return self.values.get(name, _MISSING)

    def child(self, values: dict[str, Any]) -> Scope:
        """A nested scope (a context, an iteration, a function call) over this one."""
        return Scope(values, self, self.state, self.input)

    def with_input(self, value: Any) -> Scope:
        """The same variables, with `?` bound to `value`."""
        return Scope({}, self, self.state, value)


class ItemScope(Scope):
    """The scope of a filter's condition: `item`, and the entries of `item` when it is a context (never copied)."""

    __slots__ = ()

    def __init__(self, item: Any, parent: Scope) -> None:
        super().__init__({"item": item}, parent, parent.state, parent.input)

    def find(self, name: str) -> Any:
        item = self.values["item"]
        if isinstance(item, dict) and name in item:  # an entry called `item` hides the item itself
            return item[name]
        return item if name == "item" else _MISSING


class RootScope(Scope):
    """The caller's Python variables, converted to FEEL values when first read."""

    __slots__ = ("source",)

    def __init__(self, source: Mapping[str, Any], state: EvalState) -> None:
        super().__init__({}, None, state)
        self.source = source

    def find(self, name: str) -> Any:
        value = self.values.get(name, _MISSING)
        if value is _MISSING and name in self.source:
            value = from_python(self.source[name])
            self.values[name] = value
        return value

    def bind(self, name: str, value: Any) -> None:
        """Set a FEEL value (a required decision's result) for the rest of the evaluation."""
        self.values[name] = value


Fn = Callable[[Scope], Any]  # a compiled expression
Test = Callable[[Scope], "bool | None"]  # a compiled unary test: does `scope.input` pass (None: unknown)
