"""What a saved state holds: values scripts leave (dates, Decimals) are saved, values a state cannot hold are an
incident naming the script and the variable, and variables that look like saved values stay data.

Before: a script setting a `date`, a `Decimal`, a set or an int of 5,000 digits made the start (and every later
step) a 500; a variable `{"typename": "Decimal", "value": "1e400000"}` came back from the saved state as a
Decimal, whose `int()` in a gateway held every thread for seconds; `{"typename": "nothing"}` made every later
step a 500."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

import pytest

from tests.bpmn_samples import document, flow, linear, process, script_task, user_task


def deploy(as_: Any, text: str) -> None:
    files = {"files": [(io.BytesIO(text.encode()), "saved.bpmn")]}
    response = as_("pmo").post("/api/v1/process-definitions", data=files, content_type="multipart/form-data")
    assert response.status_code == 201, response.json


def start(as_: Any, variables: dict[str, Any]) -> Any:
    return as_("pmo").post("/api/v1/process-instances", json={"process": "saved", "variables": variables})


def complete_the_task(as_: Any, started: Any) -> Any:
    [task] = started.json["open_tasks"]
    return as_("pmo").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}})


def then_decide(condition: str) -> str:
    """start -> user task -> gateway: `condition` to the end event `yes`, else `no`."""
    body = (
        '<bpmn:startEvent id="start"/>\n<bpmn:userTask id="u" name="U"/>\n'
        '<bpmn:exclusiveGateway id="route" default="f_no"/>\n<bpmn:endEvent id="yes"/>\n<bpmn:endEvent id="no"/>\n'
        + flow("f0", "start", "u")
        + flow("f1", "u", "route")
        + flow("f_yes", "route", "yes", escape(condition))
        + flow("f_no", "route", "no")
    )
    return document(process(body, pid="saved"))


@pytest.mark.parametrize(
    "variable",
    [
        {"typename": "Decimal", "value": "1e400000"},
        {"typename": "date", "value": "2026-01-01"},
        {"typename": "nothing", "x": [1, {"typename": "UUID", "value": "x"}]},
        {"typename": "pmoflow.data", "items": {}},
    ],
    ids=["decimal", "date", "unknown", "wrapped"],
)
def test_a_variable_that_looks_like_a_saved_value_stays_data(as_: Any, variable: dict[str, Any]) -> None:
    deploy(as_, then_decide("isinstance(d, dict) and d == expected and nested['a'] == expected"))
    started = start(as_, {"d": variable, "expected": variable, "nested": {"a": variable}, "typename": "x"})
    assert started.status_code == 201, started.json
    done = complete_the_task(as_, started)
    assert done.status_code == 200, done.json
    instance = as_("pmo").get(f"/api/v1/process-instances/{started.json['id']}").json
    assert instance["status"] == "completed" and instance["error"] is None, instance["error"]
    assert instance["variables"]["d"] == variable


def test_dates_and_decimals_a_script_sets_are_saved_and_read_again(as_: Any) -> None:
    script = "when = date(2026, 1, 2)\nat = datetime(2026, 1, 2, 3, 4)\namount = Decimal('12.50')\nrows = [when]"
    deploy(as_, linear((script_task("s", escape(script)), "s"), (user_task("u"), "u"), pid="saved"))
    started = start(as_, {})
    assert started.status_code == 201, started.json
    assert started.json["status"] == "running", started.json
    assert started.json["variables"]["when"] == "2026-01-02" and started.json["variables"]["amount"] == 12.5
    assert complete_the_task(as_, started).status_code == 200


@pytest.mark.parametrize(
    ("script", "why"),
    [
        ("x = {1, 2}", "holds a set"),
        ("x = [b'abc']", "holds a value of type bytes"),
        ("x = {(1, 2): 3}", "has a key of type tuple"),
        ("x = 10**5000", "integer of more than 4,300 digits"),
        ("x = {'a': [7**6000]}", "integer of more than 4,300 digits"),
        ("x = [float('nan')]", "holds nan"),
        ("x = Decimal('Infinity')", "holds Infinity"),
        ("x = range(3)", "holds a value of type range"),
    ],
)
def test_a_value_a_state_cannot_hold_is_an_incident_naming_script_and_variable(as_: Any, script: str, why: str) -> None:
    deploy(as_, linear((script_task("s", escape(script)), "s"), (user_task("u"), "u"), pid="saved"))
    started = start(as_, {})
    assert started.status_code == 201, started.json
    assert started.json["status"] == "error", started.json
    error = started.json["error"]
    assert error["element_id"] == "s" and "'x'" in error["message"] and why in error["message"], error
