"""Comments on a request or one of its tasks: threaded, visible to whoever may see the request.

`@username` in a comment notifies that user, if they exist, are active and may see the
request (the author is told who was not notified and why, rather than leaking the request
to someone outside it). An @name that is no user is reported on posting ("no such user") and
marked on every showing of the comment (`CommentView.unknown_mentions`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine.admin.identity import actor_of
from engine.core.context import EngineContext
from engine.core.errors import Forbidden, InvalidInput
from engine.core.permissions import Actor, require
from engine.db.models import Comment, HumanTask, ProcessInstance, User
from engine.events import stream as audit
from engine.runtime.instances import check_can_see
from engine.tasks.collaboration import request_target

BODY_LIMIT = 5000
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9][A-Za-z0-9._@+-]{0,79})")
MAX_MENTIONS = 20
MAX_DEPTH = 4  # levels of replies shown indented


@dataclass(frozen=True)
class CommentView:
    id: str
    author: str
    body: str
    created_at: datetime
    task_id: str | None
    task_name: str | None
    parent_id: str | None
    replies: tuple[CommentView, ...] = ()
    unknown_mentions: tuple[str, ...] = ()  # @names in the body that are no user: nobody was notified


@dataclass(frozen=True)
class CommentAdded:
    comment: CommentView
    notified: list[str] = field(default_factory=list)
    not_notified: dict[str, str] = field(default_factory=dict)  # username -> why not


def mention_name(written: str) -> str:
    """The user name of an @mention as matched by MENTION, without trailing punctuation ('bob.' -> 'bob')."""
    return written.rstrip(".,;:!?-+@")


def mentioned_names(body: str) -> list[str]:
    """Candidate user names written as @name, in order, without duplicates or trailing punctuation."""
    names: list[str] = []
    for match in MENTION.finditer(body):
        name = mention_name(match.group(1))
        if name and name not in names:
            names.append(name)
    return names[:MAX_MENTIONS]


def _users_named(session: Session, candidates: list[str]) -> dict[str, User]:
    """The users that @names refer to, by user name: `name`, or `name@...` for a name written with a domain."""
    lookup = set(candidates) | {c.split("@", 1)[0] for c in candidates}
    if not lookup:
        return {}
    return {
        u.username: u
        for u in session.scalars(
            select(User).where(User.username.in_(sorted(lookup))).options(selectinload(User.groups))
        )
    }


def _user_of(users: dict[str, User], name: str) -> User | None:
    return users.get(name) or users.get(name.split("@", 1)[0])


def add_comment(
    ctx: EngineContext,
    actor: Actor,
    body: str,
    *,
    instance_id: str | None = None,
    task_id: str | None = None,
    parent_id: str | None = None,
) -> CommentAdded:
    """Comment on a request or task, or reply to a comment; raises NotFound, Forbidden, InvalidInput."""
    require(actor, "comment.add")
    body = (body or "").strip()
    if not body:
        raise InvalidInput("the comment is empty", {"fields": {"body": "required"}})
    if len(body) > BODY_LIMIT:
        raise InvalidInput("the comment is too long", {"fields": {"body": f"at most {BODY_LIMIT} characters"}})
    with ctx.uow() as uow:
        session = uow.session
        instance, task = request_target(session, actor, instance_id, task_id)
        parent = _parent(session, instance, parent_id) if parent_id else None
        now = ctx.clock.now()
        row = Comment(
            instance_id=instance.id,
            task_uuid=task.uuid if task else (parent.task_uuid if parent else None),
            parent_id=parent.id if parent else None,
            author=actor.username,
            body=body,
            created_at=now,
        )
        session.add(row)
        session.flush()
        notified, skipped = _mentioned(session, actor, instance, body)
        audit.record(
            session,
            "comment_added",
            now,
            instance=instance,
            actor=actor.username,
            task_uuid=row.task_uuid,
            data={"comment": row.uuid, "parent": parent.uuid if parent else None, "body": body, "mentions": notified},
        )
        view = CommentView(
            row.uuid,
            row.author,
            row.body,
            row.created_at,
            row.task_uuid,
            task.name if task else None,
            parent.uuid if parent else None,
        )
        uow.commit()
        return CommentAdded(view, notified, skipped)


def _parent(session: Session, instance: ProcessInstance, parent_id: str) -> Comment:
    """The comment replied to; past MAX_DEPTH levels a reply joins its parent's thread instead."""
    parent = session.scalars(select(Comment).where(Comment.uuid == parent_id)).first()
    if parent is None or parent.instance_id != instance.id:
        raise InvalidInput("the comment you reply to is not on this request", {"fields": {"parent": "unknown"}})
    chain = [parent]
    while chain[-1].parent_id is not None and len(chain) < MAX_DEPTH:
        chain.append(session.get_one(Comment, chain[-1].parent_id))
    return chain[1] if len(chain) >= MAX_DEPTH else parent


def _mentioned(
    session: Session,
    actor: Actor,
    instance: ProcessInstance,
    body: str,
) -> tuple[list[str], dict[str, str]]:
    """Who the comment notifies (`comment_added`'s `mentions`, the bell tells them) and who not, with why."""
    candidates = mentioned_names(body)
    if not candidates:
        return [], {}
    users = _users_named(session, candidates)
    notified: list[str] = []
    skipped: dict[str, str] = {}
    for name in candidates:
        user = _user_of(users, name)
        if user is None:
            skipped[name] = "no such user"
            continue
        if user.username == actor.username or user.username in notified:
            continue
        if not user.active:
            skipped[user.username] = "deactivated"
            continue
        try:
            check_can_see(session, actor_of(user), instance)
        except Forbidden:
            skipped[user.username] = "may not see this request"
            continue
        notified.append(user.username)
    return notified, skipped


def thread(session: Session, instance: ProcessInstance) -> list[CommentView]:
    """The instance's comments as threads: top-level comments oldest first, replies under their parent."""
    rows = session.scalars(select(Comment).where(Comment.instance_id == instance.id).order_by(Comment.id)).all()
    names = {
        uuid: name
        for uuid, name in session.execute(
            select(HumanTask.uuid, HumanTask.name).where(HumanTask.instance_id == instance.id)
        )
    }
    children: dict[int | None, list[Comment]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    uuids = {row.id: row.uuid for row in rows}
    written = {row.id: mentioned_names(row.body) for row in rows}
    users = _users_named(session, sorted({n for names in written.values() for n in names}))

    def build(row: Comment) -> CommentView:
        return CommentView(
            row.uuid,
            row.author,
            row.body,
            row.created_at,
            row.task_uuid,
            names.get(row.task_uuid) if row.task_uuid else None,
            uuids.get(row.parent_id) if row.parent_id else None,
            tuple(build(child) for child in children.get(row.id, [])),
            tuple(n for n in written[row.id] if _user_of(users, n) is None),
        )

    return [build(row) for row in children.get(None, [])]
