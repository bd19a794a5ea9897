"""FEEL's built-in functions, by name (the function modules register themselves on import)."""

from __future__ import annotations

from engine.dmn.feel.functions import conversion, lists, structures, text
from engine.dmn.feel.functions.library import REGISTRY, Builtin

BUILTINS: dict[str, Builtin] = REGISTRY
BUILTIN_NAMES: frozenset[str] = frozenset(REGISTRY)

_ = (conversion, lists, structures, text)
