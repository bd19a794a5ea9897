"""Deployment parsing: hardened XML, every problem at once, then SpiffWorkflow specs.

`parse_deployment` checks a set of BPMN, DMN and form files the way a reviewer would
(unknown elements, timers, lanes, callees, decision
and form references, expressions that do not compile) and reports all problems with file,
element id and line. DMN files are read by engine.dmn (every FEEL cell parsed, every
decision's test table run); a deployment may hold decisions only. Only a clean deployment
is handed to SpiffWorkflow's parser.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import ExclusiveGateway, InclusiveGateway
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser

from engine.core.errors import DeploymentInvalid, Problem
from engine.dmn.compiled import compile_model
from engine.dmn.model import DecisionModel
from engine.dmn.reader import read_dmn
from engine.dmn.testcases import run_tests
from engine.forms.checks import FormSchemaError, load_form
from engine.spiff.expressions.sandbox import SandboxedEnvironment, check_expression
from engine.spiff.extensions.approvals import (
    approval_config,
    approval_problems,
    priority_of,
    priority_problems,
    separation_of_duties,
)
from engine.spiff.extensions.assignment import (
    ZEEBE_NS,
    assignment_config,
    assignment_problems,
    embedded_zeebe_forms,
    initiator_variable,
    process_default_group,
    raw_assignment,
    translate,
    zeebe_form,
)
from engine.spiff.extensions.calls import (
    CallActivityTaskParser,
    PmoflowCallActivity,
    PublishedProcess,
    Resolver,
    call_problems,
)
from engine.spiff.extensions.calls import embed_callees as _embed_callees
from engine.spiff.extensions.camunda import called_decision, decision_result, translate_model
from engine.spiff.extensions.connector import PmoflowConnectorTask, connector_node, connector_problems, read_config
from engine.spiff.extensions.decisions import (
    DecisionResolver,
    PmoflowBusinessRuleTask,
    PublishedDecision,
    result_mapping_problem,
)
from engine.spiff.extensions.external import (
    external_problems,
    implementation_problems,
    is_external,
    with_external_tasks,
)
from engine.spiff.extensions.sla import boundary_timers, sla_config, sla_problems, timer_calendars_used, timer_problems
from engine.spiff.model.events import (
    TIMER_KINDS,
    SignalEndEventParser,
    bare_iso,
    connect_event_subprocesses,
    event_problems,
    event_subprocesses,
    iso_error,
    prepare_for_spiff,
)
from engine.spiff.model.gateways import GatewayParser
from engine.spiff.model.specs import spec_registry
from engine.spiff.model.start_event import OutputStartEventParser, PmoflowStartEvent
from engine.spiff.model.structure import (
    ImplicitSplitParser,
    expression_text,
    prepare,
    script_text,
    structure_problems,
    with_multi_instance_classes,
)
from engine.spiff.model.xml import XmlRefused, parent_of, parse_xml

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
PMOFLOW_NS = "https://pmoflow.dev/schema/bpmn/1.0"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
}
NS = {"bpmn": BPMN_NS, "pmoflow": PMOFLOW_NS, "camunda": CAMUNDA_NS, "spiffworkflow": SPIFF_NS, "zeebe": ZEEBE_NS}

FLOW_NODES = {
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "businessRuleTask", "sendTask",
    "receiveTask", "subProcess", "transaction", "callActivity", "startEvent", "endEvent",
    "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway",
    "inclusiveGateway", "parallelGateway", "eventBasedGateway",
}
OTHER_PROCESS_CHILDREN = {
    "sequenceFlow", "laneSet", "dataObject", "dataObjectReference", "dataStoreReference",
    "textAnnotation", "association", "group", "ioSpecification", "property", "documentation",
    "extensionElements", "auditing", "monitoring", "supports", "correlationSubscription",
    "standardLoopCharacteristics", "multiInstanceLoopCharacteristics", "incoming", "outgoing",
    "dataInputAssociation", "dataOutputAssociation", "resourceRole", "performer", "potentialOwner",
    "humanPerformer", "rendering",
}
HUMAN_TASKS = {"userTask", "manualTask"}
SUB_SCOPES = ("subProcess", "transaction", "adHocSubProcess")


@dataclass(frozen=True)
class SourceFile:
    filename: str
    content: bytes


@dataclass(frozen=True)
class ParsedProcess:
    key: str
    name: str
    bpmn_file: str
    spec_json: str
    content_hash: str
    forms: dict[str, Any]
    user_tasks: list[dict[str, Any]]
    files: tuple[str, ...]
    start_form: str | None = None        # the form of the process's start event: what a requester fills in


@dataclass(frozen=True)
class ParsedDecision:
    """One decision with everything it requires, ready to be versioned."""

    key: str
    name: str
    dmn_file: str
    model: DecisionModel
    content_hash: str


@dataclass(frozen=True)
class ParsedDeployment:
    processes: list[ParsedProcess]
    decisions: list[ParsedDecision]


@dataclass
class _Files:
    """What the deployment holds, indexed for the checks."""

    bpmn: dict[str, etree._Element] = field(default_factory=dict)
    dmn: dict[str, etree._Element] = field(default_factory=dict)
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)          # form id -> schema
    form_files: dict[str, str] = field(default_factory=dict)                # form id -> filename
    raw: dict[str, bytes] = field(default_factory=dict)
    processes: dict[str, tuple[str, etree._Element]] = field(default_factory=dict)  # id -> (file, node)
    # embedded sub-processes, event sub-processes and transactions: Spiff builds each as a spec of its own
    scopes: dict[str, tuple[str, etree._Element]] = field(default_factory=dict)   # id -> (file, node)
    decisions: dict[str, str] = field(default_factory=dict)                 # decision id -> filename
    models: dict[str, DecisionModel] = field(default_factory=dict)          # decision id -> model
    dmn_lines: dict[str, dict[str, int]] = field(default_factory=dict)      # filename -> element id -> line
    published: Resolver | None = None                                       # callees of earlier deployments
    callees: dict[str, PublishedProcess] = field(default_factory=dict)      # key -> the published one embedded
    published_decisions: DecisionResolver | None = None                     # decisions of earlier deployments
    # decision id -> the published one a business rule task evaluates (not in this deployment, or pinned)
    decisions_used: dict[str, PublishedDecision] = field(default_factory=dict)


def parse_deployment(
    files: Sequence[SourceFile], *, max_bytes: int, max_files: int = 50, calendars: set[str] | None = None,
    published: Resolver | None = None, decisions: DecisionResolver | None = None,
) -> ParsedDeployment:
    """Check and parse a deployment (with `calendars`, the business calendars that exist, `published`, which
    finds callees deployed earlier, and `decisions`, which finds decisions deployed earlier); raises
    DeploymentInvalid listing every problem found."""
    problems: list[Problem] = []
    if not files:
        raise DeploymentInvalid([Problem("no files were uploaded", code="empty")])
    if len(files) > max_files:
        raise DeploymentInvalid([Problem(f"{len(files)} files; at most {max_files} per deployment")])
    index = _load_files(files, max_bytes, problems)
    index.published = published
    index.published_decisions = decisions
    for filename, root in index.bpmn.items():
        problems.extend(_check_bpmn(filename, root, index))
    for filename, root in index.dmn.items():
        problems.extend(_check_dmn(filename, root, index))
    if calendars is not None:
        problems.extend(_calendar_problems(index, calendars))
    if not problems:
        problems.extend(_decision_test_problems(index))
    executable = _executable_processes(index, problems)
    if problems:
        raise DeploymentInvalid(problems)
    return ParsedDeployment(_build_specs(index, executable) if executable else [], _parsed_decisions(index))


# ---------------------------------------------------------------- loading

def _load_files(files: Sequence[SourceFile], max_bytes: int, problems: list[Problem]) -> _Files:
    index = _Files()
    seen: set[str] = set()
    for f in files:
        name = Path(f.filename or "unnamed").name
        if name in seen:
            problems.append(Problem("the same file name is uploaded twice", name))
            continue
        seen.add(name)
        suffix = Path(name).suffix.lower()
        if suffix == ".form" or suffix == ".json":
            _load_form(name, f.content, max_bytes, index, problems)
            continue
        if suffix not in (".bpmn", ".dmn", ".xml"):
            problems.append(Problem("unknown file type; expected .bpmn, .dmn or .form", name))
            continue
        try:
            root = parse_xml(f.content, name, max_bytes)
        except XmlRefused as refused:
            problems.append(refused.problem)
            continue
        index.raw[name] = f.content
        namespace = etree.QName(root).namespace
        if namespace == BPMN_NS:
            index.bpmn[name] = root
            _index_processes(name, root, index, problems)
        elif namespace in DMN_NAMESPACES:
            index.dmn[name] = root
            _index_decisions(name, root, index, problems)
        else:
            problems.append(Problem(f"root element {root.tag!r} is neither BPMN 2.0 nor DMN", name,
                                    line=root.sourceline))
    return index


def _load_form(name: str, content: bytes, max_bytes: int, index: _Files, problems: list[Problem]) -> None:
    if len(content) > max_bytes:
        problems.append(Problem(f"file is {len(content)} bytes; the limit is {max_bytes}", name, code="too_large"))
        return
    try:
        schema = load_form(content, name)
    except FormSchemaError as err:
        problems.extend(Problem(f"{p.path}: {p.message}", name, code="invalid_form") for p in err.problems)
        return
    form_id = schema["id"]
    if form_id in index.forms:
        problems.append(Problem(f"form id {form_id!r} is also used by {index.form_files[form_id]}", name))
        return
    index.raw[name] = content
    index.forms[form_id] = schema
    index.form_files[form_id] = name


def _add_form(filename: str, form_id: str, content: bytes, index: _Files, problems: list[Problem]) -> None:
    """A Camunda 8 form embedded in a BPMN file (zeebe:userTaskForm), known by its element id."""
    try:
        schema = load_form(content, filename)
    except FormSchemaError as err:
        problems.extend(Problem(f"embedded form {form_id!r}: {p.path}: {p.message}", filename, form_id,
                                code="invalid_form") for p in err.problems)
        return
    if form_id in index.forms:
        problems.append(Problem(f"form id {form_id!r} is also used by {index.form_files[form_id]}", filename,
                                form_id))
        return
    index.forms[form_id] = schema
    index.form_files[form_id] = filename


def _index_processes(name: str, root: etree._Element, index: _Files, problems: list[Problem]) -> None:
    for process in root.iterfind("bpmn:process", NS):
        pid = process.get("id")
        if not pid:
            problems.append(Problem("process without an id", name, line=process.sourceline))
            continue
        if pid in index.processes:
            problems.append(Problem(f"process id {pid!r} is also defined in {index.processes[pid][0]}", name,
                                    pid, process.sourceline))
            continue
        index.processes[pid] = (name, process)
        for scope in process.iter(*(f"{{{BPMN_NS}}}{k}" for k in SUB_SCOPES)):
            if scope_id := scope.get("id"):
                index.scopes.setdefault(scope_id, (name, scope))
        for form_id, text in embedded_zeebe_forms(process).items():
            _add_form(name, form_id, text.encode(), index, problems)


def _index_decisions(name: str, root: etree._Element, index: _Files, problems: list[Problem]) -> None:
    ns = etree.QName(root).namespace
    for decision in root.iterfind(f"{{{ns}}}decision"):
        did = decision.get("id")
        if did in index.decisions:
            problems.append(Problem(f"decision id {did!r} is also defined in {index.decisions[did]}", name, did,
                                    decision.sourceline))
            continue
        if did:
            index.decisions[did] = name


# ---------------------------------------------------------------- BPMN checks

def _check_bpmn(filename: str, root: etree._Element, index: _Files) -> list[Problem]:
    problems = _duplicate_ids(filename, root)
    problems += translate_model(filename, root)      # FEEL/JUEL and Camunda/Zeebe mappings, rewritten in place
    unknown_lines: set[int] = set()
    for process in root.iterfind("bpmn:process", NS):
        for container in [process, *process.iterfind(".//bpmn:subProcess", NS),
                          *process.iterfind(".//bpmn:transaction", NS)]:
            for child in container:
                if not isinstance(child.tag, str) or etree.QName(child).namespace != BPMN_NS:
                    continue
                local = etree.QName(child).localname
                if local not in FLOW_NODES and local not in OTHER_PROCESS_CHILDREN and local != "laneSet":
                    unknown_lines.add(child.sourceline or 0)
                    problems.append(Problem(f"unknown or unsupported element type bpmn:{local}", filename,
                                            child.get("id"), child.sourceline, "unknown_element"))
        problems.extend(_check_process(filename, process, index))
    problems.extend(event_problems(filename, root))
    problems.extend(_schema_problems(filename, root, unknown_lines))
    problems.extend(structure_problems(filename, root))
    return problems


def _duplicate_ids(filename: str, root: etree._Element) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        eid = el.get("id")
        if eid is None:
            continue
        if eid in seen:
            problems.append(Problem(f"id {eid!r} is used twice (first on line {seen[eid]}); ids must be unique",
                                    filename, eid, el.sourceline, "duplicate_id"))
        else:
            seen[eid] = el.sourceline or 0
    return problems


@lru_cache(maxsize=1)
def _bpmn_schema() -> etree.XMLSchema:
    schema: etree.XMLSchema = BpmnValidator().validator
    return schema


def _schema_problems(filename: str, root: etree._Element, skip_lines: set[int]) -> list[Problem]:
    schema = _bpmn_schema()
    if schema.validate(root):
        return []
    problems = []
    for err in schema.error_log:
        if err.line in skip_lines:
            continue
        message = re.sub(r"\{" + re.escape(BPMN_NS) + r"\}", "bpmn:", err.message)
        message = message.split(" Expected is")[0]
        problems.append(Problem(f"not valid BPMN 2.0: {message}", filename, line=err.line, code="schema"))
    return problems[:20]


def _check_process(filename: str, process: etree._Element, index: _Files) -> list[Problem]:
    problems: list[Problem] = []
    for node in process.iter():
        if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
            continue
        local = etree.QName(node).localname
        where = (filename, node.get("id"), node.sourceline)
        if local in HUMAN_TASKS:
            problems.extend(_check_human_task(node, where, index))
        elif local == "conditionExpression":
            problems.extend(_check_expr(node.text, "eval", "condition", filename, _owner_id(node), node))
        elif local == "script":
            problems.extend(_check_expr(node.text, "exec", "script", filename, _owner_id(node), node))
        elif local in ("loopCardinality", "completionCondition"):
            problems.extend(_check_expr(node.text, "eval", local, filename, _owner_id(node), node))
        elif local in TIMER_KINDS:
            problems.extend(_check_timer(filename, node, local))
        elif local == "callActivity":
            problems.extend(_check_call(node, where, index))
        elif is_external(node):                         # a topic: service, send, business rule or script task
            problems.extend(external_problems(filename, node))
        elif local == "businessRuleTask":
            problems.extend(_check_decision_ref(node, where, index))
        elif local == "serviceTask":
            problems.extend(_check_service_task(filename, node, where))
        elif local == "startEvent" and (ref := form_ref(node)) is not None and _form_id(node, index) is None \
                and not _loose_form_key(node):
            known = ", ".join(sorted(index.forms)) or "none"
            problems.append(Problem(f"start form {ref!r} is not in this deployment (forms here: {known})", *where,
                                    "missing_form"))
        elif local == "scriptTask" and not (node.findtext("bpmn:script", None, NS) or "").strip():
            problems.append(Problem("script task has no script", *where))
        if node.find("bpmn:timerEventDefinition", NS) is not None:
            problems.extend(timer_problems(node, filename))
    return problems


def _check_service_task(
    filename: str, node: etree._Element, where: tuple[str, str | None, int | None]
) -> list[Problem]:
    """A service task without a topic (see `_check_process`): an HTTP connector, or a problem saying what to add."""
    if connector_node(node) is not None:
        return connector_problems(filename, node)
    return implementation_problems(filename, node)


def _owner_id(node: etree._Element) -> str | None:
    """The id of the diagram element a nested node belongs to: the flow node, sequence flow or process
    around a condition, script, timer value or event definition (those may carry ids of their own, as
    Signavio writes them, but the designer marks problems on shapes)."""
    found = None
    current: etree._Element | None = node
    while current is not None:
        node = current
        parent = node.getparent()
        if node.get("id") is not None:
            found = node.get("id")
            scopes = (etree.QName(node).localname, etree.QName(parent).localname if parent is not None else "process")
            if any(tag in _SCOPE_TAGS for tag in scopes):
                return found
        current = parent
    return found


_SCOPE_TAGS = frozenset({"process", "subProcess", "transaction", "adHocSubProcess", "definitions"})


def _check_human_task(
    node: etree._Element, where: tuple[str, str | None, int | None], index: _Files
) -> list[Problem]:
    """A user or manual task's settings; a task outside any lane is fine (engine.tasks.candidates offers it)."""
    problems = assignment_problems(node, where[0])
    ref = form_ref(node)
    if ref is not None and _form_id(node, index) is None and not _loose_form_key(node):
        known = ", ".join(sorted(index.forms)) or "none"
        problems.append(Problem(f"form {ref!r} is not in this deployment (forms here: {known})", *where,
                                "missing_form"))
    problems.extend(approval_problems(node, where[0]))
    problems.extend(priority_problems(node, where[0]))
    problems.extend(sla_problems(node, where[0]))
    return problems


def _calendar_problems(index: _Files, calendars: set[str]) -> list[Problem]:
    """Timers and SLAs naming a business calendar that does not exist."""
    known = ", ".join(sorted(calendars)) or "none"
    return [Problem(f"business calendar {name!r} does not exist (calendars: {known})", filename,
                    _owner_id(owner), owner.sourceline, "unknown_calendar")
            for filename, root in index.bpmn.items() for name, owner in timer_calendars_used(root)
            if name not in calendars]


def _check_expr(
    text: str | None, mode: str, what: str, filename: str, element_id: str | None, node: etree._Element
) -> list[Problem]:
    source = (text or "").strip()
    if not source:
        return [Problem(f"empty {what}", filename, element_id, node.sourceline, "empty_expression")]
    message = check_expression(expression_text(text) if mode == "eval" else script_text(text), mode)
    if message is None:
        return []
    return [Problem(f"{what} does not compile: {message}", filename, element_id, node.sourceline, "bad_expression")]


def _check_timer(filename: str, node: etree._Element, kind: str) -> list[Problem]:
    element_id = _owner_id(node)
    text = (node.text or "").strip()
    if not text:
        return [Problem(f"timer has an empty {kind}", filename, element_id, node.sourceline, "bad_timer")]
    if bare_iso(text):
        literal = text                       # Camunda style: a bare ISO 8601 value
    elif check_expression(text, "eval") is None:
        try:
            literal = _string_literal(text)
        except ValueError:
            return []                        # a real expression; checked when it runs
    else:
        return [Problem(f"timer {kind} {text!r} is neither an ISO 8601 value nor an expression",
                        filename, element_id, node.sourceline, "bad_timer")]
    error = iso_error(literal, kind)
    if error:
        return [Problem(f"timer {kind} {literal!r} is not valid: {error}", filename, element_id,
                        node.sourceline, "bad_timer")]
    return []


def _string_literal(text: str) -> str:
    import ast

    value = ast.literal_eval(text)
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


def _check_call(node: etree._Element, where: tuple[str, str | None, int | None], index: _Files) -> list[Problem]:
    return call_problems(node, where, set(index.processes), index.published, index.callees)


def _check_decision_ref(
    node: etree._Element, where: tuple[str, str | None, int | None], index: _Files
) -> list[Problem]:
    """The decision a business rule task names: in this deployment, or published earlier (Camunda deploys DMN
    on its own): the latest version, or the one the binding names."""
    ref = decision_ref(node)
    if not ref:
        return [Problem("business rule task has no decision reference (pmoflow:decision ref=...)", *where,
                        "missing_decision")]
    binding = decision_binding(node)
    if isinstance(binding, str):
        return [Problem(binding, *where, "unsupported_binding")]
    kind, version = binding
    if ref in index.decisions and kind != "version":
        return []
    known = ", ".join(sorted(index.decisions)) or "none"
    if kind == "deployment":
        return [Problem(f"decision {ref!r} is not in this deployment (decisions here: {known}); the binding "
                        "'deployment' needs it here", *where, "missing_decision")]
    found = index.published_decisions(ref, version) if index.published_decisions is not None else None
    if found is None:
        what = f"version {version} of decision {ref!r}" if version is not None else f"decision {ref!r}"
        return [Problem(f"{what} is neither in this deployment (decisions here: {known}) nor published earlier",
                        *where, "missing_decision")]
    used = index.decisions_used.setdefault(ref, found)
    if used.version != found.version:
        return [Problem(f"decision {ref!r} is used in version {used.version} and in version {found.version} by "
                        "this deployment; use one", *where, "unsupported_binding")]
    return []


def decision_binding(node: etree._Element) -> tuple[str, int | None] | str:
    """("latest" | "deployment" | "version", the version) a business rule task binds its decision with
    (Camunda 7's camunda:decisionRefBinding/decisionRefVersion, Camunda 8's bindingType), or the problem."""
    zeebe = node.find("bpmn:extensionElements/zeebe:calledDecision", NS)
    camunda = (node.get(f"{{{CAMUNDA_NS}}}decisionRefBinding") or "").strip()
    kind = camunda or ((zeebe.get("bindingType") or "").strip() if zeebe is not None else "") or "latest"
    if kind in ("latest", "deployment"):
        return kind, None
    if kind == "version" and camunda:
        text = (node.get(f"{{{CAMUNDA_NS}}}decisionRefVersion") or "").strip()
        if text.isdigit() and int(text) > 0:
            return kind, int(text)
        return f"camunda:decisionRefBinding=\"version\" needs camunda:decisionRefVersion as a number (got {text!r})"
    return (f"decision binding {kind!r} is not supported (use latest, deployment or version with "
            "camunda:decisionRefVersion)")


# ---------------------------------------------------------------- extension readers

CAMUNDA_FORMS = ("camunda-forms:deployment:", "camunda-forms:app:", "camunda-forms:bpmn:", "camunda-forms:")


def form_ref(node: etree._Element) -> str | None:
    """The form a task or start event names: pmoflow:form/@ref, Camunda 7's formRef or formKey, Camunda 8's
    zeebe:formDefinition formId or formKey (`camunda-forms:deployment:ID`, `...:app:PATH`, `...:bpmn:ID`).

    formRefBinding/formRefVersion are ignored: a form is always the one deployed with the process."""
    el = node.find("bpmn:extensionElements/pmoflow:form", NS)
    if el is not None and el.get("ref"):
        return el.get("ref")
    ref = node.get(f"{{{CAMUNDA_NS}}}formRef")
    if ref:
        return ref.strip()
    form_id, zeebe_key = zeebe_form(node)
    if form_id:
        return form_id
    key = (node.get(f"{{{CAMUNDA_NS}}}formKey") or zeebe_key or "").strip()
    for prefix in CAMUNDA_FORMS:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key or None


def _loose_form_key(node: etree._Element) -> bool:
    """The node's form comes from a formKey that is not a Camunda form (an embedded HTML form, an app path,
    a key some tasklist reads): used when it names a form of the deployment, else ignored."""
    if (node.find("bpmn:extensionElements/pmoflow:form", NS) is not None or node.get(f"{{{CAMUNDA_NS}}}formRef")
            or zeebe_form(node)[0]):
        return False
    key = (node.get(f"{{{CAMUNDA_NS}}}formKey") or zeebe_form(node)[1] or "").strip()
    return not key.startswith(CAMUNDA_FORMS[-1])


def _form_id(node: etree._Element, index: _Files) -> str | None:
    """The id of the deployed form a node names (by id, or by file name for a path), or None."""
    ref = form_ref(node)
    if ref is None:
        return None
    if ref in index.forms:
        return ref
    filename = Path(ref).name
    return next((fid for fid, name in index.form_files.items() if name == filename), None)


def _start_form_id(process: etree._Element, index: _Files) -> str | None:
    for event in process.iterfind("bpmn:startEvent", NS):
        if form_ref(event):
            return _form_id(event, index)
    return None


def start_form_ref(process: etree._Element) -> str | None:
    """The form of the process's first top-level start event that has one (pmoflow:form or Camunda's)."""
    for event in process.iterfind("bpmn:startEvent", NS):
        ref = form_ref(event)
        if ref:
            return ref
    return None


def start_form_of(bpmn: bytes, filename: str, process_id: str, max_bytes: int) -> str | None:
    """The start form of a process in a deployed BPMN file, read again; None if it has none or is unreadable."""
    try:
        root = parse_xml(bpmn, filename, max_bytes)
    except XmlRefused:
        return None
    process = next((p for p in root.iterfind("bpmn:process", NS) if p.get("id") == process_id), None)
    return start_form_ref(process) if process is not None else None


def candidate_groups(node: etree._Element) -> list[str]:
    """Explicit static candidate groups (pmoflow:assignment, camunda:candidateGroups, zeebe:assignmentDefinition);
    an expression gives none here (it is evaluated when the task starts)."""
    raw = raw_assignment(node).get("candidate_groups")
    try:
        value = translate(raw) if raw else []
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def decision_ref(node: etree._Element) -> str | None:
    """The decision a business rule task evaluates, in our namespace or Camunda's or Spiff's."""
    el = node.find("bpmn:extensionElements/pmoflow:decision", NS)
    if el is not None and el.get("ref"):
        return el.get("ref")
    ref = node.get(f"{{{CAMUNDA_NS}}}decisionRef")
    if ref:
        return ref
    spiff = node.findtext("bpmn:extensionElements/spiffworkflow:calledDecisionId", None, NS)
    return spiff.strip() if spiff else called_decision(node)


# ---------------------------------------------------------------- DMN checks

def _check_dmn(filename: str, root: etree._Element, index: _Files) -> list[Problem]:
    """Read the file's decisions (every cell parsed); keeps the models in `index`."""
    problems = _duplicate_ids(filename, root)
    dmn = read_dmn(filename, root, _python_check)
    index.dmn_lines[filename] = dmn.lines
    for model in dmn.models:
        index.models[model.decision] = model
    return problems + dmn.problems


def _python_check(source: str) -> str | None:
    return check_expression(source, "eval")


def _decision_test_problems(index: _Files) -> list[Problem]:
    """Run every decision's test table; each failing row is a problem naming the test."""
    problems = []
    sandbox = SandboxedEnvironment()
    for model in index.models.values():
        if not model.top.tests:
            continue
        lines = index.dmn_lines.get(model.file, {})
        for failure in run_tests(compile_model(model), python=sandbox):
            element = failure.test.id or failure.decision
            problems.append(Problem(failure.describe(), model.file, element, lines.get(element),
                                    "decision_test_failed"))
    return problems


def _parsed_decisions(index: _Files) -> list[ParsedDecision]:
    return [ParsedDecision(key=m.decision, name=m.name, dmn_file=m.file, model=m, content_hash=m.content_hash())
            for m in index.models.values()]


def _executable_processes(index: _Files, problems: list[Problem]) -> list[str]:
    executable = [pid for pid, (_, node) in index.processes.items() if node.get("isExecutable") == "true"]
    if index.bpmn and not executable:
        for pid, (filename, node) in index.processes.items():
            problems.append(Problem("process is not executable (isExecutable is not \"true\")", filename, pid,
                                    node.sourceline, "not_executable"))
        if not index.processes:
            problems.append(Problem("the deployment has no BPMN process", code="no_process"))
    if not index.bpmn and not index.dmn and not problems:
        problems.append(Problem("the deployment has no .bpmn or .dmn file", code="no_process"))
    return executable


# ---------------------------------------------------------------- SpiffWorkflow specs

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
            raise ValidationException(f"decision {ref!r} is not in this deployment", node=self.node,
                                      file_name=self.filename)
        extensions = self.parse_extensions()
        result_variable, result_mapping = decision_result(self.node)
        reason = result_mapping_problem(model, result_mapping) if result_variable else None
        if reason is not None:
            raise ValidationException(reason, node=self.node, file_name=self.filename)
        return PmoflowBusinessRuleTask(
            self.spec, self.bpmn_id, decision=ref, model=model.to_dict(), content_hash=model.content_hash(),
            version=published.version if published is not None else None, result_variable=result_variable,
            result_mapping=result_mapping,
            prescript=extensions.get("preScript"), postscript=extensions.get("postScript"), **self.bpmn_attributes,
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
        extensions = self.parse_extensions()        # pre/post scripts carry camunda/zeebe mappings
        return PmoflowConnectorTask(self.spec, self.bpmn_id, connector=read_config(node),
                                    prescript=extensions.get("preScript"), postscript=extensions.get("postScript"),
                                    **self.bpmn_attributes)


class PmoflowParser(SpiffBpmnParser):
    """Spiff's parser with our business rule tasks; no XSD (we validate first)."""

    # a task with a topic is an external task; multi-instance specs and implicit splits: structure.py
    OVERRIDE_PARSER_CLASSES = with_multi_instance_classes(with_external_tasks({
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("businessRuleTask"): (_DecisionTaskParser, PmoflowBusinessRuleTask),
        full_tag("serviceTask"): (_ServiceTaskParser, PmoflowConnectorTask),
        full_tag("endEvent"): (SignalEndEventParser, SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("endEvent")][1]),
        full_tag("startEvent"): (OutputStartEventParser, PmoflowStartEvent),     # output mappings: start_event.py
        full_tag("callActivity"): (CallActivityTaskParser, PmoflowCallActivity),
        # flows without a condition are always taken, in document order (engine.spiff.model.gateways); inclusive
        # gateways also make the implicit splits structure.py adds
        full_tag("exclusiveGateway"): (GatewayParser, ExclusiveGateway),
        full_tag("inclusiveGateway"): (ImplicitSplitParser, InclusiveGateway),
    }))

    def __init__(self, *args: Any, decision_models: dict[str, DecisionModel] | None = None,
                 published_decisions: dict[str, PublishedDecision] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decision_models = decision_models or {}
        self.published_decisions = published_decisions or {}      # deployed earlier: pinned to their version


def _build_specs(index: _Files, executable: list[str]) -> list[ParsedProcess]:
    parser = PmoflowParser(validator=None, decision_models=index.models, published_decisions=index.decisions_used)
    for filename, root in index.bpmn.items():
        prepare_for_spiff(root)              # bare ISO timers quoted, link events joined (engine.spiff.model.events)
        prepare(root)                        # expressions, implicit splits, MI, data (engine.spiff.model.structure)
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


def _problem_from_error(err: Exception, pid: str, index: _Files) -> Problem:
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


def _problem_from_spiff(err: ValidationException, index: _Files) -> Problem:
    filename = Path(err.file_name).name if err.file_name else None
    line = err.line_number if isinstance(err.line_number, int) else None
    if err.id and line is None:
        for name, root in index.bpmn.items():
            hits = root.xpath("//*[@id=$i]", i=err.id)
            if hits:
                filename, line = name, hits[0].sourceline
                break
    return Problem(str(err.args[0]) if err.args else str(err), filename, err.id or None, line, "spec")


def _build_one(parser: PmoflowParser, pid: str, index: _Files) -> ParsedProcess:
    spec = parser.get_spec(pid)
    found = parser.get_subprocess_specs(pid, require_call_activity_specs=False)
    subprocess_specs = {name: s for name, s in found.items() if s is not None}
    connect_event_subprocesses([spec, *subprocess_specs.values()])     # engine.spiff.model.events
    registry = spec_registry()
    converted = {name: registry.convert(s) for name, s in subprocess_specs.items()}
    timers = {k: v for p in [pid, *subprocess_specs] if p in index.processes
              for k, v in boundary_timers(index.processes[p][1]).items()}
    embedded, callee_timers = _embed_callees(converted, set(found) - set(subprocess_specs), index.callees)
    initiator = initiator_variable(index.processes[pid][1])
    spec_json = json.dumps({
        "spec": registry.convert(spec),
        "subprocess_specs": converted,
        # ours, read back by engine.spiff.model.specs.restore_spec: timer kinds and business calendars, event
        # sub-processes, and the variable camunda:initiator names (engine.runtime.steps.new_run)
        "pmoflow": {"timers": {**callee_timers, **timers},
                    "event_subprocesses": {k: v for p in [pid, *subprocess_specs] if p in index.processes
                                           for k, v in event_subprocesses(index.processes[p][1]).items()},
                    **({"initiator": initiator} if initiator else {})},
    })
    process_ids = [pid, *(p for p in subprocess_specs if p in index.processes or p in index.scopes)]
    filename, node = index.processes[pid]
    user_tasks, forms, used_files = _process_metadata(process_ids, index)
    for callee in embedded:                  # published callees bring their own user tasks and forms
        user_tasks.extend(callee.user_tasks)
        forms.update(callee.forms)
    start_form = _start_form_id(node, index)
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
        key=pid, name=node.get("name") or pid, bpmn_file=filename, spec_json=spec_json,
        content_hash=digest.hexdigest(), forms=forms, user_tasks=user_tasks, files=files, start_form=start_form,
    )


def _process_metadata(
    process_ids: list[str], index: _Files
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
            ref = _form_id(node, index)
            if ref:
                forms[ref] = index.forms[ref]
                used.add(index.form_files[ref])
            user_tasks.append({
                "process": pid, "element_id": node.get("id"), "name": node.get("name") or node.get("id"),
                "lane": _lane_of(node, lanes), "form": ref, **assignment_config(node),
                "default_group": default_group,
                "approval": approval_config(node), "separation": duties, "priority": priority_of(node),
                "sla": sla_config(node),
            })
        for node in _own_nodes(scope, {"businessRuleTask"}):
            if not is_external(node) and (decision := decision_ref(node) or "") in index.decisions:
                used.add(index.decisions[decision])              # (a decision published earlier has no file here)
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
