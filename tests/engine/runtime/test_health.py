"""engine.runtime.health: what /healthz reports as stuck, observed in-process (the clock is injected)."""

from __future__ import annotations

import pytest

from engine.runtime import health


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks(monkeypatch: pytest.MonkeyPatch) -> Ticks:
    clock = Ticks()
    monkeypatch.setattr(health, "_clock", clock)
    return clock


def test_a_step_is_stuck_once_it_runs_past_twice_its_budget(ticks):
    with health.step_running("inst-1", 5.0):
        ticks.now += 9.9
        assert health.stuck(60) == []
        ticks.now += 0.2
        [step] = health.stuck(60)
        assert step == {
            "kind": "step",
            "instance": "inst-1",
            "thread": step["thread"],
            "running_seconds": 10.1,
            "budget_seconds": 5.0,
        }
    assert health.stuck(60) == []  # a finished step is forgotten


def test_a_short_budget_still_gets_a_second_of_grace(ticks):
    with health.step_running("inst-2", 0.2):
        ticks.now += 1.1
        assert health.stuck(60) == []
        ticks.now += 0.2
        assert [s["instance"] for s in health.stuck(60)] == ["inst-2"]


def test_a_worker_that_stops_beating_is_stuck_until_it_stops(ticks):
    health.beat("w1")
    try:
        ticks.now += 60
        assert health.stuck(60) == []
        ticks.now += 1
        assert health.stuck(60) == [{"kind": "worker", "worker": "w1", "silent_seconds": 61.0}]
        health.beat("w1")
        assert health.stuck(60) == []
    finally:
        health.worker_stopped("w1")
    ticks.now += 1000
    assert health.stuck(60) == []
