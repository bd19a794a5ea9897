"""The browser pages through Flask's client, on SQLite and PostgreSQL: sign-in, CSRF, tasklist."""

from __future__ import annotations

import json
import re

import flask

from engine.admin import users
from engine.runtime import instances
from tests.factories import BOT
from tests.webui.conftest import TOKEN, csrf_of, intake, sign_in


def test_signed_out_pages_send_you_to_sign_in(app):
    client = app.test_client()
    response = client.get("/tasks")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_password_is_refused_and_recorded(app):
    client = app.test_client()
    response = sign_in(client, "alice", "nope")
    assert response.status_code == 401 and "Wrong user name or password" in response.get_data(as_text=True)
    with app.extensions["pmoflow"].uow(write=False) as uow:
        from sqlalchemy import select

        from engine.db.models import Event

        failed = uow.session.scalars(select(Event).where(Event.type == "login_failed")).all()
        assert [e.actor for e in failed] == ["alice"]
        assert "nope" not in str(failed[0].data)


def test_a_form_post_without_its_csrf_token_is_refused(app):
    client = app.test_client()
    response = client.post("/login", data={"username": "alice", "password": "demo"})
    assert response.status_code == 400 and "security token" in response.get_data(as_text=True)
    signed_in = app.test_client()
    sign_in(signed_in, "alice")
    task_id = intake(app).open_tasks[0].id
    response = signed_in.post(f"/tasks/{task_id}", data={"decision": "approve"})
    assert response.status_code == 400


def test_sessions_end_when_a_user_is_deactivated(app, browser_of):
    alice = browser_of("alice")
    assert alice.get("/tasks").status_code == 200
    users.deactivate(app.extensions["pmoflow"], "alice", "pmo")
    assert alice.get("/tasks").status_code == 302
    assert sign_in(app.test_client(), "alice").status_code == 401


def test_open_redirects_are_refused(app):
    # browsers read a backslash as a slash and drop tabs and line ends: each of these is //evil.example
    for target in ("//evil.example/x", "/\\evil.example/x", "/\t/evil.example", "/\n/evil.example", "\\/evil.example"):
        client = app.test_client()
        token = csrf_of(client, "/login")
        response = client.post(
            "/login", data={"username": "bob", "password": "demo", "csrf_token": token, "next": target}
        )
        assert response.headers["Location"] == "/tasks", target
    client = app.test_client()
    token = csrf_of(client, "/login")
    response = client.post(
        "/login", data={"username": "bob", "password": "demo", "csrf_token": token, "next": "/requests?a=b"}
    )
    assert response.headers["Location"] == "/requests?a=b"


def test_the_inbox_shows_my_groups_tasks_with_sla_state(app, browser_of, clock):
    view = intake(app)
    alice = browser_of("alice")
    page = alice.get("/tasks").get_data(as_text=True)
    assert "IT Manager approval" in page and "PRJ-1" in page and "New CRM" in page and "On track" in page
    assert "IT Manager approval" not in browser_of("bob").get("/tasks").get_data(as_text=True)
    from datetime import timedelta

    clock.advance(timedelta(days=1, hours=13))
    assert alice.get("/tasks").status_code == 302  # the session timed out meanwhile: sign in again
    alice = browser_of("alice")
    assert "At risk" in alice.get("/tasks").get_data(as_text=True)
    assert "PRJ-1" not in alice.get("/tasks?q=PRJ-9").get_data(as_text=True)
    assert "PRJ-1" in alice.get("/tasks?q=crm").get_data(as_text=True)
    partial = alice.get("/tasks?partial=1").get_data(as_text=True)
    assert view.open_tasks[0].id in partial and "<html" not in partial


def test_approving_moves_the_request_to_the_next_approver(app, browser_of):
    view = intake(app)
    alice = browser_of("alice")
    task_id = view.open_tasks[0].id
    page = alice.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "120,000" in page and "Approve" in page and "Reject" in page
    token = TOKEN.search(page).group(1)
    done = alice.post(
        f"/tasks/{task_id}", data={"decision": "approve", "comment": "fits the plan", "csrf_token": token}
    )
    assert done.status_code == 302
    bob_page = browser_of("bob").get("/tasks").get_data(as_text=True)
    assert "Finance approval" in bob_page
    bob_task = instances.get(app.extensions["pmoflow"], BOT, view.id).open_tasks[0].id
    history = browser_of("bob").get(f"/tasks/{bob_task}").get_data(as_text=True)
    assert "alice" in history and "fits the plan" in history


def test_reject_without_a_comment_shows_the_message_on_the_field(app, browser_of):
    task_id = intake(app).open_tasks[0].id
    alice = browser_of("alice")
    token = csrf_of(alice, f"/tasks/{task_id}")
    response = alice.post(f"/tasks/{task_id}", data={"decision": "reject", "csrf_token": token})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'<p class="error" id="comment-error">required</p>', page)


def test_others_can_not_complete_and_a_second_completion_is_turned_away(app, browser_of):
    task_id = intake(app).open_tasks[0].id
    bob = browser_of("bob")
    assert bob.get(f"/tasks/{task_id}").status_code == 403
    alice, admin = browser_of("alice"), browser_of("pmo")
    token_a, token_p = csrf_of(alice, f"/tasks/{task_id}"), csrf_of(admin, f"/tasks/{task_id}")
    assert alice.post(f"/tasks/{task_id}", data={"decision": "approve", "csrf_token": token_a}).status_code == 302
    late = admin.post(f"/tasks/{task_id}", data={"decision": "approve", "csrf_token": token_p}, follow_redirects=True)
    assert "Someone else was faster" in late.get_data(as_text=True)


def test_claim_and_give_back(app, browser_of):
    task_id = intake(app).open_tasks[0].id
    alice = browser_of("alice")
    token = csrf_of(alice, f"/tasks/{task_id}")
    alice.post(f"/tasks/{task_id}/claim", data={"csrf_token": token})
    assert "assigned to alice" in alice.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Assigned to me" in alice.get("/tasks?scope=mine").get_data(as_text=True)
    alice.post(f"/tasks/{task_id}/unclaim", data={"csrf_token": token})
    assert "unassigned" in alice.get(f"/tasks/{task_id}").get_data(as_text=True)


def test_changing_the_password_ends_other_sessions(app, browser_of):
    first, second = browser_of("carol"), browser_of("carol")
    token = csrf_of(first, "/account/password")
    response = first.post(
        "/account/password",
        data={"current": "demo", "new": "a-longer-secret", "confirm": "a-longer-secret", "csrf_token": token},
    )
    assert response.status_code == 302
    assert second.get("/tasks").status_code == 302
    assert sign_in(app.test_client(), "carol", "a-longer-secret").status_code == 302


def test_security_headers_and_cookie_flags(app):
    client = app.test_client()
    response = sign_in(client, "alice")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/tasks")
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"


def test_the_api_ignores_the_browser_session(app):
    """A signed-in browser's cookie is no API credential, and API answers never set a cookie."""
    client = app.test_client()
    assert sign_in(client, "alice").status_code == 302
    response = client.get("/api/v1/tasks")
    assert response.status_code == 401 and "Set-Cookie" not in response.headers
    assert client.get("/tasks").status_code == 200  # the session itself is untouched
    with app.test_request_context("/api/v1/tasks"):  # the API does not even open the cookie
        assert app.session_interface.is_null_session(app.session_interface.open_session(app, flask.request))
    with app.test_request_context("/tasks"):
        assert not app.session_interface.is_null_session(app.session_interface.open_session(app, flask.request))


MONEY_AND_PICKER = json.dumps(
    {
        "type": "default",
        "id": "budget-check",
        "schemaVersion": 16,
        "components": [
            {
                "type": "number",
                "key": "amount",
                "label": "Amount",
                "decimalDigits": 2,
                "appearance": {"prefixAdorner": "EUR"},
                "validate": {"required": True},
            },
            {"type": "textfield", "key": "controller", "label": "Controller", "properties": {"pmoflow:picker": "user"}},
            {"type": "textfield", "key": "evidence", "label": "Evidence", "properties": {"pmoflow:type": "link"}},
        ],
    }
)


def test_money_and_user_picker_fields(app, browser_of):
    from engine.definitions import deployments
    from engine.spiff.model.parsing import SourceFile
    from tests.bpmn_samples import one_approval
    from tests.factories import ADMIN

    ctx = app.extensions["pmoflow"]
    deployments.deploy(
        ctx,
        ADMIN,
        [
            SourceFile("m.bpmn", one_approval(form="budget-check", pid="money").encode()),
            SourceFile("m.form", MONEY_AND_PICKER.encode()),
        ],
    )
    task_id = instances.start(ctx, BOT, "money").open_tasks[0].id
    alice = browser_of("alice")
    page = alice.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'class="adorner">EUR<' in page and 'step="0.01"' in page
    assert 'list="users-controller"' in page and '<option value="bob">' in page
    token = TOKEN.search(page).group(1)
    assert 'type="url"' in page
    bad = alice.post(f"/tasks/{task_id}", data={"amount": "12.50", "controller": "ghost", "csrf_token": token})
    assert bad.status_code == 422 and "not an active user" in bad.get_data(as_text=True)
    link = alice.post(f"/tasks/{task_id}", data={"amount": "1", "evidence": "javascript:alert(1)", "csrf_token": token})
    assert link.status_code == 422 and "http:// or https://" in link.get_data(as_text=True)
    good = alice.post(
        f"/tasks/{task_id}",
        data={
            "amount": "12.50",
            "controller": "bob",
            "csrf_token": token,
            "evidence": "https://contoso.sharepoint.com/sites/pmo/budget.xlsx",
        },
    )
    assert good.status_code == 302
    done = instances.get(ctx, BOT, instances.list_instances(ctx, BOT, process="money").items[0].id)
    assert done.variables["amount"] == 12.5 and done.variables["controller"] == "bob"


FILE_FORM = json.dumps(
    {
        "type": "default",
        "id": "evidence-form",
        "schemaVersion": 16,
        "components": [
            {"type": "filepicker", "key": "evidence", "label": "Signed offer", "validate": {"required": True}},
        ],
    }
)


def test_a_file_field_is_stored_as_an_attachment_in_the_same_step(app, browser_of):
    import io

    from sqlalchemy import func, select

    from engine.db.models import Attachment
    from engine.definitions import deployments
    from engine.spiff.model.parsing import SourceFile
    from tests.bpmn_samples import one_approval
    from tests.factories import ADMIN

    ctx = app.extensions["pmoflow"]
    deployments.deploy(
        ctx,
        ADMIN,
        [
            SourceFile("f.bpmn", one_approval(form="evidence-form", pid="filed").encode()),
            SourceFile("f.form", FILE_FORM.encode()),
        ],
    )
    view = instances.start(ctx, BOT, "filed")
    task_id = view.open_tasks[0].id
    alice = browser_of("alice")
    page = alice.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'type="file"' in page
    token = TOKEN.search(page).group(1)
    missing = alice.post(f"/tasks/{task_id}", data={"csrf_token": token}, content_type="multipart/form-data")
    assert missing.status_code == 422 and 'id="evidence-error">required' in missing.get_data(as_text=True)
    with ctx.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Attachment)) == 0
    done = alice.post(
        f"/tasks/{task_id}",
        content_type="multipart/form-data",
        data={"csrf_token": token, "evidence": (io.BytesIO(b"%PDF-1.4 offer"), "offer.pdf")},
    )
    assert done.status_code == 302
    stored = instances.get(ctx, BOT, view.id).variables["evidence"]
    assert stored["name"] == "offer.pdf" and stored["size"] == 14
    with ctx.uow(write=False) as uow:
        doc = uow.session.scalars(select(Attachment)).one()
        assert (doc.uuid, doc.content, doc.task_uuid) == (stored["attachment"], b"%PDF-1.4 offer", task_id)
