"""In Chromium: audrey the auditor finds a project by its business key, reads its decision trail on the
diagram, exports the search as CSV (its rows are the events), and every write she tries is refused."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from .conftest import LiveServer


def _sign_in(page: Page, url: str, user: str) -> None:
    page.goto(url + "/login")
    page.fill("#username", user)
    page.fill("#password", "demo")
    page.click("button[type=submit]")
    expect(page.locator(".topbar .me")).to_contain_text(user)


def _start(url: str, token: str, key: str, budget: int) -> dict:
    started = httpx.post(
        f"{url}/api/v1/process-instances",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "process": "project-intake",
            "business_key": key,
            "variables": {"title": "Data platform", "budget": budget, "department": "Finance"},
        },
    )
    assert started.status_code == 201, started.text
    return started.json()


def test_an_auditor_reads_and_exports_the_trail_and_changes_nothing(live_server: LiveServer, page: Page):
    url = live_server.url
    bot = live_server.token("intake-bot")
    mine = _start(url, bot, "PRJ-AUDIT", 120_000)
    _start(url, bot, "PRJ-OTHER", 5_000)
    alice = live_server.token("alice")
    done = httpx.post(
        f"{url}/api/v1/tasks/{mine['open_tasks'][0]['id']}/complete",
        headers={"Authorization": f"Bearer {alice}"},
        json={"data": {"decision": "approve", "comment": "within budget"}},
    )
    assert done.status_code == 200, done.text

    _sign_in(page, url, "audrey")
    page.get_by_role("link", name="Audit", exact=True).click()
    page.fill("#f-key", "PRJ-AUDIT")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#audit-results tbody tr")
    expect(rows.first).to_be_visible()
    expect(page.locator("#audit-results")).not_to_contain_text("PRJ-OTHER")

    # the export of this search: one CSV row per event shown by the API for the same search
    with page.expect_download() as download:
        page.click("#export-csv")
    exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    api = httpx.get(
        f"{url}/api/v1/audit/events",
        params={"business_key": "PRJ-AUDIT", "per_page": 500},
        headers={"Authorization": f"Bearer {bot}"},
    ).json()["items"]
    assert [(r["id"], r["type"], r["actor"], r["hash"]) for r in exported] == [
        (e["id"], e["type"], e["actor"] or "", e["hash"]) for e in reversed(api)
    ]
    assert rows.count() == len(exported)
    assert {"instance_started", "decision_evaluated", "task_completed"} <= {r["type"] for r in exported}

    # the timeline reads as a decision trail, on the diagram of the version the instance ran
    page.locator("#audit-results a", has_text="PRJ-AUDIT").first.click()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text(re.compile(r"IT Manager / alice \(API token #\d+\) approved on"))
    expect(timeline).to_contain_text('"within budget"')
    expect(timeline).to_contain_text("of approval_tier matched")
    expect(page.locator("#audit-diagram[data-ready=true]")).to_have_count(1)
    expect(page.locator("#audit-diagram .djs-element.audit-done")).not_to_have_count(0)
    expect(page.locator('#audit-diagram [data-element-id="finance_approval"].audit-open')).to_have_count(1)

    # every write is refused: no buttons to act, and forged posts (with a valid CSRF token) get 403
    task_id = httpx.get(
        f"{url}/api/v1/process-instances/{mine['id']}", headers={"Authorization": f"Bearer {bot}"}
    ).json()["open_tasks"][0]["id"]
    page.goto(f"{url}/tasks/{task_id}")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    writes = [
        f"/tasks/{task_id}",
        f"/tasks/{task_id}/claim",
        f"/tasks/{task_id}/delegate",
        f"/tasks/{task_id}/reassign",
        f"/tasks/{task_id}/comments",
        f"/tasks/{task_id}/attachments",
        f"/requests/{mine['id']}/comments",
        f"/requests/{mine['id']}/attachments",
        "/requests/new/project-intake",
        "/admin/users/new",
        "/admin/groups",
        "/admin/tokens",
        "/account/out-of-office",
    ]
    for path in writes:
        response = page.request.post(url + path, form={"csrf_token": csrf, "decision": "approve", "body": "x"})
        assert response.status == 403, (path, response.status)
    trail = httpx.get(
        f"{url}/api/v1/audit/events", params={"actor": "audrey"}, headers={"Authorization": f"Bearer {bot}"}
    ).json()["items"]
    assert {e["type"] for e in trail} <= {"login"}  # she signed in, and changed nothing
    assert httpx.get(f"{url}/api/v1/audit/verify", headers={"Authorization": f"Bearer {bot}"}).json()["ok"]
