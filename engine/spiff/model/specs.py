"""Serialization of specs (once per definition version) and of instance state (without the spec)."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import lru_cache
from threading import Lock
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.task_spec import ConditionalGatewayConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import SpiffMultiInstanceConverter
from SpiffWorkflow.task import Task

from engine.spiff.extensions.calls import PmoflowCallActivity, PmoflowCallActivityConverter
from engine.spiff.extensions.connector import PmoflowConnectorTask, PmoflowConnectorTaskConverter
from engine.spiff.extensions.decisions import PmoflowBusinessRuleTask, PmoflowBusinessRuleTaskConverter
from engine.spiff.extensions.external import PmoflowExternalTask, PmoflowExternalTaskConverter
from engine.spiff.model.start_event import PmoflowStartEvent, PmoflowStartEventConverter
from engine.spiff.model.structure import ImplicitSplit, PmoflowParallelMultiInstance, PmoflowSequentialMultiInstance
from engine.spiff.model.task_data import DataRegistry, DataTaskConverter

STATE_FORMAT = 1


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Leaves the spec out of the state; it is restored from the definition version."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


@lru_cache(maxsize=1)
def spec_registry() -> DefaultRegistry:
    """The registry for SpiffWorkflow's own objects plus the data types scripts may produce."""
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = SpeclessWorkflowConverter
    config[Task] = DataTaskConverter  # task data converted, and data that looks converted kept as data
    config[PmoflowBusinessRuleTask] = PmoflowBusinessRuleTaskConverter  # decisions evaluated by engine.dmn
    config[PmoflowConnectorTask] = PmoflowConnectorTaskConverter  # HTTP calls made by the worker
    config[PmoflowCallActivity] = PmoflowCallActivityConverter  # call activities with variable mappings
    config[PmoflowExternalTask] = PmoflowExternalTaskConverter  # tasks done by external workers
    config[ImplicitSplit] = ConditionalGatewayConverter  # several flows leaving an activity
    config[PmoflowParallelMultiInstance] = SpiffMultiInstanceConverter  # element variables stay local
    config[PmoflowSequentialMultiInstance] = SpiffMultiInstanceConverter
    config[PmoflowStartEvent] = PmoflowStartEventConverter  # start events with output mappings
    registry = BpmnWorkflowSerializer.configure(config, DataRegistry())
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    return registry


SpecBundle = tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]


class SpecCache:
    """Restored specs by definition id; specs are immutable, so workflows may share them."""

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[int, SpecBundle] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, definition_id: int, spec_json: str | Callable[[], str]) -> SpecBundle:
        """The restored spec; `spec_json` (or what it returns, called only on a miss) is the stored spec."""
        with self._lock:
            if definition_id in self._items:
                self._items.move_to_end(definition_id)
                return self._items[definition_id]
        bundle = restore_spec(spec_json if isinstance(spec_json, str) else spec_json())
        with self._lock:
            self._items[definition_id] = bundle
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return bundle


def restore_spec(spec_json: str) -> SpecBundle:
    """Rebuild a stored spec and its call-activity specs."""
    registry = spec_registry()
    data = json.loads(spec_json)
    spec = registry.restore(data["spec"])
    subs = {name: registry.restore(s) for name, s in data["subprocess_specs"].items()}
    spec.pmoflow = data.get("pmoflow", {})  # timer kinds and calendars (engine.spiff.extensions.sla)
    return spec, subs


def dump_state(workflow: BpmnWorkflow) -> str:
    """The instance's state as JSON, without its spec."""
    dct = spec_registry().convert(workflow)
    dct["format"] = STATE_FORMAT
    return json.dumps(dct, separators=(",", ":"))


def load_state(state: str, bundle: SpecBundle) -> BpmnWorkflow:
    """Restore an instance's workflow from its state and its definition's spec."""
    dct = json.loads(state)
    dct.pop("format", None)
    return spec_registry().restore(dct, spec=bundle[0], subprocess_specs=bundle[1])
