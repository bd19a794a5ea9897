"""The forms shipped in workflows/ are valid, referenced correctly and enforce their rules."""

from pathlib import Path

import pytest
from lxml import etree

from engine.forms.checks import check_form, load_form
from engine.forms.components import form_fields
from engine.forms.submission import validate_submission

WORKFLOWS = Path(__file__).resolve().parents[3] / "workflows"
FORM_FILES = sorted(WORKFLOWS.glob("*.form"))
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "pmoflow": "https://pmoflow.dev/schema/bpmn/1.0"}


def shipped(form_id):
    """Load one shipped form by id."""
    return load_form((WORKFLOWS / f"{form_id}.form").read_bytes(), f"{form_id}.form")


def keys(form_id):
    """The field keys of one shipped form."""
    return {field["key"] for field in form_fields(shipped(form_id))}


def test_forms_are_shipped():
    assert len(FORM_FILES) >= 8


@pytest.mark.parametrize("path", FORM_FILES, ids=lambda p: p.name)
def test_every_shipped_form_is_valid_and_named_by_its_id(path):
    schema = load_form(path.read_bytes(), path.name)
    assert check_form(schema) == []
    assert schema["id"] == path.stem


def test_every_form_reference_names_a_shipped_form():
    form_ids = {path.stem for path in FORM_FILES}
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    for bpmn in sorted(WORKFLOWS.glob("*.bpmn")):
        root = etree.parse(str(bpmn), parser).getroot()
        for task in root.iterfind(".//bpmn:userTask", NS):
            refs = task.xpath("./bpmn:extensionElements/pmoflow:form/@ref", namespaces=NS)
            assert len(refs) == 1 and refs[0] in form_ids, (bpmn.name, task.get("id"), refs)


def test_approval_form_requires_a_comment_to_reject():
    schema = shipped("approval-decision")
    assert validate_submission(schema, {"decision": "reject"}) == ({}, {"comment": "required"})
    assert validate_submission(schema, {"decision": "reject", "comment": " "}) == (
        {},
        {"comment": "required"},
    )
    assert validate_submission(schema, {"decision": "reject", "comment": "Over budget"}) == (
        {"decision": "reject", "comment": "Over budget"},
        {},
    )
    assert validate_submission(schema, {"decision": "approve"}) == ({"decision": "approve"}, {})


def test_approval_form_requires_a_listed_decision():
    schema = shipped("approval-decision")
    assert validate_submission(schema, {})[1] == {"decision": "required"}
    assert validate_submission(schema, {"decision": "maybe"})[1] == {"decision": "must be one of: approve, reject"}
    assert validate_submission(schema, {"decision": "approve", "tier": 1})[1] == {"tier": "not a field of this form"}


def test_approval_form_condition_works_with_a_python_evaluator():
    def evaluate(expression, values):
        return eval(expression, {"__builtins__": {}}, dict(values))

    schema = shipped("approval-decision")
    assert validate_submission(schema, {"decision": "reject"}, evaluate)[1] == {"comment": "required"}
    assert validate_submission(schema, {"decision": "approve"}, evaluate)[1] == {}


@pytest.mark.parametrize("prefix", ["it", "security"])
def test_change_reviews_require_a_comment_to_reject(prefix):
    schema = shipped(f"change-review-{prefix}")
    rejected = {f"{prefix}_decision": "reject"}
    assert validate_submission(schema, rejected)[1] == {f"{prefix}_comment": "required"}
    assert validate_submission(schema, {f"{prefix}_decision": "approve"})[1] == {}


@pytest.mark.parametrize("area", ["security", "finance", "operations"])
def test_handoff_sign_off_needs_a_reason_when_not_ok(area):
    schema = shipped(f"handoff-{area}")
    assert validate_submission(schema, {f"{area}_ok": False})[1] == {f"{area}_comment": "required"}
    assert validate_submission(schema, {f"{area}_ok": True})[1] == {}


def test_handoff_preparation_and_confirmation_rules():
    assert validate_submission(shipped("handoff-prepare"), {"go_live_date": "next week"})[1] == {
        "release_notes": "required",
        "rollback_plan": "required",
        "go_live_date": "must be a date (YYYY-MM-DD)",
    }
    assert validate_submission(shipped("handoff-confirm"), {"go_live_confirmed": False})[1] == {
        "go_live_confirmed": "required"
    }


@pytest.mark.parametrize(
    "parallel_forms",
    [
        ("change-review-it", "change-review-security"),
        ("handoff-security", "handoff-finance", "handoff-operations"),
    ],
)
def test_forms_on_parallel_branches_use_distinct_keys(parallel_forms):
    all_keys = [key for form_id in parallel_forms for key in keys(form_id)]
    assert len(all_keys) == len(set(all_keys))


def test_every_shipped_process_has_a_start_form_that_asks_for_what_it_reads():
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    form_ids = {path.stem for path in FORM_FILES}
    for bpmn in sorted(WORKFLOWS.glob("*.bpmn")):
        process = etree.parse(str(bpmn), parser).getroot().find("bpmn:process", NS)
        refs = process.xpath("./bpmn:startEvent/bpmn:extensionElements/pmoflow:form/@ref", namespaces=NS)
        assert refs == [f"{process.get('id')}-start"] and refs[0] in form_ids, bpmn.name


@pytest.mark.parametrize(
    ("form_id", "required"),
    [
        ("project-intake-start", {"title", "budget", "department"}),
        ("change-request-start", {"title", "change_type", "impact"}),
        ("cross-functional-handoff-start", {"title", "go_live_date"}),
    ],
)
def test_start_forms_require_the_variables_of_their_process(form_id, required):
    assert set(validate_submission(shipped(form_id), {})[1]) == required


def test_the_intake_start_form_types_its_values():
    cleaned, errors = validate_submission(
        shipped("project-intake-start"),
        {"title": "CRM", "budget": "120000", "department": "Sales", "description": "Why"},
    )
    assert errors == {} and cleaned["budget"] == 120000
    assert validate_submission(shipped("project-intake-start"), {"title": "CRM", "budget": -1, "department": "Moon"})[
        1
    ] == {"budget": "at least 0", "department": "must be one of: Sales, Marketing, Finance, HR, IT, Operations"}
