"""The local server playing Slack (tests/slack_fake.py), one per module, and engine settings that use it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.core.config import Settings
from tests import slack_fake
from tests.slack_fake import FakeSlack, Person


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with slack_fake.fake_slack() as fake:
        yield fake


def slack_settings(database_url: str, slack: FakeSlack, *people: Person) -> Settings:
    """Settings of a Slack app whose Web API is `slack`, which knows `people` (its calls and failures cleared)."""
    slack.calls.clear()
    slack.failures.clear()
    slack.people[:] = list(people)
    return Settings(
        database_url=database_url,
        secret_key="test-secret",
        script_time_limit=1.0,
        base_url="https://pmo.example.com",
        slack_bot_token=slack_fake.TOKEN,
        slack_signing_secret=slack_fake.SECRET,
        slack_api_url=slack.url,
        slack_webhook_hosts="127.0.0.1",
        chat_webhook_allow_http=True,
        chat_webhook_allow_private=True,
        chat_timeout=5.0,
    )
