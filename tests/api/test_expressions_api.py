"""Camunda 7 and Camunda 8 models, as their modelers write them, deployed and run through the API unchanged."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from engine.runtime.timers import fire_due
from tests.api.journeys import instance, start
from tests.api.journeys import path_of as path

MODELS = Path(__file__).parent.parent / "models" / "expressions"


def upload(*names: str, replace: dict[str, str] | None = None) -> dict:
    files, unused = [], set(replace or {})
    for name in names:
        text = (MODELS / name).read_text()
        for old, new in (replace or {}).items():
            if old in text:
                text = text.replace(old, new)
                unused.discard(old)
        files.append((io.BytesIO(text.encode()), name))
    assert not unused, f"replacements that match no file: {unused}"
    return {"files": files}


def deploy(as_, *names: str, replace: dict[str, str] | None = None, status: int = 201):
    response = as_("pmo").post(
        "/api/v1/process-definitions", data=upload(*names, replace=replace), content_type="multipart/form-data"
    )
    assert response.status_code == status, response.json
    return response.json


def complete(as_, who: str, task_id: str, data: dict | None = None) -> dict:
    response = as_(who).post(f"/api/v1/tasks/{task_id}/complete", json={"data": data or {}})
    assert response.status_code == 200, response.json
    return response.json


C7 = ("c7_invoice.bpmn", "c7_customer_check.bpmn", "invoice_risk.dmn")


def test_camunda7_invoice_runs_unchanged_without_approval(as_):
    deploy(as_, *C7)
    started = start(
        as_, "c7_invoice", {"amount": 1000, "trusted": False, "customer": {"name": "Acme", "segment": "smb"}}
    )
    got = instance(as_, started["id"])
    assert got["status"] == "completed", (got, path(as_, started["id"]))
    assert path(as_, started["id"]) == [
        "StartEvent_1",
        "Activity_risk",
        "Gateway_route",
        "StartEvent_chk",
        "Activity_verdict",
        "EndEvent_chk",
        "Activity_check",
        "Gateway_paid",
        "EndEvent_paid",
    ]
    variables = got["variables"]
    assert variables["net"] == 800 and variables["channel"] == "email"
    assert variables["tags"] == ["invoice", "smb"]
    assert variables["meta"] == {"who": "Acme", "greeting": "Dear Acme"}
    assert variables["approvalNeeded"] is False and variables["risk"] == "low"
    assert variables["checkResult"] == "ok"
    assert "verdict" not in variables and "verdict_seen" not in variables  # only mapped outputs come back


def test_camunda7_invoice_takes_the_approval_path(as_):
    deploy(as_, *C7)
    started = start(
        as_, "c7_invoice", {"amount": 20000, "trusted": False, "customer": {"name": "Big", "segment": "enterprise"}}
    )
    [task] = started["open_tasks"]
    assert task["element_id"] == "Activity_approve"
    done = complete(as_, "alice", task["id"])
    assert done["status"] == "completed"
    got = instance(as_, started["id"])
    assert got["variables"]["risk"] == "high" and got["variables"]["approvalNeeded"] is True
    assert got["variables"]["checkResult"] == "review"
    assert path(as_, started["id"])[-3:] == ["Activity_check", "Gateway_paid", "EndEvent_unpaid"]
    assert "Activity_approve" in path(as_, started["id"])


C8 = ("c8_order.bpmn", "c8_notify.bpmn", "order_tier.dmn")


def test_camunda8_order_runs_unchanged_on_the_gold_path(as_):
    deploy(as_, *C8)
    lines = [{"qty": 2, "price": 300}, {"qty": 1, "price": 500.5}]
    started = start(as_, "c8_order", {"lines": lines, "customer": "acme"})
    got = instance(as_, started["id"])
    assert got["status"] == "completed", (got, path(as_, started["id"]))
    taken = path(as_, started["id"])
    assert taken[0] == "StartEvent_1" and taken.count("Activity_subtotal") >= 2
    assert [e for e in taken if e != "Activity_subtotal"] == [
        "StartEvent_1",
        "Activity_total",
        "Activity_tier",
        "Gateway_tier",
        "Activity_label",
        "StartEvent_n",
        "Activity_send",
        "EndEvent_n",
        "Activity_notify",
        "EndEvent_gold",
    ]
    variables = got["variables"]
    assert variables["subtotals"] == [600, 500.5]
    assert variables["total"] == 1100.5 and variables["gross"] == 1320.6
    assert variables["amount"] == 1100.5 and variables["channel"] == "web"
    assert variables["tier"] == "gold" and variables["label"] == "VIP ACME"
    assert variables["notified"] == "sent: VIP ACME"
    assert "sent" not in variables and "message" not in variables  # only mapped outputs come back


def test_camunda8_order_takes_the_default_flow(as_):
    deploy(as_, *C8)
    started = start(as_, "c8_order", {"lines": [{"qty": 1, "price": 10}], "customer": "small"})
    got = instance(as_, started["id"])
    assert got["status"] == "completed", got
    assert path(as_, started["id"])[-3:] == ["Activity_tier", "Gateway_tier", "EndEvent_standard"]
    assert got["variables"]["tier"] == "silver" and "label" not in got["variables"]


CALLER = ("c7_invoice.bpmn", "invoice_risk.dmn")
CALLEE_V2 = {'verdict = "ok" if': 'verdict = "ok-v2" if'}
SMALL = {"amount": 100, "trusted": True, "customer": {"name": "Acme", "segment": "smb"}}


def test_a_call_activity_calls_the_latest_published_callee_of_another_deployment(as_):
    deploy(as_, "c7_customer_check.bpmn")
    first = deploy(as_, *CALLER)
    run = start(as_, "c7_invoice", SMALL)
    assert instance(as_, run["id"])["variables"]["checkResult"] == "ok"
    assert "Activity_verdict" in path(as_, run["id"])
    deploy(as_, "c7_customer_check.bpmn", replace=CALLEE_V2)  # the callee's version 2
    again = deploy(as_, *CALLER)  # the caller picks it up when deployed
    [caller] = [d for d in again["definitions"] if d["key"] == "c7_invoice"]
    [before] = [d for d in first["definitions"] if d["key"] == "c7_invoice"]
    assert caller["version"] == before["version"] + 1
    run2 = start(as_, "c7_invoice", SMALL)
    assert instance(as_, run2["id"])["variables"]["checkResult"] == "ok-v2"


def test_a_pinned_version_binding_calls_that_version(as_):
    deploy(as_, "c7_customer_check.bpmn")
    deploy(as_, "c7_customer_check.bpmn", replace=CALLEE_V2)
    pinned = {
        'camunda:calledElementBinding="latest"': 'camunda:calledElementBinding="version" camunda:calledElementVersion="1"'
    }
    deploy(as_, *CALLER, replace=pinned)
    run = start(as_, "c7_invoice", SMALL)
    assert instance(as_, run["id"])["variables"]["checkResult"] == "ok"


def problems_of(response: dict) -> list[dict]:
    return response["error"]["details"]["problems"]


def test_a_deployment_binding_needs_the_callee_in_the_same_deployment(as_):
    deploy(as_, "c7_customer_check.bpmn")
    binding = {'camunda:calledElementBinding="latest"': 'camunda:calledElementBinding="deployment"'}
    refused = deploy(as_, *CALLER, replace=binding, status=422)
    [problem] = problems_of(refused)
    assert problem["element_id"] == "Activity_check" and "c7_customer_check" in problem["message"]
    assert problem["file"] == "c7_invoice.bpmn" and problem["line"] > 1


def test_a_missing_callee_or_version_is_a_deploy_problem(as_):
    refused = deploy(as_, *CALLER, status=422)
    assert [(p["element_id"], p["code"]) for p in problems_of(refused)] == [("Activity_check", "missing_callee")]
    deploy(as_, "c7_customer_check.bpmn")
    pinned = {
        'camunda:calledElementBinding="latest"': 'camunda:calledElementBinding="version" camunda:calledElementVersion="7"'
    }
    [problem] = problems_of(deploy(as_, *CALLER, replace=pinned, status=422))
    assert "version 7" in problem["message"] and problem["element_id"] == "Activity_check"


def test_juel_beyond_the_subset_is_refused_at_deploy_naming_element_and_expression(as_):
    bad = {
        "${approvalNeeded}": "${execution.getVariable('approvalNeeded')}",
        "${customer.name}</camunda:entry>": "${customer.getName()}</camunda:entry>",
    }
    refused = deploy(as_, *C7, replace=bad, status=422)
    found = {(p["element_id"], p["code"]) for p in problems_of(refused)}
    assert found == {("Flow_approve", "unsupported_expression"), ("Activity_risk", "unsupported_expression")}
    messages = " ".join(p["message"] for p in problems_of(refused))
    assert "execution.getVariable('approvalNeeded')" in messages and "customer.getName()" in messages
    assert all(p["file"] == "c7_invoice.bpmn" and p["line"] for p in problems_of(refused))


def test_bad_feel_and_unsupported_forms_are_refused_at_deploy(as_):
    bad = {
        'source="=total * 1.2"': 'source="=total *"',  # FEEL syntax error in an output mapping
        '=tier = "gold" and count(lines) &gt;= 2': '=tier = "gold" and',
        'inputCollection="=lines"': 'inputCollection="=order.lines[item &gt; 1]"',
    }
    refused = deploy(as_, *C8, replace=bad, status=422)
    found = sorted((p["element_id"], p["code"]) for p in problems_of(refused))
    assert found == [
        ("Activity_subtotal", "unsupported_expression"),
        ("Activity_total", "bad_expression"),
        ("Flow_gold", "bad_expression"),
    ]
    assert any("=total *" in p["message"] for p in problems_of(refused))


def test_a_script_language_we_do_not_run_is_a_deploy_problem(as_):
    groovy = {'scriptFormat="python"': 'scriptFormat="groovy"'}
    [problem] = problems_of(deploy(as_, "c7_customer_check.bpmn", replace=groovy, status=422))
    assert problem["element_id"] == "Activity_verdict" and "groovy" in problem["message"]


def test_an_unknown_decision_result_mapping_is_a_deploy_problem(as_):
    odd = {'camunda:mapDecisionResult="singleEntry"': 'camunda:mapDecisionResult="firstEntry"'}
    [problem] = problems_of(deploy(as_, *C7, replace=odd, status=422))
    assert problem["element_id"] == "Activity_risk" and "firstEntry" in problem["message"]


def test_a_feel_call_that_cannot_work_is_null_as_the_standard_says(as_):
    deploy(as_, *C8)
    started = start(
        as_, "c8_order", {"lines": [{"qty": 2, "price": 600}, {"qty": 1, "price": 1}], "customer": 5}
    )  # upper case(5): not a string, so null, and "VIP " + null is null (DMN 1.5, 10.3.2.9)
    got = instance(as_, started["id"])
    assert got["error"] is None and "label" in got["variables"] and got["variables"]["label"] is None, got


def test_a_feel_error_at_run_time_is_an_incident_naming_the_element_and_expression(as_):
    huge = {  # past the size a FEEL value may reach: the evaluation stops, the step becomes an incident
        "upper case(customer)": "string join(for i in 1..300000 return &#34;xxxxxxxxxx&#34;, &#34;&#34;)"
    }
    deploy(as_, *C8, replace=huge)
    started = start(as_, "c8_order", {"lines": [{"qty": 2, "price": 600}, {"qty": 1, "price": 1}], "customer": "x"})
    got = instance(as_, started["id"])
    assert got["status"] != "completed" and got["error"] is not None, got
    text = str(got["error"])
    assert "Activity_label" in text and "string join" in text, got["error"]


def test_the_shipped_examples_are_the_models_tested_here():
    examples = MODELS.parents[2] / "workflows" / "examples"
    for folder, names in (("camunda7-invoice", C7 + ("c7_customer_check.bpmn",)), ("camunda8-order", C8)):
        for name in set(names):
            assert (examples / folder / name).read_bytes() == (MODELS / name).read_bytes(), name


def test_a_camunda7_majority_review_ends_when_the_completion_condition_holds(as_):
    deploy(as_, "c7_reviews.bpmn")
    started = start(as_, "c7_reviews", {"reviewers": ["ann", "ben", "cat"]})
    tasks = started["open_tasks"]
    assert [t["element_id"] for t in tasks] == ["Activity_review"] * 3
    complete(as_, "alice", tasks[0]["id"], {"vote": "yes"})
    assert instance(as_, started["id"])["status"] == "running"  # 1 of 3: not yet
    done = complete(as_, "alice", tasks[1]["id"], {"vote": "yes"})
    assert done["status"] == "completed", done  # 2 of 3 > 0.5
    got = instance(as_, started["id"])
    assert got["status"] == "completed" and got["open_tasks"] == []
    assert path(as_, started["id"]) == [
        "StartEvent_1",
        "Activity_review",
        "Activity_review",
        "Activity_review",
        "EndEvent_1",
    ]


def test_camunda8_mappings_and_a_feel_output_element_apply_to_each_instance(as_):
    deploy(as_, "c8_line_tiers.bpmn", "order_tier.dmn")
    lines = [{"sku": "A", "qty": 3, "price": 500}, {"sku": "B", "qty": 1, "price": 20}]
    started = start(as_, "c8_line_tiers", {"lines": lines})
    got = instance(as_, started["id"])
    assert got["status"] == "completed", got
    assert got["variables"]["tiers"] == [
        {"sku": "A", "tier": "gold", "amount": 1500},
        {"sku": "B", "tier": "silver", "amount": 20},
    ]
    assert path(as_, started["id"]) == [
        "StartEvent_1",
        "Activity_tiers",
        "Activity_tiers",
        "Activity_tiers",
        "EndEvent_1",
    ]


def test_a_feel_timer_duration_waits_as_long_as_it_says(as_, engine_ctx, clock):
    deploy(as_, "c8_wait.bpmn")
    started = start(as_, "c8_wait", {"hours": 2})
    assert instance(as_, started["id"])["status"] == "running"
    clock.advance(timedelta(hours=1, minutes=59))
    assert fire_due(engine_ctx) == 0
    clock.advance(timedelta(minutes=2))
    assert fire_due(engine_ctx) == 1
    assert instance(as_, started["id"])["status"] == "completed"
    assert path(as_, started["id"]) == ["StartEvent_1", "Event_cooling", "EndEvent_1"]


def test_camunda7_all_variables_in_and_out(as_):
    everything = {
        '<camunda:in source="net" target="amount" />': '<camunda:in source="net" target="amount" /><camunda:in variables="all" />'
        '<camunda:out variables="all" />'
    }
    deploy(as_, *C7, replace=everything)
    got = instance(as_, start(as_, "c7_invoice", SMALL)["id"])
    assert got["status"] == "completed"
    assert got["variables"]["verdict_seen"] == ["Acme", True]  # trusted went in
    assert got["variables"]["verdict"] == "ok" and got["variables"]["checkResult"] == "ok"
    assert got["variables"]["amount"] == 80  # out variables="all": the callee's amount (net) came back


def test_a_single_entry_of_a_decision_with_two_outputs_is_a_deploy_problem(as_):
    two = {
        '<output id="Output_1" label="Risk" name="risk" typeRef="string" />': '<output id="Output_1" label="Risk" name="risk" typeRef="string" />'
        '<output id="Output_2" label="Score" name="score" typeRef="number" />',
        '<outputEntry id="LiteralExpression_1"><text>"high"</text></outputEntry>': '<outputEntry id="LiteralExpression_1"><text>"high"</text></outputEntry>'
        '<outputEntry id="LiteralExpression_1b"><text>3</text></outputEntry>',
        '<outputEntry id="LiteralExpression_2"><text>"low"</text></outputEntry>': '<outputEntry id="LiteralExpression_2"><text>"low"</text></outputEntry>'
        '<outputEntry id="LiteralExpression_2b"><text>1</text></outputEntry>',
    }
    [problem] = problems_of(deploy(as_, *C7, replace=two, status=422))
    assert problem["element_id"] == "Activity_risk" and "singleEntry" in problem["message"]
    assert problem["file"] == "c7_invoice.bpmn" and problem["line"]


def test_a_business_key_in_mapping_alone_leaves_the_default_all_in(as_):
    business_key_only = {
        '<camunda:in source="net" target="amount" />': "",
        '<camunda:in sourceExpression="${customer.name}" target="who" />': '<camunda:in businessKey="#{execution.processBusinessKey}" />',
    }
    deploy(as_, *C7, replace=business_key_only)
    got = instance(as_, start(as_, "c7_invoice", {**SMALL, "who": "caller"})["id"])
    assert got["status"] == "completed", got
    assert got["variables"]["checkResult"] == "ok"  # amount and who reached the callee with every variable
