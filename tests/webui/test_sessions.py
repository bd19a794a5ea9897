"""Sign-out that holds, through Flask's client on SQLite and PostgreSQL: two apps on one database stand for two
processes (gunicorn workers, servers); a cookie copied before signing out works on neither afterwards.
Throttled sign-in: shared by both apps, per account and per address, with the lockout in the audit trail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.admin import sessions, users
from engine.core.clock import FixedClock
from tests.webui.conftest import csrf_of, sign_in
from webui.app import create_app


@pytest.fixture
def second_app(app: Flask, database_url: str, clock: FixedClock) -> Iterator[Flask]:
    """Another process of the same installation: same database, same secret key, its own caches."""
    application = create_app(
        {"database_url": database_url, "secret_key": "web-test", "TESTING": True, "login_failures_per_account": 3},
        clock=clock,
    )
    yield application
    application.extensions["pmoflow"].db.dispose()


def copy_of(client: FlaskClient, other: Flask) -> FlaskClient:
    """A client of `other` holding `client`'s session cookie: a stolen or copied cookie."""
    copied = other.test_client()
    cookie = client.get_cookie("session")
    assert cookie is not None
    copied.set_cookie("session", cookie.value)
    return copied


def post(client: FlaskClient, url: str, **data: str):
    return client.post(url, data={**data, "csrf_token": csrf_of(client, "/tasks")})


def test_signing_out_ends_the_session_on_every_process(app, second_app):
    alice = app.test_client()
    assert sign_in(alice, "alice").status_code == 302
    copied = copy_of(alice, second_app)
    assert copied.get("/tasks").status_code == 200
    assert post(alice, "/logout").status_code == 302
    assert copied.get("/tasks").status_code == 302  # the other process refuses the copied cookie at once
    assert copy_of(copied, app).get("/tasks").status_code == 302


def test_sign_out_everywhere_from_the_account_page(app, second_app):
    laptop, phone = app.test_client(), second_app.test_client()
    sign_in(laptop, "alice")
    sign_in(phone, "alice")
    page = laptop.get("/account/sessions").get_data(as_text=True)
    assert page.count('name="session"') == 2 and "this session" in page and "Sign out everywhere" in page
    response = post(laptop, "/account/sessions")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert laptop.get("/tasks").status_code == 302 and phone.get("/tasks").status_code == 302


def test_signing_out_another_session_from_the_account_page(app, second_app):
    laptop, phone = app.test_client(), second_app.test_client()
    ctx = app.extensions["pmoflow"]
    sign_in(laptop, "alice")
    [mine] = sessions.live_sessions(ctx, "alice")
    sign_in(phone, "alice")
    [other] = [s for s in sessions.live_sessions(ctx, "alice") if s.id != mine.id]
    assert post(laptop, "/account/sessions", session=other.id).status_code == 302
    assert laptop.get("/tasks").status_code == 200 and phone.get("/tasks").status_code == 302


def test_an_admin_sees_and_ends_a_users_sessions(app, second_app):
    alice = second_app.test_client()
    sign_in(alice, "alice")
    admin = app.test_client()
    sign_in(admin, "pmo")
    page = admin.get("/admin/users/alice").get_data(as_text=True)
    assert "Signed-in sessions" in page and "End all sessions of alice" in page
    response = post(admin, "/admin/users/alice/sessions")
    assert response.status_code == 302
    assert alice.get("/tasks").status_code == 302
    assert "Ended 1 session of alice" in admin.get("/admin/users/alice").get_data(as_text=True)


def test_a_password_change_ends_the_other_sessions_too(app, second_app):
    laptop, phone = app.test_client(), second_app.test_client()
    sign_in(laptop, "alice")
    sign_in(phone, "alice")
    response = post(laptop, "/account/password", current="demo", new="a-new-password", confirm="a-new-password")
    assert response.status_code == 302
    assert phone.get("/tasks").status_code == 302 and laptop.get("/tasks").status_code == 302


def test_a_deactivation_ends_sessions_on_every_process(app, second_app):
    alice = second_app.test_client()
    sign_in(alice, "alice")
    users.deactivate(app.extensions["pmoflow"], "alice", "pmo")
    assert alice.get("/tasks").status_code == 302


def attempt(application: Flask, user: str, password: str, address: str):
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return sign_in(client, user, password)


def test_failed_sign_ins_are_counted_for_every_process_and_the_lockout_is_audited(app, second_app):
    apps = [app, second_app]  # the second one allows 3 failures per account; both count in one place
    for i in range(2):
        assert attempt(apps[i % 2], "alice", "wrong", f"10.1.0.{i}").status_code == 401
    third = attempt(second_app, "alice", "wrong", "10.1.0.9")
    assert third.status_code == 429
    assert "Too many failed sign-ins for this account" in third.get_data(as_text=True)
    refused = attempt(second_app, "alice", "demo", "10.2.0.1")  # right password, other address: still locked
    assert refused.status_code == 429 and "locked until" in refused.get_data(as_text=True)
    auditor = app.test_client()
    sign_in(auditor, "pmo")
    trail = auditor.get("/audit?action=login_locked").get_data(as_text=True)  # sign-ins are hidden by default
    assert "sign-in locked for account alice" in trail


def test_the_default_limits_lock_an_address_trying_many_accounts(app):
    ctx = app.extensions["pmoflow"]
    limit = ctx.settings.login_failures_per_address
    statuses = [attempt(app, f"user{i}", "wrong", "10.3.3.3").status_code for i in range(limit)]
    assert statuses == [401] * (limit - 1) + [429]
    assert attempt(app, "alice", "demo", "10.3.3.3").status_code == 429
    assert attempt(app, "alice", "demo", "10.3.3.4").status_code == 302
