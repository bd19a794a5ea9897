"""The provider's access tokens as API credentials, beside pmoflow's own tokens (engine/admin/tokens.py).

A token is taken when it is a JWT the provider signed (its keys, its issuer), whose audience holds
`oidc_api_audience`, that has not expired and is no ID token. It acts as the pmoflow user linked to its
subject (who signed in with the provider before, engine/sso/provisioning.py), or, for a client's own token
(client credentials), as the user `oidc_api_clients` names for that subject. Its scopes (`scope` or `scp`;
an app-only token's `roles` where it has neither, as Entra ID sends them) map to pmoflow scopes
(`oidc_scope_map`, and pmoflow's own names as they are), which narrow the user's roles as any token's
scopes do. A checked token is reused like pmoflow's tokens, never past its expiry."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engine.admin.identity import actor_of
from engine.core.context import EngineContext
from engine.core.errors import Unauthenticated
from engine.core.permissions import Actor
from engine.db.models import OidcIdentity, User
from engine.sso.jwts import values_of, verified_claims
from engine.sso.mapping import ClaimMaps
from engine.sso.provider import ProviderConfig, metadata

ID_TOKEN_CLAIMS = ("nonce", "at_hash", "c_hash")  # an ID token carries these; an access token does not


def accepts_access_tokens(ctx: EngineContext) -> bool:
    """True when the API takes the provider's access tokens (an issuer and an API audience are set)."""
    return ProviderConfig.of(ctx.settings) is not None and bool(ctx.settings.oidc_api_audience)


def actor_for_access_token(ctx: EngineContext, token: str) -> Actor:
    """The actor a provider access token stands for; raises Unauthenticated (naming what failed),
    ProviderUnavailable when the provider's keys can't be had."""
    config = ProviderConfig.of(ctx.settings)
    if config is None or not ctx.settings.oidc_api_audience:
        raise Unauthenticated("invalid or revoked API token")
    digest = ("oidc", hashlib.sha256(token.encode()).hexdigest())
    now = ctx.clock.now()
    cached: Actor | None = ctx.tokens.get(digest, now)
    if cached is not None:
        return cached
    claims = verified_claims(ctx, config, token, ctx.settings.oidc_api_audience)
    if any(name in claims for name in ID_TOKEN_CLAIMS) or claims.get("typ") == "ID":
        raise Unauthenticated("an ID token is not an access token")
    maps = ClaimMaps.of(ctx.settings)
    delegated = (values_of(claims, "scope") or []) + (values_of(claims, "scp") or [])
    scopes = maps.scopes_of(delegated or values_of(claims, "roles") or [])  # app-only tokens (Entra ID): roles
    actor = replace(_actor_of(ctx, metadata(ctx, config)["issuer"], claims, maps), scopes=scopes)
    exp = claims["exp"]
    if isinstance(exp, int | float) and now + timedelta(
        seconds=ctx.settings.token_cache_seconds
    ) < datetime.fromtimestamp(exp, UTC):
        ctx.tokens.put(digest, actor, now)  # never reused past its expiry
    return actor


def _actor_of(ctx: EngineContext, issuer: str, claims: dict[str, Any], maps: ClaimMaps) -> Actor:
    sub = claims.get("sub")
    if not isinstance(sub, str):
        raise Unauthenticated("the provider's token has no subject")
    with ctx.uow(write=False) as uow:
        user = uow.session.scalars(
            select(User)
            .join(OidcIdentity, OidcIdentity.user_id == User.id)
            .where(OidcIdentity.issuer == issuer, OidcIdentity.subject == sub)
            .options(selectinload(User.groups))
        ).first()
        if user is None and sub in maps.clients:  # a client's own token (client credentials)
            user = uow.session.scalars(
                select(User).where(User.username == maps.clients[sub]).options(selectinload(User.groups))
            ).first()
        if user is None:
            raise Unauthenticated("the provider's token names no pmoflow user: sign in with the provider once first")
        if not user.active:
            raise Unauthenticated(f"{user.username} is deactivated")
        return actor_of(user)
