"""BPMN events at deploy: the checks, and the rewrites that make SpiffWorkflow run what modelers write.

Checks (`event_problems`) report, with file, element id and line, what would otherwise pass
deploy and then fail or hang: an event definition SpiffWorkflow cannot run (compensation, a
boundary or intermediate catch event without a trigger), a reference to an error, escalation,
signal or message that the file does not define, a link throw without its catch, a cancel
event outside a transaction, and conditions that do not compile.

Rewrites (`prepare_for_spiff`, applied to the tree handed to SpiffWorkflow only; the stored
file is unchanged):

- Timer values: a bare ISO 8601 value (`PT1H`, `R3/PT10M`, `2026-01-05T10:00:00Z`, as
  Camunda Modeler writes them) is quoted, since SpiffWorkflow evaluates timer values as
  expressions; whitespace around any value is dropped.
- Link events: SpiffWorkflow 3.2 does not know `linkEventDefinition`. A link throw is joined
  to the catch of the same name in the same process or sub-process by a sequence flow, and
  both become pass-through events, so the path still shows both element ids.
- Conditional event conditions lose the indentation modelers put around them.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.event_parsers import (
    CONDITIONAL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TIMER_EVENT_XPATH,
    EndEventParser,
)
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.spiff.parser.event_parsers import SpiffEndEventParser, SpiffStartEventParser

from engine.core.errors import Problem
from engine.spiff.expressions.sandbox import check_expression
from engine.spiff.namespaces import BPMN_NS

TIMER_KINDS = ("timeDuration", "timeDate", "timeCycle")
EVENTS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent")
SCOPES = ("process", "subProcess", "transaction", "adHocSubProcess")
_REFS = {
    "errorEventDefinition": ("errorRef", "error"),
    "escalationEventDefinition": ("escalationRef", "escalation"),
    "signalEventDefinition": ("signalRef", "signal"),
    "messageEventDefinition": ("messageRef", "message"),
}
# What each kind of event may carry (BPMN 2.0 table 10.93 and following, as SpiffWorkflow runs them).
ALLOWED = {
    "startEvent": {"timer", "message", "signal", "conditional", "error", "escalation"},
    "boundaryEvent": {"timer", "message", "signal", "error", "escalation", "conditional", "cancel"},
    "intermediateCatchEvent": {"timer", "message", "signal", "conditional", "link"},
    "intermediateThrowEvent": {"message", "signal", "escalation", "link"},
    "endEvent": {"message", "signal", "error", "escalation", "terminate", "cancel"},
}
MIN_CYCLE_PERIOD = timedelta(seconds=1)  # a shorter cycle fires at every worker round (R/PT0S: forever)
_ISO_DURATION = (
    r"P(?=\d|T\d)(\d+([.,]\d+)?Y)?(\d+([.,]\d+)?M)?(\d+([.,]\d+)?W)?(\d+([.,]\d+)?D)?"
    r"(T(?=\d)(\d+([.,]\d+)?H)?(\d+([.,]\d+)?M)?(\d+([.,]\d+)?S)?)?"
)
_ISO_DATE = r"\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d([.,]\d+)?)?(Z|[+-]\d\d:?\d\d)?)?"
_ISO_VALUE = re.compile(rf"^(R\d*/)?({_ISO_DURATION}|{_ISO_DATE})(/({_ISO_DURATION}|{_ISO_DATE}))?$", re.I)


def _q(local: str) -> str:
    return f"{{{BPMN_NS}}}{local}"


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _kind(definition: etree._Element) -> str:
    return _local(definition).removesuffix("EventDefinition")


def definitions_of(event: etree._Element) -> list[etree._Element]:
    """The event definitions an event carries (its own children, not a sub-process's)."""
    return [c for c in event if _local(c).endswith("EventDefinition")]


# ---------------------------------------------------------------- timers


def bare_iso(text: str) -> bool:
    """True if `text` is an ISO 8601 duration, date or repeating interval written without quotes."""
    return bool(_ISO_VALUE.match(text.strip()))


def timer_expression(text: str) -> str:
    """The expression SpiffWorkflow evaluates for a timer value: bare ISO values quoted, whitespace dropped."""
    value = text.strip()
    return json.dumps(value) if bare_iso(value) else value


def iso_error(value: str, kind: str) -> str | None:
    """Why an ISO value cannot be the `kind` (timeDuration, timeDate, timeCycle) of a timer, or None."""
    try:
        if kind == "timeCycle":
            _, _, period = TimerEventDefinition.parse_iso_recurring_interval(value)
            if period < MIN_CYCLE_PERIOD:
                return (
                    "a cycle must repeat after at least one second; this one would fire at every round "
                    "of the worker, forever"
                )
        elif kind == "timeDuration":
            TimerEventDefinition.parse_iso_duration(value)
        else:
            TimerEventDefinition.get_datetime(value)
    except Exception as err:  # noqa: BLE001 - Spiff raises assorted errors for bad ISO text
        return str(err) or err.__class__.__name__
    return None


# ---------------------------------------------------------------- checks


def event_problems(filename: str, root: etree._Element) -> list[Problem]:
    """Every problem with the events of a BPMN file, each naming the element and line."""
    problems: list[Problem] = []
    declared = {kind: {n.get("id") for n in root.iter(_q(kind))} for _, kind in _REFS.values()}
    for event in root.iter(*(_q(e) for e in EVENTS)):
        problems.extend(_definition_problems(filename, event, declared))
    problems.extend(_link_problems(filename, root))
    for condition in root.iter(_q("conditionalEventDefinition")):
        problems.extend(_condition_problems(filename, condition))
    return problems


def _definition_problems(filename: str, event: etree._Element, declared: dict[str, set[str | None]]) -> list[Problem]:
    where = (filename, event.get("id"), event.sourceline)
    local = _local(event)
    kinds = [_kind(d) for d in definitions_of(event)]
    problems = []
    if "compensate" in kinds:
        return [
            Problem(
                "compensation events are not supported (SpiffWorkflow 3.2 cannot run compensation); "
                "model the undo steps with an error or escalation event instead",
                *where,
                "unsupported_event",
            )
        ]
    allowed = ALLOWED.get(local)
    if allowed is not None:
        for kind in kinds:
            if kind not in allowed:
                problems.append(
                    Problem(
                        f"a {kind} event definition is not allowed on a {local} (allowed: "
                        f"{', '.join(sorted(allowed))})",
                        *where,
                        "unsupported_event",
                    )
                )
    if local in ("boundaryEvent", "intermediateCatchEvent") and not kinds:
        problems.append(
            Problem(f"{local} has no event definition: it would wait for nothing", *where, "missing_trigger")
        )
    if local == "startEvent":
        problems.extend(_start_problems(event, kinds, where))
    if len(kinds) > 1 and local != "startEvent":
        problems.append(
            Problem(f"{local} has {len(kinds)} event definitions; one is supported", *where, "unsupported_event")
        )
    if "cancel" in kinds and not _inside(event, "transaction"):
        problems.append(
            Problem(
                "a cancel event belongs in a transaction (an end event inside it, or a boundary event on it)",
                *where,
                "cancel_outside_transaction",
            )
        )
    if local == "boundaryEvent" and "cancel" in kinds:
        attached = _by_id(event, event.get("attachedToRef"))
        if attached is None or _local(attached) != "transaction":
            problems.append(
                Problem(
                    "a cancel boundary event must be attached to a transaction", *where, "cancel_outside_transaction"
                )
            )
    for definition in definitions_of(event):
        ref_attribute, ref_kind = _REFS.get(_local(definition)) or (None, None)
        ref = definition.get(ref_attribute) if ref_attribute else None
        if ref and ref not in declared[ref_kind or ""]:
            problems.append(
                Problem(f"{ref_attribute} {ref!r} names no bpmn:{ref_kind} of this file", *where, f"missing_{ref_kind}")
            )
    return problems


def _start_problems(
    event: etree._Element, kinds: list[str], where: tuple[str, str | None, int | None]
) -> list[Problem]:
    scope = event.getparent()
    in_event_subprocess = scope is not None and scope.get("triggeredByEvent") == "true"
    if in_event_subprocess and not kinds:
        return [
            Problem(
                "the start event of an event sub-process needs a trigger (timer, message, signal, error, "
                "escalation or conditional)",
                *where,
                "missing_trigger",
            )
        ]
    if not in_event_subprocess and {"error", "escalation"} & set(kinds):
        return [Problem("error and escalation start events belong in event sub-processes", *where, "unsupported_event")]
    if scope is not None and _local(scope) != "process" and not in_event_subprocess and kinds:
        return [
            Problem("the start event of an embedded sub-process cannot have a trigger", *where, "unsupported_event")
        ]
    return []


def event_subprocesses(process: etree._Element) -> dict[str, bool]:
    """Event sub-process id -> whether it interrupts its scope (its start event's isInterrupting)."""
    found = {}
    for node in process.iter(_q("subProcess")):
        if node.get("triggeredByEvent") == "true":
            start = node.find(_q("startEvent"))
            found[node.get("id") or ""] = start is None or start.get("isInterrupting", "true") != "false"
    return found


def _inside(node: etree._Element, scope: str) -> bool:
    """True if `node` is in (or, for a boundary event, on) a scope of that kind."""
    if _local(node) == "boundaryEvent":
        attached = _by_id(node, node.get("attachedToRef"))
        if attached is not None and _local(attached) == scope:
            return True
    parent = node.getparent()
    while parent is not None:
        if _local(parent) == scope:
            return True
        parent = parent.getparent()
    return False


def _by_id(node: etree._Element, element_id: str | None) -> etree._Element | None:
    if not element_id:
        return None
    hits = node.getroottree().xpath("//*[@id=$i]", i=element_id)
    return hits[0] if hits else None


def _condition_problems(filename: str, definition: etree._Element) -> list[Problem]:
    event = definition.getparent()
    where = (filename, event.get("id") if event is not None else None, definition.sourceline)
    condition = definition.find(_q("condition"))
    text = (condition.text or "") if condition is not None else ""
    if not text.strip():
        return [Problem("conditional event has no condition", *where, "empty_expression")]
    message = check_expression(condition_source(text), "eval")
    if message:
        return [Problem(f"condition does not compile: {message}", *where, "bad_expression")]
    return []


def condition_source(text: str) -> str:
    """A condition as written in a modeler (indented, on its own lines), as one expression."""
    return textwrap.dedent(text).strip()


# ---------------------------------------------------------------- link events


def _link_name(event: etree._Element) -> str | None:
    definition = event.find(_q("linkEventDefinition"))
    if definition is None:
        return None
    return (definition.get("name") or event.get("name") or "").strip()


def _scopes(root: etree._Element) -> Iterator[etree._Element]:
    yield from root.iter(*(_q(s) for s in SCOPES))


def _links(scope: etree._Element) -> tuple[list[etree._Element], dict[str, list[etree._Element]]]:
    throws = [e for e in scope.iterfind(_q("intermediateThrowEvent")) if _link_name(e) is not None]
    catches: dict[str, list[etree._Element]] = {}
    for event in scope.iterfind(_q("intermediateCatchEvent")):
        name = _link_name(event)
        if name is not None:
            catches.setdefault(name, []).append(event)
    return throws, catches


def _link_problems(filename: str, root: etree._Element) -> list[Problem]:
    problems: list[Problem] = []
    for scope in _scopes(root):
        throws, catches = _links(scope)
        for name, events in catches.items():
            if not name:
                problems.extend(
                    Problem("link catch event has no name", filename, e.get("id"), e.sourceline, "bad_link")
                    for e in events
                )
            elif len(events) > 1:
                problems.extend(
                    Problem(
                        f"link name {name!r} is caught by {len(events)} events in the same scope",
                        filename,
                        e.get("id"),
                        e.sourceline,
                        "bad_link",
                    )
                    for e in events
                )
        for event in throws:
            thrown = _link_name(event)
            if not catches.get(thrown or ""):
                problems.append(
                    Problem(
                        f"link throw event {thrown!r} has no link catch event of that name in the "
                        "same process or sub-process",
                        filename,
                        event.get("id"),
                        event.sourceline,
                        "bad_link",
                    )
                )
    return problems


def _join_links(root: etree._Element) -> None:
    for scope in _scopes(root):
        throws, catches = _links(scope)
        for event in throws:
            target = catches[_link_name(event) or ""][0]
            flow = etree.SubElement(scope, _q("sequenceFlow"))
            flow.set("id", f"{event.get('id')}__link")
            flow.set("sourceRef", event.get("id") or "")
            flow.set("targetRef", target.get("id") or "")
        for event in [*throws, *(e for events in catches.values() for e in events)]:
            for definition in event.iterfind(_q("linkEventDefinition")):
                event.remove(definition)
            event.tag = _q("intermediateThrowEvent")  # a none event passes straight through


# ---------------------------------------------------------------- the tree for SpiffWorkflow


def prepare_for_spiff(root: etree._Element) -> None:
    """Rewrite a checked BPMN tree (in place) into what SpiffWorkflow runs; see the module docstring."""
    for node in root.iter(*(_q(k) for k in TIMER_KINDS)):
        if node.text and node.text.strip():
            node.text = timer_expression(node.text)
    for condition in root.iter(_q("condition")):
        if condition.text:
            condition.text = condition_source(condition.text)
    _join_links(root)


def connect_event_subprocesses(specs: list[BpmnProcessSpec]) -> None:
    """Every event sub-process starts with its scope, its start event waiting like any catching event.

    SpiffWorkflow starts timer event sub-processes that way, but creates the others only when an
    event reaches the top-level workflow, so those inside sub-processes never start and a
    conditional one never starts at all. Starting them all with the scope lets every trigger find
    a waiting start event in the right scope; engine.spiff.runtime.events ends the ones that never
    fired when the scope's other work is done, and gives interrupting ones their effect."""
    for spec in specs:
        start = spec.start
        for name in list(getattr(start, "trigger_specs", [])):
            task_spec = spec.task_specs.get(name)
            if task_spec is None:
                continue
            start.trigger_specs.remove(name)
            start.connect(task_spec)
            task_spec.connect(spec.end)


class StartEventParser(SpiffStartEventParser):
    """Start events that also catch errors and escalations (those of event sub-processes)."""

    def create_task(self) -> Any:
        definition = self.get_event_definition(
            [
                MESSAGE_EVENT_XPATH,
                SIGNAL_EVENT_XPATH,
                TIMER_EVENT_XPATH,
                CONDITIONAL_EVENT_XPATH,
                ERROR_EVENT_XPATH,
                ESCALATION_EVENT_XPATH,
            ]
        )
        task = self._create_task(definition)
        self.spec.start.connect(task)
        return task


class SignalEndEventParser(SpiffEndEventParser):
    """End events that also throw signals (SpiffWorkflow's own end event parser leaves them out)."""

    def create_task(self) -> Any:
        if self.xpath(SIGNAL_EVENT_XPATH):
            task = self._create_task(self.get_event_definition([SIGNAL_EVENT_XPATH]))
            task.connect(self.spec.end)
            return task
        return EndEventParser.create_task(self)
