"""SCIM documents of pmoflow's users and groups: rendered from rows, read from requests (RFC 7643).

A User's `userName` is the pmoflow username (never changed by SCIM: tasks and history name it),
`displayName` (or `name.formatted`, or given and family name) the display name, the primary (or
work, or first) of `emails` the email, `active` whether they may sign in; a Group's `displayName`
is the group's name, the BPMN lane its members work in. `meta.version` is a weak ETag of the
document's content, so it changes whoever changed the row (SCIM or an admin).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.admin.users import USERNAME_RULE
from engine.db.models import Group, User
from engine.scim.errors import CORE_GROUP, CORE_USER, ScimError, bad_value
from engine.scim.patch import ENTERPRISE, USER_IGNORED, Shape

NAME_PARTS = ("formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix")

USER_SHAPE = Shape(
    CORE_USER,
    {"username": "userName", "externalid": "externalId", "displayname": "displayName", "name": "name"}
    | {"emails": "emails", "active": "active"},
    multi=frozenset({"emails"}),
    complex=frozenset({"name"}),
    read_only=frozenset({"id", "groups", "meta"}),
    ignored=USER_IGNORED,
    extensions=ENTERPRISE,
)
GROUP_SHAPE = Shape(
    CORE_GROUP,
    {"displayname": "displayName", "externalid": "externalId", "members": "members"},
    multi=frozenset({"members"}),
    read_only=frozenset({"id", "meta"}),
)


@dataclass(frozen=True)
class UserFields:
    """What a User document sets on a pmoflow user."""

    username: str
    external_id: str | None
    display_name: str
    email: str | None
    name_parts: dict[str, str] | None
    active: bool


@dataclass(frozen=True)
class GroupFields:
    """What a Group document sets on a pmoflow group; `members` are SCIM ids of users."""

    name: str
    external_id: str | None
    members: list[str]


def when(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at is not None else None


def etag(document: dict[str, Any]) -> str:
    """A weak ETag of a document's content (its meta aside)."""
    content = json.dumps({k: v for k, v in document.items() if k != "meta"}, sort_keys=True, default=str)
    return f'W/"{hashlib.sha256(content.encode()).hexdigest()[:20]}"'


def _with_meta(
    doc: dict[str, Any], kind: str, created: datetime | None, modified: datetime | None, whole: bool = True
) -> dict[str, Any]:
    """The document with its meta; a version only when the document is whole (its ETag covers every attribute)."""
    doc["meta"] = {"resourceType": kind, "created": when(created), "lastModified": when(modified or created)}
    if whole:
        doc["meta"]["version"] = etag(doc)
    return doc


def user_document(user: User) -> dict[str, Any]:
    """The SCIM User of a row (its groups loaded)."""
    doc: dict[str, Any] = {"schemas": [CORE_USER], "id": user.scim_id}
    if user.external_id:
        doc["externalId"] = user.external_id
    doc["userName"] = user.username
    doc["name"] = dict(user.name_parts or {}) or {"formatted": user.display_name or user.username}
    doc["displayName"] = user.display_name or user.username
    doc["active"] = bool(user.active)
    doc["emails"] = [{"value": user.email, "type": "work", "primary": True}] if user.email else []
    doc["groups"] = sorted(
        ({"value": g.scim_id, "display": g.name, "type": "direct"} for g in user.groups if g.scim_id),
        key=lambda g: g["display"],
    )
    return _with_meta(doc, "User", user.created_at, user.modified_at)


def group_document(group: Group, members: bool = True) -> dict[str, Any]:
    """The SCIM Group of a row (its members loaded when `members`; without them, no meta.version)."""
    doc: dict[str, Any] = {"schemas": [CORE_GROUP], "id": group.scim_id}
    if group.external_id:
        doc["externalId"] = group.external_id
    doc["displayName"] = group.name
    if members:
        doc["members"] = sorted(
            (
                {"value": u.scim_id, "display": u.display_name or u.username, "type": "User"}
                for u in group.members
                if u.scim_id
            ),
            key=lambda m: m["value"],
        )
    return _with_meta(doc, "Group", group.created_at, group.modified_at, whole=members)


def _fields(doc: Any, shape: Shape) -> dict[str, Any]:
    """The document's attributes by canonical name (names are case-insensitive); raises ScimError."""
    if not isinstance(doc, dict):
        raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
    found: dict[str, Any] = {}
    for key, value in doc.items():
        name = shape.names.get(key.lower()) if isinstance(key, str) else None
        if name is not None:
            found[name] = value
    return found


def _text(value: Any, name: str, limit: int, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise bad_value(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise bad_value(f"{name} must be a string")
    if "\x00" in value:
        raise bad_value(f"{name} holds a NUL character")
    value = value.strip()
    if len(value) > limit:
        raise bad_value(f"{name} has more than {limit} characters")
    return value or None


def boolean(value: Any, name: str) -> bool:
    """A boolean, also as Entra ID sends some: the strings "True" and "False"; raises ScimError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise bad_value(f"{name} must be true or false")


def user_fields(doc: Any, active: bool = True) -> UserFields:
    """The fields a User document (POST, PUT, or a document after PATCH) sets; raises ScimError (400).

    Without `active` the user is `active` (a PUT keeps what the user was)."""
    found = _fields(doc, USER_SHAPE)
    username = _text(found.get("userName"), "userName", 80, required=True)
    assert username is not None
    if not USERNAME_RULE.fullmatch(username):
        raise bad_value("userName must be 1-80 letters, digits and . _ @ + - (starting with a letter or digit)")
    name = found.get("name")
    parts: dict[str, str] = {}
    if name is not None:
        if not isinstance(name, dict):
            raise bad_value("name must be an object")
        for key, value in name.items():
            canonical = next((p for p in NAME_PARTS if p.lower() == str(key).lower()), None)
            text = _text(value, f"name.{key}", 200)
            if canonical is not None and text:
                parts[canonical] = text
    given = " ".join(p for p in (parts.get("givenName"), parts.get("familyName")) if p)
    display = _text(found.get("displayName"), "displayName", 200) or parts.get("formatted") or given or username
    return UserFields(
        username,
        _text(found.get("externalId"), "externalId", 255),
        display,
        _email(found.get("emails")),
        parts or None,
        boolean(found["active"], "active") if found.get("active") is not None else active,
    )


def _email(emails: Any) -> str | None:
    if emails is None:
        return None
    if not isinstance(emails, list) or not all(isinstance(e, dict) for e in emails):
        raise bad_value("emails must be a list of objects")
    values = [{str(k).lower(): v for k, v in e.items()} for e in emails]
    values = [e for e in values if e.get("value") not in (None, "")]
    primary = [e for e in values if e.get("primary") is True or str(e.get("primary")).lower() == "true"]
    work = [e for e in values if str(e.get("type", "")).lower() == "work"]
    candidates = primary or work or values
    if not candidates:
        return None
    chosen = candidates[0]
    email = _text(chosen["value"], "emails.value", 254)
    if email is None or "@" not in email or any(c.isspace() for c in email):
        raise bad_value(f"{chosen['value']!r} is not an email address")
    return email


def group_fields(doc: Any) -> GroupFields:
    """The fields a Group document sets; raises ScimError (400)."""
    found = _fields(doc, GROUP_SHAPE)
    name = " ".join((_text(found.get("displayName"), "displayName", 120, required=True) or "").split())
    members = found.get("members") or []
    if not isinstance(members, list):
        raise bad_value("members must be a list")
    ids: dict[str, None] = {}  # in order, once each
    for member in members:
        value = member.get("value") if isinstance(member, dict) else None
        if not isinstance(value, str) or not value or "\x00" in value:
            raise bad_value("each member is an object with the value (the id) of a User")
        ids[value] = None
    return GroupFields(name, _text(found.get("externalId"), "externalId", 255), list(ids))


def projected(doc: dict[str, Any], attributes: str | None, excluded: str | None) -> dict[str, Any]:
    """A document with only the `attributes` asked for, or without the `excluded` ones (RFC 7644 §3.9);
    `schemas`, `id` and `meta` always stay. Names are top-level attributes, case-insensitive."""
    keep = {"schemas", "id", "meta"}
    if attributes:
        wanted = {a.strip().split(".")[0].lower() for a in attributes.split(",")}
        return {k: v for k, v in doc.items() if k in keep or k.lower() in wanted}
    if excluded:
        dropped = {a.strip().split(".")[0].lower() for a in excluded.split(",")}
        return {k: v for k, v in doc.items() if k in keep or k.lower() not in dropped}
    return doc
