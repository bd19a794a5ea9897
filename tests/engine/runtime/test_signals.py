"""Signal broadcasts on SQLite and PostgreSQL: one unit of work per instance, each waiting instance
resumed exactly once even when broadcasts race, and a failing instance does not stop the others."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select

from engine.db.models import Event
from engine.definitions import deployments
from engine.runtime import instances, signals
from engine.spiff.model.parsing import SourceFile
from tests.bpmn_samples import HEAD, flow, process
from tests.factories import ADMIN, BOT, source

MODELS = Path(__file__).resolve().parents[2] / "models" / "events"


def deploy(ctx, name: str) -> None:
    path = MODELS / f"{name}.bpmn"
    deployments.deploy(ctx, ADMIN, [SourceFile(path.name, path.read_bytes())])


def test_racing_broadcasts_resume_each_waiting_instance_once(ctx):
    deploy(ctx, "signal_throw")
    waiters = [instances.start(ctx, BOT, "ev_signal_waiter").id for _ in range(6)]
    results: list[signals.SignalResult] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            results.append(signals.send(ctx, BOT, "order_placed"))
        except BaseException as err:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=send) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors, errors
    assert sum(r.resumed for r in results) == 6
    assert sum(r.started for r in results) == 3  # each broadcast starts the signal-start process
    with ctx.uow(write=False) as uow:
        received = uow.session.scalar(select(func.count()).select_from(Event).where(Event.type == "signal_received"))
    assert received == 6
    for waiter in waiters:
        trail = [e.element_id for e in instances.audit_trail(ctx, ADMIN, waiter) if e.type == "element_completed"]
        assert trail == ["Waiter_Start", "Catch_Placed"]


def test_an_instance_failing_on_the_signal_does_not_stop_the_broadcast(ctx):
    signal_def = '<bpmn:signal id="Sig" name="boom"/>'
    body = (
        '<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="c"><bpmn:signalEventDefinition signalRef="Sig"/>'
        '</bpmn:intermediateCatchEvent><bpmn:scriptTask id="t"><bpmn:script>x = 1 / divisor</bpmn:script>'
        '</bpmn:scriptTask><bpmn:endEvent id="e"/>' + flow("f1", "s", "c") + flow("f2", "c", "t") + flow("f3", "t", "e")
    )
    deployments.deploy(
        ctx, ADMIN, [source("boom.bpmn", HEAD + signal_def + process(body, pid="boom") + "</bpmn:definitions>")]
    )
    failing = instances.start(ctx, BOT, "boom", variables={"divisor": 0}).id
    fine = instances.start(ctx, BOT, "boom", variables={"divisor": 2}).id
    assert signals.send(ctx, BOT, "boom").resumed == 2
    assert instances.get(ctx, ADMIN, failing).status == "error"
    assert instances.get(ctx, ADMIN, fine).status == "completed"
