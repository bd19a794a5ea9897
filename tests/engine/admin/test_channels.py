"""Channel switches (engine/admin/channels.py): an admin's choice, stored in the database, wins over the environment
for every process at once; each change is an audit event; decision links and Slack buttons follow the switch.
On SQLite and PostgreSQL (the `ctx` fixture's database). The web page and the email journey:
tests/webui/test_admin_channels.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from engine import bootstrap
from engine.admin import channels
from engine.audit import trail
from engine.audit.presets import ACTIONS, PRESETS
from engine.core.context import EngineContext
from engine.core.errors import Forbidden, InvalidInput
from engine.integration.slack import decisions
from engine.notify import actions, slack_dm
from tests.engine.notify.test_decision_links import path
from tests.engine.notify.test_decision_links import tasks as _tasks  # noqa: F401 - a fixture
from tests.factories import ADMIN, ALICE


@pytest.fixture
def tasks(request):
    """One open task with a plain decision form ("a"), one whose form asks for more, one without a form."""
    return request.getfixturevalue("_tasks")


@pytest.fixture
def other(ctx: EngineContext) -> Iterator[EngineContext]:
    """A second process (another server or worker host) on the same database, sharing the clock."""
    second = bootstrap.context(ctx.settings, clock=ctx.clock)
    yield second
    second.db.dispose()


@pytest.fixture
def env_off(ctx: EngineContext) -> Iterator[EngineContext]:
    """A process whose environment says PMOFLOW_EMAIL_ACTIONS=0 and PMOFLOW_SLACK_ACTIONS=0."""
    second = bootstrap.context(replace(ctx.settings, email_actions=False, slack_actions=False), clock=ctx.clock)
    yield second
    second.db.dispose()


def changes(ctx: EngineContext) -> list[trail.AuditEventView]:
    return list(trail.search(ctx, ADMIN, trail.AuditFilter(action=channels.EVENT)).items)


def test_without_an_admins_choice_the_environment_decides(ctx, env_off):
    assert channels.enabled(ctx, "email_actions") and channels.enabled(ctx, "slack_actions")
    assert not channels.enabled(env_off, "email_actions") and not channels.enabled(env_off, "slack_actions")
    [email, slack] = channels.list_switches(env_off, ADMIN)
    assert (email.key, email.on, email.source, email.environment_variable) == (
        "email_actions",
        False,
        "environment",
        "PMOFLOW_EMAIL_ACTIONS",
    )
    assert (slack.key, slack.on, slack.source, slack.configured) == ("slack_actions", False, "environment", False)
    assert changes(ctx) == []


def test_the_stored_choice_overrides_the_environment_in_every_process_at_once(ctx, other, env_off, clock):
    view = channels.set_switch(ctx, ADMIN, "email_actions", False)
    assert (view.on, view.source, view.changed_by, view.changed_at) == (False, "admin", "pmo", clock.now())
    assert not channels.enabled(other, "email_actions")  # another process: no restart, no wait
    assert channels.enabled(other, "slack_actions")  # the other switch is untouched
    channels.set_switch(other, ADMIN, "email_actions", True)
    assert channels.enabled(env_off, "email_actions")  # on, though that host's environment says off
    [email, _] = channels.list_switches(env_off, ADMIN)
    assert (email.on, email.source, email.environment_value) == (True, "admin", False)


def test_each_change_is_an_audit_event_with_who_what_and_from_to(ctx):
    channels.set_switch(ctx, ADMIN, "email_actions", False)
    channels.set_switch(ctx, ADMIN, "email_actions", False)  # no change: no event
    channels.set_switch(ctx, ADMIN, "slack_actions", True)  # on already, but now the admin's choice
    channels.set_switch(ctx, ADMIN, "email_actions", None)  # back to the environment (on)
    found = sorted(changes(ctx), key=lambda e: e.id)
    got = [(e.actor, e.data["setting"], e.data["from"], e.data["to"], e.data["to_source"]) for e in found]
    assert sorted(got) == sorted(
        [
            ("pmo", "email_actions", True, False, "admin"),
            ("pmo", "slack_actions", True, True, "admin"),
            ("pmo", "email_actions", False, True, "environment"),
        ]
    )
    texts = {e.summary for e in found}
    assert any(t.startswith("pmo turned Approve and Reject in emails and Teams cards off on") for t in texts), texts
    assert any("on (back to the environment's value)" in t and "(was off)" in t for t in texts), texts
    assert channels.EVENT in ACTIONS and channels.EVENT in (PRESETS["workflows"].types or ())
    assert channels.EVENT in trail.event_types(ctx, ADMIN)
    assert channels.enabled(ctx, "email_actions") and channels.list_switches(ctx, ADMIN)[0].source == "environment"


def test_only_admins_change_or_see_the_switches_and_unknown_ones_are_refused(ctx):
    with pytest.raises(Forbidden):
        channels.set_switch(ctx, ALICE, "email_actions", False)
    with pytest.raises(Forbidden):
        channels.list_switches(ctx, ALICE)
    with pytest.raises(InvalidInput):
        channels.set_switch(ctx, ADMIN, "fax_actions", False)
    with pytest.raises(InvalidInput):
        channels.enabled(ctx, "fax_actions")
    assert channels.enabled(ctx, "email_actions") and changes(ctx) == []


def test_turned_off_by_an_admin_no_links_are_offered_and_links_sent_before_are_refused(ctx, tasks, env_off):
    sent_before = path(actions.issue_link(ctx, tasks["a"], "alice", "approve"))
    assert actions.links_for(ctx, tasks["a"], "alice", "email") is not None
    channels.set_switch(ctx, ADMIN, "email_actions", False)
    assert actions.links_for(ctx, tasks["a"], "alice", "email") is None
    assert actions.links_for(ctx, tasks["a"], "alice", "teams") is None
    for attempt in (lambda: actions.confirmation(ctx, sent_before), lambda: actions.decide(ctx, sent_before, "ok")):
        with pytest.raises(actions.LinkInvalid) as refused:
            attempt()
        assert (refused.value.reason, refused.value.task_id) == ("disabled", tasks["a"])
    # turned on by an admin where the environment says off: links again, and the old one works
    channels.set_switch(ctx, ADMIN, "email_actions", True)
    assert actions.links_for(env_off, tasks["a"], "alice", "email") is not None
    assert actions.confirmation(env_off, sent_before).task_name


def test_turned_off_by_an_admin_slack_offers_no_buttons_and_refuses_clicks(ctx, tasks):
    alice = ALICE
    assert slack_dm.decidable(ctx, tasks["a"])
    channels.set_switch(ctx, ADMIN, "slack_actions", False)
    assert not slack_dm.decidable(ctx, tasks["a"])
    refused = decisions.decide(ctx, alice, tasks["a"], "approve", None, "U0ALICE")
    assert isinstance(refused, decisions.Refusal) and "turned off" in refused.message
    assert isinstance(decisions.decidable(ctx, alice, tasks["a"]), decisions.Refusal)
    assert actions.links_for(ctx, tasks["a"], "alice", "email") is not None  # email is its own switch
