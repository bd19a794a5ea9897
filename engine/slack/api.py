"""Slack's Web API, called through the one outbound client (engine.outbound.client) with the bot token.

slack_sdk's WebClient takes a base_url, but sends with urllib: it reads proxies from the environment,
follows redirects and knows nothing of the address policy. So calls go through `client.send` (resolved
once, checked, pinned, timeouts, capped answers) to `Settings.slack_api_url`, which tests point at a
local receiver; `chat_webhook_allow_private` / `chat_webhook_allow_http` allow a loopback http one.
Error texts name the method and Slack's error code, never the token.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from engine.core.config import Settings
from engine.outbound import client, policy

ANSWER_BYTES = 512 * 1024
RETRY_AFTER_LIMIT = timedelta(hours=1)
# Read methods take form fields (Slack accepts JSON bodies only for its write methods).
FORM_METHODS = frozenset({"users.info", "users.lookupByEmail"})


class SlackError(Exception):
    """Slack refused the call (`ok: false`, a 4xx): retrying will not mend it. `code` is Slack's error."""

    def __init__(self, method: str, code: str) -> None:
        super().__init__(f"Slack's {method} failed: {code}")
        self.code = code


class SlackUnavailable(Exception):
    """No usable answer (the connection failed, a 5xx, a 429): try again later, after `retry_after` if given."""

    def __init__(self, message: str, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def call(settings: Settings, method: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Call one Web API method; raises SlackError (refused, permanent), SlackUnavailable (retry)."""
    url = settings.slack_api_url.rstrip("/") + "/" + method
    schemes = ("https", "http") if settings.chat_webhook_allow_http else ("https",)
    if urlsplit(url).scheme not in schemes:
        raise SlackError(method, "the Slack API URL must start with https://")
    if method in FORM_METHODS:
        body = urlencode({k: str(v) for k, v in payload.items()}).encode()
        content_type = "application/x-www-form-urlencoded"
    else:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        content_type = "application/json; charset=utf-8"
    try:
        response = client.send(
            "POST",
            url,
            allow_private=settings.chat_webhook_allow_private,
            timeout=settings.chat_timeout,
            max_bytes=ANSWER_BYTES,
            body=body,
            headers={
                "Content-Type": content_type,
                "Authorization": f"Bearer {settings.slack_bot_token}",
                "User-Agent": "pmoflow",
            },
        )
    except policy.AddressRefused as err:
        raise SlackError(method, f"the Slack API's host is refused: {err}") from None
    except (client.TransportError, ValueError) as err:
        raise SlackUnavailable(f"calling Slack's {method} failed: {type(err).__name__}") from None
    if response.status == 429:
        raise SlackUnavailable(f"Slack rate-limits {method} (429)", response.retry_after(RETRY_AFTER_LIMIT))
    if response.status >= 500:
        raise SlackUnavailable(f"Slack's {method} failed ({response.status})")
    if response.status != 200:
        raise SlackError(method, f"HTTP {response.status}")
    try:
        answer = json.loads(response.body)
    except ValueError:
        raise SlackUnavailable(f"Slack's {method} answered no JSON") from None
    if not isinstance(answer, dict):
        raise SlackUnavailable(f"Slack's {method} answered no JSON object")
    if not answer.get("ok"):
        raise SlackError(method, str(answer.get("error") or "not ok")[:100])
    return answer
