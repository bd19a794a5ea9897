"""Who wants which outgoing notification on which channel, and where their chat posts go.

Each kind of notification has default channels (email for all of them); a user's saved
choice replaces the defaults for that kind. A chat channel sends only once its webhook
URL is set; email only when the user has an address (users without one get none, silently).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.core.errors import InvalidInput, NotFound
from engine.core.permissions import Actor, require
from engine.db.models import NotificationSetting, User
from engine.events import stream as audit
from engine.outbound import policy

CHANNELS = ("email", "slack", "teams")
CHANNEL_LABELS = {"email": "Email", "slack": "Slack", "teams": "Microsoft Teams"}
URL_LIMIT = 1000


@dataclass(frozen=True)
class Kind:
    """One kind of outgoing notification: its label on the settings page and its wording."""

    name: str
    label: str
    subject: str  # str.format over the message context (see `recipients.context_of`)
    lead: str  # the first sentence of every message
    defaults: frozenset[str] = frozenset({"email", "slack", "teams"})


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "task_assigned",
            "A task is assigned to me or offered to my groups",
            "New task: {task_name} ({request})",
            "{task_name} for {request} is waiting for {whom}.",
        ),
        Kind(
            "task_reminder",
            "Reminder about an open task of mine",
            "Reminder: {task_name} ({request})",
            "Reminder: {task_name} for {request} is still open.",
        ),
        Kind(
            "task_escalated",
            "A task is escalated to me",
            "Escalated: {task_name} ({request})",
            "{task_name} for {request} was escalated to you.",
        ),
        Kind(
            "sla_breached",
            "A task of mine is past its deadline (SLA breach)",
            "Overdue: {task_name} ({request})",
            "{task_name} for {request} is past its deadline.",
        ),
        Kind(
            "instance_finished",
            "A request I started is completed or cancelled",
            "{status_label}: {request}",
            "Your request {request} is {status}.",
        ),
    )
}


@dataclass(frozen=True)
class KindChoice:
    name: str
    label: str
    channels: frozenset[str]


@dataclass(frozen=True)
class NotificationPreferences:
    """What the settings page shows: the choice per kind, the address, whether each webhook is set."""

    kinds: list[KindChoice]
    email: str | None
    slack_webhook: str | None  # masked, e.g. "hooks.slack.com/…/XXXX"
    teams_webhook: str | None
    email_enabled: bool  # the server has SMTP settings


class ChosenChannels(Protocol):
    """A settings row, or what `engine.notify.recipients` reads of one."""

    @property
    def channels(self) -> dict[str, Any] | None: ...


def channels_for(row: ChosenChannels | None, kind: str) -> frozenset[str]:
    """The channels a user chose for `kind` (the kind's defaults if they never chose)."""
    stored = row.channels.get(kind) if row is not None and isinstance(row.channels, dict) else None
    if stored is None:
        return KINDS[kind].defaults
    return frozenset(c for c in stored if c in CHANNELS)


def webhook_problem(url: str, channel: str, settings: Settings) -> str | None:
    """Why `url` may not be used as the `channel` webhook (None if it may): https, an allowed host, and an
    address literal the address policy accepts (names are resolved and checked when a post is sent)."""
    if len(url) > URL_LIMIT:
        return f"at most {URL_LIMIT} characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is malformed"
    schemes = ("https", "http") if settings.chat_webhook_allow_http else ("https",)
    if parts.scheme not in schemes:
        return "must start with https://"
    if parts.username or parts.password or not parts.hostname:
        return "must name a host (and no user or password)"
    if parts.scheme == "https" and port not in (None, 443):
        return "must use the standard HTTPS port"
    host = parts.hostname.lower()
    patterns = allowed_hosts(channel, settings)
    if not any(fnmatchcase(host, p) for p in patterns):
        return f"must be on {' or '.join(patterns)}"
    for address in policy.literal(host):
        if reason := policy.refusal(address, settings.chat_webhook_allow_private):
            return f"names {reason}"
    return None


def allowed_hosts(channel: str, settings: Settings) -> list[str]:
    raw = settings.slack_webhook_hosts if channel == "slack" else settings.teams_webhook_hosts
    return [p.strip().lower() for p in raw.split(",") if p.strip()]


def mask(url: str | None) -> str | None:
    """A webhook URL as shown back: its host and last four characters (the rest is a secret)."""
    if not url:
        return None
    return f"{urlsplit(url).hostname}/…/{url[-4:]}"


def _user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    return user


def _setting(session: Session, user: User) -> NotificationSetting | None:
    return session.scalars(select(NotificationSetting).where(NotificationSetting.user_id == user.id)).first()


def preferences(ctx: EngineContext, actor: Actor) -> NotificationPreferences:
    """The actor's notification choices; raises Forbidden, NotFound."""
    require(actor, "notification.settings_own")
    with ctx.uow(write=False) as uow:
        user = _user(uow.session, actor.username)
        row = _setting(uow.session, user)
        return NotificationPreferences(
            kinds=[KindChoice(k.name, k.label, channels_for(row, k.name)) for k in KINDS.values()],
            email=user.email or None,
            slack_webhook=mask(row.slack_webhook_url) if row else None,
            teams_webhook=mask(row.teams_webhook_url) if row else None,
            email_enabled=bool(ctx.settings.smtp_host),
        )


def save_preferences(
    ctx: EngineContext,
    actor: Actor,
    choices: dict[str, Any],
    webhooks: dict[str, str | None] | None = None,
) -> NotificationPreferences:
    """Save the channels per kind and the chat webhooks; raises InvalidInput (naming each field), Forbidden.

    `choices` maps each kind to the channels wanted (kinds not named get none). `webhooks` maps
    "slack"/"teams" to a new URL, "" to remove it, or None (or absent) to keep it.
    """
    require(actor, "notification.settings_own")
    errors: dict[str, str] = {}
    channels: dict[str, list[str]] = {}
    for kind, wanted in choices.items():
        if kind not in KINDS:
            errors[kind] = f"unknown kind; kinds: {', '.join(KINDS)}"
            continue
        wanted = [wanted] if isinstance(wanted, str) else list(wanted or [])
        unknown = [c for c in wanted if c not in CHANNELS]
        if unknown:
            errors[kind] = f"unknown channel {unknown[0]!r}; channels: {', '.join(CHANNELS)}"
        channels[kind] = [c for c in CHANNELS if c in wanted]
    for kind in KINDS:
        channels.setdefault(kind, [])
    urls: dict[str, str | None] = {}
    for channel, url in (webhooks or {}).items():
        if channel not in ("slack", "teams"):
            errors[f"{channel}_webhook"] = "unknown chat channel"
        elif url is not None:
            url = url.strip()
            if url and (problem := webhook_problem(url, channel, ctx.settings)):
                errors[f"{channel}_webhook"] = problem
            urls[channel] = url or None
    if errors:
        raise InvalidInput("the notification settings have problems", {"fields": errors})
    now = ctx.clock.now()
    with ctx.uow() as uow:
        user = _user(uow.session, actor.username)
        row = _setting(uow.session, user)
        if row is None:
            row = NotificationSetting(user_id=user.id, channels={}, updated_at=now)
            uow.session.add(row)
        row.channels = channels
        if "slack" in urls:
            row.slack_webhook_url = urls["slack"]
        if "teams" in urls:
            row.teams_webhook_url = urls["teams"]
        row.updated_at = now
        audit.record(
            uow.session,
            "notification_settings_changed",
            now,
            actor=actor.username,
            data={"channels": channels, "webhooks_changed": sorted(urls)},
        )  # never the URLs
        uow.commit()
    return preferences(ctx, actor)
