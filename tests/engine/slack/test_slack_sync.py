"""The Slack app's direct messages follow their task (engine/notify/slack_sync.py): once a task no longer waits
for someone it messaged (decided elsewhere, cancelled, handed over), their message is updated in place without
its buttons. Against a local server playing Slack; SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import bootstrap
from engine.admin import users
from engine.core.config import Settings
from engine.db.models import Job, SlackMessage
from engine.definitions import deployments
from engine.runtime import instances, jobs
from engine.tasks import collaboration, completion
from tests.bpmn_samples import one_approval
from tests.engine.notify.test_decision_links import DECISION
from tests.engine.slack.conftest import slack_settings
from tests.factories import ADMIN, BOT, actor, source
from tests.slack_fake import FakeSlack, Person

ALICE = actor("alice", "IT Manager")
BOB = actor("bob", "IT Manager")


@pytest.fixture
def settings(database_url: str, slack: FakeSlack) -> Settings:
    people = (Person("U0ALICE", "alice@example.com", "alice"), Person("U0BOB", "bob@example.com", "bob"))
    return slack_settings(database_url, slack, *people)


@pytest.fixture
def task(ctx, slack) -> str:
    """A group task with a plain decision form, messaged to both IT Managers (alice and bob) on Slack."""
    for name in ("alice", "bob"):
        users.create_user(ctx, name, "demo", ["IT Manager"], ["approver"])
        users.update_user(ctx, name, name.title(), f"{name}@example.com", ["approver"], "system")
    deployments.deploy(
        ctx, ADMIN, [source("decide.form", json.dumps(DECISION)), source("p.bpmn", one_approval(form="decide"))]
    )
    view = instances.start(ctx, BOT, "p1", business_key="PRJ-7")
    run_jobs(ctx)
    assert sorted(m["channel"] for m in slack.of("chat.postMessage")) == ["DU0ALICE", "DU0BOB"]
    return view.open_tasks[0].id


def run_jobs(ctx) -> None:
    bootstrap.bootstrap()
    while jobs.run_due(ctx):
        pass


def posted_to(slack: FakeSlack, user: str) -> dict:
    """The channel and ts of the one DM posted to `user` (the fake numbers its answers by call)."""
    index = next(i for i, (m, body) in enumerate(slack.calls) if m == "chat.postMessage" and body["channel"] == user)
    return {"channel": user, "ts": f"1767603600.{index + 1:06d}"}


def updates(slack: FakeSlack) -> dict[str, dict]:
    return {u["channel"]: u for u in slack.of("chat.update")}


def action_ids(message: dict) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def kinds(ctx, kind: str) -> list[Job]:
    with ctx.uow(write=False) as uow:
        rows = list(uow.session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))
        for row in rows:
            uow.session.expunge(row)
        return rows


def test_a_decision_on_the_web_updates_the_other_candidates_message_naming_who_decided(ctx, task, slack):
    bob_dm = posted_to(slack, "DU0BOB")
    completion.complete(ctx, ALICE, task, {"decision": "reject", "comment": "Over <budget> & late"})
    assert slack.of("chat.update") == []  # never inline: the worker does it
    run_jobs(ctx)
    done = updates(slack)
    assert sorted(done) == ["DU0ALICE", "DU0BOB"]
    bob = done["DU0BOB"]
    assert bob["ts"] == bob_dm["ts"]
    assert action_ids(bob) == ["pmoflow_open"]  # no Approve / Reject any more
    assert bob["blocks"][0]["text"]["text"] == "Rejected: Approve"
    lead = bob["blocks"][1]["text"]["text"]
    assert lead.startswith("*alice* rejected *Approve* on ") and "<@" not in lead  # bob did not decide
    assert bob["blocks"][2]["text"]["text"] == "> Over &lt;budget&gt; &amp; late"
    assert bob["blocks"][-1]["elements"][0]["url"] == f"https://pmo.example.com/tasks/{task}"
    assert done["DU0ALICE"]["blocks"][1]["text"]["text"].startswith("<@U0ALICE> (*alice*) rejected")
    slack.calls.clear()
    run_jobs(ctx)
    assert slack.of("chat.update") == []  # once per message
    assert len(kinds(ctx, "notify.slack_update")) == 2


def test_a_cancelled_request_updates_every_message(ctx, task, slack):
    view = instances.get(ctx, ADMIN, instances.list_instances(ctx, ADMIN).items[0].id)
    instances.cancel(ctx, ADMIN, view.id, "Project stopped")
    run_jobs(ctx)
    done = updates(slack)
    assert sorted(done) == ["DU0ALICE", "DU0BOB"]
    for message in done.values():
        assert message["blocks"][0]["text"]["text"] == "Cancelled: Approve" and action_ids(message) == ["pmoflow_open"]
        assert "Reason: Project stopped" in message["blocks"][1]["text"]["text"]
    assert len(kinds(ctx, "notify.slack_update")) == 2


def test_a_reassignment_updates_the_message_of_who_no_longer_has_the_task(ctx, task, slack):
    collaboration.reassign(ctx, ADMIN, task, "alice", "She knows the project")
    run_jobs(ctx)
    done = updates(slack)
    assert list(done) == ["DU0BOB"]  # alice still has it (and gets a new message)
    assert done["DU0BOB"]["blocks"][0]["text"]["text"] == "No longer waiting for you: Approve"
    assert "it is now with *alice*" in done["DU0BOB"]["blocks"][1]["text"]["text"]


def test_a_rate_limited_update_is_retried_after_retry_after(ctx, task, slack, clock):
    slack.failures["chat.update"] = (429, {"Retry-After": "20"}, {"ok": False, "error": "ratelimited"})
    completion.complete(ctx, BOB, task, {"decision": "approve"})
    run_jobs(ctx)
    waiting = kinds(ctx, "notify.slack_update")
    assert {(j.status, j.run_at == clock.now() + timedelta(seconds=20)) for j in waiting} == {("pending", True)}
    assert len(slack.of("chat.update")) == 2
    del slack.failures["chat.update"]
    slack.calls.clear()
    clock.advance(timedelta(seconds=21))
    run_jobs(ctx)
    assert {j.status for j in kinds(ctx, "notify.slack_update")} == {"done"}
    assert sorted(updates(slack)) == ["DU0ALICE", "DU0BOB"]
    assert updates(slack)["DU0ALICE"]["blocks"][0]["text"]["text"] == "Approved: Approve"


def test_a_refused_update_fails_its_job_only(ctx, task, slack):
    slack.failures["chat.update"] = (200, {}, {"ok": False, "error": "message_not_found"})
    completion.complete(ctx, BOB, task, {"decision": "approve"})
    run_jobs(ctx)
    failed = kinds(ctx, "notify.slack_update")
    assert {j.status for j in failed} == {"failed"} and all("message_not_found" in j.last_error for j in failed)


def test_a_message_sent_after_the_decision_is_updated_at_once(ctx, slack, task, clock):
    """The send job ran late (Slack rate-limited it): the task was decided and checked before it was posted."""
    slack.failures["conversations.open"] = (429, {"Retry-After": "30"}, {"ok": False, "error": "ratelimited"})
    collaboration.reassign(ctx, ADMIN, task, "bob", "Back to bob")
    completion.complete(ctx, BOB, task, {"decision": "approve"})  # before bob's new assignment message is sent
    run_jobs(ctx)
    assert {j.status for j in kinds(ctx, "notify.slack_sync")} == {"done"}
    del slack.failures["conversations.open"]
    slack.calls.clear()
    clock.advance(timedelta(seconds=31))
    run_jobs(ctx)
    (late,) = slack.of("chat.postMessage")  # the reassignment's message, without decision buttons
    assert action_ids(late) == ["pmoflow_open"]
    (fixed,) = slack.of("chat.update")  # closed when it was recorded
    assert fixed["ts"] == posted_to(slack, "DU0BOB")["ts"] and fixed["blocks"][0]["text"]["text"] == "Approved: Approve"
    with ctx.uow(write=False) as uow:
        messages = list(uow.session.scalars(select(SlackMessage)))
        assert len(messages) == 3 and all(m.closed_at is not None for m in messages)


def test_without_a_slack_app_nothing_is_queued(ctx, task, settings, slack):
    plain = bootstrap.context(Settings(**{**settings.__dict__, "slack_bot_token": None}), clock=ctx.clock)
    completion.complete(plain, ALICE, task, {"decision": "approve"})
    assert kinds(plain, "notify.slack_sync") == []
    plain.db.dispose()


def test_an_approval_decided_by_the_others_votes_closes_the_last_approvers_message(ctx, task, slack):
    """Parallel approval (any one decides): alice's vote cancels bob's personal task; his DM says it was closed."""
    from tests.engine.tasks.test_approvals import approval_process

    board = approval_process('group="IT Manager" rule="any"')
    deployments.deploy(ctx, ADMIN, [source("decide.form", json.dumps(DECISION)), source("b.bpmn", board)])
    slack.calls.clear()
    view = instances.start(ctx, BOT, "board_p")
    run_jobs(ctx)
    assert sorted(m["channel"] for m in slack.of("chat.postMessage")) == ["DU0ALICE", "DU0BOB"]
    mine = next(t.id for t in view.open_tasks if t.assignee == "alice")
    completion.complete(ctx, ALICE, mine, {"decision": "approve"})
    run_jobs(ctx)
    done = updates(slack)
    assert done["DU0ALICE"]["blocks"][0]["text"]["text"] == "Approved: Board approval"
    assert done["DU0BOB"]["blocks"][0]["text"]["text"] == "No longer waiting for you: Board approval"
    assert "was closed on " in done["DU0BOB"]["blocks"][1]["text"]["text"]
    assert action_ids(done["DU0BOB"]) == ["pmoflow_open"]
