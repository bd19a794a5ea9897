"""Users, groups, API tokens, substitutes and notification settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db.models.base import Base, new_uuid


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    roles: Mapped[list[Any]] = mapped_column(default=list)
    kind: Mapped[str] = mapped_column(String(10), default="person")  # "system": API tokens only, no password
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)  # unused since sessions live in web_sessions (0020)
    created_at: Mapped[datetime]
    # SCIM provisioning (engine/scim): the resource's id, the identity provider's id, when it last changed;
    # `scim_id` is None once the provider deleted the user (kept deactivated, outside SCIM's view)
    scim_id: Mapped[str | None] = mapped_column(String(36), unique=True, default=new_uuid)
    external_id: Mapped[str | None] = mapped_column(String(255), index=True)
    modified_at: Mapped[datetime | None]
    name_parts: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # SCIM's name: givenName, familyName, ...

    groups: Mapped[list[Group]] = relationship(secondary="group_members", back_populates="members")


class Group(Base):
    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    manager: Mapped[str | None] = mapped_column(String(80))  # gets the group's overdue tasks (engine.sla.deadlines)
    scim_id: Mapped[str | None] = mapped_column(String(36), unique=True, default=new_uuid)  # see User.scim_id
    external_id: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime | None]
    modified_at: Mapped[datetime | None]
    members: Mapped[list[User]] = relationship(secondary="group_members", back_populates="groups")


class GroupMember(Base):
    __tablename__ = "group_members"
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)  # engine.core.permissions.SCOPES, chosen at creation
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Substitute(Base):
    """Out of office: `substitute` receives `username`'s new tasks from `starts_on` to `ends_on`."""

    __tablename__ = "substitutes"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    substitute: Mapped[str] = mapped_column(String(80))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    created_at: Mapped[datetime]


class NotificationSetting(Base):
    """A user's choice of outgoing notifications (email, Slack, Teams) per kind, and their chat webhooks.

    `channels` maps a kind to the channels chosen for it; a kind missing from it gets the defaults
    of `engine.notify.preferences`. The webhook URLs are secrets of their own: never logged.
    """

    __tablename__ = "notification_settings"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    slack_webhook_url: Mapped[str | None] = mapped_column(String(1000))
    teams_webhook_url: Mapped[str | None] = mapped_column(String(1000))
    updated_at: Mapped[datetime]
    # the daily digest (engine/notify/digest.py): on or off, the local time of day ("08:00") and the IANA
    # time zone it is read in (None: the server's default), the channels it goes to
    digest_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    digest_time: Mapped[str] = mapped_column(String(5), default="08:00")
    digest_zone: Mapped[str | None] = mapped_column(String(64))
    digest_channels: Mapped[list[Any]] = mapped_column(default=list)


class WebSession(Base):
    """A browser session: the cookie carries a random id, this row only its SHA-256 (engine/admin/sessions.py).

    Ended (`ended_at`, `end_reason`) by signing out, signing out everywhere, a password change,
    deactivation, an admin, or the idle and absolute timeouts; every process sees it at its next request.
    """

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(40))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    remote: Mapped[str] = mapped_column(String(64), default="")
    # signed in with the OpenID provider: its session id (back-channel logout names it) and the ID token
    # (the hint of RP-initiated logout); both None for a password sign-in
    oidc_sid: Mapped[str | None] = mapped_column(String(255), index=True)
    id_token: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship()


class OidcIdentity(Base):
    """A user as an OpenID provider knows them: the provider (`issuer`) and its stable subject id (`sub`)."""

    __tablename__ = "oidc_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_oidc_identities_issuer_subject"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class OidcLogoutToken(Base):
    """A back-channel logout token taken (its issuer and `jti`), shared by every process so that a replay to
    another process or host is refused too (engine/sso/logout.py); rows past `expires_at` are deleted by the
    next logout, as no token that old is accepted any more."""

    __tablename__ = "oidc_logout_tokens"
    __table_args__ = (UniqueConstraint("issuer", "jti", name="uq_oidc_logout_tokens_issuer_jti"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginCounter(Base):
    """Failed sign-ins per account or per address in the current window, shared by every process
    (the database backend of engine/admin/throttle.py; with PMOFLOW_REDIS_URL Redis holds them instead)."""

    __tablename__ = "login_counters"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    period: Mapped[int]  # the window's number: epoch seconds // window length
    hits: Mapped[int]


class SavedView(Base):
    """A list page's filter saved under a name (engine/lists/saved_views.py): private to its owner, shared
    with one group (`group_name`), or with everyone. `page` names the list ("inbox", "monitor", "audit");
    `query` is the page's normalised query string."""

    __tablename__ = "saved_views"
    __table_args__ = (
        UniqueConstraint("owner", "page", "name", name="uq_saved_views_owner_page_name"),
        Index("ix_saved_views_page_shared", "page", "shared"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    owner: Mapped[str] = mapped_column(String(80))
    page: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(2000), default="")
    shared: Mapped[str] = mapped_column(String(10), default="private")  # private | group | everyone
    group_name: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SlackAccount(Base):
    """Which Slack user a pmoflow user is (engine/notify/slack/accounts.py): matched by the address Slack
    verified (`matched_by` "email") or confirmed by the user through a one-time link ("link")."""

    __tablename__ = "slack_accounts"
    __table_args__ = (UniqueConstraint("team_id", "slack_user_id", name="uq_slack_accounts_team_user"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    team_id: Mapped[str] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    matched_by: Mapped[str] = mapped_column(String(10))  # email | link
    created_at: Mapped[datetime]


class SlackLinkToken(Base):
    """A one-time link offered to a Slack user pmoflow does not know: confirmed by a signed-in user, it
    stores their SlackAccount. Only the token's SHA-256 is kept."""

    __tablename__ = "slack_link_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    team_id: Mapped[str] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    slack_name: Mapped[str] = mapped_column(String(200), default="")  # as Slack showed it: for the confirmation
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
