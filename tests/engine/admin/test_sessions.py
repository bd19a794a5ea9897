"""Server-side browser sessions, on SQLite and PostgreSQL: ended at once for every process, and timeouts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from engine import bootstrap
from engine.admin import passwords, sessions, signin, users
from engine.core.errors import NotFound
from engine.db.models import Event, WebSession

NEW_PASSWORD = "another-secret"  # noqa: S105 - test password


@pytest.fixture
def people(ctx):
    users.create_user(ctx, "pmo", "demo", [], ["admin"])
    users.create_user(ctx, "alice", "demo", ["IT Manager"], ["approver"])
    return ctx


@pytest.fixture
def other_process(settings, clock):
    """A second engine context on the same database: what another gunicorn worker or server has."""
    context = bootstrap.context(settings, clock=clock)
    yield context
    context.db.dispose()


def start(ctx, user: str = "alice", remote: str = "10.0.0.1") -> str:
    result = signin.sign_in(ctx, user, "demo", remote, "Firefox")
    assert result.token is not None and result.user is not None
    return result.token


def rows(ctx) -> list[SimpleNamespace]:
    with ctx.uow(write=False) as uow:
        found = uow.session.scalars(select(WebSession).order_by(WebSession.id))
        return [SimpleNamespace(**{c: getattr(r, c) for c in COLUMNS}) for r in found]


COLUMNS = ("uuid", "token_hash", "user_agent", "remote", "ended_at", "end_reason", "last_seen_at")


def event_types(ctx) -> list[str]:
    with ctx.uow(write=False) as uow:
        return list(uow.session.scalars(select(Event.type).order_by(Event.id)))


def test_a_session_is_stored_only_as_the_hash_of_its_id(people):
    token = start(people)
    [row] = rows(people)
    assert row.token_hash == sessions.digest(token) and token not in row.token_hash
    assert (row.user_agent, row.remote, row.ended_at) == ("Firefox", "10.0.0.1", None)
    found = sessions.current(people, token)
    assert found is not None and found.actor.username == "alice" and found.session_id == row.uuid
    assert sessions.current(people, token + "x") is None


def test_signing_out_ends_the_session_for_every_process(people, other_process):
    token = start(people)
    assert sessions.current(other_process, token) is not None
    sessions.end(people, token, "alice")
    assert sessions.current(other_process, token) is None
    assert sessions.current(people, token) is None
    [row] = rows(people)
    assert row.end_reason == "signed_out"
    assert event_types(people)[-1] == "logout"


def test_signing_out_everywhere_ends_every_session_of_the_user_only(people, other_process):
    laptop, phone, admin = start(people), start(people, remote="10.0.0.2"), start(people, "pmo")
    assert [s.remote for s in sessions.live_sessions(people, "alice")] == ["10.0.0.2", "10.0.0.1"]
    assert sessions.end_sessions(people, "alice", actor="alice") == 2
    assert sessions.current(other_process, laptop) is None and sessions.current(other_process, phone) is None
    assert sessions.current(other_process, admin) is not None
    assert sessions.live_sessions(people, "alice") == []
    assert {r.end_reason for r in rows(people) if r.ended_at} == {"signed_out_everywhere"}
    with people.uow(write=False) as uow:
        [event] = uow.session.scalars(select(Event).where(Event.type == "sessions_ended"))
        assert (event.actor, event.data) == ("alice", {"username": "alice", "count": 2})
    with pytest.raises(NotFound):
        sessions.end_sessions(people, "nobody", actor="pmo")


def test_an_admin_ends_one_session(people):
    laptop, phone = start(people), start(people, remote="10.0.0.2")
    phone_id = sessions.current(people, phone).session_id
    assert sessions.end_sessions(people, "alice", actor="pmo", session_id=phone_id) == 1
    assert sessions.current(people, phone) is None and sessions.current(people, laptop) is not None
    assert [r.end_reason for r in rows(people)] == [None, "ended_by_admin"]
    assert sessions.end_sessions(people, "alice", actor="pmo", session_id=phone_id) == 0  # already ended


def test_a_password_change_ends_every_session(people, other_process):
    laptop, phone = start(people), start(people)
    passwords.change_password(people, "alice", "demo", NEW_PASSWORD)
    assert sessions.current(other_process, laptop) is None and sessions.current(other_process, phone) is None
    assert {r.end_reason for r in rows(people)} == {"password_changed"}


def test_a_session_unused_for_the_idle_time_ends(people, clock):
    idle = timedelta(minutes=people.settings.session_idle_minutes)
    token = start(people)
    for _ in range(3):  # used just in time, again and again: it lives on
        clock.advance(idle - timedelta(minutes=1))
        assert sessions.current(people, token) is not None
    clock.advance(idle)
    assert sessions.current(people, token) is None
    clock.advance(-idle)  # even seen again within the time: it ended for good
    assert sessions.current(people, token) is None
    assert rows(people)[0].end_reason == "idle"


def test_a_session_ends_at_its_maximum_age_however_busy(people, clock):
    token = start(people)
    used = timedelta(minutes=30)
    for _ in range(int(timedelta(hours=people.settings.session_max_hours) / used) - 1):
        clock.advance(used)
        assert sessions.current(people, token) is not None
    clock.advance(used)
    assert sessions.current(people, token) is None
    assert rows(people)[0].end_reason == "expired"


def test_timeouts_are_configurable(people, clock, settings):
    short = bootstrap.context(replace(settings, session_idle_minutes=5, session_max_hours=1), clock=clock)
    try:
        token = start(short)
        clock.advance(timedelta(minutes=4))
        assert sessions.current(short, token) is not None
        clock.advance(timedelta(minutes=5))
        assert sessions.current(short, token) is None
    finally:
        short.db.dispose()


def test_last_use_is_written_at_most_every_touch_interval(people, clock):
    token = start(people)
    signed_in = rows(people)[0].last_seen_at
    clock.advance(timedelta(seconds=people.settings.session_touch_seconds - 1))
    assert sessions.current(people, token) is not None
    assert rows(people)[0].last_seen_at == signed_in  # no write
    clock.advance(timedelta(seconds=1))
    assert sessions.current(people, token) is not None
    assert rows(people)[0].last_seen_at == clock.now()


def test_old_ended_sessions_are_purged_at_a_later_sign_in(people, clock):
    token = start(people)
    sessions.end(people, token, "alice")
    clock.advance(sessions.KEEP_ENDED + timedelta(days=1))
    start(people)
    assert [r.ended_at for r in rows(people)] == [None]
