"""/api/v1/decisions through Flask, on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import pytest

from tests.engine.dmn.samples import dmn, table

TIERS = dmn(
    table("tiers", ["budget"], ["tier"], [(["< 50000"], ["1"]), (["[50000..250000]"], ["2"]), (["> 250000"], ["3"])])
)


def deploy(caller, name: str = "tiers.dmn", text: str = TIERS):
    return caller.post(
        "/api/v1/process-definitions",
        data={"files": [(io.BytesIO(text.encode()), name)]},
        content_type="multipart/form-data",
    )


def evaluate(caller, key: str = "tiers", **body):
    return caller.post(f"/api/v1/decisions/{key}/evaluate", json=body)


def test_openapi_documents_the_decision_routes(app):
    paths = set(app.test_client().get("/api/v1/openapi.json").json["paths"])
    assert {"/api/v1/decisions", "/api/v1/decisions/{key}", "/api/v1/decisions/{key}/evaluate"} <= paths


def test_deploy_a_dmn_file_alone_and_read_it(as_):
    response = deploy(as_("pmo"))
    assert response.status_code == 201, response.json
    assert response.json["definitions"] == []
    assert [(d["key"], d["version"], d["new"]) for d in response.json["decisions"]] == [("tiers", 1, True)]
    listed = as_("alice").get("/api/v1/decisions")
    assert listed.status_code == 200 and [d["key"] for d in listed.json] == ["tiers"]
    detail = as_("audrey").get("/api/v1/decisions/tiers").json
    assert detail["latest"]["hit_policy"] == "UNIQUE" and detail["latest"]["language"] == "feel"
    assert detail["latest"]["inputs"] == [
        {"id": "tiers_in0", "label": "budget", "expression": "budget", "type_ref": None}
    ]
    assert as_("bot").get("/api/v1/decisions/nope").status_code == 404


def test_evaluate_returns_outputs_matched_rules_and_trace(as_):
    deploy(as_("pmo"))
    response = evaluate(as_("bot"), inputs={"budget": 120000})
    assert response.status_code == 200
    body = response.json
    assert (body["decision"], body["version"], body["outputs"]) == ("tiers", 1, {"tier": 2})
    assert body["matched_rules"] == [{"decision": "tiers", "id": "tiers_rule2", "number": 2, "description": ""}]
    assert body["trace"][0]["inputs"] == {"budget": 120000} and body["trace"][0]["warnings"] == []
    assert evaluate(as_("pmo"), inputs={"budget": 1}, version=1).json["outputs"] == {"tier": 1}


def test_evaluate_of_the_shipped_change_risk(as_, shipped):
    body = evaluate(as_("bot"), "change_risk", inputs={"change_type": "emergency", "impact": "high"}).json
    assert body["outputs"] == {"risk": "high", "route": "review"}
    assert [r["id"] for r in body["matched_rules"]] == ["Rule_change_risk_6"]


def test_evaluation_failures_are_422_naming_the_cell(as_):
    deploy(as_("pmo"))
    response = evaluate(as_("bot"), inputs={"budget": "lots"})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "decision_failed"
    assert error["details"] == {
        "decision": "tiers",
        "rule_id": "tiers_rule1",
        "rule_number": 1,
        "column": "input 'budget'",
        "text": "< 50000",
        "element_id": "tiers_r1_i0",
        "reason": 'cannot compare string "lots" with number 50000',
    }


@pytest.mark.parametrize(
    "body", [{"inputs": 5}, {"inputs": []}, {"inputs": {}, "version": 0}, {"inputs": {}, "extra": 1}, {"version": "x"}]
)
def test_bad_requests_are_422(as_, body):
    deploy(as_("pmo"))
    response = as_("bot").post("/api/v1/decisions/tiers/evaluate", json=body)
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_input"


@pytest.mark.parametrize(
    "inputs",
    [
        {"budget": 1e400},
        {"budget": [1, 2]},
        {"budget": {"a": {"b": None}}},
        {"budget": None},
        {"budget": True},
        {"budget": "2026-01-01"},
        {"": 1},
    ],
)
def test_odd_inputs_never_give_a_500(as_, inputs):
    deploy(as_("pmo"))
    response = evaluate(as_("bot"), inputs=inputs)
    assert response.status_code in (200, 422), response.json


def test_not_a_json_body_is_a_clean_error(as_):
    deploy(as_("pmo"))
    response = as_("bot").post("/api/v1/decisions/tiers/evaluate", data="{", content_type="application/json")
    assert response.status_code in (400, 422) and "error" in response.json


def test_who_may_evaluate(as_):
    deploy(as_("pmo"))
    assert evaluate(as_("alice"), inputs={}).status_code == 403
    assert evaluate(as_("audrey"), inputs={}).status_code == 403
    assert evaluate(as_("designer"), inputs={}).status_code == 200
    assert evaluate(as_(None), inputs={}).status_code == 401
    assert evaluate(as_("bot"), "nope", inputs={}).status_code == 404
    assert evaluate(as_("bot"), inputs={}, version=3).status_code == 404


def test_a_decision_whose_test_fails_is_refused_with_the_test_named(as_):
    tests = (
        '<pmoflow:test id="boundary" name="250,000 is tier 3?"><pmoflow:input name="budget">250000'
        '</pmoflow:input><pmoflow:expect name="tier">3</pmoflow:expect></pmoflow:test>'
    )
    text = dmn(
        table(
            "tiers",
            ["budget"],
            ["tier"],
            [(["< 50000"], ["1"]), (["[50000..250000]"], ["2"]), (["> 250000"], ["3"])],
            tests=tests,
        )
    )
    response = deploy(as_("pmo"), text=text)
    assert response.status_code == 422
    [problem] = response.json["error"]["details"]["problems"]
    assert problem["code"] == "decision_test_failed" and problem["element_id"] == "boundary"
    assert "decision test '250,000 is tier 3?'" in problem["message"]


def test_deeply_nested_inputs_are_refused_cleanly(as_):
    deploy(as_("pmo"))
    nested: object = 1
    for _ in range(300):
        nested = [nested]
    response = evaluate(as_("bot"), inputs={"budget": nested})
    assert response.status_code == 422  # the variable bounds (PMOFLOW_VARIABLE_MAX_DEPTH) name the input
    assert response.json["error"]["details"]["fields"] == {"inputs.budget": "nests deeper than 32 levels"}


BOXED = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="plan" name="plan"
    namespace="https://example.com/plan">
  <itemDefinition name="tProject"><itemComponent name="start"><typeRef>date</typeRef></itemComponent>
    <itemComponent name="weeks"><typeRef>number</typeRef></itemComponent></itemDefinition>
  <inputData id="project_in" name="project"><variable name="project" typeRef="tProject"/></inputData>
  <businessKnowledgeModel id="add_weeks" name="add weeks"><variable name="add weeks"/>
    <encapsulatedLogic><formalParameter name="d" typeRef="date"/><formalParameter name="n" typeRef="number"/>
      <literalExpression><text>d + duration("P" + string(n * 7) + "D")</text></literalExpression>
    </encapsulatedLogic></businessKnowledgeModel>
  <decision id="schedule" name="schedule"><variable name="schedule"/>
    <informationRequirement><requiredInput href="#project_in"/></informationRequirement>
    <knowledgeRequirement><requiredKnowledge href="#add_weeks"/></knowledgeRequirement>
    <context>
      <contextEntry><variable name="end"/>
        <invocation><literalExpression><text>add weeks</text></literalExpression>
          <binding><parameter name="d"/><literalExpression><text>project.start</text></literalExpression></binding>
          <binding><parameter name="n"/><literalExpression><text>project.weeks</text></literalExpression></binding>
        </invocation></contextEntry>
      <contextEntry><variable name="milestones"/>
        <for iteratorVariable="w"><in><literalExpression><text>[1, 2]</text></literalExpression></in>
          <return><literalExpression><text>add weeks(project.start, w)</text></literalExpression></return></for>
      </contextEntry>
    </context>
  </decision>
  <decision id="summary" name="summary"><variable name="summary"/>
    <informationRequirement><requiredDecision href="#schedule"/></informationRequirement>
    <literalExpression><text>"ends " + string(schedule.end)</text></literalExpression>
  </decision>
  <decisionService id="planning" name="planning"><variable name="planning"/>
    <outputDecision href="#schedule"/><outputDecision href="#summary"/>
    <inputData href="#project_in"/></decisionService>
</definitions>
"""


def test_boxed_decisions_and_decision_services_through_the_api(as_):
    response = deploy(as_("pmo"), "plan.dmn", BOXED)
    assert response.status_code == 201, response.json
    assert sorted(d["key"] for d in response.json["decisions"]) == ["planning", "schedule", "summary"]
    project = {"start": "2026-01-05", "weeks": 2}
    body = evaluate(as_("bot"), "schedule", inputs={"project": project}).json
    assert body["outputs"] == {"schedule": {"end": "2026-01-19", "milestones": ["2026-01-12", "2026-01-19"]}}
    service = evaluate(as_("bot"), "planning", inputs={"project": project})
    assert service.status_code == 200, service.json
    assert service.json["outputs"] == {
        "schedule": {"end": "2026-01-19", "milestones": ["2026-01-12", "2026-01-19"]},
        "summary": "ends 2026-01-19",
    }
    detail = as_("audrey").get("/api/v1/decisions/planning").json
    assert detail["latest"]["kind"] == "service"
    mistyped = evaluate(as_("bot"), "schedule", inputs={"project": {"start": "soon", "weeks": 2}}).json
    assert mistyped["outputs"] == {"schedule": {"end": None, "milestones": [None, None]}}
    assert mistyped["trace"][0]["warnings"][0].startswith("input 'project': 'soon' is not a date")


def test_a_deployment_missing_an_imported_file_names_the_import(as_):
    text = BOXED.replace(
        '<itemDefinition name="tProject">',
        '<import namespace="https://example.com/lib" name="lib" importType="https://www.omg.org/spec/DMN/20191111/MODEL/"/>'
        '\n  <itemDefinition name="tProject">',
    )
    response = deploy(as_("pmo"), "plan.dmn", text)
    assert response.status_code == 422
    [problem] = response.json["error"]["details"]["problems"]
    assert (problem["file"], problem["line"], problem["code"]) == ("plan.dmn", 4, "missing_import")


def test_a_deployment_of_two_files_where_one_imports_the_other(as_):
    from tests.engine.dmn.test_boxed import IMPORTED, importing

    response = as_("pmo").post(
        "/api/v1/process-definitions",
        data={
            "files": [
                (io.BytesIO(importing().encode()), "main.dmn"),
                (io.BytesIO(IMPORTED.encode()), "lib.dmn"),
            ]
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    assert [d["key"] for d in response.json["decisions"]] == ["greet"]
    body = evaluate(as_("bot"), "greet", inputs={"who": {"name": "Ann"}}).json
    assert body["outputs"] == {"greet": "Hello Ann!"}


def test_temporal_outputs_of_any_year_and_nanoseconds_are_iso_text(as_):
    """The JSON of the answer (and of the trace the audit event keeps) holds the standard's ISO text."""
    from tests.engine.dmn.samples import input_data, literal

    text = dmn(
        input_data("when", type_ref="date"),
        literal("moved", '[when + duration("P1D"), @"2026-01-01T10:00:00.123456789Z"]', requires_inputs=["when"]),
    )
    deployed = deploy(as_("pmo"), "temporal.dmn", text)
    assert deployed.status_code == 201, deployed.json
    body = evaluate(as_("bot"), "moved", inputs={"when": "-0044-03-15"}).json
    expected = {"moved": ["-0044-03-16", "2026-01-01T10:00:00.123456789Z"]}
    assert body["outputs"] == expected and body["trace"][0]["outputs"] == expected
    assert evaluate(as_("bot"), "moved", inputs={"when": "9999-12-31"}).json["outputs"]["moved"][0] == "10000-01-01"
