"""Who is signed in, and the one decorator every page uses to check permissions."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import current_app
from flask_login import UserMixin, current_user, login_required

from engine.core.context import EngineContext
from engine.core.permissions import Actor, allowed, require


class WebUser(UserMixin):
    """A signed-in user; the session id carries the user's session epoch, so revocation is instant."""

    def __init__(self, actor: Actor, epoch: int, display_name: str) -> None:
        self.actor = actor
        self.epoch = epoch
        self.display_name = display_name

    def get_id(self) -> str:
        return f"{self.actor.user_id}:{self.epoch}"

    @property
    def username(self) -> str:
        return self.actor.username

    def can(self, action: str) -> bool:
        return allowed(self.actor, action)


def engine_ctx() -> EngineContext:
    ctx: EngineContext = current_app.extensions["pmoflow"]
    return ctx


def actor() -> Actor:
    """The signed-in user's actor (pages are wrapped in `requires`, so someone is signed in)."""
    user: WebUser = current_user
    return user.actor


_P = ParamSpec("_P")
_R = TypeVar("_R")


def requires(action: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Sign-in required (else the login page), then `action` from the permission table (else Forbidden naming
    the permission: the error boundary, webui/errors.py, shows the 403 page or answers JSON)."""

    def decorate(view: Callable[_P, _R]) -> Callable[_P, _R]:
        @wraps(view)
        @login_required
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            require(actor(), action)
            return view(*args, **kwargs)

        return wrapper

    return decorate
