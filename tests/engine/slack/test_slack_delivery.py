"""Task notifications as Slack direct messages, against a local server playing Slack: who gets one, the
fallback to the incoming webhook, and what Slack's refusals and outages do to the job. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import bootstrap
from engine.admin import users
from engine.core.config import Settings
from engine.db.models import Job, SlackAccount
from engine.definitions import deployments
from engine.notify import preferences
from engine.runtime import instances, jobs
from engine.slack import accounts
from tests import slack_fake
from tests.bpmn_samples import one_approval
from tests.engine.slack.conftest import slack_settings
from tests.factories import ADMIN, BOT, actor, source
from tests.slack_fake import FakeSlack, Person


@pytest.fixture
def settings(database_url: str, slack: FakeSlack) -> Settings:
    return slack_settings(database_url, slack, Person("U0ALICE", "alice@example.com", "alice"))


@pytest.fixture
def people(ctx):
    """IT Managers: alice (address known to Slack), ann (an address Slack does not know), nora (no address)."""
    for name, mail in (("alice", "alice@example.com"), ("ann", "ann@example.com"), ("nora", None)):
        users.create_user(ctx, name, "demo", ["IT Manager"], ["approver"])
        if mail:
            users.update_user(ctx, name, name.title(), mail, ["approver"], "system")
    deployments.deploy(ctx, ADMIN, [source("one.bpmn", one_approval())])


def slack_jobs(ctx) -> list[Job]:
    with ctx.uow(write=False) as uow:
        rows = list(uow.session.scalars(select(Job).where(Job.kind == "notify.slack").order_by(Job.id)))
        for row in rows:
            uow.session.expunge(row)
        return rows


def run_jobs(ctx) -> None:
    bootstrap.bootstrap()
    while jobs.run_due(ctx):
        pass


def test_with_the_slack_app_people_with_an_address_or_a_match_get_a_direct_message(ctx, people, slack):
    instances.start(ctx, BOT, "p1")
    assert sorted(j.payload["username"] for j in slack_jobs(ctx)) == ["alice", "ann"]  # nora: no address, no match
    run_jobs(ctx)
    outcomes = {j.payload["username"]: (j.status, j.result) for j in slack_jobs(ctx)}
    assert outcomes["alice"][0] == "done" and outcomes["alice"][1]["sent"] == "slack_dm"
    assert outcomes["ann"] == ("done", {"skipped": "the user has no Slack webhook"})  # not on Slack
    assert [m["channel"] for m in slack.of("chat.postMessage")] == ["DU0ALICE"]
    slack.calls.clear()
    instances.start(ctx, BOT, "p1")
    run_jobs(ctx)
    assert slack.of("users.lookupByEmail") == [{"email": "ann@example.com"}]  # alice's match is kept


def test_a_linked_user_without_an_address_gets_one_and_an_unmatched_one_falls_back_to_the_webhook(ctx, people, slack):
    link = accounts.link_url(ctx, "T0PMO", "U0NORA", "nora")
    accounts.confirm_link(ctx, actor("nora", "IT Manager"), link.rsplit("/", 1)[1])
    webhook = slack.url.replace("/api", "/hooks/ann")
    preferences.save_preferences(ctx, actor("ann", "IT Manager"), {"task_assigned": ["slack"]}, {"slack": webhook})
    instances.start(ctx, BOT, "p1")
    run_jobs(ctx)
    assert sorted(m["channel"] for m in slack.of("chat.postMessage")) == ["DU0ALICE", "DU0NORA"]
    (posted,) = slack.of("ann")  # ann's incoming webhook (the fake answers any path)
    assert posted["blocks"][-1]["elements"][0]["url"].startswith("https://pmo.example.com/tasks/")


def test_an_address_two_users_share_matches_no_one(ctx, people, slack):
    users.update_user(ctx, "ann", "Ann", "ALICE@example.com", ["approver"], "system")
    instances.start(ctx, BOT, "p1")
    run_jobs(ctx)
    assert slack.of("users.lookupByEmail") == [] and slack.of("chat.postMessage") == []
    with ctx.uow(write=False) as uow:
        assert uow.session.scalars(select(SlackAccount)).all() == []


def test_slacks_refusals_fail_the_job_and_outages_retry_it(ctx, people, slack, clock):
    slack.people.append(Person("U0ANN", "ann@example.com", "ann"))
    slack.failures["conversations.open"] = (429, {"Retry-After": "30"}, {"ok": False, "error": "ratelimited"})
    instances.start(ctx, BOT, "p1")
    run_jobs(ctx)
    assert {(j.status, j.run_at == clock.now() + timedelta(seconds=30)) for j in slack_jobs(ctx)} == {("pending", True)}
    slack.failures["conversations.open"] = (503, {}, {"ok": False})
    clock.advance(timedelta(seconds=31))
    run_jobs(ctx)
    assert {j.status for j in slack_jobs(ctx)} == {"pending"} and all("503" in j.last_error for j in slack_jobs(ctx))
    slack.failures["conversations.open"] = (200, {}, {"ok": False, "error": "missing_scope"})
    clock.advance(timedelta(hours=1))
    run_jobs(ctx)
    failed = slack_jobs(ctx)
    assert {j.status for j in failed} == {"failed"} and all("missing_scope" in j.last_error for j in failed)
    assert all(slack_fake.TOKEN not in (j.last_error or "") for j in failed)


def test_a_bad_bot_token_fails_the_job_without_showing_the_token(ctx, people, slack, settings):
    bad = bootstrap.context(Settings(**{**settings.__dict__, "slack_bot_token": "xoxb-wrong"}), clock=ctx.clock)
    instances.start(bad, BOT, "p1")
    run_jobs(bad)
    failed = [j for j in slack_jobs(bad) if j.payload["username"] == "alice"]
    assert failed[0].status == "failed" and "invalid_auth" in failed[0].last_error
    assert "xoxb-wrong" not in failed[0].last_error
    bad.db.dispose()


def test_the_api_url_obeys_the_address_policy(ctx, people, slack, settings):
    strict = bootstrap.context(Settings(**{**settings.__dict__, "chat_webhook_allow_private": False}), clock=ctx.clock)
    instances.start(strict, BOT, "p1")
    run_jobs(strict)
    assert {j.status for j in slack_jobs(strict)} == {"failed"} and slack.calls == []
    assert all("refused" in j.last_error for j in slack_jobs(strict))
    strict.db.dispose()


def test_the_daily_digest_and_a_watched_decision_come_as_direct_messages(ctx, people, slack, clock):
    """The digest's own blocks (engine/notify/summary.py) go by DM; a watcher matched on Slack is told there too."""
    from datetime import UTC, datetime

    from engine.requester import watchers
    from engine.tasks import completion

    clock.set(datetime(2026, 12, 5, 10, 0, tzinfo=UTC))
    alice = actor("alice", "IT Manager")
    preferences.save_preferences(ctx, alice, None, digest={"enabled": True, "time": "07:30", "channels": ["slack"]})
    view = instances.start(ctx, BOT, "p1", variables={"title": "Watched"})
    run_jobs(ctx)
    slack.calls.clear()
    clock.set(datetime(2026, 12, 6, 7, 31, tzinfo=UTC))
    run_jobs(ctx)
    (digest,) = slack.of("chat.postMessage")
    assert digest["channel"] == "DU0ALICE"
    assert digest["blocks"][0]["text"]["text"] == "Your pmoflow digest: 1 waiting"
    slack.calls.clear()
    preferences.save_preferences(ctx, alice, {"watched_finished": ["slack"]})
    watchers.watch(ctx, alice, view.id)
    completion.complete(ctx, actor("ann", "IT Manager"), view.open_tasks[0].id, {"decision": "approve"})
    run_jobs(ctx)
    (told,) = slack.of("chat.postMessage")
    assert told["channel"] == "DU0ALICE" and "Watched, which you watch, was approved by ann." in json.dumps(told)
