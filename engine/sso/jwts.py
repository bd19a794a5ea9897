"""Checking a JWT the OpenID provider signed: its signature against the provider's keys (fetched again once
when the token names a key id not yet seen, as after a key rotation), issuer, audience and times.

Only the asymmetric algorithms are accepted: "none" and HMAC (a shared secret) never are, so a token cannot
be forged with the client secret or the public key."""

from __future__ import annotations

from typing import Any, cast

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from engine.core.context import EngineContext
from engine.core.errors import Unauthenticated
from engine.sso.provider import ProviderConfig, key_set, metadata

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MAX_TOKEN_CHARS = 16_384
LEEWAY_SECONDS = 60  # clock skew allowed between the provider and pmoflow


def verified_claims(
    ctx: EngineContext,
    config: ProviderConfig,
    token: str,
    audience: str,
    essential: tuple[str, ...] = ("exp",),
) -> dict[str, Any]:
    """The claims of `token` once its signature, issuer (the discovery document's), audience (`aud` holds
    `audience`), `exp`/`nbf`/`iat` (with a minute's leeway, by the engine's clock) and the `essential` claims
    are checked; raises Unauthenticated naming what failed, ProviderUnavailable when the keys can't be had."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise Unauthenticated("not a signed JWT")
    try:
        try:
            keys = KeySet.import_key_set(cast(Any, key_set(ctx, config)))
            decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
        except InvalidKeyIdError:
            keys = KeySet.import_key_set(cast(Any, key_set(ctx, config, refresh=True)))
            decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
        options: dict[str, Any] = {name: {"essential": True} for name in essential}
        options["iss"] = {"essential": True, "value": metadata(ctx, config)["issuer"]}
        options["aud"] = {"essential": True, "value": audience}
        registry = jwt.JWTClaimsRegistry(now=int(ctx.clock.now().timestamp()), leeway=LEEWAY_SECONDS, **options)
        registry.validate(decoded.claims)
    except JoseError as err:
        raise Unauthenticated(f"the provider's token was refused: {err}") from None
    except (ValueError, TypeError):  # malformed base64 or JSON inside the token
        raise Unauthenticated("the provider's token was refused: malformed") from None
    return dict(decoded.claims)


def values_of(claims: dict[str, Any], name: str) -> list[str] | None:
    """A claim as a list of strings: a list as it is, a string split on spaces (OAuth's `scope`); None if
    absent; raises Unauthenticated for any other shape."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise Unauthenticated(f"the claim {name!r} is neither a string nor a list of strings")
