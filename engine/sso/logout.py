"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the provider posts a logout token when a
user's session there ends, and pmoflow ends the sessions it started from that provider session (`sid`), or
every provider-started session of the user (`sub` alone).

The logout token is checked as the specification says (section 2.6): signed by the provider's keys,
issuer, audience (our client id), `iat`, a `jti`, the back-channel logout event, no `nonce`, and `sid` or
`sub`. A `jti` taken before is refused (a replay), by whichever process or host took it: the `jti`s are
rows of `oidc_logout_tokens`, whose unique (issuer, jti) lets one insert win, kept for twice the accepted
age and deleted by a later logout. The `jti` is recorded in the same transaction that ends the sessions,
so a logout that fails half-way can be sent again."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.core.errors import PmoflowError, Unauthenticated
from engine.db.models import OidcIdentity, OidcLogoutToken, User, WebSession
from engine.events import stream as audit
from engine.sso.jwts import verified_claims
from engine.sso.provider import ProviderConfig, metadata

EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_AGE = timedelta(minutes=10)  # a logout token issued longer ago is refused
KEEP_JTI = 2 * MAX_AGE  # a taken jti is remembered this long: beyond, the token is too old anyway
MAX_JTI_CHARS = 255


class LogoutRefused(PmoflowError):
    """A logout token that is not valid (the specification's 400 answer)."""

    code = "logout_refused"


def backchannel_logout(ctx: EngineContext, logout_token: str) -> int:
    """End the sessions a valid logout token names; returns how many ended (0 is a valid answer: nothing
    was open). Raises LogoutRefused, or ProviderUnavailable when the provider's keys can't be had."""
    config = ProviderConfig.of(ctx.settings)
    if config is None:
        raise LogoutRefused("single sign-on is not configured")
    try:
        claims = verified_claims(ctx, config, logout_token, config.client_id, essential=("iat", "jti"))
    except Unauthenticated as err:
        raise LogoutRefused(err.message) from None
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(EVENT), dict):
        raise LogoutRefused("the logout token lacks the back-channel logout event")
    if "nonce" in claims:
        raise LogoutRefused("a logout token must not carry a nonce")
    sid, sub = claims.get("sid"), claims.get("sub")
    if not isinstance(sid, str) and not isinstance(sub, str):
        raise LogoutRefused("the logout token names neither a session (sid) nor a subject (sub)")
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS:
        raise LogoutRefused(f"the logout token's jti is not a string of 1 to {MAX_JTI_CHARS} characters")
    if ctx.clock.now().timestamp() - float(claims["iat"]) > MAX_AGE.total_seconds():
        raise LogoutRefused("the logout token is too old")
    return _end_sessions(ctx, metadata(ctx, config)["issuer"], jti, sid if isinstance(sid, str) else None, sub)


def _take(session: Session, issuer: str, jti: str, now: datetime) -> bool:
    """Record the logout token's jti for every process; False when it was taken before (a replay). Rows past
    their time are deleted on the way."""
    session.execute(delete(OidcLogoutToken).where(OidcLogoutToken.expires_at < now))
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    row = insert(OidcLogoutToken).values(issuer=issuer, jti=jti, expires_at=now + KEEP_JTI)
    statement = row.on_conflict_do_nothing(index_elements=["issuer", "jti"]).returning(OidcLogoutToken.id)
    return session.execute(statement).scalar_one_or_none() is not None


def _end_sessions(ctx: EngineContext, issuer: str, jti: str, sid: str | None, sub: object) -> int:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        if not _take(uow.session, issuer, jti, now):
            raise LogoutRefused("the logout token was used before")
        query = select(WebSession.id, User.username).join(User, User.id == WebSession.user_id)
        query = query.where(WebSession.ended_at.is_(None), WebSession.id_token.is_not(None))
        if sid is not None:
            query = query.where(WebSession.oidc_sid == sid[:255])  # as sessions.start keeps it
        if isinstance(sub, str):
            query = query.join(OidcIdentity, OidcIdentity.user_id == User.id).where(
                OidcIdentity.issuer == issuer, OidcIdentity.subject == sub
            )
        rows = uow.session.execute(query).all()
        if rows:
            uow.session.execute(
                update(WebSession)
                .where(WebSession.id.in_([r.id for r in rows]), WebSession.ended_at.is_(None))
                .values(ended_at=now, end_reason="backchannel_logout")
            )
        for username in sorted({r.username for r in rows}):
            count = sum(1 for r in rows if r.username == username)
            data = {"username": username, "count": count, "reason": "backchannel_logout", "issuer": issuer}
            audit.record(uow.session, "sessions_ended", now, actor=username, data={**data, "sid": sid})
        uow.commit()
    return len(rows)
