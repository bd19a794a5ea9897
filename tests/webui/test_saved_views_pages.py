"""Saved views through the pages (Flask client, both databases): the inbox's panel, save, rename, delete."""

from __future__ import annotations

import re

from engine.lists.saved_views import PAGES
from tests.webui.conftest import csrf_of
from webui.saved_views import LIST_ENDPOINTS


def panel_links(html: str) -> list[tuple[str, str, bool]]:
    """(label, href, current) of each view link in the page's views panel."""
    found = re.findall(r'<a class="view ([^"]*)" href="([^"]*)"( aria-current="page")?[^>]*>([^<]*)<', html)
    return [(label.strip(), href.replace("&amp;", "&"), bool(cur)) for _, href, cur, label in found]


def test_a_saved_view_appears_in_the_inbox_and_marks_itself_current(app, browser_of):
    alice = browser_of("alice")
    token = csrf_of(alice, "/tasks")
    saved = alice.post(
        "/views",
        data={
            "page": "inbox",
            "name": "IT overdue",
            "query": "scope=groups&due=overdue&page=2",
            "audience": "group:IT Manager",
            "csrf_token": token,
        },
    )
    assert saved.status_code == 302 and saved.headers["Location"] == "/tasks?due=overdue&scope=groups"
    page = alice.get("/tasks?scope=groups&due=overdue").get_data(as_text=True)
    assert "Saved the view &#39;IT overdue&#39; (shared with IT Manager)" in page
    links = panel_links(page)
    assert ("Overdue", "/tasks?due=overdue", False) in links
    assert ("IT overdue", "/tasks?due=overdue&scope=groups", True) in links
    # someone of another group does not see it
    bob = browser_of("bob").get("/tasks").get_data(as_text=True)
    assert "IT overdue" not in bob


def test_built_in_views_mark_the_filter_showing(app, browser_of):
    links = panel_links(browser_of("alice").get("/tasks?due=week&page=1").get_data(as_text=True))
    assert [label for label, _, current in links if current] == ["Due this week"]
    assert [label for label, _, current in links][:5] == [
        "All my work",
        "Assigned to me",
        "My groups, unassigned",
        "Due this week",
        "Overdue",
    ]


def test_rename_share_and_delete_from_the_manage_page(app, browser_of):
    dana = browser_of("pmo")
    token = csrf_of(dana, "/views")
    dana.post("/views", data={"page": "inbox", "name": "Week", "query": "due=week", "csrf_token": token})
    page = dana.get("/views").get_data(as_text=True)
    view_id = re.search(r'action="/views/([^/]+)/rename"', page).group(1)
    renamed = dana.post(
        f"/views/{view_id}/rename",
        data={"name": "Due this week (all)", "audience": "everyone", "csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Saved the view &#39;Due this week (all)&#39; (shared with everyone)" in renamed
    assert "Due this week (all)" in browser_of("bob").get("/tasks").get_data(as_text=True)
    gone = dana.post(f"/views/{view_id}/delete", data={"csrf_token": token}, follow_redirects=True)
    assert "Deleted the view" in gone.get_data(as_text=True)
    assert "Due this week (all)" not in browser_of("bob").get("/tasks").get_data(as_text=True)


def test_a_refused_save_says_why_and_keeps_the_filter(app, browser_of):
    alice = browser_of("alice")
    token = csrf_of(alice, "/tasks")
    refused = alice.post(
        "/views",
        data={"page": "inbox", "name": "All", "query": "due=week", "audience": "everyone", "csrf_token": token},
    )
    assert refused.status_code == 302 and refused.headers["Location"] == "/tasks?due=week"
    page = alice.get("/tasks?due=week").get_data(as_text=True)
    assert "The view was not saved: only designers and admins share views with everyone" in page
    assert alice.post("/views", data={"page": "nowhere", "name": "x", "csrf_token": token}).status_code == 302
    assert alice.post("/views", data={"page": "inbox", "name": "x"}).status_code == 400  # no CSRF token
    assert alice.post("/views/not-a-view/delete", data={"csrf_token": token}).status_code == 404


def test_every_page_with_views_has_a_list_to_show_them_on(app):
    """Each page key of the engine's table names a list endpoint that serves GET, so a saved view opens."""
    assert set(LIST_ENDPOINTS) == set(PAGES)
    served = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods and not rule.arguments}
    assert set(LIST_ENDPOINTS.values()) <= served


def test_the_monitor_list_and_the_audit_search_save_their_filters_as_views(app, browser_of):
    pmo = browser_of("pmo")
    listing = pmo.get("/monitor?in_error=1").get_data(as_text=True)
    assert ("In error", "/monitor?in_error=1", True) in panel_links(listing)
    token = csrf_of(pmo, "/monitor")
    saved = pmo.post(
        "/views",
        data={
            "page": "monitor",
            "name": "Intake running",
            "query": "process=project-intake&status=running",
            "audience": "private",
            "csrf_token": token,
        },
    )
    assert saved.status_code == 302 and saved.headers["Location"] == "/monitor?process=project-intake&status=running"
    page = pmo.get("/monitor?process=project-intake&status=running").get_data(as_text=True)
    assert ("Intake running", "/monitor?process=project-intake&status=running", True) in panel_links(page)
    audrey = browser_of("audrey")
    token = csrf_of(audrey, "/audit")
    saved = audrey.post(
        "/views",
        data={
            "page": "audit",
            "name": "Alice's decisions",
            "query": "actor=alice&preset=decisions",
            "audience": "private",
            "csrf_token": token,
        },
    )
    assert saved.headers["Location"] == "/audit?actor=alice&preset=decisions"
    search = audrey.get("/audit?actor=alice&preset=decisions").get_data(as_text=True)
    assert ("Alice&#39;s decisions", "/audit?actor=alice&preset=decisions", True) in panel_links(search)
    assert 'name="page" value="audit"' in search and "Save this view" in search
