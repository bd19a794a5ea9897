"""Separation of duties over the API: a claim or completion by anyone barred, or on their behalf, is a 403."""

from __future__ import annotations

from engine.tasks import collaboration
from tests.engine.runtime.test_instances import deploy
from tests.engine.tasks.test_separation import model, person
from tests.factories import make_token


def test_the_initiator_and_a_chain_on_their_behalf_are_refused(app, engine_ctx, monkeypatch):
    ctx = engine_ctx
    headers = {
        name: {"Authorization": f"Bearer {make_token(ctx, name, [group], ['approver'])}"}
        for name, group in (("ann", "Finance"), ("ben", "Finance"), ("olga", "Sales"), ("otto", "Sales"))
    }
    deploy(ctx, ("spend.bpmn", model()))
    client = app.test_client()
    started = client.post("/api/v1/process-instances", json={"process": "spend"}, headers=headers["ann"])
    assert started.status_code == 201, started.json
    task = started.json["open_tasks"][0]["id"]
    claim = client.post(f"/api/v1/tasks/{task}/claim", headers=headers["ann"])
    assert claim.status_code == 403 and "ann started this request" in claim.json["error"]["message"]
    done = client.post(f"/api/v1/tasks/{task}/complete", json={"data": {}}, headers=headers["ann"])
    assert done.status_code == 403 and "separation of duties" in done.json["error"]["message"]
    # A -> B -> C built before these checks (an upgraded database): C completing for A is refused
    monkeypatch.setattr(collaboration, "_duties_problem", lambda *args: None)
    collaboration.delegate(ctx, person("ann"), task, "olga", "olga, please")
    collaboration.delegate(ctx, person("olga"), task, "otto", "otto, please")
    done = client.post(f"/api/v1/tasks/{task}/complete", json={"data": {}}, headers=headers["otto"])
    assert done.status_code == 403
    assert "otto would decide on behalf of ann, who started this request" in done.json["error"]["message"]
    assert client.post(f"/api/v1/tasks/{task}/claim", headers=headers["ben"]).status_code == 409  # otto has it
    collaboration.reassign(ctx, person("otto"), task, "ben", "for Finance to decide")
    done = client.post(f"/api/v1/tasks/{task}/complete", json={"data": {}}, headers=headers["ben"])
    assert done.status_code == 200, done.json
