"""GET/PUT /api/v1/me/notification-settings and PUT/DELETE /api/v1/process-instances/{id}/watch."""

from __future__ import annotations

from engine.admin import tokens as tokens_service
from engine.admin import users
from engine.runtime import instances
from tests.factories import actor

URL = "/api/v1/me/notification-settings"


def put(caller, body):  # type: ignore[no-untyped-def]
    return caller.client.put(URL, headers=caller.headers, json=body)


def test_a_system_reads_and_changes_its_users_settings(as_):
    alice = as_("alice")
    got = alice.get(URL)
    assert got.status_code == 200
    body = got.json
    assert body["digest"] == {"enabled": False, "time": "08:00", "zone": None, "channels": ["email"]}
    kinds = {k["kind"]: k for k in body["kinds"]}
    assert kinds["watched_finished"]["channels"] == ["email", "bell"]
    assert kinds["watched_finished"]["offered"] == ["email", "slack", "teams", "bell"]
    assert kinds["task_assigned"]["offered"] == ["email", "slack", "teams"]
    changed = put(
        alice,
        {
            "kinds": {"task_reminder": ["teams"], "watched_finished": ["bell"]},
            "digest": {"enabled": True, "time": "07:45", "zone": "Europe/Vienna", "channels": ["email", "slack"]},
        },
    )
    assert changed.status_code == 200, changed.json
    kinds = {k["kind"]: k["channels"] for k in changed.json["kinds"]}
    assert kinds["task_reminder"] == ["teams"] and kinds["watched_finished"] == ["bell"]
    assert kinds["task_assigned"] == ["email", "slack", "teams"]  # not named: kept
    assert changed.json["digest"] == {
        "enabled": True,
        "time": "07:45",
        "zone": "Europe/Vienna",
        "channels": ["email", "slack"],
    }
    assert put(alice, {"digest": {"zone": None}}).json["digest"]["zone"] is None  # back to the server's zone
    assert alice.get(URL).json["digest"]["time"] == "07:45"


def test_bad_input_is_a_422_naming_the_field(as_):
    alice = as_("alice")
    for body, field in (
        ({"digest": {"time": "7:45"}}, "digest.time"),
        ({"digest": {"time": "24:00"}}, "digest.time"),
        ({"digest": {"zone": "Mars/Olympus"}}, "digest.zone"),  # every field by its place in the body
        ({"digest": {"channels": ["pigeon"]}}, "digest.channels.0"),
        ({"digest": {"colour": "red"}}, "digest.colour"),
        ({"kinds": {"no_such_kind": ["email"]}}, "kinds.no_such_kind.key"),
        ({"kinds": {"task_assigned": ["bell"]}}, "kinds.task_assigned"),  # the bell is not offered for it
        ({"slack_webhook": "https://attacker.example/x"}, "slack_webhook"),
        ({"whatever": 1}, "whatever"),
    ):
        response = put(alice, body)
        assert response.status_code == 422, (body, response.json)
        assert list(response.json["error"]["details"]["fields"]) == [field], (body, response.json)
    bad = alice.client.put(URL, headers={**alice.headers, "Content-Type": "application/json"}, data="{")
    assert bad.status_code == 400
    assert alice.get(URL).json["digest"]["time"] == "08:00"  # nothing was saved


def test_a_token_needs_the_notifications_scope(app, as_):
    ctx = app.extensions["pmoflow"]
    narrow = tokens_service.create_token(ctx, "alice", "narrow", ["tasks:read"])
    response = app.test_client().get(URL, headers={"Authorization": f"Bearer {narrow}"})
    assert response.status_code == 403 and response.json["error"]["details"]["missing_scope"] == "notifications"
    assert as_(None).get(URL).status_code == 401


def test_watching_through_the_api(app, as_, shipped):
    ctx = app.extensions["pmoflow"]
    users.create_user(ctx, "olga", "demo", [], ["approver"])
    view = instances.start(
        ctx, actor("bot", roles=("api",)), "project-intake", variables={"title": "t", "budget": 1, "department": "d"}
    )
    alice = as_("alice")
    url = f"/api/v1/process-instances/{view.id}/watch"
    watched = alice.client.put(url, headers=alice.headers)
    assert watched.status_code == 200 and watched.json == {"instance_id": view.id, "watching": True, "watchers": 1}
    assert alice.client.delete(url, headers=alice.headers).json["watching"] is False
    olga = tokens_service.create_token(ctx, "olga", "o")
    assert app.test_client().put(url, headers={"Authorization": f"Bearer {olga}"}).status_code == 403  # may not see it
    missing = alice.client.put("/api/v1/process-instances/nope/watch", headers=alice.headers)
    assert missing.status_code == 404
    instances.cancel(ctx, actor("pmo", roles=("admin",)), view.id, "a duplicate")
    decided = alice.client.put(url, headers=alice.headers)  # nothing left to be told: refused, nothing written
    assert decided.status_code == 409 and "cancelled already" in decided.json["error"]["message"]
    assert alice.client.delete(url, headers=alice.headers).json == {
        "instance_id": view.id,
        "watching": False,
        "watchers": 0,
    }
