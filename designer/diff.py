"""The difference between two BPMN diagrams: added, removed and changed elements, with the properties.

Elements are matched by id. An element's properties are its type, its attributes (namespaced
ones with their prefix), its documentation, condition, timer, script and extension elements,
and its shape's bounds (or an edge's waypoints) in the diagram.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from engine.spiff.namespaces import BPMN_NS
from engine.spiff.xml import XmlRefused, parse_xml

DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
PREFIXES = {
    BPMN_NS: "",
    "https://pmoflow.dev/schema/bpmn/1.0": "pmoflow:",
    "http://camunda.org/schema/1.0/bpmn": "camunda:",
    "http://www.w3.org/2001/XMLSchema-instance": "xsi:",
}
TEXT_CHILDREN = (
    "documentation",
    "conditionExpression",
    "script",
    "timeDuration",
    "timeDate",
    "timeCycle",
    "loopCardinality",
    "completionCondition",
    "text",
)
SKIP_CHILDREN = {"incoming", "outgoing", "flowNodeRef"}


@dataclass(frozen=True)
class Change:
    property: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ElementDiff:
    id: str
    type: str
    name: str
    status: str  # added | removed | changed
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class Diff:
    elements: list[ElementDiff]

    def of(self, status: str) -> list[ElementDiff]:
        return [e for e in self.elements if e.status == status]

    @property
    def empty(self) -> bool:
        return not self.elements


def diff_bpmn(before: str, after: str, max_bytes: int = 10 * 1024 * 1024) -> Diff:
    """Compare two BPMN texts element by element; raises XmlRefused for unreadable XML."""
    old, new = _elements(before, "before.bpmn", max_bytes), _elements(after, "after.bpmn", max_bytes)
    out: list[ElementDiff] = []
    for eid, props in new.items():
        if eid not in old:
            out.append(ElementDiff(eid, props.get("type", ""), props.get("name", ""), "added"))
            continue
        changes = tuple(
            Change(k, old[eid].get(k), props.get(k))
            for k in sorted(set(props) | set(old[eid]))
            if old[eid].get(k) != props.get(k)
        )
        if changes:
            out.append(ElementDiff(eid, props.get("type", ""), props.get("name", ""), "changed", changes))
    for eid, props in old.items():
        if eid not in new:
            out.append(ElementDiff(eid, props.get("type", ""), props.get("name", ""), "removed"))
    order = {"removed": 0, "added": 1, "changed": 2}
    return Diff(sorted(out, key=lambda e: (order[e.status], e.type, e.id)))


def _elements(text: str, filename: str, max_bytes: int) -> dict[str, dict[str, str]]:
    root = parse_xml(text.encode(), filename, max_bytes)
    found: dict[str, dict[str, str]] = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or etree.QName(el).namespace != BPMN_NS or not el.get("id"):
            continue
        local = etree.QName(el).localname
        if local in ("definitions",):
            continue
        found[el.get("id") or ""] = _properties(el, local)
    for shape in root.iter(f"{{{DI_NS}}}BPMNShape", f"{{{DI_NS}}}BPMNEdge"):
        target = found.get(shape.get("bpmnElement") or "")
        if target is None:
            continue
        bounds = shape.find(f"{{{DC_NS}}}Bounds")
        if bounds is not None:
            target["bounds"] = ",".join(bounds.get(k, "") for k in ("x", "y", "width", "height"))
        points = shape.findall("{http://www.omg.org/spec/DD/20100524/DI}waypoint")
        if points:
            target["waypoints"] = " ".join(f"{p.get('x')},{p.get('y')}" for p in points)
    return found


def _properties(el: etree._Element, local: str) -> dict[str, str]:
    props = {"type": local}
    for name, value in el.attrib.items():
        q = etree.QName(name)
        props[PREFIXES.get(q.namespace or "", (q.namespace or "") and f"{{{q.namespace}}}") + q.localname] = value
    props.pop("id", None)
    for child in el:
        if not isinstance(child.tag, str):
            continue
        q = etree.QName(child)
        if q.localname in TEXT_CHILDREN and q.namespace == BPMN_NS:
            props[q.localname] = (child.text or "").strip()
        elif q.localname == "extensionElements":
            for ext in child:
                if isinstance(ext.tag, str):
                    eq = etree.QName(ext)
                    key = PREFIXES.get(eq.namespace or "", "") + eq.localname
                    props[key] = " ".join(f"{k}={v}" for k, v in sorted(ext.attrib.items())) + (
                        f" {(ext.text or '').strip()}" if (ext.text or "").strip() else ""
                    )
        elif q.localname.endswith("EventDefinition"):
            props["event"] = q.localname.replace("EventDefinition", "")
            for timer in child:
                if isinstance(timer.tag, str):
                    props[etree.QName(timer).localname] = (timer.text or "").strip()
    return props


__all__ = ["Change", "Diff", "ElementDiff", "XmlRefused", "diff_bpmn"]
