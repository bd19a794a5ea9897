"""FEEL's built-in functions, by name (the function modules register themselves on import)."""

from __future__ import annotations

from engine.dmn.feel import fn_conversion, fn_lists, fn_text
from engine.dmn.feel.library import REGISTRY, Builtin

BUILTINS: dict[str, Builtin] = REGISTRY
BUILTIN_NAMES: frozenset[str] = frozenset(REGISTRY)

_ = (fn_conversion, fn_lists, fn_text)
