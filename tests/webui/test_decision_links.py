"""Deciding from email, end to end: a real SMTP server (aiosmtpd) receives the assignment email, the Approve link
is followed without signing in, the confirmation page's POST decides, and the audit says `channel: email`.
Each way a link must not work (reuse, expiry, forgery, another recipient, reassignment, a scanner's GET, the
setting turned off) changes nothing. Runs on SQLite and PostgreSQL (the `database_url` fixture)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from flask import Flask
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from cli import main as cli
from engine import bootstrap
from engine.admin import users
from engine.core.clock import FixedClock
from engine.db.models import DecisionLinkUse, Event, HumanTask
from engine.events import stream as audit
from engine.notify import actions, preferences
from engine.runtime import instances, jobs
from engine.tasks import collaboration

# the real SMTP server (aiosmtpd) and the chat receiver of the notification tests, as fixtures (read below)
from tests.engine.notify.test_notifications_out import Inbox, Receiver
from tests.engine.notify.test_notifications_out import receiver as _chat_receiver  # noqa: F401 - a fixture
from tests.engine.notify.test_notifications_out import smtp as _mail_server  # noqa: F401 - a fixture
from tests.factories import ADMIN, actor, deploy_shipped
from tests.webui.conftest import intake, sign_in
from webui.app import create_app

BASE = "https://pmo.example.com"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def mail_server(request):
    """The notification tests' SMTP server on loopback: (controller, inbox)."""
    return request.getfixturevalue("_mail_server")


@pytest.fixture
def chat_receiver(request):
    """The notification tests' local HTTP receiver for chat webhooks: its base URL."""
    return request.getfixturevalue("_chat_receiver")


def make_app(database_url: str, clock: FixedClock, port: int, **extra: object) -> Flask:
    """The web app with an SMTP server, chat webhooks on loopback allowed, and alice and frank with addresses."""
    app = create_app(
        {
            "database_url": database_url,
            "secret_key": "web-test",
            "TESTING": True,
            "base_url": BASE,
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "smtp_from": "pmoflow <noreply@pmo.example.com>",
            "smtp_timeout": 5.0,
            "teams_webhook_hosts": "127.0.0.1",
            "chat_webhook_allow_http": True,
            "chat_webhook_allow_private": True,
            **extra,
        },
        clock=clock,
    )
    ctx = app.extensions["pmoflow"]
    deploy_shipped(ctx)
    users.ensure_demo_users(ctx)
    for name in ("alice", "frank"):
        users.update_user(ctx, name, name.title(), f"{name}@example.com", ["approver"], "system")
    return app


@pytest.fixture
def app(database_url, clock, mail_server):
    controller, inbox = mail_server
    inbox.messages.clear()
    application = make_app(database_url, clock, controller.port)
    yield application
    application.extensions["pmoflow"].db.dispose()


def run_jobs(ctx) -> None:
    bootstrap.bootstrap()
    while jobs.run_due(ctx):
        pass


def mail_to(inbox: Inbox, address: str):
    [msg] = [m for tos, m in inbox.messages if tos == [address]]
    return msg


def links_in(msg) -> dict[str, str]:
    """The Approve and Reject links of the text part, as paths; the HTML part carries the same ones."""
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    found = dict(re.findall(r"^(Approve|Reject): (\S+)\s*$", text, re.M))
    for url in found.values():
        assert f'href="{url}"' in html
    return {action.lower(): url.removeprefix(BASE) for action, url in found.items()}


def task_row(app: Flask, task_id: str) -> HumanTask:
    ctx = app.extensions["pmoflow"]
    with ctx.uow(write=False) as uow:
        row = uow.session.scalars(select(HumanTask).where(HumanTask.uuid == task_id)).one()
        uow.session.expunge(row)
        return row


def completions(app: Flask, task_id: str) -> list[Event]:
    ctx = app.extensions["pmoflow"]
    with ctx.uow(write=False) as uow:
        rows = list(
            uow.session.scalars(select(Event).where(Event.type == "task_completed", Event.task_uuid == task_id))
        )
        for row in rows:
            uow.session.expunge(row)
        return rows


def uses(app: Flask) -> int:
    with app.extensions["pmoflow"].uow(write=False) as uow:
        return len(uow.session.scalars(select(DecisionLinkUse)).all())


def confirm(client, path: str, comment: str = ""):
    """What the confirmation page's button does: GET the page, POST its form with its CSRF token."""
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)[:400]
    token = TOKEN.search(page.get_data(as_text=True)).group(1)
    return client.post(path, data={"csrf_token": token, "comment": comment})


@pytest.fixture
def emailed(app, mail_server):
    """A project-intake request whose IT Manager approval was emailed to alice and frank; alice's links."""
    _, inbox = mail_server
    view = intake(app, budget=10_000)
    run_jobs(app.extensions["pmoflow"])
    return view.open_tasks[0].id, links_in(mail_to(inbox, "alice@example.com")), inbox


def test_approve_from_the_email_completes_the_task_with_channel_email(app, emailed):
    task_id, links, inbox = emailed
    assert set(links) == {"approve", "reject"}
    assert links["approve"] != links_in(mail_to(inbox, "frank@example.com"))["approve"]  # bound to the recipient
    client = app.test_client()  # not signed in: the link is the credential
    page = client.get(links["approve"])
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Approve “IT Manager approval”?" in body and "New CRM (PRJ-1)" in body
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    assert task_row(app, task_id).status == "open"  # the GET decided nothing
    done = confirm(client, links["approve"], "Fine by me")
    assert done.status_code == 200 and "Approved" in done.get_data(as_text=True)
    row = task_row(app, task_id)
    assert (row.status, row.completed_by, row.data["decision"], row.data["comment"]) == (
        "completed",
        "alice",
        "approve",
        "Fine by me",
    )
    [event] = completions(app, task_id)
    assert event.actor == "alice" and event.data["channel"] == "email"


def test_reject_needs_the_comment_and_then_decides(app, emailed):
    task_id, links, _ = emailed
    client = app.test_client()
    page = client.get(links["reject"]).get_data(as_text=True)
    assert 'name="comment"' in page and "required" in page
    missing = confirm(client, links["reject"], "  ")
    assert missing.status_code == 422 and "Say why you reject" in missing.get_data(as_text=True)
    assert task_row(app, task_id).status == "open" and uses(app) == 0
    assert confirm(client, links["reject"], "Budget unclear").status_code == 200
    row = task_row(app, task_id)
    assert (row.status, row.data["decision"], row.data["comment"]) == ("completed", "reject", "Budget unclear")


def test_a_scanner_that_only_follows_links_decides_nothing(app, emailed):
    task_id, links, _ = emailed
    scanner = app.test_client()
    for path in (links["approve"], links["reject"], links["approve"]):
        assert scanner.get(path).status_code == 200
        assert scanner.head(path).status_code == 200
    assert task_row(app, task_id).status == "open" and completions(app, task_id) == [] and uses(app) == 0
    # a POST without the page's CSRF token (a scanner replaying the URL as a form) is refused too
    assert app.test_client().post(links["approve"]).status_code == 400
    assert task_row(app, task_id).status == "open"


def test_a_link_works_once_and_its_sibling_is_spent_with_it(app, emailed):
    task_id, links, _ = emailed
    client = app.test_client()
    assert confirm(client, links["approve"]).status_code == 200
    for path in (links["approve"], links["reject"]):
        again = client.get(path)
        assert again.status_code == 409 and "already used" in again.get_data(as_text=True)
        token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
        assert client.post(path, data={"csrf_token": token, "comment": "again"}).status_code == 409
    assert len(completions(app, task_id)) == 1 and uses(app) == 1


def test_an_expired_link_changes_nothing(app, emailed, clock):
    task_id, links, _ = emailed
    client = app.test_client()
    page = client.get(links["approve"])  # opened in time, confirmed too late
    token = TOKEN.search(page.get_data(as_text=True)).group(1)
    clock.advance(timedelta(days=7, seconds=1))
    late = client.post(links["approve"], data={"csrf_token": token})
    assert late.status_code == 409 and "expired" in late.get_data(as_text=True)
    assert client.get(links["approve"]).status_code == 409
    assert task_row(app, task_id).status == "open" and uses(app) == 0


@pytest.mark.parametrize(
    "forge",
    [
        lambda path: path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"),  # signature changed
        lambda path: actions.PATH + "not-a-token",
        lambda path: actions.PATH + "x" * 5000,
        lambda path: actions.PATH + path.removeprefix(actions.PATH).split(".")[0] + ".forged",
    ],
)
def test_a_forged_link_changes_nothing(app, emailed, forge):
    task_id, links, _ = emailed
    client = app.test_client()
    path = forge(links["approve"])
    assert client.get(path).status_code == 404
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    refused = client.post(path, data={"csrf_token": token})
    assert refused.status_code == 404 and "not a" in refused.get_data(as_text=True)
    assert task_row(app, task_id).status == "open" and uses(app) == 0


def test_a_link_signed_with_another_key_is_refused(app, emailed):
    task_id, _, _ = emailed
    payload = {"t": task_id, "u": "alice", "a": "approve", "c": "email", "n": "n0nce", "e": 4_000_000_000}
    path = actions.PATH + URLSafeSerializer("someone-else", salt=actions.SALT).dumps(payload)
    assert app.test_client().get(path).status_code == 404
    assert task_row(app, task_id).status == "open"


def test_a_link_for_someone_who_is_no_candidate_or_with_another_user_signed_in_changes_nothing(app, emailed):
    task_id, links, _ = emailed
    ctx = app.extensions["pmoflow"]
    bobs = actions.issue_link(ctx, task_id, "bob", "approve").removeprefix(BASE)  # Finance, not an IT Manager
    client = app.test_client()
    refused = client.get(bobs)
    assert refused.status_code == 403 and "no longer yours" in refused.get_data(as_text=True)
    frank = app.test_client()
    assert sign_in(frank, "frank").status_code == 302  # a forwarded email, opened where frank is signed in
    other = frank.get(links["approve"])
    assert other.status_code == 403 and "someone else" in other.get_data(as_text=True)
    token = TOKEN.search(frank.get("/tasks").get_data(as_text=True)).group(1)
    assert frank.post(links["approve"], data={"csrf_token": token}).status_code == 403
    assert task_row(app, task_id).status == "open" and uses(app) == 0


def test_a_link_reassigned_since_changes_nothing(app, emailed):
    task_id, links, _ = emailed
    ctx = app.extensions["pmoflow"]
    client = app.test_client()
    token = TOKEN.search(client.get(links["approve"]).get_data(as_text=True)).group(1)
    collaboration.reassign(ctx, ADMIN, task_id, "frank", "alice is away")
    late = client.post(links["approve"], data={"csrf_token": token})
    assert late.status_code == 403 and "no longer yours" in late.get_data(as_text=True)
    assert client.get(links["approve"]).status_code == 403
    row = task_row(app, task_id)
    assert (row.status, row.assignee) == ("open", "frank") and uses(app) == 0


def test_the_requester_is_refused_by_separation_of_duties(app, mail_server):
    """alice started the request herself: her link (were she sent one) may not decide it, as on the form."""
    _, inbox = mail_server
    ctx = app.extensions["pmoflow"]
    view = instances.start(
        ctx,
        actor("alice", "IT Manager", roles=("approver",)),
        "project-intake",
        business_key="PRJ-9",
        variables={"title": "Own", "budget": 10_000, "department": "IT"},
    )
    task_id = view.open_tasks[0].id
    path = actions.issue_link(ctx, task_id, "alice", "approve").removeprefix(BASE)
    refused = app.test_client().get(path)
    assert refused.status_code == 403 and "separation of duties" in refused.get_data(as_text=True)
    assert task_row(app, task_id).status == "open"


def test_turned_off_no_links_are_sent_and_links_sent_before_change_nothing(database_url, clock, mail_server):
    controller, inbox = mail_server
    inbox.messages.clear()
    app = make_app(database_url, clock, controller.port, email_actions=False)
    try:
        ctx = app.extensions["pmoflow"]
        view = intake(app, budget=10_000)
        run_jobs(ctx)
        text = mail_to(inbox, "alice@example.com").get_body(("plain",)).get_content()
        assert "Approve:" not in text and f"{BASE}/tasks/{view.open_tasks[0].id}" in text
        task_id = view.open_tasks[0].id
        sent_before = actions.issue_link(ctx, task_id, "alice", "approve").removeprefix(BASE)
        client = app.test_client()
        page = client.get(sent_before)
        assert page.status_code == 404 and "turned off" in page.get_data(as_text=True)
        token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
        assert client.post(sent_before, data={"csrf_token": token}).status_code == 404
        assert task_row(app, task_id).status == "open" and uses(app) == 0
    finally:
        app.extensions["pmoflow"].db.dispose()


def test_approve_from_a_teams_card_opens_the_same_confirmation_and_records_channel_teams(app, chat_receiver):
    ctx = app.extensions["pmoflow"]
    Receiver.posts.clear()
    alice = actor("alice", "IT Manager", roles=("approver",))
    preferences.save_preferences(ctx, alice, {"task_assigned": ["teams"]}, {"teams": f"{chat_receiver}/teams/alice"})
    view = intake(app, budget=10_000)
    run_jobs(ctx)
    [(_, _, body)] = [p for p in Receiver.posts if p[0] == "/teams/alice"]
    card = body["attachments"][0]["content"]
    buttons = {a["title"]: a["url"] for a in card["actions"] if a["type"] == "Action.OpenUrl"}
    assert set(buttons) == {"Approve", "Reject", "Open the task"}
    task_id = view.open_tasks[0].id
    client = app.test_client()
    assert confirm(client, buttons["Approve"].removeprefix(BASE)).status_code == 200
    [event] = completions(app, task_id)
    assert (event.actor, event.data["channel"]) == ("alice", "teams")


@pytest.mark.parametrize("event_type", ["task_reminder", "task_escalated"])
def test_reminders_and_escalations_carry_fresh_links_too(app, emailed, event_type):
    """Each email gets links of its own; the first one's links keep working until one of them decides."""
    task_id, first, inbox = emailed
    ctx = app.extensions["pmoflow"]
    inbox.messages.clear()
    with ctx.uow() as uow:
        row = uow.session.scalars(select(HumanTask).where(HumanTask.uuid == task_id)).one()
        data = {"name": row.name, "to": "alice"} if event_type == "task_escalated" else {"name": row.name}
        audit.record(uow.session, event_type, ctx.clock.now(), instance=row.instance, task_uuid=task_id, data=data)
        uow.commit()
    run_jobs(ctx)
    again = links_in(mail_to(inbox, "alice@example.com"))
    assert set(again) == {"approve", "reject"} and again["approve"] != first["approve"]
    assert confirm(app.test_client(), again["reject"], "Not this quarter").status_code == 200
    assert task_row(app, task_id).data["decision"] == "reject"
    assert app.test_client().get(first["approve"]).status_code == 409  # the task is done: every link is dead


def test_without_a_configured_secret_key_links_are_sent_signed_with_the_kept_key(
    database_url, clock, mail_server, tmp_path, monkeypatch
):
    """`make run` sets no PMOFLOW_SECRET_KEY: the web server and a separate `pmoflow worker` both use the key kept
    in var/secret_key, so emails still carry Approve / Reject links and the web server accepts them."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PMOFLOW_SECRET_KEY", raising=False)
    monkeypatch.setenv("PMOFLOW_DATABASE_URL", database_url)
    controller, inbox = mail_server
    inbox.messages.clear()
    app = make_app(database_url, clock, controller.port, secret_key=None)
    try:
        ctx = app.extensions["pmoflow"]
        kept = (tmp_path / "var" / "secret_key").read_text().strip()
        assert ctx.settings.secret_key == app.config["SECRET_KEY"] == kept
        view = intake(app, budget=10_000)
        run_jobs(ctx)
        links = links_in(mail_to(inbox, "alice@example.com"))
        assert set(links) == {"approve", "reject"}
        assert app.test_client().get(links["approve"]).status_code == 200  # the confirmation page
        worker = cli._context()  # `pmoflow worker`: another process, the same kept key
        try:
            assert worker.settings.secret_key == kept
            sent_by_worker = actions.issue_link(worker, view.open_tasks[0].id, "frank", "approve")
        finally:
            worker.db.dispose()
        assert app.test_client().get(urlsplit(sent_by_worker).path).status_code == 200
    finally:
        app.extensions["pmoflow"].db.dispose()
