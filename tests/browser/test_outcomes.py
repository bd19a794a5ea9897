"""A request's outcome in a real browser (issue 16, points 1 and 2): a rejection reads "Rejected" in My
requests, on the request page, in the monitor's list and in the bell, and the history says "rejected", never
"rejectd"; the requester's timeline (who has it, since when, due when, the outcome) at 1280 and 390 px."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from .conftest import DESKTOP, MOBILE, LiveServer, watched_page
from .test_tasklist import api, sign_in


def start_as(server: LiveServer, user: str, title: str, key: str) -> str:
    with api(server, user) as client:
        response = client.post(
            "/api/v1/process-instances",
            json={
                "process": "project-intake",
                "business_key": key,
                "variables": {"title": title, "budget": 20_000, "department": "Sales"},
            },
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


def decide(browser: Browser, server: LiveServer, key: str, button: str, comment: str) -> None:
    with watched_page(browser, DESKTOP) as alice:
        sign_in(alice, server, "alice")
        alice.locator("tbody#rows tr", has_text=key).get_by_role("link", name="IT Manager approval").click()
        alice.fill("#f-comment", comment)
        alice.get_by_role("button", name=button).click()
        expect(alice.locator(".flash")).to_contain_text("Done")


def no_typo(page: Page) -> None:
    text = page.locator("body").inner_text()
    assert "rejectd" not in text, "a decision value with a 'd' glued on"


def test_a_rejection_reads_rejected_everywhere_the_requester_and_the_pmo_look(
    live_server: LiveServer, page: Page, browser: Browser
):
    url = live_server.url
    rejected = start_as(live_server, "erin", "Data lake", "PRJ-NO")
    start_as(live_server, "erin", "New CRM", "PRJ-YES")
    decide(browser, live_server, "PRJ-NO", "Reject", "Not this year")
    decide(browser, live_server, "PRJ-YES", "Approve", "Go ahead")

    sign_in(page, live_server, "erin")
    # the bell
    page.goto(url + "/notifications")
    notes = page.locator("ul.notifications")
    expect(notes).to_contain_text("Your request Data lake (PRJ-NO) was rejected by alice.")
    expect(notes).to_contain_text("Your request New CRM (PRJ-YES) was approved by alice.")
    expect(notes).not_to_contain_text("is completed")
    # My requests: the state column, and the tabs filter by outcome
    page.goto(url + "/requests")
    expect(page.locator("tr", has_text="Data lake").locator("td[data-label=State]")).to_have_text("Rejected")
    expect(page.locator("tr", has_text="New CRM").locator("td[data-label=State]")).to_have_text("Approved")
    page.get_by_role("link", name="Rejected", exact=True).click()
    expect(page.locator("table.requests tbody")).to_contain_text("Data lake")
    expect(page.locator("table.requests tbody")).not_to_contain_text("New CRM")
    # the request page: the badge, the outcome on the timeline, the history in words
    page.get_by_role("link", name="Data lake").click()
    expect(page.locator("h1 .badge")).to_have_text("Rejected")
    expect(page.locator("ol.timeline")).to_contain_text("Rejected by alice")
    history = page.locator("ol.path")
    expect(history).to_contain_text("IT Manager approval: alice rejected")
    expect(history).to_contain_text("Not this year")
    expect(history).to_contain_text("Decision Approval tier made")
    expect(history).not_to_contain_text("DecisionTable_")
    expect(page.locator("dl.vars")).to_contain_text("Rejected")
    expect(page.locator("dl.vars")).not_to_contain_text(re.compile(r"\breject\b"))
    no_typo(page)
    assert rejected in page.url

    with watched_page(browser, DESKTOP) as pmo:
        sign_in(pmo, live_server, "pmo")
        pmo.goto(url + "/monitor")
        row = pmo.locator("table.monitor-list tr", has_text="Data lake")
        expect(row.locator("td[data-label=Outcome]")).to_have_text("Rejected")
        expect(row.locator("td[data-label=Status]")).to_have_text("Completed")
        pmo.select_option("#f-outcome", "rejected")
        pmo.get_by_role("button", name="Apply").click()
        expect(pmo.locator("table.monitor-list tbody")).to_contain_text("Data lake")
        expect(pmo.locator("table.monitor-list tbody")).not_to_contain_text("New CRM")
        pmo.goto(url + f"/monitor/instances/{rejected}")
        no_typo(pmo)


def test_the_requester_follows_the_request_on_a_timeline(live_server: LiveServer, browser: Browser):
    url = live_server.url
    for viewport, key in ((DESKTOP, "PRJ-WIDE"), (MOBILE, "PRJ-PHONE")):
        with watched_page(browser, viewport) as page:
            sign_in(page, live_server, "erin")
            page.goto(url + "/requests/new")
            card = page.locator("ul.process-list li", has_text="Project intake")
            expect(card).to_contain_text("A department asks for a new IT project")
            expect(card).to_contain_text("Typical duration")
            card.get_by_role("link", name="Project intake").click()
            page.fill("#f-title", f"Timeline {key}")
            page.fill("#f-budget", "20000")
            page.select_option("#f-department", "Sales")
            page.fill("#f-business_key", key)
            page.get_by_role("button", name="Submit request").click()
            timeline = page.locator("ol.timeline")
            expect(timeline).to_contain_text("Submitted by erin")
            now = timeline.locator("li.now")
            expect(now).to_contain_text("IT Manager approval")
            expect(now).to_contain_text("with IT Manager")
            expect(now).to_contain_text("since")
            expect(now).to_contain_text(re.compile(r"due \d\d \w{3} \d{4}"))
            expect(now).to_contain_text("On track")
            expect(timeline).to_contain_text("Outcome: not decided yet")
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    decide(browser, live_server, "PRJ-WIDE", "Approve", "Fine")
    with watched_page(browser, MOBILE) as page:
        sign_in(page, live_server, "erin")
        page.goto(url + "/requests")
        page.get_by_role("link", name="Timeline PRJ-WIDE").click()
        end = page.locator("ol.timeline li.end")
        expect(end).to_contain_text("Approved by alice")
        expect(page.locator("ol.timeline")).not_to_contain_text("not decided yet")
        assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
        page.goto(url + "/requests/new")
        card = page.locator("ul.process-list li", has_text="Project intake")
        expect(card).to_contain_text("median of 1 finished request")
        expect(page.locator("ul.process-list li", has_text="Change request")).to_contain_text("no history yet")
