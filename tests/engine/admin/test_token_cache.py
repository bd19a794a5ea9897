"""Bearer-token checks: one query, then reused for a few seconds; revocation still holds.

Two engine contexts on one database stand for two server processes (gunicorn workers).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event

from engine.admin import groups, tokens, users
from engine.core.context import EngineContext
from engine.core.errors import Unauthenticated


@pytest.fixture
def token(ctx: EngineContext) -> str:
    users.create_user(ctx, "pmo", "demo", [], ["admin"])
    users.create_user(ctx, "alice", "demo", ["IT Manager", "Finance"], ["approver"])
    return tokens.create_token(ctx, "alice", "ci")


@pytest.fixture
def other(ctx: EngineContext):  # type: ignore[no-untyped-def]
    """A second process on the same database, sharing the clock."""
    second = EngineContext.from_settings(ctx.settings, clock=ctx.clock)
    yield second
    second.db.dispose()


def statements(ctx: EngineContext, fn):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def on_execute(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if not statement.startswith(("BEGIN", "PRAGMA")):
            seen.append(statement)

    event.listen(ctx.db, "before_cursor_execute", on_execute)
    try:
        result = fn()
    finally:
        event.remove(ctx.db, "before_cursor_execute", on_execute)
    return result, seen


def token_id(ctx: EngineContext) -> str:
    return tokens.token_overview(ctx).tokens[0].id


def test_a_token_is_checked_in_one_query_and_then_reused(ctx, token, clock):
    clock.advance(timedelta(minutes=5))  # last use is old: the check also records this use
    actor, first = statements(ctx, lambda: tokens.actor_for_token(ctx, token))
    assert (actor.username, actor.groups, actor.roles) == (
        "alice",
        frozenset({"IT Manager", "Finance"}),
        frozenset({"approver"}),
    )
    assert actor.token_id is not None
    assert len([s for s in first if "api_tokens" in s and s.lstrip().upper().startswith("SELECT")]) == 1
    assert not any("group_members" in s and "api_tokens" not in s for s in first)  # groups are joined in
    again, second = statements(ctx, lambda: tokens.actor_for_token(ctx, token))
    assert again == actor and second == []


def test_revoking_stops_the_token_at_once_in_this_process(ctx, token):
    tokens.actor_for_token(ctx, token)
    tokens.revoke_token(ctx, token_id(ctx), actor="pmo")
    with pytest.raises(Unauthenticated):
        tokens.actor_for_token(ctx, token)


def test_other_processes_stop_accepting_a_revoked_token_within_the_cache_time(ctx, other, token, clock):
    assert ctx.settings.token_cache_seconds == 5
    tokens.actor_for_token(other, token)  # cached by the other process
    tokens.revoke_token(ctx, token_id(ctx), actor="pmo")
    clock.advance(timedelta(seconds=4))
    assert tokens.actor_for_token(other, token).username == "alice"  # the documented bound
    clock.advance(timedelta(seconds=1))
    with pytest.raises(Unauthenticated):
        tokens.actor_for_token(other, token)


def test_deactivating_a_user_or_changing_their_groups_applies_at_once_in_this_process(ctx, token):
    assert tokens.actor_for_token(ctx, token).groups == frozenset({"IT Manager", "Finance"})
    groups.remove_member(ctx, "Finance", "alice", actor="pmo")
    assert tokens.actor_for_token(ctx, token).groups == frozenset({"IT Manager"})
    users.update_user(ctx, "alice", "Alice", "", ["approver", "auditor"], actor="pmo")
    assert tokens.actor_for_token(ctx, token).roles == frozenset({"approver", "auditor"})
    users.deactivate_user(ctx, "alice", actor="pmo")
    with pytest.raises(Unauthenticated):
        tokens.actor_for_token(ctx, token)


def test_a_cache_time_of_zero_checks_every_request(ctx, token):
    strict = EngineContext.from_settings(replace(ctx.settings, token_cache_seconds=0), clock=ctx.clock)
    try:
        tokens.actor_for_token(strict, token)
        tokens.revoke_token(ctx, token_id(ctx), actor="pmo")
        with pytest.raises(Unauthenticated):
            tokens.actor_for_token(strict, token)
    finally:
        strict.db.dispose()


def test_unknown_tokens_are_not_cached(ctx, token):
    with pytest.raises(Unauthenticated):
        tokens.actor_for_token(ctx, token + "x")
    _, seen = statements(ctx, lambda: pytest.raises(Unauthenticated, tokens.actor_for_token, ctx, token + "x"))
    assert seen, "a refused token is looked up again, never remembered"
