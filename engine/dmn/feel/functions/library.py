"""The registry of FEEL's built-in functions and helpers the function modules share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.dmn.feel.errors import FeelError
from engine.dmn.feel.values import type_name


@dataclass(frozen=True)
class Builtin:
    """One built-in: its parameter names (alternatives joined by "|"), arity and implementation."""

    name: str
    impl: Callable[..., Any]
    params: tuple[str, ...]
    required: int
    variadic: bool = False
    nulls: bool = False  # True: called with null arguments; False: any null argument gives null
    needs_state: bool = False  # True: the EvalState is passed first
    counts: tuple[int, ...] = ()  # the argument counts allowed, when not every count in between is

    def accepts(self, count: int) -> bool:
        if self.counts:
            return count in self.counts
        return count >= self.required and (self.variadic or count <= len(self.params))

    def position(self, name: str) -> int | None:
        """The index of the parameter called `name`, or None."""
        for i, param in enumerate(self.params):
            if name in param.split("|"):
                return i
        return None

    def arity(self) -> str:
        if self.counts:
            return " or ".join(str(c) for c in self.counts) + " arguments"
        most = len(self.params)
        if self.variadic:
            return f"{self.required} or more arguments"
        if most == self.required:
            return f"{most} argument{'s' if most != 1 else ''}"
        return f"{self.required} to {most} arguments"


REGISTRY: dict[str, Builtin] = {}


Register = Callable[[Callable[..., Any]], Callable[..., Any]]


def builtin(
    name: str,
    params: str = "",
    required: int | None = None,
    *,
    variadic: bool = False,
    nulls: bool = False,
    needs_state: bool = False,
    counts: tuple[int, ...] = (),
) -> Register:
    """Register a function under `name`; `params` is a comma-separated list of parameter names."""
    names = tuple(p.strip() for p in params.split(",") if p.strip())

    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY[name] = Builtin(
            name, impl, names, len(names) if required is None else required, variadic, nulls, needs_state, counts
        )
        return impl

    return register


def number_arg(value: Any, function: str, param: str) -> Decimal:
    """`value` if it is a number; raises FeelError naming the function and parameter."""
    if not isinstance(value, Decimal):
        raise FeelError(f"{function}(): {param} must be a number, not {type_name(value)}")
    return value


def int_arg(value: Any, function: str, param: str) -> int:
    """`value` as an int, its fraction cut off (`substring("foobar", 3, 3.8)` takes 3 characters, as the TCK
    expects); raises FeelError."""
    number = number_arg(value, function, param)
    if abs(number) > 10**9:
        raise FeelError(f"{function}(): {param} is out of range")
    return int(number)


def text_arg(value: Any, function: str, param: str) -> str:
    """`value` if it is a string; raises FeelError."""
    if not isinstance(value, str):
        raise FeelError(f"{function}(): {param} must be a string, not {type_name(value)}")
    return value


def list_arg(value: Any, function: str, param: str = "list") -> list[Any]:
    """`value` if it is a list (a single value counts as a list of one); raises FeelError for null."""
    if isinstance(value, list):
        return value
    return [value]


def items_of(args: tuple[Any, ...]) -> list[Any]:
    """The items of `f(list)` or of `f(a, b, c)`."""
    if len(args) == 1 and isinstance(args[0], list):
        return args[0]
    return list(args)
