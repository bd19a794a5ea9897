"""Group overage: an ID token that names a claim's source instead of carrying the claim (OpenID Connect Core
1.0, section 5.6.2, distributed claims), as Microsoft Entra ID does for a user in more groups than fit in a
token: no `groups` claim, but `_claim_names: {"groups": "src1"}` and `_claim_sources: {"src1": {"endpoint":
...}}`, or only `hasgroups: true`.

Such a token says nothing about the user's groups, so it must never be read as "no groups". `detect` finds
the marker; `fetch` asks the named endpoint with the user's access token (or the source's own
`access_token`), through engine/outbound (the address policy, https, no redirects, a timeout, a size cap),
page by page along `@odata.nextLink` on the same host, at most MAX_PAGES pages and MAX_VALUES values. An
answer is Microsoft Graph's shape (`value`: ids, or objects with an `id`) or a JSON object carrying the
claim itself. Entra ID still names the retired Azure AD Graph (graph.windows.net), which a sign-in's access
token cannot call: that endpoint is asked of Microsoft Graph instead (`/me/transitiveMemberOf`, the same
group ids the claim would carry). When the values can't be had, `fetch` raises Unresolved naming why, and
the caller keeps what the user has (engine/sso/provisioning.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from engine.sso.provider import ProviderConfig, ProviderUnavailable, checked_url, fetch_json

LEGACY_GRAPH = "graph.windows.net"  # Azure AD Graph, retired; Entra ID still names it in `_claim_sources`
GRAPH_GROUPS = "https://graph.microsoft.com/v1.0/me/transitiveMemberOf?$select=id"
MAX_PAGES = 50
MAX_VALUES = 5_000
MAX_PAGE_BYTES = 1024 * 1024


class Unresolved(Exception):
    """The claim's values could not be had; `reason` says why (names a host at most, never a path or token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Overage:
    """A claim the token names a source for instead of carrying it."""

    claim: str
    endpoint: str | None  # where the values are; None: the token only says there are some (`hasgroups`)
    access_token: str | None  # the source's own token, if it names one


def detect(claims: dict[str, Any], claim: str) -> Overage | None:
    """The overage marker for `claim`, or None when the token carries the claim or says nothing of it."""
    if claim in claims:
        return None
    names, sources = claims.get("_claim_names"), claims.get("_claim_sources")
    if isinstance(names, dict) and claim in names:
        source = sources.get(names[claim]) if isinstance(sources, dict) and isinstance(names[claim], str) else None
        source = source if isinstance(source, dict) else {}
        endpoint, token = source.get("endpoint"), source.get("access_token")
        return Overage(
            claim, endpoint if isinstance(endpoint, str) else None, token if isinstance(token, str) else None
        )
    if claim == "groups" and claims.get("hasgroups") in (True, "true"):
        return Overage(claim, None, None)
    return None


def fetch(config: ProviderConfig, overage: Overage, access_token: str | None) -> tuple[list[str], str]:
    """The claim's values from its source, and the host they came from; raises Unresolved."""
    if overage.endpoint is None:
        raise Unresolved("the token names no endpoint to fetch the claim from")
    token = overage.access_token or access_token
    if not token:
        raise Unresolved("the sign-in gave no access token to fetch the claim with")
    try:
        url = GRAPH_GROUPS if _host(overage.endpoint) == LEGACY_GRAPH else overage.endpoint
        host = _host(checked_url(url, config.allow_private))
    except ProviderUnavailable as err:
        raise Unresolved(f"the claim's endpoint may not be fetched: {err.message}") from None
    except ValueError:  # not a URL at all (e.g. "https://[::1")
        raise Unresolved("the claim's endpoint is not a URL") from None
    values: list[str] = []
    for _ in range(MAX_PAGES):
        page = _page(config, url, token)
        values += _values(page, overage.claim, host)
        if len(values) > MAX_VALUES:
            raise Unresolved(f"{host} gave more than {MAX_VALUES} values")
        next_link = page.get("@odata.nextLink")
        if next_link is None:
            return values, host
        if not isinstance(next_link, str) or _same_host(next_link) != host:
            raise Unresolved(f"{host} gave a next page on another host or no URL")
        url = next_link
    raise Unresolved(f"{host} gave more than {MAX_PAGES} pages")


def _host(url: str) -> str:
    """The URL's host in lower case; raises ValueError for what is no URL."""
    return (urlsplit(url).hostname or "").lower()


def _same_host(url: str) -> str | None:
    try:
        return _host(url)
    except ValueError:
        return None


def _page(config: ProviderConfig, url: str, token: str) -> dict[str, Any]:
    try:
        return fetch_json(config, url, who="the claims source", token=token, max_bytes=MAX_PAGE_BYTES)
    except ProviderUnavailable as err:
        raise Unresolved(err.message) from None


def _values(page: dict[str, Any], claim: str, host: str) -> list[str]:
    """A page's values: Graph's `value` (ids, or objects with an `id`), else the claim itself."""
    items = page.get("value", page.get(claim))
    if not isinstance(items, list):
        raise Unresolved(f"{host} answered neither 'value' nor {claim!r} as a list")
    values = [item.get("id") if isinstance(item, dict) else item for item in items]
    if not all(isinstance(v, str) for v in values):
        raise Unresolved(f"{host} answered values that are not strings")
    return [str(v) for v in values]
