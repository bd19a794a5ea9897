"""Failed sign-ins counted for every process, per account and per address, in the database or in Redis
(a real Redis at PMOFLOW_TEST_REDIS_URL, default redis://127.0.0.1:6379/15), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from engine import bootstrap
from engine.admin import signin, throttle, users
from engine.db.models import Event, LoginCounter

REDIS_URL = os.environ.get("PMOFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_answers() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001 - any failure means no Redis to test against
        return False


@pytest.fixture(params=["database", "redis"])
def limited(request, settings):
    """Settings with small limits, counting in the database or in Redis (keys under a prefix of this test's own)."""
    small = replace(settings, login_failures_per_account=3, login_failures_per_address=5, login_window_minutes=15)
    if request.param == "database":
        yield small
        return
    if not redis_answers():
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"pmoflow-test-{uuid.uuid4().hex[:12]}"
    yield replace(small, redis_url=REDIS_URL, redis_prefix=prefix)
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def processes(limited, clock):
    """Two engine contexts on the same database and counters: two processes of one installation."""
    contexts = [bootstrap.context(limited, clock=clock) for _ in range(2)]
    users.create_user(contexts[0], "alice", "demo", [], ["approver"])
    users.create_user(contexts[0], "bob", "demo", [], ["approver"])
    yield contexts
    for context in contexts:
        context.db.dispose()


def locked_events(ctx) -> list[SimpleNamespace]:
    with ctx.uow(write=False) as uow:
        found = uow.session.scalars(select(Event).where(Event.type == "login_locked").order_by(Event.id))
        return [SimpleNamespace(actor=e.actor, data=e.data) for e in found]


def test_two_processes_share_the_allowance_of_an_account(processes):
    first, second = processes
    results = [signin.sign_in((first, second)[i % 2], "alice", "wrong", "10.0.0.1") for i in range(3)]
    assert [r.lockout is not None for r in results] == [False, False, True]
    refused = signin.sign_in(first, "alice", "demo", "10.0.0.1")  # the right password, locked all the same
    assert refused.token is None and refused.lockout is not None and refused.lockout.scope == "account"
    assert signin.sign_in(second, "alice", "demo", "10.0.0.1").token is None


def test_an_account_is_limited_across_addresses(processes, clock):
    first, second = processes
    for i in range(3):
        signin.sign_in((first, second)[i % 2], "alice", "wrong", f"10.0.{i}.9")
    result = signin.sign_in(second, "alice", "demo", "10.9.9.9")
    assert result.lockout is not None and result.lockout.scope == "account"
    assert "Too many failed sign-ins for this account" in result.lockout.message
    assert signin.sign_in(first, "bob", "demo", "10.0.0.9").token is not None  # other accounts: fine
    [event] = locked_events(first)  # recorded once, by the process that counted the third failure
    assert (event.actor, event.data["scope"], event.data["remote"]) == ("alice", "account", "10.0.2.9")
    clock.advance(timedelta(minutes=15))  # the window ends: the account may try again
    assert signin.sign_in(first, "alice", "demo", "10.9.9.9").token is not None


def test_an_address_is_limited_across_accounts(processes):
    first, second = processes
    for i in range(5):
        signin.sign_in((first, second)[i % 2], f"guess{i}", "wrong", "10.6.6.6")
    result = signin.sign_in(first, "bob", "demo", "10.6.6.6")
    assert result.lockout is not None and result.lockout.scope == "address"
    assert "your address" in result.lockout.message
    assert signin.sign_in(second, "bob", "demo", "10.0.0.7").token is not None  # from elsewhere: fine
    assert [(e.data["scope"], e.data["remote"]) for e in locked_events(first)] == [("address", "10.6.6.6")]


def test_a_correct_password_starts_the_account_count_again(processes):
    first, second = processes
    for _ in range(2):
        signin.sign_in(first, "alice", "wrong", "10.0.0.1")
    assert signin.sign_in(second, "alice", "demo", "10.0.0.1").token is not None
    for _ in range(2):
        assert signin.sign_in(first, "alice", "wrong", "10.0.0.1").lockout is None


def test_a_limit_of_zero_counts_nothing(settings, clock):
    ctx = bootstrap.context(replace(settings, login_failures_per_account=0, login_failures_per_address=0), clock=clock)
    try:
        users.create_user(ctx, "alice", "demo", [], ["approver"])
        for _ in range(20):
            assert signin.sign_in(ctx, "alice", "wrong", "10.0.0.1").lockout is None
        with ctx.uow(write=False) as uow:
            assert uow.session.scalars(select(LoginCounter)).all() == []
    finally:
        ctx.db.dispose()


def test_the_database_counter_starts_again_in_a_new_window(ctx):
    store = throttle.DatabaseCounters(ctx)
    assert store.add(["k", "j"], 7, 60) == [1, 1]
    assert store.add(["k"], 7, 60) == [2]
    assert store.hits(["k", "j", "none"], 7) == [2, 1, 0]
    assert store.add(["k"], 8, 60) == [1]
    assert store.hits(["k"], 7) == [0]
    store.clear(["k"], 8)
    assert store.hits(["k"], 8) == [0]
    store.add(["later"], 10, 60)  # rows of windows before the last one go
    with ctx.uow(write=False) as uow:
        assert {c.key for c in uow.session.scalars(select(LoginCounter))} == {"later"}


def test_without_redis_the_counters_fall_back_to_the_database(settings, clock):
    ctx = bootstrap.context(
        replace(settings, redis_url="redis://127.0.0.1:1/0", login_failures_per_account=2), clock=clock
    )
    try:
        users.create_user(ctx, "alice", "demo", [], ["approver"])
        assert signin.sign_in(ctx, "alice", "wrong", "10.0.0.1").lockout is None
        assert signin.sign_in(ctx, "alice", "wrong", "10.0.0.1").lockout is not None
        with ctx.uow(write=False) as uow:
            assert {c.key for c in uow.session.scalars(select(LoginCounter))} == {"account:alice", "address:10.0.0.1"}
    finally:
        ctx.db.dispose()
