"""Modelling advice the designer gives on every save, beyond the engine's own deploy checks.

`engine.spiff.model.parsing.parse_deployment` already refuses timers that do not parse and references
to decisions and forms that are not in the deployment. These rules add what a deployment may
technically survive but a designer should hear about: a user task whose lane (or candidate
group) names no existing group, a flow node where the token gets stuck (dead end), elements no
token can ever reach, and a flow without a condition leaving an exclusive or inclusive gateway
(BPMN takes it always: engine.spiff.model.gateways).
Each rule returns every problem it finds, each with file, element id and line.

They are advice, not refusals (designer.validation turns them into warnings): what may be
published is decided by the deploy checks alone (`parse_deployment`), the same rules as a
deployment through the API, so a model that deploys there publishes here.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from engine.core.errors import Problem
from engine.spiff.extensions.references import candidate_groups
from engine.spiff.namespaces import BPMN_NS, FLOW_NODES, HUMAN_TASKS, NS

SCOPES = ("process", "subProcess", "transaction", "adHocSubProcess")
ENDS_FLOW = {"endEvent"}


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _flow_nodes(scope: etree._Element) -> list[etree._Element]:
    return [
        c
        for c in scope
        if isinstance(c.tag, str)
        and etree.QName(c).namespace == BPMN_NS
        and _local(c) in FLOW_NODES | {"adHocSubProcess"}
    ]


def _scopes(root: etree._Element) -> Iterable[etree._Element]:
    for process in root.iterfind("bpmn:process", NS):
        yield process
        for local in SCOPES[1:]:
            yield from process.iterfind(f".//bpmn:{local}", NS)


def check_lane_groups(
    filename: str, root: etree._Element, groups: set[str], lane_map: dict[str, str] | None = None
) -> list[Problem]:
    """A user task's lane, mapped through lane_map, and its candidate groups must name existing groups."""
    lane_map = lane_map or {}
    problems = []
    for process in root.iterfind("bpmn:process", NS):
        lane_of: dict[str, etree._Element] = {}
        for lane in process.iterfind(".//bpmn:lane", NS):
            if lane.find("bpmn:childLaneSet", NS) is not None:
                continue  # a parent lane: its children assign
            for ref in lane.iterfind("bpmn:flowNodeRef", NS):
                if ref.text:
                    lane_of[ref.text.strip()] = lane
        for task in process.iter(*(f"{{{BPMN_NS}}}{t}" for t in HUMAN_TASKS)):
            tid = task.get("id")
            explicit = candidate_groups(task)
            for group in explicit:
                if group not in groups:
                    problems.append(
                        Problem(
                            f"candidate group {group!r} does not exist; create it under Admin > Groups or pick another",
                            filename,
                            tid,
                            task.sourceline,
                            "unknown_group",
                        )
                    )
            task_lane = lane_of.get(tid or "")
            if explicit or task_lane is None:
                continue
            lane_name = task_lane.get("name") or task_lane.get("id") or ""
            group = lane_map.get(lane_name, lane_name)
            if group not in groups:
                problems.append(
                    Problem(
                        f"the task's lane {lane_name!r} maps to group {group!r}, which does not exist; "
                        "rename the lane to a group's name or create the group",
                        filename,
                        tid,
                        task.sourceline,
                        "unknown_group",
                    )
                )
    return problems


def _event_kind(node: etree._Element) -> set[str]:
    return {_local(c) for c in node if _local(c).endswith("EventDefinition")}


def _is_entry(node: etree._Element) -> bool:
    """A node a token may start at without an incoming sequence flow."""
    local = _local(node)
    if local == "startEvent" or node.get("triggeredByEvent") == "true" or node.get("isForCompensation") == "true":
        return True
    return local == "intermediateCatchEvent" and "linkEventDefinition" in _event_kind(node)


def _needs_outgoing(node: etree._Element) -> bool:
    local = _local(node)
    if local == "startEvent":
        return False  # a deploy rule (engine.spiff.model.structure): start_without_outgoing
    if local in ENDS_FLOW or node.get("triggeredByEvent") == "true" or node.get("isForCompensation") == "true":
        return False
    kinds = _event_kind(node)
    if local == "intermediateThrowEvent" and "linkEventDefinition" in kinds:
        return False
    return not (local == "boundaryEvent" and "compensateEventDefinition" in kinds)


def check_flow(filename: str, root: etree._Element) -> list[Problem]:
    """Dead ends (a flow node other than an end event with no outgoing flow) and unreachable nodes."""
    problems = []
    for scope in _scopes(root):
        nodes = _flow_nodes(scope)
        if not nodes:
            continue
        flows = [f for f in scope.iterfind("bpmn:sequenceFlow", NS)]
        outgoing: dict[str, list[str]] = {}
        has_incoming: set[str] = set()
        for f in flows:
            outgoing.setdefault(f.get("sourceRef") or "", []).append(f.get("targetRef") or "")
            has_incoming.add(f.get("targetRef") or "")
        boundaries: dict[str, list[str]] = {}
        for node in nodes:
            if _local(node) == "boundaryEvent":
                boundaries.setdefault(node.get("attachedToRef") or "", []).append(node.get("id") or "")
        has_start = any(_local(n) == "startEvent" for n in nodes)
        entries = [
            n.get("id") or ""
            for n in nodes
            if _is_entry(n) or (not has_start and _local(n) != "boundaryEvent" and n.get("id") not in has_incoming)
        ]
        reached = _reach(entries, outgoing, boundaries)
        for node in nodes:
            nid = node.get("id") or ""
            if _needs_outgoing(node) and not outgoing.get(nid):
                problems.append(
                    Problem(
                        f"dead end: the token stops at this {_describe(node)}; "
                        "connect it onward or end with an end event",
                        filename,
                        nid,
                        node.sourceline,
                        "dead_end",
                    )
                )
        problems.extend(_unreachable(filename, nodes, reached, outgoing, boundaries))
    return problems


def _unreachable(
    filename: str,
    nodes: list[etree._Element],
    reached: set[str],
    outgoing: dict[str, list[str]],
    boundaries: dict[str, list[str]],
) -> list[Problem]:
    """One problem per cut: on the first element no token reaches, naming the elements cut off after it.

    A removed flow can cut off a dozen elements; listing each would bury the one place to fix. The first
    elements of each cut-off part (those no other unreachable element leads to) carry the problem; a
    cut-off loop with no such first element is reported at its first element in the file.
    """
    unreached = [n for n in nodes if (n.get("id") or "") not in reached]
    ids = {n.get("id") or "" for n in unreached}
    fed = {t for s in ids for t in outgoing.get(s, []) + boundaries.get(s, [])}
    firsts = [n for n in unreached if n.get("id") not in fed]
    order = {n.get("id") or "": i for i, n in enumerate(nodes)}
    covered: set[str] = set()
    problems = []
    for node in firsts + [n for n in unreached if n.get("id") in fed]:
        nid = node.get("id") or ""
        if nid in covered:
            continue
        after = sorted((_reach([nid], outgoing, boundaries) & ids) - covered - {nid}, key=order.__getitem__)
        covered.update(after, [nid])
        message = f"unreachable: no path from a start event leads to this {_describe(node)}"
        if after:
            shown = ", ".join(after[:10]) + (f" and {len(after) - 10} more" if len(after) > 10 else "")
            message += f"; the {len(after)} element(s) after it are cut off too: {shown}"
        problems.append(Problem(message, filename, nid, node.sourceline, "unreachable"))
    return problems


def _reach(entries: list[str], outgoing: dict[str, list[str]], boundaries: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(entries)
    while todo:
        nid = todo.pop()
        if nid in seen:
            continue
        seen.add(nid)
        todo.extend(outgoing.get(nid, []))
        todo.extend(boundaries.get(nid, []))
    return seen


def _describe(node: etree._Element) -> str:
    words = []
    for ch in _local(node):
        if ch.isupper():
            words.append(" ")
        words.append(ch.lower())
    return "".join(words)


def check_unconditioned_flows(filename: str, root: etree._Element) -> list[Problem]:
    """A flow without a condition (and not the default) leaving an exclusive or inclusive gateway with
    other flows: BPMN always takes it (an exclusive gateway: when no flow defined before it is taken)."""
    problems = []
    for scope in _scopes(root):
        flows = list(scope.iterfind("bpmn:sequenceFlow", NS))
        for gateway in scope:
            if _local(gateway) not in ("exclusiveGateway", "inclusiveGateway"):
                continue
            gid = gateway.get("id")
            outgoing = [f for f in flows if f.get("sourceRef") == gid]
            if len(outgoing) < 2:
                continue
            for flow in outgoing:
                condition = flow.find("bpmn:conditionExpression", NS)
                if flow.get("id") == gateway.get("default") or (
                    condition is not None and (condition.text or "").strip()
                ):
                    continue
                when = (
                    "whenever the token reaches the gateway"
                    if _local(gateway) == "inclusiveGateway"
                    else "unless a flow defined before it is taken"
                )
                problems.append(
                    Problem(
                        f"this flow has no condition: it is always taken {when}; add a condition or make it the "
                        "gateway's default flow",
                        filename,
                        flow.get("id"),
                        flow.sourceline,
                        "always_taken",
                    )
                )
    return problems


def check_model(
    filename: str, root: etree._Element, groups: set[str] | None, lane_map: dict[str, str] | None = None
) -> list[Problem]:
    """Every modelling rule on one BPMN file; `groups=None` skips the group check."""
    problems = check_flow(filename, root)
    problems.extend(check_unconditioned_flows(filename, root))
    if groups is not None:
        problems.extend(check_lane_groups(filename, root, groups, lane_map))
    return problems
