"""SCIM 2.0 provisioning (/scim/v2) driven by the request sequences Okta and Microsoft Entra ID document,
on SQLite and PostgreSQL: users and groups created, found by filter, changed, deactivated and deleted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from engine.admin import tokens as tokens_service
from engine.admin import users
from engine.core.context import EngineContext
from engine.db.models import Event
from engine.definitions import deployments
from engine.runtime import instances
from engine.scim import groups as scim_groups
from engine.scim.errors import CORE_GROUP, CORE_USER, ENTERPRISE_USER, ERROR, LIST_RESPONSE, PATCH_OP
from tests.bpmn_samples import one_approval
from tests.factories import ADMIN, BOT, source
from tests.webui.conftest import sign_in

SCIM = "application/scim+json"


class Scim:
    """A SCIM client: an identity provider's requests with its bearer token."""

    def __init__(self, app: Flask, token: str | None) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, body: Any = None, **kw: Any):  # type: ignore[no-untyped-def]
        headers = {**self.headers, "Accept": SCIM, **kw.pop("headers", {})}
        if body is not None:
            kw["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
            headers["Content-Type"] = SCIM
        response = self.client.open(f"/scim/v2{path}", method=method, headers=headers, **kw)
        if response.status_code != 204:
            assert response.mimetype == SCIM, (path, response.get_data(as_text=True))
        return response

    def get(self, path: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any):  # type: ignore[no-untyped-def]
        return self.call("POST", path, body)

    def put(self, path: str, body: Any):  # type: ignore[no-untyped-def]
        return self.call("PUT", path, body)

    def patch(self, path: str, *operations: dict[str, Any]):  # type: ignore[no-untyped-def]
        return self.call("PATCH", path, {"schemas": [PATCH_OP], "Operations": list(operations)})

    def delete(self, path: str):  # type: ignore[no-untyped-def]
        return self.call("DELETE", path)


@pytest.fixture
def ctx(app: Flask) -> EngineContext:
    return app.extensions["pmoflow"]


@pytest.fixture
def okta(app: Flask, ctx: EngineContext) -> Scim:
    """The SCIM client as an admin sets it up: a system account with a token of the scope `scim` only."""
    users.create_user(ctx, "scim-okta", None, [], ["admin"], system=True)
    return Scim(app, tokens_service.create_token(ctx, "scim-okta", "Okta", ["scim"]))


def okta_user(name: str = "isaac.brock@example.com") -> dict[str, Any]:
    """The body Okta's SCIM 2.0 guide shows for creating a user."""
    return {
        "schemas": [CORE_USER],
        "userName": name,
        "name": {"givenName": "Isaac", "familyName": "Brock"},
        "emails": [{"primary": True, "value": name, "type": "work"}],
        "displayName": "Isaac Brock",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }


def entra_user(name: str = "Test_User_dfeef4c5@contoso.com") -> dict[str, Any]:
    """The body Microsoft Entra ID's SCIM guide shows for creating a user."""
    return {
        "schemas": [CORE_USER, ENTERPRISE_USER],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": "Test_User_11bb6097@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        ENTERPRISE_USER: {"employeeNumber": "1", "department": "Sales"},
    }


def events(ctx: EngineContext, type_: str) -> list[Event]:
    with ctx.uow(write=False) as uow:
        rows = list(uow.session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))
        uow.session.expunge_all()
        return rows


def test_okta_creates_finds_updates_and_deactivates_a_user(okta, ctx):
    found = okta.get('/Users?filter=userName eq "isaac.brock@example.com"&startIndex=1&count=100')
    assert found.status_code == 200
    assert found.json == {
        "schemas": [LIST_RESPONSE],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }

    created = okta.post("/Users", okta_user())
    assert created.status_code == 201, created.json
    user = created.json
    assert user["userName"] == "isaac.brock@example.com" and user["active"] is True
    assert user["name"] == {"givenName": "Isaac", "familyName": "Brock"}
    assert user["emails"] == [{"value": "isaac.brock@example.com", "type": "work", "primary": True}]
    assert user["externalId"] == "00ujl29u0le5T6Aj10h7"
    assert created.headers["Location"] == user["meta"]["location"]
    assert user["meta"]["location"].endswith(f"/scim/v2/Users/{user['id']}")
    assert created.headers["ETag"] == user["meta"]["version"]
    assert users.get_user(ctx, "isaac.brock@example.com").roles == ["approver"]

    found = okta.get('/Users?filter=userName eq "ISAAC.BROCK@example.com"&startIndex=1&count=100').json
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user["id"]
    assert okta.get(f"/Users/{user['id']}").json == user

    replaced = okta.put(f"/Users/{user['id']}", {**okta_user(), "id": user["id"], "name": {"givenName": "Ike"}})
    assert replaced.status_code == 200 and replaced.json["name"] == {"givenName": "Ike"}
    assert replaced.json["meta"]["version"] != user["meta"]["version"]

    deactivated = okta.patch(f"/Users/{user['id']}", {"op": "replace", "value": {"active": False}})
    assert deactivated.status_code == 200 and deactivated.json["active"] is False
    assert users.get_user(ctx, "isaac.brock@example.com").active is False
    [event] = events(ctx, "user_deactivated")
    assert event.actor == "scim-okta" and event.actor_kind == "token" and event.token_id is not None
    assert event.data == {"username": "isaac.brock@example.com", "via": "scim", "scim_client": "scim-okta"}
    [updated] = events(ctx, "user_updated")
    assert updated.data["name_parts"] == {"givenName": "Ike"} and updated.data["scim_client"] == "scim-okta"

    kept = okta.put(f"/Users/{user['id']}", {"userName": "isaac.brock@example.com", "displayName": "Isaac"})
    assert kept.json["active"] is False  # a PUT without `active` keeps it

    reactivated = okta.patch(f"/Users/{user['id']}", {"op": "replace", "value": {"active": True}})
    assert reactivated.json["active"] is True and users.get_user(ctx, "isaac.brock@example.com").active


def test_entra_id_creates_patches_in_its_own_forms_and_deletes_a_user(okta, ctx):
    entra = okta
    assert entra.get('/Users?filter=userName eq "Test_User_dfeef4c5@contoso.com"').json["totalResults"] == 0
    created = entra.post("/Users", entra_user())
    assert created.status_code == 201, created.json
    user_id = created.json["id"]
    assert created.json["displayName"] == "givenName familyName"
    by_external = entra.get('/Users?filter=externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"').json
    assert [u["id"] for u in by_external["Resources"]] == [user_id]

    patched = entra.patch(
        f"/Users/{user_id}",
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@contoso.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Add", "path": f"{ENTERPRISE_USER}:manager", "value": "ignored"},
        {"op": "Replace", "value": {"displayName": "Updated Name", "name.givenName": "updatedGiven"}},
    )
    assert patched.status_code == 200, patched.json
    assert patched.json["emails"] == [{"value": "updatedEmail@contoso.com", "type": "work", "primary": True}]
    assert patched.json["name"]["familyName"] == "updatedFamilyName"
    assert patched.json["name"]["givenName"] == "updatedGiven"
    assert patched.json["displayName"] == "Updated Name"
    found = entra.get('/Users?filter=emails[type eq "work"].value eq "updatedemail@contoso.com"').json
    assert [u["id"] for u in found["Resources"]] == [user_id]

    disabled = entra.patch(f"/Users/{user_id}", {"op": "Replace", "path": "active", "value": "False"})
    assert disabled.status_code == 200 and disabled.json["active"] is False
    enabled = entra.patch(f"/Users/{user_id}", {"op": "Replace", "path": "active", "value": "True"})
    assert enabled.json["active"] is True

    assert entra.delete(f"/Users/{user_id}").status_code == 204
    assert entra.get(f"/Users/{user_id}").status_code == 404
    assert entra.get('/Users?filter=userName eq "Test_User_dfeef4c5@contoso.com"').json["totalResults"] == 0
    assert users.get_user(ctx, "Test_User_dfeef4c5@contoso.com").active is False
    [deleted] = events(ctx, "user_deleted")
    assert deleted.data["scim_id"] == user_id and deleted.data["via"] == "scim"

    again = entra.post("/Users", entra_user())  # provisioned again: the same account, a new id
    assert again.status_code == 201 and again.json["id"] != user_id and again.json["active"] is True


def test_groups_with_okta_and_entra_member_changes(okta, ctx):
    ids = [okta.post("/Users", okta_user(f"user{n}@example.com")).json["id"] for n in range(3)]
    created = okta.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "Finance", "members": [{"value": ids[0]}]})
    assert created.status_code == 201, created.json
    group = created.json
    assert [m["value"] for m in group["members"]] == [ids[0]]
    assert users.get_user(ctx, "user0@example.com").groups == ["Finance"]

    listed = okta.get('/Groups?filter=displayName eq "finance"&excludedAttributes=members').json
    assert listed["totalResults"] == 1 and "members" not in listed["Resources"][0]
    assert "version" not in listed["Resources"][0]["meta"]  # the ETag covers the members it does not load
    assert listed["Resources"][0]["id"] == group["id"]

    path = f"/Groups/{group['id']}"
    added = okta.patch(path, {"op": "Add", "path": "members", "value": [{"value": ids[1]}, {"value": ids[2]}]})
    assert sorted(m["value"] for m in added.json["members"]) == sorted(ids)
    entra_removed = okta.patch(path, {"op": "Remove", "path": "members", "value": [{"value": ids[0]}]})
    assert sorted(m["value"] for m in entra_removed.json["members"]) == sorted(ids[1:])
    okta_removed = okta.patch(path, {"op": "remove", "path": f'members[value eq "{ids[1]}"]'})
    assert [m["value"] for m in okta_removed.json["members"]] == [ids[2]]
    check = okta.get(f'/Groups?filter=id eq "{group["id"]}" and members[value eq "{ids[2]}"]').json
    assert check["totalResults"] == 1
    assert okta.get(f'/Groups?filter=members[value eq "{ids[0]}"]').json["totalResults"] == 0
    entra_check = okta.get(f'/Groups?filter=id eq "{group["id"]}" and members eq "{ids[2]}"&excludedAttributes=members')
    assert entra_check.json["totalResults"] == 1
    assert okta.get(f"/Users/{ids[2]}").json["groups"][0]["value"] == group["id"]

    renamed = okta.patch(path, {"op": "replace", "value": {"id": group["id"], "displayName": "Finance EMEA"}})
    assert renamed.json["displayName"] == "Finance EMEA"
    replaced = okta.put(path, {"schemas": [CORE_GROUP], "displayName": "Finance EMEA", "members": [{"value": ids[0]}]})
    assert [m["value"] for m in replaced.json["members"]] == [ids[0]]

    added_events = events(ctx, "group_member_added")
    assert {(e.data["username"], e.data["via"], e.actor) for e in added_events} >= {
        ("user1@example.com", "scim", "scim-okta")
    }
    assert events(ctx, "group_updated")[0].data["before"] == "Finance"

    assert okta.delete(path).status_code == 204
    assert okta.get(path).status_code == 404
    assert users.get_user(ctx, "user0@example.com").groups == []


def test_a_provisioned_user_works_on_day_one_and_deactivation_gives_their_tasks_back(app, okta, ctx):
    """Provisioned and put in the lane's group before they ever sign in, a new approver takes a task at once;
    deactivated (active=false), they can not sign in, their session ends and the task is offered again."""
    deployments.deploy(ctx, ADMIN, [source("p.bpmn", one_approval("Approvers"))])
    user_id = okta.post("/Users", okta_user("new.approver@example.com")).json["id"]
    okta.post("/Groups", {"displayName": "Approvers", "members": [{"value": user_id}]})
    view = instances.start(ctx, BOT, "p1", variables={})
    task_id = view.open_tasks[0].id

    token = tokens_service.create_token(ctx, "new.approver@example.com", "day one", ["tasks:read", "tasks:complete"])
    api = app.test_client()
    claimed = api.post(f"/api/v1/tasks/{task_id}/claim", headers={"Authorization": f"Bearer {token}"})
    assert claimed.status_code == 200, claimed.json
    assert claimed.json["assignee"] == "new.approver@example.com"

    users.reset_password(ctx, "new.approver@example.com", "a-long-password", "pmo")  # to have a browser session
    browser = app.test_client()
    assert sign_in(browser, "new.approver@example.com", "a-long-password").status_code == 302
    assert browser.get("/tasks").status_code == 200

    assert okta.patch(f"/Users/{user_id}", {"op": "replace", "path": "active", "value": False}).status_code == 200

    admin_token = tokens_service.create_token(ctx, "scim-okta", "reader", ["tasks:read"])
    task = api.get(f"/api/v1/tasks/{task_id}", headers={"Authorization": f"Bearer {admin_token}"}).json
    assert task["assignee"] is None and task["candidate_groups"] == ["Approvers"]
    [released] = events(ctx, "task_unclaimed")
    assert released.actor == "scim-okta" and released.task_uuid == task_id
    assert released.data["from"] == "new.approver@example.com" and released.data["reason"] == "deactivated"
    assert released.data["scim_client"] == "scim-okta"
    assert browser.get("/tasks").status_code == 302  # the session ended
    assert sign_in(app.test_client(), "new.approver@example.com", "a-long-password").status_code != 302
    refused = api.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401  # their tokens are revoked


def test_filters_and_paging(okta):
    for n in range(5):
        okta.post("/Users", okta_user(f"pager{n}@example.com"))
    page = okta.get('/Users?filter=userName sw "pager"&startIndex=2&count=2').json
    assert page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [u["userName"] for u in page["Resources"]] == ["pager1@example.com", "pager2@example.com"]
    either = okta.get('/Users?filter=userName eq "pager0@example.com" or userName eq "pager4@example.com"').json
    assert sorted(u["userName"] for u in either["Resources"]) == ["pager0@example.com", "pager4@example.com"]
    both = okta.get('/Users?filter=userName co "pager" and not (active eq false) and emails pr').json
    assert both["totalResults"] == 5
    assert okta.get('/Users?filter=userName eq "pager0@example.com" and active eq false').json["totalResults"] == 0
    assert okta.get("/Users?count=0").json["Resources"] == []
    since = okta.get('/Users?filter=meta.created ge "2000-01-01" and meta.lastModified gt "2000-01-01T00:00:00Z"')
    assert since.json["totalResults"] == 5
    assert okta.get('/Users?filter=meta.created lt "2000-01-01T00:00:00%2B02:00"').json["totalResults"] == 0
    assert okta.get('/Users?filter=meta.created gt "yesterday"').status_code == 400
    projected = okta.get('/Users?filter=userName eq "pager3@example.com"&attributes=userName').json["Resources"][0]
    assert set(projected) == {"schemas", "id", "meta", "userName"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "scim_type"),
    [
        ("POST", "/Users", "{not json", 400, "invalidSyntax"),
        ("POST", "/Users", [1, 2], 400, "invalidSyntax"),
        ("POST", "/Users", {"displayName": "no userName"}, 400, "invalidValue"),
        ("POST", "/Users", {"userName": "has space"}, 400, "invalidValue"),
        ("POST", "/Users", {"userName": "x", "active": "maybe"}, 400, "invalidValue"),
        ("POST", "/Users", {"userName": "x", "emails": [{"value": "not-an-email"}]}, 400, "invalidValue"),
        ("GET", '/Users?filter=userName eq "unclosed', None, 400, "invalidFilter"),
        ("GET", '/Users?filter=userName xx "a"', None, 400, "invalidFilter"),
        ("GET", '/Users?filter=title eq "x"', None, 400, "invalidFilter"),
        ("GET", "/Users?filter=active gt true", None, 400, "invalidFilter"),
        ("GET", "/Users?filter=" + "(" * 1100 + 'userName eq "a"' + ")" * 1100, None, 400, "invalidFilter"),
        (
            "GET",
            "/Users?filter=" + "not (" * 150 + 'userName eq "a"' + ")" * 150,
            None,
            400,
            "invalidFilter",
        ),  # too deep
        ("GET", "/Users?startIndex=abc", None, 400, "invalidValue"),
        ("GET", "/Users/no-such-id", None, 404, None),
        ("GET", "/Nothing", None, 404, None),
        ("PUT", "/Users", {}, 405, None),
        ("GET", "/ResourceTypes/Printer", None, 404, None),
    ],
)
def test_bad_requests_are_scim_errors(okta, method, path, body, status, scim_type):
    response = okta.call(method, path, body)
    assert response.status_code == status, response.json
    assert response.json["schemas"] == [ERROR] and response.json["status"] == str(status)
    assert response.json.get("scimType") == scim_type and response.json["detail"]


def test_bad_patches_and_conflicts(okta):
    user = okta.post("/Users", okta_user()).json
    path = f"/Users/{user['id']}"
    cases = [
        ({"op": "move", "path": "active", "value": False}, "invalidSyntax"),
        ({"op": "replace", "path": "shoeSize", "value": 44}, "invalidPath"),
        ({"op": "replace", "path": "emails[type eq", "value": "x"}, "invalidPath"),
        ({"op": "remove"}, "noTarget"),
        ({"op": "replace", "path": "userName", "value": "someone.else"}, "mutability"),
        ({"op": "replace", "path": "groups", "value": []}, "mutability"),
        ({"op": "replace", "path": "active", "value": "perhaps"}, "invalidValue"),
    ]
    for operation, scim_type in cases:
        response = okta.patch(path, operation)
        assert (response.status_code, response.json.get("scimType")) == (400, scim_type), operation
    assert okta.call("PATCH", path, {"Operations": "all"}).json["scimType"] == "invalidSyntax"
    duplicate = okta.post("/Users", okta_user("ISAAC.brock@example.com"))
    assert (duplicate.status_code, duplicate.json["scimType"]) == (409, "uniqueness")
    taken_group = okta.post("/Groups", {"displayName": "Legal"}).json["id"]
    taken = okta.post("/Groups", {"displayName": "legal"})
    assert (taken.status_code, taken.json["scimType"]) == (409, "uniqueness")
    odd = okta.patch(f"/Groups/{taken_group}", {"op": "add", "path": "members", "value": [{"value": {"x": [1]}}]})
    assert (odd.status_code, odd.json["scimType"]) == (400, "invalidValue")
    stranger = okta.post("/Groups", {"displayName": "Ops", "members": [{"value": "no-such-user"}]})
    assert (stranger.status_code, stranger.json["scimType"]) == (400, "invalidValue")
    stale = okta.call(
        "PATCH",
        path,
        {"Operations": [{"op": "replace", "path": "displayName", "value": "X"}]},
        headers={"If-Match": 'W/"stale"'},
    )
    assert stale.status_code == 412
    fresh = okta.call(
        "PATCH",
        path,
        {"Operations": [{"op": "replace", "path": "displayName", "value": "X"}]},
        headers={"If-Match": user["meta"]["version"]},
    )
    assert fresh.status_code == 200


def test_tokens_without_the_scope_or_none_are_refused(app, ctx, okta):
    assert Scim(app, None).get("/Users").status_code == 401
    assert Scim(app, "pmo_wrong").get("/Users").status_code == 401
    assert Scim(app, None).get("/Users").headers["WWW-Authenticate"].startswith("Bearer")
    users.create_user(ctx, "admin2", None, [], ["admin"], system=True)
    other_scopes = ["admin", "audit:read", "tasks:read"]
    refused = Scim(app, tokens_service.create_token(ctx, "admin2", "no scim", other_scopes)).get("/Users")
    assert refused.status_code == 403 and refused.json["schemas"] == [ERROR]
    users.create_user(ctx, "approver2", None, [], ["approver"], system=False)
    assert Scim(app, tokens_service.create_token(ctx, "approver2", "t")).get("/Users").status_code == 403


def test_discovery(okta):
    config = okta.get("/ServiceProviderConfig").json
    assert config["patch"]["supported"] and config["filter"] == {"supported": True, "maxResults": 200}
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = okta.get("/ResourceTypes").json
    assert {t["id"] for t in types["Resources"]} == {"User", "Group"}
    assert okta.get("/ResourceTypes/User").json["endpoint"] == "/Users"
    schemas = okta.get("/Schemas").json
    assert {s["id"] for s in schemas["Resources"]} == {CORE_USER, CORE_GROUP}
    user_schema = okta.get(f"/Schemas/{CORE_USER}").json
    assert {a["name"] for a in user_schema["attributes"]} >= {"userName", "active", "emails", "name"}


def test_a_name_taken_at_the_same_moment_is_a_conflict_not_a_500(okta, monkeypatch):
    """Two requests creating (or renaming to) one group name pass the check together; the database's
    unique index refuses the second, which is answered as SCIM's 409 uniqueness."""
    okta.post("/Groups", {"displayName": "Payroll"})
    other = okta.post("/Groups", {"displayName": "Travel"}).json
    monkeypatch.setattr(scim_groups, "_check_name", lambda *_: None)
    created = okta.post("/Groups", {"displayName": "Payroll"})
    assert (created.status_code, created.json["scimType"]) == (409, "uniqueness")
    renamed = okta.patch(f"/Groups/{other['id']}", {"op": "replace", "path": "displayName", "value": "Payroll"})
    assert (renamed.status_code, renamed.json["scimType"]) == (409, "uniqueness")


def test_nul_characters_are_refused_on_both_databases(okta):
    """PostgreSQL refuses NUL in text: every way one can come in is a 4xx before the database sees it."""
    user = okta.post("/Users", okta_user()).json
    cases = [
        ("POST", "/Users", {"userName": "nul.user", "displayName": "a\u0000b"}, 400),
        ("POST", "/Users", {"userName": "nul.user", "externalId": "\u0000"}, 400),
        ("POST", "/Groups", {"displayName": "G", "members": [{"value": "\u0000"}]}, 400),
        ("GET", '/Users?filter=userName eq "a\\u0000"', None, 400),
        ("GET", "/Users/a%00b", None, 404),
        ("GET", "/Groups/a%00b", None, 404),
        (
            "PATCH",
            f"/Users/{user['id']}",
            {"Operations": [{"op": "replace", "path": "name.givenName", "value": "\u0000"}]},
            400,
        ),
    ]
    for method, path, body, status in cases:
        response = okta.call(method, path, body)
        assert response.status_code == status, (path, body, response.json)


def test_a_group_of_tens_of_thousands_of_members_is_looked_up_in_bounded_queries(okta):
    """More member ids than a statement takes parameters (SQLite 32766, PostgreSQL 65535) are still an answer:
    here 400, since none of them is a User."""
    members = [{"value": f"u{n}"} for n in range(70_000)]
    response = okta.post("/Groups", {"displayName": "Everyone", "members": members})
    assert (response.status_code, response.json["scimType"]) == (400, "invalidValue")
