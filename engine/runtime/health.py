"""What `/healthz` reports besides the database: a step running past its budget, a silent worker.

Both are observed in the process that runs them, in memory: every engine step registers
itself while it runs (`engine.runtime.steps.run_step`), and the background worker beats at every
round (`engine.runtime.worker.Worker`). `pmoflow serve` runs a worker thread in every web process,
so the `/healthz` of each process sees its own steps and its own worker. Workers of other
processes and hosts (`pmoflow worker`) are seen through their heartbeat rows in the database
(engine.runtime.heartbeats, which also calls `beat` and `worker_stopped` here).

A step stops itself when its budget runs out (engine/spiff/runtime/budget.py), so a step still
running well past its budget is stuck inside one call no callback interrupts.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_clock: Callable[[], float] = time.monotonic
_lock = threading.Lock()
_ids = itertools.count()


@dataclass(frozen=True)
class _Step:
    instance: str
    started: float
    budget: float
    thread: str


_steps: dict[int, _Step] = {}
_workers: dict[str, float] = {}


@contextmanager
def step_running(instance: str, budget_seconds: float) -> Iterator[None]:
    """Register a step of `instance` for as long as the block runs."""
    key = next(_ids)
    with _lock:
        _steps[key] = _Step(instance, _clock(), budget_seconds, threading.current_thread().name)
    try:
        yield
    finally:
        with _lock:
            _steps.pop(key, None)


def beat(worker: str) -> None:
    """A worker is alive and between two pieces of work."""
    with _lock:
        _workers[worker] = _clock()


def worker_stopped(worker: str) -> None:
    with _lock:
        _workers.pop(worker, None)


def workers() -> set[str]:
    """The names of the workers beating in this process."""
    with _lock:
        return set(_workers)


def grace(budget_seconds: float) -> float:
    """How long a step may run before it counts as stuck: its budget twice (at least a second more),
    leaving room for saving what it did."""
    return budget_seconds + max(1.0, budget_seconds)


def stuck(worker_stale_seconds: float) -> list[dict[str, object]]:
    """What is stuck in this process now: steps past `grace` of their budget, workers silent for
    longer than `worker_stale_seconds`; an empty list when all is well."""
    now = _clock()
    with _lock:
        steps = list(_steps.values())
        workers = dict(_workers)
    found: list[dict[str, object]] = [
        {
            "kind": "step",
            "instance": s.instance,
            "thread": s.thread,
            "running_seconds": round(now - s.started, 1),
            "budget_seconds": s.budget,
        }
        for s in steps
        if now - s.started > grace(s.budget)
    ]
    found += [
        {"kind": "worker", "worker": name, "silent_seconds": round(now - at, 1)}
        for name, at in workers.items()
        if now - at > worker_stale_seconds
    ]
    return found
