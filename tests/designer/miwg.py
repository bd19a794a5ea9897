"""The MIWG reference diagrams and what a round trip must keep of them: ids, types, names, attributes, bounds."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

# shared/ lies beside the checkout (CI clones it elsewhere with a copy of shared/ beside it)
CORPUS = next(
    (
        c
        for c in (
            Path(__file__).resolve().parents[3] / "shared" / "corpus" / "miwg-reference",
            Path("/work/shared/corpus/miwg-reference"),
        )
        if c.exists()
    ),
    Path("/work/shared/corpus/miwg-reference"),
)
MIWG = sorted(CORPUS.glob("*.bpmn")) if CORPUS.exists() else []
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
# moddle writes defaults it knows and drops nothing else; these are attributes whose default bpmn-js may add
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
DEFAULTED = {
    "isInterrupting",
    "cancelActivity",
    "parallelMultiple",
    "isImmediate",
    "instantiate",
    "completionQuantity",
    "startQuantity",
    "isForCompensation",
    "isClosed",
    "isExecutable",
    "gatewayDirection",
    "eventGatewayType",
    "ordering",
    "isSequential",
    "implementation",
    "isCollection",
    "processType",
    "typeLanguage",
    "expressionLanguage",
    "triggeredByEvent",
    "textFormat",
    "testBefore",
    "messageVisibleKind",
}


def _value(attribute: str, value: str) -> str:
    """An attribute's meaning: whitespace normalized, numbers as numbers, a QName (xsi:type) without its prefix."""
    value = " ".join(value.split())
    if attribute == XSI_TYPE:
        return value.rsplit(":", 1)[-1]
    try:
        return repr(float(value))  # 72.0 and 72 are the same number
    except ValueError:
        return value


def shape_of(content: bytes) -> dict[str, dict[str, object]]:
    """id -> what must survive: element type, name, other attributes, and (for DI) bounds / waypoints."""
    root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True))
    found: dict[str, dict[str, object]] = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or el.get("id") is None:
            continue
        q = etree.QName(el)
        entry: dict[str, object] = {"type": f"{q.namespace}#{q.localname}"}
        if el.get("name") is not None:
            entry["name"] = " ".join(el.get("name").split())  # XML may normalize whitespace in attributes
        entry["attrs"] = {
            k: _value(k, v)
            for k, v in el.attrib.items()
            if k not in ("id", "name") and etree.QName(k).localname not in DEFAULTED
        }
        if q.namespace == DI:
            bounds = el.find(f"{{{DC}}}Bounds")
            if bounds is not None:
                entry["bounds"] = tuple(round(float(bounds.get(k, "0"))) for k in ("x", "y", "width", "height"))
            points = el.findall(f"{{{'http://www.omg.org/spec/DD/20100524/DI'}}}waypoint")
            if points:
                entry["waypoints"] = tuple((round(float(p.get("x"))), round(float(p.get("y")))) for p in points)
        found[el.get("id")] = entry
    return found


def lost(before: bytes, after: bytes) -> list[str]:
    """Every id, type, name, attribute or shape of `before` that `after` lacks or changed."""
    old, new = shape_of(before), shape_of(after)
    problems = []
    for eid, entry in old.items():
        if eid not in new:
            problems.append(f"{eid} ({entry['type']}) is gone")
            continue
        for key, value in entry.items():
            if key == "attrs":
                for attr, v in value.items():  # type: ignore[union-attr]
                    if new[eid]["attrs"].get(attr) != v:  # type: ignore[union-attr]
                        problems.append(f"{eid}: attribute {attr} {v!r} -> {new[eid]['attrs'].get(attr)!r}")
            elif new[eid].get(key) != value:
                problems.append(f"{eid}: {key} {value!r} -> {new[eid].get(key)!r}")
    kept = _variable_refs(after)
    problems += [
        f"{owner}: {what} {text!r} is gone"
        for owner, what, text in _variable_refs(before)
        if (owner, what, text) not in kept
    ]
    return problems


def _variable_refs(content: bytes) -> set[tuple[str, str, str]]:
    """(activity id, element, text) of the multi-instance collection references, which carry no id of their own."""
    root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True))
    found = set()
    for el in root.iter("{*}loopDataInputRef", "{*}loopDataOutputRef"):
        owner = next((a.get("id") for a in el.iterancestors() if a.get("id")), "")
        found.add((owner, etree.QName(el).localname, (el.text or "").strip()))
    return found
