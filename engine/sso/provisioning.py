"""Signing in with the OpenID provider: the user is found by the provider's subject (or linked by user name,
or created) and their groups and roles are made to follow the provider's claims, every change an audit
event naming the claim it came from; then a server-side session starts, remembering the provider's
session id (`sid`, for back-channel logout) and the ID token (the hint of RP-initiated logout).

The claims handed in are those of an ID token the caller verified (webui/auth/oidc.py, through Authlib).

A claim the token carries follows as it is; a claim it lacks means no values (providers may leave an empty
claim out); a claim it names a source for instead (group overage, engine/sso/overage.py) is fetched from
that source with the sign-in's access token, and when that can't be done the user keeps the groups (and
the roles, when they come from that claim) they have: an `oidc_claim_unresolved` event and a warning in the
log name the reason. Access is never taken away because a token said nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine.admin import sessions
from engine.admin.groups import group_named
from engine.admin.identity import actor_of
from engine.admin.passwords import SYSTEM
from engine.admin.signin import SignIn
from engine.core.context import EngineContext
from engine.core.errors import Unauthenticated
from engine.db.models import OidcIdentity, User
from engine.events import stream as audit
from engine.sso import overage
from engine.sso.jwts import values_of
from engine.sso.mapping import ClaimMaps
from engine.sso.provider import ProviderConfig

SOURCE = "oidc"
log = logging.getLogger("pmoflow.sso")


def username_of(claims: Mapping[str, Any], maps: ClaimMaps) -> str:
    """The pmoflow user name: the configured claim, else the e-mail address, else the subject."""
    for name in (maps.username_claim, "email", "sub"):
        value = claims.get(name)
        if isinstance(value, str) and value.strip() and len(value.strip()) <= 80 and " " not in value.strip():
            return value.strip()
    raise Unauthenticated("the provider's ID token names no usable user name (at most 80 characters, no spaces)")


def sign_in(
    ctx: EngineContext,
    issuer: str,
    claims: Mapping[str, Any],
    id_token: str,
    remote: str | None,
    user_agent: str | None = None,
    access_token: str | None = None,
) -> SignIn:
    """Provision or update the user of verified ID token `claims`, record `login`, start a session.
    `access_token` (the sign-in's) fetches a claim the token names a source for (group overage).

    Raises Unauthenticated for a deactivated or system account, or claims without a usable name or subject."""
    maps = ClaimMaps.of(ctx.settings)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise Unauthenticated("the provider's ID token has no subject")
    claims, fetched, unresolved = _distributed(ctx, claims, maps, access_token)  # before the transaction
    now = ctx.clock.now()
    with ctx.uow() as uow:
        user = _user_of(uow.session, issuer, subject, claims, maps, now)
        if not user.active or user.kind == SYSTEM:
            audit.record(uow.session, "login_failed", now, actor=user.username, data={"remote": remote, "via": SOURCE})
            uow.commit()
            raise Unauthenticated(f"{user.username} may not sign in (deactivated or a system account)")
        changed = False
        if maps.groups_claim not in unresolved:
            changed = _follow_groups(uow.session, user, claims, maps, now, fetched)
        if maps.roles and maps.roles_claim not in unresolved:
            changed = _follow_roles(uow.session, user, claims, maps, now, fetched) or changed
        for claim, reason in unresolved.items():
            _kept(uow.session, user, claim, reason, maps, now)
        audit.record(uow.session, "login", now, actor=user.username, data={"remote": remote, "via": SOURCE})
        uow.session.flush()
        actor, display_name, user_id = actor_of(user), user.display_name or user.username, user.id
        uow.commit()
    if changed:
        ctx.tokens.clear()  # roles and groups of cached API actors
    sid = claims.get("sid")
    token, session_id = sessions.start(
        ctx, user_id, remote, user_agent, oidc_sid=sid if isinstance(sid, str) else None, id_token=id_token
    )
    return SignIn(token, sessions.SessionUser(actor, display_name, session_id))


def _distributed(
    ctx: EngineContext, claims: Mapping[str, Any], maps: ClaimMaps, access_token: str | None
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The claims with those the token names a source for fetched (engine/sso/overage.py); which were
    fetched (claim -> host) and which could not be (claim -> why)."""
    found, fetched, unresolved = dict(claims), {}, {}
    config = ProviderConfig.of(ctx.settings)
    names = {maps.groups_claim} | ({maps.roles_claim} if maps.roles else set())
    for claim in sorted(names):
        marker = overage.detect(found, claim)
        if marker is None:
            continue
        try:
            if config is None:
                raise overage.Unresolved("single sign-on is not configured")
            found[claim], fetched[claim] = overage.fetch(config, marker, access_token)
        except overage.Unresolved as err:
            unresolved[claim] = err.reason
    return found, fetched, unresolved


def _kept(session: Session, user: User, claim: str, reason: str, maps: ClaimMaps, now: datetime) -> None:
    """A claim that could not be had: what it governs stays as it is; say so in the trail and the log."""
    kept = (["groups"] if claim == maps.groups_claim else []) + (
        ["roles"] if maps.roles and claim == maps.roles_claim else []
    )
    data = {"username": user.username, "claim": claim, "reason": reason, "kept": kept, "source": SOURCE}
    audit.record(session, "oidc_claim_unresolved", now, actor=user.username, data=data)
    log.warning("single sign-on: %s keeps their %s: the claim %r: %s", user.username, " and ".join(kept), claim, reason)


def refused(ctx: EngineContext, reason: str, remote: str | None) -> None:
    """Record a sign-in with the provider that failed before anyone was known (`login_failed`, its reason)."""
    with ctx.uow() as uow:
        data = {"remote": remote, "via": SOURCE, "reason": reason[:300]}
        audit.record(uow.session, "login_failed", ctx.clock.now(), actor="", data=data)
        uow.commit()


def _user_of(
    session: Session, issuer: str, subject: str, claims: Mapping[str, Any], maps: ClaimMaps, now: datetime
) -> User:
    """The user the provider's subject is linked to; else the user of the same name, linked now; else a new one."""
    identity = session.scalars(
        select(OidcIdentity)
        .where(OidcIdentity.issuer == issuer, OidcIdentity.subject == subject)
        .options(selectinload(OidcIdentity.user).selectinload(User.groups))
    ).first()
    if identity is not None:
        identity.last_sign_in_at = now
        return identity.user
    username = username_of(claims, maps)
    user = session.scalars(select(User).where(User.username == username).options(selectinload(User.groups))).first()
    data: dict[str, Any] = {"username": username, "issuer": issuer, "subject": subject, "claim": maps.username_claim}
    if user is None:
        name = claims.get("name")
        email = claims.get("email")
        user = User(
            username=username,
            display_name=name.strip()[:200] if isinstance(name, str) and name.strip() else username,
            email=email[:254] if isinstance(email, str) and email else None,
            roles=sorted(set(maps.default_roles)),
            password_hash=None,
            created_at=now,
            kind="person",
        )
        user.groups = []
        session.add(user)
        session.flush()
        audit.record(
            session,
            "user_created",
            now,
            actor=username,
            data={**data, "roles": user.roles, "groups": [], "kind": "person", "source": SOURCE},
        )
    elif user.kind == SYSTEM:
        raise Unauthenticated(f"{username} is a system account: it signs in with API tokens only")
    else:
        audit.record(session, "oidc_linked", now, actor=username, data={**data, "source": SOURCE})
    session.add(OidcIdentity(user=user, issuer=issuer, subject=subject, created_at=now, last_sign_in_at=now))
    return user


def _origin(claim: str, fetched: Mapping[str, str]) -> dict[str, str]:
    """Where a claim's values came from, when not from the token itself (an audit event's `fetched_from`)."""
    return {"fetched_from": fetched[claim]} if claim in fetched else {}


def _follow_groups(  # noqa: PLR0913 - the sign-in's parts
    session: Session, user: User, claims: Mapping[str, Any], maps: ClaimMaps, now: datetime, fetched: Mapping[str, str]
) -> bool:
    """Join the groups the claim gives, leave the managed groups it no longer gives; audit each change.
    Returns whether anything changed."""
    changed = False
    wanted = maps.groups_of(values_of(dict(claims), maps.groups_claim) or [])
    managed = maps.managed_groups()
    origin = _origin(maps.groups_claim, fetched)
    for group in sorted(set(wanted) - {g.name for g in user.groups}):
        user.groups.append(group_named(session, group))
        data = {"group": group, "username": user.username, "source": SOURCE, "claim": maps.groups_claim, **origin}
        audit.record(session, "group_member_added", now, actor=user.username, data={**data, "value": wanted[group]})
        changed = True
    for found in sorted((g for g in user.groups if g.name not in wanted), key=lambda g: g.name):
        if managed is None or found.name in managed:
            user.groups.remove(found)
            data = {"group": found.name, "username": user.username, "source": SOURCE, "claim": maps.groups_claim}
            data |= origin
            audit.record(session, "group_member_removed", now, actor=user.username, data=data)
            changed = True
    return changed


def _follow_roles(  # noqa: PLR0913 - the sign-in's parts
    session: Session, user: User, claims: Mapping[str, Any], maps: ClaimMaps, now: datetime, fetched: Mapping[str, str]
) -> bool:
    """With a role map, the user's roles are the mapped ones and the default roles; audit a change.
    Returns whether they changed."""
    if not maps.roles:
        return False
    given = maps.roles_of(values_of(dict(claims), maps.roles_claim) or [])
    before, after = sorted(user.roles), sorted(given)
    if before != after:
        user.roles = after
        data = {
            "username": user.username,
            "before": before,
            "after": after,
            "source": SOURCE,
            "claim": maps.roles_claim,
            "values": {role: given[role] for role in after},
            **_origin(maps.roles_claim, fetched),
        }
        audit.record(session, "roles_changed", now, actor=user.username, data=data)
    return before != after
