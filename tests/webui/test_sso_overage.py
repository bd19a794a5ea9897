"""Group overage at sign-in (engine/sso/provisioning.py, engine/sso/overage.py), through pmoflow's real
callback: an ID token without `groups` but naming a source for it (Microsoft Entra ID, a user in too many
groups) has the groups fetched with the sign-in's access token; when they can't be had, the user keeps the
groups and roles they have, and the trail and the log say why. A claim that is simply absent means none."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask

from tests.identity import GroupsSource, KeyProvider, sso_sign_in
from tests.webui.test_sso import NINA, ROLE_MAP, events, user_row

GROUP_ROLES = "pmo-admins=admin, pmo-designers=designer"  # roles from the groups claim, as with Entra's group ids


@pytest.fixture
def app(sso_app: Any) -> Flask:
    app: Flask = sso_app(oidc_role_map=GROUP_ROLES)
    return app


def signed_in(app: Flask, idp: KeyProvider, claims: dict[str, Any]) -> None:
    client = app.test_client()
    assert sso_sign_in(client, idp, {**NINA, **claims}).status_code == 302  # the sign-in itself succeeds
    assert client.get("/tasks").status_code == 200


def test_overage_fetches_the_groups_and_they_and_the_roles_follow(app, idp, groups_source: GroupsSource):
    signed_in(app, idp, {"groups": ["Finance", "pmo-designers"]})
    groups_source.pages = [["Security"], [{"id": "pmo-admins"}]]
    signed_in(app, idp, groups_source.overage())
    assert user_row(app, "nina") == (["admin", "approver"], ["Security", "pmo-admins"])
    assert len(groups_source.requests) == 2 and len({auth for _, auth in groups_source.requests}) == 1
    assert groups_source.requests[0][1].startswith("Bearer at-")  # the access token of this sign-in
    added = events(app, "group_member_added")[-1]
    assert added.data["claim"] == "groups" and added.data["fetched_from"] == "127.0.0.1"
    removed = {e.data["group"]: e.data for e in events(app, "group_member_removed")}
    assert removed["Finance"]["fetched_from"] == "127.0.0.1"
    roles = events(app, "roles_changed")[-1]
    assert roles.data["after"] == ["admin", "approver"] and roles.data["fetched_from"] == "127.0.0.1"
    assert events(app, "oidc_claim_unresolved") == []


@pytest.mark.parametrize(
    ("overage", "reason"),
    [
        ({"hasgroups": True}, "names no endpoint"),
        ({"_claim_names": {"groups": "src1"}, "_claim_sources": {}}, "names no endpoint"),
        ("/fail", "answered 500"),
        ("/text", "answered no JSON"),
        ({"_claim_names": {"groups": "s"}, "_claim_sources": {"s": {"endpoint": "http://169.254.169.254/x"}}}, "169"),
    ],
)
def test_overage_that_cannot_be_resolved_keeps_groups_and_roles(app, idp, groups_source, caplog, overage, reason):
    signed_in(app, idp, {"groups": ["Finance", "pmo-designers"]})
    before = user_row(app, "nina")
    assert before == (["approver", "designer"], ["Finance", "pmo-designers"])
    removed_before = len(events(app, "group_member_removed"))
    claims = groups_source.overage(overage) if isinstance(overage, str) else overage
    with caplog.at_level(logging.WARNING, logger="pmoflow.sso"):
        signed_in(app, idp, claims)
    assert user_row(app, "nina") == before  # never stripped because the token said nothing
    assert len(events(app, "group_member_removed")) == removed_before
    [kept] = events(app, "oidc_claim_unresolved")
    assert kept.actor == "nina" and kept.data["claim"] == "groups" and kept.data["kept"] == ["groups", "roles"]
    assert reason in kept.data["reason"] and kept.data["source"] == "oidc"
    assert any(
        "nina keeps their groups and roles" in r.getMessage() and reason in r.getMessage() for r in caplog.records
    )


def test_roles_from_another_claim_follow_while_unresolved_groups_stay(sso_app, idp):
    app = sso_app(oidc_role_map=ROLE_MAP, oidc_roles_claim="roles")
    signed_in(app, idp, {"groups": ["Finance"], "roles": ["pmo-designers"]})
    signed_in(app, idp, {"hasgroups": True, "roles": ["pmo-admins"]})
    assert user_row(app, "nina") == (["admin", "approver"], ["Finance"])
    [kept] = events(app, "oidc_claim_unresolved")
    assert kept.data["kept"] == ["groups"]


def test_a_missing_groups_claim_without_overage_means_no_groups(app, idp):
    """Providers may leave an empty groups claim out: absent (without an overage marker) is none."""
    signed_in(app, idp, {"groups": ["Finance", "pmo-designers"]})
    signed_in(app, idp, {})
    assert user_row(app, "nina") == (["approver"], [])
    assert events(app, "oidc_claim_unresolved") == []


def test_a_first_sign_in_with_unresolved_overage_creates_the_user_with_the_default_roles_only(app, idp):
    signed_in(app, idp, {"hasgroups": True})
    assert user_row(app, "nina") == (["approver"], [])
    [kept] = events(app, "oidc_claim_unresolved")
    assert kept.data["username"] == "nina" and kept.data["kept"] == ["groups", "roles"]
