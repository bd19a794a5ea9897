"""Signals: broadcast a named signal to every instance waiting for it, and start the processes it starts.

A signal comes from outside (`send`, `POST /api/v1/signals`) or is thrown by an instance (an
intermediate or end signal event; `run_step` records it and enqueues a `signal.broadcast` job,
so the throwing step never locks another instance). Either way it is delivered the same way:

- **Instance by instance, one unit of work each.** The candidates are read first (running
  instances whose definition has a catching event for that signal); each is then locked,
  stepped and committed alone, so a broadcast never holds locks on two instances at once and
  a failure in one instance (its own incident, or a lost race) leaves the others delivered.
  An instance that no longer waits for the signal when its turn comes is skipped.
- **Signal start events** start a new instance of the latest version of every process whose
  top-level start event catches the signal (the signal's variables are its start variables).
- The signal's variables are merged into the data of the events that catch it (BPMN signals
  carry no data of their own; a signal thrown by an instance carries none, so one instance's
  variables never leak into another).

The answer counts the instances reached: resumed (waiting ones) and started.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.core.errors import InvalidInput, PmoflowError
from engine.core.permissions import SYSTEM, Actor, require
from engine.db.models import ProcessDefinition, ProcessInstance
from engine.db.statements import load_instance
from engine.definitions.versions import latest_of_each
from engine.events import stream as audit
from engine.runtime import jobs
from engine.runtime.instances import check_variables, start_by_event
from engine.runtime.steps import SIGNAL_CHAIN, SIGNAL_JOB, SignalChain, run_step
from engine.spiff.model.specs import SpecBundle
from engine.spiff.runtime.events import signal_catches, signal_starts
from engine.spiff.runtime.run import Run

NAME_LIMIT = 200
log = logging.getLogger("pmoflow.signals")


@dataclass(frozen=True)
class SignalResult:
    signal: str
    reached: int  # resumed + started
    resumed: int  # waiting instances that caught it
    started: int  # new instances of processes with a signal start event


def send(ctx: EngineContext, actor: Actor, signal: object, variables: object = None) -> SignalResult:
    """Broadcast `signal` with `variables` to every waiting instance and signal start event; raises
    InvalidInput, Forbidden."""
    require(actor, "signal.send")
    name = check_name(signal)
    checked = check_variables(variables, ctx.limits)
    with ctx.uow() as uow:
        audit.record(
            uow.session,
            "signal_sent",
            ctx.clock.now(),
            actor=actor.username,
            data={"signal": name, "variables": checked},
        )
        uow.commit()
    return broadcast(ctx, name, checked, actor)


def check_name(signal: object) -> str:
    """A signal name: a non-empty string of at most NAME_LIMIT characters; raises InvalidInput."""
    if not isinstance(signal, str) or not signal.strip():
        raise InvalidInput("signal name is required", {"fields": {"signal": "required"}})
    if len(signal) > NAME_LIMIT:
        raise InvalidInput(
            f"signal name is longer than {NAME_LIMIT} characters",
            {"fields": {"signal": f"at most {NAME_LIMIT} characters"}},
        )
    return signal.strip()


def broadcast(
    ctx: EngineContext, signal: str, variables: dict[str, Any], actor: Actor, source: str | None = None
) -> SignalResult:
    """Deliver to every waiting instance but `source` (the thrower), one unit of work each, then start
    the processes the signal starts."""
    resumed = sum(
        _deliver(ctx, instance_id, signal, variables, actor.username, source)
        for instance_id in _waiting(ctx, signal, source)
    )
    started = 0
    for key in _started_by(ctx, signal):
        try:
            start_by_event(ctx, actor, key, variables, lambda run: _start_event(run, signal, variables))
            started += 1
        except PmoflowError as err:  # e.g. the start failed: the others still start
            log.warning("signal %r did not start %s: %s", signal, key, err)
    return SignalResult(signal, resumed + started, resumed, started)


def _waiting(ctx: EngineContext, signal: str, source: str | None) -> list[str]:
    """Running instances whose definition has an event catching `signal` (cheap: no state is loaded)."""
    with ctx.uow(write=False) as uow:
        rows = uow.session.execute(
            select(ProcessInstance.uuid, ProcessInstance.definition_id)
            .where(ProcessInstance.status == "running")
            .order_by(ProcessInstance.id)
        ).all()
        catching = {
            d for d in {r.definition_id for r in rows} if signal in signal_catches(*_bundle(ctx, uow.session, d))
        }
    return [r.uuid for r in rows if r.definition_id in catching and r.uuid != source]


def _started_by(ctx: EngineContext, signal: str) -> list[str]:
    with ctx.uow(write=False) as uow:
        return [
            d.key
            for d in latest_of_each(uow.session, ProcessDefinition)
            if signal in signal_starts(_bundle(ctx, uow.session, d.id)[0])
        ]


def _bundle(ctx: EngineContext, session: Session, definition_id: int) -> SpecBundle:
    return ctx.specs.get(definition_id, lambda: ctx.definitions.get(session, definition_id).spec)


class _NotWaiting(Exception):
    """Raised before anything is saved when the instance no longer waits for the signal."""


def _deliver(
    ctx: EngineContext, instance_id: str, signal: str, variables: dict[str, Any], actor: str, source: str | None
) -> int:
    """Deliver to one instance in its own unit of work; 1 if it caught the signal."""

    def catch(run: Run) -> None:
        if not run.signal(signal, variables):
            raise _NotWaiting(signal)

    try:
        with ctx.uow() as uow:
            instance = load_instance(uow.session, instance_id, lock=True)
            if instance.status != "running":
                return 0
            run_step(ctx, uow.session, instance, catch, actor)
            audit.record(
                uow.session,
                "signal_received",
                ctx.clock.now(),
                instance=instance,
                actor=actor,
                data={"signal": signal, "variables": variables, "from_instance": source},
            )
            uow.commit()
            return 1
    except _NotWaiting:
        return 0
    except PmoflowError as err:  # this instance's step failed; the broadcast goes on
        log.warning("signal %r not delivered to instance %s: %s", signal, instance_id, err)
        return 0


def _start_event(run: Run, signal: str, variables: dict[str, Any]) -> None:
    run.advance()
    run.signal(signal, variables)


# ---------------------------------------------------------------- signals thrown by instances


def run_broadcast(ctx: EngineContext, job: jobs.ClaimedJob) -> dict[str, Any]:
    """The worker's side of a thrown signal: deliver it to the other instances (one hop further along
    its chain, engine.runtime.steps.SignalChain)."""
    token = SIGNAL_CHAIN.set(
        SignalChain(
            int(job.payload.get("hops", 1)), ctx.settings.signal_chain_limit, str(job.payload.get("chain") or job.uuid)
        )
    )
    try:
        result = broadcast(ctx, job.payload["signal"], {}, SYSTEM, source=job.payload.get("source"))
    finally:
        SIGNAL_CHAIN.reset(token)
    return {"reached": result.reached, "resumed": result.resumed, "started": result.started}


JOBS = {SIGNAL_JOB: jobs.JobHandler(run=run_broadcast)}  # registered by engine.bootstrap

__all__ = ["send", "broadcast", "check_name", "SignalResult", "JOBS"]
