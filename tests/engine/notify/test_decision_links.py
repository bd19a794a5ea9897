"""Which tasks get decision links (engine/notify/actions.py), and what a link says: plain decision forms only,
open tasks only, not when turned off; a link to a form that asks for more leads to the task page. The whole
journey through email is in tests/webui/test_decision_links.py."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from engine import bootstrap
from engine.admin import users
from engine.core.errors import FormDataInvalid
from engine.definitions import deployments
from engine.notify import actions
from engine.runtime import instances
from engine.tasks import completion
from tests.bpmn_samples import one_approval
from tests.factories import ADMIN, BOT, actor, source

DECISION = {
    "type": "default",
    "id": "decide",
    "components": [
        {"type": "text", "id": "t", "text": "Decide"},
        {
            "type": "radio",
            "id": "d",
            "key": "decision",
            "label": "Decision",
            "values": [{"label": "Approve", "value": "approve"}, {"label": "Reject", "value": "reject"}],
            "validate": {"required": True},
        },
        {"type": "textarea", "id": "c", "key": "comment", "label": "Comment"},
    ],
}
MORE = {  # a decision and a figure to fill in: the task page only
    **DECISION,
    "id": "more",
    "components": [*DECISION["components"], {"type": "number", "id": "n", "key": "amount", "label": "Amount"}],
}
ALICE = actor("alice", "IT Manager", roles=("approver",))


@pytest.fixture
def tasks(ctx):
    """One open task with a plain decision form, one whose form asks for more, one without a form."""
    users.create_user(ctx, "alice", "demo", ["IT Manager"], ["approver"])
    files = [
        source("decide.form", json.dumps(DECISION)),
        source("more.form", json.dumps(MORE)),
        source("a.bpmn", one_approval(form="decide", pid="a")),
        source("b.bpmn", one_approval(form="more", pid="b")),
        source("c.bpmn", one_approval(pid="c")),
    ]
    deployments.deploy(ctx, ADMIN, files)
    return {key: instances.start(ctx, BOT, key).open_tasks[0].id for key in ("a", "b", "c")}


def test_only_open_plain_decision_tasks_get_links(ctx, tasks):
    offer = actions.links_for(ctx, tasks["a"], "alice", "email")
    assert offer is not None and offer.expires_at == ctx.clock.now() + timedelta(days=7)
    approve, reject = actions.verify(ctx, path(offer.approve)), actions.verify(ctx, path(offer.reject))
    assert (approve.task_id, approve.recipient, approve.action, approve.channel) == (
        tasks["a"],
        "alice",
        "approve",
        "email",
    )
    assert reject.action == "reject" and reject.nonce == approve.nonce  # one use for both
    assert actions.links_for(ctx, tasks["b"], "alice", "email") is None
    assert actions.links_for(ctx, tasks["c"], "alice", "email") is None
    assert actions.links_for(ctx, None, "alice", "email") is None
    completion.complete(ctx, ALICE, tasks["a"], {"decision": "approve"})
    assert actions.links_for(ctx, tasks["a"], "alice", "email") is None  # decided before the job ran


def test_no_links_when_turned_off_or_without_a_secret_key(ctx, tasks, settings, clock):
    for changed in ({"email_actions": False}, {"secret_key": ""}):
        other = bootstrap.context(replace(settings, **changed), clock=clock)
        try:
            assert actions.links_for(other, tasks["a"], "alice", "email") is None
        finally:
            other.db.dispose()


def test_the_expiry_follows_the_setting(ctx, tasks, settings, clock):
    other = bootstrap.context(replace(settings, decision_link_days=2), clock=clock)
    try:
        offer = actions.links_for(other, tasks["a"], "alice", "teams")
        assert offer is not None and offer.expires_at == clock.now() + timedelta(days=2)
        clock.advance(timedelta(days=2))
        with pytest.raises(actions.LinkSpent) as expired:
            actions.verify(other, path(offer.approve))
        assert expired.value.reason == "expired"
    finally:
        other.db.dispose()


def test_a_link_to_a_form_that_asks_for_more_leads_to_the_task_page(ctx, tasks):
    token = path(actions.issue_link(ctx, tasks["b"], "alice", "approve"))
    for attempt in (lambda: actions.confirmation(ctx, token), lambda: actions.decide(ctx, token, "ok")):
        with pytest.raises(actions.LinkInvalid) as refused:
            attempt()
        assert (refused.value.reason, refused.value.task_id) == ("not_decision", tasks["b"])


def test_issue_refuses_what_no_link_may_say(ctx, tasks):
    with pytest.raises(ValueError, match="unknown action"):
        actions.issue_link(ctx, tasks["a"], "alice", "delete")
    with pytest.raises(ValueError, match="unknown action"):
        actions.issue_link(ctx, tasks["a"], "alice", "approve", channel="fax")


def path(url: str) -> str:
    return urlsplit(url).path.removeprefix(actions.PATH)


def test_a_link_of_someone_deactivated_since_changes_nothing(ctx, tasks):
    token = path(actions.issue_link(ctx, tasks["a"], "alice", "approve"))
    users.deactivate(ctx, "alice", "pmo")
    with pytest.raises(actions.LinkNotYours) as refused:
        actions.decide(ctx, token, "")
    assert refused.value.reason == "inactive"
    assert completion.task_context(ctx, ADMIN, tasks["a"]).task.status == "open"


def test_a_failed_decision_leaves_the_link_unused(ctx, tasks):
    """A reject without its comment changes nothing, and the same link still works afterwards."""
    token = path(actions.issue_link(ctx, tasks["a"], "alice", "reject"))
    with pytest.raises(FormDataInvalid):
        actions.decide(ctx, token, " ")
    done = actions.decide(ctx, token, "No budget owner")
    assert (done.action, done.task_name) == ("reject", "Approve")
    with pytest.raises(actions.LinkSpent) as again:
        actions.decide(ctx, token, "again")
    assert again.value.reason == "used"
