"""Who receives a personal task today: the out-of-office substitute lookup.

Kept apart from engine.tasks.collaboration (which imports instances and steps) so that the
engine step itself (engine.runtime.steps, engine.tasks.approvals) can call it without an import cycle.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.models import Substitute, User

MAX_SUBSTITUTE_HOPS = 5


def effective_assignee(session: Session, username: str, today: date) -> str:
    """Who gets a task meant for `username` today: their active substitute (followed), else themselves."""
    seen = {username}
    current = username
    for _ in range(MAX_SUBSTITUTE_HOPS):
        substitute = session.scalars(
            select(Substitute.substitute)
            .join(User, User.username == Substitute.substitute)
            .where(
                Substitute.username == current,
                Substitute.starts_on <= today,
                Substitute.ends_on >= today,
                User.active.is_(True),
            )
            .order_by(Substitute.id.desc())
            .limit(1)
        ).first()
        if substitute is None or substitute in seen:
            break
        seen.add(substitute)
        current = substitute
    return current
