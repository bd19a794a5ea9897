"""String functions of FEEL. Positions are 1-based and count characters (code points).

Regular expressions (`matches`, `replace`, `split`) run on the `regex` package (PyPI), not on
Python's `re`: `re` cannot be interrupted, so a pattern that backtracks without bound
(`^(a|aa)+$` on thirty `a` and a `!`) would hold the thread and the GIL for hours. `regex`
takes a `timeout` (what is left of the evaluation's time limit) and, with `concurrent=True`,
lets other threads run while it matches; that timeout counts CPU time, so the match runs in a thread
of its own and the evaluation stops waiting at its deadline (`_timed`). Its compiler expands counted
repetitions, so their counts (`a{1000}`) may multiply to at most MAX_REPEAT; back-references and fuzzy matching are
refused. Patterns are XPath's dialect (XML Schema's regular expressions with XPath's flags,
translated by `_xpath`): `.` is any character but a line end, class subtraction `[A-Z-[OI]]`,
block names `\\p{IsBasicLatin}`, and the `x` flag's whitespace rules.
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal
from functools import lru_cache
from typing import Any

import regex

from engine.dmn.feel.errors import FeelError, FeelLimit
from engine.dmn.feel.functions.library import builtin, int_arg, list_arg, text_arg
from engine.dmn.feel.state import EvalState, check_items
from engine.dmn.feel.values import MAX_STRING

MAX_PATTERN = 500
MAX_REGEX_INPUT = 100_000
INLINE_CPU = 0.05  # seconds of CPU a match may use before it runs again in a thread (see _timed)
MAX_REPEAT = 100_000  # product of the counts of counted repetitions (`{n}`, `{n,m}`) in one pattern
_FLAGS = {"i": regex.IGNORECASE, "s": regex.DOTALL, "m": regex.MULTILINE, "x": 0}  # x: see _xpath
_COUNT = re.compile(r"(?<!\\)\{(\d*)(?:,(\d*))?\}")


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


@builtin("string join", "list, delimiter", 1, nulls=True)
def string_join(items: Any, delimiter: Any = None) -> str | None:
    if items is None:
        return None
    parts = [text_arg(v, "string join", "list item") for v in list_arg(items, "string join") if v is not None]
    sep = "" if delimiter is None else text_arg(delimiter, "string join", "delimiter")
    if sum(len(p) for p in parts) + len(sep) * len(parts) > MAX_STRING:
        raise FeelLimit(f"string join(): result would be longer than {MAX_STRING:,} characters")
    return sep.join(parts)


@builtin("matches", "input, pattern, flags", 2, needs_state=True, nulls=True)
def matches(state: EvalState, text: Any, pattern: Any, flags: Any = None) -> bool | None:
    if text is None or pattern is None:  # null flags are no flags
        return None
    value = _regex_input(text, "matches")
    compiled = _regex(pattern, flags, "matches")
    return _timed(state, "matches", lambda left: compiled.search(value, timeout=left, concurrent=True)) is not None


@builtin("replace", "input, pattern, replacement, flags", 3, needs_state=True, nulls=True)
def replace(state: EvalState, text: Any, pattern: Any, replacement: Any, flags: Any = None) -> str | None:
    if text is None or pattern is None or replacement is None:  # null flags are no flags
        return None
    value = _regex_input(text, "replace")
    template = text_arg(replacement, "replace", "replacement")
    template = re.sub(r"\$(\d)", r"\\g<\1>", template.replace("\\", "\\\\"))
    compiled = _regex(pattern, flags, "replace")
    built = [0]

    def expand(match: Any) -> str:  # sized as it goes: a big replacement times many matches is refused early
        part: str = match.expand(template)
        built[0] += len(part)
        if built[0] > MAX_STRING:
            raise FeelLimit(f"replace(): result would be longer than {MAX_STRING:,} characters")
        return part

    def run(left: float) -> str:
        built[0] = 0  # _timed may run it twice
        done: str = compiled.sub(expand, value, timeout=left, concurrent=True)
        return done

    try:
        result: str = _timed(state, "replace", run)
    except (IndexError, regex.error) as err:
        raise FeelError(f"replace(): invalid replacement: {err}") from err
    if len(result) > MAX_STRING:
        raise FeelLimit(f"replace(): result would be longer than {MAX_STRING:,} characters")
    return result


@builtin("split", "string, delimiter", needs_state=True)
def split(state: EvalState, text: Any, delimiter: Any) -> list[str]:
    value = _regex_input(text, "split")
    compiled = _regex(delimiter, None, "split")
    parts: list[str] = _timed(state, "split", lambda left: compiled.split(value, timeout=left, concurrent=True))
    check_items(len(parts))
    state.allocate(len(value))
    return parts


def _timed(state: EvalState, function: str, run: Any) -> Any:
    """`run(seconds left)`, ended at the evaluation's deadline; a timeout as a FeelError.

    `regex`'s `timeout` counts the process's CPU time (C `clock()`), not the time that passes: on a busy
    machine a 1 s timeout let a backtracking pattern run 6 s. So a match first runs here with at most
    INLINE_CPU seconds (nearly every match needs microseconds); one that needs more runs again in a thread of
    its own, and the evaluation stops waiting for it at its deadline. That match holds no lock
    (`concurrent=True`) and ends by itself once it has used its `timeout` of CPU."""
    left = state.remaining()
    try:
        return run(min(left, INLINE_CPU))
    except TimeoutError as err:
        if left <= INLINE_CPU:
            raise FeelLimit(f"{function}(): stopped after the time limit of {state.time_limit:g} s") from err
    return _in_thread(state, function, run)


def _in_thread(state: EvalState, function: str, run: Any) -> Any:
    left = state.remaining()
    outcome: list[Any] = []

    def match() -> None:
        try:
            outcome.append((True, run(left)))
        except BaseException as err:  # handed to the caller, which raises it
            outcome.append((False, err))

    worker = threading.Thread(target=match, name=f"feel-{function}", daemon=True)
    worker.start()
    worker.join(left)
    if not outcome:
        raise FeelLimit(f"{function}(): stopped after the time limit of {state.time_limit:g} s")
    done, value = outcome[0]
    if done:
        return value
    if isinstance(value, TimeoutError):
        raise FeelLimit(f"{function}(): stopped after the time limit of {state.time_limit:g} s") from value
    raise value


def _regex_input(text: Any, function: str) -> str:
    value = text_arg(text, function, "input")
    if len(value) > MAX_REGEX_INPUT:
        raise FeelLimit(f"{function}(): input is longer than {MAX_REGEX_INPUT:,} characters")
    return value


def _regex(pattern: Any, flags: Any, function: str) -> Any:
    text = text_arg(pattern, function, "pattern")
    flag_text = "" if flags is None else text_arg(flags, function, "flags")
    return _compiled(text, flag_text, function)


@lru_cache(maxsize=256)
def _compiled(pattern: str, flags: str, function: str) -> Any:
    if len(pattern) > MAX_PATTERN:
        raise FeelLimit(f"{function}(): pattern is longer than {MAX_PATTERN} characters")
    bits = regex.VERSION0
    for flag in flags:
        if flag not in _FLAGS:
            raise FeelError(f"{function}(): unknown flag {flag!r} (use i, s, m or x)")
        bits |= _FLAGS[flag]
    refusal = _refused(pattern)
    if refusal:
        raise FeelLimit(f"{function}(): pattern refused: {refusal}")
    try:
        return regex.compile(_xpath(pattern, flags), bits)
    except (regex.error, OverflowError, RecursionError) as err:
        raise FeelError(f"{function}(): invalid pattern: {err}") from err


def _refused(pattern: str) -> str | None:
    """Why a pattern is not compiled (too costly to compile, or not a regular expression of XPath), or None."""
    if re.search(r"\\[1-9]|\\g[<0-9]|\(\?P[=>]|\(\?[&R0-9]|\(\?[+-]\d", pattern):
        return "back-references and recursion are not allowed"
    product = 1
    for match in _COUNT.finditer(pattern):
        if match[1] == "" and not match[2]:
            continue  # `{}` and `{,}` are literal text
        counts = [int(c) for c in (match[1], match[2]) if c]
        product *= max(counts + [1])
        if product > MAX_REPEAT:
            return f"counted repetitions may multiply to at most {MAX_REPEAT:,}"
    if re.search(r"(?<!\\[pPN])\{[^}]*[eisd][^}]*\}", pattern):
        return "fuzzy matching is not allowed"
    return None


def _xpath(pattern: str, flags: str) -> str:
    """An XPath pattern (F&O 3.1, 5.6.1) in the `regex` package's dialect: with the `x` flag, whitespace
    outside character classes is removed before anything else (`\\ s` is `\\s`); `.` is any character
    but `\\n` and `\\r` unless the `s` flag; `\\p{IsBlock}` names a Unicode block; `[a-z-[aeiou]]`
    subtracts a class; `\\0` is no escape. Raises FeelError."""
    if "x" in flags:
        pattern = _without_whitespace(pattern)
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape, i = _escape(pattern, i)
            out.append(escape)
        elif char == "[":
            text, i = _char_class(pattern, i)
            out.append(text)
        else:
            out.append("[^\\n\\r]" if char == "." and "s" not in flags else char)
            i += 1
    return "".join(out)


def _escape(pattern: str, i: int) -> tuple[str, int]:
    """The escape at `i` (a backslash) and the index after it."""
    if pattern.startswith(("\\p{Is", "\\P{Is"), i):
        return pattern[i : i + 3] + "In", i + 5
    if pattern[i + 1 : i + 2] == "0":
        raise FeelError("invalid pattern: \\0 is not an escape")
    return pattern[i : i + 2], i + 2


def _char_class(pattern: str, start: int) -> tuple[str, int]:
    """The character class opening at `start` and the index after it; a subtraction `[base-[minus]]` becomes
    `(?:(?!minus)[base])`."""
    parts = ["["]
    i = start + 1
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape, i = _escape(pattern, i)
            parts.append(escape)
        elif char == "-" and pattern[i + 1 : i + 2] == "[" and i > start + 1:
            minus, i = _char_class(pattern, i + 1)
            if pattern[i : i + 1] != "]":
                raise FeelError("invalid pattern: a subtracted class must end its class")
            return f"(?:(?!{minus}){''.join(parts)}])", i + 1
        elif char == "]" and i > start + 1 + (pattern[start + 1] == "^"):
            return "".join(parts) + "]", i + 1
        else:
            parts.append(char)
            i += 1
    raise FeelError("invalid pattern: a character class is not closed")


def _without_whitespace(pattern: str) -> str:
    """The `x` flag: tab, line feed, carriage return and space go, except inside character classes."""
    out: list[str] = []
    depth, escaped = 0, False
    for char in pattern:
        if char in "\t\n\r " and depth == 0:
            continue
        out.append(char)
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
    return "".join(out)
