"""Signing in with the OpenID provider through Authlib's Flask client: authorization code with PKCE (S256),
`state` and `nonce` kept in the signed session cookie until the provider sends the browser back, the ID
token's signature checked against the provider's keys, its issuer, audience, times and nonce by Authlib.

Authlib's HTTP goes where all of pmoflow's does: the discovery document and the keys come from
engine/sso/provider.py (engine/outbound's guarded client, cached on the engine context), and the token
endpoint is called through a requests session whose transport is that same client
(engine/outbound/transport.py): the address policy, no redirects, no proxies, timeouts, a size cap."""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import urlsplit

from authlib.integrations.flask_client import FlaskOAuth2App, OAuth, OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask, current_app
from flask.typing import ResponseReturnValue
from joserfc.errors import JoseError

from engine.core.config import Settings
from engine.core.errors import Unauthenticated
from engine.outbound.transport import Unreachable, guard
from engine.sso import provider
from engine.sso.jwts import ALGORITHMS, LEEWAY_SECONDS
from engine.sso.mapping import ClaimMaps

NAME = "provider"  # the one client registered with Authlib
STATE_PREFIX = f"_state_{NAME}_"  # where Authlib keeps a sign-in's state, nonce and PKCE verifier in the session
CALLBACK = "/login/sso/callback"  # register <base URL>/login/sso/callback at the provider


class Answer(NamedTuple):
    """A sign-in's result at the callback: the issuer, the verified ID token's claims, the ID token, and the
    access token (None if the provider sent none: it fetches a claim the ID token only names a source for)."""

    issuer: str
    claims: dict[str, Any]
    id_token: str
    access_token: str | None


class GuardedSession(OAuth2Session):
    """Authlib's requests session, sending through engine/outbound (transport.guard)."""

    def __init__(self, *args: Any, allow_private: bool = False, timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        guard(self, allow_private, timeout)


class ProviderApp(FlaskOAuth2App):
    """Authlib's Flask client with the provider's metadata and keys from engine/sso/provider.py."""

    client_cls = GuardedSession

    def load_server_metadata(self) -> dict[str, Any]:
        """The discovery document; only asymmetric algorithms are offered to the ID token's check."""
        found = dict(provider.metadata(current_app.extensions["pmoflow"], _config()))
        offered = found.get("id_token_signing_alg_values_supported") or ["RS256"]
        found["id_token_signing_alg_values_supported"] = [a for a in offered if a in ALGORITHMS]
        return found

    def fetch_jwk_set(self, force: bool = False) -> dict[str, Any]:
        """The provider's keys (fetched again when a token names an unknown key id)."""
        return provider.key_set(current_app.extensions["pmoflow"], _config(), refresh=force)


class Registry(OAuth):
    oauth2_client_cls = ProviderApp


def _config() -> provider.ProviderConfig:
    config = provider.ProviderConfig.of(current_app.extensions["pmoflow"].settings)
    assert config is not None  # the client is registered only when single sign-on is configured
    return config


def init_app(app: Flask, settings: Settings) -> None:
    """Register the provider's client when PMOFLOW_OIDC_ISSUER and PMOFLOW_OIDC_CLIENT_ID are set; raises
    ValueError for a malformed setting (a map, an unknown role or scope, PMOFLOW_LOCAL_LOGIN), so a server
    with a wrong configuration does not start rather than fail at someone's sign-in."""
    if settings.local_login not in ("on", "admins", "off"):
        raise ValueError(f"PMOFLOW_LOCAL_LOGIN must be on, admins or off, not {settings.local_login!r}")
    config = provider.ProviderConfig.of(settings)
    if config is None:
        return
    ClaimMaps.of(settings)
    registry = Registry(app)
    registry.register(
        NAME,
        client_id=config.client_id,
        client_secret=config.client_secret or None,
        client_kwargs={
            "scope": settings.oidc_scopes,
            "code_challenge_method": "S256",
            "allow_private": config.allow_private,
            "timeout": config.timeout,
        },
    )


def form_targets(settings: Settings) -> list[str]:
    """Where a form's answer may redirect besides pmoflow: the provider's origin (its logout), if configured."""
    config = provider.ProviderConfig.of(settings)
    if config is None:
        return []
    parts = urlsplit(config.issuer)
    return [f"{parts.scheme}://{parts.netloc}"]


def enabled() -> bool:
    return "authlib.integrations.flask_client" in current_app.extensions


def client() -> ProviderApp:
    found: ProviderApp = current_app.extensions["authlib.integrations.flask_client"].create_client(NAME)
    return found


def redirect_uri() -> str:
    """Where the provider sends the browser back: from PMOFLOW_BASE_URL, as registered at the provider."""
    return str(current_app.extensions["pmoflow"].settings.base_url).rstrip("/") + CALLBACK


def start() -> ResponseReturnValue:
    """Send the browser to the provider's authorization endpoint (state, nonce, PKCE kept in the session);
    raises ProviderUnavailable."""
    response: ResponseReturnValue = client().authorize_redirect(redirect_uri())
    return response


def finish() -> Answer:
    """The provider's answer at the callback: the issuer, the verified ID token's claims, the ID token and the
    access token.

    Raises Unauthenticated (an error from the provider, a missing or wrong `state`, a token that fails its
    checks: signature, issuer, audience, expiry, nonce), ProviderUnavailable (the token endpoint failed)."""
    app = client()
    try:
        token = app.authorize_access_token(leeway=LEEWAY_SECONDS)  # the skew allowed for every token
    except OAuthError as err:
        raise Unauthenticated(f"the provider refused the sign-in: {err.error}: {err.description or ''}") from None
    except (JoseError, ValueError) as err:
        raise Unauthenticated(f"the provider's ID token was refused: {err}") from None
    except Unreachable as err:
        raise provider.ProviderUnavailable(f"the provider's token endpoint failed: {err}") from None
    return verified(app, token)


def verified(app: ProviderApp, token: dict[str, Any]) -> Answer:
    """The issuer, claims, ID token and access token of a token answer whose ID token Authlib verified; raises
    Unauthenticated."""
    claims = token.get("userinfo")
    if not isinstance(token.get("id_token"), str) or claims is None:
        raise Unauthenticated("the provider sent no ID token")
    access = token.get("access_token")
    issuer = str(app.load_server_metadata()["issuer"])
    return Answer(issuer, dict(claims), str(token["id_token"]), access if isinstance(access, str) else None)


def verify_id_token(token: dict[str, Any], nonce: str) -> Answer:
    """Check a token answer's ID token exactly as the callback does (Authlib's parse_id_token with the nonce
    kept for this sign-in); raises Unauthenticated."""
    app = client()
    try:
        token = {**token, "userinfo": app.parse_id_token(token, nonce=nonce, leeway=LEEWAY_SECONDS)}
    except OAuthError as err:
        raise Unauthenticated(f"the provider's ID token was refused: {err.error}: {err.description or ''}") from None
    except (JoseError, ValueError) as err:
        raise Unauthenticated(f"the provider's ID token was refused: {err}") from None
    return verified(app, token)


def logout_url(id_token: str) -> str | None:
    """The provider's end-session URL for RP-initiated logout, coming back to the sign-in page; None when
    the provider advertises no end_session_endpoint."""
    app = client()
    if not app.load_server_metadata().get("end_session_endpoint"):
        return None
    back = current_app.extensions["pmoflow"].settings.base_url.rstrip("/") + "/login"
    url: str = app.create_logout_url(
        post_logout_redirect_uri=back, id_token_hint=id_token, client_id=_config().client_id
    )["url"]
    return url
