"""Spec building: a checked deployment handed to SpiffWorkflow's parser (with our task parsers), each executable
process turned into serialized specs plus what we keep beside them (user tasks, forms, a content hash)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import ExclusiveGateway, InclusiveGateway
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser

from engine.core.errors import DeploymentInvalid, Problem
from engine.dmn.model import DecisionModel
from engine.spiff.extensions.announce import announcements
from engine.spiff.extensions.approvals import approval_config, priority_of, separation_of_duties
from engine.spiff.extensions.assignment import assignment_config, initiator_variable, process_default_group
from engine.spiff.extensions.calls import CallActivityTaskParser, PmoflowCallActivity, embed_callees
from engine.spiff.extensions.camunda import decision_result
from engine.spiff.extensions.connector import PmoflowConnectorTask, connector_node, read_config
from engine.spiff.extensions.decisions import PmoflowBusinessRuleTask, PublishedDecision, result_mapping_problem
from engine.spiff.extensions.external import implementation_problems, is_external, with_external_tasks
from engine.spiff.extensions.outcomes import end_outcomes
from engine.spiff.extensions.references import decision_ref
from engine.spiff.extensions.sla import boundary_timers, sla_config
from engine.spiff.model.events import (
    SignalEndEventParser,
    connect_event_subprocesses,
    event_subprocesses,
    prepare_for_spiff,
)
from engine.spiff.model.files import DeploymentFiles
from engine.spiff.model.gateways import GatewayParser
from engine.spiff.model.specs import spec_registry
from engine.spiff.model.start_event import OutputStartEventParser, PmoflowStartEvent
from engine.spiff.model.structure import ImplicitSplitParser, prepare, with_multi_instance_classes
from engine.spiff.namespaces import BPMN_NS, HUMAN_TASKS, NS, SUB_SCOPES
from engine.spiff.xml import parent_of


@dataclass(frozen=True)
class ParsedProcess:
    """One executable process: its serialized specs and what is kept beside them."""

    key: str
    name: str
    bpmn_file: str
    spec_json: str
    content_hash: str
    forms: dict[str, Any]
    user_tasks: list[dict[str, Any]]
    files: tuple[str, ...]
    start_form: str | None = None  # the form of the process's start event: what a requester fills in
    announce: list[dict[str, Any]] = field(default_factory=list)  # pmoflow:announce (extensions/announce.py)


class _DecisionTaskParser(SpiffTaskParser):
    """Builds business rule tasks that carry the decision model they evaluate (engine.dmn)."""

    @staticmethod
    def get_decision_ref(node: etree._Element) -> str | None:
        return decision_ref(node)

    def create_task(self) -> PmoflowBusinessRuleTask:
        ref = decision_ref(self.node) or ""
        published = self.process_parser.parser.published_decisions.get(ref)
        model = published.model if published is not None else self.process_parser.parser.decision_models.get(ref)
        if model is None:
            raise ValidationException(
                f"decision {ref!r} is not in this deployment", node=self.node, file_name=self.filename
            )
        extensions = self.parse_extensions()
        result_variable, result_mapping = decision_result(self.node)
        reason = result_mapping_problem(model, result_mapping) if result_variable else None
        if reason is not None:
            raise ValidationException(reason, node=self.node, file_name=self.filename)
        return PmoflowBusinessRuleTask(
            self.spec,
            self.bpmn_id,
            decision=ref,
            model=model.to_dict(),
            content_hash=model.content_hash(),
            version=published.version if published is not None else None,
            result_variable=result_variable,
            result_mapping=result_mapping,
            prescript=extensions.get("preScript"),
            postscript=extensions.get("postScript"),
            **self.bpmn_attributes,
        )


class _ServiceTaskParser(SpiffTaskParser):
    """Service tasks with a pmoflow:connector wait for the worker's HTTP call (engine.integration.connectors);
    those with a topic are external tasks (engine.spiff.extensions.external wraps this parser). Nothing else
    passes the checks."""

    def create_task(self) -> Any:
        node = connector_node(self.node)
        if node is None:
            problem = implementation_problems(self.filename, self.node)[0]
            raise ValidationException(problem.message, node=self.node, file_name=self.filename)
        extensions = self.parse_extensions()  # pre/post scripts carry camunda/zeebe mappings
        return PmoflowConnectorTask(
            self.spec,
            self.bpmn_id,
            connector=read_config(node),
            prescript=extensions.get("preScript"),
            postscript=extensions.get("postScript"),
            **self.bpmn_attributes,
        )


class PmoflowParser(SpiffBpmnParser):
    """Spiff's parser with our business rule tasks; no XSD (we validate first)."""

    # a task with a topic is an external task; multi-instance specs and implicit splits: structure.py
    OVERRIDE_PARSER_CLASSES = with_multi_instance_classes(
        with_external_tasks(
            {
                **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
                full_tag("businessRuleTask"): (_DecisionTaskParser, PmoflowBusinessRuleTask),
                full_tag("serviceTask"): (_ServiceTaskParser, PmoflowConnectorTask),
                full_tag("endEvent"): (
                    SignalEndEventParser,
                    SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("endEvent")][1],
                ),
                full_tag("startEvent"): (OutputStartEventParser, PmoflowStartEvent),  # output mappings: start_event.py
                full_tag("callActivity"): (CallActivityTaskParser, PmoflowCallActivity),
                # flows without a condition are always taken, in document order (engine.spiff.model.gateways); inclusive
                # gateways also make the implicit splits structure.py adds
                full_tag("exclusiveGateway"): (GatewayParser, ExclusiveGateway),
                full_tag("inclusiveGateway"): (ImplicitSplitParser, InclusiveGateway),
            }
        )
    )

    def __init__(
        self,
        *args: Any,
        decision_models: dict[str, DecisionModel] | None = None,
        published_decisions: dict[str, PublishedDecision] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.decision_models = decision_models or {}
        self.published_decisions = published_decisions or {}  # deployed earlier: pinned to their version


def build_specs(index: DeploymentFiles, executable: list[str]) -> list[ParsedProcess]:
    """SpiffWorkflow specs of the executable processes of a checked deployment; raises DeploymentInvalid."""
    parser = PmoflowParser(validator=None, decision_models=index.models, published_decisions=index.decisions_used)
    for filename, root in index.bpmn.items():
        prepare_for_spiff(root)  # bare ISO timers quoted, link events joined (engine.spiff.model.events)
        prepare(root)  # expressions, implicit splits, MI, data (engine.spiff.model.structure)
        parser.add_bpmn_xml(root, filename)
    problems: list[Problem] = []
    parsed = []
    for pid in executable:
        try:
            parsed.append(_build_one(parser, pid, index))
        except ValidationException as err:
            problems.append(_problem_from_spiff(err, index))
        except Exception as err:  # noqa: BLE001 - whatever SpiffWorkflow's parser raises is a deploy problem
            problems.append(_problem_from_error(err, pid, index))
    if problems:
        raise DeploymentInvalid(problems)
    return parsed


def _problem_from_error(err: Exception, pid: str, index: DeploymentFiles) -> Problem:
    """Any other error of SpiffWorkflow's parser, at the element it names or else at the process."""
    filename, node = index.processes[pid]
    element, line = pid, node.sourceline
    found = getattr(err, "id", None) or getattr(getattr(err, "task_spec", None), "bpmn_id", None)
    if isinstance(found, str):
        hits = node.xpath("//*[@id=$i]", i=found)
        if hits:
            element, line = found, hits[0].sourceline
    detail = str(err) or type(err).__name__
    return Problem(f"cannot build process: {type(err).__name__}: {detail}", filename, element, line, "spec")


def _problem_from_spiff(err: ValidationException, index: DeploymentFiles) -> Problem:
    filename = Path(err.file_name).name if err.file_name else None
    line = err.line_number if isinstance(err.line_number, int) else None
    if err.id and line is None:
        for name, root in index.bpmn.items():
            hits = root.xpath("//*[@id=$i]", i=err.id)
            if hits:
                filename, line = name, hits[0].sourceline
                break
    return Problem(str(err.args[0]) if err.args else str(err), filename, err.id or None, line, "spec")


def _build_one(parser: PmoflowParser, pid: str, index: DeploymentFiles) -> ParsedProcess:
    spec = parser.get_spec(pid)
    found = parser.get_subprocess_specs(pid, require_call_activity_specs=False)
    subprocess_specs = {name: s for name, s in found.items() if s is not None}
    connect_event_subprocesses([spec, *subprocess_specs.values()])  # engine.spiff.model.events
    registry = spec_registry()
    converted = {name: registry.convert(s) for name, s in subprocess_specs.items()}
    timers = {
        k: v
        for p in [pid, *subprocess_specs]
        if p in index.processes
        for k, v in boundary_timers(index.processes[p][1]).items()
    }
    embedded, callee_timers = embed_callees(converted, set(found) - set(subprocess_specs), index.callees)
    initiator = initiator_variable(index.processes[pid][1])
    spec_json = json.dumps(
        {
            "spec": registry.convert(spec),
            "subprocess_specs": converted,
            # ours, read back by engine.spiff.model.specs.restore_spec: timer kinds and business calendars, event
            # sub-processes, and the variable camunda:initiator names (engine.runtime.steps.new_run)
            "pmoflow": {
                "timers": {**callee_timers, **timers},
                "event_subprocesses": {
                    k: v
                    for p in [pid, *subprocess_specs]
                    if p in index.processes
                    for k, v in event_subprocesses(index.processes[p][1]).items()
                },
                **({"initiator": initiator} if initiator else {}),
                "ends": end_outcomes(index.processes[pid][1]),  # pmoflow:outcome (engine.spiff.extensions.outcomes)
            },
        }
    )
    process_ids = [pid, *(p for p in subprocess_specs if p in index.processes or p in index.scopes)]
    filename, node = index.processes[pid]
    user_tasks, forms, used_files = _process_metadata(process_ids, index)
    for callee in embedded:  # published callees bring their own user tasks and forms
        user_tasks.extend(callee.user_tasks)
        forms.update(callee.forms)
    start_form = index.start_form_id(node)
    if start_form:
        forms[start_form] = index.forms[start_form]
        used_files.add(index.form_files[start_form])
    files = tuple(sorted(used_files | {filename}))
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + index.raw[name] + b"\0")
    for callee in embedded:
        digest.update(f"{callee.key}@{callee.version}:{callee.content_hash}".encode() + b"\0")
    return ParsedProcess(
        key=pid,
        name=node.get("name") or pid,
        bpmn_file=filename,
        spec_json=spec_json,
        content_hash=digest.hexdigest(),
        forms=forms,
        user_tasks=user_tasks,
        files=files,
        start_form=start_form,
        announce=announcements(node),
    )


def _process_metadata(
    process_ids: list[str], index: DeploymentFiles
) -> tuple[list[dict[str, Any]], dict[str, Any], set[str]]:
    user_tasks: list[dict[str, Any]] = []
    forms: dict[str, Any] = {}
    used: set[str] = set()
    for pid in process_ids:
        filename, scope = index.processes.get(pid) or index.scopes[pid]
        used.add(filename)
        process = _process_of(scope)
        lanes = _lanes_by_node(process)
        duties = separation_of_duties(process)
        default_group = process_default_group(process)
        for node in _own_nodes(scope, HUMAN_TASKS):
            ref = index.form_id(node)
            if ref:
                forms[ref] = index.forms[ref]
                used.add(index.form_files[ref])
            user_tasks.append(
                {
                    "process": pid,
                    "element_id": node.get("id"),
                    "name": node.get("name") or node.get("id"),
                    "lane": _lane_of(node, lanes),
                    "form": ref,
                    **assignment_config(node),
                    "default_group": default_group,
                    "approval": approval_config(node),
                    "separation": duties,
                    "priority": priority_of(node),
                    "sla": sla_config(node),
                }
            )
        for node in _own_nodes(scope, {"businessRuleTask"}):
            if not is_external(node) and (decision := decision_ref(node) or "") in index.decisions:
                used.add(index.decisions[decision])  # (a decision published earlier has no file here)
    return user_tasks, forms, used


def _process_of(node: etree._Element) -> etree._Element:
    """The bpmn:process a (possibly nested) element belongs to."""
    parent = node.getparent()
    while etree.QName(node).localname != "process" and parent is not None:
        node, parent = parent, parent.getparent()
    return node


def _own_nodes(scope: etree._Element, kinds: set[str]) -> list[etree._Element]:
    """The elements of these kinds in a process or sub-process, not those of the sub-processes inside it:
    at run time each sub-process is a workflow of its own, named by its id."""
    found = []
    for node in scope.iter(*(f"{{{BPMN_NS}}}{k}" for k in kinds)):
        parent = parent_of(node)
        while parent is not scope and etree.QName(parent).localname not in SUB_SCOPES:
            parent = parent_of(parent)
        if parent is scope:
            found.append(node)
    return found


def _lane_of(node: etree._Element, lanes: dict[str, str | None]) -> str | None:
    """A node's lane; inside an embedded sub-process, the lane of the sub-process."""
    current: etree._Element | None = node
    while current is not None:
        lane = lanes.get(current.get("id") or "")
        if lane:
            return lane
        current = current.getparent()
    return None


def _lanes_by_node(process: etree._Element) -> dict[str, str | None]:
    lanes: dict[str, str | None] = {}
    for lane in process.iterfind(".//bpmn:lane", NS):
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            if ref.text:
                lanes[ref.text.strip()] = lane.get("name") or lane.get("id")
    return lanes
