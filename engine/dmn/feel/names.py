"""The names the FEEL parser knows: keywords, type and property names, and tables of multi-word names
("date and time", "Applicant Age") matched greedily, longest first."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from engine.dmn.feel.errors import FeelSyntaxError
from engine.dmn.feel.lexer import NAME, Token, tokenize

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
        self._spans: dict[str, list[tuple[tuple[str, str, bool], ...]]] = {}
        for name in names:
            words = tuple(name.split())
            if len(words) > 1:
                table.setdefault(words[0], []).append(words)
            self._add_span(name)
        self._table = {k: sorted(v, key=len, reverse=True) for k, v in table.items()}

    def _add_span(self, name: str) -> None:
        """A name whose tokens are not all words (`Pre-bureau risk category`, `decision A 1`): matched token by
        token, with the same spacing, so `Pre - bureau` stays a subtraction."""
        if not any(not c.isalnum() and not c.isspace() and c not in "_?'" for c in name) and not any(
            w[0].isdigit() for w in name.split()[1:]
        ):
            return
        try:
            tokens = tokenize(name)[:-1]
        except FeelSyntaxError:
            return
        if len(tokens) < 2:
            return
        span = tuple((t.kind, t.value, k > 0 and t.start > tokens[k - 1].end) for k, t in enumerate(tokens))
        known = self._spans.setdefault(tokens[0].value, [])
        if span not in known:
            known.append(span)
            known.sort(key=len, reverse=True)

    def add(self, name: str) -> None:
        """Learn one more multi-word name (a context key met while parsing)."""
        words = tuple(name.split())
        if len(words) > 1:
            known = self._table.setdefault(words[0], [])
            if words not in known:
                known.append(words)
                known.sort(key=len, reverse=True)
        self._add_span(name)

    def match(self, tokens: list[Token], i: int) -> int:
        """How many tokens from `i` form the longest known multi-word name (0 if none)."""
        width = 0
        for words in self._table.get(tokens[i].value, ()):
            if all(_word_at(tokens, i + k, w) for k, w in enumerate(words)):
                width = len(words)
                break
        for span in self._spans.get(tokens[i].value, ()):
            if len(span) <= width:
                break
            if all(_piece_at(tokens, i + k, k, piece) for k, piece in enumerate(span)):
                return len(span)
        return width


TYPES = NameTable(TYPE_NAMES)
PROPERTIES = NameTable(PROPERTY_NAMES)


def _piece_at(tokens: list[Token], i: int, k: int, piece: tuple[str, str, bool]) -> bool:
    """Token `i` is the `k`th of a name: same kind and text, and a space before it exactly when the name has one."""
    kind, value, spaced = piece
    if i >= len(tokens) or tokens[i].kind != kind or tokens[i].value != value or tokens[i].quoted:
        return False
    return k == 0 or (tokens[i].start > tokens[i - 1].end) == spaced


def _word_at(tokens: list[Token], i: int, word: str) -> bool:
    return i < len(tokens) and tokens[i].kind == NAME and not tokens[i].quoted and tokens[i].value == word


@lru_cache(maxsize=64)
def name_table(names: frozenset[str]) -> NameTable:
    """A cached NameTable for a set of names."""
    return NameTable(names)
