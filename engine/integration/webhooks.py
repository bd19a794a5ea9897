"""Webhooks for systems: events of chosen types sent as signed HTTP POSTs (Standard Webhooks).

- A subscription names an https URL, the event types it wants (or ``*``) and a signing
  secret ``whsec_<base64>``. The secret is needed again to sign, so it is stored encrypted
  (Fernet, with a key derived by HKDF from the app's secret key) and shown once, when the
  subscription is created or the secret rotated.
- `_on_write` adds, in the transaction of each event, one delivery and one job per matching
  active subscription (the outbox), so a rolled-back step sends nothing and nothing committed
  is lost. It does not query on its own: the active subscriptions (id and event types) are an
  `audit.read_with_head` companion, read in the same statement as the audit chain's head when
  the transaction's events are linked (at commit, or at the first read of events), after the
  chain lock. So a step costs no extra statement whether or not subscriptions exist, nothing is
  cached across transactions (no TTL, nothing to invalidate), and a subscription committed by any
  process before an event is linked to the chain gets that event. Deleting a subscription takes
  the chain lock first (`audit.lock`), so a writer holding the chain lock never waits for the
  deleted row (no deadlock on the delivery's foreign key).
- The job handler POSTs (httpcore, no proxies) the body with the headers ``webhook-id`` (the event's uuid, the same
  on every attempt), ``webhook-timestamp`` and ``webhook-signature`` (HMAC-SHA256 by the
  `standardwebhooks` library), with a timeout and without following redirects. 2xx is
  delivered; 408, 429, 5xx and network errors are retried with exponential backoff; other
  answers fail for good. Every attempt is logged (time, status, duration, answer excerpt,
  error); a delivery can be sent again by hand (`redeliver`).
- Outbound addresses are checked when a subscription is saved and again (resolved) before
  each attempt: https only, public addresses only. With `webhooks_allow_private`
  (PMOFLOW_WEBHOOKS_ALLOW_PRIVATE=1, for tests and closed networks) private and loopback
  addresses are allowed, and plain http to loopback. Cloud metadata addresses are always refused.
  The address actually connected to is checked again before anything is sent (no DNS rebinding).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import re
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpcore
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput, NotFound
from engine.core.permissions import Actor, require
from engine.db.models import (
    Event,
    Job,
    ProcessInstance,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
    new_uuid,
)
from engine.events import stream as audit
from engine.runtime import jobs

log = logging.getLogger("pmoflow.webhooks")

KIND = "webhook.deliver"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a label, not a secret
MAX_ATTEMPTS = 8
TIMEOUT = 10.0                 # seconds for connect, write and read
EXCERPT = 500                  # characters of the answer kept per attempt
MAX_DESCRIPTION = 500
MAX_URL = 2000
OWN_EVENTS = "webhook_"        # changes to webhooks are audited but not sent (no loops through redelivery)
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.]{0,59}$")
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254",
                                                                  "100.100.100.200"))
# Event types offered in the forms (others may be typed in; '*' means every event).
KNOWN_EVENT_TYPES = (
    "instance_started", "instance_completed", "instance_cancelled", "task_created", "task_completed",
    "task_cancelled", "task_delegated", "approval_decided", "decision_evaluated", "timer_fired", "sla_breached",
    "incident_raised", "incident_retried", "message_received", "signal_received", "comment_added",
    "attachment_added",
    "definition_deployed", "decision_deployed", "external_task_created", "external_task_completed",
    "external_task_failed",
)

Resolver = Callable[[str, int], list[Any]]
# Replaced by tests that need a fake DNS answer; the signature of socket.getaddrinfo, reduced.
RESOLVE: Resolver = lambda host, port: socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)  # noqa: E731


# --- views ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SubscriptionView:
    id: str
    url: str
    event_types: list[str]
    description: str
    active: bool
    created_by: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class IssuedSecret:
    """A subscription with its signing secret: returned on creation and rotation only."""

    subscription: SubscriptionView
    secret: str


@dataclass(frozen=True)
class DeliveryView:
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    status: str                    # pending | sending | retrying | delivered | failed
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class AttemptView:
    attempt: int
    at: datetime
    status_code: int | None
    duration_ms: int
    response_excerpt: str | None
    error: str | None
    outcome: str


@dataclass(frozen=True)
class DeliveryDetail:
    delivery: DeliveryView
    body: dict[str, Any]
    attempts: list[AttemptView]


def _view(row: WebhookSubscription) -> SubscriptionView:
    return SubscriptionView(id=row.uuid, url=row.url, event_types=list(row.event_types), description=row.description,
                            active=row.active, created_by=row.created_by, created_at=row.created_at,
                            updated_at=row.updated_at)


def _status(job: Job | None) -> str:
    if job is None:
        return "failed"
    if job.status == "done":
        return "delivered"
    if job.status == "failed":
        return "failed"
    if job.status == "running":
        return "sending"
    return "retrying" if job.attempts else "pending"


def _delivery_view(row: WebhookDelivery, subscription_uuid: str) -> DeliveryView:
    job = row.job
    waiting = job is not None and job.status == "pending"
    return DeliveryView(id=row.uuid, subscription_id=subscription_uuid, event_id=row.event_uuid,
                        event_type=row.event_type, status=_status(job), attempts=job.attempts if job else 0,
                        next_attempt_at=job.run_at if waiting and job else None,
                        last_error=job.last_error if job else "its job was removed", created_at=row.created_at,
                        finished_at=job.finished_at if job else None)


# --- secrets ----------------------------------------------------------------------------------

def new_secret() -> str:
    """A Standard Webhooks secret: 'whsec_' and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _fernet(secret_key: str) -> Fernet:
    if not secret_key:
        raise InvalidInput("webhooks need PMOFLOW_SECRET_KEY (the same on web and worker processes) "
                           "to keep their signing secrets encrypted",
                           {"fields": {"_": "PMOFLOW_SECRET_KEY is not set"}})
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"pmoflow webhook signing secrets").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(secret_key: str, secret: str) -> str:
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def decrypt_secret(secret_key: str, token: str) -> str:
    """The signing secret; raises InvalidToken if the app's secret key changed since it was stored."""
    return _fernet(secret_key).decrypt(token.encode()).decode()


# --- outbound addresses -----------------------------------------------------------------------

def check_url(url: str, allow_private: bool, resolve: bool = True) -> str:
    """The URL, stripped, if webhooks may POST to it; raises InvalidInput naming the problem (field 'url')."""
    url = (url or "").strip()

    def refuse(message: str) -> InvalidInput:
        return InvalidInput(f"url: {message}", {"fields": {"url": message}})

    if not url:
        raise refuse("Enter the receiver's URL.")
    if len(url) > MAX_URL:
        raise refuse(f"Use at most {MAX_URL} characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise refuse("Use an absolute https:// URL.")
    if parts.username or parts.password:
        raise refuse("Put no user name or password in the URL; the signature authenticates pmoflow.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as err:
        raise refuse(f"The port is not valid: {err}.") from err
    addresses = _addresses(parts.hostname, port) if resolve else _literal(parts.hostname)
    if resolve and not addresses:
        raise refuse(f"The host {parts.hostname} does not resolve.")
    for address in addresses:
        problem = _refusal(address, allow_private)
        if problem:
            raise refuse(f"{parts.hostname} is {address}: {problem}.")
    if parts.scheme == "http":
        if not (allow_private and addresses and all(a.is_loopback for a in addresses)):
            raise refuse("Use https:// (plain http is allowed only to loopback, when private addresses are allowed).")
    return url


def _refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_private: bool) -> str | None:
    """Why webhooks may not go to `address`, or None."""
    if address in METADATA_ADDRESSES or address.is_link_local or address.is_multicast or address.is_unspecified:
        return "a link-local, metadata or reserved address; webhooks are never sent there"
    if not address.is_global and not allow_private:
        return ("a private or loopback address; webhooks go to public addresses only (an administrator may allow "
                "private ones with PMOFLOW_WEBHOOKS_ALLOW_PRIVATE=1)")
    return None


def _literal(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [_unmapped(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        return []


def _unmapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    literal = _literal(host)
    if literal:
        return literal
    try:
        infos = RESOLVE(host, port)
    except (OSError, UnicodeError):
        return []
    found = []
    for info in infos:
        try:
            found.append(_unmapped(ipaddress.ip_address(str(info[4][0]).split("%")[0])))
        except ValueError:
            continue
    return found


# --- subscriptions ----------------------------------------------------------------------------

def _check_types(event_types: list[str] | str) -> list[str]:
    if isinstance(event_types, str):
        event_types = [t for t in re.split(r"[\s,]+", event_types) if t]
    cleaned = sorted({t.strip() for t in event_types if t and t.strip()})
    if not cleaned:
        raise InvalidInput("event_types: choose at least one event type, or * for every event",
                           {"fields": {"event_types": "Choose at least one event type, or * for every event."}})
    bad = [t for t in cleaned if t != "*" and not EVENT_TYPE.match(t)]
    if bad:
        message = f"Not an event type name: {', '.join(bad)} (lower case letters, digits, _ and .)."
        raise InvalidInput(f"event_types: {message}", {"fields": {"event_types": message}})
    return ["*"] if "*" in cleaned else cleaned


def _check_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        message = f"Use at most {MAX_DESCRIPTION} characters."
        raise InvalidInput(f"description: {message}", {"fields": {"description": message}})
    return description


def _find(session: Session, subscription_id: str) -> WebhookSubscription:
    row = session.scalars(select(WebhookSubscription).where(WebhookSubscription.uuid == subscription_id)).first()
    if row is None:
        raise NotFound(f"webhook {subscription_id!r} does not exist")
    return row


def list_subscriptions(ctx: EngineContext, actor: Actor) -> list[SubscriptionView]:
    """Every subscription, oldest first; raises Forbidden."""
    require(actor, "webhook.manage")
    with ctx.uow(write=False) as uow:
        rows = uow.session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))
        return [_view(r) for r in rows]


def get_subscription(ctx: EngineContext, actor: Actor, subscription_id: str) -> SubscriptionView:
    """One subscription (without its secret); raises Forbidden, NotFound."""
    require(actor, "webhook.manage")
    with ctx.uow(write=False) as uow:
        return _view(_find(uow.session, subscription_id))


def create_subscription(
    ctx: EngineContext, actor: Actor, url: str, event_types: list[str] | str, description: str = "",
    active: bool = True,
) -> IssuedSecret:
    """Subscribe `url` to events; the new secret is in the result only. Raises Forbidden, InvalidInput."""
    require(actor, "webhook.manage")
    fields: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, check in (("url", lambda: check_url(url, ctx.settings.webhooks_allow_private)),
                        ("event_types", lambda: _check_types(event_types)),
                        ("description", lambda: _check_description(description))):
        try:
            values[name] = check()
        except InvalidInput as err:
            fields.update(err.details["fields"])
    if fields:
        raise InvalidInput("; ".join(f"{k}: {v}" for k, v in fields.items()), {"fields": fields})
    secret = new_secret()
    encrypted = encrypt_secret(ctx.settings.secret_key, secret)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        row = WebhookSubscription(url=values["url"], event_types=values["event_types"],
                                  description=values["description"], active=bool(active),
                                  secret_encrypted=encrypted, created_by=actor.username, created_at=now,
                                  updated_at=now)
        uow.session.add(row)
        uow.session.flush()
        audit.record(uow.session, "webhook_created", now, actor=actor.username,
                     data={"webhook_id": row.uuid, "url": row.url, "event_types": row.event_types})
        issued = IssuedSecret(_view(row), secret)
        uow.commit()
    return issued


def update_subscription(
    ctx: EngineContext, actor: Actor, subscription_id: str, *, url: str | None = None,
    event_types: list[str] | str | None = None, description: str | None = None, active: bool | None = None,
) -> SubscriptionView:
    """Change the given fields; raises Forbidden, NotFound, InvalidInput."""
    require(actor, "webhook.manage")
    fields: dict[str, str] = {}
    changes: dict[str, Any] = {}
    checks: list[tuple[str, Callable[[], Any]]] = []
    if url is not None:
        checks.append(("url", lambda: check_url(url, ctx.settings.webhooks_allow_private)))
    if event_types is not None:
        checks.append(("event_types", lambda: _check_types(event_types)))
    if description is not None:
        checks.append(("description", lambda: _check_description(description)))
    for name, check in checks:
        try:
            changes[name] = check()
        except InvalidInput as err:
            fields.update(err.details["fields"])
    if active is not None:
        changes["active"] = bool(active)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        row = _find(uow.session, subscription_id)
        if fields:
            raise InvalidInput("; ".join(f"{k}: {v}" for k, v in fields.items()), {"fields": fields})
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = now
        audit.record(uow.session, "webhook_updated", now, actor=actor.username,
                     data={"webhook_id": row.uuid, "changed": sorted(changes)})
        view = _view(row)
        uow.commit()
    return view


def rotate_secret(ctx: EngineContext, actor: Actor, subscription_id: str) -> IssuedSecret:
    """A new signing secret, used from the next attempt on; shown in the result only. Raises Forbidden, NotFound."""
    require(actor, "webhook.manage")
    secret = new_secret()
    encrypted = encrypt_secret(ctx.settings.secret_key, secret)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        row = _find(uow.session, subscription_id)
        row.secret_encrypted = encrypted
        row.updated_at = now
        audit.record(uow.session, "webhook_secret_rotated", now, actor=actor.username, data={"webhook_id": row.uuid})
        issued = IssuedSecret(_view(row), secret)
        uow.commit()
    return issued


def delete_subscription(ctx: EngineContext, actor: Actor, subscription_id: str) -> None:
    """Delete a subscription with its delivery log; pending deliveries are dropped. Raises Forbidden, NotFound."""
    require(actor, "webhook.manage")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        audit.lock(uow.session)         # before the row lock: see audit.read_with_head
        row = _find(uow.session, subscription_id)
        pending = select(WebhookDelivery.job_id).where(WebhookDelivery.subscription_id == row.id)
        for job in uow.session.scalars(select(Job).where(Job.id.in_(pending), Job.status == "pending")):
            job.status = "failed"
            job.last_error = "the webhook was deleted"
            job.finished_at = now
        uow.session.delete(row)
        audit.record(uow.session, "webhook_deleted", now, actor=actor.username,
                     data={"webhook_id": row.uuid, "url": row.url})
        uow.commit()


# --- deliveries -------------------------------------------------------------------------------

def list_deliveries(ctx: EngineContext, actor: Actor, subscription_id: str, limit: int = 50) -> list[DeliveryView]:
    """The subscription's latest deliveries, newest first; raises Forbidden, NotFound."""
    require(actor, "webhook.manage")
    limit = max(1, min(limit, ctx.settings.page_size_max))
    with ctx.uow(write=False) as uow:
        sub = _find(uow.session, subscription_id)
        rows = uow.session.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
                                   .order_by(WebhookDelivery.id.desc()).limit(limit)
                                   .execution_options(populate_existing=True))
        return [_delivery_view(r, sub.uuid) for r in rows]


def _find_delivery(session: Session, delivery_id: str,
                   subscription_id: str | None = None) -> tuple[WebhookDelivery, WebhookSubscription]:
    found = session.execute(select(WebhookDelivery, WebhookSubscription).join(WebhookSubscription)
                            .where(WebhookDelivery.uuid == delivery_id)).first()
    if found is None or (subscription_id is not None and found[1].uuid != subscription_id):
        raise NotFound(f"webhook delivery {delivery_id!r} does not exist")
    return found[0], found[1]


def get_delivery(ctx: EngineContext, actor: Actor, delivery_id: str,
                 subscription_id: str | None = None) -> DeliveryDetail:
    """A delivery (of `subscription_id`, if given) with its body and every attempt; raises Forbidden, NotFound."""
    require(actor, "webhook.manage")
    with ctx.uow(write=False) as uow:
        row, sub = _find_delivery(uow.session, delivery_id, subscription_id)
        attempts = uow.session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == row.id)
                                       .order_by(WebhookAttempt.id))
        return DeliveryDetail(
            delivery=_delivery_view(row, sub.uuid), body=dict(row.body),
            attempts=[AttemptView(attempt=a.attempt, at=a.at, status_code=a.status_code, duration_ms=a.duration_ms,
                                  response_excerpt=a.response_excerpt, error=a.error, outcome=a.outcome)
                      for a in attempts])


def redeliver(ctx: EngineContext, actor: Actor, delivery_id: str, subscription_id: str | None = None) -> DeliveryView:
    """Send a delivery again now (one more attempt, the same webhook-id); raises Forbidden, NotFound, Conflict."""
    require(actor, "webhook.manage")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        row, sub = _find_delivery(uow.session, delivery_id, subscription_id)
        if not sub.active:
            raise Conflict("the webhook is disabled; enable it before sending again")
        if row.job is not None and row.job.status == "running":
            raise Conflict("this delivery is being sent right now")
        if row.job is None:
            row.job = jobs.enqueue(uow.session, KIND, {"delivery": row.uuid}, now, max_attempts=1)
        else:   # a delivery waiting for its next try keeps its remaining attempts
            remaining = row.job.max_attempts - row.job.attempts if row.job.status == "pending" else 1
            jobs.requeue(uow.session, row.job, now, extra_attempts=max(1, remaining))
        audit.record(uow.session, "webhook_redelivered", now, actor=actor.username,
                     data={"webhook_id": sub.uuid, "delivery_id": row.uuid, "event_id": row.event_uuid})
        uow.session.flush()
        view = _delivery_view(row, sub.uuid)
        uow.commit()
    return view


# --- the outbox: one delivery per matching subscription, in the event's transaction -----------

def body_of(event: Event, instance: ProcessInstance | None) -> dict[str, Any]:
    """The Standard Webhooks payload of an event: type, timestamp, data."""
    return {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "event_id": event.uuid,
            "instance_id": instance.uuid if instance is not None else None,
            "business_key": instance.business_key if instance is not None else None,
            "actor": event.actor,
            "task_id": event.task_uuid,
            "element_id": event.element_id,
            "details": dict(event.data or {}),
        },
    }


def _on_write(session: Session, subscriptions: list[tuple[int, Any]], batch: audit.Batch) -> None:
    """Deliveries and jobs for the events being linked to the chain (called with the active subscriptions)."""
    for event, instance in batch:
        if event.type.startswith(OWN_EVENTS):
            continue
        body = None
        for subscription_id, types in subscriptions:
            if "*" not in types and event.type not in types:
                continue
            body = body or body_of(event, instance)
            delivery = WebhookDelivery(uuid=new_uuid(), subscription_id=subscription_id, event_uuid=event.uuid,
                                       event_type=event.type, body=body, created_at=event.occurred_at)
            delivery.job = jobs.enqueue(session, KIND, {"delivery": delivery.uuid}, event.occurred_at,
                                        max_attempts=MAX_ATTEMPTS)
            session.add(delivery)


# The active subscriptions, read with the chain head (registered by engine.bootstrap).
SUBSCRIPTIONS = audit.Companion(
    "webhooks", lambda: (WebhookSubscription.id, WebhookSubscription.event_types, WebhookSubscription.active),
    _on_write)


# --- the job: one HTTP attempt ----------------------------------------------------------------

def backoff(attempt: int) -> timedelta:
    """30 s, 2 min, 8 min, 32 min, ... capped at 6 hours (attempt counts from 1)."""
    return timedelta(seconds=min(6 * 3600, 30 * 4 ** (attempt - 1)))


@dataclass(frozen=True)
class _Target:
    delivery_id: int
    url: str
    secret: str
    event_uuid: str
    body: dict[str, Any]


def _target(ctx: EngineContext, delivery_uuid: str) -> _Target:
    with ctx.uow(write=False) as uow:
        found = uow.session.execute(select(WebhookDelivery, WebhookSubscription).join(WebhookSubscription)
                                    .where(WebhookDelivery.uuid == delivery_uuid)).first()
        if found is None:
            raise jobs.PermanentFailure("the webhook or this delivery was deleted")
        delivery, sub = found
        if not sub.active:
            raise jobs.PermanentFailure("the webhook is disabled")
        try:
            secret = decrypt_secret(ctx.settings.secret_key, sub.secret_encrypted)
        except (InvalidToken, InvalidInput) as err:
            raise jobs.PermanentFailure("the signing secret cannot be decrypted (was PMOFLOW_SECRET_KEY changed?); "
                                        "rotate the webhook's secret") from err
        return _Target(delivery.id, sub.url, secret, delivery.event_uuid, dict(delivery.body))


def _log_attempt(ctx: EngineContext, target: _Target, job: jobs.ClaimedJob, at: datetime, outcome: str, *,
                 status_code: int | None = None, duration_ms: int = 0, excerpt: str | None = None,
                 error: str | None = None) -> None:
    with ctx.uow() as uow:
        uow.session.add(WebhookAttempt(delivery_id=target.delivery_id, attempt=job.attempt, at=at,
                                       status_code=status_code, duration_ms=duration_ms, response_excerpt=excerpt,
                                       error=error[:jobs.ERROR_LIMIT] if error else None, outcome=outcome))
        uow.commit()


class RefusedAddress(httpcore.ConnectError):
    """The connection reached an address webhooks may not go to (checked before anything is sent)."""


class _GuardedBackend(httpcore.SyncBackend):
    """Checks the address actually connected to, before TLS and before the request: no DNS rebinding."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        stream = super().connect_tcp(host, port, timeout, local_address, socket_options)
        peer = stream.get_extra_info("server_addr")
        problem = _refusal(_unmapped(ipaddress.ip_address(str(peer[0]).split("%")[0])), self.allow_private) \
            if peer else "unknown peer address"
        if problem:
            stream.close()
            raise RefusedAddress(f"{host} connected to {peer[0] if peer else '?'}: {problem}")
        return stream


_pools: dict[bool, httpcore.ConnectionPool] = {}


def _pool(allow_private: bool) -> httpcore.ConnectionPool:
    """No proxies, no redirects (httpcore follows none), connections kept alive per receiver."""
    if allow_private not in _pools:
        _pools[allow_private] = httpcore.ConnectionPool(network_backend=_GuardedBackend(allow_private),
                                                        max_connections=20, keepalive_expiry=30.0)
    return _pools[allow_private]


def _retry_after(headers: list[tuple[bytes, bytes]]) -> timedelta | None:
    for name, value in headers:
        if name.lower() == b"retry-after" and value.strip().isdigit():
            return timedelta(seconds=min(int(value), 6 * 3600))
    return None


def deliver(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """One signed POST; raises RetryLater or PermanentFailure for the job queue to act on."""
    target = _target(ctx, job.payload["delivery"])
    now = ctx.clock.now()
    last = job.attempt >= job.max_attempts
    try:
        check_url(target.url, ctx.settings.webhooks_allow_private)
    except InvalidInput as err:
        message = f"refused address: {err.details['fields']['url']}"
        _log_attempt(ctx, target, job, now, "failed", error=message)
        raise jobs.PermanentFailure(message) from err
    payload = json.dumps(target.body, separators=(",", ":"), ensure_ascii=False)
    headers: dict[bytes | str, bytes | str] = {
        "content-type": "application/json",
        "webhook-id": target.event_uuid,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(target.secret).sign(target.event_uuid, now, payload),
    }
    started = time.monotonic()
    try:
        response = _pool(ctx.settings.webhooks_allow_private).request(
            "POST", target.url, headers=headers, content=payload.encode(),
            extensions={"timeout": {"connect": TIMEOUT, "read": TIMEOUT, "write": TIMEOUT, "pool": TIMEOUT}})
    except RefusedAddress as err:
        _log_attempt(ctx, target, job, now, "failed", duration_ms=int((time.monotonic() - started) * 1000),
                     error=f"refused address: {err}")
        raise jobs.PermanentFailure(f"refused address: {err}") from err
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as err:
        message = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        _log_attempt(ctx, target, job, now, "failed" if last else "retry",
                     duration_ms=int((time.monotonic() - started) * 1000), error=message)
        raise jobs.RetryLater(message) from err
    duration = int((time.monotonic() - started) * 1000)
    code = response.status
    excerpt = response.content[:EXCERPT * 4].decode("utf-8", "replace")[:EXCERPT] if response.content else None
    if 200 <= code < 300:
        _log_attempt(ctx, target, job, now, "delivered", status_code=code, duration_ms=duration, excerpt=excerpt)
        return {"status_code": code}
    message = f"HTTP {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")
    if code in (408, 429) or code >= 500:
        _log_attempt(ctx, target, job, now, "failed" if last else "retry", status_code=code, duration_ms=duration,
                     excerpt=excerpt, error=message)
        raise jobs.RetryLater(message, delay=_retry_after(response.headers) if code in (429, 503) else None)
    _log_attempt(ctx, target, job, now, "failed", status_code=code, duration_ms=duration, excerpt=excerpt,
                 error=message)
    raise jobs.PermanentFailure(message)


# Registered by engine.bootstrap.
JOBS = {KIND: jobs.JobHandler(run=deliver, backoff=backoff, lease=timedelta(minutes=2))}
