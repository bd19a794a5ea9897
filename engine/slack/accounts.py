"""Which Slack user a pmoflow user is, both ways, kept in `slack_accounts`.

- By verified email: Slack verifies its users' addresses, so a Slack user whose address is the address
  of exactly one active pmoflow person is that person (`users.info` for a click, `users.lookupByEmail`
  for a message to send). An address two pmoflow users share matches no one.
- By a one-time link: a Slack user pmoflow cannot match is offered a link (`link_url`, valid
  `slack_link_minutes`, single use, only its SHA-256 stored); whoever opens it signed in to pmoflow and
  confirms (`confirm_link`) is that Slack user from then on.

A match is stored once and audited (`slack_account_linked`); a stored match of an inactive user matches no one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.admin.identity import actor_of
from engine.core.context import EngineContext
from engine.core.errors import NotFound
from engine.core.permissions import Actor, require
from engine.db.models import SlackAccount, SlackLinkToken, User
from engine.events import stream as audit
from engine.slack import api

LINK_PATH = "/slack/link/"


def slack_user_for(ctx: EngineContext, username: str) -> str | None:
    """The Slack user id to message for `username` (None: not on Slack as far as pmoflow can tell);
    raises api.SlackUnavailable (retry), api.SlackError."""
    with ctx.uow(write=False) as uow:
        user = uow.session.scalars(select(User).where(User.username == username, User.active.is_(True))).first()
        if user is None:
            return None
        stored = _account_of(uow.session, user.id)
        if stored is not None:
            return stored.slack_user_id
        email = user.email
        if not email or len(_people_with(uow.session, email)) != 1:
            return None
    try:
        answer = api.call(ctx.settings, "users.lookupByEmail", {"email": email})
    except api.SlackError as err:
        if err.code == "users_not_found":
            return None
        raise
    found = answer.get("user") or {}
    slack_id, team = str(found.get("id") or ""), str(found.get("team_id") or "")
    if not slack_id or found.get("deleted") or found.get("is_bot"):
        return None
    return slack_id if _store(ctx, username, team, slack_id, "email") else None


def actor_for_slack(ctx: EngineContext, team_id: str, slack_user_id: str) -> Actor | None:
    """The pmoflow actor a Slack user is (stored, else by the address Slack verified), None if unknown;
    raises api.SlackUnavailable, api.SlackError."""
    with ctx.uow(write=False) as uow:
        stored = uow.session.scalars(
            select(SlackAccount).where(SlackAccount.team_id == team_id, SlackAccount.slack_user_id == slack_user_id)
        ).first()
        if stored is not None:
            user = uow.session.get(User, stored.user_id)
            return actor_of(user) if user is not None and user.active else None
    found = slack_profile(ctx, slack_user_id)
    email = found.email if found is not None and found.team_id == team_id else None
    if not email:
        return None
    with ctx.uow(write=False) as uow:
        people = _people_with(uow.session, email)
        if len(people) != 1 or _account_of(uow.session, people[0].id) is not None:
            return None
        username = people[0].username
    if not _store(ctx, username, team_id, slack_user_id, "email"):
        return None
    with ctx.uow(write=False) as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).one()
        return actor_of(user)


@dataclass(frozen=True)
class SlackProfile:
    team_id: str
    name: str
    email: str | None  # only a confirmed address


def slack_profile(ctx: EngineContext, slack_user_id: str) -> SlackProfile | None:
    """What Slack says of a user (users.info), None for bots, deleted or unknown users; raises api.SlackUnavailable."""
    try:
        found = api.call(ctx.settings, "users.info", {"user": slack_user_id}).get("user") or {}
    except api.SlackError:
        return None
    if not isinstance(found, dict) or found.get("deleted") or found.get("is_bot"):
        return None
    profile = found.get("profile")
    profile = profile if isinstance(profile, dict) else {}
    email = profile.get("email") if found.get("is_email_confirmed", True) else None
    name = profile.get("real_name") or found.get("real_name") or found.get("name") or slack_user_id
    return SlackProfile(str(found.get("team_id") or ""), str(name)[:200], str(email) if email else None)


def _people_with(session: Session, email: str) -> list[User]:
    query = select(User).where(func.lower(User.email) == email.strip().lower(), User.active.is_(True))
    return list(session.scalars(query.where(User.kind == "person")))


def _account_of(session: Session, user_id: int) -> SlackAccount | None:
    return session.scalars(select(SlackAccount).where(SlackAccount.user_id == user_id)).first()


def _store(ctx: EngineContext, username: str, team_id: str, slack_user_id: str, how: str) -> bool:
    """Keep the match unless that Slack user is another pmoflow user's already; True if it is kept."""
    with ctx.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).one()
        taken = uow.session.scalars(
            select(SlackAccount).where(SlackAccount.team_id == team_id, SlackAccount.slack_user_id == slack_user_id)
        ).first()
        if taken is not None:
            return taken.user_id == user.id
        uow.session.execute(delete(SlackAccount).where(SlackAccount.user_id == user.id))
        now = ctx.clock.now()
        uow.session.add(
            SlackAccount(user_id=user.id, team_id=team_id, slack_user_id=slack_user_id, matched_by=how, created_at=now)
        )
        audit.record(
            uow.session,
            "slack_account_linked",
            now,
            actor=username,
            data={"team": team_id, "slack_user": slack_user_id, "matched_by": how},
        )
        uow.commit()
    return True


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(ctx: EngineContext, team_id: str, slack_user_id: str, slack_name: str = "") -> str:
    """A new one-time link that connects this Slack user to whoever confirms it in pmoflow."""
    token = secrets.token_urlsafe(32)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        uow.session.add(
            SlackLinkToken(
                token_hash=_digest(token),
                team_id=team_id,
                slack_user_id=slack_user_id,
                slack_name=slack_name[:200],
                created_at=now,
                expires_at=now + timedelta(minutes=ctx.settings.slack_link_minutes),
            )
        )
        uow.commit()
    return ctx.settings.base_url.rstrip("/") + LINK_PATH + token


@dataclass(frozen=True)
class LinkOffer:
    """What the confirmation page shows of a link: the Slack user it connects and until when."""

    slack_user_id: str
    slack_name: str
    team_id: str
    expires_at: datetime


def _usable(session: Session, token: str, now: datetime) -> SlackLinkToken:
    row = session.scalars(select(SlackLinkToken).where(SlackLinkToken.token_hash == _digest(token[:200]))).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise NotFound("this Slack link is unknown, used or expired: ask Slack for a new one (/pmoflow link)")
    return row


def link_offer(ctx: EngineContext, actor: Actor, token: str) -> LinkOffer:
    """The Slack user a link would connect to the actor; raises NotFound (unknown, used, expired), Forbidden."""
    require(actor, "notification.settings_own")
    with ctx.uow(write=False) as uow:
        row = _usable(uow.session, token, ctx.clock.now())
        return LinkOffer(row.slack_user_id, row.slack_name, row.team_id, row.expires_at)


def confirm_link(ctx: EngineContext, actor: Actor, token: str) -> LinkOffer:
    """Connect the link's Slack user to the actor (replacing an earlier match of either), once;
    raises NotFound (unknown, used, expired), Forbidden."""
    require(actor, "notification.settings_own")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        row = _usable(uow.session, token, now)
        row.used_at = now
        user = uow.session.scalars(select(User).where(User.username == actor.username)).one()
        uow.session.execute(
            delete(SlackAccount).where(
                (SlackAccount.user_id == user.id)
                | ((SlackAccount.team_id == row.team_id) & (SlackAccount.slack_user_id == row.slack_user_id))
            )
        )
        uow.session.add(
            SlackAccount(
                user_id=user.id, team_id=row.team_id, slack_user_id=row.slack_user_id, matched_by="link", created_at=now
            )
        )
        audit.record(
            uow.session,
            "slack_account_linked",
            now,
            actor=actor.username,
            data={"team": row.team_id, "slack_user": row.slack_user_id, "matched_by": "link"},
        )
        offer = LinkOffer(row.slack_user_id, row.slack_name, row.team_id, row.expires_at)
        uow.commit()
    return offer
