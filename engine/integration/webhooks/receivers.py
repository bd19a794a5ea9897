"""Which receiver URLs webhooks may POST to: checked when a subscription is saved and again
(resolved) before each attempt. https only (plain http only to loopback, when private addresses
are allowed), no credentials in the URL, and every address the host resolves to must pass the
one address policy of engine/outbound/policy.py (`webhooks_allow_private` allows private ones)."""

from __future__ import annotations

from urllib.parse import urlsplit

from engine.core.errors import InvalidInput
from engine.outbound import policy

MAX_URL = 2000
WHY = {
    policy.NEVER: f"{policy.NEVER}; webhooks are never sent there",
    policy.PRIVATE: (
        f"{policy.PRIVATE}; webhooks go to public addresses only (an administrator may allow "
        "private ones with PMOFLOW_WEBHOOKS_ALLOW_PRIVATE=1)"
    ),
}


def check_url(url: str, allow_private: bool, resolve: bool = True) -> str:
    """The URL, stripped, if webhooks may POST to it; raises InvalidInput naming the problem (field 'url')."""
    return checked(url, allow_private, resolve)[0]


def checked(url: str, allow_private: bool, resolve: bool = True) -> tuple[str, list[policy.Address]]:
    """The URL, stripped, and the addresses it resolved to (each checked); raises InvalidInput (field 'url')."""
    url = (url or "").strip()

    def refuse(message: str) -> InvalidInput:
        return InvalidInput(f"url: {message}", {"fields": {"url": message}})

    if not url:
        raise refuse("Enter the receiver's URL.")
    if len(url) > MAX_URL:
        raise refuse(f"Use at most {MAX_URL} characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise refuse("Use an absolute https:// URL.")
    if parts.username or parts.password:
        raise refuse("Put no user name or password in the URL; the signature authenticates pmoflow.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as err:
        raise refuse(f"The port is not valid: {err}.") from err
    addresses = policy.resolve(parts.hostname, port) if resolve else policy.literal(parts.hostname)
    if resolve and not addresses:
        raise refuse(f"The host {parts.hostname} does not resolve.")
    try:
        policy.check(parts.hostname, addresses, allow_private)
    except policy.AddressRefused as err:
        raise refuse(f"{err.host} is {err.address}: {WHY[err.reason]}.") from None
    if parts.scheme == "http":
        if not (allow_private and addresses and all(policy.carried(a).is_loopback for a in addresses)):
            raise refuse("Use https:// (plain http is allowed only to loopback, when private addresses are allowed).")
    return url, addresses
