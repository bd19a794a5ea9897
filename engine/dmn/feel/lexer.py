"""FEEL tokens: numbers, strings, names (keywords are names too), operators.

Keywords stay NAME tokens because FEEL's multi-word names contain them ("date and time",
"years and months duration"); the parser decides what a word means where it stands.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.dmn.feel.errors import FeelSyntaxError

NUM, STR, NAME, OP, EOF = "number", "string", "name", "operator", "end"
OPERATORS = (
    "..",
    "**",
    "!=",
    "<=",
    ">=",
    ".",
    ",",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    "=",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "?",
    "@",
)
ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "'": "'", "/": "/", "b": "\b", "f": "\f"}
MAX_SOURCE = 20_000
NOT_NAME = frozenset("\u00a0\u2018\u2019\u201c\u201d")  # non-ASCII that never belongs in a name


@dataclass(frozen=True)
class Token:
    kind: str
    value: str
    start: int
    end: int

    def is_op(self, *ops: str) -> bool:
        return self.kind == OP and self.value in ops

    def is_word(self, *words: str) -> bool:
        return self.kind == NAME and not self.quoted and self.value in words

    @property
    def quoted(self) -> bool:
        return False


@dataclass(frozen=True)
class QuotedName(Token):
    """A `backtick quoted` name: never a keyword, may hold any character."""

    @property
    def quoted(self) -> bool:
        return True


def tokenize(source: str) -> list[Token]:
    """Split FEEL text into tokens ending with EOF; raises FeelSyntaxError naming the position."""
    if len(source) > MAX_SOURCE:
        raise FeelSyntaxError(f"expression is longer than {MAX_SOURCE} characters", source, 0)
    tokens: list[Token] = []
    pos = 0
    while True:
        pos = _skip_space(source, pos)
        if pos >= len(source):
            tokens.append(Token(EOF, "", pos, pos))
            return tokens
        token = _next_token(source, pos)
        tokens.append(token)
        pos = token.end


def _skip_space(source: str, pos: int) -> int:
    while pos < len(source):
        if source[pos].isspace():
            pos += 1
        elif source.startswith("//", pos):
            end = source.find("\n", pos)
            pos = len(source) if end < 0 else end + 1
        elif source.startswith("/*", pos):
            end = source.find("*/", pos + 2)
            if end < 0:
                raise FeelSyntaxError("comment is not closed (missing */)", source, pos)
            pos = end + 2
        else:
            break
    return pos


def _next_token(source: str, pos: int) -> Token:
    char = source[pos]
    if char.isdigit() or (char == "." and pos + 1 < len(source) and source[pos + 1].isdigit()):
        return _number(source, pos)
    if char == '"':
        return _string(source, pos)
    if char == "`":
        end = source.find("`", pos + 1)
        if end < 0 or end == pos + 1:
            raise FeelSyntaxError("quoted name is not closed (missing `)", source, pos)
        return QuotedName(NAME, source[pos + 1 : end], pos, end + 1)
    if _name_start(char):
        end = pos + 1
        while end < len(source) and (
            _name_part(source[end])
            or (source[end] == "'" and end + 1 < len(source) and _name_part(source[end + 1]))  # `Student's`
        ):
            end += 1
        return Token(NAME, source[pos:end], pos, end)
    for op in OPERATORS:
        if source.startswith(op, pos):
            return Token(OP, op, pos, pos + len(op))
    if char == "'":
        raise FeelSyntaxError("strings are written in double quotes in FEEL", source, pos)
    raise FeelSyntaxError(f"unexpected character {char!r}", source, pos)


def _name_start(char: str) -> bool:
    """Letters, `_` and `?`-free non-ASCII characters (FEEL names may hold any Unicode letter or symbol: `🐎`)."""
    return char.isalpha() or char == "_" or (ord(char) > 127 and not char.isspace() and char not in NOT_NAME)


def _name_part(char: str) -> bool:
    return char.isalnum() or char == "_" or (ord(char) > 127 and not char.isspace() and char not in NOT_NAME)


def _number(source: str, pos: int) -> Token:
    end = _digits(source, pos)
    if end + 1 < len(source) and source[end] == "." and source[end + 1].isdigit():
        end = _digits(source, end + 1)
    if end < len(source) and source[end] in "eE":  # an exponent: 1.23e4, 1e-3
        after = end + 1 + (end + 1 < len(source) and source[end + 1] in "+-")
        if after < len(source) and source[after].isdigit():
            end = _digits(source, after)
    if end < len(source) and (source[end].isalpha() or source[end] == "_"):
        raise FeelSyntaxError(f"unexpected {source[end]!r} after a number", source, end)
    return Token(NUM, source[pos:end], pos, end)


def _digits(source: str, pos: int) -> int:
    while pos < len(source) and source[pos].isdigit():
        pos += 1
    return pos


def _string(source: str, pos: int) -> Token:
    chars: list[str] = []
    i = pos + 1
    while i < len(source):
        char = source[i]
        if char == '"':
            return Token(STR, "".join(chars), pos, i + 1)
        if char == "\\":
            decoded, i = _escape(source, i)
            chars.append(decoded)
            continue
        chars.append(char)
        i += 1
    raise FeelSyntaxError('string is not closed (missing ")', source, pos)


def _escape(source: str, i: int) -> tuple[str, int]:
    """Decode the escape at source[i] ("\\"); returns the text and the index after it."""
    code = source[i + 1 : i + 2]
    if code in ESCAPES:
        return ESCAPES[code], i + 2
    width = {"u": 4, "U": 6}.get(code)
    digits = source[i + 2 : i + 2 + width] if width else ""
    if width and len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
        value = int(digits, 16)
        if 0xD800 <= value <= 0xDBFF and source[i + 6 : i + 8] == "\\u":  # a UTF-16 surrogate pair: "\ud83d\udc0e"
            low = source[i + 8 : i + 12]
            if len(low) == 4 and all(c in "0123456789abcdefABCDEF" for c in low) and 0xDC00 <= int(low, 16) <= 0xDFFF:
                return chr(0x10000 + ((value - 0xD800) << 10) + (int(low, 16) - 0xDC00)), i + 12
        if value <= 0x10FFFF:
            return chr(value), i + 2 + width
    if not code:
        raise FeelSyntaxError("string ends with a lone \\", source, i)
    return "\\" + code, i + 2  # any other escape stays as written: regular expressions such as "\\d{3}" or "\\s"


class TokenCursor:
    """Reads the tokens of one FEEL text one at a time; its errors name the position."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != EOF:
            self.i += 1
        return token

    def error(self, reason: str, token: Token | None = None) -> FeelSyntaxError:
        token = token or self.peek()
        return FeelSyntaxError(reason, self.source, token.start)

    def unexpected(self, expected: str) -> FeelSyntaxError:
        token = self.peek()
        if token.kind == EOF:
            return self.error(f"expected {expected} but the text ends")
        return self.error(f"expected {expected}, found {describe(token)}")

    def expect_op(self, op: str) -> Token:
        if not self.peek().is_op(op):
            raise self.unexpected(repr(op))
        return self.advance()

    def expect_word(self, word: str) -> Token:
        if not self.peek().is_word(word):
            raise self.unexpected(repr(word))
        return self.advance()

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind == EOF:
            return
        raise self.error(f"unexpected {describe(token)}")


def describe(token: Token) -> str:
    """A token as an error message names it."""
    if token.kind == EOF:
        return "the end"
    if token.kind == STR:
        return f"string {token.value!r}"
    if token.kind == OP:
        return f"{token.value!r}"
    return f"{token.kind} {token.value!r}"
