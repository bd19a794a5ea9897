"""Comments (threads, mentions) and attachments (documents, links) on a request, on both databases."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from engine.admin import users
from engine.core.errors import Forbidden, InvalidInput, NotFound, TooLarge
from engine.db.models import Event
from engine.notify import bell as notifications
from engine.requester import attachments, comments
from engine.requester import portal as requests
from engine.runtime import instances
from engine.tasks import completion
from tests.factories import ADMIN, ALICE, AUDREY, BOB, BOT, CAROL, deploy_shipped


@pytest.fixture
def shipped(ctx):
    deploy_shipped(ctx)
    users.ensure_demo_users(ctx)
    return ctx


@pytest.fixture
def request_ids(shipped) -> tuple[str, str]:
    view = instances.start(
        shipped,
        BOT,
        "project-intake",
        business_key="PRJ-9",
        variables={"title": "Data lake", "budget": 120_000, "department": "IT"},
    )
    return view.id, view.open_tasks[0].id


def event_data(ctx, kind: str) -> list[dict]:
    with ctx.uow(write=False) as uow:
        return [dict(e.data) for e in uow.session.scalars(select(Event).where(Event.type == kind).order_by(Event.id))]


def test_comments_thread_and_reach_whoever_sees_the_request(shipped, request_ids):
    instance_id, task_id = request_ids
    first = comments.add_comment(shipped, ALICE, "Is the budget firm?", task_id=task_id).comment
    reply = comments.add_comment(
        shipped, ADMIN, "Yes, signed off.", instance_id=instance_id, parent_id=first.id
    ).comment
    comments.add_comment(shipped, ALICE, "Thanks", instance_id=instance_id, parent_id=reply.id)
    comments.add_comment(shipped, ADMIN, "Second topic", instance_id=instance_id)
    detail = requests.request_view(shipped, BOT, instance_id)
    top, second = detail.comments
    assert (top.author, top.body, top.task_name) == ("alice", "Is the budget firm?", "IT Manager approval")
    assert top.replies[0].body == "Yes, signed off." and top.replies[0].task_id == task_id  # stays on the task
    assert top.replies[0].replies[0].body == "Thanks" and second.replies == ()
    assert [d["body"] for d in event_data(shipped, "comment_added")] == [
        "Is the budget firm?",
        "Yes, signed off.",
        "Thanks",
        "Second topic",
    ]


def test_replies_nest_at_most_four_levels(shipped, request_ids):
    instance_id, _ = request_ids
    parent = None
    for i in range(6):
        parent = comments.add_comment(
            shipped, ALICE, f"level {i}", instance_id=instance_id, parent_id=parent.id if parent else None
        ).comment
    [top] = requests.request_view(shipped, ALICE, instance_id).comments
    depth, node = 0, top
    while node.replies:
        depth, node = depth + 1, node.replies[-1]
    assert depth == 3


def test_who_may_comment(shipped, request_ids):
    instance_id, task_id = request_ids
    with pytest.raises(Forbidden):
        comments.add_comment(shipped, CAROL, "I may not see it", instance_id=instance_id)
    with pytest.raises(Forbidden):
        comments.add_comment(shipped, AUDREY, "auditors read only", instance_id=instance_id)
    with pytest.raises(InvalidInput) as err:
        comments.add_comment(shipped, ALICE, "   ", instance_id=instance_id)
    assert err.value.details["fields"] == {"body": "required"}
    with pytest.raises(InvalidInput):
        comments.add_comment(shipped, ALICE, "x" * 5001, instance_id=instance_id)
    with pytest.raises(NotFound):
        comments.add_comment(shipped, ALICE, "where?", task_id="no-such-task")
    other = instances.start(shipped, BOT, "project-intake", variables={"title": "t", "budget": 1, "department": "d"})
    theirs = comments.add_comment(shipped, ADMIN, "elsewhere", instance_id=other.id).comment
    with pytest.raises(InvalidInput) as err:
        comments.add_comment(shipped, ALICE, "reply across requests", instance_id=instance_id, parent_id=theirs.id)
    assert err.value.details["fields"] == {"parent": "unknown"}


def test_mentions_notify_existing_users_who_may_see_the_request(shipped, request_ids):
    instance_id, task_id = request_ids
    added = comments.add_comment(shipped, ALICE, "@pmo please check; cc @bob, @ghost and @alice.", task_id=task_id)
    assert added.notified == ["pmo"]
    assert added.not_notified == {"bob": "may not see this request", "ghost": "no such user"}
    [note] = notifications.list_notifications(shipped, ADMIN).items
    assert (
        note.kind == "mention"
        and note.task_id == task_id
        and note.text.startswith("alice mentioned you on Data lake (PRJ-9): @pmo please check")
    )
    assert notifications.list_notifications(shipped, ALICE).items == []
    completion.complete(shipped, ALICE, task_id, {"decision": "approve"})  # now Finance (bob) is involved
    assert comments.add_comment(shipped, ALICE, "over to you @bob", instance_id=instance_id).notified == ["bob"]
    assert event_data(shipped, "comment_added")[-1]["mentions"] == ["bob"]
    assert notifications.list_notifications(shipped, BOB).items[0].kind == "mention"


def test_a_mention_of_nobody_is_marked_on_every_showing(shipped, request_ids):
    instance_id, task_id = request_ids
    comments.add_comment(shipped, ALICE, "@bob and @bobby, see @pmo@corp.com.", task_id=task_id)
    comments.add_comment(shipped, ALICE, "no mentions here", task_id=task_id)
    view = requests.task_workspace(shipped, ALICE, task_id)
    assert [c.unknown_mentions for c in view.comments] == [("bobby",), ()]


def test_mention_names_are_parsed_carefully():
    assert comments.mentioned_names("hi @alice, @bob. mail x@example.com @carol-") == ["alice", "bob", "carol"]
    assert comments.mentioned_names("@jane@corp.com: see") == ["jane@corp.com"]


def test_documents_are_stored_and_downloaded_by_those_who_see_the_request(shipped, request_ids):
    instance_id, task_id = request_ids
    doc = attachments.add_document(shipped, ALICE, "../../budget plan.pdf", b"%PDF-1.7 ...", task_id=task_id)
    assert (doc.kind, doc.name, doc.size, doc.task_id) == ("document", "budget plan.pdf", 12, task_id)
    page = attachments.add_document(
        shipped, ALICE, "C:\\Users\\a\\evil.html", b"<script>alert(1)</script>", instance_id=instance_id
    )
    assert page.name == "evil.html"
    got = attachments.download(shipped, BOT, doc.id)
    assert (got.name, got.content_type, got.content) == ("budget plan.pdf", "application/pdf", b"%PDF-1.7 ...")
    assert attachments.download(shipped, AUDREY, page.id).content_type == "application/octet-stream"
    with pytest.raises(Forbidden):
        attachments.download(shipped, CAROL, doc.id)
    with pytest.raises(NotFound):
        attachments.download(shipped, ALICE, "nope")
    [data, _] = event_data(shipped, "attachment_added")
    assert (data["kind"], data["name"], data["size"]) == ("document", "budget plan.pdf", 12)
    assert [a.name for a in requests.request_view(shipped, ALICE, instance_id).attachments] == [
        "budget plan.pdf",
        "evil.html",
    ]


def test_uploads_are_limited(shipped, request_ids):
    instance_id, _ = request_ids
    shipped.settings = replace(shipped.settings, max_upload_bytes=10)
    with pytest.raises(TooLarge):
        attachments.add_document(shipped, ALICE, "big.pdf", b"x" * 11, instance_id=instance_id)
    with pytest.raises(InvalidInput) as err:
        attachments.add_document(shipped, ALICE, "empty.pdf", b"", instance_id=instance_id)
    assert err.value.details["fields"] == {"file": "the file is empty"}
    with pytest.raises(InvalidInput):
        attachments.add_document(shipped, ALICE, "", b"abc", instance_id=instance_id)
    with pytest.raises(Forbidden):
        attachments.add_document(shipped, AUDREY, "a.pdf", b"abc", instance_id=instance_id)
    with pytest.raises(Forbidden):
        attachments.add_document(shipped, CAROL, "a.pdf", b"abc", instance_id=instance_id)


@pytest.mark.parametrize(
    ("url", "provider", "name"),
    [
        ("https://contoso.sharepoint.com/sites/pmo/Shared%20Documents/plan%20v2.docx", "SharePoint", "plan v2.docx"),
        ("https://drive.google.com/file/d/abc/view", "Google Drive", "drive.google.com/file/d/abc/view"),
        ("https://www.dropbox.com/s/xyz/budget.xlsx?dl=0", "Dropbox", "budget.xlsx"),
        ("https://1drv.ms/w/s!Ab", "OneDrive", "1drv.ms/w/s!Ab"),
        ("http://wiki.example.org/", "wiki.example.org", "wiki.example.org"),
    ],
)
def test_links_are_labelled_by_their_host(shipped, request_ids, url, provider, name):
    instance_id, _ = request_ids
    link = attachments.add_link(shipped, ALICE, url, instance_id=instance_id)
    assert (link.kind, link.provider, link.name, link.url) == ("link", provider, name, url)
    with pytest.raises(NotFound):
        attachments.download(shipped, ALICE, link.id)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "ftp://files.example.com/a",
        "data:text/html,hi",
        "https://",
        "//example.com/x",
        "https://user:pw@example.com/",
        "https://exa mple.com/",
        "",
        "https://[::1/",
    ],
)
def test_only_http_links_are_accepted(shipped, request_ids, url):
    instance_id, _ = request_ids
    with pytest.raises(InvalidInput) as err:
        attachments.add_link(shipped, ALICE, url, instance_id=instance_id)
    assert "url" in err.value.details["fields"]


def test_a_link_keeps_its_label(shipped, request_ids):
    instance_id, _ = request_ids
    link = attachments.add_link(
        shipped, ALICE, "https://contoso.sharepoint.com/x", "Business case", instance_id=instance_id
    )
    assert (link.name, link.provider) == ("Business case", "SharePoint")
