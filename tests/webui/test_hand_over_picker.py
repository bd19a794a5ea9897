"""The task page's delegate/reassign picker offers whom the task may go to, and says why the list is limited
(engine.tasks.collaboration.receivers; both databases)."""

from __future__ import annotations

import re

from engine.runtime import instances
from tests.factories import ALICE, deploy_shipped
from tests.webui.conftest import intake

OPTIONS = re.compile(r'<datalist id="colleagues">(.*?)</datalist>', re.S)


def offered(html: str) -> dict[str, str]:
    """The picker's options: name -> label ('' without one)."""
    listing = OPTIONS.search(html)
    assert listing, html[:500]
    return {
        m.group(1): m.group(2) or ""
        for m in re.finditer(r'<option value="([^"]+)"(?: label="([^"]*)")?>', listing.group(1))
    }


def test_under_separation_of_duties_only_candidates_the_rules_allow_are_offered(app, browser_of):
    started = instances.start(
        app.extensions["pmoflow"],
        ALICE,
        "project-intake",
        business_key="PRJ-9",
        variables={"title": "New CRM", "budget": 120_000, "department": "Sales"},
    )
    task_id = started.open_tasks[0].id
    html = browser_of("pmo").get(f"/tasks/{task_id}").get_data(as_text=True)
    assert offered(html) == {"frank": ""}  # alice is an IT Manager but started it; bob, erin are not candidates
    assert "Only the task&#39;s candidates (members of IT Manager) are listed" in html
    assert "Not listed: alice, whom its rules bar from deciding on it." in html
    assert 'aria-describedby="hand-to-limits hand-to-error hand-to-away"' in html


def test_without_the_rules_candidates_come_first_and_others_are_marked_delegation_only(app, browser_of):
    deploy_shipped(app.extensions["pmoflow"], separation_of_duties=False)
    task_id = intake(app).open_tasks[0].id
    choices = offered(browser_of("alice").get(f"/tasks/{task_id}").get_data(as_text=True))
    assert next(iter(choices)) == "frank" and choices["frank"] == ""
    assert choices["erin"] == "erin: delegation only" and choices["bob"] == "bob: delegation only"
    html = browser_of("alice").get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Reassign goes only to the task&#39;s candidates (members of IT Manager)" in html


def test_an_admin_without_the_rules_may_reassign_to_anyone(app, browser_of):
    deploy_shipped(app.extensions["pmoflow"], separation_of_duties=False)
    task_id = intake(app).open_tasks[0].id
    html = browser_of("pmo").get(f"/tasks/{task_id}").get_data(as_text=True)
    choices = offered(html)
    assert {"alice", "frank", "bob", "erin"} <= set(choices) and not any(choices.values())
    assert 'id="hand-to-limits"' not in html
