"""Deep and large variables over the API: 422 naming the variable, 400 for a body the decoder cannot nest."""

from __future__ import annotations

from tests.api.test_api import deploy_simple, start
from tests.engine.runtime.test_variable_bounds import nested


def test_deep_variables_are_refused_with_422_naming_the_variable(as_):
    deploy_simple(as_)
    bot = as_("bot")
    refused = start(bot, variables={"title": "t", "deep": nested(400)})
    assert refused.status_code == 422
    assert refused.json["error"]["details"]["fields"] == {"variables.deep": "nests deeper than 32 levels"}
    started = start(bot, variables={"title": "t", "fine": nested(20)})
    assert started.status_code == 201
    task = started.json["open_tasks"][0]["id"]
    done = as_("alice").post(f"/api/v1/tasks/{task}/complete", json={"data": {"x": nested(100)}})
    assert done.status_code == 422 and "data.x" in done.json["error"]["details"]["fields"]
    done = as_("alice").post(f"/api/v1/tasks/{task}/complete", json={"data": {}})
    assert done.status_code == 200, done.json


def test_a_body_nested_deeper_than_the_decoder_goes_is_a_400(as_):
    deploy_simple(as_)
    body = '{"process": "p1", "variables": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    for url in ("/api/v1/process-instances", "/api/v1/decisions/any/evaluate", "/api/v1/messages"):
        response = as_("bot").post(url, data=body, content_type="application/json")
        assert response.status_code == 400, (url, response.get_data(as_text=True)[:200])
        assert response.json["error"] == {"code": "bad_request", "message": "the JSON body nests too deeply"}
