"""The role-by-route matrix for people who sign in with the OpenID provider and for the provider's access
tokens: with roles and groups given by the provider's claims, every page and API route answers as it does
for the password user or pmoflow token of the same role (tests/webui/test_permission_matrix.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from engine.admin import users
from engine.core.permissions import scopes_of_roles
from tests.identity import API_AUDIENCE, KeyProvider, sso_sign_in
from tests.webui import test_permission_matrix as matrix

ROLE_MAP = "pmo-admins=admin, pmo-designers=designer, pmo-approvers=approver, pmo-auditors=auditor, pmo-api=api"
ROLE_VALUES = {
    "admin": "pmo-admins",
    "designer": "pmo-designers",
    "approver": "pmo-approvers",
    "auditor": "pmo-auditors",
}
# single sign-on is on here: the flow starts for anyone, a callback without this browser's state is refused
SSO_PAGES = {
    ("GET", "/login/sso"): (302,) * 6,
    ("GET", "/login/sso/callback"): (401,) * 6,
    ("POST", "/logout/backchannel"): (400,) * 6,
}


@pytest.fixture
def app(sso_app: Callable[..., Flask]) -> Flask:
    made = sso_app(
        oidc_role_map=ROLE_MAP,
        oidc_roles_claim="roles",
        oidc_default_roles="",
        oidc_api_clients="matrix-client=intake-bot",
    )
    ctx = made.extensions["pmoflow"]
    users.create_user(ctx, "dana", "demo", [], ["designer"])
    users.create_user(ctx, "matrix-target", "demo", [], ["approver"])
    return made


def claims_of(app: Flask, username: str) -> dict[str, Any]:
    """What the provider says of a user: pmoflow's roles and groups of that user, as claims."""
    user = users.get_user(app.extensions["pmoflow"], username)
    roles = [ROLE_VALUES[r] for r in user.roles]
    return {"sub": f"s-{username}", "preferred_username": username, "groups": user.groups, "roles": roles}


@pytest.mark.parametrize("caller", [c for c in matrix.CALLERS if c in matrix.SESSION_USER])
def test_pages_for_people_signed_in_with_the_provider(app, idp, caller):
    client = app.test_client()
    username = matrix.SESSION_USER[caller]
    before = users.get_user(app.extensions["pmoflow"], username)
    assert sso_sign_in(client, idp, claims_of(app, username)).status_code == 302
    after = users.get_user(app.extensions["pmoflow"], username)
    assert (after.roles, after.groups) == (before.roles, before.groups)  # the provider said the same
    for (method, rule), expected in (matrix.PAGES | SSO_PAGES).items():
        url = matrix.fill(rule, app)
        if method == "GET":
            response = client.get(url)
        else:
            token = matrix._token(client, app)
            response = client.post(url, data={**matrix.BODIES.get(rule, {}), "csrf_token": token})
        assert response.status_code == expected[matrix.CALLERS.index(caller)], (caller, method, rule)


def provider_token(idp: KeyProvider, app: Flask, sub: str, scopes: frozenset[str], **claims: Any) -> str:
    now = int(app.extensions["pmoflow"].clock.now().timestamp())
    body = {"iss": idp.issuer, "aud": API_AUDIENCE, "sub": sub, "iat": now, "exp": now + 3600}
    return idp.sign({**body, "scope": " ".join(sorted(scopes)), **claims}, header={"typ": "at+jwt"})


@pytest.mark.parametrize("caller", ["token", "approver", "admin"])
def test_api_with_the_providers_access_tokens(app, idp, caller):
    """The `token` column with a client's own token (client credentials, acting as intake-bot), the
    approver's and admin's columns with tokens the provider issued to them; every scope their roles allow."""
    ctx = app.extensions["pmoflow"]
    if caller == "token":
        token = provider_token(idp, app, "matrix-client", scopes_of_roles({"api"}), client_id="matrix-client")
    else:
        username = matrix.SESSION_USER[caller]
        sso_sign_in(app.test_client(), idp, claims_of(app, username))  # links the provider's subject
        roles = frozenset(users.get_user(ctx, username).roles)
        token = provider_token(idp, app, f"s-{username}", scopes_of_roles(roles))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for (method, rule), statuses in matrix.API.items():
        url = matrix.fill(rule, app)
        if rule == "/api/v1/process-definitions" and method == "POST":
            response = matrix._call(client, app, method, rule, token, f"sso-{caller}")
        elif method == "GET":
            response = client.get(url, headers=headers, query_string=matrix.QUERIES.get(rule))
        else:
            response = client.open(url, method=method, headers=headers, json=matrix.BODIES.get(rule, {}))
        assert response.status_code == statuses[matrix.CALLERS.index(caller)], (caller, method, rule, response.json)
