"""Who wants which outgoing notification on which channel, and where their chat posts go.

Each kind of notification has default channels (email for all of them); a user's saved
choice replaces the defaults for that kind. A chat channel sends only once its webhook
URL is set; email only when the user has an address (users without one get none, silently).
A kind may also offer the bell as a channel (`Kind.offered`): requests I watch; the other
kinds' bell entries do not depend on these choices (engine/notify/bell.py).

The daily digest (engine/notify/digest.py) is chosen here too: on or off, a local time of day, a
time zone (IANA name; none: the server's `default_timezone`) and its channels (email, Slack, Teams).

"slack" is a channel name, not a transport: today its messages go to the user's incoming webhook
(engine/notify/delivery.py); a Slack app's direct messages can take over the same channel there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput, NotFound
from engine.core.permissions import Actor, require
from engine.db.models import NotificationSetting, User
from engine.events import stream as audit
from engine.outbound import policy

CHANNELS = ("email", "slack", "teams")  # sent by a job (engine/notify/delivery.py)
BELL = "bell"  # written in the event's transaction, for kinds that offer it
CHANNEL_LABELS = {"email": "Email", "slack": "Slack", "teams": "Microsoft Teams", BELL: "Bell"}
URL_LIMIT = 1000
DIGEST_TIME = "08:00"
ZONE_LIMIT = 64
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


@dataclass(frozen=True)
class Kind:
    """One kind of outgoing notification: its label on the settings page and its wording."""

    name: str
    label: str
    subject: str  # str.format over the message context (see `recipients.context_of`)
    lead: str  # the first sentence of every message
    defaults: frozenset[str] = frozenset({"email", "slack", "teams"})
    offered: tuple[str, ...] = CHANNELS  # the channels the settings page offers for it


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
            "A request I started is decided (approved, rejected, ...) or cancelled",
            "{status_label}: {request}",
            "Your request {request} {verdict}.",
        ),
        Kind(
            "watched_finished",
            "A request I watch is decided (approved, rejected, ...) or cancelled",
            "{status_label}: {request}",
            "{request}, which you watch, {verdict}.",
            defaults=frozenset({"email", BELL}),
            offered=(*CHANNELS, BELL),
        ),
    )
}
ALL_CHANNELS = (*CHANNELS, BELL)


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
    digest: DigestChoice
    default_zone: str  # the zone of a digest without one of its own


@dataclass(frozen=True)
class DigestChoice:
    """The daily digest: sent at `time` (HH:MM) in `zone` (None: the server's default) to `channels`."""

    enabled: bool
    time: str
    zone: str | None
    channels: frozenset[str]


class ChosenChannels(Protocol):
    """A settings row, or what `engine.notify.recipients` reads of one."""

    @property
    def channels(self) -> dict[str, Any] | None: ...


def channels_for(row: ChosenChannels | None, kind: str) -> frozenset[str]:
    """The channels a user chose for `kind` (the kind's defaults if they never chose)."""
    stored = row.channels.get(kind) if row is not None and isinstance(row.channels, dict) else None
    if stored is None:
        return KINDS[kind].defaults
    return frozenset(c for c in stored if c in KINDS[kind].offered)


def digest_of(row: NotificationSetting | None) -> DigestChoice:
    """The digest a settings row chose (off, at 08:00, by email, without a row)."""
    if row is None:
        return DigestChoice(False, DIGEST_TIME, None, frozenset({"email"}))
    chosen = frozenset(c for c in (row.digest_channels or []) if c in CHANNELS)
    return DigestChoice(bool(row.digest_enabled), row.digest_time or DIGEST_TIME, row.digest_zone, chosen)


def zone_problem(name: str) -> str | None:
    """Why `name` is no IANA time zone (None if it is one)."""
    if not name or len(name) > ZONE_LIMIT or name.startswith(("/", ".")) or ".." in name:
        return "is not a time zone name (such as Europe/Berlin)"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"{name!r} is not a known time zone (such as Europe/Berlin)"
    return None


def _digest_problems(digest: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The digest's columns from the submitted choice, adding each problem to `errors` (digest_time, ...)."""
    values: dict[str, Any] = {}
    if "enabled" in digest:
        values["digest_enabled"] = bool(digest["enabled"])
    if "time" in digest:
        time = str(digest["time"] or "").strip()
        if not _TIME.match(time):
            errors["digest_time"] = "must be a time of day as HH:MM (00:00 to 23:59)"
        values["digest_time"] = time
    if "zone" in digest:
        zone = str(digest["zone"] or "").strip()
        if zone and (problem := zone_problem(zone)):
            errors["digest_zone"] = problem
        values["digest_zone"] = zone or None
    if "channels" in digest:
        wanted = digest["channels"]
        wanted = [wanted] if isinstance(wanted, str) else list(wanted or [])
        unknown = [c for c in wanted if c not in CHANNELS]
        if unknown:
            errors["digest_channels"] = f"unknown channel {str(unknown[0])!r}; channels: {', '.join(CHANNELS)}"
        values["digest_channels"] = [c for c in CHANNELS if c in wanted]
    return values


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
            digest=digest_of(row),
            default_zone=ctx.settings.default_timezone,
        )


def save_preferences(
    ctx: EngineContext,
    actor: Actor,
    choices: dict[str, Any] | None,
    webhooks: dict[str, str | None] | None = None,
    digest: dict[str, Any] | None = None,
) -> NotificationPreferences:
    """Save the channels per kind, the chat webhooks and the digest; raises InvalidInput (naming each field),
    Forbidden.

    `choices` maps each kind to the channels wanted (kinds not named get none; None keeps every kind as it
    is). `webhooks` maps "slack"/"teams" to a new URL, "" to remove it, or None (or absent) to keep it.
    `digest` may hold `enabled`, `time` (HH:MM), `zone` (an IANA name, "" for the server's) and `channels`;
    what it leaves out is kept.
    """
    require(actor, "notification.settings_own")
    errors: dict[str, str] = {}
    channels: dict[str, list[str]] = {}
    for kind, wanted in (choices or {}).items():
        if kind not in KINDS:
            errors[kind] = f"unknown kind; kinds: {', '.join(KINDS)}"
            continue
        offered = KINDS[kind].offered
        wanted = [wanted] if isinstance(wanted, str) else list(wanted or [])
        unknown = [c for c in wanted if c not in offered]
        if unknown:
            errors[kind] = f"unknown channel {str(unknown[0])!r}; channels: {', '.join(offered)}"
        channels[kind] = [c for c in offered if c in wanted]
    if choices is not None:
        for kind in KINDS:
            channels.setdefault(kind, [])
    digest_values = _digest_problems(digest or {}, errors)
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
            row = NotificationSetting(user_id=user.id, channels={}, updated_at=now, digest_channels=["email"])
            uow.session.add(row)
        if choices is not None:
            row.channels = channels
        for column, value in digest_values.items():
            setattr(row, column, value)
        if row.digest_enabled and not row.digest_channels:  # on, yet it could never reach anyone
            raise InvalidInput(
                "the notification settings have problems",
                {"fields": {"digest_channels": "choose at least one channel for the digest: email, Slack or Teams"}},
            )
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
            data={
                "channels": dict(row.channels or {}),
                "webhooks_changed": sorted(urls),
                "digest": {
                    "enabled": bool(row.digest_enabled),
                    "time": row.digest_time,
                    "zone": row.digest_zone,
                    "channels": list(row.digest_channels or []),
                },
            },
        )  # never the URLs; engine.notify.digest schedules the digest from this event
        try:
            uow.commit()
        except IntegrityError as err:  # the same person saved at the same moment elsewhere (one digest job a day)
            raise Conflict(
                "your notification settings were being saved elsewhere at the same moment; try again"
            ) from err
    return preferences(ctx, actor)
