"""The admin pages through Flask's client, on SQLite and PostgreSQL: users, groups, API tokens."""

from __future__ import annotations

import re

from tests.webui.conftest import csrf_of, sign_in

SECRET = "a-long-secret"  # noqa: S105 - test password


def post(client, page: str, url: str, data: dict, **kwargs):
    """Post a form the way a browser does: with the CSRF token of the page it is on."""
    return client.post(url, data={**data, "csrf_token": csrf_of(client, page)}, **kwargs)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_only_admins_see_the_admin_link(browser_of):
    assert 'href="/admin/users"' in text(browser_of("pmo").get("/tasks"))
    assert 'href="/admin/users"' not in text(browser_of("alice").get("/tasks"))


def test_every_admin_route_is_refused_to_an_approver(app, browser_of):
    alice = browser_of("alice")
    token = csrf_of(alice, "/tasks")
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin")]
    assert len(rules) >= 12
    for rule in rules:
        url = re.sub(r"<[^>]+>", "x", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = alice.get(url) if method == "GET" else alice.post(url, data={"csrf_token": token})
            assert response.status_code == 403, (method, rule.rule)
    assert app.test_client().get("/admin/users").status_code == 302


def test_the_user_list(browser_of):
    page = text(browser_of("pmo").get("/admin/users"))
    for expected in ("alice", "IT Manager", "approver", "intake-bot", "Active"):
        assert expected in page
    assert "never" in page  # alice has not signed in


def test_creating_a_user_shows_every_problem_on_its_field(app, browser_of):
    pmo = browser_of("pmo")
    response = post(
        pmo,
        "/admin/users/new",
        "/admin/users/new",
        {"username": "has space", "email": "nope", "password": "short", "confirm": "short", "groups": "Nowhere"},
    )
    assert response.status_code == 422
    page = text(response)
    for field in ("username", "email", "password", "roles", "groups"):
        assert re.search(rf'<p class="error" id="{field}-error">', page), field
    assert 'value="has space"' in page  # what was typed stays
    response = post(
        pmo,
        "/admin/users/new",
        "/admin/users/new",
        {"username": "alice", "password": SECRET, "confirm": SECRET, "roles": "approver"},
    )
    assert response.status_code == 409 and "This name is taken." in text(response)
    response = post(
        pmo,
        "/admin/users/new",
        "/admin/users/new",
        {"username": "ben", "password": SECRET, "confirm": "other", "roles": "approver"},
    )
    assert response.status_code == 422 and "The two passwords differ." in text(response)


def test_an_admin_creates_a_user_who_signs_in(app, browser_of):
    pmo = browser_of("pmo")
    response = post(
        pmo,
        "/admin/users/new",
        "/admin/users/new",
        {
            "username": "ben",
            "display_name": "Ben Meyer",
            "email": "ben@example.org",
            "password": SECRET,
            "confirm": SECRET,
            "roles": ["approver", "auditor"],
            "groups": ["Finance", "IT Manager"],
        },
        follow_redirects=True,
    )
    page = text(response)
    assert response.request.path == "/admin/users/ben" and "User ben created." in page
    assert "Ben Meyer" in page and "Finance" in page and "IT Manager" in page
    ben = app.test_client()
    assert sign_in(ben, "ben", SECRET).status_code == 302
    assert ben.get("/tasks").status_code == 200


def test_editing_roles_and_keeping_ones_own_admin_role(app, browser_of):
    pmo = browser_of("pmo")
    response = post(
        pmo,
        "/admin/users/alice",
        "/admin/users/alice",
        {"display_name": "Alice Liddell", "email": "", "roles": ["approver", "auditor"]},
        follow_redirects=True,
    )
    assert "Saved alice." in text(response) and "Alice Liddell" in text(response)
    alice = browser_of("alice")
    assert alice.get("/admin/users").status_code == 403
    response = post(pmo, "/admin/users/pmo", "/admin/users/pmo", {"display_name": "PMO", "roles": "designer"})
    assert response.status_code == 422
    assert "You can not remove your own admin role" in text(response)
    assert pmo.get("/admin/users").status_code == 200


def test_a_password_reset_ends_the_users_sessions(app, browser_of):
    carol = browser_of("carol")
    pmo = browser_of("pmo")
    response = post(pmo, "/admin/users/carol", "/admin/users/carol/password", {"password": "x", "confirm": "x"})
    assert response.status_code == 422 and 'id="password-error"' in text(response)
    response = post(
        pmo,
        "/admin/users/carol",
        "/admin/users/carol/password",
        {"password": SECRET, "confirm": SECRET},
        follow_redirects=True,
    )
    assert "New password set for carol" in text(response)
    assert carol.get("/tasks").status_code == 302
    assert sign_in(app.test_client(), "carol", "demo").status_code == 401
    assert sign_in(app.test_client(), "carol", SECRET).status_code == 302


def test_deactivation_ends_the_session_and_the_api_token(app, browser_of):
    pmo = browser_of("pmo")
    alice = browser_of("alice")
    created = post(pmo, "/admin/tokens", "/admin/tokens", {"username": "alice", "label": "laptop"})
    token = re.search(r'<textarea id="token" class="secret"[^>]*>([^<]+)</textarea>', text(created)).group(1)
    bearer = {"Authorization": f"Bearer {token}"}
    assert alice.get("/tasks").status_code == 200 and alice.get("/api/v1/tasks", headers=bearer).status_code == 200
    response = post(pmo, "/admin/users/alice", "/admin/users/alice/deactivate", {}, follow_redirects=True)
    assert "alice is deactivated" in text(response) and "Deactivated" in text(response)
    assert alice.get("/tasks").status_code == 302
    assert app.test_client().get("/api/v1/tasks", headers=bearer).status_code == 401
    assert sign_in(app.test_client(), "alice").status_code == 401
    response = post(pmo, "/admin/users/alice", "/admin/users/alice/reactivate", {}, follow_redirects=True)
    assert "alice can sign in again" in text(response)
    assert sign_in(app.test_client(), "alice").status_code == 302
    assert app.test_client().get("/api/v1/tasks", headers=bearer).status_code == 401


def test_an_admin_can_not_deactivate_themselves(browser_of):
    pmo = browser_of("pmo")
    assert "Deactivate pmo" not in text(pmo.get("/admin/users/pmo"))
    response = post(pmo, "/admin/users/pmo", "/admin/users/pmo/deactivate", {}, follow_redirects=True)
    assert "You can not deactivate yourself" in text(response)
    assert pmo.get("/admin/users").status_code == 200


def test_unknown_users_and_groups_are_404(browser_of):
    pmo = browser_of("pmo")
    assert pmo.get("/admin/users/nobody").status_code == 404
    assert pmo.get("/admin/groups/Nobody").status_code == 404


def test_groups_and_members(app, browser_of):
    pmo = browser_of("pmo")
    page = text(pmo.get("/admin/groups"))
    assert "IT Manager" in page and "alice" in page
    response = post(pmo, "/admin/groups", "/admin/groups", {"name": "it manager"})
    assert response.status_code == 409 and "exists already" in text(response)
    response = post(pmo, "/admin/groups", "/admin/groups", {"name": "Steering Committee"}, follow_redirects=True)
    assert response.request.path == "/admin/groups/Steering Committee"
    assert '<option value="alice">' in text(response)  # the picker offers users
    group = "/admin/groups/Steering%20Committee"
    response = post(pmo, group, group + "/members", {"username": "nobody"})
    assert response.status_code == 422 and "There is no user" in text(response)
    response = post(pmo, group, group + "/members", {"username": "bob"}, follow_redirects=True)
    assert "bob is now in Steering Committee" in text(response)
    response = post(pmo, group, group + "/members", {"username": "bob"})
    assert response.status_code == 409 and "Already a member." in text(response)
    assert "Steering Committee" in text(pmo.get("/admin/users/bob"))
    response = post(pmo, group, group + "/members/remove", {"username": "bob"}, follow_redirects=True)
    assert "bob is no longer in Steering Committee" in text(response) and "No members yet" in text(response)


def test_a_token_is_shown_once_and_can_be_revoked(app, browser_of):
    pmo = browser_of("pmo")
    response = post(pmo, "/admin/tokens", "/admin/tokens", {"username": "nobody", "label": ""})
    assert response.status_code == 422 and 'id="username-error"' in text(response)
    response = post(pmo, "/admin/tokens", "/admin/tokens", {"username": "intake-bot", "label": "intake form"})
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    token = re.search(r'<textarea id="token" class="secret"[^>]*>([^<]+)</textarea>', text(response)).group(1)
    assert app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listing = text(pmo.get("/admin/tokens"))
    assert "intake form" in listing and token not in listing and "never" not in listing.split("intake form")[1][:400]
    assert token not in text(pmo.get("/admin/users/intake-bot"))
    token_id = re.search(r'action="/admin/tokens/([^/]+)/revoke"', listing).group(1)
    response = post(pmo, "/admin/tokens", f"/admin/tokens/{token_id}/revoke", {}, follow_redirects=True)
    assert "is revoked" in text(response) and "Revoked" in text(response)
    assert app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    from sqlalchemy import select

    from engine.db.models import Event

    with app.extensions["pmoflow"].uow(write=False) as uow:
        data = [(e.type, e.actor, str(e.data)) for e in uow.session.scalars(select(Event))]
    assert ("token_created", "pmo") in {(t, a) for t, a, _ in data}
    assert ("token_revoked", "pmo") in {(t, a) for t, a, _ in data}
    assert all(token not in d for _, _, d in data)


def test_a_token_for_a_user_from_their_page(browser_of):
    pmo = browser_of("pmo")
    response = post(pmo, "/admin/users/alice", "/admin/tokens", {"username": "alice", "label": "phone"})
    assert response.status_code == 201 and "phone" in text(response)
    page = text(pmo.get("/admin/users/alice"))
    token_id = re.search(r'action="/admin/tokens/([^/]+)/revoke"', page).group(1)
    response = post(
        pmo, "/admin/users/alice", f"/admin/tokens/{token_id}/revoke", {"back": "user", "username": "alice"}
    )
    assert response.headers["Location"] == "/admin/users/alice"


def test_admin_forms_need_their_csrf_token(browser_of):
    pmo = browser_of("pmo")
    assert pmo.post("/admin/users/alice/deactivate").status_code == 400
    assert pmo.post("/admin/tokens", data={"username": "alice"}).status_code == 400


def test_a_token_with_scopes_from_the_admin_page(app, browser_of):
    pmo = browser_of("pmo")
    page = text(pmo.get("/admin/tokens"))
    assert 'value="instances:start"' in page and 'name="start_processes"' in page
    data = {"username": "intake-bot", "label": "intake", "scopes": ["instances:start", "instances:read"]}
    response = post(pmo, "/admin/tokens", "/admin/tokens", {**data, "start_processes": "project-intake"})
    assert response.status_code == 201, text(response)
    assert "<code>instances:start:project-intake</code>" in text(response)
    token = re.search(r'<textarea id="token" class="secret"[^>]*>([^<]+)</textarea>', text(response)).group(1)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"process": "project-intake", "variables": {"title": "t", "budget": 1, "department": "d"}}
    assert api.post("/api/v1/process-instances", headers=headers, json=body).status_code == 201
    assert api.get("/api/v1/audit/events", headers=headers).status_code == 403
    listing = text(pmo.get("/admin/tokens"))
    assert "<code>instances:read</code> <code>instances:start:project-intake</code>" in listing
    response = post(pmo, "/admin/tokens", "/admin/tokens", {"username": "alice", "label": "x", "scopes": "audit:read"})
    assert response.status_code == 422 and 'id="scopes-error"' in text(response)
    assert "more than the user&#39;s roles (approver) allow" in text(response)


def test_a_system_account_has_no_password_and_cannot_sign_in(app, browser_of):
    from engine.admin import passwords
    from engine.admin import users as users_service
    from engine.db.models import User

    client = app.test_client()
    assert sign_in(client, "intake-bot").status_code == 401  # the shipped demo api account is one
    pmo = browser_of("pmo")
    values = {"username": "erp", "roles": "api", "system": "1"}
    response = post(pmo, "/admin/users/new", "/admin/users/new", {**values, "password": SECRET, "confirm": SECRET})
    assert response.status_code == 422 and "A system account has no password" in text(response)
    response = post(pmo, "/admin/users/new", "/admin/users/new", values, follow_redirects=True)
    assert response.status_code == 200 and "System account" in text(response) and "Set password" not in text(response)
    response = post(pmo, "/admin/users/erp", "/admin/users/erp/password", {"password": SECRET, "confirm": SECRET})
    assert response.status_code == 422 and "system account" in text(response)
    ctx = app.extensions["pmoflow"]
    with ctx.uow() as uow:  # a hash left from before the account became a system account does not help
        uow.session.query(User).filter_by(username="erp").one().password_hash = passwords.hash_password(SECRET)
        uow.commit()
    assert sign_in(client, "erp", SECRET).status_code == 401
    assert users_service.get_user(ctx, "erp").roles == ["api"]
    alice = browser_of("alice")  # an account turned into a system account: password gone, sessions ended
    profile = {"display_name": "Alice", "roles": "approver", "system": "1"}
    assert post(pmo, "/admin/users/alice", "/admin/users/alice", profile).status_code == 302
    assert sign_in(app.test_client(), "alice").status_code == 401
    assert alice.get("/tasks").status_code == 302
    mine = {"display_name": "PMO", "roles": ["admin", "designer"], "system": "1"}
    response = post(pmo, "/admin/users/pmo", "/admin/users/pmo", mine)
    assert response.status_code == 422 and "You can not make yourself a system account" in text(response)
