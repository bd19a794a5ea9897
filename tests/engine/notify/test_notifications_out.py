"""Notifications out: a real SMTP server (aiosmtpd on loopback) and a local HTTP receiver for Slack/Teams."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from engine import bootstrap
from engine.admin import users
from engine.core.config import Settings
from engine.core.errors import InvalidInput
from engine.db.models import Job
from engine.definitions import deployments
from engine.notify import preferences, recipients, rendering
from engine.runtime import instances, jobs, timers
from engine.tasks import claims, completion
from tests.bpmn_samples import document, flow, lane, one_approval, process, user_task
from tests.factories import ADMIN, BOT, actor, source

BASE = "https://pmo.example.com"
ALICE = actor("alice", "IT Manager")
ANN = actor("ann", "IT Manager")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps what it receives; `refuse` makes the next deliveries fail (451)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


class Receiver(BaseHTTPRequestHandler):
    posts: list[tuple[str, dict, dict]] = []
    answers: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).posts.append((self.path, dict(self.headers), body))
        status, headers, text = type(self).answers.get(self.path, (200, {}, b"ok"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(database_url, smtp):
    controller, _ = smtp
    return Settings(
        database_url=database_url,
        secret_key="test-secret",
        script_time_limit=1.0,
        base_url=BASE,
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_security="none",
        smtp_from="pmoflow <noreply@pmo.example.com>",
        smtp_timeout=5.0,
        slack_webhook_hosts="127.0.0.1",
        teams_webhook_hosts="127.0.0.1",
        chat_webhook_allow_http=True,
        chat_webhook_allow_private=True,
        chat_timeout=5.0,
    )


@pytest.fixture
def inbox(smtp):
    _, box = smtp
    box.messages.clear()
    box.refuse = 0
    Receiver.posts.clear()
    Receiver.answers.clear()
    return box


@pytest.fixture
def people(ctx):
    """alice and ann (IT Manager, with addresses), nora (IT Manager, no address), the requester rita."""
    for name, groups, mail in (
        ("alice", ["IT Manager"], "alice@example.com"),
        ("ann", ["IT Manager"], "ann@example.com"),
        ("nora", ["IT Manager"], None),
        ("rita", [], "rita@example.com"),
    ):
        users.create_user(ctx, name, "demo", groups, ["approver"], display_name=name.title())
        if mail:
            users.update_user(ctx, name, name.title(), mail, ["approver"], "system")
    users.create_user(ctx, "intake-bot", None, [], ["api"])
    deployments.deploy(ctx, ADMIN, [source("one.bpmn", one_approval())])


RITA = actor("rita", roles=("approver",))


def queued(ctx, kind: str | None = None) -> list[Job]:
    with ctx.uow(write=False) as uow:
        query = select(Job).where(Job.kind.like("notify.%")).order_by(Job.id)
        rows = list(uow.session.scalars(query if kind is None else query.where(Job.kind == kind)))
        for row in rows:
            uow.session.expunge(row)
        return rows


def run_jobs(ctx) -> None:
    bootstrap.bootstrap()
    while jobs.run_due(ctx):
        pass


def test_a_new_group_task_emails_each_member_with_an_address(ctx, people, inbox):
    view = instances.start(ctx, RITA, "p1", business_key="PRJ-7", variables={"title": "New <CRM> & more"})
    task_id = view.open_tasks[0].id
    assert sorted(j.payload["username"] for j in queued(ctx, "notify.email")) == ["alice", "ann"]  # nora: none
    run_jobs(ctx)
    assert {j.status for j in queued(ctx)} == {"done"}
    assert sorted(to for tos, _ in inbox.messages for to in tos) == ["alice@example.com", "ann@example.com"]
    tos, msg = next(m for m in inbox.messages if m[0] == ["alice@example.com"])
    assert msg["Subject"] == "New task: Approve (New <CRM> & more (PRJ-7))"
    assert msg["To"] == "Alice <alice@example.com>" and msg["From"] == "pmoflow <noreply@pmo.example.com>"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    link = f"{BASE}/tasks/{task_id}"
    assert link in text and f'href="{link}"' in html
    assert "Approve for New <CRM> & more (PRJ-7) is waiting for your group IT Manager." in text
    assert "New &lt;CRM&gt; &amp; more" in html and "<CRM>" not in html  # autoescaped
    assert f"{BASE}/account/notifications" in text


def test_nothing_is_enqueued_for_a_rolled_back_step(ctx, people, inbox):
    view = instances.start(ctx, RITA, "p1")
    before = len(queued(ctx))
    with ctx.uow() as uow:  # an event recorded in a transaction that rolls back
        from engine.db.statements import load_instance
        from engine.events import stream as audit

        row = load_instance(uow.session, view.id)
        audit.record(
            uow.session,
            "task_reminder",
            ctx.clock.now(),
            instance=row,
            task_uuid=view.open_tasks[0].id,
            data={"name": "Approve"},
        )
        assert len(uow.session.scalars(select(Job).where(Job.kind == "notify.email")).all()) > before
        # leaving without commit rolls back
    assert len(queued(ctx)) == before


def test_reassignment_notifies_only_the_new_assignee_and_not_the_actor(ctx, people, inbox):
    view = instances.start(ctx, RITA, "p1")
    before = {j.id for j in queued(ctx)}
    from engine.tasks import collaboration

    collaboration.reassign(ctx, ADMIN, view.open_tasks[0].id, "ann", "alice is busy")
    new = [j for j in queued(ctx) if j.id not in before]
    assert [(j.payload["username"], j.payload["kind"]) for j in new] == [("ann", "task_assigned")]
    assert new[0].payload["context"]["reason"] == "alice is busy" and new[0].payload["context"]["whom"] == "you"
    claims.claim(ctx, ALICE, instances.start(ctx, RITA, "p1").open_tasks[0].id)  # claiming: nobody else
    count = len(queued(ctx))
    completion.complete(ctx, ANN, view.open_tasks[0].id, {})
    finished = queued(ctx)[count:]
    assert [(j.payload["username"], j.payload["kind"]) for j in finished] == [("rita", "instance_finished")]
    run_jobs(ctx)
    rita = [m for tos, m in inbox.messages if tos == ["rita@example.com"]]
    assert (
        rita[0]["Subject"].startswith("Completed: ")
        and f"{BASE}/requests/{view.id}" in rita[0].get_body(("plain",)).get_content()
    )


def test_preferences_are_honoured_per_kind_and_channel(ctx, people, inbox, receiver):
    preferences.save_preferences(
        ctx, ALICE, {"task_assigned": ["slack"], "instance_finished": ["email"]}, {"slack": f"{receiver}/slack/alice"}
    )
    preferences.save_preferences(ctx, ANN, {"task_assigned": ["teams"]}, {"teams": f"{receiver}/teams/ann"})
    mine = preferences.preferences(ctx, ALICE)
    assert {k.name: set(k.channels) for k in mine.kinds}["task_assigned"] == {"slack"}
    assert mine.slack_webhook.startswith("127.0.0.1/…/") and "slack/alice" not in mine.slack_webhook
    view = instances.start(ctx, RITA, "p1", business_key="PRJ-9", variables={"title": "ERP <upgrade>"})
    assert sorted((j.payload["username"], j.kind) for j in queued(ctx)) == [
        ("alice", "notify.slack"),
        ("ann", "notify.teams"),
    ]
    assert all("127.0.0.1" not in json.dumps(j.payload) for j in queued(ctx))  # URLs stay out of the queue
    run_jobs(ctx)
    assert inbox.messages == []
    link = f"{BASE}/tasks/{view.open_tasks[0].id}"
    ((path, headers, slack),) = [p for p in Receiver.posts if p[0] == "/slack/alice"]
    assert headers["Content-Type"] == "application/json"
    assert slack["text"].startswith("New task: Approve (ERP &lt;upgrade&gt; (PRJ-9))") and link in slack["text"]
    types = [b["type"] for b in slack["blocks"]]
    assert types == ["header", "section", "section", "actions"]
    assert slack["blocks"][0]["text"] == {"type": "plain_text", "text": "New task: Approve (ERP <upgrade> (PRJ-9))"}
    assert slack["blocks"][1]["text"]["type"] == "mrkdwn" and "&lt;upgrade&gt;" in slack["blocks"][1]["text"]["text"]
    assert slack["blocks"][3]["elements"][0]["url"] == link
    ((_, _, teams),) = [p for p in Receiver.posts if p[0] == "/teams/ann"]
    assert teams["type"] == "message" and len(teams["attachments"]) == 1
    attachment = teams["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (
        card["type"] == "AdaptiveCard" and card["version"] == "1.4" and card["$schema"].endswith("adaptive-card.json")
    )
    assert card["body"][0]["type"] == "TextBlock" and "ERP <upgrade>" in card["body"][0]["text"]
    assert {"title": "Task", "value": "Approve"} in next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the task", "url": link}]


def test_a_user_without_an_address_gets_no_email_silently(ctx, people, inbox):
    users.update_user(ctx, "alice", "Alice", "", ["approver"], "system")
    users.update_user(ctx, "ann", "Ann", "", ["approver"], "system")
    instances.start(ctx, RITA, "p1")
    assert queued(ctx) == []


def test_an_address_removed_after_enqueueing_skips_the_job(ctx, people, inbox):
    instances.start(ctx, RITA, "p1")
    users.update_user(ctx, "alice", "Alice", "", ["approver"], "system")
    run_jobs(ctx)
    assert [tos for tos, _ in inbox.messages] == [["ann@example.com"]]
    skipped = next(j for j in queued(ctx) if j.payload["username"] == "alice")
    assert skipped.status == "done" and "skipped" in skipped.result


def test_smtp_failure_is_retried_with_backoff(ctx, people, inbox, clock):
    users.update_user(ctx, "ann", "Ann", "", ["approver"], "system")
    instances.start(ctx, RITA, "p1")
    inbox.refuse = 1
    run_jobs(ctx)
    (job,) = queued(ctx)
    assert job.status == "pending" and job.attempts == 1 and "451" in job.last_error and inbox.messages == []
    clock.advance(timedelta(seconds=11))
    run_jobs(ctx)
    (job,) = queued(ctx)
    assert job.status == "done" and job.attempts == 2 and len(inbox.messages) == 1


def test_starttls_is_required_when_configured(ctx, people, inbox):
    from dataclasses import replace

    ctx.settings = replace(ctx.settings, smtp_security="starttls")  # the test server offers no STARTTLS
    instances.start(ctx, RITA, "p1")
    run_jobs(ctx)
    assert inbox.messages == []  # never sent in the clear
    for job in queued(ctx):
        assert job.status == "pending" and "STARTTLS" in job.last_error


def test_smtp_server_down_is_retried_and_never_shows_the_password(ctx, people, inbox):
    from dataclasses import replace

    ctx.settings = replace(ctx.settings, smtp_port=free_port(), smtp_username="u", smtp_password="hunter2-secret")
    instances.start(ctx, RITA, "p1")
    run_jobs(ctx)
    for job in queued(ctx):
        assert job.status == "pending" and job.last_error and "hunter2" not in job.last_error
    assert "hunter2" not in repr(ctx.settings)


def test_chat_answers_map_to_retry_fail_and_done(ctx, people, inbox, receiver, clock):
    preferences.save_preferences(ctx, ALICE, {"task_assigned": ["slack"]}, {"slack": f"{receiver}/slack/busy"})
    preferences.save_preferences(ctx, ANN, {"task_assigned": ["teams"]}, {"teams": f"{receiver}/teams/moved"})
    Receiver.answers["/slack/busy"] = (429, {"Retry-After": "30"}, b"rate_limited")
    Receiver.answers["/teams/moved"] = (302, {"Location": "https://elsewhere.example/"}, b"")
    instances.start(ctx, RITA, "p1")
    run_jobs(ctx)
    (slack_job,) = queued(ctx, "notify.slack")
    (teams_job,) = queued(ctx, "notify.teams")
    assert slack_job.status == "pending" and slack_job.run_at == clock.now() + timedelta(seconds=30)
    assert teams_job.status == "failed" and "redirect" in teams_job.last_error
    assert "/teams/moved" not in teams_job.last_error
    assert len([p for p in Receiver.posts if p[0] == "/teams/moved"]) == 1  # not followed
    Receiver.answers["/slack/busy"] = (404, {}, b"no_service")
    clock.advance(timedelta(seconds=31))
    run_jobs(ctx)
    (slack_job,) = queued(ctx, "notify.slack")
    assert slack_job.status == "failed" and "404" in slack_job.last_error and "no_service" in slack_job.last_error


def sla_process(interrupting: bool) -> str:
    cancel = str(interrupting).lower()
    body = (
        user_task("approve", "Approve")
        + f'<bpmn:boundaryEvent id="sla_timer" attachedToRef="approve" cancelActivity="{cancel}">'
        '<bpmn:timerEventDefinition id="sla_t"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1H"'
        "</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>\n"
        + '<bpmn:startEvent id="start"/>\n<bpmn:endEvent id="end"/>\n<bpmn:endEvent id="end2"/>\n'
        + flow("f0", "start", "approve")
        + flow("f1", "approve", "end")
        + flow("f2", "sla_timer", "end2")
    )
    return document(process(body, lane("IT Manager", "approve"), pid="sla"))


@pytest.mark.parametrize(
    ("interrupting", "kind", "subject"),
    [
        (True, "sla_breached", "Overdue: Approve (Test (SLA-1))"),
        (False, "task_reminder", "Reminder: Approve (Test (SLA-1))"),
    ],
)
def test_fired_sla_timers_notify_the_task_people(ctx, people, inbox, clock, interrupting, kind, subject):
    deployments.deploy(ctx, ADMIN, [source("sla.bpmn", sla_process(interrupting))])
    view = instances.start(ctx, RITA, "sla", business_key="SLA-1")
    claims.claim(ctx, ALICE, view.open_tasks[0].id)
    run_jobs(ctx)
    inbox.messages.clear()
    clock.advance(timedelta(hours=2))
    timers.fire_due(ctx)
    fired = [j for j in queued(ctx) if j.payload["kind"] == kind]
    assert [j.payload["username"] for j in fired] == ["alice"]
    run_jobs(ctx)
    ((tos, msg),) = [m for m in inbox.messages if m[1]["Subject"] == subject]
    assert tos == ["alice@example.com"]
    body = msg.get_body(("plain",)).get_content()
    assert f"{BASE}/tasks/{view.open_tasks[0].id}" in body and "By:" not in body  # the timer is nobody


def test_routes_are_one_table_and_new_event_types_route_by_name(ctx, people, inbox):
    assert recipients.ROUTES["task_reminder"].kind == "task_reminder"
    assert recipients.ROUTES["task_escalated"].kind == "task_escalated"
    assert set(r.kind for r in recipients.ROUTES.values()) <= set(preferences.KINDS)
    view = instances.start(ctx, RITA, "p1")
    before = len(queued(ctx))
    from engine.db.statements import load_instance
    from engine.events import stream as audit

    with ctx.uow() as uow:
        row = load_instance(uow.session, view.id)
        audit.record(
            uow.session,
            "task_escalated",
            ctx.clock.now(),
            instance=row,
            task_uuid=view.open_tasks[0].id,
            data={"name": "Approve", "to": "rita"},
        )
        uow.commit()
    new = queued(ctx)[before:]
    assert [(j.payload["username"], j.payload["kind"]) for j in new] == [("rita", "task_escalated")]
    message = rendering.message(new[0].payload["context"], ctx.settings)
    assert message.subject.startswith("Escalated: Approve") and message.url.endswith(f"/tasks/{view.open_tasks[0].id}")


@pytest.mark.parametrize(
    ("channel", "url", "problem"),
    [
        ("slack", "http://hooks.slack.com/services/x", "https"),
        ("slack", "https://evil.example.com/services/x", "hooks.slack.com"),
        ("slack", "https://user:pw@hooks.slack.com/services/x", "no user"),
        ("slack", "https://hooks.slack.com:8443/services/x", "port"),
        ("teams", "https://hooks.slack.com/services/x", "webhook.office.com"),
        ("teams", "https://contoso.webhook.office.com.evil.example/x", "webhook.office.com"),
    ],
)
def test_webhook_urls_must_be_https_on_an_allowed_host(channel, url, problem):
    found = preferences.webhook_problem(url, channel, Settings())
    assert found is not None and problem in found


def test_allowed_webhook_hosts(ctx):
    strict = Settings()
    assert preferences.webhook_problem("https://hooks.slack.com/services/T0/B0/x", "slack", strict) is None
    assert preferences.webhook_problem("https://contoso.webhook.office.com/webhookb2/x", "teams", strict) is None
    assert preferences.webhook_problem("https://prod-1.westus.logic.azure.com:443/workflows/x", "teams", strict) is None
    custom = Settings(slack_webhook_hosts="chat.internal.example")
    assert preferences.webhook_problem("https://chat.internal.example/hook", "slack", custom) is None


def test_saving_bad_preferences_names_each_field_and_changes_nothing(ctx, people):
    with pytest.raises(InvalidInput) as err:
        preferences.save_preferences(
            ctx, ALICE, {"task_assigned": ["pigeon"], "nonsense": ["email"]}, {"slack": "https://evil.example/x"}
        )
    fields = err.value.details["fields"]
    assert set(fields) == {"task_assigned", "nonsense", "slack_webhook"} and "pigeon" in fields["task_assigned"]
    assert {k.name: set(k.channels) for k in preferences.preferences(ctx, ALICE).kinds}["task_assigned"] == {
        "email",
        "slack",
        "teams",
    }


def test_removing_a_webhook_and_the_audit_event_keeps_the_url_secret(ctx, people, receiver):
    from engine.db.models import Event

    preferences.save_preferences(ctx, ALICE, {"task_assigned": ["slack"]}, {"slack": f"{receiver}/slack/alice"})
    preferences.save_preferences(ctx, ALICE, {"task_assigned": ["slack"]}, {})  # kept
    assert preferences.preferences(ctx, ALICE).slack_webhook is not None
    preferences.save_preferences(ctx, ALICE, {"task_assigned": ["slack"]}, {"slack": ""})  # removed
    assert preferences.preferences(ctx, ALICE).slack_webhook is None
    with ctx.uow(write=False) as uow:
        events = uow.session.scalars(select(Event).where(Event.type == "notification_settings_changed")).all()
        assert len(events) == 3 and all("slack/alice" not in json.dumps(e.data) for e in events)


def test_instance_finished_and_bot_started_instances(ctx, people, inbox):
    view = instances.start(ctx, BOT, "p1")  # the bot has no address: no mail on completion
    completion.complete(ctx, ALICE, view.open_tasks[0].id, {})
    assert not [j for j in queued(ctx) if j.payload["kind"] == "instance_finished"]
    started = instances.start(ctx, RITA, "p1")
    instances.cancel(ctx, ADMIN, started.id, "budget frozen")
    finished = [j for j in queued(ctx) if j.payload["kind"] == "instance_finished"]
    assert [(j.payload["username"], j.payload["context"]["status"]) for j in finished] == [("rita", "cancelled")]
    run_jobs(ctx)
    msg = next(m for tos, m in inbox.messages if tos == ["rita@example.com"])
    assert msg["Subject"].startswith("Cancelled: ") and "budget frozen" in msg.get_body(("plain",)).get_content()


def test_without_an_smtp_server_no_email_is_queued_but_chat_still_is(ctx, people, inbox, receiver):
    from dataclasses import replace

    preferences.save_preferences(ctx, ANN, {"task_assigned": ["email", "teams"]}, {"teams": f"{receiver}/teams/ann"})
    instances.start(ctx, RITA, "p1")
    assert sorted((j.payload["username"], j.kind) for j in queued(ctx)) == [
        ("alice", "notify.email"),
        ("ann", "notify.email"),
        ("ann", "notify.teams"),
    ]
    ctx.settings = replace(ctx.settings, smtp_host="")  # PMOFLOW_SMTP_HOST empty
    before = len(queued(ctx))
    instances.start(ctx, RITA, "p1")
    assert [(j.payload["username"], j.kind) for j in queued(ctx)[before:]] == [("ann", "notify.teams")]


class SqlLog:
    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        from sqlalchemy import event

        self.engine, self.seen, self.event = engine, [], event

    def __enter__(self):  # type: ignore[no-untyped-def]
        self.event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *_exc) -> None:  # type: ignore[no-untyped-def]
        self.event.remove(self.engine, "before_cursor_execute", self._on)

    def _on(self, _conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        self.seen.append(" ".join(statement.split()))

    def reads(self, table: str) -> list[str]:
        return [s for s in self.seen if s.startswith("SELECT") and f"FROM {table}" in s.split(" WHERE ")[0]]


def test_a_new_group_task_costs_one_query_for_its_recipients_and_none_for_the_task(ctx, people, inbox):
    instances.start(ctx, RITA, "p1")  # warms the definition cache
    with SqlLog(ctx.db) as log:
        instances.start(ctx, RITA, "p1")
    assert len(log.reads("users")) == 1, log.seen  # members and their settings together
    assert "notification_settings" in log.reads("users")[0]
    assert log.reads("human_tasks") == [], log.seen  # task_created carries the task
    assert len(queued(ctx, "notify.email")) == 4


def test_an_event_about_a_task_the_step_holds_reads_no_task(ctx, people, inbox):
    from engine.db.models import HumanTask
    from engine.db.statements import load_instance
    from engine.events import stream as audit

    view = instances.start(ctx, RITA, "p1")
    before = len(queued(ctx))
    with ctx.uow() as uow:
        row = load_instance(uow.session, view.id)
        task = uow.session.scalars(select(HumanTask).where(HumanTask.uuid == view.open_tasks[0].id)).one()
        task.assignee = "ann"  # not flushed: the session's row counts
        with SqlLog(ctx.db) as log:
            audit.record(
                uow.session,
                "task_reminder",
                ctx.clock.now(),
                instance=row,
                task_uuid=task.uuid,
                data={"name": "Approve"},
            )
        uow.commit()
    assert log.reads("human_tasks") == [], log.seen
    assert [(j.payload["username"], j.payload["kind"]) for j in queued(ctx)[before:]] == [("ann", "task_reminder")]


def test_a_rejection_is_told_as_a_rejection_by_email_slack_and_teams(ctx, people, inbox):
    view = instances.start(ctx, RITA, "p1")
    completion.complete(ctx, ALICE, view.open_tasks[0].id, {"decision": "reject", "comment": "no budget"})
    [job] = [j for j in queued(ctx) if j.payload["kind"] == "instance_finished"]
    context = job.payload["context"]
    assert (context["status"], context["status_label"], context["outcome"]) == ("completed", "Rejected", "Rejected")
    settings = ctx.settings
    said = rendering.message(context, settings)
    assert said.subject.startswith("Rejected: ") and said.lead.endswith("was rejected by alice.")
    assert ("Outcome", "Rejected") in said.facts
    slack = json.dumps(rendering.slack(context, settings))
    teams = json.dumps(rendering.teams(context, settings))
    for body in (slack, teams):
        assert "was rejected by alice" in body and "is completed" not in body
    run_jobs(ctx)
    mail = next(m for tos, m in inbox.messages if tos == ["rita@example.com"])
    assert mail["Subject"].startswith("Rejected: ")
    assert "was rejected by alice" in mail.get_body(("plain",)).get_content()


def test_a_job_queued_before_outcomes_still_renders():
    old = {
        "kind": "instance_finished",
        "request": "New CRM",
        "process": "Project intake",
        "task_name": "x",
        "business_key": None,
        "actor": None,
        "reason": None,
        "outcome": None,
        "status": "completed",
        "whom": "you",
        "status_label": "Completed",
        "due_at": None,
        "link": "/requests/x",
    }
    said = rendering.message(old, Settings(database_url="sqlite://", secret_key="x"))
    assert said.lead == "Your request New CRM is completed."
