"""Single sign-on through pmoflow's real routes, Authlib and the guarded client, against an OpenID provider
served by this process with keys the test generates (tests/identity.py): sign-in with PKCE, state and nonce;
provisioning and groups and roles that follow the provider, audited; the ID token's checks (a tampered
signature, a wrong nonce, an expired token, a wrong issuer); sign-out with RP-initiated logout; back-channel
logout; local passwords for admins only or off. The browser test against a real provider (oidc-provider)
is tests/browser/test_sso.py."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from joserfc.jwk import RSAKey
from sqlalchemy import select

from engine.admin import signin, users
from engine.db.models import Event, OidcIdentity, User, WebSession
from engine.sso.logout import EVENT
from tests.identity import CLIENT_ID, KeyProvider, authorize_params, sso_sign_in, start
from tests.webui.conftest import sign_in

ROLE_MAP = "pmo-approvers=approver, pmo-admins=admin, pmo-designers=designer, pmo-auditors=auditor"


@pytest.fixture
def app(sso_app: Callable[..., Flask]) -> Flask:
    return sso_app(oidc_role_map=ROLE_MAP, oidc_roles_claim="roles")


def events(app: Flask, kind: str) -> list[SimpleNamespace]:
    """The audit events of one kind, oldest first (their actor and data)."""
    with app.extensions["pmoflow"].uow(write=False) as uow:
        rows = uow.session.scalars(select(Event).where(Event.type == kind).order_by(Event.seq))
        return [SimpleNamespace(actor=e.actor, data=dict(e.data)) for e in rows]


def user_row(app: Flask, username: str) -> tuple[list[str], list[str]]:
    with app.extensions["pmoflow"].uow(write=False) as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).one()
        return sorted(user.roles), sorted(g.name for g in user.groups)


NINA = {"sub": "s-nina", "preferred_username": "nina", "name": "Nina Ng", "email": "nina@example.com", "sid": "sid-1"}


def test_the_sign_in_page_offers_the_provider(app, idp):
    response = app.test_client().get("/login")
    page = response.get_data(as_text=True)
    # signing out posts a form whose answer redirects to the provider: the policy lets forms lead there
    assert f"form-action 'self' {idp.issuer};" in response.headers["Content-Security-Policy"]
    assert "Sign in with Test IdP" in page
    assert 'name="password"' in page  # local passwords stay on by default


def test_first_sign_in_provisions_the_user_with_pkce_state_and_nonce(app, idp):
    client = app.test_client()
    params = start(client)
    assert params["response_type"] == "code" and params["client_id"] == CLIENT_ID
    assert params["code_challenge_method"] == "S256" and params["state"] and params["nonce"]
    assert params["redirect_uri"] == "http://127.0.0.1:5000/login/sso/callback"
    assert set(params["scope"].split()) == {"openid", "profile", "email"}
    claims = {**NINA, "groups": ["Finance", "Security"], "roles": ["pmo-designers"]}
    idp.answers.append(
        {"access_token": "at", "token_type": "Bearer", "id_token": idp.sign(idp.id_token(params["nonce"], **claims))}
    )
    response = client.get(f"/login/sso/callback?code=the-code&state={params['state']}")
    assert response.status_code == 302 and response.headers["Location"] == "/requests"
    assert client.get("/tasks").status_code == 200
    # the token request carried the code and the PKCE verifier of the challenge sent
    [request] = idp.token_requests
    assert request["code"] == ["the-code"] and request["grant_type"] == ["authorization_code"]
    verifier = request["code_verifier"][0].encode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
    assert challenge == params["code_challenge"]
    assert user_row(app, "nina") == (["approver", "designer"], ["Finance", "Security"])
    [created] = events(app, "user_created")[-1:]
    assert (
        created.data["username"] == "nina" and created.data["source"] == "oidc" and created.data["subject"] == "s-nina"
    )
    added = [(e.data["group"], e.data["claim"], e.data["value"]) for e in events(app, "group_member_added")]
    assert added == [("Finance", "groups", "Finance"), ("Security", "groups", "Security")]
    [roles] = events(app, "roles_changed")
    assert roles.data["after"] == ["approver", "designer"] and roles.data["claim"] == "roles"
    assert roles.data["values"] == {"approver": "default", "designer": "pmo-designers"}
    assert events(app, "login")[-1].data["via"] == "oidc"
    with app.extensions["pmoflow"].uow(write=False) as uow:
        session = uow.session.scalars(select(WebSession).order_by(WebSession.id.desc())).first()
        assert session.oidc_sid == "sid-1" and session.id_token and session.user.username == "nina"
        [identity] = uow.session.scalars(select(OidcIdentity)).all()
        assert (identity.issuer, identity.subject) == (idp.issuer, "s-nina")


def test_groups_and_roles_follow_the_provider_at_every_sign_in(app, idp):
    sso_sign_in(app.test_client(), idp, {**NINA, "groups": ["Finance"], "roles": ["pmo-designers"]})
    users_before = len(events(app, "user_created"))
    response = sso_sign_in(app.test_client(), idp, {**NINA, "groups": ["Security"], "roles": ["pmo-admins"]})
    assert response.status_code == 302
    assert user_row(app, "nina") == (["admin", "approver"], ["Security"])
    assert len(events(app, "user_created")) == users_before  # the same user, found by the subject
    [removed] = events(app, "group_member_removed")
    assert removed.data == {"group": "Finance", "username": "nina", "source": "oidc", "claim": "groups"}
    last = events(app, "roles_changed")[-1]
    assert (last.data["before"], last.data["after"]) == (["approver", "designer"], ["admin", "approver"])
    # a new user name at the provider does not make a new user: the subject is the key
    sso_sign_in(app.test_client(), idp, {**NINA, "preferred_username": "nina.ng", "groups": []})
    assert user_row(app, "nina")[1] == []


def test_a_group_map_manages_only_the_groups_it_names(sso_app, idp):
    app = sso_app(oidc_group_map="g-fin=Finance, g-sec=Security, g-sec=Operations")
    users.create_user(app.extensions["pmoflow"], "nina", None, ["PMO Director"], ["approver"])
    sso_sign_in(app.test_client(), idp, {**NINA, "groups": ["g-sec", "unmapped"]})
    assert user_row(app, "nina")[1] == ["Operations", "PMO Director", "Security"]  # a local group stays
    sso_sign_in(app.test_client(), idp, {**NINA, "groups": ["g-fin"]})
    assert user_row(app, "nina")[1] == ["Finance", "PMO Director"]
    [linked] = events(app, "oidc_linked")  # the existing account of that name, linked at its first sign-in
    assert linked.data["username"] == "nina" and linked.data["claim"] == "preferred_username"


def test_roles_stay_local_without_a_role_map(sso_app, idp):
    app = sso_app()
    sso_sign_in(app.test_client(), idp, {**NINA, "preferred_username": "pmo", "roles": ["pmo-approvers"]})
    assert user_row(app, "pmo")[0] == ["admin", "designer"]
    assert events(app, "roles_changed") == []


def tampered(idp: KeyProvider):  # type: ignore[no-untyped-def]
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # the provider's key id, another key
    return lambda claims: idp.sign(claims, key=other)


def swapped_payload(idp: KeyProvider):  # type: ignore[no-untyped-def]
    def make(claims: dict[str, Any]) -> str:
        header, _, signature = idp.sign(claims).split(".")
        evil = base64.urlsafe_b64encode(str(claims | {"sub": "pmo"}).encode()).rstrip(b"=").decode()
        return f"{header}.{evil}.{signature}"

    return make


BAD_TOKENS = {
    "tampered signature": lambda idp: tampered(idp),
    "swapped payload": lambda idp: swapped_payload(idp),
    "wrong nonce": lambda idp: lambda c: idp.sign(c | {"nonce": "not-the-one-sent"}),
    "expired": lambda idp: lambda c: idp.sign(c | {"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}),
    # a minute's skew is allowed, as for every token pmoflow checks (Authlib's own default is two)
    "expired 90 s ago": lambda idp: lambda c: idp.sign(c | {"exp": int(time.time()) - 90}),
    "wrong issuer": lambda idp: lambda c: idp.sign(c | {"iss": "https://evil.example.com"}),
    "wrong audience": lambda idp: lambda c: idp.sign(c | {"aud": "another-client"}),
    "unsigned": lambda idp: lambda c: idp.sign(c).rsplit(".", 1)[0] + ".",
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_an_id_token_that_fails_a_check_signs_nobody_in(app, idp, case):
    client = app.test_client()
    response = sso_sign_in(client, idp, {**NINA, "groups": ["Finance"]}, tamper=BAD_TOKENS[case](idp))
    assert response.status_code == 401, response.get_data(as_text=True)[:300]
    assert "Signing in with Test IdP failed" in response.get_data(as_text=True)
    assert client.get("/tasks").status_code == 302  # not signed in
    with app.extensions["pmoflow"].uow(write=False) as uow:
        assert uow.session.scalars(select(User).where(User.username == "nina")).first() is None
    failed = events(app, "login_failed")[-1]
    assert failed.data["via"] == "oidc" and failed.data["reason"]


def test_an_id_token_within_a_minutes_skew_is_taken(app, idp):
    response = sso_sign_in(app.test_client(), idp, NINA, tamper=lambda c: idp.sign(c | {"exp": int(time.time()) - 20}))
    assert response.status_code == 302


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "/\\evil.example/x", "/\t/evil.example", "https://evil.example"]
)
def test_the_page_after_signing_in_with_the_provider_is_never_another_site(app, idp, target):
    client = app.test_client()
    response = client.get("/login/sso", query_string={"next": target})
    params = authorize_params(response.headers["Location"])
    token = idp.sign(idp.id_token(params["nonce"], **NINA))
    idp.answers.append({"access_token": "a", "token_type": "Bearer", "id_token": token})
    response = client.get(f"/login/sso/callback?code=c&state={params['state']}")
    assert response.status_code == 302 and response.headers["Location"] == "/tasks"


def test_a_callback_without_the_state_sent_signs_nobody_in(app, idp):
    client = app.test_client()
    params = start(client)
    idp.answers.append(
        {"access_token": "a", "token_type": "Bearer", "id_token": idp.sign(idp.id_token(params["nonce"]))}
    )
    assert client.get("/login/sso/callback?code=c&state=forged").status_code == 401
    assert app.test_client().get(f"/login/sso/callback?code=c&state={params['state']}").status_code == 401
    assert client.get("/login/sso/callback?error=access_denied&state=" + params["state"]).status_code == 401
    assert idp.token_requests == []  # no code was exchanged for a state pmoflow did not send in this browser


def test_only_the_latest_sign_in_attempt_of_a_browser_can_finish(app, idp):
    client = app.test_client()
    first, second = start(client), start(client)
    token = idp.sign(idp.id_token(first["nonce"], **NINA))
    idp.answers.append({"access_token": "a", "token_type": "Bearer", "id_token": token})
    assert client.get(f"/login/sso/callback?code=c&state={first['state']}").status_code == 401
    with client.session_transaction() as session:
        assert [k for k in session if k.startswith("_state_")] == [f"_state_provider_{second['state']}"]


def test_a_system_account_is_never_taken_over_by_the_provider(app, idp):
    client = app.test_client()
    assert sso_sign_in(client, idp, {**NINA, "preferred_username": "intake-bot"}).status_code == 401
    assert client.get("/tasks").status_code == 302
    with app.extensions["pmoflow"].uow(write=False) as uow:
        assert uow.session.scalars(select(OidcIdentity)).all() == []


def test_a_deactivated_user_can_not_sign_in_with_the_provider(app, idp):
    sso_sign_in(app.test_client(), idp, NINA)
    users.deactivate_user(app.extensions["pmoflow"], "nina", "pmo")
    client = app.test_client()
    assert sso_sign_in(client, idp, NINA).status_code == 401
    assert client.get("/tasks").status_code == 302


def test_sign_out_ends_the_session_and_the_providers(app, idp):
    client = app.test_client()
    sso_sign_in(client, idp, NINA)
    page = client.get("/tasks").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post("/logout", data={"csrf_token": token})
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == idp.issuer + "/session/end"
    query = parse_qs(location.query)
    assert query["post_logout_redirect_uri"] == ["http://127.0.0.1:5000/login"]
    assert query["client_id"] == [CLIENT_ID] and query["id_token_hint"][0].count(".") == 2
    assert client.get("/tasks").status_code == 302
    # a password user's sign-out stays at pmoflow
    local = app.test_client()
    sign_in(local, "alice")
    page = local.get("/tasks").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert local.post("/logout", data={"csrf_token": token}).headers["Location"] == "/login"


def logout_token(idp: KeyProvider, app: Flask, **claims: Any) -> str:
    now = int(app.extensions["pmoflow"].clock.now().timestamp())
    base = {"iss": idp.issuer, "aud": CLIENT_ID, "iat": now, "jti": uuid.uuid4().hex, "events": {EVENT: {}}}
    return idp.sign({**base, **claims}, header={"typ": "logout+jwt"})


def test_back_channel_logout_ends_the_sessions_it_names(app, idp):
    first, second, third = app.test_client(), app.test_client(), app.test_client()
    sso_sign_in(first, idp, NINA)
    sso_sign_in(second, idp, {**NINA, "sid": "sid-2"})
    sso_sign_in(third, idp, {**NINA, "sid": "sid-3"})
    answer = app.test_client().post("/logout/backchannel", data={"logout_token": logout_token(idp, app, sid="sid-1")})
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert first.get("/tasks").status_code == 302
    assert second.get("/tasks").status_code == 200
    # the subject alone: every session of the user started with the provider
    answer = app.test_client().post("/logout/backchannel", data={"logout_token": logout_token(idp, app, sub="s-nina")})
    assert answer.status_code == 200
    assert second.get("/tasks").status_code == 302 and third.get("/tasks").status_code == 302
    ended = events(app, "sessions_ended")
    assert [(e.data["count"], e.data["reason"]) for e in ended] == [
        (1, "backchannel_logout"),
        (2, "backchannel_logout"),
    ]


def test_a_long_provider_session_id_is_still_ended_by_back_channel_logout(app, idp):
    client = app.test_client()
    sso_sign_in(client, idp, {**NINA, "sid": "s" * 300})  # kept as its first 255 characters
    answer = app.test_client().post("/logout/backchannel", data={"logout_token": logout_token(idp, app, sid="s" * 300)})
    assert answer.status_code == 200 and client.get("/tasks").status_code == 302


def test_group_values_with_control_characters_name_no_group(app, idp):
    response = sso_sign_in(app.test_client(), idp, {**NINA, "groups": ["Finance", "nul\x00name", "line\nend"]})
    assert response.status_code == 302
    assert user_row(app, "nina")[1] == ["Finance"]


def test_an_invalid_logout_token_is_refused(app, idp):
    client = app.test_client()
    sso_sign_in(client, idp, NINA)
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    reused = logout_token(idp, app, sid="unknown-sid")
    bad = {
        "wrong audience": logout_token(idp, app, sid="sid-1", aud="someone-else"),
        "wrong issuer": logout_token(idp, app, sid="sid-1", iss="https://evil.example.com"),
        "a nonce": logout_token(idp, app, sid="sid-1", nonce="n"),
        "no event": logout_token(idp, app, sid="sid-1", events={}),
        "no sid or sub": logout_token(idp, app),
        "no jti": logout_token(idp, app, sid="sid-1", jti=None),
        "too old": logout_token(idp, app, sid="sid-1", iat=int(time.time()) - 3600),
        "another key": idp.sign(
            {
                "iss": idp.issuer,
                "aud": CLIENT_ID,
                "iat": int(time.time()),
                "jti": "j",
                "events": {EVENT: {}},
                "sid": "sid-1",
            },
            key=other,
        ),
        "not a JWT": "not.a.jwt",
        "empty": "",
    }
    assert app.test_client().post("/logout/backchannel", data={"logout_token": reused}).status_code == 200
    bad["replayed"] = reused
    for case, token in bad.items():
        answer = app.test_client().post("/logout/backchannel", data={"logout_token": token})
        assert answer.status_code == 400, case
        assert answer.json["error"]["code"] == "logout_refused", case
    assert client.get("/tasks").status_code == 200  # nothing ended


def test_back_channel_logout_without_single_sign_on_is_refused(sso_app):
    app = sso_app(None)
    assert app.test_client().post("/logout/backchannel", data={"logout_token": "a.b.c"}).status_code == 400
    assert app.test_client().get("/login/sso").status_code == 404
    assert "Sign in with" not in app.test_client().get("/login").get_data(as_text=True)


def test_passwords_can_be_kept_for_admins_only(sso_app, idp):
    app = sso_app(local_login="admins")
    response = sign_in(app.test_client(), "alice")
    assert response.status_code == 401 and "Passwords are for admins only" in response.get_data(as_text=True)
    assert events(app, "login_failed")[-1].data["reason"] == "passwords are for admins only"
    assert sign_in(app.test_client(), "pmo").status_code == 302


def test_passwords_can_be_turned_off(sso_app, idp):
    app = sso_app(local_login="off")
    page = app.test_client().get("/login").get_data(as_text=True)
    assert "Sign in with Test IdP" in page and 'name="password"' not in page
    refused = signin.sign_in(app.extensions["pmoflow"], "pmo", "demo", "127.0.0.1")  # what POST /login calls
    assert refused.user is None and refused.refused and "turned off" in refused.refused
    assert sso_sign_in(app.test_client(), idp, NINA).status_code == 302


@pytest.mark.parametrize(
    ("settings", "why"),
    [
        ({"oidc_allow_private": False}, "https"),  # a loopback issuer over http is refused by the policy
        ({"oidc_issuer": "https://127.0.0.1:1"}, "could not be reached"),  # https, loopback: the address policy
    ],
)
def test_a_provider_that_can_not_be_asked_is_a_clear_502(sso_app, idp, settings, why):
    app = sso_app(**settings)
    response = app.test_client().get("/login/sso")
    assert response.status_code == 502
    assert why in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "settings",
    [
        {"oidc_role_map": "pmo-admins=superuser"},
        {"oidc_role_map": "no equals sign"},
        {"oidc_scope_map": "read=everything"},
        {"oidc_default_roles": "root"},
        {"local_login": "sometimes"},
    ],
)
def test_a_malformed_setting_stops_the_app_from_starting(sso_app, settings):
    with pytest.raises(ValueError, match="PMOFLOW_"):
        sso_app(**settings)
