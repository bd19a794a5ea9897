"""SCIM filters (RFC 7644 §3.4.2.2) as SQL conditions, and value filters of PATCH paths on JSON elements.

The grammar is scim2-models' (`ScimFilter`, a typed syntax tree); what an attribute means here is
this module's: a table per resource type maps attribute paths to columns. Attribute names are
case-insensitive; string comparisons too, except for ids (`caseExact` in RFC 7643). An attribute
the table does not name is a 400 `invalidFilter`, never a query that silently matches nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scim2_models import SCIMException, ScimFilter
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import SQLColumnExpression, and_, func, literal, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from engine.scim.errors import ScimError

MAX_FILTER = 2000  # characters


@dataclass(frozen=True)
class Column:
    """A single-valued attribute: its SQL expression and type (`string`, `exact` string, `boolean`, `dateTime`)."""

    expr: SQLColumnExpression[Any]
    kind: str = "string"


@dataclass(frozen=True)
class Values:
    """A multi-valued attribute (emails, members, groups): its elements' sub-attributes, and how a condition
    on one element becomes a condition on the resource (an EXISTS, or the element's own presence)."""

    elements: Mapping[str, Column]
    scope: Callable[[ColumnElement[bool]], ColumnElement[bool]]


Attributes = Mapping[str, Column | Values]  # "username", "name.formatted", "emails", ... (lower case)


def parse(text: str) -> FilterNode:
    """The syntax tree of a filter; raises ScimError (400 invalidFilter) for bad syntax or one too long."""
    if len(text) > MAX_FILTER:
        raise ScimError(400, f"the filter is longer than {MAX_FILTER} characters", "invalidFilter")
    try:
        return ScimFilter(text).ast
    except (SCIMException, ValueError, RecursionError) as err:
        raise ScimError(400, f"invalid filter: {_detail(err)}", "invalidFilter") from None


def _detail(err: Exception) -> str:
    detail = getattr(err, "detail", None)
    return str(detail or err)


def condition(node: FilterNode, attributes: Attributes, schema: str) -> ColumnElement[bool]:
    """The SQL condition of a filter over a resource type's `attributes`; raises ScimError (invalidFilter)."""
    if isinstance(node, LogicalExpr):
        parts = [condition(term, attributes, schema) for term in node.terms]
        return and_(*parts) if node.op == LogicalOperator.and_ else or_(*parts)
    if isinstance(node, Not):
        return not_(condition(node.expr, attributes, schema))
    if isinstance(node, ValuePath):
        found = _lookup(attributes, node.attr_path, schema)
        if not isinstance(found, Values) or node.sub_attr:
            raise _unfilterable(node.attr_path)
        return found.scope(condition(node.val_filter, found.elements, schema))
    if isinstance(node, Comparison | Present):
        found = _lookup(attributes, node.attr_path, schema)
        if isinstance(found, Values):
            sub = node.attr_path.sub_attr or "value"
            element = found.elements.get(sub.lower())
            if element is None:
                raise _unfilterable(node.attr_path)
            return found.scope(_test(node, element))
        return _test(node, found)
    raise ScimError(400, f"unsupported filter expression {node}", "invalidFilter")


def _lookup(attributes: Attributes, path: AttrPath, schema: str) -> Column | Values:
    if path.uri is not None and path.uri.lower() != schema.lower():
        raise _unfilterable(path)
    name = path.attr.lower()
    if path.sub_attr is not None and f"{name}.{path.sub_attr.lower()}" in attributes:
        return attributes[f"{name}.{path.sub_attr.lower()}"]
    found = attributes.get(name)
    if found is None or (isinstance(found, Column) and path.sub_attr is not None):
        raise _unfilterable(path)
    return found


def _unfilterable(path: AttrPath) -> ScimError:
    return ScimError(400, f"the attribute {path} can not be filtered on", "invalidFilter")


def _test(node: Comparison | Present, column: Column) -> ColumnElement[bool]:
    expr = column.expr
    if isinstance(node, Present):
        present = expr.is_not(None)
        return and_(present, expr != "") if column.kind in ("string", "exact") else present
    op, value = node.op, node.value
    if value is None:
        if op not in (CompareOperator.eq, CompareOperator.ne):
            raise ScimError(400, f"{op.value} does not compare with null", "invalidFilter")
        return expr.is_(None) if op == CompareOperator.eq else expr.is_not(None)
    value = _typed(value, column.kind, node)
    if column.kind == "string":
        expr, value = func.lower(expr), value.lower()
    compared = _compare(expr, op, value, column.kind)
    return or_(expr.is_(None), compared) if op == CompareOperator.ne else compared


def _typed(value: Any, kind: str, node: Comparison) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ScimError(400, f"{node.attr_path} does not compare with a NUL character", "invalidFilter")
    if kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, bool):
            return value
    elif kind == "dateTime":
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                pass
            else:  # RFC 7643 §2.3.5 times carry a zone; one without is read as UTC
                return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    elif isinstance(value, str):
        return value
    raise ScimError(400, f"{node.attr_path} does not compare with {value!r}", "invalidFilter")


def _compare(expr: SQLColumnExpression[Any], op: CompareOperator, value: Any, kind: str) -> ColumnElement[bool]:
    if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew) and kind not in ("string", "exact"):
        raise ScimError(400, f"{op.value} compares strings only", "invalidFilter")
    if op in (CompareOperator.gt, CompareOperator.ge, CompareOperator.lt, CompareOperator.le) and kind == "boolean":
        raise ScimError(400, f"{op.value} does not compare booleans", "invalidFilter")
    result: ColumnElement[bool]
    match op:
        case CompareOperator.eq:
            result = expr == value
        case CompareOperator.ne:
            result = expr != value
        case CompareOperator.co:
            result = expr.contains(value, autoescape=True)
        case CompareOperator.sw:
            result = expr.startswith(value, autoescape=True)
        case CompareOperator.ew:
            result = expr.endswith(value, autoescape=True)
        case CompareOperator.gt:
            result = expr > value
        case CompareOperator.ge:
            result = expr >= value
        case CompareOperator.lt:
            result = expr < value
        case _:
            result = expr <= value
    return result


def constant(value: Any, kind: str = "string") -> Column:
    """A sub-attribute every element has with the same value (a user's one email is `type` "work", `primary`)."""
    return Column(literal(value), kind)


def matches(node: FilterNode, element: Mapping[str, Any]) -> bool:
    """Whether one element of a multi-valued attribute (a PATCH path's `emails[type eq "work"]`) matches;
    strings compare case-insensitively. Raises ScimError (invalidFilter) for a filter on a nested path."""
    if isinstance(node, LogicalExpr):
        results = (matches(term, element) for term in node.terms)
        return all(results) if node.op == LogicalOperator.and_ else any(results)
    if isinstance(node, Not):
        return not matches(node.expr, element)
    if isinstance(node, Comparison | Present) and node.attr_path.sub_attr is None:
        actual = _field(element, node.attr_path.attr)
        if isinstance(node, Present):
            return actual not in (None, "", [], {})
        return _holds(node.op, actual, node.value)
    raise ScimError(400, f"unsupported value filter {node}", "invalidFilter")


def _field(element: Mapping[str, Any], name: str) -> Any:
    return next((v for k, v in element.items() if k.lower() == name.lower()), None)


def _holds(op: CompareOperator, actual: Any, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        actual, expected = actual.lower(), expected.lower()
    elif isinstance(actual, bool) and isinstance(expected, str):
        expected = expected.lower() == "true"
    if op == CompareOperator.eq:
        return bool(actual == expected)
    if op == CompareOperator.ne:
        return bool(actual != expected)
    if not isinstance(actual, str) or not isinstance(expected, str):
        return False
    return {
        CompareOperator.co: expected in actual,
        CompareOperator.sw: actual.startswith(expected),
        CompareOperator.ew: actual.endswith(expected),
        CompareOperator.gt: actual > expected,
        CompareOperator.ge: actual >= expected,
        CompareOperator.lt: actual < expected,
        CompareOperator.le: actual <= expected,
    }[op]
