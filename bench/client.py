"""A small, cheap HTTP client for the benchmark: one keep-alive connection per thread.

`http.client` rather than httpx because the clients share two cores with the server and the
database: every millisecond the client spends is one the server does not get.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .stats import Samples

IDLE_RECONNECT = 1.0  # gunicorn closes idle keep-alive connections after 2 s


@dataclass
class Response:
    status: int
    body: Any  # parsed JSON, or the raw text when it is not JSON
    text: str


@dataclass
class Errors:
    """Every non-2xx answer or transport failure, shared by all client threads."""

    items: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, message: str) -> None:
        with self._lock:
            self.items.append(message)

    def __len__(self) -> int:
        return len(self.items)


class Api:
    """pmoflow's REST API over one persistent HTTP/1.1 connection (not thread-safe: one per thread)."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._last_used = 0.0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is not None and time.monotonic() - self._last_used > IDLE_RECONNECT:
            self.close()
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        return self._conn

    def request(self, method: str, path: str, token: str, payload: Any = None) -> Response:
        """Send one request and read the whole answer; raises OSError or http.client errors."""
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn = self._connection()
        try:
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            raw = answer.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        self._last_used = time.monotonic()
        if answer.will_close:
            self.close()
        text = raw.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Response(answer.status, parsed, text)

    def timed(
        self, samples: Samples | None, kind: str, method: str, path: str, token: str, payload: Any = None
    ) -> Response:
        """`request`, adding its latency to `samples` under `kind`."""
        began = time.perf_counter()
        response = self.request(method, path, token, payload)
        if samples is not None:
            samples.add(kind, time.perf_counter() - began)
        return response


def describe(kind: str, method: str, path: str, response: Response, limit: int = 2000) -> str:
    """One line for the error list: request, status and (the start of) the body."""
    return f"{kind}: {method} {path} -> {response.status} {response.text[:limit]}"


def cache_figures(base_url: str, processes: int, tries: int = 200) -> dict[int, dict[str, Any]]:
    """The warm workflow cache figures of each gunicorn worker process behind `base_url`, by process id:
    `/healthz` answers for the process that serves it, so new connections ask until `processes` answered
    (or `tries` ran out: the figures of the processes seen)."""
    parts = urlsplit(base_url)
    seen: dict[int, dict[str, Any]] = {}
    for _ in range(tries):
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=10)
        try:
            conn.request("GET", "/healthz?scope=process", headers={"Connection": "close"})
            figures = json.loads(conn.getresponse().read())["workflow_cache"]
        finally:
            conn.close()
        seen[figures["process"]] = figures
        if len(seen) >= processes:
            break
    return seen


def hits_and_misses(before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]]) -> tuple[int, int]:
    """Cache hits and misses between two `cache_figures` readings, summed over the processes in both."""
    hits = sum(after[p]["hits"] - before[p]["hits"] for p in after if p in before)
    misses = sum(after[p]["misses"] - before[p]["misses"] for p in after if p in before)
    return hits, misses
