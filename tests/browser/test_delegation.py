"""In Chromium: alice delegates her task to frank (a fellow IT Manager: project intake keeps separation of
duties, so a task goes only to its candidates) with a reason; frank, on a phone, hears of it through the
bell, opens the task and approves it, and the audit trail records that he did so on alice's behalf."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from .conftest import LiveServer


def _sign_in(page: Page, url: str, user: str) -> None:
    page.goto(url + "/login")
    page.fill("#username", user)
    page.fill("#password", "demo")
    page.click("button[type=submit]")
    expect(page.locator(".topbar .me")).to_contain_text(user)


def test_a_delegate_completes_on_the_owners_behalf(live_server: LiveServer, page: Page, mobile_page: Page):
    url = live_server.url
    started = httpx.post(
        f"{url}/api/v1/process-instances",
        headers={"Authorization": f"Bearer {live_server.token('intake-bot')}"},
        json={
            "process": "project-intake",
            "business_key": "PRJ-DELEGATE",
            "variables": {"title": "Warehouse scanners", "budget": 20000, "department": "Operations"},
        },
    )
    assert started.status_code == 201, started.text
    instance_id = started.json()["id"]

    # alice delegates the task to frank, with a reason
    _sign_in(page, url, "alice")
    page.get_by_role("link", name="IT Manager approval").first.click()
    page.get_by_text("Delegate or reassign").click()
    page.fill("#hand-to", "frank")
    page.fill("#hand-reason", "I am at the steering committee; Frank knows the budget.")
    page.get_by_role("button", name="Delegate", exact=True).click()
    expect(page.locator(".flash")).to_contain_text("Delegated to frank, who completes it on your behalf.")
    expect(page.locator(".delegated")).to_contain_text("Delegated by alice")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)  # it is frank's now

    # frank, on his phone, sees the bell, opens the notification and approves
    frank = mobile_page
    _sign_in(frank, url, "frank")
    expect(frank.locator(".topbar .bell .count")).to_have_text("1")
    frank.locator(".topbar .bell").click()
    frank.get_by_role("link", name=re.compile("alice delegated")).click()
    expect(frank.locator(".delegated")).to_contain_text("You complete it on alice's behalf.")
    expect(frank.locator(".topbar .bell .count")).to_have_count(0)
    frank.fill("#f-comment", "Within the operations budget.")
    frank.get_by_role("button", name="Approve").click()
    expect(frank.locator(".flash")).to_contain_text("Done: IT Manager approval")
    assert frank.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # the trail says frank approved on alice's behalf, and the request page shows it
    events = httpx.get(
        f"{url}/api/v1/process-instances/{instance_id}/audit",
        headers={"Authorization": f"Bearer {live_server.token('pmo')}"},
    ).json()["events"]
    [completed] = [e for e in events if e["type"] == "task_completed"]
    assert completed["actor"] == "frank" and completed["data"]["on_behalf_of"] == "alice"
    assert [e["data"]["to"] for e in events if e["type"] == "task_delegated"] == ["frank"]
    page.goto(f"{url}/requests/{instance_id}")
    expect(page.locator("ol.path")).to_contain_text("on behalf of alice")
    expect(page.locator("ol.path")).to_contain_text("alice delegated it to frank")
