"""Failed sign-ins counted for every process: per account (from any address) and per address (for any account).

Counters live where every process sees them: the database by default (`login_counters`, one upsert per
counter and failure, so the embedded SQLite default needs nothing more), or Redis when `redis_url` is set
(INCR and EXPIRE). Both stand behind `Counters`. Windows are fixed (`login_window_minutes`, numbered by
the injected clock); an account or address with as many failures as its limit in the current window is
locked until the window ends: its passwords are not even checked. Reaching a limit records one
`login_locked` event (the failure that reaches it is counted by exactly one process).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from engine.core.context import EngineContext
from engine.db.models import LoginCounter
from engine.events import stream as audit

log = logging.getLogger(__name__)


class Counters(Protocol):
    """Shared counters of one numbered window."""

    def hits(self, keys: list[str], period: int) -> list[int]:
        """The count of each key in window `period` (0 for none)."""
        ...

    def add(self, keys: list[str], period: int, ttl: int) -> list[int]:
        """Add one to each key in window `period` and return the new counts; kept at least `ttl` seconds."""
        ...

    def clear(self, keys: list[str], period: int) -> None:
        """Forget the keys' counts in window `period`."""
        ...


class DatabaseCounters:
    """Counters in the `login_counters` table: one row per key, reset when a new window starts."""

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

    def hits(self, keys: list[str], period: int) -> list[int]:  # noqa: D102
        with self.ctx.uow(write=False) as uow:
            found = uow.session.execute(
                select(LoginCounter.key, LoginCounter.hits).where(
                    LoginCounter.key.in_(keys), LoginCounter.period == period
                )
            )
            counts = {key: hits for key, hits in found}
        return [counts.get(key, 0) for key in keys]

    def add(self, keys: list[str], period: int, ttl: int) -> list[int]:  # noqa: D102
        counts = []
        with self.ctx.uow() as uow:
            dialect = uow.session.get_bind().dialect.name
            for key in keys:
                counts.append(int(uow.session.execute(_increment(dialect, key, period)).scalar_one()))
            # rows of past windows count for nothing: gone, so names sprayed at the sign-in page do not pile up
            uow.session.execute(delete(LoginCounter).where(LoginCounter.period < period - 1))
            uow.commit()
        return counts

    def clear(self, keys: list[str], period: int) -> None:  # noqa: D102
        with self.ctx.uow() as uow:
            uow.session.execute(delete(LoginCounter).where(LoginCounter.key.in_(keys)))
            uow.commit()


def _increment(dialect: str, key: str, period: int) -> Any:
    """One atomic statement: a new row, one more in the same window, or 1 in a new window."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(LoginCounter).values(key=key, period=period, hits=1)
    return statement.on_conflict_do_update(
        index_elements=[LoginCounter.key],
        set_={
            "hits": case((LoginCounter.period == period, LoginCounter.hits + 1), else_=1),
            "period": period,
        },
    ).returning(LoginCounter.hits)


class RedisCounters:
    """Counters in Redis: a key per counter and window, expiring with the window."""

    def __init__(self, url: str, prefix: str = "pmoflow") -> None:
        import redis  # the optional extra `redis`: only needed when PMOFLOW_REDIS_URL is set

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix

    def _key(self, key: str, period: int) -> str:
        return f"{self.prefix}:login:{key}:{period}"

    def hits(self, keys: list[str], period: int) -> list[int]:  # noqa: D102
        values = self.client.mget([self._key(k, period) for k in keys])
        return [int(v or 0) for v in values]

    def add(self, keys: list[str], period: int, ttl: int) -> list[int]:  # noqa: D102
        pipe = self.client.pipeline()
        for key in keys:
            pipe.incr(self._key(key, period))
            pipe.expire(self._key(key, period), ttl)
        return [int(v) for v in pipe.execute()[::2]]

    def clear(self, keys: list[str], period: int) -> None:  # noqa: D102
        self.client.delete(*[self._key(key, period) for key in keys])


@cache
def _redis(url: str, prefix: str) -> RedisCounters:
    """One client (and connection pool) per process and URL."""
    return RedisCounters(url, prefix)


class FailoverCounters:
    """Redis, and the database while Redis does not answer (logged): the counters stay shared either way."""

    def __init__(self, primary: RedisCounters, fallback: Counters) -> None:
        self.primary = primary
        self.fallback = fallback

    def _either(self, method: str, *args: Any) -> Any:
        import redis

        try:
            return getattr(self.primary, method)(*args)
        except redis.RedisError as err:
            log.warning("Redis unavailable for the sign-in counters (%s); using the database", err)
            return getattr(self.fallback, method)(*args)

    def hits(self, keys: list[str], period: int) -> list[int]:  # noqa: D102
        return list(self._either("hits", keys, period))

    def add(self, keys: list[str], period: int, ttl: int) -> list[int]:  # noqa: D102
        return list(self._either("add", keys, period, ttl))

    def clear(self, keys: list[str], period: int) -> None:  # noqa: D102
        self._either("clear", keys, period)


def counters(ctx: EngineContext) -> Counters:
    """Redis when `redis_url` is set (the database while it does not answer), else the database."""
    if ctx.settings.redis_url:
        return FailoverCounters(_redis(ctx.settings.redis_url, ctx.settings.redis_prefix), DatabaseCounters(ctx))
    return DatabaseCounters(ctx)


@dataclass(frozen=True)
class Lockout:
    """Why sign-in is refused for now, and until when."""

    scope: str  # "account" or "address"
    until: datetime

    @property
    def message(self) -> str:
        what = "this account" if self.scope == "account" else "your address"
        return (
            f"Too many failed sign-ins for {what}. Sign-in is locked until {self.until:%H:%M} UTC; "
            "try again then, or ask an admin."
        )


class Throttle:
    """The sign-in throttle of one engine context."""

    def __init__(self, ctx: EngineContext, store: Counters | None = None) -> None:
        self.ctx = ctx
        self.store = store or counters(ctx)
        settings = ctx.settings
        self.window = max(1, settings.login_window_minutes) * 60
        self.limits = {"account": settings.login_failures_per_account, "address": settings.login_failures_per_address}

    def _period(self) -> int:
        return int(self.ctx.clock.now().timestamp()) // self.window

    def _until(self, period: int) -> datetime:
        return datetime.fromtimestamp((period + 1) * self.window, UTC)

    def _counted(self, username: str, remote: str | None) -> list[tuple[str, str]]:
        keys = [("account", "account:" + username.strip().lower()[:80]), ("address", "address:" + (remote or "?")[:64])]
        return [(scope, key) for scope, key in keys if self.limits[scope] > 0]

    def locked(self, username: str, remote: str | None) -> Lockout | None:
        """The lockout in force for this user name or address, or None."""
        counted = self._counted(username, remote)
        if not counted:
            return None
        period = self._period()
        for (scope, _), hits in zip(counted, self.store.hits([k for _, k in counted], period), strict=True):
            if hits >= self.limits[scope]:
                return Lockout(scope, self._until(period))
        return None

    def failed(self, username: str, remote: str | None) -> Lockout | None:
        """Count a failed sign-in; the lockout it causes (recording `login_locked` once), or None."""
        counted = self._counted(username, remote)
        if not counted:
            return None
        period = self._period()
        found: Lockout | None = None
        for (scope, _), hits in zip(counted, self.store.add([k for _, k in counted], period, self.window), strict=True):
            if hits >= self.limits[scope] and found is None:
                found = Lockout(scope, self._until(period))
            if hits == self.limits[scope]:
                self._record(scope, username, remote, self._until(period))
        return found

    def succeeded(self, username: str) -> None:
        """A correct password: the account's count starts again (the address's stays)."""
        if self.limits["account"] > 0:
            self.store.clear(["account:" + username.strip().lower()[:80]], self._period())

    def _record(self, scope: str, username: str, remote: str | None, until: datetime) -> None:
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            data = {"scope": scope, "remote": remote, "until": until.isoformat()}
            audit.record(uow.session, "login_locked", now, actor=username.strip()[:80], data=data)
            uow.commit()
        log.warning("sign-in locked for %s %s until %s", scope, username if scope == "account" else remote, until)
