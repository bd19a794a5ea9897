"""BPMN checks: what a reviewer would refuse in a BPMN file (unknown elements, schema errors, duplicate ids,
expressions that do not compile, timers, forms, callees and decisions that are not there), every problem with
file, element id and line."""

from __future__ import annotations

import ast
import re
from functools import lru_cache

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator

from engine.core.errors import Problem
from engine.spiff.expressions.sandbox import check_expression
from engine.spiff.extensions.approvals import approval_problems, priority_problems
from engine.spiff.extensions.assignment import assignment_problems
from engine.spiff.extensions.calls import call_problems
from engine.spiff.extensions.camunda import translate_model
from engine.spiff.extensions.connector import connector_node, connector_problems
from engine.spiff.extensions.external import external_problems, implementation_problems, is_external
from engine.spiff.extensions.outcomes import outcome_problems
from engine.spiff.extensions.references import decision_binding, decision_ref, form_ref, loose_form_key
from engine.spiff.extensions.sla import sla_problems, timer_calendars_used, timer_problems
from engine.spiff.model.events import TIMER_KINDS, bare_iso, event_problems, iso_error
from engine.spiff.model.files import DeploymentFiles
from engine.spiff.model.structure import expression_text, script_text, structure_problems
from engine.spiff.namespaces import BPMN_NS, FLOW_NODES, HUMAN_TASKS, NS, OTHER_PROCESS_CHILDREN


def check_bpmn(filename: str, root: etree._Element, index: DeploymentFiles) -> list[Problem]:
    """Every problem of one BPMN file (its expressions are rewritten to sandbox Python in place)."""
    problems = duplicate_ids(filename, root)
    problems += translate_model(filename, root)  # FEEL/JUEL and Camunda/Zeebe mappings, rewritten in place
    unknown_lines: set[int] = set()
    for process in root.iterfind("bpmn:process", NS):
        for container in [
            process,
            *process.iterfind(".//bpmn:subProcess", NS),
            *process.iterfind(".//bpmn:transaction", NS),
        ]:
            for child in container:
                if not isinstance(child.tag, str) or etree.QName(child).namespace != BPMN_NS:
                    continue
                local = etree.QName(child).localname
                if local not in FLOW_NODES and local not in OTHER_PROCESS_CHILDREN and local != "laneSet":
                    unknown_lines.add(child.sourceline or 0)
                    problems.append(
                        Problem(
                            f"unknown or unsupported element type bpmn:{local}",
                            filename,
                            child.get("id"),
                            child.sourceline,
                            "unknown_element",
                        )
                    )
        problems.extend(_check_process(filename, process, index))
    problems.extend(event_problems(filename, root))
    problems.extend(_schema_problems(filename, root, unknown_lines))
    problems.extend(structure_problems(filename, root))
    return problems


def duplicate_ids(filename: str, root: etree._Element) -> list[Problem]:
    """Ids used twice in one file (SpiffWorkflow would report them misleadingly)."""
    seen: dict[str, int] = {}
    problems = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        eid = el.get("id")
        if eid is None:
            continue
        if eid in seen:
            problems.append(
                Problem(
                    f"id {eid!r} is used twice (first on line {seen[eid]}); ids must be unique",
                    filename,
                    eid,
                    el.sourceline,
                    "duplicate_id",
                )
            )
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


def _check_process(filename: str, process: etree._Element, index: DeploymentFiles) -> list[Problem]:
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
        elif is_external(node):  # a topic: service, send, business rule or script task
            problems.extend(external_problems(filename, node))
        elif local == "businessRuleTask":
            problems.extend(_check_decision_ref(node, where, index))
        elif local == "serviceTask":
            problems.extend(_check_service_task(filename, node, where))
        elif (
            local == "startEvent"
            and (ref := form_ref(node)) is not None
            and index.form_id(node) is None
            and not loose_form_key(node)
        ):
            known = ", ".join(sorted(index.forms)) or "none"
            problems.append(
                Problem(f"start form {ref!r} is not in this deployment (forms here: {known})", *where, "missing_form")
            )
        elif local == "scriptTask" and not (node.findtext("bpmn:script", None, NS) or "").strip():
            problems.append(Problem("script task has no script", *where))
        if node.find("bpmn:timerEventDefinition", NS) is not None:
            problems.extend(timer_problems(node, filename))
        problems.extend(outcome_problems(node, filename))
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
    node: etree._Element, where: tuple[str, str | None, int | None], index: DeploymentFiles
) -> list[Problem]:
    """A user or manual task's settings; a task outside any lane is fine (engine.tasks.candidates offers it)."""
    problems = assignment_problems(node, where[0])
    ref = form_ref(node)
    if ref is not None and index.form_id(node) is None and not loose_form_key(node):
        known = ", ".join(sorted(index.forms)) or "none"
        problems.append(
            Problem(f"form {ref!r} is not in this deployment (forms here: {known})", *where, "missing_form")
        )
    problems.extend(approval_problems(node, where[0]))
    problems.extend(priority_problems(node, where[0]))
    problems.extend(sla_problems(node, where[0]))
    return problems


def calendar_problems(index: DeploymentFiles, calendars: set[str]) -> list[Problem]:
    """Timers and SLAs naming a business calendar that does not exist."""
    known = ", ".join(sorted(calendars)) or "none"
    return [
        Problem(
            f"business calendar {name!r} does not exist (calendars: {known})",
            filename,
            _owner_id(owner),
            owner.sourceline,
            "unknown_calendar",
        )
        for filename, root in index.bpmn.items()
        for name, owner in timer_calendars_used(root)
        if name not in calendars
    ]


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
        literal = text  # Camunda style: a bare ISO 8601 value
    elif check_expression(text, "eval") is None:
        try:
            literal = _string_literal(text)
        except ValueError:
            return []  # a real expression; checked when it runs
    else:
        return [
            Problem(
                f"timer {kind} {text!r} is neither an ISO 8601 value nor an expression",
                filename,
                element_id,
                node.sourceline,
                "bad_timer",
            )
        ]
    error = iso_error(literal, kind)
    if error:
        return [
            Problem(
                f"timer {kind} {literal!r} is not valid: {error}", filename, element_id, node.sourceline, "bad_timer"
            )
        ]
    return []


def _string_literal(text: str) -> str:
    value = ast.literal_eval(text)
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


def _check_call(
    node: etree._Element, where: tuple[str, str | None, int | None], index: DeploymentFiles
) -> list[Problem]:
    return call_problems(node, where, set(index.processes), index.published, index.callees)


def _check_decision_ref(
    node: etree._Element, where: tuple[str, str | None, int | None], index: DeploymentFiles
) -> list[Problem]:
    """The decision a business rule task names: in this deployment, or published earlier (Camunda deploys DMN
    on its own): the latest version, or the one the binding names."""
    ref = decision_ref(node)
    if not ref:
        return [
            Problem(
                "business rule task has no decision reference (pmoflow:decision ref=...)", *where, "missing_decision"
            )
        ]
    binding = decision_binding(node)
    if isinstance(binding, str):
        return [Problem(binding, *where, "unsupported_binding")]
    kind, version = binding
    if ref in index.decisions and kind != "version":
        return []
    known = ", ".join(sorted(index.decisions)) or "none"
    if kind == "deployment":
        return [
            Problem(
                f"decision {ref!r} is not in this deployment (decisions here: {known}); the binding "
                "'deployment' needs it here",
                *where,
                "missing_decision",
            )
        ]
    found = index.published_decisions(ref, version) if index.published_decisions is not None else None
    if found is None:
        what = f"version {version} of decision {ref!r}" if version is not None else f"decision {ref!r}"
        return [
            Problem(
                f"{what} is neither in this deployment (decisions here: {known}) nor published earlier",
                *where,
                "missing_decision",
            )
        ]
    used = index.decisions_used.setdefault(ref, found)
    if used.version != found.version:
        return [
            Problem(
                f"decision {ref!r} is used in version {used.version} and in version {found.version} by "
                "this deployment; use one",
                *where,
                "unsupported_binding",
            )
        ]
    return []
