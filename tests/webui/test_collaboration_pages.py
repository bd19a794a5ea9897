"""Collaboration in the browser pages (Flask client, both databases): delegate, comment, attach,
notifications, out of office, and the requester's /requests pages."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.db.models import Event
from engine.runtime import instances
from tests.factories import BOT, deploy_shipped
from tests.webui.conftest import csrf_of, intake

UNREAD = re.compile(r'id="unread-count">(\d+)<')


@pytest.fixture(autouse=True)
def _intake_without_separation_of_duties(app):
    """These pages hand intake tasks outside the IT Manager lane (to erin, to bob), which the shipped model's
    separation of duties forbids (that rule's pages: tests/browser/test_shell.py, test_tasklist.py)."""
    deploy_shipped(app.extensions["pmoflow"], separation_of_duties=False)


def unread(client) -> int:
    match = UNREAD.search(client.get("/notifications").get_data(as_text=True))
    return int(match.group(1)) if match else 0


def events(app, kind: str) -> list[dict]:
    with app.extensions["pmoflow"].uow(write=False) as uow:
        return [{"actor": e.actor, **e.data} for e in uow.session.scalars(select(Event).where(Event.type == kind))]


def test_a_delegate_completes_on_the_owners_behalf(app, browser_of):
    task_id = intake(app).open_tasks[0].id
    alice, erin = browser_of("alice"), browser_of("erin")
    page = alice.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Delegate or reassign" in page and '<option value="erin" label="erin: delegation only">' in page
    token = csrf_of(alice, f"/tasks/{task_id}")
    done = alice.post(
        f"/tasks/{task_id}/delegate",
        data={"to": "erin", "reason": "on holiday", "csrf_token": token},
        follow_redirects=True,
    )
    assert "Delegated to erin, who completes it on your behalf." in done.get_data(as_text=True)
    assert unread(erin) == 1
    listing = erin.get("/notifications").get_data(as_text=True)
    note_id = re.search(r'action="/notifications/([^/]+)/read"', listing).group(1)
    assert "alice delegated “IT Manager approval”" in listing
    opened = erin.post(
        f"/notifications/{note_id}/read", data={"open": "1", "csrf_token": csrf_of(erin, "/notifications")}
    )
    assert opened.status_code == 302 and opened.headers["Location"] == f"/tasks/{task_id}"
    assert unread(erin) == 0
    task_page = erin.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Delegated by alice" in task_page and "You complete it on alice's behalf." in task_page
    approved = erin.post(
        f"/tasks/{task_id}",
        data={"decision": "approve", "comment": "fine", "csrf_token": csrf_of(erin, f"/tasks/{task_id}")},
    )
    assert approved.status_code == 302
    [completed] = events(app, "task_completed")
    assert (completed["actor"], completed["on_behalf_of"]) == ("erin", "alice")
    history = alice.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "on behalf of alice" in history and "alice delegated it to erin" in history


def test_a_hand_over_without_a_reason_shows_the_message_on_the_field(app, browser_of):
    task_id = intake(app).open_tasks[0].id
    alice = browser_of("alice")
    token = csrf_of(alice, f"/tasks/{task_id}")
    response = alice.post(f"/tasks/{task_id}/delegate", data={"to": "nobody", "reason": "", "csrf_token": token})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert '<details class="hand-over" open>' in page
    assert '<p class="error" id="hand-reason-error">required: say why</p>' in page
    assert "there is no user &#39;nobody&#39;" in page and 'value="nobody"' in page


def test_reassigning_sends_the_task_away_and_back_to_the_inbox(app, browser_of):
    task_id = intake(app).open_tasks[0].id
    admin = browser_of("pmo")
    response = admin.post(
        f"/tasks/{task_id}/reassign",
        data={"to": "bob", "reason": "Finance decides", "csrf_token": csrf_of(admin, f"/tasks/{task_id}")},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/tasks"
    bob = browser_of("bob")
    assert unread(bob) == 1 and "IT Manager approval" in bob.get("/tasks").get_data(as_text=True)


def test_comments_thread_escape_and_mention(app, browser_of):
    view = intake(app)
    task_id = view.open_tasks[0].id
    alice, admin = browser_of("alice"), browser_of("pmo")
    token = csrf_of(alice, f"/tasks/{task_id}")
    posted = alice.post(f"/tasks/{task_id}/comments", data={"body": "<b>Budget?</b> @pmo", "csrf_token": token})
    assert posted.status_code == 302 and posted.headers["Location"].endswith("#comments")
    page = alice.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert '&lt;b&gt;Budget?&lt;/b&gt; <strong class="mention">@pmo</strong>' in page
    parent = re.search(r'name="parent" value="([^"]+)"', page).group(1)
    assert unread(admin) == 1
    reply = admin.post(
        f"/requests/{view.id}/comments",
        data={"body": "Yes, firm.", "parent": parent, "csrf_token": csrf_of(admin, f"/requests/{view.id}")},
    )
    assert reply.status_code == 302
    detail = alice.get(f"/requests/{view.id}").get_data(as_text=True)
    assert re.search(
        r'<ol class="comments replies">\s*<li class="comment"[^>]*>\s*<div class="meta"><strong>pmo', detail
    )
    empty = alice.post(f"/tasks/{task_id}/comments", data={"body": "  ", "csrf_token": token})
    assert empty.status_code == 422
    assert '<p class="error" id="comment-body-error">required</p>' in empty.get_data(as_text=True)
    hidden = alice.post(
        f"/tasks/{task_id}/comments", data={"body": "cc @bob", "csrf_token": token}, follow_redirects=True
    )
    assert "Not notified: @bob: may not see this request." in hidden.get_data(as_text=True)
    nobody = alice.post(
        f"/tasks/{task_id}/comments", data={"body": "ask @bobby.", "csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Not notified: @bobby: no such user." in nobody
    assert (
        'ask <span class="mention unknown" title="No user bobby: nobody was notified">@bobby'
        '<span class="sr-only"> (no such user)</span></span>.'
    ) in nobody
    assert "Nobody was notified of @bobby: there is no such user." in nobody
    assert alice.post(f"/tasks/{task_id}/comments", data={"body": "no token"}).status_code == 400


def test_documents_upload_and_download_safely(app, browser_of):
    view = intake(app)
    task_id = view.open_tasks[0].id
    alice = browser_of("alice")
    token = csrf_of(alice, f"/tasks/{task_id}")
    uploaded = alice.post(
        f"/tasks/{task_id}/attachments",
        content_type="multipart/form-data",
        data={"kind": "document", "csrf_token": token, "file": (io.BytesIO(b"<html><script>x</script>"), "plan.html")},
    )
    assert uploaded.status_code == 302
    page = alice.get(f"/requests/{view.id}").get_data(as_text=True)
    doc_id = re.search(r'href="/attachments/([^"]+)" download>plan.html</a>', page).group(1)
    got = browser_of("audrey").get(f"/attachments/{doc_id}")
    assert got.status_code == 200 and got.data == b"<html><script>x</script>"
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"].startswith('attachment; filename="plan.html"')
    assert got.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in got.headers["Content-Security-Policy"]
    assert browser_of("bob").get(f"/attachments/{doc_id}").status_code == 403
    assert alice.get("/attachments/nope").status_code == 404
    app.extensions["pmoflow"].settings = replace(app.extensions["pmoflow"].settings, max_upload_bytes=10)
    big = alice.post(
        f"/tasks/{task_id}/attachments",
        content_type="multipart/form-data",
        data={"kind": "document", "csrf_token": token, "file": (io.BytesIO(b"x" * 11), "big.pdf")},
    )
    assert big.status_code == 422 and "larger than 10 bytes" in big.get_data(as_text=True)
    missing = alice.post(
        f"/tasks/{task_id}/attachments",
        content_type="multipart/form-data",
        data={"kind": "document", "csrf_token": token},
    )
    assert missing.status_code == 422
    assert '<p class="error" id="attach-file-error">required</p>' in missing.get_data(as_text=True)


def test_links_are_checked_and_labelled(app, browser_of):
    view = intake(app)
    alice = browser_of("alice")
    token = csrf_of(alice, f"/requests/{view.id}")
    bad = alice.post(
        f"/requests/{view.id}/attachments", data={"kind": "link", "url": "javascript:alert(1)", "csrf_token": token}
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert '<details class="attach" open>' in page and "must start with https://" in page
    good = alice.post(
        f"/requests/{view.id}/attachments",
        data={"kind": "link", "url": "https://www.dropbox.com/s/abc/quote.pdf?dl=0", "csrf_token": token},
    )
    assert good.status_code == 302
    page = alice.get(f"/requests/{view.id}").get_data(as_text=True)
    assert '<span class="badge provider">Dropbox</span>' in page
    assert (
        'href="https://www.dropbox.com/s/abc/quote.pdf?dl=0" target="_blank" rel="noopener noreferrer nofollow"'
    ) in page


def test_starting_and_following_a_request(app, browser_of):
    erin = browser_of("erin")
    assert "Project intake" in erin.get("/requests/new").get_data(as_text=True)
    form = erin.get("/requests/new/project-intake").get_data(as_text=True)
    assert 'name="budget" type="number"' in form and '<option value="Sales"' in form
    token = csrf_of(erin, "/requests/new/project-intake")
    refused = erin.post("/requests/new/project-intake", data={"budget": "a lot", "csrf_token": token})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert '<p class="error" id="title-error">required</p>' in page
    assert '<p class="error" id="budget-error">must be a number</p>' in page and 'value="a lot"' in page
    started = erin.post(
        "/requests/new/project-intake",
        data={
            "title": "Data lake",
            "budget": "10000",
            "department": "IT",
            "business_key": "PRJ-55",
            "csrf_token": token,
        },
    )
    assert started.status_code == 302
    instance_id = started.headers["Location"].rsplit("/", 1)[-1]
    mine = erin.get("/requests").get_data(as_text=True)
    assert "Data lake" in mine and "PRJ-55" in mine and "IT Manager approval" in mine and "In progress" in mine
    assert "Data lake" not in browser_of("bob").get("/requests").get_data(as_text=True)
    detail = erin.get(f"/requests/{instance_id}").get_data(as_text=True)
    assert "with <strong>IT Manager</strong>" in detail and "Started by erin" in detail
    assert "not decided yet" in detail
    task_id = instances.get(app.extensions["pmoflow"], BOT, instance_id).open_tasks[0].id
    alice = browser_of("alice")
    alice.post(f"/tasks/{task_id}", data={"decision": "approve", "csrf_token": csrf_of(alice, f"/tasks/{task_id}")})
    assert unread(erin) == 1
    notes = erin.get("/notifications").get_data(as_text=True)
    assert "Your request Data lake (PRJ-55) was approved by alice." in notes
    assert "Approved" in erin.get("/requests?outcome=approved").get_data(as_text=True)
    assert "Data lake" not in erin.get("/requests?outcome=rejected").get_data(as_text=True)
    assert browser_of("carol").get(f"/requests/{instance_id}").status_code == 403
    assert erin.get("/requests/new/nothing-like-this").status_code == 404


def test_out_of_office_sends_new_personal_tasks_to_the_substitute(app, browser_of, clock):
    erin = browser_of("erin")
    token = csrf_of(erin, "/account/out-of-office")
    today = clock.now().date()
    bad = erin.post(
        "/account/out-of-office",
        data={"substitute": "erin", "starts_on": "tomorrow", "ends_on": "", "csrf_token": token},
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert '<p class="error" id="substitute-error">choose someone else</p>' in page
    assert '<p class="error" id="starts_on-error">must be a date (YYYY-MM-DD)</p>' in page
    saved = erin.post(
        "/account/out-of-office",
        data={
            "substitute": "dave",
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=3)).isoformat(),
            "csrf_token": token,
        },
        follow_redirects=True,
    )
    page = saved.get_data(as_text=True)
    assert "Substitute: <strong>dave</strong>" in page and "Away until" in page
    task_id = intake(app).open_tasks[0].id
    alice = browser_of("alice")
    alice.post(
        f"/tasks/{task_id}/delegate",
        data={"to": "erin", "reason": "please", "csrf_token": csrf_of(alice, f"/tasks/{task_id}")},
    )
    dave = browser_of("dave")
    assert unread(dave) == 2  # named substitute, then the task
    assert "you stand in for erin" in dave.get("/notifications").get_data(as_text=True)
    back = erin.post("/account/out-of-office", data={"action": "clear", "csrf_token": token}, follow_redirects=True)
    assert "You are back" in back.get_data(as_text=True) and "Away until" not in back.get_data(as_text=True)


def test_mark_all_read(app, browser_of):
    view = intake(app)
    task_id = view.open_tasks[0].id
    alice, admin = browser_of("alice"), browser_of("pmo")
    for body in ("@pmo one", "@pmo two"):
        alice.post(f"/tasks/{task_id}/comments", data={"body": body, "csrf_token": csrf_of(alice, f"/tasks/{task_id}")})
    assert unread(admin) == 2
    admin.post("/notifications/read-all", data={"csrf_token": csrf_of(admin, "/notifications")})
    assert unread(admin) == 0
    assert "Nothing unread." in admin.get("/notifications?show=unread").get_data(as_text=True)
