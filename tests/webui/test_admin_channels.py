"""Administration > Channels: an admin turns deciding from messages off and on at run time. Admins only, CSRF on
the form, bad input a 422; a link emailed before the admin turned email actions off gets the refusal page and
changes nothing, and the next email carries only "Open the task". On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from engine.admin import channels
from engine.db.models import HumanTask
from engine.events import stream as audit
from tests.engine.notify.test_notifications_out import smtp as _mail_server  # noqa: F401 - a fixture
from tests.factories import ADMIN
from tests.webui.conftest import csrf_of, intake, sign_in
from tests.webui.test_decision_links import (
    BASE,
    TOKEN,
    links_in,
    mail_to,
    make_app,
    run_jobs,
    task_row,
    uses,
)


@pytest.fixture
def mail_server(request):
    """The notification tests' SMTP server on loopback (aiosmtpd): (controller, inbox)."""
    return request.getfixturevalue("_mail_server")


@pytest.fixture
def app(database_url, clock, mail_server) -> Iterator[Flask]:
    controller, inbox = mail_server
    inbox.messages.clear()
    application = make_app(database_url, clock, controller.port)
    yield application
    application.extensions["pmoflow"].db.dispose()


def admin_client(app: Flask):
    client = app.test_client()
    assert sign_in(client, "pmo").status_code == 302
    return client


def switch(client, setting: str, value: str):
    token = csrf_of(client, "/admin/channels")
    return client.post("/admin/channels", data={"setting": setting, "value": value, "csrf_token": token})


def test_the_page_shows_each_switch_its_value_and_where_it_comes_from(app):
    pmo = admin_client(app)
    page = pmo.get("/admin/channels")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Approve and Reject in emails and Teams cards" in body and "Approve and Reject buttons in Slack" in body
    assert body.count('data-source="environment"') == 2 and "PMOFLOW_EMAIL_ACTIONS" in body
    assert "PMOFLOW_SLACK_BOT_TOKEN" in body  # no Slack app here: the page says what it needs
    assert 'href="/admin/channels" aria-current="page">Channels<' in body  # in the admin navigation
    done = switch(pmo, "email_actions", "off")
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/channels")
    body = pmo.get("/admin/channels").get_data(as_text=True)
    assert body.count('data-source="admin"') == 1 and "pmo," in body and "Follow the server's setting (on)" in body
    assert not channels.enabled(app.extensions["pmoflow"], "email_actions")
    assert switch(pmo, "email_actions", "environment").status_code == 302
    assert channels.enabled(app.extensions["pmoflow"], "email_actions")
    assert pmo.get("/admin/channels").get_data(as_text=True).count('data-source="environment"') == 2


def test_only_admins_see_or_change_it_and_the_form_needs_its_csrf_token(app):
    for user in ("alice", "audrey"):
        client = app.test_client()
        sign_in(client, user)
        assert client.get("/admin/channels").status_code == 403
        token = csrf_of(client, "/tasks")
        refused = client.post("/admin/channels", data={"setting": "email_actions", "value": "off", "csrf_token": token})
        assert refused.status_code == 403
    assert app.test_client().get("/admin/channels").status_code == 302  # to the sign-in page
    pmo = admin_client(app)
    assert pmo.post("/admin/channels", data={"setting": "email_actions", "value": "off"}).status_code == 400
    assert channels.enabled(app.extensions["pmoflow"], "email_actions")
    assert channels.list_switches(app.extensions["pmoflow"], ADMIN)[0].source == "environment"


@pytest.mark.parametrize(
    "form", [{"setting": "email_actions", "value": "maybe"}, {"setting": "fax_actions", "value": "off"}, {}]
)
def test_bad_input_is_a_422_and_changes_nothing(app, form):
    pmo = admin_client(app)
    token = csrf_of(pmo, "/admin/channels")
    assert pmo.post("/admin/channels", data={**form, "csrf_token": token}).status_code == 422
    assert [s.source for s in channels.list_switches(app.extensions["pmoflow"], ADMIN)] == ["environment"] * 2


def test_a_link_sent_before_the_admin_turned_actions_off_is_refused_and_changes_nothing(app, mail_server):
    _, inbox = mail_server
    ctx = app.extensions["pmoflow"]
    view = intake(app, budget=10_000)
    run_jobs(ctx)
    task_id = view.open_tasks[0].id
    sent_before = links_in(mail_to(inbox, "alice@example.com"))
    assert set(sent_before) == {"approve", "reject"}
    assert switch(admin_client(app), "email_actions", "off").status_code == 302  # no restart
    client = app.test_client()
    for path in sent_before.values():
        page = client.get(path)
        assert page.status_code == 404 and "turned off" in page.get_data(as_text=True)
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    assert client.post(sent_before["approve"], data={"csrf_token": token}).status_code == 404
    assert task_row(app, task_id).status == "open" and uses(app) == 0
    # the next message about the task (a reminder) carries the task's link only
    inbox.messages.clear()
    with ctx.uow() as uow:
        row = uow.session.scalars(select(HumanTask).where(HumanTask.uuid == task_id)).one()
        audit.record(uow.session, "task_reminder", ctx.clock.now(), instance=row.instance, task_uuid=task_id)
        uow.commit()
    run_jobs(ctx)
    reminder = mail_to(inbox, "alice@example.com")
    text, html = reminder.get_body(("plain",)).get_content(), reminder.get_body(("html",)).get_content()
    assert links_in(reminder) == {} and "/decide/" not in html and f"{BASE}/tasks/{task_id}" in text
    # turned on again: the old link works again (it had not expired and was never used)
    assert switch(admin_client(app), "email_actions", "on").status_code == 302
    assert client.get(sent_before["approve"]).status_code == 200
