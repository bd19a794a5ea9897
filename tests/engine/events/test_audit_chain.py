"""The tamper-evident audit trail on both databases: the hash chain, append-only rows, `audit verify`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from engine.admin import groups, tokens, users
from engine.audit import trail as audit_trail
from engine.core.errors import Forbidden
from engine.db.models import Event
from engine.definitions import deployments
from engine.events import stream as audit
from engine.requester import comments
from engine.runtime import instances, migration
from engine.runtime.timers import fire_due
from engine.tasks import claims, collaboration, completion
from tests.bpmn_samples import linear, one_approval, script_task
from tests.factories import ADMIN, ALICE, AUDREY, BOB, BOT, actor, deploy_shipped, source, write_concurrently

APPROVE = {"decision": "approve", "comment": "fine by me"}


@pytest.fixture
def trail(ctx):
    """A deployment, an instance and a completed task: a chain of a few dozen events."""
    deploy_shipped(ctx)
    users.ensure_demo_users(ctx)
    view = instances.start(
        ctx,
        BOT,
        "project-intake",
        business_key="PRJ-1",
        variables={"title": "CRM", "budget": 10_000, "department": "Sales"},
    )
    completion.complete(ctx, ALICE, view.open_tasks[0].id, APPROVE)
    return ctx


def rows(ctx) -> list[Event]:
    with ctx.uow(write=False) as uow:
        found = list(uow.session.scalars(select(Event).order_by(Event.seq)))
        uow.session.expunge_all()
        return found


def tamper(ctx, *statements: str) -> None:
    """What an attacker with database access does (on PostgreSQL as superuser, past the trigger)."""
    with ctx.db.connect() as conn:
        with conn.begin():
            if ctx.db.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for sql in statements:
                conn.execute(text(sql))


def broken(ctx) -> audit.BrokenLink:
    result = audit_trail.verify(ctx, AUDREY)
    assert result.broken is not None, "verify did not notice the tampering"
    return result.broken


def test_events_form_an_unbroken_chain(trail):
    events = rows(trail)
    assert len(events) > 5
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    result = audit_trail.verify(trail, AUDREY)
    assert result.ok and result.checked == len(events) and result.head_hash == events[-1].hash
    started = next(e for e in events if e.type == "instance_started")
    assert (started.business_key, started.definition_key, started.definition_version) == ("PRJ-1", "project-intake", 1)
    assert started.instance_uuid and started.actor == "intake-bot" and started.actor_kind == "user"


def test_a_changed_row_is_named(trail):
    tamper(trail, """UPDATE events SET actor = 'mallory' WHERE seq = 3""")
    link = broken(trail)
    assert (link.seq, link.problem) == (3, "changed")
    assert link.event_id == rows(trail)[2].uuid


def test_a_changed_row_with_a_recomputed_hash_is_named(trail):
    third = rows(trail)[2]
    third.actor = "mallory"
    forged = audit.chain_hash(audit.canonical(third), third.prev_hash)
    tamper(trail, f"UPDATE events SET actor = 'mallory', hash = '{forged}' WHERE seq = 3")
    link = broken(trail)
    assert (link.seq, link.problem, link.event_id) == (3, "changed", third.uuid)


def test_a_deleted_row_is_named(trail):
    fifth = rows(trail)[4]
    tamper(trail, "DELETE FROM events WHERE seq = 5")
    link = broken(trail)
    assert link.problem == "missing" and "seq 5" in link.detail and link.seq == 6
    assert fifth.uuid not in {e.uuid for e in rows(trail)}


def test_reordered_rows_are_named(trail):
    fourth = rows(trail)[3]
    tamper(
        trail,
        "UPDATE events SET seq = -2 WHERE seq = 2",
        "UPDATE events SET seq = 2 WHERE seq = 4",
        "UPDATE events SET seq = 4 WHERE seq = -2",
    )
    link = broken(trail)
    assert (link.seq, link.problem, link.event_id) == (2, "reordered", fourth.uuid)
    assert "after seq 3" in link.detail


def test_postgres_refuses_update_and_delete_of_events(trail):
    if trail.db.dialect.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")
    for sql in (
        "UPDATE events SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM events WHERE seq = 1",
        "TRUNCATE events",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            with trail.db.begin() as conn:
                conn.execute(text(sql))
    with pytest.raises(DBAPIError, match="append-only"):
        with trail.uow() as uow:
            uow.session.execute(text("UPDATE events SET data = '{}'"))
            uow.commit()
    assert audit_trail.verify(trail, AUDREY).ok


def test_a_rolled_back_step_writes_no_event(ctx):
    with ctx.uow() as uow:
        audit.record(uow.session, "login", ctx.clock.now(), actor="alice")
    assert rows(ctx) == []
    with ctx.uow() as uow:
        audit.record(uow.session, "login", ctx.clock.now(), actor="alice")
        uow.commit()
    assert [e.seq for e in rows(ctx)] == [1]


def test_events_read_in_their_own_transaction_are_there(ctx):
    with ctx.uow() as uow:
        audit.record(uow.session, "login", ctx.clock.now(), actor="alice")
        assert [e.actor for e in uow.session.scalars(select(Event))] == ["alice"]
        audit.record(uow.session, "login", ctx.clock.now(), actor="bob")
        uow.commit()
    assert [(e.seq, e.actor) for e in rows(ctx)] == [(1, "alice"), (2, "bob")]
    assert audit_trail.verify(ctx, AUDREY).ok


def test_concurrent_writers_keep_one_chain(ctx):
    write_concurrently(ctx, writers=4, rounds=8)
    result = audit_trail.verify(ctx, AUDREY)
    assert result.ok and result.checked == 64
    events = rows(ctx)
    for first, second in zip(events[::2], events[1::2], strict=True):  # a transaction's events stay together
        assert first.actor == second.actor and (first.type, second.type) == ("login", "password_changed")


def test_verify_needs_audit_read(trail):
    with pytest.raises(Forbidden):
        audit_trail.verify(trail, BOB)
    assert audit_trail.verify(trail, ADMIN).ok


def test_cli_audit_verify_exits_non_zero_and_names_the_row(trail, monkeypatch, capsys):
    from cli import main as cli

    monkeypatch.setenv("PMOFLOW_DATABASE_URL", trail.settings.database_url)
    monkeypatch.setenv("PMOFLOW_SECRET_KEY", "test-secret")
    assert cli.main(["audit", "verify"]) == 0
    assert "audit trail intact" in capsys.readouterr().out
    tamper(trail, 'UPDATE events SET data = \'{"reason": "edited"}\' WHERE seq = 4')
    assert cli.main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "seq 4" in err and rows(trail)[3].uuid in err and "changed" in err


def test_upgrading_chains_the_existing_events(blank_database_url):
    """Events written before revision 0008 are linked into the chain by the migration (its frozen copy of
    the hash code), and the engine's verifier of today accepts that chain, on SQLite and PostgreSQL."""
    from alembic import command

    from engine.db.schema import alembic_config
    from engine.db.session import make_engine

    url = blank_database_url
    engine = make_engine(url)
    config = alembic_config(url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0007")
    with engine.begin() as conn:
        for i, actor in enumerate(("alice", None, "bob")):
            conn.execute(
                text(
                    "INSERT INTO events (uuid, type, actor, occurred_at, data) VALUES "
                    "(:u, 'login', :a, '2026-03-03 14:02:00.000000', :d)"
                ),
                {
                    "u": f"00000000-0000-0000-0000-00000000000{i}",
                    "a": actor,
                    "d": '{"on_behalf_of": "carol"}' if i == 2 else "{}",
                },
            )
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0008")
    from engine.db.uow import UnitOfWork, session_factory

    with UnitOfWork(session_factory(engine, False), engine.dialect.name) as uow:
        result = audit.verify(uow.session)
        kinds = [(e.seq, e.actor_kind, e.on_behalf_of) for e in uow.session.scalars(select(Event).order_by(Event.seq))]
    engine.dispose()
    assert result.ok and result.checked == 3
    assert kinds == [(1, "user", None), (2, "system", None), (3, "user", "carol")]


# ---------------------------------------------------------------- every action: exactly one event, the right actor

IVAN = actor("ivan", "IT Manager")


@pytest.fixture
def world(ctx):
    deploy_shipped(ctx)
    users.ensure_demo_users(ctx)
    users.create_user(ctx, "ivan", "demo", ["IT Manager"], ["approver"])
    deployments.deploy(
        ctx, ADMIN, [source("calc.bpmn", linear((script_task("compute", "total = budget * 2"), "compute"), pid="calc"))]
    )
    return ctx


def intake(ctx, sla: str = "P2D") -> tuple[str, str]:
    view = instances.start(
        ctx,
        BOT,
        "project-intake",
        business_key="PRJ-9",
        variables={"title": "CRM", "budget": 120_000, "department": "Sales", "approval_sla": sla},
    )
    return view.id, view.open_tasks[0].id


def _delegated_completion(ctx):
    _, task = intake(ctx)
    collaboration.delegate(ctx, ALICE, task, "ivan", "at the board")  # a fellow IT Manager (separation of duties)
    completion.complete(ctx, IVAN, task, APPROVE)


def _claim_then_unclaim(ctx):
    _, task = intake(ctx)
    claims.claim(ctx, ALICE, task)
    claims.unclaim(ctx, ALICE, task)


def _sla(ctx):
    intake(ctx, sla="PT1H")
    ctx.clock.advance(timedelta(hours=2))
    assert fire_due(ctx) == 1


def _incident_and_retry(ctx):
    failed = instances.start(ctx, BOT, "calc", variables={})
    instances.retry(ctx, ADMIN, failed.id, {"budget": 5})


def _migrate(ctx):
    deployments.deploy(ctx, ADMIN, [source("mig.bpmn", one_approval(pid="mig"))])
    view = instances.start(ctx, BOT, "mig", variables={})
    fixed = one_approval(pid="mig").replace('name="Approve"', 'name="Approve the request"')
    deployments.deploy(ctx, ADMIN, [source("mig.bpmn", fixed)])
    migration.migrate(ctx, ADMIN, view.id, 2, "typo in the task name")


def _publish(ctx):
    from designer import drafts

    draft = drafts.create_draft(ctx, ADMIN, "vendor-onboarding", template="cross-functional-handoff")
    drafts.publish_draft(ctx, ADMIN, "vendor-onboarding", draft.revision, "first cut")


def _user_admin(action):
    def run(ctx):
        users.add_user(ctx, "zoe", "Zoe", "", "correct-horse-9", ["approver"], ["Finance"], "pmo")
        if action == "roles":
            users.update_user(ctx, "zoe", "Zoe", "", ["approver", "designer"], "pmo")
        elif action == "deactivate":
            users.deactivate_user(ctx, "zoe", "pmo")
        elif action == "group":
            groups.add_group(ctx, "Legal", "pmo")
            groups.add_member(ctx, "Legal", "zoe", "pmo")
            groups.remove_member(ctx, "Legal", "zoe", "pmo")
        elif action == "token":
            issued = tokens.issue_token(ctx, "zoe", "erp", "pmo")
            tokens.revoke_token(ctx, issued.row.id, "pmo")

    return run


# (name, action, event type, actor, actor kind, on behalf of)
ACTIONS = [
    (
        "deploy",
        lambda c: deployments.deploy(c, ADMIN, [source("one.bpmn", one_approval(pid="one"))]),
        "definition_deployed",
        "pmo",
        "user",
        None,
    ),
    ("start", lambda c: intake(c), "instance_started", "intake-bot", "user", None),
    ("task created", lambda c: intake(c), "task_created", None, "system", None),
    ("decision", lambda c: intake(c), "decision_evaluated", "intake-bot", "user", None),
    (
        "cancel",
        lambda c: instances.cancel(c, ADMIN, intake(c)[0], "duplicate"),
        "instance_cancelled",
        "pmo",
        "user",
        None,
    ),
    ("claim", lambda c: claims.claim(c, ALICE, intake(c)[1]), "task_claimed", "alice", "user", None),
    ("unclaim", _claim_then_unclaim, "task_unclaimed", "alice", "user", None),
    (
        "delegate",
        lambda c: collaboration.delegate(c, ALICE, intake(c)[1], "ivan", "away"),
        "task_delegated",
        "alice",
        "user",
        None,
    ),
    (
        "reassign",
        lambda c: collaboration.reassign(c, ALICE, intake(c)[1], "ivan", "holiday"),
        "task_reassigned",
        "alice",
        "user",
        None,
    ),
    (
        "complete",
        lambda c: completion.complete(c, ALICE, intake(c)[1], APPROVE),
        "task_completed",
        "alice",
        "user",
        None,
    ),
    ("delegated completion", _delegated_completion, "task_completed", "ivan", "user", "alice"),
    (
        "comment",
        lambda c: comments.add_comment(c, ALICE, "looks fine", instance_id=intake(c)[0]),
        "comment_added",
        "alice",
        "user",
        None,
    ),
    ("sla breached", _sla, "sla_breached", "timer", "system", None),
    ("incident", _incident_and_retry, "incident_raised", "intake-bot", "user", None),
    ("retry", _incident_and_retry, "incident_retried", "pmo", "user", None),
    ("migrate", _migrate, "instance_migrated", "pmo", "user", None),
    ("publish", _publish, "draft_published", "pmo", "user", None),
    ("user created", _user_admin("create"), "user_created", "pmo", "user", None),
    ("roles changed", _user_admin("roles"), "roles_changed", "pmo", "user", None),
    ("user deactivated", _user_admin("deactivate"), "user_deactivated", "pmo", "user", None),
    ("group created", _user_admin("group"), "group_created", "pmo", "user", None),
    ("member added", _user_admin("group"), "group_member_added", "pmo", "user", None),
    ("member removed", _user_admin("group"), "group_member_removed", "pmo", "user", None),
    ("token issued", _user_admin("token"), "token_created", "pmo", "user", None),
    ("token revoked", _user_admin("token"), "token_revoked", "pmo", "user", None),
]


@pytest.mark.parametrize(
    ("action", "event_type", "who", "kind", "behalf"), [a[1:] for a in ACTIONS], ids=[a[0] for a in ACTIONS]
)
def test_every_action_writes_exactly_one_event_with_its_actor(world, action, event_type, who, kind, behalf):
    before = {e.uuid for e in rows(world)}
    action(world)
    new = [e for e in rows(world) if e.uuid not in before and e.type == event_type]
    assert len(new) == 1, f"{event_type}: {len(new)} events"
    [event] = new
    assert (event.actor, event.actor_kind, event.on_behalf_of) == (who, kind, behalf)
    assert audit_trail.verify(world, AUDREY).ok


def test_writes_with_an_api_token_name_the_token(world):
    with audit.token_scope("intake-bot", 42):
        view, _ = intake(world), None
        completion.complete(world, ALICE, view[1], APPROVE)  # another user in the same context: not the token
    started = next(e for e in rows(world) if e.type == "instance_started")
    completed = next(e for e in rows(world) if e.type == "task_completed")
    assert (started.actor, started.actor_kind, started.token_id) == ("intake-bot", "token", 42)
    assert (completed.actor, completed.actor_kind, completed.token_id) == ("alice", "user", None)
