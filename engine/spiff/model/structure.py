"""The structure of a BPMN model: checks at deploy, and the rewrites that let SpiffWorkflow run it.

`structure_problems` finds what would pass SpiffWorkflow's parser and then misbehave or crash at
run time (an end event with outgoing flows, a start event going nowhere, a sequence flow to an
element that does not exist or lies in another scope, a multi-instance with no input, an activity
nothing leads to), each a Problem naming file, element and line. The designer gets the same rules
through `parse_deployment`.

`prepare` rewrites a checked copy of the XML into what SpiffWorkflow runs as BPMN defines it:
expressions without the whitespace modelers wrap them in, scripts dedented, several flows leaving
an activity as an implicit split (a gateway of its own, `<id>.ImplicitSplit`, left out of the
audit path), multi-instance element variables by name, and data objects
and data stores kept as documentation only, abstract tasks passed through.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.defaults import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.spiff.specs.defaults import ParallelMultiInstanceTask, SequentialMultiInstanceTask
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.core.errors import Problem
from engine.spiff.model.gateways import GatewayParser
from engine.spiff.namespaces import BPMN_NS, CAMUNDA_NS, NS
from engine.spiff.xml import parent_of

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

SCOPES = ("process", "subProcess", "transaction", "adHocSubProcess")
ACTIVITIES = {
    "task",
    "userTask",
    "manualTask",
    "scriptTask",
    "serviceTask",
    "businessRuleTask",
    "sendTask",
    "receiveTask",
    "subProcess",
    "transaction",
    "adHocSubProcess",
    "callActivity",
}
GATEWAYS = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
# nodes SpiffWorkflow lets have one outgoing flow only: several become an implicit split
SPLIT_BY_REWRITE = ACTIVITIES | {"intermediateCatchEvent", "intermediateThrowEvent"}
EXPRESSIONS = ("conditionExpression", "loopCardinality", "completionCondition", "loopCondition")
DATA_ELEMENTS = (
    "dataObject",
    "dataObjectReference",
    "dataStore",
    "dataStoreReference",
    "dataInputAssociation",
    "dataOutputAssociation",
    "ioSpecification",
    "property",
)
IMPLICIT_SPLIT = ".ImplicitSplit"


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _bpmn(el: etree._Element) -> bool:
    return isinstance(el.tag, str) and etree.QName(el).namespace == BPMN_NS


def scopes(root: etree._Element, executable_only: bool = False) -> Iterator[etree._Element]:
    """Every process (with `executable_only`, every executable one) and every (event) sub-process or
    transaction in it."""
    for process in root.iterfind("bpmn:process", NS):
        if executable_only and process.get("isExecutable") != "true":
            continue
        yield process
        yield from process.iter(*(f"{{{BPMN_NS}}}{k}" for k in SCOPES[1:]))


def _nodes(scope: etree._Element) -> list[etree._Element]:
    return [c for c in scope if _bpmn(c) and _local(c) in ACTIVITIES | GATEWAYS | EVENTS]


def _flows(scope: etree._Element) -> list[etree._Element]:
    return list(scope.iterfind("bpmn:sequenceFlow", NS))


# ---------------------------------------------------------------- checks


def structure_problems(filename: str, root: etree._Element) -> list[Problem]:
    """Structural errors that SpiffWorkflow would accept and then fail on, each naming element and line
    (in executable processes: a non-executable pool is documentation)."""
    ids = {el_id: el for el in root.iter() if isinstance(el.tag, str) and (el_id := el.get("id"))}
    problems: list[Problem] = []
    for scope in scopes(root, executable_only=True):  # a documentation-only pool is not run
        problems.extend(_scope_problems(filename, scope, ids))
        for node in scope.iterfind("*/bpmn:multiInstanceLoopCharacteristics", NS):
            problems.extend(_multi_instance_problems(filename, node))
    return problems


def _scope_problems(filename: str, scope: etree._Element, ids: dict[str, etree._Element]) -> list[Problem]:
    nodes = {nid: n for n in _nodes(scope) if (nid := n.get("id"))}
    problems = []
    outgoing: dict[str, list[etree._Element]] = {}
    incoming: set[str] = set()
    for flow in _flows(scope):
        for end in ("sourceRef", "targetRef"):
            ref = flow.get(end) or ""
            if ref not in nodes:
                problems.append(_dangling(filename, flow, end, ref, scope, ids))
        outgoing.setdefault(flow.get("sourceRef") or "", []).append(flow)
        incoming.add(flow.get("targetRef") or "")
    has_start = any(_local(n) == "startEvent" for n in nodes.values())
    for nid, node in nodes.items():
        local = _local(node)
        where = (filename, nid, node.sourceline)
        if local == "endEvent" and outgoing.get(nid):
            flows = ", ".join(f.get("id") or "?" for f in outgoing[nid])
            problems.append(
                Problem(
                    f"an end event ends its path: remove its outgoing flow(s) {flows} or use an intermediate event",
                    *where,
                    "end_with_outgoing",
                )
            )
        elif local == "startEvent" and not outgoing.get(nid):
            problems.append(
                Problem(
                    "start event has no outgoing sequence flow: connect it to the first element",
                    *where,
                    "start_without_outgoing",
                )
            )
        elif (
            local in ACTIVITIES
            and has_start
            and nid not in incoming
            and node.get("triggeredByEvent") != "true"
            and node.get("isForCompensation") != "true"
        ):
            problems.append(
                Problem(
                    "no sequence flow leads to this activity, so it would never run: connect it or remove it",
                    *where,
                    "unreachable",
                )
            )
    return problems


def _dangling(
    filename: str, flow: etree._Element, end: str, ref: str, scope: etree._Element, ids: dict[str, etree._Element]
) -> Problem:
    where = (filename, flow.get("id"), flow.sourceline, "dangling_flow")
    if not ref:
        return Problem(f"sequence flow has no {end}", *where)
    target = ids.get(ref)
    if target is None:
        return Problem(f"sequence flow's {end} {ref!r} names no element", *where)
    if _local(target) not in ACTIVITIES | GATEWAYS | EVENTS:
        return Problem(f"sequence flow's {end} {ref!r} is a {_local(target)}, not a flow node", *where)
    return Problem(
        f"sequence flow's {end} {ref!r} lies in another scope than the flow ({scope.get('id')!r}); "
        "a sequence flow may not cross a sub-process boundary",
        *where,
    )


def _multi_instance_problems(filename: str, node: etree._Element) -> list[Problem]:
    owner = parent_of(node)
    where = (filename, owner.get("id"), owner.sourceline)
    if collection_of(node) or (node.findtext("bpmn:loopCardinality", None, NS) or "").strip():
        return []
    problems = [
        Problem(
            "multi-instance has neither a loopCardinality nor an input collection "
            "(loopDataInputRef, camunda:collection or zeebe:loopCharacteristics inputCollection)",
            *where,
            "mi_without_input",
        )
    ]
    return problems


def collection_of(mi: etree._Element) -> str | None:
    """The input collection variable of a multi-instance, in BPMN, Camunda 7 or Camunda 8 terms."""
    ref = (mi.findtext("bpmn:loopDataInputRef", None, NS) or "").strip()
    if ref:
        return ref
    camunda = mi.get(f"{{{CAMUNDA_NS}}}collection")
    if camunda:
        return _plain(camunda)
    zeebe = mi.find("bpmn:extensionElements/zeebe:loopCharacteristics", NS)
    if zeebe is not None and zeebe.get("inputCollection"):
        return _plain(zeebe.get("inputCollection") or "")
    return None


def _plain(value: str) -> str:
    """`${items}`, `#{items}` or `= items` as the variable name `items`; other text unchanged."""
    text = value.strip()
    if text[:2] in ("${", "#{") and text.endswith("}"):
        text = text[2:-1].strip()
    elif text.startswith("="):
        text = text[1:].strip()
    return text


# ---------------------------------------------------------------- rewrites for SpiffWorkflow


def expression_text(text: str | None) -> str:
    """An expression as it runs: without surrounding whitespace, dedented; a multi-line expression is
    wrapped in parentheses so that its line breaks are not statement ends."""
    source = textwrap.dedent(text or "").strip()
    return f"({source}\n)" if "\n" in source else source


def script_text(text: str | None) -> str:
    """A script as it runs: dedented, without leading and trailing blank lines."""
    return textwrap.dedent(text or "").strip("\n")


def prepare(root: etree._Element) -> None:
    """Rewrite a checked BPMN tree, in place, into the form SpiffWorkflow runs (see the module doc)."""
    for node in root.iter(*(f"{{{BPMN_NS}}}{k}" for k in EXPRESSIONS)):
        if node.text and node.text.strip():
            node.text = expression_text(node.text)
    for node in root.iter(f"{{{BPMN_NS}}}script"):
        node.text = script_text(node.text)
    _data_refs_by_name(root)
    _drop_data(root)
    for task in list(root.iter(f"{{{BPMN_NS}}}task")):
        _pass_through(task)
    for sub in list(root.iter(f"{{{BPMN_NS}}}subProcess", f"{{{BPMN_NS}}}transaction")):
        if sub.get("triggeredByEvent") != "true" and not any(
            isinstance(c.tag, str) and _local(c) in ACTIVITIES | GATEWAYS | EVENTS for c in sub
        ):
            _pass_through(sub)  # empty (a collapsed one whose content the tool kept elsewhere)
    for mi in root.iter(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"):
        _standard_multi_instance(mi)
    for scope in list(scopes(root)):
        _implicit_splits(scope)


def _pass_through(task: etree._Element) -> None:
    """An abstract bpmn:task (no type, as Signavio and Visio export most tasks) passes the token on, as
    in other engines; SpiffWorkflow would make it a manual task nobody is offered. It runs as an empty script.
    So does a sub-process with nothing inside (BPMN: it completes at once; SpiffWorkflow wants a start event)."""
    task.tag = f"{{{BPMN_NS}}}scriptTask"
    etree.SubElement(task, f"{{{BPMN_NS}}}script").text = "pass"


def _data_refs_by_name(root: etree._Element) -> None:
    """A multi-instance's loopDataInputRef/loopDataOutputRef naming a data input, output, property or
    data object by id (standard BPMN) names the variable of that element's name instead."""
    named = {
        el.get("id"): el.get("name")
        for el in root.iter(
            *(f"{{{BPMN_NS}}}{k}" for k in ("dataInput", "dataOutput", "property", "dataObject", "dataObjectReference"))
        )
        if el.get("id")
    }
    for ref in root.iter(f"{{{BPMN_NS}}}loopDataInputRef", f"{{{BPMN_NS}}}loopDataOutputRef"):
        name = named.get((ref.text or "").strip())
        if name and name.strip().isidentifier():
            ref.text = name.strip()


def _drop_data(root: etree._Element) -> None:
    """Data objects, data stores, their associations and the data inputs and outputs of processes and tasks
    (ioSpecification) are documentation: SpiffWorkflow would move variables into data objects (or fail on data
    stores) and require inputs and outputs by element id that only the dropped associations could fill, so the
    copy it parses has none."""
    for el in list(root.iter(*(f"{{{BPMN_NS}}}{k}" for k in DATA_ELEMENTS))):
        parent = el.getparent()
        if parent is not None:
            parent.remove(el)


def _standard_multi_instance(mi: etree._Element) -> None:
    """The element variables by name: SpiffWorkflow takes a data item's id as the variable, BPMN its name.
    (Camunda 7/8 collections are translated to loopDataInputRef before, by engine.spiff.extensions.camunda.)"""
    for item in [*mi.iterfind("bpmn:inputDataItem", NS), *mi.iterfind("bpmn:outputDataItem", NS)]:
        item.set("id", item.get("name") or item.get("id") or "")


class ImplicitSplit(InclusiveGateway):
    """The split of several flows leaving an activity: every flow whose condition holds (an unconditional
    flow always does), else the default. Unlike a gateway it is no join: each token that reaches the
    activity passes through on its own, so tokens arriving one after another are never merged."""

    def _update_hook(self, my_task: Task) -> bool:
        return bool(TaskSpec._update_hook(self, my_task))

    def _run_hook(self, my_task: Task) -> bool:
        matches, defaults = self._get_matching_outputs(my_task)
        if not matches + defaults:
            activity = self.bpmn_id.removesuffix(IMPLICIT_SPLIT)
            raise WorkflowTaskException(
                f"no condition of the flows leaving {activity!r} holds and none of them is the default flow",
                task=my_task,
            )
        my_task._sync_children(matches or defaults, TaskState.FUTURE)
        for child in my_task.children:
            child.task_spec._predict(child, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)
        return True


class ImplicitSplitParser(GatewayParser):
    """Inclusive gateways (flows without a condition always taken: engine.spiff.model.gateways); those `prepare` added
    for implicit splits become ImplicitSplit."""

    def create_task(self) -> Any:
        if self.bpmn_id.endswith(IMPLICIT_SPLIT):
            return ImplicitSplit(self.spec, self.bpmn_id, **self.bpmn_attributes)
        return super().create_task()


def _implicit_splits(scope: etree._Element) -> None:
    """Several flows leaving an activity or intermediate event: BPMN's implicit split. Unconditional flows
    are parallel; with conditions, every flow whose condition holds is taken, the default one only when
    none does. SpiffWorkflow takes one flow from a task, so the split becomes a gateway of its own."""
    outgoing: dict[str, list[etree._Element]] = {}
    for flow in _flows(scope):
        outgoing.setdefault(flow.get("sourceRef") or "", []).append(flow)
    for node in _nodes(scope):
        nid = node.get("id") or ""
        flows = outgoing.get(nid, [])
        if _local(node) not in SPLIT_BY_REWRITE or len(flows) < 2:
            continue
        default = node.attrib.pop("default", None)
        gateway = etree.Element(f"{{{BPMN_NS}}}inclusiveGateway")
        gateway.set("id", nid + IMPLICIT_SPLIT)
        if default is not None:
            gateway.set("default", default)
        link = etree.Element(f"{{{BPMN_NS}}}sequenceFlow")
        link.set("id", nid + IMPLICIT_SPLIT + ".in")
        link.set("sourceRef", nid)
        link.set("targetRef", nid + IMPLICIT_SPLIT)
        for flow in flows:
            flow.set("sourceRef", nid + IMPLICIT_SPLIT)
            if flow.get("id") != default and flow.find("bpmn:conditionExpression", NS) is None:
                condition = etree.SubElement(flow, f"{{{BPMN_NS}}}conditionExpression")
                condition.set(XSI_TYPE, "bpmn:tFormalExpression")
                condition.text = "True"  # an unconditional flow is always taken
        scope.append(gateway)
        scope.append(link)


class _ElementVariableIsLocal(MultiInstanceTask):
    """A multi-instance whose instances' data merge into the whole (no output collection) leaves the
    element variable behind; SpiffWorkflow then refuses the next sequential instance ("input item already
    exists") and the variable leaks into the process. It is each instance's own, so it is dropped after
    the merge (this class sits between the sequential/parallel mixin and MultiInstanceTask)."""

    def merge_child(self, workflow: Any, child: Task) -> None:
        super().merge_child(workflow, child)
        if self.input_item is not None and (self.data_output is None or self.output_item is None):
            child.parent.data.pop(self.input_item.bpmn_id, None)


class PmoflowSequentialMultiInstance(SequentialMultiInstanceTask, _ElementVariableIsLocal):
    """Sequential multi-instance with a local element variable."""


class PmoflowParallelMultiInstance(ParallelMultiInstanceTask, _ElementVariableIsLocal):
    """Parallel multi-instance with a local element variable."""


def with_multi_instance_classes(parsers: dict[str, tuple[type, type]]) -> dict[str, tuple[type, type]]:
    """The parser classes, each building our multi-instance specs (see _ElementVariableIsLocal)."""
    out = {}
    for tag, (parser, spec) in parsers.items():
        if hasattr(parser, "SEQUENTIAL_MI_CLASS"):
            parser = type(
                parser.__name__,
                (parser,),
                {
                    "SEQUENTIAL_MI_CLASS": PmoflowSequentialMultiInstance,
                    "PARALLEL_MI_CLASS": PmoflowParallelMultiInstance,
                },
            )
        out[tag] = (parser, spec)
    return out
