"""What the sandbox refuses (SandboxError, ScriptTimeout) and its size limits: checks that refuse an operation
before a C call allocates or loops without bound, where no deadline can interrupt it."""

from __future__ import annotations

import decimal
import re
from collections.abc import Mapping

MAX_ITEMS = 10_000_000  # longest str/bytes/list/tuple/range one operation may create
MAX_INT_BITS = 100_000  # largest int one operation may create or divide (~30,000 digits)
MAX_MODPOW_BITS = 4_096  # exponent and modulus of pow(a, b, m)
MAX_DECIMAL_EXPONENT = 4_300  # |adjusted exponent| of a Decimal: int(Decimal('1e999999')) takes 30 s
MAX_FORMAT_SPEC = 1_000  # characters in one format spec

SEQUENCES = (str, bytes, list, tuple)
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


class SandboxError(Exception):
    """Code was refused by the sandbox (forbidden name, attribute, import or size)."""


class ScriptTimeout(SandboxError):
    """Sandboxed code ran longer than its time limit and was stopped."""


def check_items(size: int, what: str) -> None:
    """Raises SandboxError if a result of `size` items is over MAX_ITEMS."""
    if size > MAX_ITEMS:
        raise SandboxError(f"{what} would be too large (limit {MAX_ITEMS:,} items)")


def check_bits(bits: int, what: str) -> None:
    """Raises SandboxError if an int of `bits` bits is over MAX_INT_BITS."""
    if bits > MAX_INT_BITS:
        raise SandboxError(f"{what} would be too large (limit {MAX_INT_BITS:,} bits)")


def _check_number_text(digits: str, what: str) -> None:
    if len(digits) > 8 or int(digits) > MAX_ITEMS:
        raise SandboxError(f"{what} {digits[:12]} is too large")


def check_decimal(value: object) -> None:
    """Raises SandboxError for a Decimal whose exponent is over MAX_DECIMAL_EXPONENT."""
    if isinstance(value, decimal.Decimal) and value.is_finite():
        if abs(value.adjusted()) > MAX_DECIMAL_EXPONENT:
            raise SandboxError(f"Decimal exponent too large (limit {MAX_DECIMAL_EXPONENT})")


def no_check(a: object, b: object) -> None:
    """The check of an operation that cannot grow without bound: none."""
    return None


def check_add(a: object, b: object) -> None:
    """Raises SandboxError if concatenating `a` and `b` gives too many items."""
    if isinstance(a, SEQUENCES) and isinstance(b, SEQUENCES):
        check_items(len(a) + len(b), "concatenation")


def check_mul(a: object, b: object) -> None:
    """Raises SandboxError if `a * b` gives too many items or too large an int."""
    if isinstance(a, SEQUENCES) and isinstance(b, int):
        check_items(len(a) * b, "repeated sequence")
    elif isinstance(b, SEQUENCES) and isinstance(a, int):
        check_items(len(b) * a, "repeated sequence")
    elif isinstance(a, int) and isinstance(b, int):
        check_bits(a.bit_length() + b.bit_length(), "product")


def check_pow(base: object, exp: object, mod: object = None) -> None:
    """Raises SandboxError if `pow(base, exp[, mod])` gives too large an int."""
    if not (isinstance(base, int) and isinstance(exp, int)):
        return
    if isinstance(mod, int):
        if max(exp.bit_length(), mod.bit_length()) > MAX_MODPOW_BITS:
            raise SandboxError(f"pow() with a modulus is limited to {MAX_MODPOW_BITS}-bit numbers")
    elif exp > 0 and abs(base) > 1:
        check_bits(base.bit_length() * exp, "power")


def check_lshift(a: object, b: object) -> None:
    """Raises SandboxError if `a << b` gives too large an int."""
    if isinstance(a, int) and isinstance(b, int) and a and b > 0:
        check_bits(a.bit_length() + b, "shifted number")


def check_divide(a: object, b: object) -> None:
    """Raises SandboxError if an int operand of a division is too large (long division is quadratic)."""
    if isinstance(a, int) and isinstance(b, int):  # long division is quadratic
        check_bits(max(a.bit_length(), b.bit_length()), "operand of a division")


def check_mod(a: object, b: object) -> None:
    """Raises SandboxError for a % format that is too large, or a division by too large an int."""
    if isinstance(a, str | bytes):
        _check_percent_format(a.decode("latin-1") if isinstance(a, bytes) else a, b)
    else:
        check_divide(a, b)


def _check_percent_format(text: str, args: object) -> None:
    starred = False
    for width, precision in _PERCENT_FIELD.findall(text):
        for part in (width, precision):
            starred = starred or part == "*"
            if part.isdigit():
                _check_number_text(part, "field width")
    values = args.values() if isinstance(args, Mapping) else args if isinstance(args, tuple) else (args,)
    for value in values:
        if starred and isinstance(value, int):
            check_items(value, "field width")
        check_decimal(value)


def check_format_spec(spec: str) -> None:
    """Raises SandboxError for a format spec that is too long or asks for too wide a field."""
    if len(spec) > MAX_FORMAT_SPEC:
        raise SandboxError(f"format spec longer than {MAX_FORMAT_SPEC} characters")
    for digits in _DIGITS.findall(spec):
        _check_number_text(digits, "format width or precision")
