"""An app per test on each database, with users and tokens for every kind of caller."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.core.clock import FixedClock
from engine.core.context import EngineContext
from tests.factories import deploy_shipped, make_token
from webui.app import create_app

CALLERS = {
    "pmo": (["PMO Office"], ["admin", "designer"]),
    "designer": ([], ["designer"]),
    "alice": (["IT Manager"], ["approver"]),
    "bob": (["Finance"], ["approver"]),
    "carol": (["Security"], ["approver"]),
    "dave": (["Operations"], ["approver"]),
    "erin": (["PMO Director"], ["approver"]),
    "audrey": ([], ["auditor"]),
    "bot": ([], ["api"]),
}


@pytest.fixture
def app(database_url: str, clock: FixedClock) -> Iterator[Flask]:
    application = create_app(
        {"database_url": database_url, "secret_key": "test", "script_time_limit": 1.0, "TESTING": True}, clock=clock
    )
    yield application
    application.extensions["pmoflow"].db.dispose()


@pytest.fixture
def engine_ctx(app: Flask) -> EngineContext:
    return app.extensions["pmoflow"]


@pytest.fixture
def tokens(engine_ctx: EngineContext) -> dict[str, str]:
    return {name: make_token(engine_ctx, name, groups, roles) for name, (groups, roles) in CALLERS.items()}


@pytest.fixture
def shipped(engine_ctx: EngineContext) -> None:
    deploy_shipped(engine_ctx)


class Caller:
    """A test client that sends one user's token."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, url: str, **kw):  # type: ignore[no-untyped-def]
        return self.client.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, **kw):  # type: ignore[no-untyped-def]
        return self.client.post(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)


@pytest.fixture
def as_(app: Flask, tokens: dict[str, str]):  # type: ignore[no-untyped-def]
    client = app.test_client()
    return lambda name: Caller(client, tokens.get(name))
