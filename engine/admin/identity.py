"""Who a user is to the rest of the engine: the Actor of a user row, and the small view of one user."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.errors import InvalidInput
from engine.core.permissions import Actor
from engine.db.models import User


@dataclass(frozen=True)
class UserView:
    username: str
    display_name: str
    roles: list[str]
    groups: list[str]
    active: bool


def actor_of(user: User) -> Actor:
    return Actor(user.username, user.id, frozenset(user.roles), frozenset(g.name for g in user.groups))


def view_of(user: User) -> UserView:
    return UserView(
        user.username, user.display_name, sorted(user.roles), sorted(g.name for g in user.groups), user.active
    )


def invalid(fields: dict[str, str]) -> InvalidInput:
    return InvalidInput("; ".join(f"{name}: {message}" for name, message in fields.items()), {"fields": fields})
