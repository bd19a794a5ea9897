"""Running work: instances, human tasks and their offers, comments, attachments, the bell, the event stream."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db.models.base import Base, new_uuid
from engine.db.models.definitions import ProcessDefinition


class ProcessInstance(Base):
    __tablename__ = "process_instances"
    __table_args__ = (
        Index("ix_instances_status_due", "status", "next_due_at"),
        Index("ix_instances_def_status", "definition_id", "status"),
        # monitoring and the dashboard filter by process and start time; retention by end time
        Index("ix_instances_def_created", "definition_id", "created_at"),
        Index("ix_instances_created", "created_at"),
        Index("ix_instances_started_by", "started_by", "created_at"),
        Index("ix_instances_status_ended", "status", "ended_at"),
        Index("ix_instances_outcome", "outcome", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20))
    # approved / rejected / cancelled / failed / completed once decided (engine.core.outcomes), else None
    outcome: Mapped[str | None] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(Text)
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[str | None] = mapped_column(String(80))
    next_due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]  # variables and state data cleared by retention

    definition: Mapped[ProcessDefinition] = relationship()

    # Optimistic locking: every save checks the revision it loaded; a lost race is a 409.
    __mapper_args__ = {"version_id_col": revision}


class HumanTask(Base):
    __tablename__ = "human_tasks"
    __table_args__ = (
        Index("ix_tasks_instance_status", "instance_id", "status"),
        Index("ix_tasks_status_role", "status", "role"),
        Index("ix_tasks_assignee_status", "assignee", "status"),
        # The inbox walks open tasks in its default order and stops after one page.
        Index(
            "ix_tasks_open_by_due",
            "due_at",
            "created_at",
            "id",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_tasks_created", "created_at"),  # the dashboard narrows a period's tasks by it
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300), default="")
    role: Mapped[str | None] = mapped_column(String(120))
    candidate_groups: Mapped[list[Any]] = mapped_column(default=list)
    candidate_users: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))
    group_source: Mapped[str | None] = mapped_column(String(20))  # where candidate_groups came from (candidates)
    assignee: Mapped[str | None] = mapped_column(String(80))
    form_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(80))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    owner: Mapped[str | None] = mapped_column(String(80))  # delegated from (on behalf of)
    delegation_reason: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    approval_batch: Mapped[str | None] = mapped_column(String(36), index=True)  # parallel approval group
    at_risk_at: Mapped[datetime | None]  # SLA: "at risk" from then on (engine.sla.deadlines)

    instance: Mapped[ProcessInstance] = relationship()


class TaskGroup(Base):
    """A group that may work a task, one row per name in the task's `candidate_groups`, with
    `offered` true while the task is open and unassigned (so a group's inbox is one partial-index
    scan). Triggers on `human_tasks` write these rows (migration 0015): no code does."""

    __tablename__ = "task_groups"
    __table_args__ = (
        Index(
            "ix_task_groups_offered",
            "group_name",
            "task_id",
            postgresql_where=text("offered"),
            sqlite_where=text("offered"),
        ),
    )
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(120), primary_key=True, index=True)
    offered: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class TaskUser(Base):
    """A user a task is offered to by name (candidate users), one row per name in the task's
    `candidate_users`, `offered` as in TaskGroup; written by the same triggers (migration 0017)."""

    __tablename__ = "task_users"
    __table_args__ = (
        Index(
            "ix_task_users_offered",
            "username",
            "task_id",
            postgresql_where=text("offered"),
            sqlite_where=text("offered"),
        ),
    )
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    username: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)
    offered: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Comment(Base):
    """A comment on a request or one of its tasks; `parent_id` threads replies."""

    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"), index=True)
    task_uuid: Mapped[str | None] = mapped_column(String(36))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Attachment(Base):
    """A document (stored here) or a link (SharePoint, Google Drive, Dropbox, ...) on a request."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"), index=True)
    task_uuid: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2000))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_type: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class Notification(Base):
    """An in-app notification for one user (the bell)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "username", "read_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    username: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    task_uuid: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class Watcher(Base):
    """Someone who follows a request they do not own (engine/requester/watchers.py): told when it is decided."""

    __tablename__ = "instance_watchers"
    __table_args__ = (
        UniqueConstraint("instance_id", "username", name="uq_instance_watchers_instance_user"),
        Index("ix_instance_watchers_username", "username"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class DecisionLinkUse(Base):
    """A decision link (engine/notify/actions.py) that was used: its nonce is spent, so the link works once.

    The Approve and Reject links of one message share a nonce: deciding with one spends both.
    """

    __tablename__ = "decision_link_uses"
    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(40), unique=True)
    task_uuid: Mapped[str] = mapped_column(String(36), index=True)
    username: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    used_at: Mapped[datetime]


class SlackMessage(Base):
    """A direct message the Slack app posted about a task (engine/notify/slack_sync.py), so it can be updated
    in place when the task stops waiting for its recipient. `closed_at` is set once, when its update is queued."""

    __tablename__ = "slack_messages"
    __table_args__ = (UniqueConstraint("channel", "ts", name="uq_slack_messages_channel_ts"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(80))  # the pmoflow user it was sent to
    slack_user: Mapped[str | None] = mapped_column(String(32))  # their Slack id, when known
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    buttons: Mapped[bool] = mapped_column(Boolean, default=False)  # it carried Approve / Reject
    posted_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


SEARCH_TEXT_LIMIT = 500


class Event(Base):
    """The one event stream: audit trail and outbox, written in the step's transaction.

    Append-only and hash-chained (engine/events/stream.py): `seq` orders the chain, `hash` covers the
    row's content and `prev_hash`. No foreign key to the instance, so events outlive it.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_instance", "instance_id", "id"),
        Index("ix_events_instance_uuid", "instance_uuid", "seq"),
        Index("ix_events_business_key", "business_key", "seq"),
        Index("ix_events_actor", "actor", "seq"),
        Index("ix_events_definition", "definition_key", "seq"),
        Index("ix_events_occurred", "occurred_at"),
        # trigram index for the auditor's text search on PostgreSQL (a plain index on SQLite)
        Index(
            "ix_events_search", "search_text", postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"}
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    type: Mapped[str] = mapped_column(String(60), index=True)
    instance_id: Mapped[int | None] = mapped_column(Integer)
    task_uuid: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str | None] = mapped_column(String(80))
    occurred_at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    actor_kind: Mapped[str] = mapped_column(String(10), default="system")  # user, token, system
    token_id: Mapped[int | None] = mapped_column(Integer)
    on_behalf_of: Mapped[str | None] = mapped_column(String(80))
    instance_uuid: Mapped[str | None] = mapped_column(String(36))
    business_key: Mapped[str | None] = mapped_column(String(200))
    definition_key: Mapped[str | None] = mapped_column(String(200))
    definition_version: Mapped[int | None] = mapped_column(Integer)
    search_text: Mapped[str] = mapped_column(String(SEARCH_TEXT_LIMIT), default="")  # not hashed: a search aid


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("actor", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
