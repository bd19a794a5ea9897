"""The one guarded client behind libraries that speak `requests`: Authlib's OAuth client (single sign-on's
token endpoint; discovery and keys are fetched by engine/sso/provider.py through `client.send` directly).

`guard(session, ...)` mounts an adapter on a requests session so that every request it makes goes through
`client.send`: the address policy, pinned addresses, no redirects, no proxies from the environment, our
timeouts and a size cap. A refused or failed request raises `Unreachable` (a `requests.ConnectionError`)
naming the host only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from engine.outbound import client, policy


class Unreachable(requests.ConnectionError):
    """A request the guarded client refused or could not make; the text names the host, never the path."""


class GuardedAdapter(BaseAdapter):
    """A requests transport adapter that sends through `client.send`."""

    def __init__(self, allow_private: bool, timeout: float, max_bytes: int = client.MAX_RESPONSE_BYTES) -> None:
        super().__init__()
        self.allow_private, self.timeout, self.max_bytes = allow_private, timeout, max_bytes

    def send(  # noqa: PLR0913 - requests' adapter interface
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send `request` (its own timeout and proxies are ignored: ours apply); raises Unreachable."""
        url = request.url or ""
        body = request.body.encode() if isinstance(request.body, str) else request.body
        host = urlsplit(url).hostname
        try:
            answer = client.send(
                request.method or "GET",
                url,
                allow_private=self.allow_private,
                timeout=self.timeout,
                headers=dict(request.headers),
                body=body if isinstance(body, bytes) else None,
                max_bytes=self.max_bytes,
            )
        except (ValueError, policy.AddressRefused, client.TransportError) as err:
            raise Unreachable(f"{host}: {err}", request=request) from None
        if answer.truncated:
            raise Unreachable(f"{host}: the answer is larger than {self.max_bytes} bytes", request=request)
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.body  # noqa: SLF001 - how an adapter hands requests the body it read
        response.encoding = get_encoding_from_headers(response.headers)
        response.url = url
        response.request = request
        response.reason = ""
        return response

    def close(self) -> None:
        """Nothing to close: the connections belong to `client`'s pools."""


def _no_redirects(*_args: Any, **_kwargs: Any) -> Iterator[requests.Response]:
    return iter(())


def guard(session: requests.Session, allow_private: bool, timeout: float) -> None:
    """Send every request of `session` through the guarded client; proxies from the environment are ignored
    and no redirect is followed (a 3xx is the caller's answer, as with `client.send`)."""
    adapter = GuardedAdapter(allow_private, timeout)
    session.trust_env = False
    setattr(session, "resolve_redirects", _no_redirects)  # noqa: B010 - an instance's own, not the class's
    session.mount("https://", adapter)
    session.mount("http://", adapter)
