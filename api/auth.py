"""Bearer-token authentication for the API; the actor is kept on `flask.g`."""

from __future__ import annotations

from flask import g, request

from engine.admin.tokens import TOKEN_PREFIX, actor_for_token
from engine.core.errors import Unauthenticated
from engine.core.permissions import Actor
from engine.events import stream as audit
from engine.sso.access import accepts_access_tokens, actor_for_access_token

from .context import engine_ctx


def authenticate_request() -> None:
    """Resolve the bearer token into `g.actor`: a pmoflow API token, or (with PMOFLOW_OIDC_API_AUDIENCE) an
    access token of the OpenID provider (engine/sso/access.py); raises Unauthenticated."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
    ctx, token = engine_ctx(), token.strip()
    if not token.startswith(TOKEN_PREFIX) and accepts_access_tokens(ctx):
        g.actor = actor_for_access_token(ctx, token)
        return
    g.actor = actor = actor_for_token(ctx, token)
    if actor.token_id is not None:
        audit.bind_token(actor.username, actor.token_id)  # writes in this request name the token


def forget_token(_exc: BaseException | None = None) -> None:
    """After every request: no token attribution leaks into the next request on this thread."""
    audit.clear_token()


def current_actor() -> Actor:
    actor: Actor = g.actor
    return actor
