"""Web fixtures: an app with the shipped workflows and demo users, and signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.admin import users
from engine.core.clock import FixedClock
from engine.runtime import instances
from tests.factories import BOT, deploy_shipped
from webui.app import create_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(database_url: str, clock: FixedClock) -> Iterator[Flask]:
    application = create_app(
        {"database_url": database_url, "secret_key": "web-test", "TESTING": True},
        clock=clock,
    )
    ctx = application.extensions["pmoflow"]
    deploy_shipped(ctx)
    users.ensure_demo_users(ctx)
    yield application
    ctx.db.dispose()


def csrf_of(client: FlaskClient, url: str) -> str:
    page = client.get(url)
    match = TOKEN.search(page.get_data(as_text=True))
    assert match, page.get_data(as_text=True)[:500]
    return match.group(1)


def sign_in(client: FlaskClient, user: str, password: str = "demo"):
    token = csrf_of(client, "/login")
    return client.post("/login", data={"username": user, "password": password, "csrf_token": token})


@pytest.fixture
def browser_of(app: Flask):
    def make(user: str) -> FlaskClient:
        client = app.test_client()
        assert sign_in(client, user).status_code == 302
        return client

    return make


def intake(app: Flask, budget: int = 120_000, key: str = "PRJ-1"):
    return instances.start(
        app.extensions["pmoflow"],
        BOT,
        "project-intake",
        business_key=key,
        variables={"title": "New CRM", "budget": budget, "department": "Sales"},
    )
