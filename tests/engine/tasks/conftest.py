"""Fixtures of the human-task tests: the shipped workflows, the demo users and ivan, alice's group mate."""

from __future__ import annotations

import pytest

from engine.admin import users
from tests.factories import deploy_shipped


@pytest.fixture
def shipped(ctx):
    # without project-intake's separation of duties: these tests hand intake tasks outside the IT Manager lane
    # (delegation, reassignment, bulk actions); the rule itself: test_separation.py, tests/browser/test_shell.py
    deploy_shipped(ctx, separation_of_duties=False)
    users.ensure_demo_users(ctx)
    users.create_user(ctx, "ivan", "demo", ["IT Manager"], ["approver"])
    return ctx
