"""Start events that set variables as the instance starts: Camunda 8's output mappings on a start event.

A `zeebe:ioMapping` on a start event has only outputs (`<zeebe:output source="= string(now())"
target="documentReferenceId"/>`). engine/spiff/extensions/camunda.py turns them into a post-script, and this
start event runs it when it completes, over the start variables, before the first activity.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.serializer.default.task_spec import EventConverter
from SpiffWorkflow.bpmn.specs.defaults import StartEvent

from engine.spiff.model.events import StartEventParser
from engine.spiff.namespaces import BPMN_NS, SPIFF_NS


class PmoflowStartEvent(StartEvent):
    """A start event with an optional post-script (its output mappings), run as it completes."""

    def __init__(
        self, wf_spec: Any, bpmn_id: str, event_definition: Any, postscript: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(wf_spec, bpmn_id, event_definition, **kwargs)
        self.postscript = postscript

    def _on_complete_hook(self, my_task: Any) -> None:
        if self.postscript:
            my_task.workflow.script_engine.execute(my_task, self.postscript)
        super()._on_complete_hook(my_task)


class PmoflowStartEventConverter(EventConverter):
    """Serializes the start event with its post-script."""

    def to_dict(self, spec: PmoflowStartEvent) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(spec)
        dct["postscript"] = spec.postscript
        return dct


class OutputStartEventParser(StartEventParser):
    """The start event parser that also reads the post-script the output mappings became."""

    def create_task(self) -> Any:
        task = super().create_task()
        script = self.node.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}postScript")
        if script is not None and (script.text or "").strip() and isinstance(task, PmoflowStartEvent):
            task.postscript = script.text
        return task
