"""SCIM Groups: list with a filter, read, create, replace, patch and delete pmoflow groups (the BPMN lanes).

A group's `displayName` is its name, the lane name processes offer tasks to; members are SCIM
Users (people). Membership changes are `group_member_added` / `group_member_removed` events, a
rename or new externalId `group_updated`, each naming the SCIM client. Members SCIM does not see
(system accounts an admin put in a group) are left as they are by PUT and PATCH.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from engine.admin.passwords import SYSTEM
from engine.core.context import EngineContext
from engine.core.permissions import Actor
from engine.db.models import Group, GroupMember, User, new_uuid
from engine.events import stream as audit
from engine.scim import documents, filters, patch
from engine.scim.documents import GroupFields, group_document, group_fields
from engine.scim.errors import CORE_GROUP, ScimError, bad_value, not_found
from engine.scim.filters import Column, Values
from engine.scim.resources import Page, check_version, client, paging

ATTRIBUTES: filters.Attributes = {
    "id": Column(Group.scim_id, "exact"),
    "externalid": Column(Group.external_id, "exact"),
    "displayname": Column(Group.name),
    "members": Values(
        {"value": Column(User.scim_id, "exact"), "display": Column(User.display_name)},
        lambda condition: exists().where(GroupMember.group_id == Group.id, GroupMember.user_id == User.id, condition),
    ),
    "meta.created": Column(Group.created_at, "dateTime"),
    "meta.lastmodified": Column(func.coalesce(Group.modified_at, Group.created_at), "dateTime"),
}


def list_groups(
    ctx: EngineContext,
    actor: Actor,
    filter_text: str | None,
    start_index: int | None,
    count: int | None,
    members: bool = True,
) -> Page:
    """The groups a filter selects, oldest first, one page (without members unless `members`); raises ScimError."""
    client(actor)
    start, size = paging(start_index, count)
    where: list[ColumnElement[bool]] = [Group.scim_id.is_not(None)]
    if filter_text:
        where.append(filters.condition(filters.parse(filter_text), ATTRIBUTES, CORE_GROUP))
    with ctx.uow(write=False) as uow:
        total = uow.session.scalar(select(func.count()).select_from(Group).where(*where)) or 0
        query = select(Group).where(*where).order_by(Group.id)
        if members:
            query = query.options(selectinload(Group.members))
        found = list(uow.session.scalars(query.offset(start - 1).limit(size))) if size else []
        return Page(total, start, [group_document(g, members) for g in found])


def get_group(ctx: EngineContext, actor: Actor, group_id: str, members: bool = True) -> dict[str, Any]:
    """One group's document; raises ScimError (404), Forbidden."""
    client(actor)
    with ctx.uow(write=False) as uow:
        return group_document(_load(uow.session, group_id), members)


def _load(session: Session, group_id: str, lock: bool = False) -> Group:
    if "\x00" in group_id:
        raise not_found("Group", group_id)
    query = select(Group).where(Group.scim_id == group_id).options(selectinload(Group.members))
    group = session.scalars(query.with_for_update() if lock else query).first()
    if group is None:
        raise not_found("Group", group_id)
    return group


def create_group(ctx: EngineContext, actor: Actor, body: Any) -> dict[str, Any]:
    """Create a group with its members; raises ScimError (400, 409 uniqueness: the name is taken), Forbidden."""
    via = client(actor)
    fields = group_fields(body)
    try:
        doc = _create(ctx, actor, via, fields)
    except IntegrityError:  # the same name created at the same moment by another request
        raise ScimError(409, f"a group {fields.name!r} exists already", "uniqueness") from None
    ctx.tokens.clear()
    return doc


def _create(ctx: EngineContext, actor: Actor, via: dict[str, Any], fields: GroupFields) -> dict[str, Any]:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        session = uow.session
        _check_name(session, fields.name, None)
        group = Group(name=fields.name, scim_id=new_uuid(), created_at=now, modified_at=now, members=[])
        group.external_id = fields.external_id
        session.add(group)
        session.flush()
        audit.record(session, "group_created", now, actor=actor.username, data={"group": group.name, **via})
        _set_members(session, group, fields.members, actor.username, via, now)
        doc = group_document(group)
        uow.commit()
    return doc


def _check_name(session: Session, name: str, group: Group | None) -> None:
    query = select(Group.name).where(func.lower(Group.name) == name.lower())
    if group is not None:
        query = query.where(Group.id != group.id)
    taken = session.scalar(query)
    if taken is not None:
        raise ScimError(409, f"a group {taken!r} exists already", "uniqueness")


def replace_group(
    ctx: EngineContext, actor: Actor, group_id: str, body: Any, if_match: str | None = None
) -> dict[str, Any]:
    """PUT: name, externalId and members become the document's; raises ScimError (400, 404, 409, 412)."""
    via = client(actor)
    return _change(ctx, actor, via, group_id, lambda _doc: group_fields(body), if_match)


def patch_group(
    ctx: EngineContext, actor: Actor, group_id: str, body: Any, if_match: str | None = None
) -> dict[str, Any]:
    """PATCH: the PatchOp's operations (members added, removed, replaced; a rename) applied; raises ScimError."""
    via = client(actor)
    return _change(
        ctx, actor, via, group_id, lambda doc: group_fields(patch.apply(doc, body, documents.GROUP_SHAPE)), if_match
    )


def _change(
    ctx: EngineContext,
    actor: Actor,
    via: dict[str, Any],
    group_id: str,
    fields_of: Callable[[dict[str, Any]], GroupFields],
    if_match: str | None,
) -> dict[str, Any]:
    try:
        result = _changed(ctx, actor, via, group_id, fields_of, if_match)
    except IntegrityError:  # renamed to a name another request took at the same moment
        raise ScimError(409, "that group name was taken meanwhile", "uniqueness") from None
    ctx.tokens.clear()
    return result


def _changed(
    ctx: EngineContext,
    actor: Actor,
    via: dict[str, Any],
    group_id: str,
    fields_of: Callable[[dict[str, Any]], GroupFields],
    if_match: str | None,
) -> dict[str, Any]:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        session = uow.session
        group = _load(session, group_id, lock=True)
        doc = group_document(group)
        check_version(doc["meta"]["version"], if_match)
        fields = fields_of({k: v for k, v in doc.items() if k != "meta"})
        changed: dict[str, Any] = {}
        if fields.name != group.name:
            _check_name(session, fields.name, group)
            changed |= {"before": group.name, "name": fields.name}
            group.name = fields.name
        if fields.external_id != group.external_id:
            changed["external_id"] = group.external_id = fields.external_id
        if changed:
            group.modified_at = now
            audit.record(
                session, "group_updated", now, actor=actor.username, data={"group": group.name, **changed, **via}
            )
        _set_members(session, group, fields.members, actor.username, via, now)
        result = group_document(group)
        uow.commit()
    return result


def _set_members(
    session: Session, group: Group, wanted: list[str], actor: str, via: dict[str, Any], now: datetime
) -> None:
    """Make the group's SCIM-visible members the users with the `wanted` ids; raises ScimError for an unknown id."""
    users: dict[str, User] = {}
    for start in range(0, len(wanted), 500):  # a bound on the query's parameters, however big the group
        chunk = wanted[start : start + 500]
        found = session.scalars(select(User).where(User.scim_id.in_(chunk), User.kind != SYSTEM))
        users |= {u.scim_id: u for u in found if u.scim_id}
    unknown = [i for i in wanted if i not in users]
    if unknown:
        raise bad_value(f"no User has the id {unknown[0]!r}")
    current = {u.scim_id: u for u in group.members if u.scim_id and u.kind != SYSTEM}
    for user_id in [i for i in wanted if i not in current]:
        group.members.append(users[user_id])
        data = {"group": group.name, "username": users[user_id].username, **via}
        audit.record(session, "group_member_added", now, actor=actor, data=data)
    keep = set(wanted)
    for user_id in [i for i in current if i not in keep]:
        group.members.remove(current[user_id])
        data = {"group": group.name, "username": current[user_id].username, **via}
        audit.record(session, "group_member_removed", now, actor=actor, data=data)
    if keep != set(current):
        group.modified_at = now


def delete_group(ctx: EngineContext, actor: Actor, group_id: str, if_match: str | None = None) -> None:
    """DELETE: the group and its memberships go (tasks already offered to its lane keep its name); raises ScimError."""
    via = client(actor)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        group = _load(uow.session, group_id, lock=True)
        check_version(group_document(group)["meta"]["version"], if_match)
        data = {"group": group.name, "members": sorted(u.username for u in group.members), **via}
        uow.session.delete(group)
        audit.record(uow.session, "group_deleted", now, actor=actor.username, data=data)
        uow.commit()
    ctx.tokens.clear()
