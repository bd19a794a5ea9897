"""Single sign-on end to end: Chromium, `pmoflow serve` and a real OpenID provider (panva's oidc-provider,
OpenID certified, under Node.js: tests/oidc/provider.js). Sign-in with first-login provisioning, a group
change at the provider that the next sign-in brings, sign-out at pmoflow and at the provider (RP-initiated
logout), back-channel logout when the provider's session ends, and the provider's access tokens at the API.

The checks that need a forged token (a tampered ID token, a wrong nonce, an expired token, a wrong issuer)
are in tests/webui/test_sso.py, through the same callback, with keys that test generates."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.db.models import Event, User
from tests.identity import API_AUDIENCE, CLIENT_ID, CLIENT_SECRET, node_provider
from tests.servers import free_port

from .conftest import LiveServer, live_server_of

ACCOUNTS = {"nina": {"name": "Nina Ng", "email": "nina@example.com", "groups": ["finance"]}}


@pytest.fixture
def sso(database_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    """pmoflow with single sign-on at a real oidc-provider whose client is registered for it; (server, issuer)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with node_provider(url, ACCOUNTS, tmp_path / "provider.log") as issuer:
        env = {
            "PMOFLOW_BASE_URL": url,
            "PMOFLOW_OIDC_ISSUER": issuer,
            "PMOFLOW_OIDC_CLIENT_ID": CLIENT_ID,
            "PMOFLOW_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "PMOFLOW_OIDC_NAME": "Test IdP",
            "PMOFLOW_OIDC_SCOPES": "openid profile email groups",
            "PMOFLOW_OIDC_GROUP_MAP": "finance=Finance, security=Security",
            "PMOFLOW_OIDC_ROLE_MAP": "pmo-designers=designer",
            "PMOFLOW_OIDC_API_AUDIENCE": API_AUDIENCE,
            "PMOFLOW_OIDC_API_CLIENTS": f"{CLIENT_ID}=intake-bot",
            "PMOFLOW_OIDC_ALLOW_PRIVATE": "1",  # the provider listens on loopback, over http
        }
        with live_server_of(database_url, tmp_path, env_extra=env, port=port) as server:
            yield server, issuer


def who(server: LiveServer, username: str) -> tuple[list[str], list[str]] | None:
    """A user's roles and groups as pmoflow has them, or None."""
    ctx = EngineContext.from_settings(Settings(database_url=server.database_url))
    try:
        with ctx.uow(write=False) as uow:
            user = uow.session.scalars(select(User).where(User.username == username)).first()
            return None if user is None else (sorted(user.roles), sorted(g.name for g in user.groups))
    finally:
        ctx.db.dispose()


def audit_of(server: LiveServer, kind: str) -> list[dict[str, object]]:
    ctx = EngineContext.from_settings(Settings(database_url=server.database_url))
    try:
        with ctx.uow(write=False) as uow:
            return [
                dict(e.data) for e in uow.session.scalars(select(Event).where(Event.type == kind).order_by(Event.seq))
            ]
    finally:
        ctx.db.dispose()


def sign_in_at_provider(page: Page, server: LiveServer, login: str = "nina") -> None:
    page.goto(server.url + "/login")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.get_by_label("User name").fill(login)
    page.get_by_label("Password").fill("any password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url + "/tasks**")


def test_sign_in_provisions_and_the_next_sign_in_brings_the_providers_groups(sso, page: Page):
    server, issuer = sso
    assert who(server, "nina") is None
    sign_in_at_provider(page, server)
    assert page.get_by_role("link", name="Nina Ng").is_visible()
    assert who(server, "nina") == (["approver"], ["Finance"])  # created at the first sign-in
    # the provider moves nina to Security and makes her a designer; pmoflow learns it at the next sign-in
    httpx.post(f"{issuer}/_test/accounts/nina", json={"groups": ["security", "pmo-designers"]}).raise_for_status()
    assert who(server, "nina") == (["approver"], ["Finance"])
    page.get_by_role("button", name="Sign out").click()  # pmoflow's session ends, then the provider's
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(server.url + "/login**")  # back from the provider (with the state pmoflow sent)
    page.goto(server.url + "/tasks")
    assert page.url.startswith(server.url + "/login")
    sign_in_at_provider(page, server)  # the provider asks again: its session ended too
    assert who(server, "nina") == (["approver", "designer"], ["Security"])
    removed = audit_of(server, "group_member_removed")
    assert removed == [{"group": "Finance", "username": "nina", "source": "oidc", "claim": "groups"}]


def test_back_channel_logout_ends_the_pmoflow_session(sso, page: Page):
    server, issuer = sso
    sign_in_at_provider(page, server)
    page.goto(issuer + "/session/end")  # the user signs out at the provider, not at pmoflow
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_load_state()
    deadline = time.monotonic() + 20  # the provider posts its logout token to pmoflow as it signs out
    while not audit_of(server, "sessions_ended") and time.monotonic() < deadline:
        time.sleep(0.1)
    [ended] = audit_of(server, "sessions_ended")
    assert ended["reason"] == "backchannel_logout" and ended["username"] == "nina" and ended["count"] == 1
    page.goto(server.url + "/tasks")
    assert page.url.startswith(server.url + "/login")


def test_the_providers_access_tokens_reach_the_api(sso):
    server, issuer = sso

    def token(scope: str) -> str:
        answer = httpx.post(
            issuer + "/token",
            auth=(CLIENT_ID, CLIENT_SECRET),
            data={"grant_type": "client_credentials", "resource": API_AUDIENCE, "scope": scope},
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    listed = httpx.get(server.url + "/api/v1/tasks", headers={"Authorization": f"Bearer {token('tasks:read')}"})
    assert listed.status_code == 200
    narrow = httpx.get(server.url + "/api/v1/tasks", headers={"Authorization": f"Bearer {token('definitions:read')}"})
    assert narrow.status_code == 403 and narrow.json()["error"]["details"]["missing_scope"] == "tasks:read"
    assert httpx.get(server.url + "/api/v1/tasks", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
