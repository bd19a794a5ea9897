"""(a) The baseline: the 3-step approval in-process with SpiffWorkflow, through the project's adapter.

Same specs (parsed from workflows/ by `parse_deployment`), same sandboxed script engine and
the same compaction + serialization as the server, but no HTTP, no database and no task or
event rows: one process, one instance at a time, state dumped to JSON and loaded back
between steps as the engine does between requests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from engine.spiff.expressions.sandbox import SandboxedScriptEngine
from engine.spiff.model.parsing import SourceFile, parse_deployment
from engine.spiff.model.specs import SpecBundle, restore_spec
from engine.spiff.runtime.run import Run

from .cpu import CpuUse, window
from .stats import Samples

PROCESS = "project-intake"
STEPS = ("it_manager_approval", "finance_approval", "pmo_director_approval")
DECISION = {"decision": "approve", "comment": "ok"}
DEPLOYABLE = (".bpmn", ".dmn", ".form")


def start_variables(i: int) -> dict[str, object]:
    """Variables of the i-th instance: budget above 250,000, so all three approvals are needed."""
    return {"title": f"Benchmark project {i}", "budget": 300_000, "department": "IT"}


@dataclass(frozen=True)
class BaselineResult:
    instances: int
    seconds: float
    samples: Samples  # "start", "complete" and "instance" latencies
    state_bytes: int  # size of the dumped state before the last step
    cpu: CpuUse

    @property
    def rate(self) -> float:
        return self.instances / self.seconds


def load_bundle(workflows: Path, process: str = PROCESS) -> SpecBundle:
    """Parse every deployable file in `workflows` and restore the spec of `process`; raises KeyError."""
    files = [SourceFile(p.name, p.read_bytes()) for p in sorted(workflows.iterdir()) if p.suffix.lower() in DEPLOYABLE]
    parsed = {p.key: p for p in parse_deployment(files, max_bytes=2 * 1024 * 1024).processes}
    return restore_spec(parsed[process].spec_json)


def run_instance(bundle: SpecBundle, engine: SandboxedScriptEngine, i: int, samples: Samples | None) -> int:
    """Start one instance and complete its three approvals; returns the last state's size.

    Raises AssertionError if the instance does not follow the expected path.
    """
    began = time.perf_counter()
    run = Run.start(bundle, start_variables(i), engine)
    run.advance()
    state = run.dump()
    after_start = time.perf_counter()
    if samples is not None:
        samples.add("start", after_start - began)
    for expected in STEPS:
        t0 = time.perf_counter()
        run = Run.load(state, bundle, engine)
        [task] = run.open_tasks()
        assert task.element_id == expected, (task.element_id, expected)
        run.complete(task.id, dict(DECISION))
        size = len(state)
        state = run.dump()
        if samples is not None:
            samples.add("complete", time.perf_counter() - t0)
    if samples is not None:
        samples.add("instance", time.perf_counter() - began)
    assert run.status == "completed", run.status
    assert run.variables().get("outcome") == "approved", run.variables()
    return size


def measure(workflows: Path, instances: int, warmup: int = 20) -> BaselineResult:
    """Run `warmup` unmeasured instances, then `instances` measured ones, sequentially.

    The rate counts the time spent in the engine steps only (not the final checks).
    """
    bundle = load_bundle(workflows)
    engine = SandboxedScriptEngine()
    for i in range(warmup):
        run_instance(bundle, engine, i, None)
    samples = Samples()
    size = 0
    with window() as cpu:
        for i in range(instances):
            size = run_instance(bundle, engine, i, samples)
    return BaselineResult(instances, sum(samples.by_kind["instance"]), samples, size, cpu)
