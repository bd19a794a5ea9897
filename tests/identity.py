"""OpenID providers for the single sign-on tests.

- `KeyProvider`: a small provider served from this process on a loopback port (discovery, keys, a token
  endpoint answering what the test queued), signing with keys the test generates: so a tampered ID token,
  a wrong nonce, an expired token or a wrong issuer reach pmoflow's real callback, through Authlib and the
  guarded client, exactly as a provider's answer would.
- `node_provider`: the real thing, panva's oidc-provider (OpenID certified) under Node.js, from
  tests/oidc/ (installed with `npm ci --ignore-scripts` from its package-lock.json on first use; .ci/run does
  it too). Tests that need it are skipped, saying why, when Node.js is not installed.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from engine.admin import users
from engine.core.clock import FixedClock
from tests.factories import deploy_shipped
from tests.servers import free_port
from webui.app import create_app

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "pmoflow-test"
CLIENT_SECRET = "pmoflow-test-secret"  # noqa: S105 - the test provider's client secret
API_AUDIENCE = "api://pmoflow"


class KeyProvider:
    """An OpenID provider in this process: `issuer`, signing keys, and a token endpoint that answers the
    next queued answer (`queue`). `sign` makes JWTs with its key (or another key, to tamper)."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.answers: list[dict[str, Any]] = []
        self.token_requests: list[dict[str, list[str]]] = []
        self.key_fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, body: dict[str, Any], status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/.well-known/openid-configuration":
                    self._json(provider.metadata())
                elif self.path == "/jwks":
                    provider.key_fetches += 1
                    self._json({"keys": [provider.key.as_dict(private=False)]})
                else:
                    self._json({"error": "not_found"}, 404)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                provider.token_requests.append(parse_qs(self.rfile.read(length).decode()))
                if self.path != "/token" or not provider.answers:
                    self._json({"error": "invalid_grant"}, 400)
                else:
                    self._json(provider.answers.pop(0))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/auth",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "end_session_endpoint": self.issuer + "/session/end",
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None, header: dict[str, Any] | None = None) -> str:
        key = key or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid, **(header or {})}, claims, key)

    def id_token(self, nonce: str, sub: str = "u-1", **claims: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {"iss": self.issuer, "aud": CLIENT_ID, "sub": sub, "iat": now, "exp": now + 300, "nonce": nonce}
        return {**base, **claims}

    def settings(self, **more: Any) -> dict[str, Any]:
        """App settings for single sign-on with this provider."""
        return {
            "oidc_issuer": self.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "oidc_name": "Test IdP",
            "oidc_allow_private": True,
            "oidc_api_audience": API_AUDIENCE,
            **more,
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class GroupsSource:
    """A claims source as Microsoft Graph answers one (group overage): GET /groups gives `pages[0]` with an
    `@odata.nextLink` to /groups?page=1, and so on. /fail answers 500, /text no JSON, /loop a next link to
    itself, /away a next link to another host, /broken one that is no URL. Every request's path and Authorization header are kept."""

    def __init__(self) -> None:
        self.pages: list[list[Any]] = []
        self.requests: list[tuple[str, str]] = []
        source = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                source.requests.append((self.path, self.headers.get("Authorization", "")))
                path, query = urlsplit(self.path).path, parse_qs(urlsplit(self.path).query)
                if path == "/fail":
                    self._send(500, b'{"error": "boom"}')
                elif path == "/text":
                    self._send(200, b"eyJhbGciOiJSUzI1NiJ9.e30.c2ln")  # a JWT, as OpenID's distributed claims
                elif path in ("/loop", "/away", "/broken"):
                    more = {"/loop": source.url + "/loop", "/away": "http://127.0.0.2:9/groups"}.get(
                        path, "http://[::1"
                    )
                    self._send(200, json.dumps({"value": ["g"], "@odata.nextLink": more}).encode())
                else:
                    page = int(query.get("page", ["0"])[0])
                    body: dict[str, Any] = {"value": source.pages[page] if page < len(source.pages) else []}
                    if page + 1 < len(source.pages):
                        body["@odata.nextLink"] = f"{source.url}/groups?page={page + 1}"
                    self._send(200, json.dumps(body).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def overage(self, path: str = "/groups", claim: str = "groups") -> dict[str, Any]:
        """The ID token claims of a group overage whose source is `path` here."""
        return {"_claim_names": {claim: "src1"}, "_claim_sources": {"src1": {"endpoint": self.url + path}}}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def groups_source() -> Iterator[GroupsSource]:
    """A claims source answering as Microsoft Graph does, closed when the test ends."""
    source = GroupsSource()
    yield source
    source.close()


def make_app(database_url: str, idp: KeyProvider | None, **settings: Any) -> Flask:
    config = {"database_url": database_url, "secret_key": "sso-test", "TESTING": True}
    config |= idp.settings(**settings) if idp is not None else settings
    app = create_app(config, clock=FixedClock(datetime.now(UTC).replace(microsecond=0)))
    deploy_shipped(app.extensions["pmoflow"])
    users.ensure_demo_users(app.extensions["pmoflow"])
    return app


@pytest.fixture
def sso_app(database_url: str, idp: KeyProvider) -> Iterator[Callable[..., Flask]]:
    """Makes apps on the test's database: `sso_app(**settings)` with single sign-on at `idp`,
    `sso_app(None, **settings)` without; each is closed when the test ends."""
    made: list[Flask] = []

    def make(provider: KeyProvider | None = idp, **settings: Any) -> Flask:
        made.append(make_app(database_url, provider, **settings))
        return made[-1]

    yield make
    for app in made:
        app.extensions["pmoflow"].db.dispose()


@pytest.fixture
def idp() -> Iterator[KeyProvider]:
    """An OpenID provider in this process, closed when the test ends."""
    provider = KeyProvider()
    yield provider
    provider.close()


def authorize_params(location: str) -> dict[str, str]:
    """The query of the authorization request pmoflow redirected to (state, nonce, code_challenge, ...)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def start(client: FlaskClient) -> dict[str, str]:
    """/login/sso: the redirect to the provider's authorization endpoint, and its parameters."""
    response = client.get("/login/sso?next=/requests")
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    return authorize_params(response.headers["Location"])


def sso_sign_in(client: FlaskClient, idp: KeyProvider, claims: dict[str, Any], tamper=None):  # type: ignore[no-untyped-def]
    """The whole round trip: start, the provider's answer (an ID token for `claims`), the callback."""
    params = start(client)
    token_claims = idp.id_token(params["nonce"], **claims)
    id_token = tamper(token_claims) if tamper else idp.sign(token_claims)
    idp.answers.append({"access_token": "at-" + uuid.uuid4().hex, "token_type": "Bearer", "id_token": id_token})
    return client.get(f"/login/sso/callback?code=c-{uuid.uuid4().hex}&state={params['state']}")


def install_node_modules() -> None:
    """`npm ci --ignore-scripts` in tests/oidc unless done (one process at a time, under a file lock);
    skips the test when Node.js or npm is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js is not installed: the OpenID provider of these tests (oidc-provider) runs on it")
    with (OIDC_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (OIDC_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
            subprocess.run(  # noqa: S603 - fixed arguments
                ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],  # noqa: S607 - npm from PATH
                cwd=OIDC_DIR,
                check=True,
                capture_output=True,
                timeout=300,
            )


@contextmanager
def node_provider(pmoflow_url: str, accounts: dict[str, dict[str, Any]], log_path: Path) -> Iterator[str]:
    """panva's oidc-provider on a free loopback port, its one client registered for `pmoflow_url`; yields
    the issuer. Accounts sign in with any password; `set_groups` changes one's groups at the provider."""
    install_node_modules()
    client = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [pmoflow_url + "/login/sso/callback"],
        "post_logout_redirect_uris": [pmoflow_url + "/login"],
        "backchannel_logout_uri": pmoflow_url + "/logout/backchannel",
    }
    port = free_port()
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_CLIENT": json.dumps(client),
        "OIDC_ACCOUNTS": json.dumps(accounts),
        "OIDC_API_AUDIENCE": API_AUDIENCE,
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(["node", "provider.js"], cwd=OIDC_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603, S607
        try:
            deadline = time.monotonic() + 30
            while "listening on" not in log_path.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("oidc-provider did not start: " + log_path.read_text())
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
