"""Bearer-token authentication for the API; the actor is kept on `flask.g`."""

from __future__ import annotations

from flask import g, request

from engine.errors import Unauthenticated
from engine.permissions import Actor
from engine.users import actor_for_token

from .context import engine_ctx


def authenticate_request() -> None:
    """Resolve the bearer token into `g.actor`; raises Unauthenticated."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
    g.actor = actor_for_token(engine_ctx(), token.strip())


def current_actor() -> Actor:
    actor: Actor = g.actor
    return actor
