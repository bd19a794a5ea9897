"""The OpenID provider's access tokens as API credentials (engine/sso/access.py), beside pmoflow's tokens:
signature against the provider's keys, issuer, audience, expiry by the engine's clock, no ID tokens, the
user linked to the subject or named for a client, and scopes mapped to pmoflow scopes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from joserfc.jwk import RSAKey

from engine.admin import tokens, users
from tests.identity import API_AUDIENCE, KeyProvider, sso_sign_in


@pytest.fixture
def app(sso_app: Callable[..., Flask]) -> Flask:
    return sso_app(oidc_api_clients="reporting-job=intake-bot", oidc_scope_map="pmoflow.read=tasks:read")


def access_token(idp: KeyProvider, app: Flask, key: RSAKey | None = None, **claims: Any) -> str:
    now = int(app.extensions["pmoflow"].clock.now().timestamp())
    base = {"iss": idp.issuer, "aud": API_AUDIENCE, "sub": "s-alice", "iat": now, "exp": now + 600}
    return idp.sign({**base, **claims}, key=key, header={"typ": "at+jwt"})


def call(app: Flask, token: str, path: str = "/api/v1/tasks", method: str = "GET", **kwargs: Any):  # type: ignore[no-untyped-def]
    return app.test_client().open(path, method=method, headers={"Authorization": f"Bearer {token}"}, **kwargs)


def test_a_signed_in_users_access_token_acts_as_them_within_its_scopes(app, idp):
    sso_sign_in(app.test_client(), idp, {"sub": "s-alice", "preferred_username": "alice", "groups": ["IT Manager"]})
    token = access_token(idp, app, scope="openid tasks:read")
    assert call(app, token).status_code == 200
    refused = call(app, token, "/api/v1/process-instances", "POST", json={"process": "project-intake"})
    assert refused.status_code == 403
    assert refused.json["error"]["details"]["missing_scope"] == "instances:start:project-intake"
    # Entra ID and Okta send `scp`; a mapped provider scope stands for its pmoflow scope
    assert call(app, access_token(idp, app, scp=["pmoflow.read"])).status_code == 200
    assert call(app, access_token(idp, app, scp="profile")).status_code == 403  # no pmoflow scope at all
    # pmoflow's own tokens still work beside them
    assert call(app, tokens.create_token(app.extensions["pmoflow"], "alice", "t")).status_code == 200


def test_a_clients_own_token_acts_as_the_user_named_for_it(app, idp):
    token = access_token(idp, app, sub="reporting-job", client_id="reporting-job", scope="tasks:read")
    answer = call(app, token)
    assert answer.status_code == 200
    app_only = access_token(idp, app, sub="reporting-job", roles=["pmoflow.read"])  # Entra ID: app roles
    assert call(app, app_only).status_code == 200
    unknown = access_token(idp, app, sub="other-job", client_id="other-job", scope="tasks:read")
    assert call(app, unknown).status_code == 401


@pytest.mark.parametrize(
    "case",
    ["wrong audience", "wrong issuer", "expired", "another key", "an ID token", "unknown subject", "hmac", "garbage"],
)
def test_a_bad_access_token_is_a_401(app, idp, case):
    sso_sign_in(app.test_client(), idp, {"sub": "s-alice", "preferred_username": "alice"})
    clock = app.extensions["pmoflow"].clock
    token = {
        "wrong audience": lambda: access_token(idp, app, aud="api://other", scope="tasks:read"),
        "wrong issuer": lambda: access_token(idp, app, iss="https://evil.example.com", scope="tasks:read"),
        "expired": lambda: access_token(idp, app, scope="tasks:read"),
        "another key": lambda: access_token(
            idp, app, key=RSAKey.generate_key(2048, parameters={"kid": "k1"}), scope="tasks:read"
        ),
        "an ID token": lambda: access_token(idp, app, nonce="n", scope="tasks:read"),
        "unknown subject": lambda: access_token(idp, app, sub="s-nobody", scope="tasks:read"),
        "hmac": lambda: _hmac_token(idp, app),
        "garbage": lambda: "eyJ.not.a-token",
    }[case]()
    if case == "expired":
        clock.advance(timedelta(minutes=20))  # past exp and the minute of leeway, by the engine's clock
    answer = call(app, token)
    assert answer.status_code == 401, answer.json
    assert answer.json["error"]["code"] == "unauthenticated"


def _hmac_token(idp: KeyProvider, app: Flask) -> str:
    """A token signed with HS256 keyed by the provider's public modulus: accepted by a careless verifier."""
    from joserfc import jwt
    from joserfc.jwk import OctKey

    now = int(app.extensions["pmoflow"].clock.now().timestamp())
    claims = {"iss": idp.issuer, "aud": API_AUDIENCE, "sub": "s-alice", "exp": now + 600, "scope": "tasks:read"}
    key = OctKey.import_key(idp.key.as_dict(private=False)["n"])
    return jwt.encode({"alg": "HS256", "kid": "k1"}, claims, key, algorithms=["HS256"])


def test_a_deactivated_users_access_token_is_refused(app, idp):
    sso_sign_in(app.test_client(), idp, {"sub": "s-alice", "preferred_username": "alice"})
    users.deactivate_user(app.extensions["pmoflow"], "alice", "pmo")
    assert call(app, access_token(idp, app, scope="tasks:read")).status_code == 401


def test_a_rotated_key_is_fetched_again_but_not_for_every_unknown_key_id(app, idp):
    sso_sign_in(app.test_client(), idp, {"sub": "s-alice", "preferred_username": "alice"})  # keys cached now
    assert idp.key_fetches == 1
    idp.key = RSAKey.generate_key(2048, parameters={"kid": "k2", "use": "sig", "alg": "RS256"})
    assert call(app, access_token(idp, app, scope="tasks:read")).status_code == 401  # fetched a moment ago
    assert idp.key_fetches == 1
    app.extensions["pmoflow"].clock.advance(timedelta(seconds=61))
    assert call(app, access_token(idp, app, scope="tasks:read")).status_code == 200  # k2: fetched again
    assert idp.key_fetches == 2
    made_up = RSAKey.generate_key(2048, parameters={"kid": "k-made-up"})
    for _ in range(3):
        assert call(app, access_token(idp, app, key=made_up, scope="tasks:read")).status_code == 401
    assert idp.key_fetches == 2


def test_without_an_api_audience_provider_tokens_are_not_taken(sso_app, idp):
    app = sso_app(oidc_api_audience="")
    sso_sign_in(app.test_client(), idp, {"sub": "s-alice", "preferred_username": "alice"})
    assert call(app, access_token(idp, app, scope="tasks:read")).status_code == 401
