"""JSON bodies Python decodes into what it cannot use: a number of more than 4,300 digits (a ValueError that
webargs does not catch) and a lone UTF-16 surrogate (text no UTF-8 writer takes: the audit trail's hash,
PostgreSQL). Both were a 500 on every JSON operation; both are a 400 naming the reason."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_api import deploy_simple

BIG = "1" + "0" * 5000
OPERATIONS = [
    ("post", "/api/v1/process-instances", '{"process": "p1", "variables": {"title": "t", "n": %s}}'),
    ("post", "/api/v1/process-instances", '{"process": "p1", "business_key": %s, "variables": {"title": "t"}}'),
    ("post", "/api/v1/messages", '{"name": "m", "variables": {"x": %s}}'),
    ("post", "/api/v1/signals", '{"name": "s", "variables": {"x": %s}}'),
    ("post", "/api/v1/decisions/any/evaluate", '{"inputs": {"x": %s}}'),
    ("post", "/api/v1/external-tasks/fetch-and-lock", '{"worker_id": %s, "topics": [{"name": "t"}]}'),
]


@pytest.mark.parametrize(("method", "url", "body"), OPERATIONS)
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (BIG, "the JSON body holds a number too long to read"),
        ('"a\\ud800b"', "the JSON body holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text"),
        ('"\\udc00"', "the JSON body holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text"),
    ],
    ids=["long-number", "lone-high-surrogate", "lone-low-surrogate"],
)
def test_an_undecodable_body_is_a_400_naming_why(
    as_: Any, method: str, url: str, body: str, value: str, reason: str
) -> None:
    deploy_simple(as_)
    caller = as_("pmo")
    response = getattr(caller, method)(url, data=body % value, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.json["error"] == {"code": "bad_request", "message": reason}


def test_a_surrogate_pair_is_text_and_goes_through(as_: Any) -> None:
    deploy_simple(as_)
    body = '{"process": "p1", "business_key": "\\ud83d\\ude00", "variables": {"title": "\\\\ud800 written out"}}'
    response = as_("bot").post("/api/v1/process-instances", data=body, content_type="application/json")
    assert response.status_code == 201, response.json
    assert response.json["business_key"] == "\U0001f600"
