"""What deactivating a user does, inside the caller's unit of work (the admin pages and SCIM share it).

A deactivated user can not sign in, their browser sessions end, their API tokens are revoked and
the open tasks they hold go back to the groups they were offered to (one `task_unclaimed` event
each, with the reason). Reactivating lets them sign in again; revoked tokens stay revoked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.admin import sessions
from engine.db.models import ApiToken, HumanTask, User
from engine.events import stream as audit


def deactivate_in(session: Session, user: User, actor: str, now: datetime, data: dict[str, Any] | None = None) -> int:
    """Deactivate `user` in the caller's transaction; returns how many open tasks went back to their groups.

    Records `user_deactivated` with `data` (for example who provisioned the change) besides the username."""
    user.active = False
    sessions.end_all_in(session, user.id, "deactivated", now)
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))):
        token.revoked_at = now
    audit.record(session, "user_deactivated", now, actor=actor, data={"username": user.username, **(data or {})})
    return release_tasks_in(session, user.username, actor, now, data)


def reactivate_in(session: Session, user: User, actor: str, now: datetime, data: dict[str, Any] | None = None) -> None:
    """Let a deactivated user sign in again, in the caller's transaction; records `user_reactivated`."""
    user.active = True
    audit.record(session, "user_reactivated", now, actor=actor, data={"username": user.username, **(data or {})})


def release_tasks_in(
    session: Session, username: str, actor: str, now: datetime, data: dict[str, Any] | None = None
) -> int:
    """Give every open task assigned to `username` back to its groups (and candidate users); returns how many.

    Each is a `task_unclaimed` event naming the task, the former assignee and the reason `deactivated`.
    A task finished meanwhile by a concurrent step is left alone (the update re-checks it is open)."""
    held = session.scalars(select(HumanTask).where(HumanTask.assignee == username, HumanTask.status == "open"))
    released = 0
    for task in list(held):
        changed = session.execute(
            update(HumanTask)
            .where(HumanTask.id == task.id, HumanTask.status == "open", HumanTask.assignee == username)
            .values(assignee=None, owner=None, delegation_reason=None)
            .execution_options(synchronize_session="fetch")
        )
        if not changed.rowcount:  # type: ignore[attr-defined]
            continue
        released += 1
        audit.record(
            session,
            "task_unclaimed",
            now,
            instance=task.instance,
            actor=actor,
            task_uuid=task.uuid,
            element_id=task.element_id,
            data={"name": task.name, "from": username, "reason": "deactivated", **(data or {})},
        )
    return released
