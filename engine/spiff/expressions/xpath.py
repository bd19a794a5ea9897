"""A small, well-defined subset of XPath (BPMN's default expression language), translated to sandbox Python.

BPMN 2.0 names XPath as the default `expressionLanguage`, and tools that export for execution
(Signavio, itp-commerce, Trisotech, the MIWG test cases) write conditions in it:

    bpmn:getDataObject('approved')      not(bpmn:getDataObject('approved'))
    bpmn:getDataObject('clarified') = 'yes'      Service Level == 'Premium'      $amount > 1000

The subset: string ('...' or "...") and number literals, `true()`, `false()`, variables (a name,
`$name`, or several words separated by spaces as FEEL and modelers write them: `Service Level`),
`bpmn:getDataObject('name')` (also without the prefix, either quote; it reads the variable of
that name: pmoflow keeps a process's data in its variables), the comparisons `= != < <= > >=`
(`==` is read as `=`) and XPath 2.0's `eq ne lt le gt ge`, `and`, `or`, `not(...)` and
parentheses; `true`/`false` (also capitalised, as Python writers do) without parentheses are the
booleans too, and a bare `not` is refused rather than read as part of a name. A variable is read with the
sandbox's `var(name, required=True)`, so names with spaces or dashes are reachable and a variable
that is not set is an incident naming the element, as it is in Python conditions. Comparisons
compare the values as they are (XPath 2.0's typed comparison of single values, not XPath 1.0's
conversion of text to numbers). Anything else (paths, arithmetic, other functions such as
`bpmn:getActivityProperty`, `count()`) raises XPathUnsupported, a deploy problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LENGTH = 10_000
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d*)?|\.\d+)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<qname>[^\W\d][\w.\-]*:[^\W\d][\w.\-]*)
  | (?P<variable>\$[^\W\d][\w.\-]*)
  | (?P<name>[^\W\d][\w.\-]*)
  | (?P<op>==|!=|<=|>=|[=<>()\-,])
""",
    re.VERBOSE,
)
_COMPARISONS = {"=": "==", "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_WORD_COMPARISONS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}  # XPath 2.0
_LITERALS = {"true": "True", "false": "False", "True": "True", "False": "False"}  # as people write them
_DATA_OBJECT = ("getDataObject", "bpmn:getDataObject")
_NOT_SUPPORTED_WORDS = {"div": "arithmetic", "mod": "arithmetic", "idiv": "arithmetic"}


class XPathUnsupported(ValueError):
    """The text is not in the XPath subset pmoflow translates; the message says what is not."""


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, qname, variable, name, op, end
    text: str
    position: int


def translate(text: str) -> str:
    """Python source for the XPath expression `text`; raises XPathUnsupported."""
    source = text.strip()
    if not source:
        raise XPathUnsupported("empty expression")
    if len(source) > MAX_LENGTH:
        raise XPathUnsupported(f"expression is longer than {MAX_LENGTH:,} characters")
    return _Parser(_tokens(source)).parse()


def read_variable(name: str) -> str:
    """The sandbox Python that reads variable `name` (which may hold spaces); raises XPathUnsupported."""
    if not name or name.startswith("_"):
        raise XPathUnsupported(f"variable name {name!r} is not allowed (names starting with '_' are reserved)")
    return f"var({name!r}, required=True)"


def _tokens(source: str) -> list[_Token]:
    tokens = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            what = source[pos]
            hint = {
                "/": "paths",
                "@": "attributes",
                "[": "predicates",
                "+": "arithmetic",
                "*": "arithmetic",
                "|": "unions",
            }.get(what)
            raise XPathUnsupported(
                f"unexpected {what!r} at position {pos + 1}" + (f" ({hint} are not supported)" if hint else "")
            )
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), pos + 1))
        pos = match.end()
    tokens.append(_Token("end", "", len(source) + 1))
    return tokens


class _Parser:
    """XPath tokens to Python source, one method per precedence level (loosest first)."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def parse(self) -> str:
        result = self.disjunction()
        token = self.peek()
        if token.kind != "end":
            raise XPathUnsupported(f"unexpected {token.text!r} at position {token.position}")
        return result

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def word(self, text: str) -> bool:
        token = self.peek()
        if token.kind == "name" and token.text == text:
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        token = self.peek()
        if token.kind == "op" and token.text == text:
            self.i += 1
            return
        found = repr(token.text) if token.text else "the end"
        raise XPathUnsupported(f"expected {text!r} at position {token.position}, found {found}")

    def disjunction(self) -> str:
        left = self.conjunction()
        while self.word("or"):
            left = f"({left} or {self.conjunction()})"
        return left

    def conjunction(self) -> str:
        left = self.comparison()
        while self.word("and"):
            left = f"({left} and {self.comparison()})"
        return left

    def comparison(self) -> str:
        left = self.primary()
        operator = self.comparator()
        if operator is None:
            return left
        right = self.primary()
        if self.comparator() is not None:
            raise XPathUnsupported(f"chained comparison at position {self.tokens[self.i - 1].position}; use 'and'")
        return f"({left} {operator} {right})"

    def comparator(self) -> str | None:
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARISONS:
            self.i += 1
            return _COMPARISONS[token.text]
        if token.kind == "name" and token.text in _WORD_COMPARISONS:
            self.i += 1
            return _WORD_COMPARISONS[token.text]
        return None

    def primary(self) -> str:
        token = self.peek()
        if token.kind == "number":
            self.i += 1
            return token.text
        if token.kind == "string":
            self.i += 1
            return repr(token.text[1:-1])
        if token.kind == "variable":
            self.i += 1
            return read_variable(token.text[1:])
        if token.kind == "op" and token.text == "-" and self.peek(1).kind == "number":
            self.i += 2
            return f"(-{self.tokens[self.i - 1].text})"
        if token.kind == "op" and token.text == "(":
            self.i += 1
            inner = self.disjunction()
            self.expect(")")
            return f"({inner})"
        if token.kind in ("name", "qname") and self.peek(1).kind == "op" and self.peek(1).text == "(":
            return self.function()
        if token.kind == "qname":
            raise XPathUnsupported(f"{token.text!r} at position {token.position}: prefixed names are not supported")
        if token.kind == "name" and token.text in _LITERALS and not self._word_follows():
            self.i += 1
            return _LITERALS[token.text]
        if token.kind == "name" and token.text not in ("and", "or"):
            return self.variable()
        found = repr(token.text) if token.text else "the end"
        raise XPathUnsupported(f"unexpected {found} at position {token.position}")

    def variable(self) -> str:
        """One or more words (`Service Level`): the name of one variable."""
        words = []
        while (token := self.peek()).kind == "name" and token.text not in ("and", "or", *_WORD_COMPARISONS):
            if token.text == "not":
                raise XPathUnsupported(f"'not' at position {token.position}: write not(...) around what it negates")
            if token.text in _NOT_SUPPORTED_WORDS:
                raise XPathUnsupported(
                    f"{token.text!r} at position {token.position}: {_NOT_SUPPORTED_WORDS[token.text]} is not supported"
                )
            if self.peek(1).kind == "op" and self.peek(1).text == "(":
                raise XPathUnsupported(f"function {token.text}() at position {token.position} after a name")
            words.append(token.text)
            self.i += 1
        return read_variable(" ".join(words))

    def _word_follows(self) -> bool:
        """Whether the next token after this one is a word of the same name (`True Value` is a name)."""
        after = self.peek(1)
        return after.kind == "name" and after.text not in ("and", "or", *_WORD_COMPARISONS)

    def function(self) -> str:
        token = self.peek()
        name = token.text
        self.i += 2  # the name and '('
        if name in ("true", "false"):
            self.expect(")")
            return "True" if name == "true" else "False"
        if name == "not":
            inner = self.disjunction()
            self.expect(")")
            return f"(not {inner})"
        if name in _DATA_OBJECT:
            argument = self.peek()
            if argument.kind != "string":
                raise XPathUnsupported(
                    f"{name}() at position {token.position} needs the data object's name as a quoted text"
                )
            self.i += 1
            self.expect(")")
            return read_variable(argument.text[1:-1].strip())
        raise XPathUnsupported(
            f"function {name}() at position {token.position} is not supported (the XPath "
            "subset has not(), true(), false() and bpmn:getDataObject())"
        )
