"""The audit search's presets: each names kinds of action the engine records, and narrows the search by them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.admin import passwords, users
from engine.audit import presets, trail
from engine.audit.presets import ACTIONS, PRESETS
from engine.audit.trail import AuditFilter
from engine.core.errors import InvalidInput
from engine.runtime import instances
from engine.tasks import completion
from tests.factories import ADMIN, ALICE, BOT, deploy_shipped

ENGINE = Path(__file__).resolve().parents[3] / "engine"
RECORDED = re.compile(r'(?:audit|stream)\.record\(\s*[\w.]+,\s*"([a-z_]+)"')


def recorded_types() -> set[str]:
    """Every event type the engine writes with a literal name."""
    return {m for p in ENGINE.rglob("*.py") for m in RECORDED.findall(p.read_text(encoding="utf-8"))}


def test_the_search_offers_every_recorded_action_and_presets_name_only_known_ones():
    found = recorded_types()
    assert {"instance_started", "login", "variables_changed", "draft_published"} <= found  # the scan works
    assert found <= set(ACTIONS), sorted(found - set(ACTIONS))
    for preset in PRESETS.values():
        assert set(preset.types or ()) <= set(ACTIONS) and set(preset.hides) <= set(ACTIONS), preset.key
    assert presets.DEFAULT_PRESET == "activity" and set(presets.SIGN_INS) <= set(PRESETS["activity"].hides)


def test_presets_narrow_the_search_and_an_action_wins_over_them(ctx):
    deploy_shipped(ctx)
    users.create_user(ctx, "zoe", "secret-pass-1", [], ["approver"])
    assert passwords.login(ctx, "zoe", "secret-pass-1", "127.0.0.1") is not None
    assert passwords.login(ctx, "zoe", "wrong", "127.0.0.1") is None
    view = instances.start(ctx, BOT, "project-intake", business_key="P-1", variables={"title": "x", "budget": 9_000})
    completion.complete(ctx, ALICE, view.open_tasks[0].id, {"decision": "approve"})

    def types(**kw) -> set[str]:
        return {e.type for e in trail.search(ctx, ADMIN, AuditFilter(per_page=500, **kw)).items}

    everything = types(preset="all")
    assert {"login", "login_failed", "user_created", "instance_started", "task_completed"} <= everything
    assert types() == everything  # no preset: everything (the API's search)
    assert types(preset="activity") == everything - {"login", "login_failed"}
    assert types(preset="security") == {"login", "login_failed"}
    assert types(preset="decisions") == {"task_completed", "decision_evaluated"}
    assert types(preset="access") == {"user_created"}
    assert types(preset="decisions", action="login") == {"login"}
    with pytest.raises(InvalidInput, match="preset"):
        AuditFilter(preset="noise")
