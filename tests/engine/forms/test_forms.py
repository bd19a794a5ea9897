"""Tests of form-js schema checks and server-side validation of submitted form data."""

import json

import pytest

from engine.forms.checks import FormProblem, FormSchemaError, check_form, load_form
from engine.forms.components import form_fields
from engine.forms.submission import validate_submission

DECISION_VALUES = [{"label": "Approve", "value": "approve"}, {"label": "Reject", "value": "reject"}]


def form(*components, **extra):
    """A minimal valid form around the given components."""
    return {
        "type": "default",
        "id": "test-form",
        "schemaVersion": 16,
        "components": list(components),
        **extra,
    }


def field(kind, key, **settings):
    """One component of the given type and key."""
    return {"type": kind, "key": key, "id": f"Field_{key}", **settings}


def approval_form():
    """The shape of the shipped approval form."""
    return form(
        field("radio", "decision", values=DECISION_VALUES, validate={"required": True}),
        field(
            "textarea",
            "comment",
            validate={"maxLength": 500},
            properties={"pmoflow:requiredWhen": 'decision == "reject"'},
        ),
    )


def paths(problems):
    """The paths of a list of problems."""
    return [problem.path for problem in problems]


def errors_of(schema, data, evaluate=None):
    """Validate and return only the errors, checking that nothing partial comes back."""
    cleaned, errors = validate_submission(schema, data, evaluate)
    if errors:
        assert cleaned == {}
    return errors


def cleaned_of(schema, data, evaluate=None):
    """Validate data that must pass and return the cleaned data."""
    cleaned, errors = validate_submission(schema, data, evaluate)
    assert errors == {}
    return cleaned


# --- load_form / check_form -------------------------------------------------------------------


def test_load_form_parses_text_and_bytes():
    text = json.dumps(approval_form())
    assert load_form(text, "approval.form")["id"] == "test-form"
    assert load_form(text.encode(), "approval.form")["components"][0]["key"] == "decision"


def test_load_form_refuses_bad_json_with_filename():
    with pytest.raises(FormSchemaError) as caught:
        load_form("{not json", "broken.form")
    assert caught.value.filename == "broken.form"
    assert "not valid JSON" in caught.value.problems[0].message
    assert "broken.form" in str(caught.value)


def test_load_form_refuses_nan():
    with pytest.raises(FormSchemaError):
        load_form('{"type": "default", "id": "x", "components": [], "schemaVersion": NaN}', "nan.form")


def test_load_form_reports_every_problem():
    text = json.dumps({"type": "default", "components": [{"type": "textfield"}, {"type": "nope"}]})
    with pytest.raises(FormSchemaError) as caught:
        load_form(text, "bad.form")
    assert caught.value.problems == [
        FormProblem("id", "missing form id"),
        FormProblem("components[0].key", "field without key"),
        FormProblem("components[1].type", "unknown component type 'nope'"),
    ]
    assert "(and 2 more)" in str(caught.value)


def test_valid_form_has_no_problems():
    assert check_form(approval_form()) == []


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ([], ""),
        ({"type": "default", "components": []}, "id"),
        ({"type": "default", "id": "  ", "components": []}, "id"),
        ({"type": "other", "id": "x", "components": []}, "type"),
        ({"type": "default", "id": "x", "components": {}}, "components"),
        ({"type": "default", "id": "x"}, "components"),
        ({"type": "default", "id": "x", "components": [], "schemaVersion": "16"}, "schemaVersion"),
    ],
)
def test_form_header_problems(schema, path):
    assert path in paths(check_form(schema))


@pytest.mark.parametrize(
    ("component", "path", "message"),
    [
        ("text", "components[0]", "must be an object"),
        ({"key": "a"}, "components[0].type", "missing component type"),
        ({"type": "slider", "key": "a"}, "components[0].type", "unknown component type 'slider'"),
        ({"type": "expression", "key": "a"}, "components[0].type", "not supported"),
        ({"type": "textfield"}, "components[0].key", "field without key"),
        ({"type": "textfield", "key": "_secret"}, "components[0].key", "may not start with '_'"),
        ({"type": "textfield", "key": "a._b"}, "components[0].key", "not a valid key"),
        ({"type": "textfield", "key": "a..b"}, "components[0].key", "not a valid key"),
        ({"type": "textfield", "key": "a  b"}, "components[0].key", "not a valid key"),
        ({"type": "textfield", "key": "2nd"}, "components[0].key", "not a valid key"),
        ({"type": "textfield", "key": "class"}, "components[0].key", "not a valid key"),
        ({"type": "select", "key": "a"}, "components[0].values", "select without values"),
        ({"type": "radio", "key": "a", "values": []}, "components[0].values", "radio without values"),
        ({"type": "checklist", "key": "a", "values": [{"label": "x"}]}, "components[0].values[0]", "value"),
        (
            {"type": "select", "key": "a", "values": [{"value": "x"}, {"value": "x"}]},
            "components[0].values[1]",
            "duplicate value",
        ),
        ({"type": "textfield", "key": "a", "validate": []}, "components[0].validate", "must be an object"),
        (
            {"type": "textfield", "key": "a", "validate": {"required": "yes"}},
            "components[0].validate.required",
            "",
        ),
        (
            {"type": "textfield", "key": "a", "validate": {"minLength": -1}},
            "components[0].validate.minLength",
            "",
        ),
        (
            {"type": "textfield", "key": "a", "validate": {"maxLength": 2.5}},
            "components[0].validate.maxLength",
            "",
        ),
        (
            {"type": "textfield", "key": "a", "validate": {"pattern": "(["}},
            "components[0].validate.pattern",
            "",
        ),
        (
            {"type": "number", "key": "a", "validate": {"min": "=x"}},
            "components[0].validate.min",
            "expressions",
        ),
        (
            {"type": "number", "key": "a", "validate": {"pattern": "x"}},
            "components[0].validate.pattern",
            "apply",
        ),
        ({"type": "textfield", "key": "a", "validate": {"max": 3}}, "components[0].validate.max", "apply"),
        (
            {"type": "textfield", "key": "a", "validate": {"sizeLimit": 3}},
            "components[0].validate.sizeLimit",
            "",
        ),
        (
            {"type": "textfield", "key": "a", "validate": {"validationType": "zip"}},
            "components[0].validate.validationType",
            "",
        ),
        (
            {"type": "number", "key": "a", "validate": {"min": 5, "max": 1}},
            "components[0].validate.min",
            "greater than max",
        ),
        (
            {"type": "textfield", "key": "a", "validate": {"minLength": 5, "maxLength": 1}},
            "components[0].validate.minLength",
            "greater than maxLength",
        ),
        ({"type": "number", "key": "a", "decimalDigits": -1}, "components[0].decimalDigits", ""),
        ({"type": "number", "key": "a", "increment": 0}, "components[0].increment", ""),
        ({"type": "datetime", "key": "a", "subtype": "week"}, "components[0].subtype", ""),
        (
            {"type": "datetime", "key": "a", "timeSerializingFormat": "x"},
            "components[0].timeSerializingFormat",
            "",
        ),
        ({"type": "textfield", "key": "a", "readonly": "=x > 1"}, "components[0].readonly", "expressions"),
        ({"type": "textfield", "key": "a", "disabled": "yes"}, "components[0].disabled", ""),
        ({"type": "textfield", "key": "a", "conditional": {"hide": 3}}, "components[0].conditional", ""),
        ({"type": "textfield", "key": "a", "properties": {"x": 1}}, "components[0].properties", "strings"),
        (
            {"type": "textfield", "key": "a", "properties": {"pmoflow:requiredWhen": "decision =="}},
            "components[0].properties.pmoflow:requiredWhen",
            "not a valid expression",
        ),
        (
            {"type": "textfield", "key": "a", "properties": {"pmoflow:requiredWhen": " "}},
            "components[0].properties.pmoflow:requiredWhen",
            "empty",
        ),
        (
            {"type": "text", "text": "hi", "properties": {"pmoflow:requiredWhen": "a == 1"}},
            "components[0].properties",
            "only input fields",
        ),
        (
            {"type": "textfield", "key": "a", "validate": {"required": True}, "conditional": {"hide": "=b"}},
            "components[0].validate.required",
            "hide condition",
        ),
        ({"type": "dynamiclist", "components": []}, "components[0].path", "dynamiclist without path"),
        ({"type": "group", "path": "a.b", "components": []}, "components[0].path", "not a valid identifier"),
        ({"type": "group", "components": {}}, "components[0].components", "must be a list"),
    ],
)
def test_component_problems(component, path, message):
    problems = [p for p in check_form(form(component)) if p.path == path]
    assert problems, check_form(form(component))
    assert message in problems[0].message


def test_duplicate_keys_and_ids_are_reported_with_the_first_place():
    schema = form(
        field("textfield", "title"),
        {"type": "group", "components": [{"type": "textarea", "key": "title", "id": "Field_title"}]},
    )
    problems = check_form(schema)
    assert FormProblem("components[1].components[0].key", "duplicate key 'title' (also at components[0].key)") in (
        problems
    )
    assert FormProblem("components[1].components[0].id", "duplicate id 'Field_title' (also at components[0])") in (
        problems
    )


def test_keys_in_separate_data_scopes_may_repeat():
    schema = form(
        field("textfield", "name"),
        {"type": "group", "path": "owner", "components": [field("textfield", "name", id="owner_name")]},
        {"type": "dynamiclist", "path": "items", "components": [field("textfield", "name", id="item_name")]},
    )
    assert check_form(schema) == []


def test_container_path_clashing_with_a_key_is_a_duplicate():
    schema = form(field("textfield", "items"), {"type": "dynamiclist", "path": "items", "components": []})
    assert paths(check_form(schema)) == ["components[1].path"]


def test_required_field_inside_conditionally_hidden_group_is_a_problem():
    child = field("textfield", "a", validate={"required": True})
    schema = form({"type": "group", "conditional": {"hide": "=x"}, "components": [child]})
    assert paths(check_form(schema)) == ["components[0].components[0].validate.required"]


def test_display_components_and_dynamic_values_need_no_key_or_values():
    schema = form(
        {"type": "text", "text": "# Approve"},
        {"type": "separator"},
        {"type": "button", "action": "submit", "label": "Send"},
        field("select", "owner", valuesKey="owners"),
        field("checklist", "tags", valuesExpression="=tags"),
        {"type": "textfield", "key": "a", "validate": {"minLength": None, "pattern": ""}},
    )
    assert check_form(schema) == []


def test_deep_nesting_is_a_problem_not_a_crash():
    component = field("textfield", "leaf")
    for _ in range(40):
        component = {"type": "group", "components": [component]}
    assert any("nested more than" in p.message for p in check_form(form(component)))


def test_check_form_never_raises_on_junk():
    junk = form(
        {"type": "group", "components": [None, 3, {"type": 5}, {"type": ["textfield"]}, {"type": {}}]},
        {"type": "number", "key": "n", "validate": {"min": [], "max": {}}, "decimalDigits": "x"},
        {"type": "select", "key": "s", "values": [None, 3], "valuesKey": 4},
    )
    assert len(check_form(junk)) >= 5


# --- form_fields ------------------------------------------------------------------------------


def test_form_fields_flattens_containers_in_order():
    schema = form(
        field("textfield", "title"),
        {"type": "text", "text": "info"},
        {"type": "group", "components": [field("number", "budget"), field("checkbox", "urgent")]},
        {"type": "dynamiclist", "path": "risks", "components": [field("textarea", "risk")]},
    )
    assert [f["key"] for f in form_fields(schema)] == ["title", "budget", "urgent", "risk"]


# --- validate_submission: general rules -------------------------------------------------------


def test_valid_submission_is_cleaned():
    assert cleaned_of(approval_form(), {"decision": "approve"}) == {"decision": "approve"}


def test_underscore_and_unknown_keys_are_refused():
    errors = errors_of(approval_form(), {"decision": "approve", "_builtins": 1, "title": "x"})
    assert errors == {"_builtins": "field names may not start with '_'", "title": "not a field of this form"}


def test_non_dict_data_raises():
    with pytest.raises(TypeError):
        validate_submission(approval_form(), ["decision"])


def test_errors_mean_nothing_is_returned():
    cleaned, errors = validate_submission(approval_form(), {"decision": "approve", "comment": 5})
    assert (cleaned, errors) == ({}, {"comment": "must be text"})


def test_display_only_component_carries_no_data():
    schema = form({"type": "text", "text": "hello", "key": "greeting"}, field("textfield", "a"))
    assert errors_of(schema, {"greeting": "hi"}) == {"greeting": "not a field of this form"}


@pytest.mark.parametrize("value", [None, "", "   ", [], False])
def test_required_rejects_empty_values(value):
    kind = {list: "checklist", bool: "checkbox"}.get(type(value), "textfield")
    extra = {"values": DECISION_VALUES} if kind == "checklist" else {}
    schema = form(field(kind, "a", validate={"required": True}, **extra))
    assert errors_of(schema, {"a": value}) == {"a": "required"}
    assert errors_of(schema, {}) == {"a": "required"}


def test_optional_empty_values_are_kept():
    schema = form(field("textfield", "a"), field("number", "n"), field("select", "s", values=DECISION_VALUES))
    assert cleaned_of(schema, {"a": "", "n": None, "s": None}) == {"a": "", "n": None, "s": None}
    assert cleaned_of(schema, {}) == {}


# --- text -------------------------------------------------------------------------------------


def test_text_length_and_pattern():
    schema = form(field("textfield", "code", validate={"minLength": 2, "maxLength": 4, "pattern": "[A-Z]+"}))
    assert errors_of(schema, {"code": "A"}) == {"code": "at least 2 characters"}
    assert errors_of(schema, {"code": "ABCDE"}) == {"code": "at most 4 characters"}
    assert errors_of(schema, {"code": "ABc"}) == {"code": "does not match the required format"}
    assert errors_of(schema, {"code": "xAB"}) == {"code": "does not match the required format"}  # full match
    assert cleaned_of(schema, {"code": "ABC"}) == {"code": "ABC"}


def test_text_must_be_a_string():
    schema = form(field("textarea", "notes"))
    assert errors_of(schema, {"notes": ["x"]}) == {"notes": "must be text"}


def test_text_validation_types():
    schema = form(
        field("textfield", "mail", validate={"validationType": "email"}),
        field("textfield", "phone", validate={"validationType": "phone"}),
    )
    assert cleaned_of(schema, {"mail": "pmo@example.org", "phone": "+49 30 1234567"})
    assert errors_of(schema, {"mail": "pmo@", "phone": "1234"}) == {
        "mail": "must be an email address",
        "phone": "must be a phone number in international format (+...)",
    }


# --- number -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(120000, 120000), (1.5, 1.5), ("120000", 120000), (" 2.25 ", 2.25), ("-3", -3), ("1e3", 1000.0)],
)
def test_number_accepts_numbers_and_numeric_strings(value, expected):
    cleaned = cleaned_of(form(field("number", "budget")), {"budget": value})
    assert cleaned == {"budget": expected}
    assert type(cleaned["budget"]) is type(expected)


@pytest.mark.parametrize("value", [True, False, "12k", "nan", "inf", [1], {"a": 1}, float("inf"), "1" * 40])
def test_number_rejects_non_numbers(value):
    assert errors_of(form(field("number", "budget")), {"budget": value}) == {"budget": "must be a number"}


def test_number_limits_digits_and_increment():
    schema = form(field("number", "n", validate={"min": 0, "max": 10.5}, decimalDigits=1, increment="0.5"))
    assert errors_of(schema, {"n": -1}) == {"n": "at least 0"}
    assert errors_of(schema, {"n": 11}) == {"n": "at most 10.5"}
    assert errors_of(schema, {"n": 1.25}) == {"n": "at most 1 decimal digits"}
    assert errors_of(schema, {"n": 1.2}) == {"n": "must be a multiple of 0.5"}
    assert cleaned_of(schema, {"n": "2.5"}) == {"n": 2.5}


# --- checkbox and choices ---------------------------------------------------------------------


def test_checkbox_is_bool():
    schema = form(field("checkbox", "ok"))
    assert cleaned_of(schema, {"ok": False}) == {"ok": False}
    assert errors_of(schema, {"ok": "true"}) == {"ok": "must be true or false"}
    assert errors_of(schema, {"ok": 1}) == {"ok": "must be true or false"}


def test_required_checkbox_must_be_checked():
    schema = form(field("checkbox", "confirmed", validate={"required": True}))
    assert errors_of(schema, {"confirmed": False}) == {"confirmed": "required"}
    assert cleaned_of(schema, {"confirmed": True}) == {"confirmed": True}


@pytest.mark.parametrize("kind", ["radio", "select"])
def test_single_choice_must_be_a_listed_value(kind):
    schema = form(field(kind, "decision", values=DECISION_VALUES))
    assert cleaned_of(schema, {"decision": "reject"}) == {"decision": "reject"}
    assert errors_of(schema, {"decision": "maybe"}) == {"decision": "must be one of: approve, reject"}
    assert errors_of(schema, {"decision": "Approve"}) == {"decision": "must be one of: approve, reject"}


def test_single_choice_with_dynamic_values_accepts_any_string():
    schema = form(field("select", "owner", valuesKey="owners"), field("radio", "r", valuesExpression="=opts"))
    assert cleaned_of(schema, {"owner": "alice", "r": "x"}) == {"owner": "alice", "r": "x"}
    assert errors_of(schema, {"owner": 3}) == {"owner": "must be text"}


@pytest.mark.parametrize("kind", ["checklist", "taglist"])
def test_multi_choice_is_a_list_of_allowed_values(kind):
    values = [{"label": x, "value": x} for x in ("db", "network", "app")]
    schema = form(field(kind, "areas", values=values, validate={"required": True}))
    assert cleaned_of(schema, {"areas": ["db", "app"]}) == {"areas": ["db", "app"]}
    assert errors_of(schema, {"areas": "db"}) == {"areas": "must be a list of values"}
    assert errors_of(schema, {"areas": ["db", "cloud"]}) == {"areas": "may only contain: db, network, app"}
    assert errors_of(schema, {"areas": ["db", "db"]}) == {"areas": "must not repeat a value"}
    assert errors_of(schema, {"areas": []}) == {"areas": "required"}


def test_taglist_with_dynamic_values_accepts_strings():
    schema = form(field("taglist", "tags", valuesKey="known_tags"))
    assert cleaned_of(schema, {"tags": ["a", "b"]}) == {"tags": ["a", "b"]}
    assert errors_of(schema, {"tags": ["a", 1]}) == {"tags": "must be a list of values"}


# --- datetime ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subtype", "good", "bad"),
    [
        ("date", "2025-03-31", ["2025-02-30", "20250331", "31.03.2025", "2025-03-31T10:00"]),
        ("time", "14:30", ["25:00", "2pm", "14"]),
        ("time", "14:30+02:00", ["14:30+2"]),
        ("datetime", "2025-03-31T14:30:00Z", ["2025-03-31", "2025-03-31 14:30", "2025-03-31T14:61"]),
    ],
)
def test_datetime_parses_iso_strings(subtype, good, bad):
    schema = form(field("datetime", "when", subtype=subtype))
    assert cleaned_of(schema, {"when": good}) == {"when": good}
    for value in bad:
        assert "when" in errors_of(schema, {"when": value}), value


def test_datetime_defaults_to_date_and_rejects_non_strings():
    schema = form(field("datetime", "go_live_date"))
    assert cleaned_of(schema, {"go_live_date": "2025-06-01"}) == {"go_live_date": "2025-06-01"}
    assert errors_of(schema, {"go_live_date": 20250601}) == {"go_live_date": "must be a date (YYYY-MM-DD)"}


def test_datetime_time_zone_follows_explicit_format():
    def schema(fmt):
        return form(field("datetime", "at", subtype="datetime", timeSerializingFormat=fmt))

    assert errors_of(schema("no_timezone"), {"at": "2025-01-01T10:00Z"}) == {"at": "must not include a time zone"}
    assert errors_of(schema("utc_offset"), {"at": "2025-01-01T10:00"}) == {"at": "must include a time zone"}
    assert errors_of(schema("utc_normalized"), {"at": "2025-01-01T10:00+01:00"}) == {
        "at": "must be in UTC (ending in Z)"
    }
    assert cleaned_of(schema("utc_normalized"), {"at": "2025-01-01T10:00Z"})


# --- requiredWhen -----------------------------------------------------------------------------


def test_comment_required_when_rejecting_with_fallback():
    schema = approval_form()
    assert errors_of(schema, {"decision": "reject"}) == {"comment": "required"}
    assert errors_of(schema, {"decision": "reject", "comment": "  "}) == {"comment": "required"}
    assert cleaned_of(schema, {"decision": "reject", "comment": "Too expensive"})
    assert cleaned_of(schema, {"decision": "approve"}) == {"decision": "approve"}


def test_required_when_uses_the_given_evaluator_with_cleaned_values():
    seen = []

    def evaluate(expression, values):
        seen.append((expression, dict(values)))
        return values["decision"] == "reject"

    schema = approval_form()
    assert errors_of(schema, {"decision": "reject"}, evaluate) == {"comment": "required"}
    assert seen == [('decision == "reject"', {"decision": "reject"})]
    assert cleaned_of(schema, {"decision": "reject", "comment": "no"}, evaluate)
    assert len(seen) == 1  # a filled field needs no evaluation


def test_fallback_supports_not_equal_and_other_literals():
    def schema(condition):
        return form(
            field("checkbox", "ok"),
            field("number", "n"),
            field("textarea", "why", properties={"pmoflow:requiredWhen": condition}),
        )

    assert errors_of(schema("ok != True"), {"ok": False}) == {"why": "required"}
    assert errors_of(schema("ok != True"), {}) == {"why": "required"}
    assert cleaned_of(schema("ok != True"), {"ok": True})
    assert errors_of(schema("n == 1"), {"n": "1"}) == {"why": "required"}
    assert errors_of(schema('"x" == n'), {"n": None}) == {}


def test_fallback_does_not_treat_true_as_one():
    schema = form(field("number", "n"), field("textarea", "why", properties={"pmoflow:requiredWhen": "n == True"}))
    assert cleaned_of(schema, {"n": 1}) == {"n": 1}


@pytest.mark.parametrize("condition", ["decision in ('a', 'b')", "__import__('os')", "a == b", "len(x) == 1"])
def test_fallback_refuses_anything_else(condition):
    schema = form(field("textarea", "why", properties={"pmoflow:requiredWhen": condition}))
    with pytest.raises(ValueError):
        validate_submission(schema, {})


def test_required_when_inside_a_list_sees_item_and_outer_values():
    item = [
        field("select", "level", values=[{"label": "High", "value": "high"}, {"label": "Low", "value": "low"}]),
        field("textarea", "mitigation", properties={"pmoflow:requiredWhen": 'level == "high"'}),
    ]
    schema = form(field("textfield", "title"), {"type": "dynamiclist", "path": "risks", "components": item})
    errors = errors_of(schema, {"risks": [{"level": "low"}, {"level": "high"}]})
    assert errors == {"risks[1].mitigation": "required"}
    seen = []

    def evaluate(expression, values):
        seen.append(values)
        return False

    cleaned_of(schema, {"title": "T", "risks": [{"level": "high"}]}, evaluate)
    assert len(seen) == 1
    assert (seen[0]["title"], seen[0]["level"]) == ("T", "high")


# --- disabled / readonly / hidden -------------------------------------------------------------


@pytest.mark.parametrize("settings", [{"disabled": True}, {"readonly": True}, {"conditional": {"hide": True}}])
def test_inactive_fields_ignore_submitted_values_and_are_never_required(settings):
    schema = form(field("textfield", "a"), field("textfield", "locked", validate={"required": True}, **settings))
    assert cleaned_of(schema, {"a": "x", "locked": "changed"}) == {"a": "x"}
    assert cleaned_of(schema, {}) == {}


def test_readonly_false_is_an_ordinary_field():
    schema = form(field("textfield", "a", readonly=False, disabled=False))
    assert cleaned_of(schema, {"a": "x"}) == {"a": "x"}


def test_conditionally_hidden_optional_field_is_validated_when_sent():
    schema = form(field("number", "n", conditional={"hide": "=x"}))
    assert errors_of(schema, {"n": "x"}) == {"n": "must be a number"}
    assert cleaned_of(schema, {}) == {}


# --- containers -------------------------------------------------------------------------------


def test_group_without_path_is_flat():
    schema = form({"type": "group", "components": [field("textfield", "a", validate={"required": True})]})
    assert cleaned_of(schema, {"a": "x"}) == {"a": "x"}
    assert errors_of(schema, {}) == {"a": "required"}


def test_group_with_path_nests_data():
    schema = form(
        {
            "type": "group",
            "path": "owner",
            "components": [field("textfield", "name", validate={"required": True})],
        }
    )
    assert cleaned_of(schema, {"owner": {"name": "Ada"}}) == {"owner": {"name": "Ada"}}
    assert errors_of(schema, {}) == {"owner.name": "required"}
    assert errors_of(schema, {"owner": "Ada"}) == {"owner": "must be an object"}
    assert errors_of(schema, {"owner": {"name": "Ada", "_x": 1}}) == {"owner._x": "field names may not start with '_'"}


def test_dynamiclist_is_a_list_of_objects():
    schema = form(
        {
            "type": "dynamiclist",
            "path": "risks",
            "components": [field("textfield", "risk", validate={"required": True}), field("number", "score")],
        }
    )
    data = {"risks": [{"risk": "Vendor delay", "score": "3"}, {"risk": "Budget"}]}
    assert cleaned_of(schema, data) == {"risks": [{"risk": "Vendor delay", "score": 3}, {"risk": "Budget"}]}
    assert cleaned_of(schema, {"risks": []}) == {"risks": []}
    assert errors_of(schema, {"risks": {"risk": "x"}}) == {"risks": "must be a list"}
    errors = errors_of(schema, {"risks": ["x", {"score": "high"}, {"other": 1}]})
    assert errors == {
        "risks[0]": "must be an object",
        "risks[1].score": "must be a number",
        "risks[1].risk": "required",
        "risks[2].other": "not a field of this form",
        "risks[2].risk": "required",
    }


def test_every_error_is_reported_at_once():
    schema = form(
        field("textfield", "title", validate={"required": True}),
        field("number", "budget", validate={"min": 0}),
        field("select", "department", values=[{"label": "IT", "value": "it"}]),
    )
    errors = errors_of(schema, {"budget": -5, "department": "hr", "extra": 1})
    assert errors == {
        "title": "required",
        "budget": "at least 0",
        "department": "must be one of: it",
        "extra": "not a field of this form",
    }


def test_file_fields_take_an_uploaded_file_description():
    schema = {
        "type": "default",
        "id": "f",
        "components": [{"type": "filepicker", "key": "offer", "label": "Offer", "validate": {"required": True}}],
    }
    assert check_form(schema) == []
    assert validate_submission(schema, {}) == ({}, {"offer": "required"})
    assert validate_submission(schema, {"offer": "offer.pdf"})[1] == {"offer": "must be an uploaded file"}
    assert validate_submission(schema, {"offer": {"name": "a.pdf", "size": 0}})[1] == {"offer": "the file is empty"}
    assert validate_submission(schema, {"offer": {"name": "a.pdf", "size": 3}}) == (
        {"offer": {"name": "a.pdf", "size": 3}},
        {},
    )


def test_dotted_and_spaced_keys_are_paths_into_nested_objects_as_form_js_reads_them():
    """Trisotech writes `Current Vacation Status.name` and `Vacation Approval` (C.8.1); form-js reads a dotted key
    as a path. Submitted nested or flat, the value lands nested; the parts keep the `_` protection."""
    schema = {
        "id": "vacation",
        "type": "default",
        "components": [
            {"type": "textfield", "key": "Current Vacation Status.name", "disabled": True},
            {"type": "number", "key": "Current Vacation Status.days"},
            {
                "type": "radio",
                "key": "Vacation Approval",
                "validate": {"required": True},
                "values": [{"label": "Approved", "value": "Approved"}, {"label": "Refused", "value": "Refused"}],
            },
            {"type": "textfield", "key": "to.email", "validate": {"required": True}},
        ],
    }
    assert check_form(schema) == []
    nested = {
        "Current Vacation Status": {"name": "ignored", "days": "3"},
        "Vacation Approval": "Approved",
        "to": {"email": "a@b.example"},
    }
    assert validate_submission(schema, nested) == (
        {"Current Vacation Status": {"days": 3}, "Vacation Approval": "Approved", "to": {"email": "a@b.example"}},
        {},
    )
    cleaned, errors = validate_submission(schema, {"to.email": "a@b.example", "Vacation Approval": "Refused"})
    assert errors == {} and cleaned == {"to": {"email": "a@b.example"}, "Vacation Approval": "Refused"}
    assert validate_submission(schema, {"Vacation Approval": "Approved"})[1] == {"to.email": "required"}
    assert validate_submission(schema, {"to": {"_x": 1}, "Vacation Approval": "Approved", "to.email": "a"})[1] == {
        "to._x": "not a field of this form"
    }
    clash = {
        "id": "clash",
        "type": "default",
        "components": [{"type": "textfield", "key": "to"}, {"type": "textfield", "key": "to.email"}],
    }
    assert [p.path for p in check_form(clash)] == ["components[1].key"]
