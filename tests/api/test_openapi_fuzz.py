"""The OpenAPI document is exact: schemathesis fuzzes every operation of the live app against it.

The app runs through its WSGI interface (schemathesis' WSGI transport: the whole Flask stack,
the error boundary included), on SQLite and on PostgreSQL, with an admin's bearer token and the
shipped workflows deployed, an instance started and a task open, so that path parameters can
resolve. Each operation gets a bounded number of positive examples (valid per the document;
once with generated path parameters, once with ones that exist), and negative ones (invalid
data, a missing or wrong token). It fails on any 5xx, any response whose status, body, headers
or content type the document does not state, and invalid data that is accepted.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.journeys import start

EXAMPLES = 8  # per operation and kind of example: about 1,000 requests per database
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    response_headers_conformance,
    content_type_conformance,
    negative_data_rejection,
]
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # no shrinking: report what failed, fast
)


@pytest.fixture
def existing(as_, shipped) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Path parameter values that resolve: a process key, an instance and its open task (a decision key below)."""
    instance = start(as_, "project-intake", {"title": "New CRM", "budget": 120_000, "department": "Sales"})
    return {
        "key": "project-intake",
        "instance_id": instance["id"],
        "task_id": instance["open_tasks"][0]["id"],
    }


def fuzz(app, token: str, existing: dict[str, str]) -> list[str]:  # type: ignore[no-untyped-def]
    config = schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"bearerAuth": {"bearer": token}}},
            # unknown query parameters are ignored by design (a client's cache buster is no error)
            "generation": {"allow-extra-parameters": False},
        }
    )
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        names = [p.name for p in operation.path_parameters]
        known = {name: existing[name] for name in names if name in existing}
        if operation.path.startswith("/api/v1/decisions/"):
            known["key"] = "approval_tier"
        kinds: list[tuple[GenerationMode, dict[str, Any] | None]] = [(GenerationMode.POSITIVE, None)]
        if known:
            kinds.append((GenerationMode.POSITIVE, known))
        kinds.append((GenerationMode.NEGATIVE, None))
        for mode, path_parameters in kinds:

            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
            @SETTINGS
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(checks=CHECKS)

            try:
                run()
            except (Exception, BaseExceptionGroup) as err:  # every operation is fuzzed, then all failures reported
                failures.append(f"{operation.label} ({mode.value}, {path_parameters or 'generated'}): {err}")
    return failures


@pytest.mark.slow
def test_every_operation_answers_only_what_the_document_states(app, tokens, existing):
    failures = fuzz(app, tokens["pmo"], existing)
    assert not failures, "\n\n".join(failures)


def test_the_document_states_each_status_and_no_catch_all(app):
    paths = app.test_client().get("/api/v1/openapi.json").json["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            statuses = set(operation["responses"])
            assert "default" not in statuses, (method, path)
            assert {"401", "403"} <= statuses, (method, path)
            assert "{" not in path or "404" in statuses, (method, path)
            assert "requestBody" not in operation or {"400", "413", "422"} <= statuses, (method, path)
    start = paths["/api/v1/process-instances"]["post"]["responses"]
    assert {"200", "201", "409"} <= set(start)
    assert "Idempotent-Replayed" in start["200"]["headers"]
    evaluate = paths["/api/v1/decisions/{key}/evaluate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert evaluate["$ref"].endswith("/EvaluateDecision")


@pytest.mark.usefixtures("shipped")
def test_a_replayed_start_and_an_empty_evaluation_answer_as_documented(as_):
    key = {"Idempotency-Key": "intake-42"}
    body = {"process": "project-intake", "variables": {"title": "CRM", "budget": 1, "department": "Sales"}}
    first = as_("bot").post("/api/v1/process-instances", json=body, headers=key)
    again = as_("bot").post("/api/v1/process-instances", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json["id"] == first.json["id"]
    other = as_("bot").post("/api/v1/process-instances", json={**body, "business_key": "X"}, headers=key)
    assert other.status_code == 409
    for empty in ({}, None):
        refused = as_("bot").post("/api/v1/decisions/approval_tier/evaluate", json=empty)
        assert refused.status_code == 422, refused.json
        assert refused.json["error"]["details"]["fields"] == {"inputs": "Missing data for required field."}


def test_an_undocumented_method_is_a_405_whose_allow_header_lists_the_documented_ones(app, tokens):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens['pmo']}"}
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path, operations in paths.items():
        documented = {m.upper() for m in operations if m != "parameters"}
        url = path.replace("{", "").replace("}", "")  # any value: the method is refused before the id is read
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - documented:
            response = client.open(url, method=method, headers=headers)
            assert response.status_code == 405, (method, path, response.status_code)
            allowed = {m.strip() for m in response.headers["Allow"].split(",")}
            assert allowed - {"HEAD", "OPTIONS"} == documented, (method, path, allowed)
            assert response.json["error"]["details"]["allowed_methods"] == sorted(allowed)
