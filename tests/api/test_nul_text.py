"""A NUL character in text from a request is never a 500: in a path it names nothing (404); anywhere else
PostgreSQL refuses it in text, which is a 422 naming the reason (SQLite keeps it). Before: 500 on PostgreSQL
for every route with a path parameter, and for query parameters and body fields stored as text."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_api import deploy_simple

PATHS = [
    "/api/v1/process-definitions/a%00b",
    "/api/v1/process-instances/a%00b",
    "/api/v1/process-instances/a%00b/audit",
    "/api/v1/tasks/a%00b",
    "/api/v1/decisions/a%00b",
    "/api/v1/webhooks/a%00b",
]


@pytest.mark.parametrize("path", PATHS)
def test_a_nul_in_a_path_names_nothing(as_: Any, path: str) -> None:
    assert as_("pmo").get(path).status_code == 404


def test_a_nul_in_a_query_or_a_body_is_refused_on_postgres_and_never_a_500(as_: Any, database_url: str) -> None:
    deploy_simple(as_)
    answers = [
        as_("pmo").get("/api/v1/process-instances?business_key=a%00b"),
        as_("pmo").get("/api/v1/audit/events?actor=a%00b"),
        as_("bot").post(
            "/api/v1/process-instances", json={"process": "p1", "business_key": "k\u0000", "variables": {"title": "t"}}
        ),
        as_("bot").post("/api/v1/process-instances", json={"process": "p1", "variables": {"title": "t\u0000"}}),
    ]
    expected = 422 if database_url.startswith("postgresql") else 200
    for answer in answers:
        assert answer.status_code in (expected, 201), answer.get_data(as_text=True)[:300]
        if answer.status_code == 422:
            assert answer.json["error"]["message"] == "text may not contain NUL characters"
