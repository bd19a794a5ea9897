"""PATCH (RFC 7644 §3.5.2) applied to a resource's JSON document, as Okta and Microsoft Entra ID send it.

Accepted besides the RFC's own forms: Entra's capitalised `op` ("Replace", "Add", "Remove"), a path-less
`add`/`replace` whose value's keys are paths (`{"name.givenName": "B", "emails[type eq \\"work\\"].value": ...}`),
`remove` of `members` with a `value` list (only those members go), and a `replace`/`add` through a value
filter that matches nothing (`emails[type eq "work"].value` on a user without email: the element is made
from the filter's `eq` terms). Booleans sent as strings ("False") are read by the resource's parser.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scim2_models import Path, SCIMException
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    ValuePath,
)

from engine.scim.errors import ENTERPRISE_USER, PATCH_OP, ScimError
from engine.scim.filters import matches

MAX_OPERATIONS = 1000


@dataclass(frozen=True)
class Shape:
    """What a resource type's documents hold: canonical attribute names by lower-case name, which of them are
    multi-valued and complex, which are read-only, which are accepted but not kept, and its schema URN."""

    schema: str
    names: Mapping[str, str]
    multi: frozenset[str] = frozenset()
    complex: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()
    ignored: frozenset[str] = frozenset()
    extensions: frozenset[str] = frozenset()  # schema URNs whose attributes are accepted and not kept


def apply(document: dict[str, Any], body: Any, shape: Shape) -> dict[str, Any]:
    """The document after the PatchOp `body`'s operations, in order; raises ScimError (400) naming the problem."""
    if not isinstance(body, dict):
        raise ScimError(400, "a PATCH body is a JSON object with Operations", "invalidSyntax")
    schemas = body.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or PATCH_OP not in schemas):
        raise ScimError(400, f"a PATCH body's schemas is [{PATCH_OP!r}]", "invalidSyntax")
    operations = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(operations, list) or not operations:
        raise ScimError(400, "Operations must be a non-empty list", "invalidSyntax")
    if len(operations) > MAX_OPERATIONS:
        raise ScimError(400, f"at most {MAX_OPERATIONS} operations per request", "tooMany")
    doc = copy.deepcopy(document)
    for operation in operations:
        _operation(doc, operation, shape)
    return doc


def _operation(doc: dict[str, Any], operation: Any, shape: Shape) -> None:
    if not isinstance(operation, dict):
        raise ScimError(400, "each operation is a JSON object", "invalidSyntax")
    fields = {k.lower(): v for k, v in operation.items()}
    op, path, value = fields.get("op"), fields.get("path"), fields.get("value")
    if not isinstance(op, str) or op.lower() not in ("add", "replace", "remove"):
        raise ScimError(400, f"op must be add, replace or remove, not {op!r}", "invalidSyntax")
    op = op.lower()
    if path is not None and not isinstance(path, str):
        raise ScimError(400, "path must be a string", "invalidPath")
    if not path:
        if op == "remove":
            raise ScimError(400, "remove needs a path", "noTarget")
        if not isinstance(value, dict):
            raise ScimError(400, f"{op} without a path needs an object value", "invalidValue")
        for key, item in value.items():
            if key.lower() in ("schemas", "id", "meta"):  # Okta sends the id along with a rename
                continue
            if key.lower() in {e.lower() for e in shape.extensions} or key.lower() == shape.schema.lower():
                if not isinstance(item, dict):
                    raise ScimError(400, f"{key} holds an object", "invalidValue")
                for sub_key, sub_item in item.items():
                    _at(doc, op, _parse(f"{key}:{sub_key}"), sub_item, shape)
                continue
            _at(doc, op, _parse(key), item, shape)
        return
    if op != "remove" and "value" not in fields:
        raise ScimError(400, f"{op} needs a value", "invalidValue")
    _at(doc, op, _parse(path), value, shape)


def _parse(path: str) -> AttrPath | ValuePath:
    try:
        node = Path(path).ast
    except (SCIMException, ValueError, RecursionError) as err:
        raise ScimError(400, f"invalid path {path!r}: {getattr(err, 'detail', None) or err}", "invalidPath") from None
    if not isinstance(node, AttrPath | ValuePath):
        raise ScimError(400, f"invalid path {path!r}", "invalidPath")
    return node


def _name(attr: AttrPath, shape: Shape) -> str | None:
    """The canonical attribute name a path targets; None for an attribute accepted and not kept."""
    if attr.uri is not None:
        if attr.uri.lower() in {e.lower() for e in shape.extensions}:
            return None
        if attr.uri.lower() != shape.schema.lower():
            raise ScimError(400, f"unknown schema {attr.uri!r}", "invalidPath")
    key = attr.attr.lower()
    if key in shape.ignored:
        return None
    if key in shape.read_only:
        raise ScimError(400, f"{attr.attr} is read-only", "mutability")
    if key not in shape.names:
        raise ScimError(400, f"unknown attribute {attr.attr!r}", "invalidPath")
    return shape.names[key]


def _at(doc: dict[str, Any], op: str, node: AttrPath | ValuePath, value: Any, shape: Shape) -> None:
    if isinstance(node, ValuePath):
        name = _name(node.attr_path, shape)
        if name is not None:
            _selected(doc, op, name, node, value, shape)
        return
    name = _name(node, shape)
    if name is None:
        return
    if node.sub_attr is not None:
        _sub(doc, op, name, node.sub_attr, value, shape)
    elif name in shape.multi:
        _multi(doc, op, name, value)
    elif op == "remove":
        doc.pop(name, None)
    elif name in shape.complex and isinstance(value, dict) and isinstance(doc.get(name), dict):
        doc[name] = {**doc[name], **value}  # sub-attributes not given are left as they are (§3.5.2.1, 3)
    else:
        doc[name] = value


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _multi(doc: dict[str, Any], op: str, name: str, value: Any) -> None:
    """add appends (members once each), replace sets the list, remove drops all or the values given."""
    current: list[Any] = list(doc.get(name) or [])
    if op == "replace":
        doc[name] = _items(value)
    elif op == "add":
        known = {_key(v) for v in current}
        doc[name] = current + [v for v in _items(value) if _key(v) is None or _key(v) not in known]
    elif value is None:
        doc[name] = []
    else:  # Entra: {"op": "Remove", "path": "members", "value": [{"value": "<id>"}]}
        gone = {_key(v) for v in _items(value)}
        doc[name] = [v for v in current if _key(v) not in gone]


def _key(element: Any) -> str | int | float | bool | None:
    """What identifies an element of a multi-valued attribute: its `value` (anything unhashable as text)."""
    if isinstance(element, dict):
        element = next((v for k, v in element.items() if k.lower() == "value"), None)
    return element if isinstance(element, str | int | float | bool | None) else repr(element)


def _sub(doc: dict[str, Any], op: str, name: str, sub: str, value: Any, shape: Shape) -> None:
    if name in shape.multi:  # "emails.value": every element (one element made if there is none)
        elements = [e for e in doc.get(name) or [] if isinstance(e, dict)] or ([{}] if op != "remove" else [])
        for element in elements:
            _set(element, op, sub, value)
        doc[name] = elements
        return
    if name not in shape.complex:
        raise ScimError(400, f"{name} has no sub-attribute {sub!r}", "invalidPath")
    parent = doc.get(name) if isinstance(doc.get(name), dict) else {}
    assert isinstance(parent, dict)
    _set(parent, op, sub, value)
    doc[name] = parent


def _set(element: dict[str, Any], op: str, sub: str, value: Any) -> None:
    existing = next((k for k in element if k.lower() == sub.lower()), sub)
    if op == "remove":
        element.pop(existing, None)
    else:
        element[existing] = value


def _selected(doc: dict[str, Any], op: str, name: str, node: ValuePath, value: Any, shape: Shape) -> None:
    """An operation on the elements a value filter selects (`members[value eq "id"]`, `emails[type eq "work"]`)."""
    if name not in shape.multi:
        raise ScimError(400, f"{name} is not multi-valued", "invalidPath")
    elements = [e for e in doc.get(name) or [] if isinstance(e, dict)]
    chosen = [e for e in elements if matches(node.val_filter, e)]
    if op == "remove":
        if node.sub_attr is None:
            doc[name] = [e for e in elements if e not in chosen]
        else:
            for element in chosen:
                _set(element, op, node.sub_attr, None)
            doc[name] = elements
        return
    if not chosen:
        chosen = [_made(node.val_filter)]
        elements.append(chosen[0])
    for element in chosen:
        if node.sub_attr is not None:
            _set(element, op, node.sub_attr, value)
        elif isinstance(value, dict):
            element.update(value)
        else:
            raise ScimError(400, f"{node} takes an object value", "invalidValue")
    doc[name] = elements


def _made(node: FilterNode) -> dict[str, Any]:
    """A new element from a filter's `eq` terms (`type eq "work"` -> {"type": "work"})."""
    if isinstance(node, LogicalExpr) and node.op != LogicalOperator.and_:
        raise ScimError(400, f"no element matches {node}", "noTarget")
    terms = node.terms if isinstance(node, LogicalExpr) else (node,)
    made: dict[str, Any] = {}
    for term in terms:
        if not isinstance(term, Comparison) or term.op != CompareOperator.eq or term.attr_path.sub_attr is not None:
            raise ScimError(400, f"no element matches {node}", "noTarget")
        made[term.attr_path.attr] = term.value
    return made


USER_IGNORED = frozenset(
    {
        "title",
        "nickname",
        "phonenumbers",
        "addresses",
        "locale",
        "preferredlanguage",
        "timezone",
        "usertype",
        "profileurl",
        "photos",
        "ims",
        "x509certificates",
        "entitlements",
        "roles",
        "password",
    }
)
ENTERPRISE = frozenset({ENTERPRISE_USER})
