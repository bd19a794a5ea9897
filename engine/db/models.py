"""Typed SQLAlchemy models on one Base. Integer keys stay internal; URLs use `uuid`."""

from __future__ import annotations

import uuid as uuidlib
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def new_uuid() -> str:
    return str(uuidlib.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


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
    manager: Mapped[str | None] = mapped_column(String(80))      # gets the group's overdue tasks (engine.sla.deadlines)
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


class Deployment(Base):
    __tablename__ = "deployments"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(200), default="")
    lane_map: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)          # the designer's change note, when published from a draft

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
    spec: Mapped[str] = mapped_column(Text, deferred=True)   # read only when the spec cache misses
    lane_map: Mapped[dict[str, Any]] = mapped_column(default=dict)
    forms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    user_tasks: Mapped[list[Any]] = mapped_column(default=list)


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
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20))
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
    purged_at: Mapped[datetime | None]         # variables and state data cleared by retention

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
        Index("ix_tasks_open_by_due", "due_at", "created_at", "id",
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
        Index("ix_tasks_created", "created_at"),      # the dashboard narrows a period's tasks by it
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
    owner: Mapped[str | None] = mapped_column(String(80))              # delegated from (on behalf of)
    delegation_reason: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    approval_batch: Mapped[str | None] = mapped_column(String(36), index=True)  # parallel approval group
    at_risk_at: Mapped[datetime | None]                   # SLA: "at risk" from then on (engine.sla.deadlines)

    instance: Mapped[ProcessInstance] = relationship()


class TaskGroup(Base):
    """A group that may work a task, one row per name in the task's `candidate_groups`, with
    `offered` true while the task is open and unassigned (so a group's inbox is one partial-index
    scan). Triggers on `human_tasks` write these rows (migration 0015): no code does."""

    __tablename__ = "task_groups"
    __table_args__ = (Index("ix_task_groups_offered", "group_name", "task_id",
                            postgresql_where=text("offered"), sqlite_where=text("offered")),)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(120), primary_key=True, index=True)
    offered: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class TaskUser(Base):
    """A user a task is offered to by name (candidate users), one row per name in the task's
    `candidate_users`, `offered` as in TaskGroup; written by the same triggers (migration 0017)."""

    __tablename__ = "task_users"
    __table_args__ = (Index("ix_task_users_offered", "username", "task_id",
                            postgresql_where=text("offered"), sqlite_where=text("offered")),)
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


class Substitute(Base):
    """Out of office: `substitute` receives `username`'s new tasks from `starts_on` to `ends_on`."""

    __tablename__ = "substitutes"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    substitute: Mapped[str] = mapped_column(String(80))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    created_at: Mapped[datetime]


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
        Index("ix_events_search", "search_text", postgresql_using="gin",
              postgresql_ops={"search_text": "gin_trgm_ops"}),
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
    actor_kind: Mapped[str] = mapped_column(String(10), default="system")   # user, token, system
    token_id: Mapped[int | None] = mapped_column(Integer)
    on_behalf_of: Mapped[str | None] = mapped_column(String(80))
    instance_uuid: Mapped[str | None] = mapped_column(String(36))
    business_key: Mapped[str | None] = mapped_column(String(200))
    definition_key: Mapped[str | None] = mapped_column(String(200))
    definition_version: Mapped[int | None] = mapped_column(Integer)
    search_text: Mapped[str] = mapped_column(String(SEARCH_TEXT_LIMIT), default="")   # not hashed: a search aid


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("actor", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]


class DecisionDefinition(VersionedDefinition, Base):
    """One immutable (key, version) of a DMN decision, stored with every decision it requires."""

    __tablename__ = "decision_definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)
    dmn_file: Mapped[str] = mapped_column(String(255))
    model: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Job(Base):
    """A unit of background work (see `engine.runtime.jobs`): claimed with a lease, retried with backoff.

    `status` is pending -> running -> done | failed; a running job whose lease (`locked_until`)
    expired is claimable again, so a worker killed mid-job loses nothing.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claimable", "status", "run_at"),
        Index("ix_jobs_lease", "status", "locked_until"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    run_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    locked_by: Mapped[str | None] = mapped_column(String(120))
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id", ondelete="SET NULL"),
                                                    index=True)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class WebhookSubscription(Base):
    """A system's endpoint that receives events of the chosen types as signed POSTs (`engine.integration.webhooks`).

    The signing secret is kept encrypted with a key derived from the app's secret key, because
    signing needs it back; it is shown once, when created or rotated.
    """

    __tablename__ = "webhook_subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[Any]] = mapped_column(default=list)      # event type names, or ["*"]
    description: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One event sent to one subscription; its job (`jobs`) carries status, attempts and next run."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_subscription", "subscription_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_uuid: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(60))
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)       # the Standard Webhooks payload, sent as is
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    job: Mapped[Job | None] = relationship()


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: when, answer status, duration, an excerpt of the answer, error."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(20))                  # delivered | retry | failed


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


class ExternalTask(Base):
    """A ready external task (engine.integration.external_tasks), mirrored from the workflow after every step.

    `status` is open -> completed | bpmn_error | cancelled. An open task is fetchable when it is
    not locked (`lock_expires_at` empty or past), `available_at` (a failure's retry timeout) has
    passed and its retries are not used up; `worker_id` holds the lock while it lasts.
    """

    __tablename__ = "external_tasks"
    __table_args__ = (
        Index("ix_external_tasks_fetch", "topic", "id",
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
        Index("ix_external_tasks_instance", "instance_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)          # the workflow task's id
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300), default="")
    topic: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)        # evaluated parameters, for the worker
    worker_id: Mapped[str | None] = mapped_column(String(120))
    lock_expires_at: Mapped[datetime | None]
    retries: Mapped[int | None] = mapped_column(Integer)
    available_at: Mapped[datetime | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(120))       # the worker that finished it


class WorkerHeartbeat(Base):
    """A running background worker (engine.runtime.heartbeats): its row is upserted as it comes round and
    deleted when it stops cleanly, so `/healthz` of any process sees a worker gone silent elsewhere."""

    __tablename__ = "worker_heartbeats"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)    # host:pid:thread, as it locks jobs
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    activity: Mapped[str] = mapped_column(String(40), default="")      # what it turned to at that beat
