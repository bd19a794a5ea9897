"""The HTTP connector: service tasks whose calls the worker makes, outside any transaction.

When a step leaves a `pmoflow:connector` service task ready (engine/spiff/extensions/connector.py),
`engine.runtime.connector_calls.enqueue_calls` builds the request from the variables (URL
placeholders, the body expression) and enqueues one `connector` job in the step's transaction.
The worker then runs this module's job (`JOBS`):

- checks the destination: its host must be on the admins' allow-list (`ConnectorHost`), and
  the addresses the name resolves to must pass the address policy (engine/outbound/policy.py:
  public only, unless that entry allows private addresses; link-local and cloud metadata
  addresses never);
- sends the request through the guarded client (engine/outbound/client.py: it connects to the
  checked addresses only, so DNS rebinding cannot swap them) with the task's timeout, no
  redirects followed, the job's id as
  `Idempotency-Key`, header secrets read from the environment at send time;
- 2xx: completes the task in the job's finishing transaction (exactly once), with the
  outputs mapped from the response; 408, 429 (honouring Retry-After), 5xx, timeouts and
  connection errors: retried with exponential backoff; other 4xx, redirects and refused
  destinations: no retry. When attempts run out the instance gets an incident naming the
  element; an admin's retry of the instance makes the call again.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput, NotFound
from engine.core.permissions import Actor, require
from engine.db.models import ConnectorHost, Job
from engine.db.statements import load_instance
from engine.events import stream as audit
from engine.outbound import client, policy
from engine.runtime import jobs
from engine.runtime.connector_calls import ACTOR, KIND
from engine.runtime.external_mirror import raise_incident
from engine.runtime.steps import run_step
from engine.spiff.expressions.sandbox import SandboxedEnvironment
from engine.spiff.runtime.variables import jsonable, oversized

log = logging.getLogger("pmoflow.connectors")

MAX_RESPONSE_BYTES = 1024 * 1024
USER_AGENT = "pmoflow-connector/1"
SECRET_PREFIX = "PMOFLOW_CONNECTOR_SECRET_"  # noqa: S105 - the prefix of environment variable names
PATTERN_LIMIT = 255


# ---------------------------------------------------------------- the allow-list


@dataclass(frozen=True)
class HostView:
    id: str
    pattern: str
    allow_private: bool
    note: str
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, row: ConnectorHost) -> HostView:
        return cls(
            id=row.uuid,
            pattern=row.pattern,
            allow_private=row.allow_private,
            note=row.note,
            created_by=row.created_by,
            created_at=row.created_at,
        )


def normalize_pattern(raw: str) -> str:
    """`host`, `*.domain` or an IP address, lower case; raises InvalidInput naming the field."""
    pattern = (raw or "").strip().lower().rstrip(".")
    problem = None
    if not pattern:
        problem = "Enter a host name, *.domain or an IP address."
    elif len(pattern) > PATTERN_LIMIT:
        problem = f"At most {PATTERN_LIMIT} characters."
    elif "/" in pattern or (":" in pattern and not _is_ip(pattern)):
        problem = "Only the host: no scheme, port or path (e.g. erp.example.com)."
    else:
        name = pattern[2:] if pattern.startswith("*.") else pattern
        labels = name.split(".")
        if not _is_ip(name) and (
            not all(labels) or any(not all(c.isalnum() or c == "-" for c in label) for label in labels)
        ):
            problem = "Not a valid host name."
        elif pattern.startswith("*.") and len(labels) < 2:
            problem = "A wildcard needs a domain with at least two labels (e.g. *.example.com)."
    if problem:
        raise InvalidInput(f"host pattern {raw!r}: {problem}", {"fields": {"pattern": problem}})
    return pattern


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def list_hosts(ctx: EngineContext, actor: Actor) -> list[HostView]:
    require(actor, "connector.manage")
    with ctx.uow(write=False) as uow:
        return [HostView.of(r) for r in uow.session.scalars(select(ConnectorHost).order_by(ConnectorHost.pattern))]


def add_host(ctx: EngineContext, actor: Actor, pattern: str, allow_private: bool = False, note: str = "") -> HostView:
    """Allow calls to a host (or a domain's hosts); raises InvalidInput or Conflict."""
    require(actor, "connector.manage")
    pattern = normalize_pattern(pattern)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        row = ConnectorHost(
            pattern=pattern,
            allow_private=allow_private,
            note=(note or "").strip()[:500],
            created_by=actor.username,
            created_at=now,
        )
        uow.session.add(row)
        try:
            uow.flush()
        except IntegrityError as err:
            raise Conflict(f"{pattern} is already on the allow-list") from err
        audit.record(
            uow.session,
            "connector_host_added",
            now,
            actor=actor.username,
            data={"pattern": pattern, "allow_private": allow_private, "note": row.note},
        )
        uow.commit()
        return HostView.of(row)


def remove_host(ctx: EngineContext, actor: Actor, host_id: str) -> None:
    require(actor, "connector.manage")
    with ctx.uow() as uow:
        row = uow.session.scalars(select(ConnectorHost).where(ConnectorHost.uuid == host_id)).first()
        if row is None:
            raise NotFound(f"allow-list entry {host_id} does not exist")
        audit.record(
            uow.session, "connector_host_removed", ctx.clock.now(), actor=actor.username, data={"pattern": row.pattern}
        )
        uow.session.delete(row)
        uow.commit()


def _matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def destination_policy(ctx: EngineContext, host: str) -> bool:
    """Whether private addresses are allowed for `host`; raises PermanentFailure if not allowed."""
    host = host.lower().rstrip(".")
    with ctx.uow(write=False) as uow:
        entries = [(e.pattern, e.allow_private) for e in uow.session.scalars(select(ConnectorHost))]
    matching = [allow_private for pattern, allow_private in entries if _matches(pattern, host)]
    if not matching:
        raise jobs.PermanentFailure(f"host {host} is not on the connector allow-list (Administration > Connectors)")
    return any(matching)


def _refused(err: policy.AddressRefused) -> str:
    unless = (
        "even when the allow-list entry allows private addresses"
        if err.reason == policy.NEVER
        else "unless the allow-list entry allows private addresses"
    )
    return (
        f"{err.host} resolves to the internal address {err.address} ({err.reason}); calls to loopback, "
        f"private, link-local and metadata addresses are refused {unless}"
    )


# ---------------------------------------------------------------- sending (in the worker)


def send(ctx: EngineContext, request: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    """Make one call; returns {status, headers, body, elapsed_ms} for 2xx, raises a jobs outcome otherwise."""
    host = urlsplit(request["url"]).hostname or ""
    allow_private = destination_policy(ctx, host)
    try:
        addresses = client.checked_addresses(request["url"], allow_private)
    except policy.AddressRefused as err:
        raise jobs.PermanentFailure(_refused(err)) from None
    except client.Unresolved:
        raise jobs.RetryLater(f"cannot resolve {host}") from None
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
        "Idempotency-Key": idempotency_key,
        **request["headers"],
    }
    for name, secret in request.get("secrets", {}).items():
        value = os.environ.get(SECRET_PREFIX + secret)
        if value is None:
            raise jobs.PermanentFailure(f"secret {secret} is not set (environment variable {SECRET_PREFIX}{secret})")
        headers[name] = value
    body = None
    if request.get("body") is not None:
        body = json.dumps(request["body"]).encode()
        headers["Content-Type"] = "application/json"
    try:
        response = client.send(
            request["method"],
            request["url"],
            allow_private=allow_private,
            timeout=float(request["timeout"]),
            headers=headers,
            body=body,
            max_bytes=MAX_RESPONSE_BYTES,
            addresses=addresses,
        )
    except policy.AddressRefused as err:
        raise jobs.PermanentFailure(_refused(err)) from None
    except client.TransportError as err:
        raise RuntimeError(f"{request['method']} {_safe_url(request['url'])}: {err}") from None
    status, raw = response.status, response.body
    what = f"{request['method']} {_safe_url(request['url'])} answered {status}"
    if response.truncated:
        raise jobs.PermanentFailure(f"{what} with more than {MAX_RESPONSE_BYTES} bytes")
    if 300 <= status < 400:
        location = response.headers.get("location")
        raise jobs.PermanentFailure(f"{what}; redirects are not followed (Location: {location})")
    if status in (408, 429):
        raise jobs.RetryLater(what, delay=response.retry_after(timedelta(hours=1)))
    if 400 <= status < 500:
        raise jobs.PermanentFailure(f"{what}: {_excerpt(raw)}")
    if status >= 500:
        raise RuntimeError(f"{what}: {_excerpt(raw)}")
    content_type = response.headers.get("content-type") or ""
    parsed: Any = raw.decode("utf-8", "replace")
    if "json" in content_type and raw:
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the decoder goes: kept as text
            pass
    return {
        "status": status,
        "headers": {"content-type": content_type},
        "body": parsed,
        "elapsed_ms": response.elapsed_ms,
    }


def _safe_url(url: str) -> str:
    """The URL without its query (which may carry identifiers) for messages and logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _excerpt(raw: bytes, limit: int = 200) -> str:
    text = raw[:limit].decode("utf-8", "replace").strip()
    return text + ("…" if len(raw) > limit else "")


# ---------------------------------------------------------------- the job


def _done(ctx: EngineContext, session: Session, job: Job, result: dict[str, Any] | None) -> None:
    """Complete the waiting task with the mapped outputs, in the job's finishing transaction."""
    payload, response = job.payload, result or {}
    now = ctx.clock.now()
    try:
        instance = load_instance(session, payload["instance"], lock=True)
    except NotFound:
        return
    where = {"task_uuid": payload["task_id"], "element_id": payload["element_id"]}
    if instance.status != "running":
        audit.record(
            session,
            "connector_result_dropped",
            now,
            instance=instance,
            actor=ACTOR,
            **where,
            data={"reason": f"instance is {instance.status}", "status": response.get("status")},
        )
        return
    outputs: dict[str, Any] = {}
    environment = SandboxedEnvironment(time_limit=ctx.settings.script_time_limit)
    context = {**instance.variables, "response": response}
    for output in payload.get("outputs", []):
        try:
            outputs[output["variable"]] = jsonable(environment.evaluate(output["expression"], context))
        except Exception as err:  # noqa: BLE001 - a failing mapping is an incident on the element
            raise_incident(
                session,
                instance,
                payload["task_id"],
                payload["element_id"],
                f"HTTP connector: output {output['variable']!r} ({output['expression']}) failed: "
                f"{type(err).__name__}: {err}",
                "ConnectorOutputFailed",
                now,
                ACTOR,
            )
            return
    if payload.get("result_variable"):
        outputs[payload["result_variable"]] = {k: response.get(k) for k in ("status", "headers", "body")}
    limits = ctx.limits
    if (problem := oversized(outputs, limits.max_variable_depth, limits.max_variable_bytes)) is not None:
        raise_incident(
            session,
            instance,
            payload["task_id"],
            payload["element_id"],
            f"HTTP connector: output {problem[0]!r} {problem[1]}",
            "VariableLimitExceeded",
            now,
            ACTOR,
        )
        return
    try:
        run_step(ctx, session, instance, lambda run: run.complete_connector(payload["task_id"], outputs), ACTOR)
    except KeyError:
        audit.record(
            session,
            "connector_result_dropped",
            now,
            instance=instance,
            actor=ACTOR,
            **where,
            data={"reason": "the task no longer waits (cancelled or interrupted)", "status": response.get("status")},
        )
        return
    audit.record(
        session,
        "connector_call_completed",
        now,
        instance=instance,
        actor=ACTOR,
        **where,
        data={
            "method": payload["request"]["method"],
            "url": payload["request"]["url"],
            "status": response.get("status"),
            "elapsed_ms": response.get("elapsed_ms"),
            "attempts": job.attempts,
            "outputs": sorted(outputs),
        },
    )


def _exhausted(ctx: EngineContext, session: Session, job: Job, error: str) -> None:
    """The call failed for good: an incident on the instance, naming the element and the last error."""
    payload = job.payload
    try:
        instance = load_instance(session, payload["instance"], lock=True)
    except NotFound:
        return
    if instance.status != "running":
        return
    raise_incident(
        session,
        instance,
        payload["task_id"],
        payload["element_id"],
        f"HTTP connector failed after {job.attempts} attempt(s): {error}",
        "ConnectorFailed",
        ctx.clock.now(),
        ACTOR,
    )


def run_call(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    return send(ctx, job.payload["request"], job.uuid)


JOBS = {KIND: jobs.JobHandler(run=run_call, done=_done, exhausted=_exhausted)}  # registered by engine.bootstrap
