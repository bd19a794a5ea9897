"""Business rule tasks that evaluate with engine.dmn instead of SpiffWorkflow's DMN engine.

The task spec carries the decision model it was deployed with (and, once deployed, the
decision's version), so a process version evaluates the same decision version forever.
Running it merges the decision's outputs into the task data (plain `dict.update`) and leaves
a record of the evaluation in the task's internal data, which `Run._record` takes out for
the event stream (so it is never saved with the instance).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.spiff.serializer.task_spec import SpiffBpmnTaskConverter
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask
from SpiffWorkflow.task import Task

from engine.dmn.compiled import CompiledModel, compile_model
from engine.dmn.errors import DecisionError
from engine.dmn.evaluate import Evaluation, evaluate
from engine.dmn.model import DecisionModel
from engine.dmn.python_cells import PythonRunner
from engine.spiff.sandbox import SandboxedEnvironment

RECORD_KEY = "pmoflow_decision"


def _now() -> datetime:
    """The injected clock: runtime.py routes the timer module's `datetime.now` to it."""
    return spiff_timer.datetime.now(UTC)


class PmoflowBusinessRuleTask(SpiffBpmnTask):
    """A business rule task evaluating a pinned decision model with the pmoflow decision engine."""

    def __init__(self, wf_spec: Any, name: str, decision: str, model: dict[str, Any], content_hash: str,
                 version: int | None = None, **kwargs: Any) -> None:
        super().__init__(wf_spec, name, **kwargs)
        self.decision = decision
        self.model = model
        self.content_hash = content_hash
        self.version = version
        self._compiled: CompiledModel | None = None

    def compiled(self) -> CompiledModel:
        """The decision model compiled once per spec; raises ModelInvalid for a broken stored model."""
        if self._compiled is None:
            self._compiled = compile_model(DecisionModel.from_dict(self.model))
        return self._compiled

    def _run_hook(self, my_task: Task) -> bool:
        variables = {k: v for k, v in my_task.data.items() if isinstance(k, str) and not k.startswith("_")}
        try:
            result = evaluate(self.compiled(), variables, now=_now, python=_sandbox(my_task))
        except DecisionError as err:
            error = WorkflowTaskException(str(err), task=my_task, exception=err)
            error.exception = err          # the incident's kind is read from here (runtime._to_incident)
            raise error from err
        my_task.data.update(result.outputs)
        my_task._set_internal_data(**{RECORD_KEY: self.record(result)})
        super()._run_hook(my_task)
        return True

    def record(self, result: Evaluation) -> dict[str, Any]:
        """What the audit trail keeps of one evaluation."""
        top = result.trace[-1]
        return {
            "decision": self.decision, "version": self.version, "decision_table": self.model_table_id(),
            "hit_policy": top.hit_policy, "inputs": top.inputs, "outputs": result.outputs,
            "matched_rules": [r.id for r in result.matched_rules],
            "required": [{"decision": t.decision, "matched_rules": [r.id for r in t.matched_rules],
                          "outputs": t.outputs} for t in result.trace[:-1]],
        }

    def model_table_id(self) -> str:
        logic = self.model["decisions"][-1]["logic"]
        return str(logic["id"])


def _sandbox(task: Task) -> PythonRunner | None:
    """The sandbox of the task's script engine; None if it is not sandboxed (Python cells then fail)."""
    environment = getattr(task.workflow.script_engine, "environment", None)
    return environment if isinstance(environment, SandboxedEnvironment) else None


def take_record(task: Task) -> dict[str, Any] | None:
    """Remove and return the evaluation record a business rule task left, if any."""
    return task.internal_data.pop(RECORD_KEY, None)  # type: ignore[no-any-return]


class PmoflowBusinessRuleTaskConverter(SpiffBpmnTaskConverter):  # type: ignore[misc]
    """Serializes the task spec with its decision model and pinned version."""

    def to_dict(self, spec: PmoflowBusinessRuleTask) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(spec)
        dct.update(decision=spec.decision, model=spec.model, content_hash=spec.content_hash, version=spec.version)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> PmoflowBusinessRuleTask:
        return self.task_spec_from_dict(dct)  # type: ignore[no-any-return]


def pin_decision_versions(spec_json: str, versions: dict[str, tuple[str, int]]) -> str:
    """Write each business rule task's decision version into a serialized process spec.

    `versions` maps decision key to (content hash, version); a task is pinned only when its
    embedded model has that content hash.
    """
    data = json.loads(spec_json)
    for spec in [data["spec"], *data["subprocess_specs"].values()]:
        for task in spec.get("task_specs", {}).values():
            if task.get("typename") != PmoflowBusinessRuleTask.__name__:
                continue
            known = versions.get(task["decision"])
            if known is not None and known[0] == task["content_hash"]:
                task["version"] = known[1]
    return json.dumps(data)
