"""The names the FEEL parser knows: keywords, type and property names, and tables of multi-word names
("date and time", "Applicant Age") matched greedily, longest first."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from engine.dmn.feel.lexer import NAME, Token

KEYWORDS = frozenset(
    {
        "and",
        "or",
        "if",
        "then",
        "else",
        "for",
        "in",
        "return",
        "some",
        "every",
        "satisfies",
        "between",
        "instance",
        "of",
        "function",
        "true",
        "false",
        "null",
    }
)
TYPE_NAMES = frozenset(
    {
        "number",
        "string",
        "boolean",
        "date",
        "time",
        "date and time",
        "days and time duration",
        "years and months duration",
        "list",
        "context",
        "range",
        "function",
        "Any",
        "Null",
    }
)
PROPERTY_NAMES = frozenset({"time offset", "start included", "end included"})


class NameTable:
    """Multi-word names by first word, longest first, for greedy matching."""

    def __init__(self, names: Iterable[str]) -> None:
        table: dict[str, list[tuple[str, ...]]] = {}
        for name in names:
            words = tuple(name.split())
            if len(words) > 1:
                table.setdefault(words[0], []).append(words)
        self._table = {k: sorted(v, key=len, reverse=True) for k, v in table.items()}

    def add(self, name: str) -> None:
        """Learn one more multi-word name (a context key met while parsing)."""
        words = tuple(name.split())
        if len(words) > 1:
            known = self._table.setdefault(words[0], [])
            if words not in known:
                known.append(words)
                known.sort(key=len, reverse=True)

    def match(self, tokens: list[Token], i: int) -> int:
        """How many tokens from `i` form the longest known multi-word name (0 if none)."""
        for words in self._table.get(tokens[i].value, ()):
            if all(_word_at(tokens, i + k, w) for k, w in enumerate(words)):
                return len(words)
        return 0


TYPES = NameTable(TYPE_NAMES)
PROPERTIES = NameTable(PROPERTY_NAMES)


def _word_at(tokens: list[Token], i: int, word: str) -> bool:
    return i < len(tokens) and tokens[i].kind == NAME and not tokens[i].quoted and tokens[i].value == word


@lru_cache(maxsize=64)
def name_table(names: frozenset[str]) -> NameTable:
    """A cached NameTable for a set of names."""
    return NameTable(names)
