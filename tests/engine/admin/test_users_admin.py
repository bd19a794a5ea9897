"""The admin services: users, groups and API tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from engine.admin import groups as groups_service
from engine.admin import passwords, sessions, signin, tokens, users
from engine.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from engine.db.models import ApiToken, Event
from engine.definitions import deployments
from engine.runtime import instances
from engine.tasks import claims, inbox
from tests.bpmn_samples import one_approval
from tests.factories import ADMIN, ALICE, BOT, source

SECRET = "a-long-secret"  # noqa: S105 - test password


@pytest.fixture
def people(ctx):
    users.create_user(ctx, "pmo", "demo", [], ["admin"])
    users.create_user(ctx, "alice", "demo", ["IT Manager"], ["approver"])
    return ctx


def events(ctx, type_: str) -> list[SimpleNamespace]:
    with ctx.uow(write=False) as uow:
        found = uow.session.scalars(select(Event).where(Event.type == type_).order_by(Event.id))
        return [SimpleNamespace(type=e.type, actor=e.actor, data=e.data) for e in found]


def test_an_admin_creates_a_user_who_can_sign_in(people):
    row = users.add_user(
        people, "ben", "Ben Meyer", "ben@example.org", SECRET, ["approver", "auditor"], ["IT Manager"], actor="pmo"
    )
    assert (row.username, row.display_name, row.email, row.roles, row.groups, row.active) == (
        "ben",
        "Ben Meyer",
        "ben@example.org",
        ["approver", "auditor"],
        ["IT Manager"],
        True,
    )
    assert passwords.authenticate(people, "ben", SECRET).groups == frozenset({"IT Manager"})
    [event] = events(people, "user_created")[-1:]
    assert event.actor == "pmo" and event.data == {
        "username": "ben",
        "roles": ["approver", "auditor"],
        "groups": ["IT Manager"],
        "kind": "person",
    }
    assert SECRET not in str(event.data)


def test_every_bad_field_is_reported_at_once(people):
    with pytest.raises(InvalidInput) as err:
        users.add_user(
            people, "no spaces please", "x" * 201, "not-an-address", "short", ["boss"], ["Nobody"], actor="pmo"
        )
    assert set(err.value.details["fields"]) == {"username", "display_name", "email", "password", "roles", "groups"}
    with pytest.raises(InvalidInput) as err:
        users.add_user(people, "ben", "", "", SECRET, [], [], actor="pmo")
    assert err.value.details["fields"] == {"roles": "Choose at least one role."}


def test_a_taken_name_is_a_conflict_whatever_its_case(people):
    with pytest.raises(Conflict) as err:
        users.add_user(people, "Alice", "", "", SECRET, ["approver"], [], actor="pmo")
    assert err.value.details["fields"] == {"username": "This name is taken."}


def test_roles_and_profile_changes_are_events(people):
    row = users.update_user(
        people, "alice", "Alice Liddell", "alice@example.org", ["approver", "designer"], actor="pmo"
    )
    assert row.roles == ["approver", "designer"] and row.display_name == "Alice Liddell"
    [roles] = events(people, "roles_changed")
    assert roles.actor == "pmo" and roles.data == {
        "username": "alice",
        "before": ["approver"],
        "after": ["approver", "designer"],
    }
    [profile] = events(people, "user_updated")
    assert profile.data == {"username": "alice", "display_name": "Alice Liddell", "email": "alice@example.org"}
    users.update_user(people, "alice", "Alice Liddell", "alice@example.org", ["approver", "designer"], actor="pmo")
    assert len(events(people, "roles_changed")) == 1 and len(events(people, "user_updated")) == 1


def test_an_admin_keeps_their_own_admin_role(people):
    with pytest.raises(InvalidInput) as err:
        users.update_user(people, "pmo", "PMO", "", ["designer"], actor="pmo")
    assert "own admin role" in err.value.details["fields"]["roles"]
    assert users.get_user(people, "pmo").roles == ["admin"]
    with pytest.raises(NotFound):
        users.update_user(people, "nobody", "", "", ["approver"], actor="pmo")


def test_a_password_reset_ends_sessions(people):
    before = signin.sign_in(people, "alice", "demo", None).token
    assert before is not None and sessions.current(people, before) is not None
    users.reset_password(people, "alice", SECRET, actor="pmo")
    assert sessions.current(people, before) is None
    assert passwords.authenticate(people, "alice", "demo") is None and passwords.authenticate(people, "alice", SECRET)
    [event] = events(people, "password_reset")
    assert event.actor == "pmo" and event.data == {"username": "alice"}
    with pytest.raises(InvalidInput) as err:
        users.reset_password(people, "alice", "short", actor="pmo")
    assert "password" in err.value.details["fields"]


def test_deactivation_ends_sessions_and_tokens_and_reactivation_lets_the_user_back(people):
    session = signin.sign_in(people, "alice", "demo", None).token
    assert session is not None
    token = tokens.issue_token(people, "alice", "laptop", actor="pmo").token
    users.deactivate_user(people, "alice", actor="pmo")
    assert sessions.current(people, session) is None
    with pytest.raises(Unauthenticated):
        tokens.actor_for_token(people, token)
    assert passwords.authenticate(people, "alice", "demo") is None
    assert users.reactivate_user(people, "alice", actor="pmo") is True
    assert users.reactivate_user(people, "alice", actor="pmo") is False
    assert passwords.authenticate(people, "alice", "demo") is not None
    with pytest.raises(Unauthenticated):  # revoked tokens stay revoked
        tokens.actor_for_token(people, token)
    assert [e.actor for e in events(people, "user_deactivated")] == ["pmo"]
    assert [e.data for e in events(people, "user_reactivated")] == [{"username": "alice"}]


def test_nobody_deactivates_themselves(people):
    with pytest.raises(InvalidInput, match="yourself"):
        users.deactivate_user(people, "pmo", actor="pmo")
    assert users.get_user(people, "pmo").active
    with pytest.raises(NotFound):
        users.deactivate_user(people, "nobody", actor="pmo")


def test_the_user_list_shows_groups_roles_and_the_last_sign_in(people, clock):
    passwords.login(people, "alice", "demo", None)
    clock.advance(timedelta(hours=2))
    passwords.login(people, "alice", "demo", None)
    passwords.login(people, "alice", "wrong", None)
    rows = {r.username: r for r in users.list_users(people)}
    assert list(rows) == ["alice", "pmo"]
    assert rows["alice"].last_sign_in == clock.now() and rows["pmo"].last_sign_in is None
    assert rows["alice"].groups == ["IT Manager"] and rows["pmo"].roles == ["admin"]
    assert users.user_detail(people, "alice").user.last_sign_in == clock.now()


def test_groups_and_their_members(people):
    groups_service.add_group(people, "  Steering   Committee ", actor="pmo")
    with pytest.raises(Conflict):
        groups_service.add_group(people, "steering committee", actor="pmo")
    with pytest.raises(InvalidInput) as err:
        groups_service.add_group(people, "   ", actor="pmo")
    assert "name" in err.value.details["fields"]
    groups_service.add_member(people, "Steering Committee", "alice", actor="pmo")
    with pytest.raises(Conflict):
        groups_service.add_member(people, "Steering Committee", "alice", actor="pmo")
    with pytest.raises(InvalidInput) as err:
        groups_service.add_member(people, "Steering Committee", "nobody", actor="pmo")
    assert "username" in err.value.details["fields"]
    with pytest.raises(NotFound):
        groups_service.add_member(people, "Nope", "alice", actor="pmo")
    groups = {g.name: g.members for g in groups_service.list_groups(people)}
    assert groups == {"IT Manager": ["alice"], "Steering Committee": ["alice"]}
    assert passwords.authenticate(people, "alice", "demo").groups == {"IT Manager", "Steering Committee"}
    detail = groups_service.group_detail(people, "Steering Committee")
    assert [m.username for m in detail.members] == ["alice"] and detail.candidates == ["pmo"]
    groups_service.remove_member(people, "Steering Committee", "alice", actor="pmo")
    with pytest.raises(NotFound):
        groups_service.remove_member(people, "Steering Committee", "alice", actor="pmo")
    assert groups_service.group_detail(people, "Steering Committee").members == []
    kinds = [
        (e.type, e.data)
        for t in ("group_created", "group_member_added", "group_member_removed")
        for e in events(people, t)
    ]
    assert kinds == [
        ("group_created", {"group": "Steering Committee"}),
        ("group_member_added", {"group": "Steering Committee", "username": "alice"}),
        ("group_member_removed", {"group": "Steering Committee", "username": "alice"}),
    ]


def test_a_token_is_returned_once_stored_hashed_and_can_be_revoked(people, clock):
    issued = tokens.issue_token(people, "alice", "intake form", actor="pmo")
    assert issued.token.startswith(tokens.TOKEN_PREFIX) and issued.row.username == "alice"
    with people.uow(write=False) as uow:
        stored = uow.session.scalars(select(ApiToken)).one()
        assert stored.token_hash == tokens.token_digest(issued.token) and issued.token not in stored.token_hash
    assert tokens.actor_for_token(people, issued.token).username == "alice"
    [row] = tokens.token_overview(people).tokens
    assert (row.label, row.last_used_at, row.revoked_at) == ("intake form", clock.now(), None)
    tokens.revoke_token(people, row.id, actor="pmo")
    with pytest.raises(Unauthenticated):
        tokens.actor_for_token(people, issued.token)
    with pytest.raises(Conflict):
        tokens.revoke_token(people, row.id, actor="pmo")
    with pytest.raises(NotFound):
        tokens.revoke_token(people, "no-such-id", actor="pmo")
    created, revoked = events(people, "token_created")[0], events(people, "token_revoked")[0]
    assert created.actor == revoked.actor == "pmo"
    assert revoked.data == {"username": "alice", "name": "intake form", "token_id": row.id}
    assert created.data == {**revoked.data, "scopes": row.scopes}  # every scope of alice's role (approver)
    assert row.scopes == ["definitions:read", "instances:cancel", "instances:read", "instances:start"] + [
        "notifications",
        "tasks:complete",
        "tasks:read",
    ]
    assert issued.token not in str(created.data) + str(revoked.data)


def test_tokens_only_for_active_users(people):
    users.deactivate_user(people, "alice", actor="pmo")
    with pytest.raises(InvalidInput) as err:
        tokens.issue_token(people, "alice", "x" * 121, actor="pmo")
    assert set(err.value.details["fields"]) == {"username", "label"}
    assert tokens.token_overview(people).usernames == ["pmo"]


def test_deactivation_gives_the_users_open_tasks_back_to_their_groups(people):
    """An approver leaves: the task they took is offered to their lane again (a `task_unclaimed` event naming
    them and the reason); a completed task keeps its assignee."""
    deployments.deploy(people, ADMIN, [source("p.bpmn", one_approval())])
    held = instances.start(people, BOT, "p1", variables={}).open_tasks[0].id
    claims.claim(people, ALICE, held)
    users.deactivate_user(people, "alice", "pmo")
    task = inbox.get(people, ADMIN, held)
    assert task.assignee is None and task.status == "open"
    [event] = events(people, "task_unclaimed")
    assert event.actor == "pmo" and event.data["from"] == "alice" and event.data["reason"] == "deactivated"
    users.reactivate_user(people, "alice", "pmo")
    users.deactivate_user(people, "alice", "pmo")  # nothing held any more: no event
    assert len(events(people, "task_unclaimed")) == 1
