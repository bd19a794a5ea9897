"""The common Camunda 7 JUEL forms, translated to sandbox Python at deploy.

A small tokenizer and recursive-descent parser for the subset of the Unified Expression
Language that process models use in conditions and mappings:

    ${approved}   ${amount > 1000}   ${status == 'ok' && !urgent}   #{a.b gt 2 or empty c}
    ${x ? 'yes' : 'no'}   Hello ${name}!   (text around ${...}: a string template)

Literals (numbers, 'single' or "double" quoted strings, true/false/null), variables, property
access `a.b` and `a['b']`, the operators `== != < > <= >= && || ! + - * / %` and their word
forms `eq ne lt gt le ge and or not div mod empty`, `?:` and parentheses. Anything else (method
or function calls, beans, `execution`, lambdas, assignments) raises JuelUnsupported, so a model
is refused at deploy, never surprised at run time. The Python produced is fully parenthesised
and still goes through the sandbox like any other expression.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

MAX_LENGTH = 10_000
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!+\-*/%?:.\[\](),])
""",
    re.VERBOSE | re.DOTALL,
)
_WORD_OPS = {
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "and": "&&",
    "or": "||",
    "not": "!",
    "div": "/",
    "mod": "%",
}
_LITERALS = {"true": "True", "false": "False", "null": "None"}
_RESERVED = {"instanceof", "function"}
# Camunda's context objects and beans: they need method calls and a Java runtime
_CONTEXT_OBJECTS = {
    "execution",
    "task",
    "connector",
    "variableScope",
    "externalTask",
    "authenticatedUserId",
    "dateTime",
    "currentUser",
    "currentUserGroups",
}
_COMPARISONS = ("==", "!=", "<", ">", "<=", ">=")


class JuelUnsupported(ValueError):
    """The text is not in the JUEL subset pmoflow translates; the message says what is not."""


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, name, op, end
    text: str
    position: int


def is_juel(text: str) -> bool:
    """Whether `text` holds a `${...}` or `#{...}` expression."""
    return "${" in text or "#{" in text


def translate(text: str) -> str:
    """Python source for JUEL `text` (an expression or a template); raises JuelUnsupported."""
    if len(text) > MAX_LENGTH:
        raise JuelUnsupported(f"expression is longer than {MAX_LENGTH:,} characters")
    parts = _split_template(text.strip())
    if len(parts) == 1 and isinstance(parts[0], _Expr):
        return _Parser(parts[0].source, parts[0].offset).parse()
    pieces = [repr(p) if isinstance(p, str) else f"str({_Parser(p.source, p.offset).parse()})" for p in parts]
    return " + ".join(pieces) if pieces else "''"


@dataclass(frozen=True)
class _Expr:
    source: str
    offset: int


def _split_template(text: str) -> list[str | _Expr]:
    """Literal text and `${...}` parts, in order; quotes inside an expression may hold braces."""
    parts: list[str | _Expr] = []
    i = start = 0
    while i < len(text):
        if text[i] in "$#" and text[i + 1 : i + 2] == "{":
            if i > start:
                parts.append(text[start:i])
            end = _closing_brace(text, i + 2)
            parts.append(_Expr(text[i + 2 : end], i + 2))
            i = start = end + 1
        else:
            i += 1
    if start < len(text):
        parts.append(text[start:])
    return parts


def _closing_brace(text: str, i: int) -> int:
    quote = None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "{":
            raise JuelUnsupported(f"'{{' at position {i + 1} is not supported (maps and sets)")
        elif ch == "}":
            return i
        i += 1
    raise JuelUnsupported("'${' is not closed by '}'")


def _tokens(source: str, offset: int) -> list[_Token]:
    tokens = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise JuelUnsupported(f"unexpected character {source[pos]!r} at position {offset + pos + 1}")
        kind = match.lastgroup or ""
        if kind != "space":
            text = match.group()
            if kind == "name" and text in _WORD_OPS:
                kind, text = "op", _WORD_OPS[text]
            elif kind == "name" and text == "empty":
                kind = "op"
            tokens.append(_Token(kind, text, offset + pos + 1))
        pos = match.end()
    tokens.append(_Token("end", "", offset + len(source) + 1))
    return tokens


class _Parser:
    """JUEL tokens to Python source, one method per precedence level (loosest first)."""

    def __init__(self, source: str, offset: int) -> None:
        if not source.strip():
            raise JuelUnsupported("empty expression")
        self.tokens = _tokens(source, offset)
        self.i = 0

    def parse(self) -> str:
        result = self.ternary()
        token = self.peek()
        if token.kind != "end":
            raise JuelUnsupported(f"unexpected {token.text!r} at position {token.position}")
        return result

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self, *texts: str) -> _Token | None:
        token = self.peek()
        if token.kind == "op" and token.text in texts:
            self.i += 1
            return token
        return None

    def expect(self, text: str) -> None:
        if self.take(text) is None:
            token = self.peek()
            found = repr(token.text) if token.text else "the end"
            raise JuelUnsupported(f"expected {text!r} at position {token.position}, found {found}")

    def ternary(self) -> str:
        condition = self.disjunction()
        if self.take("?") is None:
            return condition
        yes = self.ternary()
        self.expect(":")
        no = self.ternary()
        return f"({yes} if {condition} else {no})"

    def disjunction(self) -> str:
        left = self.conjunction()
        while self.take("||"):
            left = f"({left} or {self.conjunction()})"
        return left

    def conjunction(self) -> str:
        left = self.equality()
        while self.take("&&"):
            left = f"({left} and {self.equality()})"
        return left

    def equality(self) -> str:
        left = self.relational()
        while (op := self.take("==", "!=")) is not None:
            left = f"({left} {op.text} {self.relational()})"
        return left

    def relational(self) -> str:
        left = self.additive()
        while (op := self.take("<", ">", "<=", ">=")) is not None:
            left = f"({left} {op.text} {self.additive()})"
        return left

    def additive(self) -> str:
        left = self.multiplicative()
        while (op := self.take("+", "-")) is not None:
            left = f"({left} {op.text} {self.multiplicative()})"
        return left

    def multiplicative(self) -> str:
        left = self.unary()
        while (op := self.take("*", "/", "%")) is not None:
            left = f"({left} {op.text} {self.unary()})"
        return left

    def unary(self) -> str:
        if self.take("!"):
            return f"(not {self.unary()})"
        if self.take("-"):
            return f"(-{self.unary()})"
        if self.take("empty"):
            value = self.unary()
            return f"({value} is None or (isinstance({value}, (str, list, dict)) and len({value}) == 0))"
        return self.postfix()

    def postfix(self) -> str:
        value, is_name = self.primary()
        while True:
            if self.take("."):
                token = self.peek()
                if token.kind != "name":
                    raise JuelUnsupported(f"expected a property name at position {token.position}")
                self.i += 1
                self._no_call(f"method {token.text}()")
                if token.text.startswith("_"):
                    raise JuelUnsupported(f"property {token.text!r} at position {token.position} is not allowed")
                value, is_name = f"{value}[{token.text!r}]", False
            elif self.take("["):
                index = self.ternary()
                self.expect("]")
                value, is_name = f"{value}[{index}]", False
            else:
                if is_name:
                    self._no_call(f"function {value}()")
                return value

    def _no_call(self, what: str) -> None:
        token = self.peek()
        if token.kind == "op" and token.text == "(":
            raise JuelUnsupported(
                f"{what} at position {token.position}: method and function calls are not "
                "supported (use a script task, or write the expression in FEEL or Python)"
            )

    def primary(self) -> tuple[str, bool]:
        token = self.peek()
        self.i += 1
        if token.kind == "number":
            return token.text, False
        if token.kind == "string":
            return repr(_unquote(token.text)), False
        if token.kind == "name":
            return self._name(token), True
        if token.kind == "op" and token.text == "(":
            inner = self.ternary()
            self.expect(")")
            return f"({inner})", False
        found = repr(token.text) if token.text else "the end"
        raise JuelUnsupported(f"unexpected {found} at position {token.position}")

    def _name(self, token: _Token) -> str:
        name = token.text
        if name in _LITERALS:
            return _LITERALS[name]
        if name in _RESERVED:
            raise JuelUnsupported(f"{name!r} at position {token.position} is not supported")
        if name in _CONTEXT_OBJECTS:
            raise JuelUnsupported(
                f"Camunda's {name!r} object (position {token.position}) is not available in "
                "pmoflow; use process variables"
            )
        if "$" in name or name.startswith("_") or keyword.iskeyword(name):
            raise JuelUnsupported(f"variable name {name!r} at position {token.position} is not allowed")
        return name


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body, flags=re.DOTALL)
