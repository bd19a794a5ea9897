# ruff: noqa: F401, F811 - fixtures imported from test_notifications_out are used as parameters
"""The decision reaches requester and watchers; a process posts to named channels; the daily digest.

Real servers as in test_notifications_out: aiosmtpd for email, a local HTTP receiver for Slack and Teams.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from engine.admin import users
from engine.core.errors import DeploymentInvalid, Forbidden, InvalidInput
from engine.db.models import HumanTask, Job, Notification
from engine.definitions import deployments
from engine.notify import digest, preferences
from engine.requester import watchers
from engine.runtime import instances, jobs
from engine.tasks import collaboration, completion
from tests.bpmn_samples import one_approval
from tests.engine.notify.test_notifications_out import (  # noqa: F401 - fixtures
    ALICE,
    ANN,
    BASE,
    RITA,
    Receiver,
    inbox,
    people,
    queued,
    receiver,
    run_jobs,
    smtp,
)
from tests.engine.notify.test_notifications_out import settings as chat_settings
from tests.factories import ADMIN, actor, source

NORA = actor("nora", "IT Manager")


@pytest.fixture
def settings(chat_settings, receiver):  # noqa: F811
    """The chat settings, plus two channels an administrator named (the receiver plays Slack and Teams)."""
    from dataclasses import replace

    return replace(
        chat_settings,
        chat_channels=f"pmo-decisions=slack:{receiver}/slack/pmo, #it-ops=teams:{receiver}/teams/it",
        default_timezone="Europe/Berlin",
    )


def bell_of(ctx, username: str) -> list[str]:
    with ctx.uow(write=False) as uow:
        return list(
            uow.session.scalars(
                select(Notification.text).where(Notification.username == username).order_by(Notification.id)
            )
        )


# ---------------------------------------------------------------- watchers


def test_watchers_hear_the_decision_by_their_channels(ctx, people, inbox):
    view = instances.start(ctx, RITA, "p1", business_key="PRJ-1", variables={"title": "CRM"})
    assert watchers.watch(ctx, ANN, view.id).watching is True
    assert watchers.watch(ctx, ANN, view.id).watchers == 1  # again: nothing changes
    preferences.save_preferences(ctx, NORA, None, digest=None)  # nora keeps the defaults (email + bell)
    watchers.watch(ctx, NORA, view.id)
    with pytest.raises(Forbidden):  # may not see it: may not watch it
        watchers.watch(ctx, actor("olga", roles=("approver",)), view.id)
    before = len(queued(ctx))
    completion.complete(ctx, ALICE, view.open_tasks[0].id, {"decision": "reject"})
    new = [(j.payload["username"], j.payload["kind"], j.kind) for j in queued(ctx)[before:]]
    assert new == [("rita", "instance_finished", "notify.email"), ("ann", "watched_finished", "notify.email")]
    assert bell_of(ctx, "ann") == ["CRM (PRJ-1), which you watch, was rejected by alice."]
    assert bell_of(ctx, "nora") == ["CRM (PRJ-1), which you watch, was rejected by alice."]  # no address: bell only
    run_jobs(ctx)
    mails = {tos[0]: msg for tos, msg in inbox.messages}
    assert mails["ann@example.com"]["Subject"] == "Rejected: CRM (PRJ-1)"
    text = mails["ann@example.com"].get_body(("plain",)).get_content()
    assert "CRM (PRJ-1), which you watch, was rejected by alice." in text and f"{BASE}/requests/{view.id}" in text
    assert mails["rita@example.com"]["Subject"] == "Rejected: CRM (PRJ-1)"


def test_an_unwatched_request_tells_no_one_and_choices_are_honoured(ctx, people, inbox, receiver):
    view = instances.start(ctx, RITA, "p1")
    watchers.watch(ctx, ANN, view.id)
    assert watchers.unwatch(ctx, ANN, view.id).watching is False
    other = instances.start(ctx, RITA, "p1")
    preferences.save_preferences(ctx, ANN, {"watched_finished": ["slack"]}, {"slack": f"{receiver}/slack/ann"})
    watchers.watch(ctx, ANN, other.id)
    completion.complete(ctx, ALICE, view.open_tasks[0].id, {"decision": "approve"})
    completion.complete(ctx, ALICE, other.open_tasks[0].id, {"decision": "approve"})
    told = [j.kind for j in queued(ctx) if j.payload.get("kind") == "watched_finished"]
    assert told == ["notify.slack"]  # the other request: unwatched; slack only, as chosen
    assert bell_of(ctx, "ann") == []
    run_jobs(ctx)
    ((_, _, body),) = [p for p in Receiver.posts if p[0] == "/slack/ann"]
    assert body["blocks"][0]["text"]["text"] == "Approved: Test"
    with ctx.uow(write=False) as uow:
        types = [e.type for e in uow.session.scalars(select(__import__("engine").db.models.Event).order_by("id"))]
    assert types.count("instance_watched") == 2 and types.count("instance_unwatched") == 1


def test_the_watcher_who_decided_is_not_told_of_their_own_decision(ctx, people, inbox):
    view = instances.start(ctx, RITA, "p1")
    watchers.watch(ctx, ALICE, view.id)
    before = len(queued(ctx))
    completion.complete(ctx, ALICE, view.open_tasks[0].id, {"decision": "approve"})
    assert [j.payload["username"] for j in queued(ctx)[before:]] == ["rita"]


# ---------------------------------------------------------------- announcements


def announcing(on: str, channel: str = "pmo-decisions") -> str:
    text = one_approval(pid="bought")
    return text.replace(
        'isExecutable="true">',
        f'isExecutable="true">\n<bpmn:extensionElements><pmoflow:announce channel="{channel}" on="{on}"/>'
        "</bpmn:extensionElements>",
        1,
    )


def test_a_process_posts_its_decisions_to_the_channels_it_names(ctx, people, inbox):
    deployments.deploy(ctx, ADMIN, [source("bought.bpmn", announcing("rejected approved"))])
    deployments.deploy(ctx, ADMIN, [source("ops.bpmn", announcing("started", "#IT-ops").replace('"bought"', '"ops"'))])
    view = instances.start(ctx, RITA, "bought", business_key="PO-7", variables={"title": "Laptops"})
    assert [j.payload["channel"] for j in queued(ctx, "notify.channel")] == []  # started is not chosen
    instances.start(ctx, RITA, "ops", variables={"title": "Server"})
    completion.complete(ctx, ALICE, view.open_tasks[0].id, {"decision": "reject"})
    assert [j.payload["channel"] for j in queued(ctx, "notify.channel")] == ["it-ops", "pmo-decisions"]
    run_jobs(ctx)
    ((_, _, slack),) = [p for p in Receiver.posts if p[0] == "/slack/pmo"]
    assert slack["blocks"][0]["text"]["text"] == "Rejected: Laptops (PO-7)"
    assert slack["blocks"][1]["text"]["text"] == "Laptops (PO-7) was rejected by alice."
    assert slack["blocks"][-1]["elements"][0]["url"] == f"{BASE}/requests/{view.id}"
    ((_, _, teams),) = [p for p in Receiver.posts if p[0] == "/teams/it"]
    assert teams["attachments"][0]["content"]["body"][0]["text"] == "Started: Server"


def test_an_unknown_channel_or_event_is_refused_at_deploy_naming_file_element_and_line(ctx, people):
    with pytest.raises(DeploymentInvalid) as err:
        deployments.deploy(ctx, ADMIN, [source("bad.bpmn", announcing("decided", "nowhere"))])
    (problem,) = err.value.problems
    assert (problem.file, problem.element_id, problem.line) == ("bad.bpmn", "bought", 7)  # the announce element's line
    assert "chat channel 'nowhere' does not exist (channels: it-ops, pmo-decisions)" in problem.message
    with pytest.raises(DeploymentInvalid) as err:
        deployments.deploy(ctx, ADMIN, [source("bad.bpmn", announcing("decided approved-ish"))])
    assert "unknown event 'approved-ish'" in err.value.problems[0].message


# ---------------------------------------------------------------- the digest

MORNING = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)  # 11:00 in Berlin


def digest_jobs(ctx) -> list[Job]:
    return [j for j in queued(ctx, digest.KIND)]


def test_the_digest_is_planned_at_the_local_time_and_validated(ctx, people, clock):
    clock.set(MORNING)
    preferences.save_preferences(ctx, ALICE, None, digest={"enabled": True, "time": "07:30", "channels": ["email"]})
    (job,) = digest_jobs(ctx)
    assert job.run_at == datetime(2026, 12, 6, 6, 30, tzinfo=UTC)  # 07:30 Berlin (the server's zone)
    assert job.dedupe_key == "notify.digest:alice:2026-12-06"
    preferences.save_preferences(ctx, ALICE, None, digest={"zone": "America/New_York", "time": "08:00"})
    (job,) = digest_jobs(ctx)  # planned again, not twice
    assert job.run_at == datetime(2026, 12, 5, 13, 0, tzinfo=UTC) and job.payload["day"] == "2026-12-05"
    with pytest.raises(InvalidInput) as err:
        preferences.save_preferences(
            ctx, ALICE, None, digest={"time": "25:00", "zone": "Mars/Olympus", "channels": ["pigeon"]}
        )
    assert set(err.value.details["fields"]) == {"digest_time", "digest_zone", "digest_channels"}
    preferences.save_preferences(ctx, ALICE, None, digest={"enabled": False})
    assert digest_jobs(ctx) == []
    mine = preferences.preferences(ctx, ALICE).digest
    assert (mine.enabled, mine.time, mine.zone, mine.channels) == (False, "08:00", "America/New_York", {"email"})


def test_the_digest_tells_what_waits_is_overdue_and_was_delegated_once_a_day(ctx, people, inbox, clock, receiver):
    clock.set(MORNING)
    users.create_user(ctx, "dora", "demo", [], ["approver"])
    preferences.save_preferences(
        ctx,
        ALICE,
        None,
        {"slack": f"{receiver}/slack/alice"},
        {"enabled": True, "time": "07:30", "channels": ["email", "slack"]},
    )
    preferences.save_preferences(ctx, ANN, None, digest={"enabled": True, "time": "07:30", "channels": ["email"]})
    late = instances.start(ctx, RITA, "p1", business_key="PRJ-1", variables={"title": "Late one"})
    fresh = instances.start(ctx, RITA, "p1", business_key="PRJ-2", variables={"title": "Fresh one"})
    handed = instances.start(ctx, RITA, "p1", business_key="PRJ-3", variables={"title": "Handed over"})
    collaboration.reassign(ctx, ADMIN, handed.open_tasks[0].id, "alice", "yours")
    collaboration.delegate(ctx, ALICE, handed.open_tasks[0].id, "ann", "please")
    with ctx.uow() as uow:
        uow.session.execute(
            update(HumanTask).where(HumanTask.uuid == late.open_tasks[0].id).values(due_at=MORNING + timedelta(hours=2))
        )
        uow.commit()
    clock.set(datetime(2026, 12, 6, 6, 29, tzinfo=UTC))
    run_jobs(ctx)
    assert [m for m in inbox.messages if "digest" in m[1]["Subject"]] == []  # not yet
    clock.set(datetime(2026, 12, 6, 6, 31, tzinfo=UTC))
    run_jobs(ctx)
    digests = {tos[0]: msg for tos, msg in inbox.messages if "digest" in msg["Subject"]}
    assert digests["alice@example.com"]["Subject"] == "Your pmoflow digest: 1 overdue, 1 waiting, 1 delegated"
    text = digests["alice@example.com"].get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.index("Overdue (1)") < text.index("- Approve: Late one (PRJ-1) (due 05 Dec 2026 13:00)")
    assert "Waiting for you (1)\n- Approve: Fresh one (PRJ-2)" in text
    assert "You delegated (1)\n- Approve: Handed over (PRJ-3) (with ann)" in text
    assert f"{BASE}/tasks/{fresh.open_tasks[0].id}" in text
    assert digests["ann@example.com"]["Subject"] == "Your pmoflow digest: 1 overdue, 2 waiting"  # ann: a group member
    ((_, _, slack),) = [p for p in Receiver.posts if p[0] == "/slack/alice" and "digest" in p[2]["text"]]
    assert slack["blocks"][0]["text"]["text"] == "Your pmoflow digest: 1 overdue, 1 waiting, 1 delegated"
    # once a day: the next is tomorrow's, and planning again (saving settings) does not repeat today's
    preferences.save_preferences(ctx, ALICE, None, digest={"time": "07:30"})
    assert sorted(j.payload["day"] for j in digest_jobs(ctx) if j.status == "pending") == ["2026-12-07", "2026-12-07"]
    count = len(inbox.messages)
    run_jobs(ctx)
    assert len(inbox.messages) == count
    with pytest.raises(IntegrityError), ctx.uow() as uow:  # a second digest of a day cannot exist
        jobs.enqueue(
            uow.session,
            digest.KIND,
            {"username": "alice", "day": "2026-12-06"},
            clock.now(),
            dedupe_key="notify.digest:alice:2026-12-06",
        )
        uow.commit()


def test_no_digest_on_a_day_with_nothing(ctx, people, inbox, clock):
    clock.set(MORNING)
    preferences.save_preferences(ctx, RITA, None, digest={"enabled": True, "time": "07:30", "channels": ["email"]})
    clock.set(datetime(2026, 12, 6, 7, 0, tzinfo=UTC))
    run_jobs(ctx)
    (done, planned) = digest_jobs(ctx)
    assert done.status == "done" and done.result == {
        "skipped": "nothing waits, nothing is overdue, nothing is delegated"
    }
    assert planned.payload["day"] == "2026-12-07" and inbox.messages == []


def test_next_plan_keeps_the_local_time_across_daylight_saving():
    berlin = digest.zone_of("Europe/Berlin", "UTC")
    spring = digest.next_plan(datetime(2027, 3, 27, 12, 0, tzinfo=UTC), "07:30", berlin)
    assert spring.at == datetime(2027, 3, 28, 5, 30, tzinfo=UTC)  # CEST from that night: UTC+2
    assert digest.next_plan(datetime(2027, 3, 26, 12, 0, tzinfo=UTC), "07:30", berlin).at.hour == 6
    assert digest.zone_of("Not/AZone", "Also/Bad").key == "UTC"


def test_two_workers_at_the_digest_time_send_it_once(ctx, settings, people, inbox, clock):
    """Two workers (each its own engine and connections) claim at the same moment: one digest, not two."""
    import threading

    from engine import bootstrap

    clock.set(MORNING)
    preferences.save_preferences(ctx, ALICE, None, digest={"enabled": True, "time": "07:30", "channels": ["email"]})
    instances.start(ctx, RITA, "p1", variables={"title": "Waiting"})
    clock.set(datetime(2026, 12, 6, 7, 0, tzinfo=UTC))
    others = [bootstrap.context(settings, clock=clock) for _ in range(2)]
    start = threading.Barrier(2)
    ran: list[int] = []

    def work(worker_ctx) -> None:  # noqa: ANN001
        start.wait()
        while n := jobs.run_due(worker_ctx, limit=1):
            ran.append(n)

    threads = [threading.Thread(target=work, args=(other,)) for other in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.db.dispose()
    assert [tos for tos, msg in inbox.messages if "digest" in msg["Subject"]] == [["alice@example.com"]]


def test_a_request_that_fails_on_an_error_end_is_told_as_failed(ctx, people, inbox, receiver):
    text = (
        one_approval(pid="fragile")
        .replace(
            '<bpmn:endEvent id="end"/>',
            '<bpmn:endEvent id="end"><bpmn:errorEventDefinition errorRef="E"/></bpmn:endEvent>',
        )
        .replace("<bpmn:process ", '<bpmn:error id="E" errorCode="E1"/>\n<bpmn:process ', 1)
        .replace(
            'isExecutable="true">',
            'isExecutable="true">\n<bpmn:extensionElements><pmoflow:announce channel="pmo-decisions" on="failed"/></bpmn:extensionElements>',
            1,
        )
    )
    deployments.deploy(ctx, ADMIN, [source("fragile.bpmn", text)])
    view = instances.start(ctx, RITA, "fragile", variables={"title": "Fragile"})
    watchers.watch(ctx, ANN, view.id)
    before = len(queued(ctx))
    completion.complete(ctx, ALICE, view.open_tasks[0].id, {})
    told = [
        (j.payload.get("username"), j.payload.get("kind") or j.payload.get("channel")) for j in queued(ctx)[before:]
    ]
    assert told == [("rita", "instance_finished"), ("ann", "watched_finished"), (None, "pmo-decisions")]
    assert bell_of(ctx, "rita") == ["Your request Fragile failed."]
    run_jobs(ctx)
    failed = sorted(tos[0] for tos, msg in inbox.messages if msg["Subject"] == "Failed: Fragile")
    assert failed == ["ann@example.com", "rita@example.com"]
    ((_, _, post),) = [p for p in Receiver.posts if p[0] == "/slack/pmo"]
    assert post["blocks"][1]["text"]["text"] == "Fragile failed."


def test_the_admins_channels_are_read_from_one_setting_and_bad_entries_left_out(caplog, tmp_path):
    from engine import bootstrap
    from engine.core.config import Settings

    raw = (
        "pmo-decisions=slack:https://hooks.slack.com/services/T/B/SECRET, #IT-Ops=teams:https://x.webhook.office.com/y,"
    )
    odd = Settings(
        database_url=f"sqlite:///{tmp_path / 'c.sqlite3'}",
        chat_channels=raw + " nameless, bad name=slack:https://h, ftp=teams:ftp://x",
    )
    assert odd.channels() == {
        "pmo-decisions": ("slack", "https://hooks.slack.com/services/T/B/SECRET"),
        "it-ops": ("teams", "https://x.webhook.office.com/y"),
    }
    problems = odd.channel_problems()
    assert len(problems) == 3 and all("SECRET" not in p and "ftp://x" not in p for p in problems)
    assert "chat channel 'bad name': a name is lower-case letters" in problems[1]
    assert "SECRET" not in repr(odd)
    with caplog.at_level("WARNING", logger="pmoflow"):
        bootstrap.context(odd).db.dispose()
    assert sum("PMOFLOW_CHAT_CHANNELS" in r.getMessage() for r in caplog.records) == 3


def test_planning_one_persons_digest_leaves_anothers_alone(ctx, people, clock):
    """User names may hold LIKE's wildcards: turning off "a_b"'s digest keeps "axb"'s."""
    clock.set(MORNING)
    for name in ("a_b", "axb"):
        users.create_user(ctx, name, "demo", [], ["approver"])
        preferences.save_preferences(ctx, actor(name), None, digest={"enabled": True, "channels": ["email"]})
    preferences.save_preferences(ctx, actor("a_b"), None, digest={"enabled": False})
    assert [j.payload["username"] for j in digest_jobs(ctx)] == ["axb"]
