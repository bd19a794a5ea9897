"""Deployed files and their immutable, versioned definitions; drafts, retention, calendars, connector hosts and
the settings admins change at run time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from engine.db.models.base import Base, new_uuid


class Deployment(Base):
    __tablename__ = "deployments"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(200), default="")
    lane_map: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)  # the designer's change note, when published from a draft

    files: Mapped[list[DeploymentFile]] = relationship(
        back_populates="deployment", cascade="all, delete-orphan", order_by="DeploymentFile.id"
    )


class DeploymentFile(Base):
    __tablename__ = "deployment_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)

    deployment: Mapped[Deployment] = relationship(back_populates="files")


class VersionedDefinition:
    """Columns of every immutable (key, version) definition: processes and decisions."""

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200), default="")
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]

    @declared_attr
    def deployment(cls) -> Mapped[Deployment]:
        return relationship()


class ProcessDefinition(VersionedDefinition, Base):
    """One immutable (key, version); its spec is stored here once, not in every instance."""

    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)
    bpmn_file: Mapped[str] = mapped_column(String(255))
    spec: Mapped[str] = mapped_column(Text, deferred=True)  # read only when the spec cache misses
    lane_map: Mapped[dict[str, Any]] = mapped_column(default=dict)
    forms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    user_tasks: Mapped[list[Any]] = mapped_column(default=list)
    # the process's pmoflow:announce elements: [{"channel": name, "on": [event names]}] (engine/notify/announce.py)
    announce: Mapped[list[Any]] = mapped_column(default=list)


class DecisionDefinition(VersionedDefinition, Base):
    """One immutable (key, version) of a DMN decision, stored with every decision it requires."""

    __tablename__ = "decision_definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)
    dmn_file: Mapped[str] = mapped_column(String(255))
    model: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Draft(Base):
    """A process being edited in the designer: one per process key, autosaved, not yet published.

    `bpmn` is the diagram; `files` maps file name -> text for its DMN and form files. Every save
    names the revision it loaded; a stale one is refused (optimistic locking, see designer.drafts).
    """

    __tablename__ = "designer_drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    bpmn: Mapped[str] = mapped_column(Text)
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)
    base_version: Mapped[int | None] = mapped_column(Integer)
    problems: Mapped[list[Any]] = mapped_column(default=list)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime]

    __mapper_args__ = {"version_id_col": revision}


class RetentionPolicy(Base):
    """How long finished instances of a process keep their variables (see `engine.audit.retention`)."""

    __tablename__ = "retention_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200), unique=True)
    days: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[datetime]


class ConnectorHost(Base):
    """An allow-list entry for the HTTP connector: `erp.example.com` or `*.example.com`."""

    __tablename__ = "connector_hosts"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    pattern: Mapped[str] = mapped_column(String(255), unique=True)
    allow_private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class AppSetting(Base):
    """A setting an admin changed at run time (engine/admin/channels.py): it wins over the environment's value."""

    __tablename__ = "app_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime]


class BusinessCalendar(Base):
    """A named business calendar (engine.sla.calendars): working hours per weekday, time zone, holidays.

    `hours` maps mon..sun to "09:00-12:00, 13:00-17:00" (empty: not a working day); `holidays`
    is a list of {"date": "YYYY-MM-DD", "name": ...} in date order.
    """

    __tablename__ = "business_calendars"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    holidays: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
