"""The one guarded HTTP client: every HTTP request pmoflow makes to another system goes through `send`.

- The host name is resolved once (`policy.resolve`), every address is checked against the
  address policy, and the connection is opened to those checked addresses only (pinned in the
  network backend), so a DNS answer that changes between the check and the connection (DNS
  rebinding) cannot send the request elsewhere. The peer of every new connection is checked
  again before TLS and before anything is sent.
- httpcore underneath: no proxies from the environment, redirects never followed (a 3xx is
  the caller's answer), a timeout on connect, write, read and the pool wait; the answer is read
  up to `max_bytes` (`Response.truncated` says there was more).
- Connections are kept alive per receiver, in one pool per `allow_private` value.
- Error texts name the host at most, never the URL's path or query (chat webhook URLs and
  connector queries carry secrets); this module logs nothing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpcore

from engine.outbound import policy

MAX_RESPONSE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes  # at most max_bytes
    truncated: bool  # the answer was longer than max_bytes
    elapsed_ms: float

    def retry_after(self, limit: timedelta) -> timedelta | None:
        """The Retry-After header in seconds, at most `limit`; None if absent or a date."""
        raw = self.headers.get("retry-after", "").strip()
        return min(timedelta(seconds=int(raw)), limit) if raw.isdigit() else None


class TransportError(Exception):
    """No answer: the name did not resolve, the connection failed or timed out, the exchange broke.
    Retrying may mend it. `kind` is the failure's class name; the text names no URL."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind


class Unresolved(TransportError):
    """The host name did not resolve (to any address)."""


class GuardedBackend(httpcore.SyncBackend):
    """Connects only to checked addresses: those `send` pinned for the host, else its own resolution."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._pins: dict[tuple[str, int], list[policy.Address]] = {}
        self._lock = threading.Lock()

    def pin(self, host: str, port: int, addresses: list[policy.Address]) -> None:
        """Use `addresses` (already checked) for the next connections to host:port."""
        with self._lock:
            self._pins[(_key(host), port)] = list(addresses)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        """Raises policy.AddressRefused, httpcore.ConnectError, httpcore.ConnectTimeout."""
        with self._lock:
            addresses = self._pins.get((_key(host), port))
        if addresses is None:
            addresses = policy.resolve(host.strip("[]"), port)
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve")
        policy.check(host, addresses, self.allow_private)
        failure: Exception = httpcore.ConnectError(f"no address of {host} answered")
        for address in addresses:
            try:
                stream = super().connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                failure = err
                continue
            self._check_peer(host, stream)
            return stream
        raise failure

    def _check_peer(self, host: str, stream: httpcore.NetworkStream) -> None:
        peer = stream.get_extra_info("server_addr")
        try:
            policy.check(host, policy.literal(str(peer[0])) if peer else [], self.allow_private)
        except policy.AddressRefused:
            stream.close()
            raise
        if not peer:
            stream.close()
            raise httpcore.ConnectError(f"{host}: the connected address is unknown")


def _key(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


_pools: dict[bool, tuple[httpcore.ConnectionPool, GuardedBackend]] = {}
_pools_lock = threading.Lock()


def _pool(allow_private: bool) -> tuple[httpcore.ConnectionPool, GuardedBackend]:
    with _pools_lock:
        if allow_private not in _pools:
            backend = GuardedBackend(allow_private)
            pool = httpcore.ConnectionPool(network_backend=backend, max_connections=20, keepalive_expiry=30.0)
            _pools[allow_private] = (pool, backend)
        return _pools[allow_private]


def target(url: str) -> tuple[str, int]:
    """The host and port of an absolute http(s) URL; raises ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an absolute http or https URL")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def checked_addresses(url: str, allow_private: bool) -> list[policy.Address]:
    """The URL's host resolved once and checked; raises ValueError, Unresolved, policy.AddressRefused."""
    host, port = target(url)
    addresses = policy.resolve(host, port)
    if not addresses:
        raise Unresolved("Unresolved", f"{host} does not resolve")
    policy.check(host, addresses, allow_private)
    return addresses


def send(
    method: str,
    url: str,
    *,
    allow_private: bool,
    timeout: float,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    max_bytes: int = MAX_RESPONSE_BYTES,
    addresses: list[policy.Address] | None = None,
) -> Response:
    """Make one request and read the answer (any status). `addresses`: the host's addresses as checked by
    `checked_addresses` (resolved here if not given). Raises ValueError (not an http(s) URL),
    policy.AddressRefused, TransportError (Unresolved when the name does not resolve)."""
    host, port = target(url)
    if addresses is None:
        addresses = checked_addresses(url, allow_private)
    else:
        policy.check(host, addresses, allow_private)
    pool, backend = _pool(allow_private)
    backend.pin(host, port, addresses)
    started = time.monotonic()
    try:
        with pool.stream(
            method,
            url,
            headers=list((headers or {}).items()),
            content=body,
            extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout)},
        ) as response:
            data, truncated = _read(response, max_bytes)
    except (
        httpcore.TimeoutException,
        httpcore.NetworkError,
        httpcore.ProtocolError,
        httpcore.UnsupportedProtocol,
    ) as err:
        raise TransportError(type(err).__name__, str(err)) from None
    return Response(
        status=response.status,
        headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers},
        body=data,
        truncated=truncated,
        elapsed_ms=round((time.monotonic() - started) * 1000, 1),
    )


def _read(response: httpcore.Response, max_bytes: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False
