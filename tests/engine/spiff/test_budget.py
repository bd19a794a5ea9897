"""No model can hold the engine: recursion, loops and huge multi-instances end as incidents
(engine/spiff/runtime/budget.py).

Each hostile model in tests/models/safety runs through the services on SQLite and PostgreSQL;
the incident names the element, nothing is half-written, the instance is not left locked, and
the incident can be retried or cancelled like any other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from sqlalchemy import func, select, text

from engine import bootstrap
from engine.core.clock import FixedClock
from engine.core.config import Settings
from engine.core.context import EngineContext
from engine.core.records import EventView
from engine.db.models import Event, HumanTask, Job, ProcessInstance
from engine.db.statements import load_instance
from engine.definitions import deployments
from engine.runtime import instances, jobs, signals, steps
from engine.runtime.timers import fire_due
from engine.spiff.expressions.limits import ScriptTimeout
from engine.spiff.expressions.sandbox import SandboxedEnvironment
from engine.spiff.model.parsing import SourceFile
from engine.spiff.runtime.budget import StepBudget, StepLimits, element_of, spending
from engine.tasks import completion
from tests.bpmn_samples import one_approval
from tests.engine.runtime.test_instances import deploy
from tests.factories import ADMIN, ALICE, BOT

MODELS = Path(__file__).resolve().parents[2] / "models" / "safety"
LOOP = ("loop_join", "count", "done_gw")


def safety_files() -> list[SourceFile]:
    return [SourceFile(p.name, p.read_bytes()) for p in sorted(MODELS.glob("*.bpmn"))]


def limited(settings: Settings, clock: FixedClock, **limits: object) -> EngineContext:
    ctx = EngineContext.from_settings(replace(settings, **limits), clock=clock)
    deployments.deploy(ctx, ADMIN, safety_files())
    return ctx


@pytest.fixture
def patient(settings: Settings, clock: FixedClock) -> Iterator[EngineContext]:
    """The default task limit with the time limit far out, for tests about something other than time
    that a loaded machine (parallel test workers on two cores) must not turn into a time-budget incident."""
    ctx = limited(settings, clock, step_time_limit=120.0)
    yield ctx
    ctx.db.dispose()


@pytest.fixture
def small(settings: Settings, clock: FixedClock) -> Iterator[EngineContext]:
    """Small limits, the task limit binding (time plenty), so every outcome is exact."""
    ctx = limited(
        settings, clock, step_task_limit=600, step_time_limit=120.0, call_depth_limit=8, multi_instance_limit=50
    )
    yield ctx
    ctx.db.dispose()


def events(ctx: EngineContext, instance_id: str, kind: str | None = None) -> list[EventView]:
    return [e for e in instances.audit_trail(ctx, ADMIN, instance_id) if kind is None or e.type == kind]


def path(ctx: EngineContext, instance_id: str) -> list[str]:
    return [e.element_id for e in events(ctx, instance_id, "element_completed")]


def assert_consistent(ctx: EngineContext, instance_id: str, element: str, kind: str, task_rows: int = 0) -> dict:
    """The incident is saved whole: row, audit event, the task rows it has; the instance is not locked."""
    view = instances.get(ctx, ADMIN, instance_id)
    assert view.status == "error" and view.error["element_id"] == element and view.error["kind"] == kind, view.error
    [raised] = events(ctx, instance_id, "incident_raised")
    assert raised.element_id == element and raised.data == view.error
    with ctx.uow() as uow:
        if uow.dialect == "postgresql":
            uow.session.execute(text("SET LOCAL lock_timeout = '2s'"))
        row = load_instance(uow.session, instance_id, lock=True)  # nobody holds it
        assert row.state and row.ended_at is None
        assert (
            uow.session.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.instance_id == row.id))
            == task_rows
        )
    return view.error


# ---------------------------------------------------------------- call activities


def test_a_recursive_model_deploys_and_runs_while_its_recursion_ends(small):
    view = instances.start(small, BOT, "safety_countdown", variables={"n": 3, "depth": 0})
    assert view.status == "completed" and view.variables == {"n": 0, "depth": 3}
    assert (
        path(small, view.id)
        == ["StartEvent_1", "more_gw", "count_down"] * 3
        + ["StartEvent_1", "more_gw", "nothing_left"]
        + ["call_again", "counted"] * 3
    )


def test_a_process_calling_itself_without_end_stops_at_the_call_depth_limit(small):
    view = instances.start(small, BOT, "safety_recursive_call")
    error = assert_consistent(small, view.id, "call_self", "CallDepthLimit")
    assert "'safety_recursive_call' 9 call activities deep (limit 8)" in error["message"]
    assert path(small, view.id) == ["StartEvent_1"] * 9
    again = instances.retry(small, ADMIN, view.id, {})
    assert again.status == "error" and again.error["element_id"] == "call_self"
    cancelled = instances.cancel(small, ADMIN, view.id, "it calls itself")
    assert cancelled.status == "cancelled"


def test_recursion_deeper_than_the_limit_stops_at_the_call_that_would_go_too_deep(small):
    view = instances.start(small, BOT, "safety_countdown", variables={"n": 20, "depth": 0})
    error = assert_consistent(small, view.id, "call_again", "CallDepthLimit")
    assert "9 call activities deep (limit 8)" in error["message"]
    assert path(small, view.id).count("count_down") == 9 and "counted" not in path(small, view.id)


# ---------------------------------------------------------------- loops


def test_a_loop_that_never_waits_stops_at_the_task_limit_and_a_retry_gets_a_fresh_budget(small):
    view = instances.start(small, BOT, "safety_script_loop", variables={"n": 0, "stop": 10**9})
    error = assert_consistent(small, view.id, error_element(small, view.id), "StepTaskLimit")
    assert error["element_id"] in LOOP and "ran 600 tasks without waiting" in error["message"]
    first = instances.get(small, ADMIN, view.id).variables["n"]
    assert path(small, view.id).count("count") == first > 100  # every pass saved, and only those
    again = instances.retry(small, ADMIN, view.id, {})
    assert again.status == "error" and again.error["kind"] == "StepTaskLimit"
    assert again.variables["n"] > first and path(small, view.id).count("count") == again.variables["n"]
    fixed = instances.retry(small, ADMIN, view.id, {"stop": 0})  # the loop's exit condition now holds
    assert fixed.status == "completed" and path(small, view.id)[-1] == "reached"


def error_element(ctx: EngineContext, instance_id: str) -> str:
    return instances.get(ctx, ADMIN, instance_id).error["element_id"]


def test_a_long_loop_that_ends_runs_to_its_end_in_one_step(patient):
    """Past SpiffWorkflow's search depth (1,000 tasks) a loop used to stop silently and 'complete'."""
    ctx = patient
    view = instances.start(ctx, BOT, "safety_script_loop", variables={"n": 0, "stop": 700})
    assert view.status == "completed" and view.variables["n"] == 700
    trail = path(ctx, view.id)
    assert trail.count("count") == 700 and trail[-1] == "reached"


def test_a_loop_stops_at_the_time_limit(settings, clock):
    ctx = limited(settings, clock, step_task_limit=10**9, step_time_limit=1.0)  # a loaded machine reaches the loop
    view = instances.start(ctx, BOT, "safety_script_loop", variables={"n": 0, "stop": 10**9})
    error = assert_consistent(ctx, view.id, error_element(ctx, view.id), "StepTimeLimit")
    assert error["element_id"] in LOOP and "time budget" in error["message"]
    assert instances.cancel(ctx, ADMIN, view.id, "runaway").status == "cancelled"
    ctx.db.dispose()


def test_the_timer_worker_fires_a_hostile_instance_into_an_incident_and_goes_on(settings, clock):
    """Each step of a batch keeps its budget; the batch takes no further instance after a quarter
    of one budget, so it commits (and lets go of the lock) after the hostile one."""
    ctx = limited(settings, clock, step_task_limit=10**9, step_time_limit=0.4)
    ids = [instances.start(ctx, BOT, "safety_timer_loop", variables={"n": 0, "stop": 10**9}).id for _ in range(2)]
    clock.advance(timedelta(minutes=2))
    assert fire_due(ctx) == 1  # the first one ran its whole budget: the batch ended
    assert fire_due(ctx) == 1
    assert fire_due(ctx) == 0
    for instance_id in ids:
        error = assert_consistent(ctx, instance_id, error_element(ctx, instance_id), "StepTimeLimit")
        assert error["element_id"] in LOOP and path(ctx, instance_id)[:2] == ["StartEvent_1", "wait_a_minute"]
    ctx.db.dispose()


def test_a_script_gets_no_more_time_than_the_step_has_left():
    environment = SandboxedEnvironment(time_limit=30.0)
    with spending(StepBudget(StepLimits(max_seconds=0.2))), pytest.raises(ScriptTimeout):
        environment.execute("while True:\n    pass", {})


def test_an_event_sub_process_that_signals_itself_fires_once_and_two_instances_stop_at_the_chain_limit(settings, clock):
    """An instance does not catch the signal it throws (the others do, through a job): one echo instance
    fires its event sub-process once and waits; two of them would echo each other for ever."""
    ctx = limited(settings, clock, signal_chain_limit=6)
    bootstrap.bootstrap()
    first, second = (instances.start(ctx, BOT, "safety_echo", variables={"echoes": 0}) for _ in range(2))
    assert first.status == second.status == "running"
    assert path(ctx, first.id) == [
        "StartEvent_1",
        "raise_first",
        "echo_start",
        "count_echo",
        "raise_again",
        "echo_end",
        "echo_handler",
    ]
    for _ in range(100):  # bounded: each round runs the jobs due
        if not jobs.run_due(ctx, 10):
            break
    dropped = events(ctx, first.id, "signal_dropped") + events(ctx, second.id, "signal_dropped")
    assert len(dropped) == 4 and {e.data["hops"] for e in dropped} == {7}  # the four first throws' chains
    assert not jobs.run_due(ctx, 10)
    assert {instances.get(ctx, ADMIN, i).status for i in (first.id, second.id)} == {"running"}
    ctx.db.dispose()


def test_a_chain_of_signals_fanning_out_stops_at_its_total_of_broadcasts(settings, clock, monkeypatch):
    """Four echo instances: each broadcast reaches the three others, and each echoes it (a fan-out of 3
    per hop, 3**8 broadcasts by the hop limit alone); the chain's total caps it."""
    monkeypatch.setattr(steps, "CHAIN_BROADCASTS", 12)
    ctx = limited(settings, clock, signal_chain_limit=8)
    bootstrap.bootstrap()
    ids = [instances.start(ctx, BOT, "safety_echo", variables={"echoes": 0}).id for _ in range(4)]
    for _ in range(300):  # bounded: each round runs the jobs due
        if not jobs.run_due(ctx, 10):
            break
    with ctx.uow(write=False) as uow:
        broadcasts = uow.session.scalar(select(func.count()).select_from(Job).where(Job.kind == steps.SIGNAL_JOB))
    assert broadcasts <= 4 * 2 + 4 * 12  # the first throws, then at most 12 per chain
    assert any(events(ctx, i, "signal_dropped") for i in ids)
    ctx.db.dispose()


def test_instances_signalling_one_another_without_waiting_stop_at_the_chain_limit(settings, clock):
    """A process started by a signal that throws it again would start instances for ever, a job each."""
    ctx = limited(settings, clock, signal_chain_limit=5)
    bootstrap.bootstrap()
    assert signals.send(ctx, BOT, "safety_ping").started == 1
    for _ in range(50):  # bounded: each round runs the jobs due
        if not jobs.run_due(ctx, 10):
            break
    with ctx.uow(write=False) as uow:
        started = uow.session.scalar(select(func.count()).select_from(ProcessInstance))
        dropped = [
            (e.element_id, e.data) for e in uow.session.scalars(select(Event).where(Event.type == "signal_dropped"))
        ]
    assert started == 6  # the first, then five hops
    assert dropped == [("ping_again", {"signal": "safety_ping", "hops": 6, "limit": 5})]
    ctx.db.dispose()


# ---------------------------------------------------------------- multi-instance


def test_a_collection_of_a_million_items_is_refused_before_it_is_expanded(settings, clock):
    # the million items (7 MB) pass a raised variable size bound, to reach the multi-instance guard
    ctx = limited(settings, clock, step_time_limit=120.0, variable_max_bytes=16 * 1024 * 1024)
    view = instances.start(ctx, BOT, "safety_exploding_mi", variables={"count": 10**6})
    error = assert_consistent(ctx, view.id, "handle_item", "MultiInstanceLimit")
    assert error["message"].startswith("multi-instance activity 'handle_item'")
    assert error["message"].endswith("would run 1000000 instances from its collection 'items' (limit 1000)")
    assert path(ctx, view.id) == ["sid-start", "make_items"]
    ctx.db.dispose()


def test_with_the_default_size_bound_the_script_building_the_million_items_is_the_incident(patient):
    view = instances.start(patient, BOT, "safety_exploding_mi", variables={"count": 10**6})
    error = assert_consistent(patient, view.id, "make_items", "VariableLimitExceeded")
    assert "set variable 'items', which makes the variables larger than 1,048,576 bytes" in error["message"]
    assert path(patient, view.id) == ["sid-start"]


def test_a_refused_multi_instance_runs_once_a_retry_fixes_its_collection(small):
    view = instances.start(small, BOT, "safety_exploding_mi", variables={"count": 51})
    assert_consistent(small, view.id, "handle_item", "MultiInstanceLimit")
    done = instances.retry(small, ADMIN, view.id, {"items": [5, 6, 7]})
    assert done.status == "completed" and done.variables["items"] == [5, 6, 7]
    assert path(small, view.id) == ["sid-start", "make_items"] + ["handle_item"] * 4 + ["sid-end"]


def test_a_loop_cardinality_past_the_limit_is_refused_and_a_smaller_one_runs(small):
    view = instances.start(small, BOT, "safety_counted_reminders", variables={"reminders": 10**6, "sent": 0})
    error = assert_consistent(small, view.id, "send_reminder", "MultiInstanceLimit")
    assert "1000000 instances from its loop cardinality (limit 50)" in error["message"]
    done = instances.retry(small, ADMIN, view.id, {"reminders": 2})
    assert done.status == "completed" and done.variables["sent"] == 2
    within = instances.start(small, BOT, "safety_counted_reminders", variables={"reminders": 50, "sent": 0})
    assert within.status == "completed" and within.variables["sent"] == 50


# ---------------------------------------------------------------- the others keep working


def test_other_instances_start_and_complete_while_a_hostile_step_runs(settings, clock):
    ctx = limited(settings, clock, step_task_limit=10**9, step_time_limit=1.0)
    deploy(ctx, ("p.bpmn", one_approval()))
    hostile: list[object] = []
    runner = threading.Thread(
        target=lambda: hostile.append(
            instances.start(ctx, BOT, "safety_script_loop", variables={"n": 0, "stop": 10**9})
        )
    )
    runner.start()
    other = instances.start(ctx, BOT, "p1")
    done = completion.complete(ctx, ALICE, other.open_tasks[0].id, {})
    runner.join(timeout=60)
    assert not runner.is_alive() and done.instance_status == "completed"
    [loop] = hostile
    assert loop.status == "error" and loop.error["kind"] == "StepTimeLimit"  # type: ignore[attr-defined]
    with ctx.uow(write=False) as uow:
        statuses = sorted(uow.session.scalars(select(ProcessInstance.status)))
    assert statuses == ["completed", "error"]
    ctx.db.dispose()


def test_a_step_stopped_before_its_start_event_names_the_start_event():
    """The budget can run out on SpiffWorkflow's own start task (a loaded machine): the incident names the
    element the process would have run next, not none."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(one_approval().encode())
    workflow = BpmnWorkflow(parser.get_spec("p1"))
    start = workflow.get_tasks(spec_name="Start")[0]
    assert start.task_spec.bpmn_id is None
    assert element_of(start) == "start"
