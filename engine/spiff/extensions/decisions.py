"""Business rule tasks that evaluate with engine.dmn instead of SpiffWorkflow's DMN engine.

The task spec carries the decision model it was deployed with (and, once deployed, the
decision's version), so a process version evaluates the same decision version forever.
Running it merges the decision's outputs into the task data (plain `dict.update`) and leaves
a record of the evaluation in the task's internal data, which `StepLog.record` takes out for
the event stream (so it is never saved with the instance).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.spiff.serializer.task_spec import SpiffBpmnTaskConverter
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask
from SpiffWorkflow.task import Task

from engine.dmn.compiled import CompiledModel
from engine.dmn.compiler import compile_model
from engine.dmn.errors import DecisionError
from engine.dmn.evaluate import Evaluation, evaluate
from engine.dmn.model import DecisionModel
from engine.spiff.expressions.sandbox import SandboxedEnvironment

RECORD_KEY = "pmoflow_decision"


def _now() -> datetime:
    """The injected clock: runtime.py routes the timer module's `datetime.now` to it."""
    now: datetime = spiff_timer.datetime.now(UTC)
    return now


@dataclass(frozen=True)
class PublishedDecision:
    """A decision deployed earlier (in another deployment), as a business rule task of a new one finds it."""

    key: str
    version: int
    model: DecisionModel


# finds a published decision: (key, version or None for the latest) -> the decision, or None
DecisionResolver = Callable[[str, int | None], PublishedDecision | None]


class PmoflowBusinessRuleTask(SpiffBpmnTask):
    """A business rule task evaluating a pinned decision model with the pmoflow decision engine."""

    def __init__(
        self,
        wf_spec: Any,
        name: str,
        decision: str,
        model: dict[str, Any],
        content_hash: str,
        version: int | None = None,
        result_variable: str | None = None,
        result_mapping: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(wf_spec, name, **kwargs)
        self.decision = decision
        self.model = model
        self.content_hash = content_hash
        self.version = version
        self.result_variable = result_variable  # Camunda's resultVariable: the result goes there
        self.result_mapping = result_mapping  # how (RESULT_MAPPINGS); None: the outputs are merged
        self._compiled: CompiledModel | None = None

    def compiled(self) -> CompiledModel:
        """The decision model compiled once per spec; raises ModelInvalid for a broken stored model."""
        if self._compiled is None:
            self._compiled = compile_model(DecisionModel.from_dict(self.model))
        return self._compiled

    def _run_hook(self, my_task: Task) -> bool:
        variables = {k: v for k, v in my_task.data.items() if isinstance(k, str) and not k.startswith("_")}
        sandbox = _sandbox(my_task)
        limit = sandbox.time_limit if sandbox is not None else None  # the script time limit of the settings
        try:
            result = evaluate(self.compiled(), variables, now=_now, python=sandbox, time_limit=limit)
            if self.result_variable:
                mapped = map_result(result, self.model["decisions"][-1]["logic"], self.result_mapping)
        except DecisionError as err:
            error = WorkflowTaskException(str(err), task=my_task, exception=err)
            error.exception = err  # the incident's kind is read from here (Run._to_incident)
            raise error from err
        if self.result_variable:
            my_task.data[self.result_variable] = mapped
        else:
            my_task.data.update(result.outputs)
        my_task._set_internal_data(**{RECORD_KEY: self.record(result)})
        super()._run_hook(my_task)
        return True

    def record(self, result: Evaluation) -> dict[str, Any]:
        """What the audit trail keeps of one evaluation (with the trace's warnings, when there are any: a call
        that could not work and was null, a variable that was not defined)."""
        top = result.trace[-1]
        warnings = [w for t in result.trace for w in t.warnings]
        return ({"warnings": warnings} if warnings else {}) | {
            "decision": self.decision,
            "version": self.version,
            "decision_table": self.model_table_id(),
            "hit_policy": top.hit_policy,
            "inputs": top.inputs,
            "outputs": result.outputs,
            "matched_rules": [r.id for r in result.matched_rules],
            "required": [
                {"decision": t.decision, "matched_rules": [r.id for r in t.matched_rules], "outputs": t.outputs}
                for t in result.trace[:-1]
            ],
        }

    def model_table_id(self) -> str:
        logic = self.model["decisions"][-1]["logic"]
        return str(logic["id"])


RESULT_MAPPINGS = ("resultList", "singleResult", "singleEntry", "collectEntries", "zeebe")


def map_result(result: Evaluation, logic: dict[str, Any], mapping: str | None) -> Any:
    """The decision result as Camunda maps it into a result variable; raises DecisionError when it does not fit.

    resultList (Camunda 7's default): a list of {output: value} per matched rule; singleResult: the one
    rule's outputs (or None); singleEntry: its one value; collectEntries: the one output of every rule;
    zeebe (Camunda 8): the value (one output) or the outputs, a list of them for multi-hit tables.
    """
    rows = _rows(result, logic)
    mapping = mapping or "resultList"
    if mapping == "resultList":
        return rows
    if mapping == "collectEntries":
        return [_single_entry(result, row) for row in rows]
    if mapping == "zeebe":
        values = [row[next(iter(row))] if len(row) == 1 else row for row in rows]
        return values if _multi_hit(logic) else (values[0] if values else None)
    if len(rows) > 1:
        raise DecisionError(
            f"decision {result.decision!r} matched {len(rows)} rules; {mapping} allows one", result.decision
        )
    if mapping == "singleResult":
        return rows[0] if rows else None
    return _single_entry(result, rows[0]) if rows else None


def result_mapping_problem(model: DecisionModel, mapping: str | None) -> str | None:
    """Why `mapping` cannot hold this decision's result (known at deploy), or None."""
    outputs = model.top.output_names
    if mapping in ("singleEntry", "collectEntries") and len(outputs) != 1:
        return (
            f"mapDecisionResult {mapping!r} needs a decision with one output; {model.decision!r} has "
            f"{len(outputs)} ({', '.join(outputs)})"
        )
    return None


def _multi_hit(logic: dict[str, Any]) -> bool:
    return logic.get("hit_policy") not in (None, "UNIQUE", "FIRST", "PRIORITY", "ANY") and not logic.get("aggregation")


def _rows(result: Evaluation, logic: dict[str, Any]) -> list[dict[str, Any]]:
    outputs = result.outputs
    if _multi_hit(logic):
        if len(logic.get("outputs") or ()) > 1:  # several outputs: the decision's one list of contexts, a row per rule
            return [dict(row) for row in next(iter(outputs.values()), [])]
        return [{name: value} for name, values in outputs.items() for value in values]
    is_table = "hit_policy" in logic
    return [dict(outputs)] if (result.matched_rules or not is_table or logic.get("aggregation")) else []


def _single_entry(result: Evaluation, row: dict[str, Any]) -> Any:
    if len(row) != 1:
        raise DecisionError(
            f"decision {result.decision!r} has {len(row)} outputs; a single entry needs one", result.decision
        )
    return next(iter(row.values()))


def _sandbox(task: Task) -> SandboxedEnvironment | None:
    """The sandbox of the task's script engine; None if it is not sandboxed (Python cells then fail)."""
    environment = getattr(task.workflow.script_engine, "environment", None)
    return environment if isinstance(environment, SandboxedEnvironment) else None


def take_record(task: Task) -> dict[str, Any] | None:
    """Remove and return the evaluation record a business rule task left, if any."""
    record: dict[str, Any] | None = task.internal_data.pop(RECORD_KEY, None)
    return record


class PmoflowBusinessRuleTaskConverter(SpiffBpmnTaskConverter):
    """Serializes the task spec with its decision model and pinned version."""

    def to_dict(self, spec: PmoflowBusinessRuleTask) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(spec)
        dct.update(decision=spec.decision, model=spec.model, content_hash=spec.content_hash, version=spec.version)
        if spec.result_variable:
            dct.update(result_variable=spec.result_variable, result_mapping=spec.result_mapping)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> PmoflowBusinessRuleTask:
        spec: PmoflowBusinessRuleTask = self.task_spec_from_dict(dct)
        return spec


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
