"""The OpenID provider as pmoflow sees it: its discovery document and signing keys, fetched through
engine/outbound (the one guarded client) and kept for `oidc_cache_seconds` on the engine context.

The issuer is configured by an admin (PMOFLOW_OIDC_ISSUER), yet every fetch still goes through the
address policy: https only and no private, loopback or link-local address unless `oidc_allow_private`
(local testing), never a cloud metadata address, no redirects, a timeout and a size cap. The discovery
document must name the configured issuer exactly (OpenID Connect Discovery 1.0, section 4.3), and every
endpoint it names must pass the same rules before it is used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.core.errors import PmoflowError
from engine.outbound import client, policy

DISCOVERY = "/.well-known/openid-configuration"
MAX_DOCUMENT_BYTES = 512 * 1024
REFRESH_AFTER = timedelta(seconds=60)  # the keys are fetched again for an unknown key id at most this often
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "end_session_endpoint")


class ProviderUnavailable(PmoflowError):
    """The OpenID provider could not be asked (unreachable, refused by the address policy, a bad answer)."""

    code = "provider_unavailable"


@dataclass(frozen=True)
class ProviderConfig:
    """What the sign-in needs from settings: on when an issuer, a client id and a secret are set."""

    issuer: str
    client_id: str
    client_secret: str
    allow_private: bool
    timeout: float

    @classmethod
    def of(cls, settings: Settings) -> ProviderConfig | None:
        """The provider's settings, or None when single sign-on is off."""
        if not (settings.oidc_issuer and settings.oidc_client_id):
            return None
        return cls(
            settings.oidc_issuer.rstrip("/"),
            settings.oidc_client_id,
            settings.oidc_client_secret,
            settings.oidc_allow_private,
            settings.oidc_timeout,
        )


def checked_url(url: str, allow_private: bool) -> str:
    """`url` if pmoflow may fetch it: https (http only with `allow_private`); raises ProviderUnavailable."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise ProviderUnavailable(f"the provider's address must use https: {parts.scheme}://{parts.hostname}")
    if not parts.hostname or parts.username or parts.password:
        raise ProviderUnavailable("the provider's address has no host or carries credentials")
    return url


def fetch_json(
    config: ProviderConfig,
    url: str,
    *,
    who: str = "the OpenID provider",
    token: str | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> dict[str, Any]:
    """GET a JSON object from the provider (`who`, in errors), with `token` as a bearer token if given; raises
    ProviderUnavailable (naming the host, never the path or the token)."""
    host = urlsplit(checked_url(url, config.allow_private)).hostname
    headers = {"Accept": "application/json", "User-Agent": "pmoflow"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        answer = client.send(
            "GET", url, allow_private=config.allow_private, timeout=config.timeout, headers=headers, max_bytes=max_bytes
        )
    except (ValueError, policy.AddressRefused, client.TransportError) as err:
        raise ProviderUnavailable(f"{who} at {host} could not be reached: {err}") from None
    if answer.status != 200:
        raise ProviderUnavailable(f"{who} at {host} answered {answer.status}")
    if answer.truncated:
        raise ProviderUnavailable(f"{who} at {host} answered more than {max_bytes} bytes")
    try:
        found = json.loads(answer.body)
    except ValueError:
        raise ProviderUnavailable(f"{who} at {host} answered no JSON") from None
    if not isinstance(found, dict):
        raise ProviderUnavailable(f"{who} at {host} answered no JSON object")
    return found


def metadata(ctx: EngineContext, config: ProviderConfig) -> dict[str, Any]:
    """The provider's discovery document (cached); raises ProviderUnavailable, also when it names another
    issuer or an endpoint pmoflow may not fetch."""
    now = ctx.clock.now()
    cached: dict[str, Any] | None = ctx.oidc.get(("metadata", config.issuer), now)
    if cached is not None:
        return cached
    found = fetch_json(config, config.issuer + DISCOVERY)
    if found.get("issuer", "").rstrip("/") != config.issuer:
        raise ProviderUnavailable(f"the discovery document names another issuer: {found.get('issuer')!r}")
    for name in ENDPOINTS:
        if name in found:
            if not isinstance(found[name], str):
                raise ProviderUnavailable(f"the discovery document's {name} is not a URL")
            checked_url(found[name], config.allow_private)
    if "jwks_uri" not in found or "authorization_endpoint" not in found or "token_endpoint" not in found:
        raise ProviderUnavailable("the discovery document lacks jwks_uri, authorization or token endpoint")
    ctx.oidc.put(("metadata", config.issuer), found, now)
    return found


def key_set(ctx: EngineContext, config: ProviderConfig, refresh: bool = False) -> dict[str, Any]:
    """The provider's signing keys as a JWK set (cached; `refresh` fetches them again, as after a key
    rotation when a token names an unknown key id, at most once every REFRESH_AFTER so that tokens with
    made-up key ids cannot make pmoflow hammer the provider); raises ProviderUnavailable."""
    now = ctx.clock.now()
    cached: tuple[datetime, dict[str, Any]] | None = ctx.oidc.get(("jwks", config.issuer), now)
    if cached is not None and (not refresh or now - cached[0] < REFRESH_AFTER):
        return cached[1]
    found = fetch_json(config, metadata(ctx, config)["jwks_uri"])
    if not isinstance(found.get("keys"), list):
        raise ProviderUnavailable("the provider's key set has no keys")
    ctx.oidc.put(("jwks", config.issuer), (now, found), now)
    return found
