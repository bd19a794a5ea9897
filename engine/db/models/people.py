"""Users, groups, API tokens, substitutes and notification settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
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
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]

    groups: Mapped[list[Group]] = relationship(secondary="group_members", back_populates="members")


class Group(Base):
    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    manager: Mapped[str | None] = mapped_column(String(80))  # gets the group's overdue tasks (engine.sla.deadlines)
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
