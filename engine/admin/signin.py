"""Signing in to the web UI: the shared throttle, the password check, then a new server-side session."""

from __future__ import annotations

from dataclasses import dataclass

from engine.admin import passwords, sessions
from engine.admin.throttle import Lockout, Throttle
from engine.core.context import EngineContext


@dataclass(frozen=True)
class SignIn:
    """A started session (`token` for the cookie, `user`), a lockout, a refusal (passwords are turned off,
    PMOFLOW_LOCAL_LOGIN=off), or none of them (wrong credentials)."""

    token: str | None = None
    user: sessions.SessionUser | None = None
    lockout: Lockout | None = None
    refused: str | None = None


def sign_in(
    ctx: EngineContext, username: str, password: str, remote: str | None, user_agent: str | None = None
) -> SignIn:
    """Check the throttle, then the password (recording `login` or `login_failed`), then start a session.

    A locked account or address is refused before its password is checked. With `local_login` "off" no
    password is checked; with "admins" only admins' passwords sign in (break-glass accounts beside single
    sign-on)."""
    if ctx.settings.local_login == "off":
        return SignIn(refused="Passwords are turned off: sign in with your identity provider.")
    throttle = Throttle(ctx)
    locked = throttle.locked(username, remote)
    if locked is not None:
        return SignIn(lockout=locked)
    found = passwords.login(ctx, username, password, remote, admins_only=ctx.settings.local_login == "admins")
    if found is None:
        return SignIn(lockout=throttle.failed(username, remote))
    throttle.succeeded(username)
    assert found.actor.user_id is not None  # a signed-in user's actor always has one
    token, session_id = sessions.start(ctx, found.actor.user_id, remote, user_agent)
    return SignIn(token, sessions.SessionUser(found.actor, found.display_name, session_id))
