"""What the SCIM services share: the page of a list, paging bounds, the client's attribution, ETag checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.core.permissions import Actor, require
from engine.scim.errors import ScimError

MAX_COUNT = 200  # resources per page (ServiceProviderConfig's filter.maxResults)


@dataclass(frozen=True)
class Page:
    """One page of a list: RFC 7644's totalResults, startIndex (1-based) and the documents."""

    total: int
    start_index: int
    resources: list[dict[str, Any]]


def paging(start_index: int | None, count: int | None) -> tuple[int, int]:
    """startIndex (below 1 is 1) and count (0 to MAX_COUNT, default MAX_COUNT), as RFC 7644 §3.4.2.4 reads them."""
    return max(1, start_index or 1), MAX_COUNT if count is None else min(max(0, count), MAX_COUNT)


def client(actor: Actor) -> dict[str, Any]:
    """What every SCIM change's event carries besides its own data: the channel and the provisioning client
    (the token's user; the event itself names the token)."""
    require(actor, "scim.provision")
    return {"via": "scim", "scim_client": actor.username}


def check_version(current: str, if_match: str | None) -> None:
    """Refuse a change whose If-Match names another version (412); `*` or no header passes."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip() for tag in if_match.split(",")}
    if current not in wanted and current.removeprefix("W/") not in {t.removeprefix("W/") for t in wanted}:
        raise ScimError(412, f"the resource is at version {current}, not {if_match}")
