"""Is a request really from Slack? Its `X-Slack-Signature` must be `v0=` + HMAC-SHA256 of
`v0:<timestamp>:<body>` under the app's signing secret, and its `X-Slack-Request-Timestamp` within five
minutes of our clock (older ones are refused as replays). slack_sdk's SignatureVerifier does both, on our
injected clock; this module turns its answer into domain errors and reads the form body.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from slack_sdk.signature import Clock as SlackClock
from slack_sdk.signature import SignatureVerifier

from engine.core.clock import Clock
from engine.core.config import Settings
from engine.core.errors import InvalidInput, NotFound, Unauthenticated

MAX_AGE_SECONDS = 5 * 60  # what SignatureVerifier allows either way
MAX_FIELDS = 100
IDENTIFIER = re.compile(r"[A-Z0-9]{1,32}")  # Slack's user, team and channel ids


class _OurClock(SlackClock):
    """slack_sdk's clock interface on pmoflow's injected clock (so tests can age a request)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock.now().timestamp()


def verified_form(
    settings: Settings, clock: Clock, body: bytes, timestamp: str | None, signature: str | None
) -> dict[str, str]:
    """The form fields of a request Slack signed; raises NotFound (no Slack app configured),
    Unauthenticated (no or bad signature, a timestamp more than five minutes off), InvalidInput."""
    if not settings.slack_signing_secret:
        raise NotFound("no Slack app is configured (PMOFLOW_SLACK_SIGNING_SECRET)")
    if not timestamp or not signature or not timestamp.isdigit() or len(timestamp) > 12:
        raise Unauthenticated("the request carries no Slack signature and timestamp")
    if abs(clock.now().timestamp() - int(timestamp)) > MAX_AGE_SECONDS:
        raise Unauthenticated("the request's timestamp is more than five minutes off: refused as a replay")
    verifier = SignatureVerifier(settings.slack_signing_secret, clock=_OurClock(clock))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unauthenticated("the request's Slack signature does not match") from None
    if not verifier.is_valid(text, timestamp, signature):
        raise Unauthenticated("the request's Slack signature does not match")
    try:
        pairs = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise InvalidInput("too many form fields", {"fields": {"body": f"at most {MAX_FIELDS} fields"}}) from None
    return {name: values[0] for name, values in pairs.items()}


def identifier(value: object, name: str) -> str:
    """A Slack id (user, team, channel) from a payload; raises InvalidInput."""
    if isinstance(value, str) and IDENTIFIER.fullmatch(value):
        return value
    raise InvalidInput(f"{name} is not a Slack id", {"fields": {name: "not a Slack id"}})
