"""BPMN events end to end through the API, on SQLite and PostgreSQL: each model in tests/models/events
(written as Camunda Modeler writes them) is deployed, run to its end, and its path (element ids in order,
from the audit trail) and variables are checked. Timers fire by moving the injected clock and running the
timer job; signals thrown by instances travel by the worker's job."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from engine.monitoring import instances as monitoring
from engine.runtime.timers import fire_due
from engine.runtime.worker import Worker
from tests.factories import ADMIN

MODELS = Path(__file__).resolve().parent.parent / "models" / "events"
EXAMPLES = Path(__file__).resolve().parent.parent.parent / "workflows" / "examples"


def deploy(as_, *names: str) -> None:
    files = [(io.BytesIO((MODELS / f"{n}.bpmn").read_bytes()), f"{n}.bpmn") for n in names]
    response = as_("pmo").post("/api/v1/process-definitions", data={"files": files}, content_type="multipart/form-data")
    assert response.status_code == 201, response.json


def start(as_, process: str, **variables):  # type: ignore[no-untyped-def]
    response = as_("bot").post("/api/v1/process-instances", json={"process": process, "variables": variables})
    assert response.status_code == 201, response.json
    return response.json


def get(as_, instance):  # type: ignore[no-untyped-def]
    return as_("bot").get(f"/api/v1/process-instances/{instance['id']}").json


def trail(as_, instance) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    return [
        (e["type"], e["element_id"])
        for e in as_("audrey").get(f"/api/v1/process-instances/{instance['id']}/audit").json["events"]
    ]


def path(as_, instance) -> list[str]:  # type: ignore[no-untyped-def]
    return [element for kind, element in trail(as_, instance) if kind == "element_completed"]


def signal(as_, name: str, caller: str = "bot", **variables):  # type: ignore[no-untyped-def]
    return as_(caller).post("/api/v1/signals", json={"signal": name, "variables": variables})


def complete(as_, instance, **data):  # type: ignore[no-untyped-def]
    [task] = get(as_, instance)["open_tasks"]
    response = as_("pmo").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
    assert response.status_code == 200, response.json
    return response.json


def fire(engine_ctx, clock, **delta) -> int:  # type: ignore[no-untyped-def]
    clock.advance(timedelta(**delta))
    return fire_due(engine_ctx)


# ---------------------------------------------------------------- boundary events on tasks


def test_boundary_timers_remind_without_interrupting_then_interrupt(as_, engine_ctx, clock):
    deploy(as_, "boundary_timer")
    instance = start(as_, "ev_boundary_timer", reminders=0)
    assert fire(engine_ctx, clock, minutes=29) == 0
    assert fire(engine_ctx, clock, minutes=2) == 1  # R2/PT30M, bare: first reminder
    assert path(as_, instance) == ["StartEvent_1", "Remind", "CountReminder", "End_Reminded"]
    assert [t["element_id"] for t in get(as_, instance)["open_tasks"]] == ["Review"]
    fire(engine_ctx, clock, minutes=30)  # second and last reminder
    assert path(as_, instance) == ["StartEvent_1", *["Remind", "CountReminder", "End_Reminded"] * 2]
    fire(engine_ctx, clock, minutes=60)  # PT2H: the deadline interrupts
    done = get(as_, instance)
    assert done["status"] == "completed" and done["variables"]["late"] is True
    assert path(as_, instance)[-3:] == ["Deadline", "MarkLate", "End_Late"]
    assert ("task_cancelled", "Review") in trail(as_, instance)


def test_boundary_timer_does_not_fire_once_the_task_is_done(as_, engine_ctx, clock):
    deploy(as_, "boundary_timer")
    instance = start(as_, "ev_boundary_timer", reminders=0)
    assert complete(as_, instance)["status"] == "completed"
    assert fire(engine_ctx, clock, hours=3) == 0
    assert path(as_, instance) == ["StartEvent_1", "Review", "End_Done"]


def test_signal_and_message_boundaries(as_):
    deploy(as_, "boundary_message_signal")
    first = start(as_, "ev_boundary_msg_signal")
    pinged = signal(as_, "ping", note="hello")
    assert pinged.status_code == 200 and pinged.json == {"signal": "ping", "reached": 1, "resumed": 1, "started": 0}
    assert get(as_, first)["status"] == "running"  # non-interrupting: the task stays
    assert path(as_, first) == ["StartEvent_1", "Pinged", "Note_Ping", "End_Pinged"]
    assert signal(as_, "ping").json["resumed"] == 1  # and it fires again while it runs
    assert path(as_, first)[4:] == ["Pinged", "Note_Ping", "End_Pinged"]
    assert signal(as_, "stop_all").json["reached"] == 1
    stopped = get(as_, first)
    assert stopped["status"] == "completed" and stopped["variables"]["note"] == "hello"
    assert path(as_, first)[-2:] == ["Stopped", "End_Stopped"]
    assert [k for k, _ in trail(as_, first)].count("signal_received") == 3

    second = start(as_, "ev_boundary_msg_signal")
    cancelled = as_("bot").post(
        "/api/v1/messages",
        json={"message": "cancel_order", "instance_id": second["id"], "variables": {"why": "duplicate"}},
    )
    assert cancelled.status_code == 200 and cancelled.json["status"] == "completed"
    assert path(as_, second) == ["StartEvent_1", "Cancelled", "End_Cancelled"]
    assert cancelled.json["variables"]["why"] == "duplicate"
    assert signal(as_, "stop_all").json["reached"] == 0  # nobody waits any more


def test_conditional_boundaries_fire_when_variables_change(as_, engine_ctx):
    deploy(as_, "boundary_conditional")
    instance = start(as_, "ev_boundary_conditional", budget=10, escalate=False)
    assert path(as_, instance) == ["StartEvent_1"]
    monitoring.edit_variables(engine_ctx, ADMIN, instance["id"], {"budget": 5000}, [], "budget revised")
    assert path(as_, instance) == ["StartEvent_1", "Over_Budget", "Warn", "End_Warned"]  # non-interrupting
    assert get(as_, instance)["status"] == "running"
    monitoring.edit_variables(engine_ctx, ADMIN, instance["id"], {"escalate": True}, [], "escalated")
    done = get(as_, instance)
    assert done["status"] == "completed"
    assert done["variables"]["budget"] == 5000 and done["variables"]["escalate"] is True
    assert path(as_, instance)[-2:] == ["Escalated", "End_Escalated"]


def test_conditional_boundary_true_from_the_start_fires_at_once(as_):
    deploy(as_, "boundary_conditional")
    instance = start(as_, "ev_boundary_conditional", budget=10, escalate=True)
    assert instance["status"] == "completed"
    assert path(as_, instance) == ["StartEvent_1", "Escalated", "End_Escalated"]


# ---------------------------------------------------------------- intermediate events


def test_intermediate_catch_events_in_a_row(as_, engine_ctx, clock):
    deploy(as_, "intermediate_catch")
    instance = start(as_, "ev_intermediate_catch")
    assert signal(as_, "go").json["reached"] == 0  # not yet waiting for it
    assert (
        as_("bot")
        .post(
            "/api/v1/messages",
            json={"message": "approved", "instance_id": instance["id"], "variables": {"approver": "erin"}},
        )
        .status_code
        == 200
    )
    assert fire(engine_ctx, clock, minutes=59) == 0
    assert fire(engine_ctx, clock, minutes=2) == 1  # PT1H
    assert path(as_, instance)[-1] == "Wait_Duration"
    assert fire(engine_ctx, clock, hours=12) == 0  # the date: 2026-01-06 09:00 UTC
    assert fire(engine_ctx, clock, hours=12) == 1
    assert path(as_, instance)[-1] == "Wait_Date"
    assert fire(engine_ctx, clock, minutes=11) == 1  # R1/PT10M
    assert signal(as_, "go").json["reached"] == 1
    assert get(as_, instance)["status"] == "running"  # waits until `ready` holds
    monitoring.edit_variables(engine_ctx, ADMIN, instance["id"], {"ready": True}, [], "ready now")
    done = get(as_, instance)
    assert done["status"] == "completed" and done["variables"]["approver"] == "erin"
    assert path(as_, instance) == [
        "StartEvent_1",
        "Wait_Message",
        "Wait_Duration",
        "Wait_Date",
        "Wait_Cycle",
        "Wait_Signal",
        "Wait_Condition",
        "End_1",
    ]


def test_signals_thrown_by_an_instance_reach_the_others_and_start_processes(as_, engine_ctx):
    deploy(as_, "signal_throw")
    waiters = [start(as_, "ev_signal_waiter") for _ in range(3)]
    thrower = start(as_, "ev_signal_thrower")
    assert thrower["status"] == "completed"
    assert path(as_, thrower) == ["Thrower_Start", "Throw_Placed", "Throw_Done"]
    assert [e for e in trail(as_, thrower) if e[0] == "signal_thrown"] == [
        ("signal_thrown", "Throw_Placed"),
        ("signal_thrown", "Throw_Done"),
    ]
    assert all(get(as_, w)["status"] == "running" for w in waiters)  # delivered after the commit, by a job
    assert Worker(engine_ctx).run_jobs() == 2
    for waiter in waiters:
        assert get(as_, waiter)["status"] == "completed"
        assert path(as_, waiter) == ["Waiter_Start", "Catch_Placed", "Catch_Done", "Waiter_End"]
    started = as_("bot").get("/api/v1/process-instances?process=ev_signal_started").json
    assert started["total"] == 1 and started["items"][0]["status"] == "completed"


def test_a_signal_from_the_api_starts_processes_with_its_start_event(as_):
    deploy(as_, "signal_throw")
    waiter = start(as_, "ev_signal_waiter")
    answer = signal(as_, "order_placed", caller="pmo", order=42)
    assert answer.status_code == 200
    assert answer.json == {"signal": "order_placed", "reached": 2, "resumed": 1, "started": 1}
    [started] = as_("bot").get("/api/v1/process-instances?process=ev_signal_started").json["items"]
    assert started["status"] == "completed" and started["variables"]["order"] == 42
    assert started["variables"]["recorded"] is True
    assert path(as_, started) == ["Started_By_Signal", "Record", "Started_End"]
    assert path(as_, waiter) == ["Waiter_Start", "Catch_Placed"]


def test_link_events_jump_and_terminate_ends_every_branch(as_):
    deploy(as_, "link_terminate")
    instance = start(as_, "ev_link_terminate")
    assert instance["status"] == "completed" and instance["open_tasks"] == []
    assert instance["variables"]["hops"] == 2
    assert path(as_, instance) == [
        "StartEvent_1",
        "Split",
        "Before_Link",
        "Link_Out",
        "Link_In",
        "After_Link",
        "Terminate",
    ]


def test_an_uncaught_error_is_an_incident_naming_the_end_event(as_):
    deploy(as_, "uncaught_error")
    instance = start(as_, "ev_uncaught_error")
    assert instance["status"] == "error"
    assert instance["error"]["element_id"] == "Fail" and "BUDGET" in instance["error"]["message"]
    assert ("incident_raised", "Fail") in trail(as_, instance)
    retried = as_("pmo").post(f"/api/v1/process-instances/{instance['id']}/retry", json={"variables": {}})
    assert retried.status_code == 200 and retried.json["status"] == "completed"  # the retry accepts it


def test_an_event_based_gateway_takes_the_signal_the_message_or_the_timer(as_, engine_ctx, clock):
    deploy(as_, "event_gateway")
    by_signal, by_message, by_timer = (start(as_, "ev_event_gateway") for _ in range(3))
    assert signal(as_, "go_left").json["resumed"] == 3
    assert path(as_, by_signal) == ["StartEvent_1", "Which_First", "Left", "End_Left"]
    by_message, by_timer = start(as_, "ev_event_gateway"), start(as_, "ev_event_gateway")
    assert (
        as_("bot")
        .post("/api/v1/messages", json={"message": "go_right", "instance_id": by_message["id"]})
        .json["status"]
        == "completed"
    )
    assert path(as_, by_message) == ["StartEvent_1", "Which_First", "Right", "End_Right"]
    assert fire(engine_ctx, clock, minutes=59) == 0
    assert fire(engine_ctx, clock, minutes=2) == 1
    assert get(as_, by_timer)["status"] == "completed"
    assert path(as_, by_timer) == ["StartEvent_1", "Which_First", "Too_Late", "End_Late"]


# ---------------------------------------------------------------- sub-processes and event sub-processes


@pytest.mark.parametrize(
    ("problem", "tail", "variable"),
    [
        ("stock", ["Throw_Stock", "Order", "Caught_Stock", "Backorder", "End_Backorder"], "backordered"),  # by code
        ("payment", ["Throw_Payment", "Order", "Caught_Any", "Handle_Any", "End_Handled"], "handled"),  # catch-all
        ("plain", ["Throw_Plain", "Order", "Caught_Any", "Handle_Any", "End_Handled"], "handled"),  # no errorRef
        ("none", ["Order_End", "Order", "Ship", "End_Shipped"], "shipped"),
    ],
)
def test_errors_from_a_sub_process_are_caught_by_code_or_by_a_catch_all(as_, problem, tail, variable):
    deploy(as_, "subprocess_error")
    instance = start(as_, "ev_subprocess_error", problem=problem)
    assert instance["status"] == "completed" and instance["variables"][variable] is True
    assert path(as_, instance) == ["StartEvent_1", "Order_Start", "Check", "Outcome", *tail]


def test_escalations_from_a_sub_process(as_):
    deploy(as_, "subprocess_escalation")
    going_on = start(as_, "ev_subprocess_escalation", stop=False)  # non-interrupting: the review goes on
    assert going_on["status"] == "completed" and going_on["variables"]["reviewed"] is True
    assert going_on["variables"]["helped"] is True
    assert {"Helped", "Send_Help", "Escalating_Review", "End_Done"} <= set(path(as_, going_on))
    stopped = start(as_, "ev_subprocess_escalation", stop=True)  # escalation end event: interrupting
    assert stopped["status"] == "completed" and "End_Done" not in path(as_, stopped)
    assert path(as_, stopped)[:6] == [
        "StartEvent_1",
        "Review_Start",
        "Ask_Help",
        "Decide",
        "Stop_Review",
        "Escalating_Review",
    ]
    assert {"Stopped", "End_Stopped", "Helped"} <= set(path(as_, stopped))


def test_boundary_events_on_a_sub_process(as_, engine_ctx, clock):
    deploy(as_, "subprocess_boundaries")
    instance = start(as_, "ev_subprocess_boundaries", priority="low")
    for _ in range(2):  # non-interrupting: each update counts
        assert (
            as_("bot").post("/api/v1/messages", json={"message": "update", "instance_id": instance["id"]}).status_code
            == 200
        )
    monitoring.edit_variables(engine_ctx, ADMIN, instance["id"], {"priority": "high"}, [], "raised")
    assert [t["element_id"] for t in get(as_, instance)["open_tasks"]] == ["Read"]  # both non-interrupting
    assert signal(as_, "abort_review").json["resumed"] == 1
    done = get(as_, instance)
    assert done["status"] == "completed" and done["open_tasks"] == []
    assert path(as_, instance) == [
        "StartEvent_1",
        "Review_Start",
        "Updated",
        "Note_Update",
        "End_Updated",
        "Updated",
        "Note_Update",
        "End_Updated",
        "High_Priority",
        "Flag",
        "End_Flagged",
        "Aborted",
        "End_Aborted",
    ]
    late = start(as_, "ev_subprocess_boundaries", priority="low")
    assert fire(engine_ctx, clock, hours=23) == 0
    assert fire(engine_ctx, clock, hours=2) == 1  # P1D, bare
    assert path(as_, late) == ["StartEvent_1", "Review_Start", "Too_Long", "End_Too_Long"]
    normal = start(as_, "ev_subprocess_boundaries", priority="low")
    assert complete(as_, normal)["status"] == "completed"
    assert path(as_, normal) == ["StartEvent_1", "Review_Start", "Read", "Review_End", "Review", "End_Done"]


def test_event_sub_processes_by_timer_signal_and_message(as_, engine_ctx, clock):
    deploy(as_, "event_subprocesses")
    instance = start(as_, "ev_event_subprocesses", withdrawn=False)
    assert fire(engine_ctx, clock, hours=3) == 1  # non-interrupting timer ("PT2H")
    assert signal(as_, "audit_now").json["resumed"] == 1  # non-interrupting signal, twice
    assert signal(as_, "audit_now").json["resumed"] == 1
    assert [t["element_id"] for t in get(as_, instance)["open_tasks"]] == ["Work"]
    aborted = as_("bot").post("/api/v1/messages", json={"message": "abort_request", "instance_id": instance["id"]})
    assert aborted.status_code == 200 and aborted.json["status"] == "completed"  # interrupting message
    assert aborted.json["open_tasks"] == [] and aborted.json["variables"]["aborted"] is True
    assert path(as_, instance) == [
        "StartEvent_1",
        "Timer_Start",
        "Remind",
        "Timer_End",
        "On_Timer",
        *["Signal_Start", "Audit", "Signal_End", "On_Signal"] * 2,
        "Message_Start",
        "Abort",
        "Message_End",
        "On_Message",
    ]
    assert ("task_cancelled", "Work") in trail(as_, instance)


def test_event_sub_processes_that_never_fire_do_not_keep_the_instance_open(as_, engine_ctx, clock):
    deploy(as_, "event_subprocesses")
    instance = start(as_, "ev_event_subprocesses", withdrawn=False)
    assert complete(as_, instance)["status"] == "completed"
    assert path(as_, instance) == ["StartEvent_1", "Work", "End_Done"]
    assert fire(engine_ctx, clock, hours=3) == 0


def test_a_conditional_event_sub_process_interrupts(as_, engine_ctx):
    deploy(as_, "event_subprocesses")
    instance = start(as_, "ev_event_subprocesses", withdrawn=False)
    monitoring.edit_variables(engine_ctx, ADMIN, instance["id"], {"withdrawn": True}, [], "withdrawn")
    done = get(as_, instance)
    assert done["status"] == "completed" and done["open_tasks"] == []
    assert path(as_, instance) == ["StartEvent_1", "Condition_Start", "Condition_End", "On_Condition"]


@pytest.mark.parametrize("fail", [False, True])
def test_error_and_escalation_event_sub_processes(as_, fail):
    deploy(as_, "event_subprocess_error_escalation")
    instance = start(as_, "ev_esp_error_escalation", fail=fail)
    assert instance["status"] == "completed" and instance["variables"]["warned"] is True
    steps = path(as_, instance)
    assert steps[:5] == ["StartEvent_1", "Warn", "Warning_Start", "Note_Warning", "Warning_End"]
    if fail:
        assert instance["variables"]["recovered"] is True
        assert steps[-5:] == ["Fail", "Error_Start", "Recover", "Error_End", "On_Error"] and "End_Ok" not in steps
    else:
        assert steps[-1] == "End_Ok" and "Error_Start" not in steps


def test_an_event_sub_process_inside_a_sub_process_catches_before_the_boundary(as_):
    deploy(as_, "nested_event_subprocess")
    instance = start(as_, "ev_nested_esp")
    done = as_("bot").post("/api/v1/messages", json={"message": "nudge", "instance_id": instance["id"]}).json
    assert done["status"] == "completed" and done["variables"]["inner_handled"] is True
    assert path(as_, instance) == [
        "StartEvent_1",
        "Outer_Start",
        "Wait_Nudge",
        "Raise",
        "Inner_Error_Start",
        "Handle_Inside",
        "Inner_Handler_End",
        "Inner_Handler",
        "Outer",
        "End_Main",
    ]


def test_terminate_inside_a_sub_process_ends_only_the_sub_process(as_):
    deploy(as_, "subprocess_terminate_transaction")
    instance = start(as_, "ev_subprocess_terminate")
    assert instance["status"] == "running"
    assert [t["element_id"] for t in instance["open_tasks"]] == ["Outer_Work"]  # Inner_Work was terminated
    assert path(as_, instance) == ["StartEvent_1", "Split", "Inner_Start", "Inner_Split", "Inner_Terminate", "Inner"]
    assert complete(as_, instance)["status"] == "completed"
    assert path(as_, instance)[-3:] == ["Outer_Work", "Join", "End_1"]


@pytest.mark.parametrize(
    ("paid", "tail", "variable"),
    [
        (True, ["Booking_End", "Booking", "Confirm", "T_End"], "confirmed"),
        (False, ["Booking_Cancel", "Booking", "Booking_Cancelled", "Refund", "T_Cancelled_End"], "refunded"),
    ],
)
def test_a_transaction_cancel_end_event_is_caught_by_its_cancel_boundary(as_, paid, tail, variable):
    deploy(as_, "subprocess_terminate_transaction")
    instance = start(as_, "ev_transaction_cancel", paid=paid)
    assert instance["status"] == "completed" and instance["variables"][variable] is True
    assert path(as_, instance) == ["T_Start", "Booking_Start", "Reserve", "Paid", *tail]


def test_the_shipped_events_example(as_, engine_ctx, clock):
    files = [(io.BytesIO(p.read_bytes()), p.name) for p in sorted(EXAMPLES.glob("*events*.bpmn"))]
    assert files
    assert (
        as_("pmo")
        .post("/api/v1/process-definitions", data={"files": files}, content_type="multipart/form-data")
        .status_code
        == 201
    )
    process = "example_project_review_events"
    over = start(as_, process, budget=100, spent=150)
    assert fire(engine_ctx, clock, days=2, minutes=1) == 1  # a reminder; the review goes on
    assert (
        as_("bot").post("/api/v1/messages", json={"message": "status_update", "instance_id": over["id"]}).status_code
        == 200
    )
    assert complete(as_, over)["instance_status"] == "running"  # the error boundary: a recovery plan
    assert [t["element_id"] for t in get(as_, over)["open_tasks"]] == ["Recovery_Plan"]
    assert complete(as_, over)["instance_status"] == "completed"
    assert path(as_, over) == [
        "Review_Requested",
        "Review_Start",
        "Remind",
        "Reminded",
        "Status_Update",
        "Noted",
        "Assess",
        "Within_Budget",
        "Budget_Exceeded",
        "Review",
        "Over_Budget",
        "Recovery_Plan",
        "Closed_Recovery",
    ]
    frozen = [start(as_, process, budget=100, spent=50) for _ in range(2)]
    assert signal(as_, "portfolio_freeze").json["resumed"] == 2
    for instance in frozen:
        assert get(as_, instance)["status"] == "completed"
        assert path(as_, instance) == ["Review_Requested", "Review_Start", "Freeze_Start", "Frozen", "Freeze"]


# ---------------------------------------------------------------- the signals API


def test_signals_api_validation_and_permissions(as_):
    assert signal(as_, "nobody-waits").json == {"signal": "nobody-waits", "reached": 0, "resumed": 0, "started": 0}
    for body in (
        {},
        {"signal": ""},
        {"signal": "x" * 201},
        {"signal": 5},
        {"signal": "s", "variables": []},
        {"signal": "s", "extra": 1},
    ):
        response = as_("bot").post("/api/v1/signals", json=body)
        assert response.status_code == 422, body
        assert set(response.json["error"]) >= {"code", "message"}
    bad_name = as_("bot").post("/api/v1/signals", json={"signal": "s", "variables": {"_x": 1}})
    assert bad_name.status_code == 422 and "_x" in bad_name.json["error"]["message"]
    assert as_("bot").post("/api/v1/signals", data="{", content_type="application/json").status_code == 400
    for caller in ("alice", "designer", "audrey"):
        assert signal(as_, "s", caller=caller).status_code == 403
    assert as_(None).post("/api/v1/signals", json={"signal": "s"}).status_code == 401
    assert signal(as_, "   ").status_code == 422


def test_events_that_cannot_run_are_refused_at_deploy_naming_the_element(as_):
    text = (
        (MODELS / "link_terminate.bpmn")
        .read_text()
        .replace(
            '<bpmn:linkEventDefinition id="LinkEventDefinition_2" name="Finish" />',
            '<bpmn:linkEventDefinition id="LinkEventDefinition_2" name="Elsewhere" />',
        )
    )
    response = as_("pmo").post(
        "/api/v1/process-definitions",
        data={"files": [(io.BytesIO(text.encode()), "l.bpmn")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    [problem] = response.json["error"]["details"]["problems"]
    assert problem["element_id"] == "Link_Out" and problem["line"] and "Finish" in problem["message"]


def test_all_event_models_deploy_together(as_):
    deploy(as_, *sorted(p.stem for p in MODELS.glob("*.bpmn")))
