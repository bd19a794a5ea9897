"""The log of one engine step: the elements it completed, the decisions it evaluated, the timers that fired and
the signals it threw, for the event stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.spiff.extensions.decisions import take_record
from engine.spiff.extensions.outcomes import end_kind
from engine.spiff.model.structure import IMPLICIT_SPLIT
from engine.spiff.runtime.timers import timer_context
from engine.spiff.runtime.variables import jsonable


@dataclass
class StepLog:
    """What one engine step did, for the event stream."""

    completed: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)  # thrown here, for the other instances
    # cycle timers whose firing this step put in the path (kept when the lists above are taken and cleared)
    cycle_firings: set[str] = field(default_factory=set)

    def record(self, task: Task) -> None:
        """Note a task that completed: the element, a timer that fired (a cycle timer's firing before its path),
        the decision a business rule task evaluated."""
        spec = task.task_spec
        if not spec.bpmn_id or spec.bpmn_id.endswith((".BoundaryEventSplit", IMPLICIT_SPLIT)):
            return
        entry = {
            "task_id": str(task.id),
            "element_id": spec.bpmn_id,
            "name": spec.bpmn_name,
            "type": type(spec).__name__,
            "process": task.workflow.spec.name,
        }
        if entry["task_id"] in self.cycle_firings:
            return  # a cycle timer's completion: its last firing is in the path already
        if isinstance(spec, EndEvent) and isinstance(task.workflow, BpmnWorkflow):  # an end of the process itself
            declared = getattr(task.workflow.spec, "pmoflow", {}).get("ends", {}).get(spec.bpmn_id)
            entry["end"] = {"kind": end_kind(spec.event_definition), "outcome": declared}
        self.completed.append(entry)
        if isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
            self.timers.append({**entry, **timer_context(task)})
        parent = task.parent
        if parent is not None and isinstance(
            getattr(parent.task_spec, "event_definition", None), CycleTimerEventDefinition
        ):
            # A cycle timer never completes; each firing starts its outgoing path as a new child.
            cycle = parent.task_spec
            fired = {
                "task_id": str(parent.id),
                "element_id": cycle.bpmn_id,
                "name": cycle.bpmn_name,
                "type": type(cycle).__name__,
                "process": entry["process"],
            }
            self.timers.append({**fired, **timer_context(parent)})
            if parent.state != TaskState.COMPLETED:  # the path shows each firing, before its path
                self.completed.insert(len(self.completed) - 1, fired)
                self.cycle_firings.add(fired["task_id"])
        record = take_record(task)
        if record is not None:
            self.decisions.append({**entry, **record})
        elif isinstance(spec, BusinessRuleTaskMixin):  # specs deployed before engine.dmn existed
            table = spec.dmnEngine.decision_table
            outputs = [o.name for o in table.outputs]
            self.decisions.append(
                {
                    **entry,
                    "decision_table": table.id,
                    "hit_policy": table.hit_policy,
                    "inputs": jsonable({i.expression or i.label: _input_value(task, i) for i in table.inputs}),
                    "outputs": jsonable({k: task.data.get(k) for k in outputs}),
                }
            )


def _input_value(task: Task, table_input: Any) -> Any:
    try:
        return task.workflow.script_engine.evaluate(task, table_input.expression)
    except Exception:  # noqa: BLE001 - the decision already ran; this is only for the record
        return None
