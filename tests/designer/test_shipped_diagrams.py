"""Every shipped workflow carries a complete diagram, so the designer and the monitor can show it."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "workflows").glob("**/*.bpmn"))
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DRAWN = {
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "task",
    "userTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "sendTask",
    "receiveTask",
    "manualTask",
    "callActivity",
    "subProcess",
    "transaction",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
    "sequenceFlow",
    "participant",
    "lane",
}
Box = tuple[float, float, float, float]


def _bounds(shape: etree._Element) -> Box:
    b = shape.find(f"{{{DC}}}Bounds")
    x, y = float(b.get("x")), float(b.get("y"))
    return x, y, x + float(b.get("width")), y + float(b.get("height"))


def _problems(path: Path) -> list[str]:
    root = etree.parse(str(path)).getroot()
    shapes = {s.get("bpmnElement"): s for s in root.iter(f"{{{DI}}}BPMNShape")}
    edges = {e.get("bpmnElement"): e for e in root.iter(f"{{{DI}}}BPMNEdge")}
    problems = []
    for el in root.iter(f"{{{BPMN}}}*"):
        kind, eid = etree.QName(el).localname, el.get("id")
        if kind not in DRAWN:
            continue
        if kind == "sequenceFlow":
            points = edges[eid].findall("{*}waypoint") if eid in edges else []
            problems += [] if len(points) >= 2 else [f"{eid}: no edge"]
            continue
        if eid not in shapes:
            problems.append(f"{eid}: no shape")
            continue
        box = _bounds(shapes[eid])
        if kind == "subProcess" and shapes[eid].get("isExpanded") != "true" and len(el.findall(f"{{{BPMN}}}*")):
            problems.append(f"{eid}: a sub-process with contents is drawn collapsed")
        if kind == "boundaryEvent":
            host = _bounds(shapes[el.get("attachedToRef")])
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            on_edge = (cx in (host[0], host[2]) and host[1] <= cy <= host[3]) or (
                cy in (host[1], host[3]) and host[0] <= cx <= host[2]
            )
            problems += [] if on_edge else [f"{eid}: not on the border of {el.get('attachedToRef')}"]
            continue
        parent = el.getparent()
        if etree.QName(parent).localname == "subProcess" and parent.get("id") in shapes:
            outer = _bounds(shapes[parent.get("id")])
            inside = outer[0] <= box[0] and outer[1] <= box[1] and box[2] <= outer[2] and box[3] <= outer[3]
            problems += [] if inside else [f"{eid}: outside its sub-process {parent.get('id')}"]
    return problems


def test_the_workflows_folder_holds_the_examples():
    assert {"project-onboarding-systems.bpmn", "project-review-events.bpmn", "c8_notify.bpmn"} <= {
        p.name for p in SHIPPED
    }


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT / "workflows")) for p in SHIPPED])
def test_every_shipped_workflow_draws_every_element(path: Path):
    assert _problems(path) == []
