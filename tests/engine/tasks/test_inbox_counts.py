"""The navigation's counts: `inbox.counts` gives what the unfiltered inbox and its overdue filter give, in one query."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from engine.runtime import instances
from engine.tasks import claims, inbox
from tests.factories import ALICE, BOB, BOT, deploy_shipped


def _intake(ctx, key: str, sla: str) -> str:
    view = instances.start(
        ctx,
        BOT,
        "project-intake",
        business_key=key,
        variables={"title": key, "budget": 10_000, "department": "Sales", "approval_sla": sla},
    )
    return view.open_tasks[0].id


def test_counts_are_the_inbox_and_its_overdue_filter(ctx, clock):
    deploy_shipped(ctx)
    _intake(ctx, "PRJ-SOON", "PT1H")
    mine = _intake(ctx, "PRJ-LATER", "P2D")
    claims.claim(ctx, ALICE, mine)  # assigned to her: still hers to do
    assert inbox.counts(ctx, ALICE) == inbox.InboxCounts(open=2, overdue=0)

    clock.advance(timedelta(hours=2))  # the first approval is past due (no worker fires its timer here)
    counts = inbox.counts(ctx, ALICE)
    assert counts == inbox.InboxCounts(open=2, overdue=1)
    assert counts.open == inbox.inbox(ctx, ALICE, inbox.InboxFilter()).total
    assert counts.overdue == inbox.inbox(ctx, ALICE, inbox.InboxFilter(due="overdue")).total
    assert inbox.counts(ctx, BOB) == inbox.InboxCounts(open=0, overdue=0)  # Finance has nothing yet


def test_counts_take_one_query(ctx):
    deploy_shipped(ctx)
    _intake(ctx, "PRJ-ONE", "P2D")
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(ctx.db, "before_cursor_execute", seen)
    try:
        assert inbox.counts(ctx, ALICE).open == 1
    finally:
        event.remove(ctx.db, "before_cursor_execute", seen)
    assert len(statements) == 1, statements
