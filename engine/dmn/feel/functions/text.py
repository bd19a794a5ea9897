"""String functions of FEEL. Positions are 1-based and count characters (code points).

Regular expressions (`matches`, `replace`, `split`) run on Python's `re`, which cannot be
interrupted, so patterns that could backtrack without bound are refused: a quantified group
that itself holds a quantifier or an alternation (`(a+)+`, `(a|aa)*`), and back-references.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from typing import Any

from engine.dmn.feel.errors import FeelError
from engine.dmn.feel.functions.library import builtin, int_arg, list_arg, text_arg
from engine.dmn.feel.values import MAX_STRING

MAX_PATTERN = 500
MAX_REGEX_INPUT = 100_000
_FLAGS = {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE, "x": re.VERBOSE}
_QUANTIFIED_GROUP = re.compile(r"\)(?:[*+]|\{\d*,?\d*\})")


@builtin("substring", "string, start position, length", 2)
def substring(text: Any, start: Any, length: Any = None) -> str:
    value = text_arg(text, "substring", "string")
    position = int_arg(start, "substring", "start position")
    begin = position - 1 if position > 0 else len(value) + position
    begin = max(begin, 0)
    if length is None:
        return value[begin:]
    count = int_arg(length, "substring", "length")
    if count < 0:
        raise FeelError("substring(): length must not be negative")
    return value[begin : begin + count]


@builtin("string length", "string")
def string_length(text: Any) -> Decimal:
    return Decimal(len(text_arg(text, "string length", "string")))


@builtin("upper case", "string")
def upper_case(text: Any) -> str:
    return text_arg(text, "upper case", "string").upper()


@builtin("lower case", "string")
def lower_case(text: Any) -> str:
    return text_arg(text, "lower case", "string").lower()


@builtin("substring before", "string, match")
def substring_before(text: Any, match: Any) -> str:
    value, part = text_arg(text, "substring before", "string"), text_arg(match, "substring before", "match")
    index = value.find(part)
    return value[:index] if index >= 0 else ""


@builtin("substring after", "string, match")
def substring_after(text: Any, match: Any) -> str:
    value, part = text_arg(text, "substring after", "string"), text_arg(match, "substring after", "match")
    index = value.find(part)
    return value[index + len(part) :] if index >= 0 else ""


@builtin("contains", "string, match")
def contains(text: Any, match: Any) -> bool:
    return text_arg(match, "contains", "match") in text_arg(text, "contains", "string")


@builtin("starts with", "string, match")
def starts_with(text: Any, match: Any) -> bool:
    return text_arg(text, "starts with", "string").startswith(text_arg(match, "starts with", "match"))


@builtin("ends with", "string, match")
def ends_with(text: Any, match: Any) -> bool:
    return text_arg(text, "ends with", "string").endswith(text_arg(match, "ends with", "match"))


@builtin("string join", "list, delimiter", 1)
def string_join(items: Any, delimiter: Any = None) -> str:
    parts = [text_arg(v, "string join", "list item") for v in list_arg(items, "string join") if v is not None]
    sep = "" if delimiter is None else text_arg(delimiter, "string join", "delimiter")
    if sum(len(p) for p in parts) + len(sep) * len(parts) > MAX_STRING:
        raise FeelError(f"string join(): result would be longer than {MAX_STRING:,} characters")
    return sep.join(parts)


@builtin("matches", "input, pattern, flags", 2)
def matches(text: Any, pattern: Any, flags: Any = None) -> bool:
    value = _regex_input(text, "matches")
    return _regex(pattern, flags, "matches").search(value) is not None


@builtin("replace", "input, pattern, replacement, flags", 3)
def replace(text: Any, pattern: Any, replacement: Any, flags: Any = None) -> str:
    value = _regex_input(text, "replace")
    template = text_arg(replacement, "replace", "replacement")
    template = re.sub(r"\$(\d)", r"\\g<\1>", template.replace("\\", "\\\\"))
    result = _regex(pattern, flags, "replace").sub(template, value)
    if len(result) > MAX_STRING:
        raise FeelError(f"replace(): result would be longer than {MAX_STRING:,} characters")
    return result


@builtin("split", "string, delimiter")
def split(text: Any, delimiter: Any) -> list[str]:
    value = _regex_input(text, "split")
    return _regex(delimiter, None, "split").split(value)


def _regex_input(text: Any, function: str) -> str:
    value = text_arg(text, function, "input")
    if len(value) > MAX_REGEX_INPUT:
        raise FeelError(f"{function}(): input is longer than {MAX_REGEX_INPUT:,} characters")
    return value


def _regex(pattern: Any, flags: Any, function: str) -> re.Pattern[str]:
    text = text_arg(pattern, function, "pattern")
    flag_text = "" if flags is None else text_arg(flags, function, "flags")
    return _compiled(text, flag_text, function)


@lru_cache(maxsize=256)
def _compiled(pattern: str, flags: str, function: str) -> re.Pattern[str]:
    if len(pattern) > MAX_PATTERN:
        raise FeelError(f"{function}(): pattern is longer than {MAX_PATTERN} characters")
    bits = 0
    for flag in flags:
        if flag not in _FLAGS:
            raise FeelError(f"{function}(): unknown flag {flag!r} (use i, s, m or x)")
        bits |= _FLAGS[flag]
    refusal = _risky(pattern)
    if refusal:
        raise FeelError(f"{function}(): pattern refused: {refusal}")
    try:
        return re.compile(pattern, bits)
    except re.error as err:
        raise FeelError(f"{function}(): invalid pattern: {err}") from err


def _risky(pattern: str) -> str | None:
    """Why a pattern could backtrack without bound, or None."""
    if re.search(r"\\[1-9]|\(\?P=", pattern):
        return "back-references are not allowed"
    for match in _QUANTIFIED_GROUP.finditer(pattern):
        group = _group_before(pattern, match.start())
        if group is not None and re.search(r"(?<!\\)[*+|]|(?<!\\)\{\d*,", group):
            return "a repeated group may not contain repetition or alternatives"
    return None


def _group_before(pattern: str, close: int) -> str | None:
    """The text of the group that ends at pattern[close] == ')'."""
    depth = 0
    for i in range(close, -1, -1):
        char = pattern[i]
        if i > 0 and pattern[i - 1] == "\\":
            continue
        if char == ")":
            depth += 1
        elif char == "(":
            depth -= 1
            if depth == 0:
                return pattern[i + 1 : close]
    return None
