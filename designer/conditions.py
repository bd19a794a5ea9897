"""The condition builder: structured conditions <-> Python expressions the sandbox accepts.

A structured condition is a group of clauses joined by one connective::

    {"all": [{"var": "budget", "op": ">=", "value": 100000},
             {"var": "department", "op": "in", "value": ["Sales", "Finance"]}]}

`all` joins with ``and``, `any` with ``or``; a clause may itself be a group (written in
parentheses). Operators: ``== != < <= > >=``, ``in`` / ``not in`` (the value is a list),
``contains`` / ``not contains`` (the variable holds a list or text), ``is empty`` /
``is not empty`` (None, "" or []; no value). Values are JSON scalars (text, number,
true/false, null).

`build` writes the expression; `parse` reads back every expression `build` writes (and a
few equivalent spellings, such as ``100 < budget``). Anything else raises NotReadable, and
the designer shows the expression in its raw editor instead.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from typing import Any

from engine.core.errors import InvalidInput
from engine.spiff.expressions.sandbox import check_expression

COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
OPERATORS = (*COMPARISONS, "in", "not in", "contains", "not contains", "is empty", "is not empty")
LIST_OPS = ("in", "not in")
NO_VALUE_OPS = ("is empty", "is not empty")
EMPTY = "(None, '', [])"  # what "is empty" compares against
MAX_DEPTH = 5
MAX_CLAUSES = 50

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_AST_OPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_EMPTY_VALUES: tuple[object, ...] = (None, "", [])

Condition = dict[str, Any]


class NotReadable(ValueError):
    """The expression is valid Python, perhaps, but not one the builder can show as clauses."""


# ---------------------------------------------------------------- build


def build(condition: object) -> str:
    """The Python expression for a structured condition (JSON as sent, checked here).

    Raises InvalidInput naming the bad clause."""
    expression = _build_group(condition, "condition", 0, top=True)
    message = check_expression(expression, "eval")
    if message is not None:  # cannot happen for what _build_group writes; never hand out a bad one
        raise InvalidInput(f"the condition does not compile: {message}", {"fields": {"condition": message}})
    return expression


def _build_group(group: Any, where: str, depth: int, top: bool = False) -> str:
    if not isinstance(group, dict) or len(group) != 1 or next(iter(group)) not in ("all", "any"):
        raise _invalid(where, 'must be {"all": [...]} or {"any": [...]}')
    if depth >= MAX_DEPTH:
        raise _invalid(where, f"groups may be nested at most {MAX_DEPTH} deep")
    joiner = next(iter(group))
    clauses = group[joiner]
    if not isinstance(clauses, list) or not clauses:
        raise _invalid(f"{where}.{joiner}", "add at least one clause")
    if len(clauses) > MAX_CLAUSES:
        raise _invalid(f"{where}.{joiner}", f"at most {MAX_CLAUSES} clauses")
    parts = []
    for index, clause in enumerate(clauses):
        at = f"{where}.{joiner}[{index}]"
        if isinstance(clause, dict) and set(clause) & {"all", "any"}:
            inner = _build_group(clause, at, depth + 1)
            parts.append(inner if _single(clause) else f"({inner})")
        else:
            parts.append(_build_clause(clause, at))
    text = f" {'and' if joiner == 'all' else 'or'} ".join(parts)
    return text


def _single(group: Condition) -> bool:
    clauses = next(iter(group.values()))
    return len(clauses) == 1 and not (isinstance(clauses[0], dict) and set(clauses[0]) & {"all", "any"})


def _build_clause(clause: Any, where: str) -> str:
    if not isinstance(clause, dict):
        raise _invalid(where, "a clause must be an object with var, op and value")
    name, op = clause.get("var"), clause.get("op")
    if (
        not isinstance(name, str)
        or not _IDENTIFIER.match(name)
        or keyword.iskeyword(name)
        or name in ("True", "False", "None")
    ):
        raise _invalid(
            f"{where}.var", f"{name!r} is not a variable name (letters, digits and _, starting with a letter)"
        )
    if op not in OPERATORS:
        raise _invalid(f"{where}.op", f"{op!r} is not one of: {', '.join(OPERATORS)}")
    if op in NO_VALUE_OPS:
        return f"{name} {'in' if op == 'is empty' else 'not in'} {EMPTY}"
    value = clause.get("value")
    if op in LIST_OPS:
        if not isinstance(value, list) or not value:
            raise _invalid(f"{where}.value", f"{op!r} needs a list of one or more values")
        items = ", ".join(_literal(v, f"{where}.value[{i}]") for i, v in enumerate(value))
        return f"{name} {op} [{items}]"
    literal = _literal(value, f"{where}.value")
    if op in ("contains", "not contains"):
        return f"{literal} {'in' if op == 'contains' else 'not in'} {name}"
    return f"{name} {op} {literal}"


def _literal(value: Any, where: str) -> str:
    if value is None or isinstance(value, bool | int | str):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(where, "must be a finite number")
        return repr(value)
    raise _invalid(where, "must be text, a number, true/false or null")


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", {"fields": {field: message}})


# ---------------------------------------------------------------- parse


def parse(expression: str) -> Condition:
    """The structured form of an expression; raises NotReadable if the builder cannot show it."""
    text = (expression or "").strip()
    if not text:
        raise NotReadable("the expression is empty")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise NotReadable(f"not a Python expression: {err.msg}") from err
    node = tree.body
    if isinstance(node, ast.BoolOp):
        return _parse_group(node, 0)
    return {"all": [_parse_clause(node)]}


def _parse_group(node: ast.BoolOp, depth: int) -> Condition:
    if depth >= MAX_DEPTH:
        raise NotReadable(f"groups nested more than {MAX_DEPTH} deep")
    joiner = "all" if isinstance(node.op, ast.And) else "any"
    clauses: list[Any] = []
    for value in node.values:
        if isinstance(value, ast.BoolOp):
            inner = _parse_group(value, depth + 1)
            clauses.append(inner)
        else:
            clauses.append(_parse_clause(value))
    return {joiner: clauses}


def _parse_clause(node: ast.expr) -> Condition:
    if not isinstance(node, ast.Compare) or len(node.ops) != 1:
        raise NotReadable("only comparisons of a variable with a value can be shown as clauses")
    op = _AST_OPS.get(type(node.ops[0]))
    if op is None:
        raise NotReadable(f"the operator {type(node.ops[0]).__name__} has no clause form")
    left, right = node.left, node.comparators[0]
    if isinstance(left, ast.Name):
        return _clause_with_name_left(left.id, op, right)
    if isinstance(right, ast.Name):
        value = _value_of(left)
        if op in LIST_OPS:
            return {"var": right.id, "op": "contains" if op == "in" else "not contains", "value": value}
        return {"var": right.id, "op": _FLIPPED[op], "value": value}
    raise NotReadable("one side of the comparison must be a plain variable name")


def _clause_with_name_left(name: str, op: str, right: ast.expr) -> Condition:
    _check_name(name)
    if op in LIST_OPS:
        if isinstance(right, ast.Name):
            raise NotReadable("comparing two variables has no clause form")
        values = _value_of(right, allow_list=True)
        if not isinstance(values, list | tuple):
            raise NotReadable(f"{op!r} needs a list of values")
        if isinstance(right, ast.Tuple) and list(values) == list(_EMPTY_VALUES):
            return {"var": name, "op": "is empty" if op == "in" else "is not empty"}
        if any(isinstance(v, list) for v in values):
            raise NotReadable("a value list may hold only text, numbers, True/False or None")
        return {"var": name, "op": op, "value": list(values)}
    return {"var": name, "op": op, "value": _value_of(right)}


def _check_name(name: str) -> None:
    if not _IDENTIFIER.match(name):
        raise NotReadable(f"{name!r} is not a variable the builder can name")


def _value_of(node: ast.expr, allow_list: bool = False) -> Any:
    if allow_list and isinstance(node, ast.List | ast.Tuple):
        return [_item_of(item) for item in node.elts]
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, bool | int | float | str)):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        return -node.operand.value
    raise NotReadable("values must be text, numbers, True/False or None")


def _item_of(node: ast.expr) -> Any:
    """An item of a value list; an empty list is allowed only for the "is empty" spelling, checked after."""
    if isinstance(node, ast.List) and not node.elts:
        return []
    return _value_of(node)
