"""The Slack app end to end: pmoflow's calls are received by a local server playing Slack (tests/slack_fake.py),
and Slack's interaction and slash command requests are sent to the real endpoints, signed as Slack signs
them. On SQLite and PostgreSQL (the app fixture's database)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import select

from engine import bootstrap
from engine.admin import channels, users
from engine.audit import trail
from engine.core.clock import FixedClock
from engine.db.models import HumanTask
from engine.events import stream as audit
from engine.runtime import jobs
from engine.tasks import inbox
from tests import slack_fake
from tests.factories import ADMIN, BOT, deploy_shipped
from tests.slack_fake import SECRET, TEAM, FakeSlack, Person, click, interaction_body, signed, submission
from tests.webui.conftest import intake, sign_in
from webui.app import create_app

BASE = "https://pmo.example.com"


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with slack_fake.fake_slack() as fake:
        yield fake


@pytest.fixture
def app(database_url: str, clock: FixedClock, slack: FakeSlack) -> Iterator[Flask]:
    slack.calls.clear()
    slack.failures.clear()
    slack.people[:] = [
        Person("U0ALICE", "Alice@Example.com", "alice"),
        Person("U0FRANK", "frank@home.example", "frank"),
    ]
    application = create_app(
        {
            "database_url": database_url,
            "secret_key": "web-test",
            "TESTING": True,
            "base_url": BASE,
            "slack_bot_token": slack_fake.TOKEN,
            "slack_signing_secret": SECRET,
            "slack_api_url": slack.url,
            "chat_webhook_allow_http": True,
            "chat_webhook_allow_private": True,
            "chat_timeout": 5.0,
        },
        clock=clock,
    )
    ctx = application.extensions["pmoflow"]
    deploy_shipped(ctx)
    users.ensure_demo_users(ctx)
    users.update_user(ctx, "alice", "Alice", "alice@example.com", ["approver"], "pmo")
    yield application
    ctx.db.dispose()


def run_jobs(app: Flask) -> None:
    bootstrap.bootstrap()
    while jobs.run_due(app.extensions["pmoflow"]):
        pass


def post(app: Flask, path: str, body: str, clock: FixedClock, secret: str = SECRET, age: int = 0):
    stamp = int(clock.now().timestamp()) - age
    return app.test_client().post(path, data=body, headers=signed(body, stamp, secret))


def events(app: Flask, kind: str) -> list:
    page = trail.search(app.extensions["pmoflow"], ADMIN, trail.AuditFilter(action=kind))
    return list(page.items)


def first_task(app: Flask, view) -> str:
    return view.open_tasks[0].id


def dm_of(slack: FakeSlack, user: str) -> dict:
    (message,) = [m for m in slack.of("chat.postMessage") if m["channel"] == "D" + user]
    return message


def test_a_decision_task_is_a_direct_message_and_approve_decides_and_updates_it(app, slack, clock):
    view = intake(app)
    run_jobs(app)
    task_id = first_task(app, view)
    assert slack.of("users.lookupByEmail") == [{"email": "alice@example.com"}]
    assert slack.of("conversations.open") == [{"users": "U0ALICE"}]
    message = dm_of(slack, "U0ALICE")  # frank has no address and no link: no message, no lookup
    actions = message["blocks"][-1]
    assert [(e["action_id"], e.get("style")) for e in actions["elements"]] == [
        ("pmoflow_approve", "primary"),
        ("pmoflow_reject", "danger"),
        ("pmoflow_open", None),
    ]
    assert actions["elements"][0]["value"] == task_id and actions["elements"][2]["url"] == f"{BASE}/tasks/{task_id}"
    ts = "1767603600.000003"
    answer = post(
        app,
        "/slack/interactions",
        interaction_body(click("pmoflow_approve", task_id, "U0ALICE", "DU0ALICE", ts)),
        clock,
    )
    assert answer.status_code == 200
    task = inbox.get(app.extensions["pmoflow"], ADMIN, task_id)
    assert task.status == "completed" and task.completed_by == "alice" and task.data["decision"] == "approve"
    (done,) = [e for e in events(app, "task_completed") if e.task_id == task_id]
    assert done.actor == "alice" and done.data["channel"] == "slack"
    (update,) = slack.of("chat.update")
    assert update["channel"] == "DU0ALICE" and update["ts"] == ts
    assert update["blocks"][0]["text"]["text"] == "Approved: IT Manager approval"
    assert "<@U0ALICE> (*alice*) approved *IT Manager approval*" in update["blocks"][1]["text"]["text"]
    assert all(e["action_id"] == "pmoflow_open" for e in update["blocks"][-1]["elements"])
    linked = events(app, "slack_account_linked")
    assert [(e.actor, e.data["matched_by"]) for e in linked] == [("alice", "email")]

    # a second click: told why, nothing changes
    before = len(events(app, "task_completed"))
    again = post(
        app,
        "/slack/interactions",
        interaction_body(click("pmoflow_approve", task_id, "U0ALICE", "DU0ALICE", ts)),
        clock,
    )
    assert again.status_code == 200
    (told,) = slack.of("chat.postEphemeral")
    assert told["user"] == "U0ALICE" and "already completed by alice" in told["text"]
    assert len(events(app, "task_completed")) == before and len(slack.of("chat.update")) == 1


def test_reject_opens_a_dialog_and_the_comment_is_required_as_the_form_says(app, slack, clock):
    view = intake(app)
    run_jobs(app)
    task_id = first_task(app, view)
    ts = "1767603600.000009"
    clicked = post(
        app, "/slack/interactions", interaction_body(click("pmoflow_reject", task_id, "U0ALICE", "DU0ALICE", ts)), clock
    )
    assert clicked.status_code == 200
    (opened,) = slack.of("views.open")
    dialog = opened["view"]
    assert opened["trigger_id"] == "1337.42.abcdef" and dialog["callback_id"] == "pmoflow_reject"
    assert json.loads(dialog["private_metadata"]) == {"task": task_id, "channel": "DU0ALICE", "ts": ts}
    assert inbox.get(app.extensions["pmoflow"], ADMIN, task_id).status == "open"

    empty = post(app, "/slack/interactions", interaction_body(submission(dialog, "U0ALICE", None)), clock)
    assert empty.status_code == 200 and empty.json["response_action"] == "errors"
    assert "required" in empty.json["errors"]["comment"]
    assert inbox.get(app.extensions["pmoflow"], ADMIN, task_id).status == "open" and not slack.of("chat.update")

    done = post(
        app, "/slack/interactions", interaction_body(submission(dialog, "U0ALICE", "Budget <b>too</b> high")), clock
    )
    assert done.status_code == 200 and done.json == {"response_action": "clear"}
    task = inbox.get(app.extensions["pmoflow"], ADMIN, task_id)
    assert task.data["decision"] == "reject" and task.data["comment"] == "Budget <b>too</b> high"
    (update,) = slack.of("chat.update")
    assert update["blocks"][0]["text"]["text"] == "Rejected: IT Manager approval"
    assert update["blocks"][2]["text"]["text"] == "> Budget &lt;b&gt;too&lt;/b&gt; high"


@pytest.mark.parametrize(
    "how",
    ["wrong secret", "old timestamp", "future timestamp", "no signature", "tampered body", "not a number"],
)
def test_a_request_not_signed_by_slack_or_replayed_is_refused_and_changes_nothing(app, slack, clock, how):
    view = intake(app)
    run_jobs(app)
    slack.calls.clear()
    task_id = first_task(app, view)
    body = interaction_body(click("pmoflow_approve", task_id, "U0ALICE", "DU0ALICE", "1.2"))
    stamp = int(clock.now().timestamp())
    headers = {
        "wrong secret": signed(body, stamp, "not-the-secret"),
        "old timestamp": signed(body, stamp - 301),
        "future timestamp": signed(body, stamp + 301),
        "no signature": {"Content-Type": "application/x-www-form-urlencoded"},
        "tampered body": signed(body.replace("U0ALICE", "U0FRANK"), stamp),
        "not a number": {**signed(body, stamp), "X-Slack-Request-Timestamp": "12e3"},
    }[how]
    answer = app.test_client().post("/slack/interactions", data=body, headers=headers)
    assert answer.status_code == 401 and answer.json["error"]["code"] == "unauthenticated"
    assert inbox.get(app.extensions["pmoflow"], ADMIN, task_id).status == "open" and slack.calls == []
    assert app.test_client().post("/slack/commands", data="text=", headers=headers).status_code == 401


def test_a_request_signed_just_inside_five_minutes_is_taken(app, slack, clock):
    answer = post(
        app, "/slack/commands", urlencode({"team_id": TEAM, "user_id": "U0ALICE", "text": ""}), clock, age=299
    )
    assert answer.status_code == 200 and answer.json["response_type"] == "ephemeral"


def test_malformed_signed_payloads_are_a_clear_4xx(app, clock):
    for body in (
        "payload=not-json",
        "payload=" + json.dumps([1]),
        interaction_body({"type": "block_actions", "user": {"id": "bad id"}, "team": {"id": TEAM}}),
        interaction_body({"type": "shortcut", "user": {"id": "U0ALICE"}, "team": {"id": TEAM}}),
        interaction_body({**click("pmoflow_approve", "t", "U0ALICE", "DU0ALICE", "1"), "container": {}, "channel": 7}),
        interaction_body({**click("pmoflow_approve", "t" * 65, "U0ALICE", "DU0ALICE", "1")}),
        interaction_body({**submission({"callback_id": "pmoflow_reject", "private_metadata": 5}, "U0ALICE", None)}),
        interaction_body({**submission({"callback_id": "pmoflow_reject", "private_metadata": "{}"}, "U0ALICE", None)}),
        interaction_body(
            {
                **submission({}, "U0ALICE", None),
                "view": {"callback_id": "pmoflow_reject", "private_metadata": '{"task": "t"}', "state": 3},
            }
        ),
        "",
    ):
        assert post(app, "/slack/interactions", body, clock).status_code == 422, body
    assert post(app, "/slack/commands", "user_id=U0ALICE", clock).status_code == 422


def test_without_a_slack_app_the_endpoints_are_not_found(database_url, clock):
    bare = create_app({"database_url": database_url, "secret_key": "x", "TESTING": True}, clock=clock)
    body = "payload=%7B%7D"
    answer = bare.test_client().post(
        "/slack/interactions", data=body, headers=signed(body, int(clock.now().timestamp()))
    )
    assert answer.status_code == 404
    bare.extensions["pmoflow"].db.dispose()


def test_an_unknown_slack_user_gets_a_one_time_link_and_confirming_it_lets_them_decide(app, slack, clock):
    view = intake(app)
    run_jobs(app)
    task_id = first_task(app, view)
    slack.calls.clear()
    body = interaction_body(click("pmoflow_approve", task_id, "U0FRANK", "DU0FRANK", "1.5"))
    assert post(app, "/slack/interactions", body, clock).status_code == 200
    (told,) = slack.of("chat.postEphemeral")
    link = re.search(rf"<{re.escape(BASE)}(/slack/link/[\w-]+)\|", told["text"]).group(1)
    assert told["user"] == "U0FRANK" and inbox.get(app.extensions["pmoflow"], ADMIN, task_id).status == "open"
    assert [e.actor for e in events(app, "slack_account_linked")] == ["alice"]  # by address, when alice's DM went

    browser = app.test_client()
    assert sign_in(browser, "frank").status_code == 302
    page = browser.get(link)
    assert page.status_code == 200 and "U0FRANK" in page.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert browser.post(link, data={}).status_code == 400  # no CSRF token
    assert browser.post(link, data={"csrf_token": token}).status_code == 302
    assert browser.post(link, data={"csrf_token": token}).status_code == 404  # used
    linked = events(app, "slack_account_linked")[0]  # newest first
    assert linked.actor == "frank" and linked.data == {"team": TEAM, "slack_user": "U0FRANK", "matched_by": "link"}

    assert post(app, "/slack/interactions", body, clock).status_code == 200
    task = inbox.get(app.extensions["pmoflow"], ADMIN, task_id)
    assert task.status == "completed" and task.completed_by == "frank"


def test_a_link_expires_and_an_unknown_link_is_not_found(app, slack, clock):
    answer = post(app, "/slack/commands", urlencode({"team_id": TEAM, "user_id": "U0NOBODY", "text": "link"}), clock)
    link = re.search(rf"<{re.escape(BASE)}(/slack/link/[\w-]+)\|", answer.json["text"]).group(1)
    browser = app.test_client()
    assert sign_in(browser, "frank").status_code == 302
    assert browser.get(link).status_code == 200
    clock.advance(timedelta(minutes=31))
    assert browser.get(link).status_code == 404
    assert browser.get("/slack/link/forged-token").status_code == 404
    assert app.test_client().get(link).status_code == 302  # signed out: to the sign-in page


def test_separation_of_duties_holds_in_slack(app, slack, clock):
    """alice started the request herself: she may not decide it, from Slack either."""
    ctx = app.extensions["pmoflow"]
    from engine.runtime import instances
    from tests.factories import ALICE

    view = instances.start(
        ctx, ALICE, "project-intake", variables={"title": "Mine", "budget": 1000, "department": "IT"}
    )
    task_id = first_task(app, view)
    body = interaction_body(click("pmoflow_approve", task_id, "U0ALICE", "DU0ALICE", "1.7"))
    assert post(app, "/slack/interactions", body, clock).status_code == 200
    (told,) = slack.of("chat.postEphemeral")
    assert "separation of duties" in told["text"] or "started" in told["text"]
    assert inbox.get(ctx, ADMIN, task_id).status == "open" and not slack.of("chat.update")


def test_the_slash_command_lists_my_open_tasks(app, slack, clock):
    views = [intake(app, key=f"PRJ-{n}") for n in range(2)]
    body = urlencode({"team_id": TEAM, "user_id": "U0ALICE", "user_name": "alice", "command": "/pmoflow", "text": ""})
    answer = post(app, "/slack/commands", body, clock)
    assert answer.status_code == 200 and answer.json["response_type"] == "ephemeral"
    listed = [b for b in answer.json["blocks"] if b.get("accessory")]
    assert sorted(b["accessory"]["url"] for b in listed) == sorted(f"{BASE}/tasks/{first_task(app, v)}" for v in views)
    assert "New CRM · PRJ-" in listed[0]["text"]["text"]
    unknown = post(app, "/slack/commands", body.replace("U0ALICE", "U0NOBODY"), clock)
    assert "/slack/link/" in unknown.json["text"] and "blocks" not in unknown.json
    helped = post(app, "/slack/commands", body.replace("text=", "text=help"), clock)
    assert "/pmoflow link" in helped.json["text"]


def test_a_task_that_needs_more_than_a_decision_gets_only_open(app, slack, clock):
    ctx = app.extensions["pmoflow"]
    from engine.definitions import deployments
    from tests.bpmn_samples import one_approval
    from tests.factories import source

    form = {
        "type": "default",
        "id": "more",
        "components": [
            {"type": "radio", "key": "decision", "values": [{"value": "approve"}, {"value": "reject"}]},
            {"type": "number", "key": "budget_cap", "validate": {"required": True}},
        ],
    }
    deployments.deploy(ctx, ADMIN, [source("p.bpmn", one_approval(form="more")), source("more.form", json.dumps(form))])
    from engine.runtime import instances

    view = instances.start(ctx, BOT, "p1")
    run_jobs(app)
    task_id = first_task(app, view)
    actions = dm_of(slack, "U0ALICE")["blocks"][-1]["elements"]
    assert [(a["action_id"], a["url"]) for a in actions] == [("pmoflow_open", f"{BASE}/tasks/{task_id}")]
    body = interaction_body(click("pmoflow_approve", task_id, "U0ALICE", "DU0ALICE", "1.9"))  # a forged button
    assert post(app, "/slack/interactions", body, clock).status_code == 200
    (told,) = slack.of("chat.postEphemeral")
    assert "needs more than a decision" in told["text"] and inbox.get(ctx, ADMIN, task_id).status == "open"


def test_turned_off_by_an_admin_buttons_sent_before_decide_nothing_and_new_messages_carry_only_open(app, slack, clock):
    """The admin's switch (Administration > Channels, engine/admin/channels.py) counts at once, no restart."""
    ctx = app.extensions["pmoflow"]
    view = intake(app)
    run_jobs(app)
    task_id = first_task(app, view)
    assert [e["action_id"] for e in dm_of(slack, "U0ALICE")["blocks"][-1]["elements"]][:2] == [
        "pmoflow_approve",
        "pmoflow_reject",
    ]
    channels.set_switch(ctx, ADMIN, "slack_actions", False)
    for action in ("pmoflow_approve", "pmoflow_reject"):
        body = interaction_body(click(action, task_id, "U0ALICE", "DU0ALICE", "1767603600.000003"))
        assert post(app, "/slack/interactions", body, clock).status_code == 200
    told = slack.of("chat.postEphemeral")
    assert len(told) == 2 and all("Deciding from Slack is turned off" in t["text"] for t in told)
    assert slack.of("chat.update") == [] and slack.of("views.open") == []
    assert inbox.get(ctx, ADMIN, task_id).status == "open" and events(app, "task_completed") == []
    slack.calls.clear()
    with ctx.uow() as uow:  # the next message about the task: a reminder
        row = uow.session.scalars(select(HumanTask).where(HumanTask.uuid == task_id)).one()
        audit.record(uow.session, "task_reminder", clock.now(), instance=row.instance, task_uuid=task_id)
        uow.commit()
    run_jobs(app)
    elements = dm_of(slack, "U0ALICE")["blocks"][-1]["elements"]
    assert [e["action_id"] for e in elements] == ["pmoflow_open"]


def test_a_decision_elsewhere_updates_every_other_candidates_message(app, slack, clock):
    """Both IT Managers get the task by DM; frank decides through the REST API, so alice's message loses its
    buttons and names him; then a decision from Slack updates the other's message of the next request too."""
    from engine.admin import tokens

    ctx = app.extensions["pmoflow"]
    users.update_user(ctx, "frank", "Frank", "frank@home.example", ["approver"], "pmo")
    task_id = first_task(app, intake(app))
    run_jobs(app)
    assert sorted(m["channel"] for m in slack.of("chat.postMessage")) == ["DU0ALICE", "DU0FRANK"]
    token = tokens.create_token(ctx, "frank", "cli")
    answer = app.test_client().post(
        f"/api/v1/tasks/{task_id}/complete",
        json={"data": {"decision": "approve"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.get_json()
    assert slack.of("chat.update") == []  # not in the request: by the worker
    run_jobs(app)
    alice = next(u for u in slack.of("chat.update") if u["channel"] == "DU0ALICE")
    assert alice["blocks"][0]["text"]["text"] == "Approved: IT Manager approval"
    assert alice["blocks"][1]["text"]["text"].startswith("*frank* approved *IT Manager approval* on ")
    assert [e["action_id"] for e in alice["blocks"][-1]["elements"]] == ["pmoflow_open"]

    slack.calls.clear()
    second = first_task(app, intake(app, key="PRJ-2"))
    run_jobs(app)
    posted = {m["channel"]: i for i, (name, m) in enumerate(slack.calls) if name == "chat.postMessage"}
    ts = f"1767603600.{posted['DU0ALICE'] + 1:06d}"
    clicked = click("pmoflow_approve", second, "U0ALICE", "DU0ALICE", ts)
    assert post(app, "/slack/interactions", interaction_body(clicked), clock).status_code == 200
    assert [u["channel"] for u in slack.of("chat.update")] == ["DU0ALICE"]  # the clicked message, at once
    run_jobs(app)
    frank = [u for u in slack.of("chat.update") if u["channel"] == "DU0FRANK"]
    assert len(frank) == 1 and "<@U0ALICE> (*alice*) approved" not in frank[0]["blocks"][1]["text"]["text"]
    assert frank[0]["blocks"][1]["text"]["text"].startswith("*alice* approved *IT Manager approval*")
    again = [u for u in slack.of("chat.update") if u["channel"] == "DU0ALICE"]
    assert len(again) == 2 and again[0]["blocks"][:2] == again[1]["blocks"][:2]  # the same words, said again
