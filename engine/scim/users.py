"""SCIM Users: list with a filter, read, create, replace, patch and delete pmoflow users.

Users created here are people with the role `approver` and no password (they sign in through the
identity provider); group memberships come through Groups. `active: false` deactivates (no sign-in,
sessions ended, API tokens revoked, open tasks back to their groups: engine.admin.deactivation);
DELETE does the same, takes the user out of every group and out of SCIM's view (the row and its
history stay; a later POST of the same userName brings the account back). Every change is an event
naming the SCIM client (`via: scim`, `scim_client`); the event also names the token.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from engine.admin.deactivation import deactivate_in, reactivate_in
from engine.admin.passwords import SYSTEM
from engine.core.context import EngineContext
from engine.core.permissions import Actor
from engine.db.models import Group, GroupMember, User, new_uuid
from engine.events import stream as audit
from engine.scim import documents, filters, patch
from engine.scim.documents import UserFields, user_document, user_fields
from engine.scim.errors import CORE_USER, ScimError, not_found
from engine.scim.filters import Column, Values, constant
from engine.scim.resources import Page, check_version, client, paging

DEFAULT_ROLES = ["approver"]  # what a provisioned user may do until an admin gives more

ATTRIBUTES: filters.Attributes = {
    "id": Column(User.scim_id, "exact"),
    "externalid": Column(User.external_id, "exact"),
    "username": Column(User.username),
    "displayname": Column(User.display_name),
    "name.formatted": Column(User.display_name),
    "active": Column(User.active, "boolean"),
    "emails": Values(
        {"value": Column(User.email), "type": constant("work"), "primary": constant(True, "boolean")},
        lambda condition: User.email.is_not(None) & condition,
    ),
    "groups": Values(
        {"value": Column(Group.scim_id, "exact"), "display": Column(Group.name)},
        lambda condition: exists().where(GroupMember.user_id == User.id, GroupMember.group_id == Group.id, condition),
    ),
    "meta.created": Column(User.created_at, "dateTime"),
    "meta.lastmodified": Column(func.coalesce(User.modified_at, User.created_at), "dateTime"),
}

_VISIBLE = (User.scim_id.is_not(None), User.kind != SYSTEM)  # system accounts are no identity provider's


def list_users(
    ctx: EngineContext, actor: Actor, filter_text: str | None, start_index: int | None, count: int | None
) -> Page:
    """The users a filter selects, oldest first, one page; raises ScimError (invalidFilter), Forbidden."""
    client(actor)
    start, size = paging(start_index, count)
    where = [*_VISIBLE]
    if filter_text:
        where.append(filters.condition(filters.parse(filter_text), ATTRIBUTES, CORE_USER))
    with ctx.uow(write=False) as uow:
        total = uow.session.scalar(select(func.count()).select_from(User).where(*where)) or 0
        query = select(User).where(*where).options(selectinload(User.groups)).order_by(User.id)
        found = list(uow.session.scalars(query.offset(start - 1).limit(size))) if size else []
        return Page(total, start, [user_document(u) for u in found])


def get_user(ctx: EngineContext, actor: Actor, user_id: str) -> dict[str, Any]:
    """One user's document; raises ScimError (404), Forbidden."""
    client(actor)
    with ctx.uow(write=False) as uow:
        return user_document(_load(uow.session, user_id))


def _load(session: Session, user_id: str, lock: bool = False) -> User:
    if "\x00" in user_id:
        raise not_found("User", user_id)
    query = select(User).where(User.scim_id == user_id, *_VISIBLE).options(selectinload(User.groups))
    user = session.scalars(query.with_for_update() if lock else query).first()
    if user is None:
        raise not_found("User", user_id)
    return user


def create_user(ctx: EngineContext, actor: Actor, body: Any) -> dict[str, Any]:
    """Create a user from a User document (or bring back one SCIM deleted); raises ScimError (400, 409 uniqueness)."""
    via = client(actor)
    fields = user_fields(body)
    try:
        doc = _create(ctx, actor, via, fields)
    except IntegrityError:  # the same userName created at the same moment by another request
        raise ScimError(409, f"a user {fields.username!r} exists already", "uniqueness") from None
    ctx.tokens.clear()
    return doc


def _create(ctx: EngineContext, actor: Actor, via: dict[str, Any], fields: UserFields) -> dict[str, Any]:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        session = uow.session
        user = session.scalars(select(User).where(func.lower(User.username) == fields.username.lower())).first()
        if user is not None and (user.scim_id is not None or user.kind == SYSTEM):
            raise ScimError(409, f"a user {user.username!r} exists already", "uniqueness")
        if user is None:
            user = User(
                username=fields.username,
                display_name=fields.display_name,
                roles=list(DEFAULT_ROLES),
                password_hash=None,
                created_at=now,
                kind="person",
                scim_id=new_uuid(),
                groups=[],
            )
            session.add(user)
            session.flush()
            data = {"username": user.username, "roles": DEFAULT_ROLES, "groups": [], "kind": "person"}
            audit.record(session, "user_created", now, actor=actor.username, data={**data, **via})
        else:
            user.scim_id = new_uuid()
            audit.record(session, "user_updated", now, actor=actor.username, data={"username": user.username, **via})
        _apply(session, user, fields, actor.username, via, now, creating=True)
        doc = user_document(user)
        uow.commit()
    return doc


def replace_user(
    ctx: EngineContext, actor: Actor, user_id: str, body: Any, if_match: str | None = None
) -> dict[str, Any]:
    """PUT: the user becomes what the document says; raises ScimError (400, 404, 412), Forbidden."""
    via = client(actor)
    return _change(ctx, actor, via, user_id, lambda doc: user_fields(body, doc["active"]), if_match)


def patch_user(
    ctx: EngineContext, actor: Actor, user_id: str, body: Any, if_match: str | None = None
) -> dict[str, Any]:
    """PATCH: the PatchOp's operations applied to the user's document; raises ScimError (400, 404, 412), Forbidden."""
    via = client(actor)
    return _change(
        ctx, actor, via, user_id, lambda doc: user_fields(patch.apply(doc, body, documents.USER_SHAPE)), if_match
    )


def _change(
    ctx: EngineContext,
    actor: Actor,
    via: dict[str, Any],
    user_id: str,
    fields_of: Callable[[dict[str, Any]], UserFields],
    if_match: str | None,
) -> dict[str, Any]:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        user = _load(uow.session, user_id, lock=True)
        doc = user_document(user)
        check_version(doc["meta"]["version"], if_match)
        fields = fields_of({k: v for k, v in doc.items() if k != "meta"})
        _apply(uow.session, user, fields, actor.username, via, now)
        changed = user_document(user)
        uow.commit()
    ctx.tokens.clear()
    return changed


def _apply(
    session: Session,
    user: User,
    fields: UserFields,
    actor: str,
    via: dict[str, Any],
    now: datetime,
    creating: bool = False,
) -> None:
    """Set a document's fields on a user, one event per kind of change; userName never changes (only its case)."""
    if fields.username.lower() != user.username.lower():
        raise ScimError(400, f"userName can not change in pmoflow (it stays {user.username!r})", "mutability")
    wanted = {
        "display_name": fields.display_name,
        "email": fields.email,
        "external_id": fields.external_id,
        "name_parts": fields.name_parts,
    }
    changed = {k: v for k, v in wanted.items() if getattr(user, k) != v}
    for key, value in changed.items():
        setattr(user, key, value)
    if changed and not creating:
        audit.record(session, "user_updated", now, actor=actor, data={"username": user.username, **changed, **via})
    toggled = fields.active != user.active
    if toggled and fields.active:
        reactivate_in(session, user, actor, now, via)
    elif toggled:
        deactivate_in(session, user, actor, now, via)
    if changed or toggled or creating or user.modified_at is None:
        user.modified_at = now


def delete_user(ctx: EngineContext, actor: Actor, user_id: str, if_match: str | None = None) -> None:
    """DELETE: deactivate the user, take them out of every group and out of SCIM; raises ScimError (404, 412)."""
    via = client(actor)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        session = uow.session
        user = _load(session, user_id, lock=True)
        check_version(user_document(user)["meta"]["version"], if_match)
        if user.active:
            deactivate_in(session, user, actor.username, now, via)
        for group in list(user.groups):
            user.groups.remove(group)
            group.modified_at = now
            data = {"group": group.name, "username": user.username, **via}
            audit.record(session, "group_member_removed", now, actor=actor.username, data=data)
        data = {"username": user.username, "scim_id": user.scim_id, "external_id": user.external_id, **via}
        user.scim_id, user.external_id, user.modified_at = None, None, now
        audit.record(session, "user_deleted", now, actor=actor.username, data=data)
        uow.commit()
    ctx.tokens.clear()
