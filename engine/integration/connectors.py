"""The HTTP connector: service tasks whose calls the worker makes, outside any transaction.

When a step leaves a `pmoflow:connector` service task ready (engine/spiff/extensions/connector.py),
`enqueue_calls` builds the request from the variables (URL placeholders, the body
expression) and enqueues one `connector` job in the step's transaction. The worker then

- checks the destination: its host must be on the admins' allow-list (`ConnectorHost`),
  and unless that entry allows private addresses, every address the name resolves to, and
  the address actually connected to, must be public (no loopback, private, link-local or
  cloud metadata addresses: a check after connecting also defeats DNS rebinding);
- sends the request with the task's timeout, no redirects followed, the job's id as
  `Idempotency-Key`, header secrets read from the environment at send time;
- 2xx: completes the task in the job's finishing transaction (exactly once), with the
  outputs mapped from the response; 408, 429 (honouring Retry-After), 5xx, timeouts and
  connection errors: retried with exponential backoff; other 4xx, redirects and refused
  destinations: no retry. When attempts run out the instance gets an incident naming the
  element; an admin's retry of the instance makes the call again.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import os
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput, NotFound
from engine.core.permissions import Actor, require
from engine.db.models import ConnectorHost, Job, ProcessInstance
from engine.events import stream as audit
from engine.runtime import jobs
from engine.spiff.expressions.sandbox import SandboxedEnvironment
from engine.spiff.extensions.connector import PLACEHOLDER
from engine.spiff.runtime.run import ConnectorCall
from engine.spiff.runtime.variables import jsonable

log = logging.getLogger("pmoflow.connectors")

KIND = "connector"
ACTOR = "connector"
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
        return cls(id=row.uuid, pattern=row.pattern, allow_private=row.allow_private, note=row.note,
                   created_by=row.created_by, created_at=row.created_at)


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
        if not _is_ip(name) and (not all(labels) or any(
                not all(c.isalnum() or c == "-" for c in label) for label in labels)):
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
        row = ConnectorHost(pattern=pattern, allow_private=allow_private, note=(note or "").strip()[:500],
                            created_by=actor.username, created_at=now)
        uow.session.add(row)
        try:
            uow.flush()
        except IntegrityError as err:
            raise Conflict(f"{pattern} is already on the allow-list") from err
        audit.record(uow.session, "connector_host_added", now, actor=actor.username,
                     data={"pattern": pattern, "allow_private": allow_private, "note": row.note})
        uow.commit()
        return HostView.of(row)


def remove_host(ctx: EngineContext, actor: Actor, host_id: str) -> None:
    require(actor, "connector.manage")
    with ctx.uow() as uow:
        row = uow.session.scalars(select(ConnectorHost).where(ConnectorHost.uuid == host_id)).first()
        if row is None:
            raise NotFound(f"allow-list entry {host_id} does not exist")
        audit.record(uow.session, "connector_host_removed", ctx.clock.now(), actor=actor.username,
                     data={"pattern": row.pattern})
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


def is_internal(address: str) -> bool:
    """True for loopback, private, link-local (incl. cloud metadata), multicast and reserved addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global


def _check_address(host: str, address: str, allow_private: bool) -> None:
    if not allow_private and is_internal(address):
        raise jobs.PermanentFailure(
            f"{host} resolves to the internal address {address}; calls to loopback, private, link-local and "
            f"metadata addresses are refused unless the allow-list entry allows private addresses")


# ---------------------------------------------------------------- building calls (in the step)

class RequestInvalid(Exception):
    """The request could not be built from the variables (a placeholder or the body failed)."""


def build_request(call: ConnectorCall, variables: dict[str, Any], time_limit: float) -> dict[str, Any]:
    """The request of a ready connector task, from the variables; raises RequestInvalid."""
    config = call.config

    def fill(template: str, quote_values: bool) -> str:
        def one(match: Any) -> str:
            name = match.group(1)
            if name not in variables:
                raise RequestInvalid(f"variable {name!r} (used in {template!r}) is not set")
            value = variables[name]
            text = value if isinstance(value, str) else json.dumps(jsonable(value))
            return quote(text, safe="") if quote_values else text
        return PLACEHOLDER.sub(one, template)

    url = fill(config["url"], quote_values=True)
    headers = {h["name"]: fill(h["value"], quote_values=False) for h in config["headers"] if h.get("value") is not None}
    secrets = {h["name"]: h["secret"] for h in config["headers"] if h.get("secret")}
    body = None
    if config.get("body"):
        try:
            body = jsonable(SandboxedEnvironment(time_limit=time_limit).evaluate(config["body"], dict(variables)))
        except Exception as err:  # noqa: BLE001 - any failure of the expression is reported on the element
            raise RequestInvalid(f"the body expression failed: {type(err).__name__}: {err}") from err
    return {"method": config["method"], "url": url, "headers": headers, "secrets": secrets, "body": body,
            "timeout": config["timeout"]}


def enqueue_calls(
    ctx: EngineContext, session: Session, instance: ProcessInstance, calls: list[ConnectorCall], now: datetime,
) -> None:
    """Enqueue one job per ready connector task that has none pending (called by every step)."""
    if not calls or instance.status != "running":
        return
    active = {p.get("task_id") for p in session.scalars(
        select(Job.payload).where(Job.instance_id == instance.id, Job.kind == KIND,
                                  Job.status.in_(("pending", "running"))))}
    for call in calls:
        if call.id in active:
            continue
        try:
            request = build_request(call, {**instance.variables, **jsonable(call.data)},
                                    ctx.settings.script_time_limit)
        except RequestInvalid as err:
            _raise_incident(session, instance, call.id, call.element_id, f"HTTP connector: {err}",
                            "ConnectorRequestInvalid", now)
            return
        config = call.config
        job = jobs.enqueue(session, KIND, {
            "instance": instance.uuid, "task_id": call.id, "element_id": call.element_id, "name": call.name,
            "request": request, "outputs": config["outputs"], "result_variable": config.get("result_variable"),
        }, now, max_attempts=int(config["retries"]) + 1, instance=instance)
        audit.record(session, "connector_call_queued", now, instance=instance, actor=ACTOR, task_uuid=call.id,
                     element_id=call.element_id, data={"method": request["method"], "url": request["url"],
                                                       "job": job.uuid})


def _raise_incident(
    session: Session, instance: ProcessInstance, task_id: str, element_id: str, message: str, kind: str,
    now: datetime,
) -> None:
    instance.status = "error"
    instance.error = {"element_id": element_id, "task_id": task_id, "message": message, "kind": kind}
    instance.updated_at = now
    audit.record(session, "incident_raised", now, instance=instance, actor=ACTOR, task_uuid=task_id,
                 element_id=element_id, data=instance.error)


# ---------------------------------------------------------------- sending (in the worker)

class _GuardedHTTPConnection(http.client.HTTPConnection):
    """Checks the address it actually connected to before anything is sent."""

    guard: Any = None

    def connect(self) -> None:
        super().connect()
        self.guard(self.sock.getpeername()[0])


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    guard: Any = None

    def connect(self) -> None:
        # TCP first, check the peer, then TLS (so not even a handshake reaches a refused address).
        http.client.HTTPConnection.connect(self)
        self.guard(self.sock.getpeername()[0])
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)  # type: ignore[attr-defined]


def send(ctx: EngineContext, request: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    """Make one call; returns {status, headers, body, elapsed_ms} for 2xx, raises a jobs outcome otherwise."""
    parts = urlsplit(request["url"])
    host = parts.hostname or ""
    allow_private = destination_policy(ctx, host)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except socket.gaierror as err:
        raise jobs.RetryLater(f"cannot resolve {host}: {err}") from err
    for address in addresses:
        _check_address(host, address, allow_private)

    timeout = float(request["timeout"])
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _GuardedHTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        connection = _GuardedHTTPConnection(host, port, timeout=timeout)
    connection.guard = lambda address: _check_address(host, address, allow_private)

    headers = {"User-Agent": USER_AGENT, "Accept": "application/json", "Idempotency-Key": idempotency_key,
               **request["headers"]}
    for name, secret in request.get("secrets", {}).items():
        value = os.environ.get(SECRET_PREFIX + secret)
        if value is None:
            raise jobs.PermanentFailure(f"secret {secret} is not set (environment variable {SECRET_PREFIX}{secret})")
        headers[name] = value
    body = None
    if request.get("body") is not None:
        body = json.dumps(request["body"]).encode()
        headers["Content-Type"] = "application/json"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    try:
        connection.request(request["method"], path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read(MAX_RESPONSE_BYTES + 1)
    except jobs.PermanentFailure:
        raise
    except (OSError, http.client.HTTPException) as err:
        raise RuntimeError(f"{request['method']} {_safe_url(request['url'])}: {type(err).__name__}: {err}") from err
    finally:
        connection.close()
    elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    status = response.status
    what = f"{request['method']} {_safe_url(request['url'])} answered {status}"
    if len(raw) > MAX_RESPONSE_BYTES:
        raise jobs.PermanentFailure(f"{what} with more than {MAX_RESPONSE_BYTES} bytes")
    if 300 <= status < 400:
        raise jobs.PermanentFailure(f"{what}; redirects are not followed (Location: {response.getheader('Location')})")
    if status in (408, 429):
        raise jobs.RetryLater(what, delay=_retry_after(response.getheader("Retry-After")))
    if 400 <= status < 500:
        raise jobs.PermanentFailure(f"{what}: {_excerpt(raw)}")
    if status >= 500:
        raise RuntimeError(f"{what}: {_excerpt(raw)}")
    content_type = response.getheader("Content-Type") or ""
    parsed: Any = raw.decode("utf-8", "replace")
    if "json" in content_type and raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            pass
    return {"status": status, "headers": {"content-type": content_type}, "body": parsed, "elapsed_ms": elapsed_ms}


def _safe_url(url: str) -> str:
    """The URL without its query (which may carry identifiers) for messages and logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _excerpt(raw: bytes, limit: int = 200) -> str:
    text = raw[:limit].decode("utf-8", "replace").strip()
    return text + ("…" if len(raw) > limit else "")


def _retry_after(value: str | None) -> timedelta | None:
    if value and value.strip().isdigit():
        return timedelta(seconds=min(3600, int(value.strip())))
    return None


# ---------------------------------------------------------------- the job

def _done(ctx: EngineContext, session: Session, job: Job, result: dict[str, Any] | None) -> None:
    """Complete the waiting task with the mapped outputs, in the job's finishing transaction."""
    from engine.runtime.steps import load_instance, run_step  # steps imports this module

    payload, response = job.payload, result or {}
    now = ctx.clock.now()
    try:
        instance = load_instance(session, payload["instance"], lock=True)
    except NotFound:
        return
    where = {"task_uuid": payload["task_id"], "element_id": payload["element_id"]}
    if instance.status != "running":
        audit.record(session, "connector_result_dropped", now, instance=instance, actor=ACTOR, **where,
                     data={"reason": f"instance is {instance.status}", "status": response.get("status")})
        return
    outputs: dict[str, Any] = {}
    environment = SandboxedEnvironment(time_limit=ctx.settings.script_time_limit)
    context = {**instance.variables, "response": response}
    for output in payload.get("outputs", []):
        try:
            outputs[output["variable"]] = jsonable(environment.evaluate(output["expression"], context))
        except Exception as err:  # noqa: BLE001 - a failing mapping is an incident on the element
            _raise_incident(session, instance, payload["task_id"], payload["element_id"],
                            f"HTTP connector: output {output['variable']!r} ({output['expression']}) failed: "
                            f"{type(err).__name__}: {err}", "ConnectorOutputFailed", now)
            return
    if payload.get("result_variable"):
        outputs[payload["result_variable"]] = {k: response.get(k) for k in ("status", "headers", "body")}
    try:
        run_step(ctx, session, instance, lambda run: run.complete_connector(payload["task_id"], outputs), ACTOR)
    except KeyError:
        audit.record(session, "connector_result_dropped", now, instance=instance, actor=ACTOR, **where,
                     data={"reason": "the task no longer waits (cancelled or interrupted)",
                           "status": response.get("status")})
        return
    audit.record(session, "connector_call_completed", now, instance=instance, actor=ACTOR, **where,
                 data={"method": payload["request"]["method"], "url": payload["request"]["url"],
                       "status": response.get("status"), "elapsed_ms": response.get("elapsed_ms"),
                       "attempts": job.attempts, "outputs": sorted(outputs)})


def _exhausted(ctx: EngineContext, session: Session, job: Job, error: str) -> None:
    """The call failed for good: an incident on the instance, naming the element and the last error."""
    from engine.runtime.steps import load_instance

    payload = job.payload
    try:
        instance = load_instance(session, payload["instance"], lock=True)
    except NotFound:
        return
    if instance.status != "running":
        return
    _raise_incident(session, instance, payload["task_id"], payload["element_id"],
                    f"HTTP connector failed after {job.attempts} attempt(s): {error}", "ConnectorFailed",
                    ctx.clock.now())


@jobs.handler(KIND, done=_done, exhausted=_exhausted)
def run_call(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    return send(ctx, job.payload["request"], job.uuid)
