"""Jobs, webhooks, external tasks and worker heartbeats: work done outside a request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db.models.base import Base, new_uuid


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
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id", ondelete="SET NULL"), index=True)
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
    event_types: Mapped[list[Any]] = mapped_column(default=list)  # event type names, or ["*"]
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
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the Standard Webhooks payload, sent as is
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
    outcome: Mapped[str] = mapped_column(String(20))  # delivered | retry | failed


class ExternalTask(Base):
    """A ready external task (engine.integration.external_tasks), mirrored from the workflow after every step.

    `status` is open -> completed | bpmn_error | cancelled. An open task is fetchable when it is
    not locked (`lock_expires_at` empty or past), `available_at` (a failure's retry timeout) has
    passed and its retries are not used up; `worker_id` holds the lock while it lasts.
    """

    __tablename__ = "external_tasks"
    __table_args__ = (
        Index(
            "ix_external_tasks_fetch",
            "topic",
            "id",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_external_tasks_instance", "instance_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)  # the workflow task's id
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300), default="")
    topic: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)  # evaluated parameters, for the worker
    worker_id: Mapped[str | None] = mapped_column(String(120))
    lock_expires_at: Mapped[datetime | None]
    retries: Mapped[int | None] = mapped_column(Integer)
    available_at: Mapped[datetime | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(120))  # the worker that finished it


class WorkerHeartbeat(Base):
    """A running background worker (engine.runtime.heartbeats): its row is upserted as it comes round and
    deleted when it stops cleanly, so `/healthz` of any process sees a worker gone silent elsewhere."""

    __tablename__ = "worker_heartbeats"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid:thread, as it locks jobs
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    activity: Mapped[str] = mapped_column(String(40), default="")  # what it turned to at that beat
