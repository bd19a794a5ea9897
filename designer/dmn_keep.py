"""What the DMN editor cannot edit survives its saves.

The designer's DMN editor (dmn-js 17) edits decision tables and literal expressions (of decisions
and of business knowledge models) on DMN 1.3. It opens DMN 1.4 and 1.5 files by reading them as
1.3 (`dmn.js` swaps the namespace), and its model (dmn-moddle) silently drops the elements DMN 1.3
does not define (boxed conditionals, filters and iterators, ...); other boxed expressions (contexts,
invocations, relations, lists, function definitions) it keeps but cannot show. So every save of a
DMN file goes through `keep_uneditable`, which puts back, from the version being replaced:

- the file's DMN version (the namespaces it was written in);
- the decision logic of every decision, and the encapsulated logic of every business knowledge
  model, that the editor cannot edit (anything but a decision table or a literal expression), as it
  was; a decision or BKM the user deleted stays deleted;
- the item definitions, which the editor has no way to edit (dmn-moddle drops their DMN 1.5
  `typeConstraint`), as they were;
- the diagram's references dmn-moddle cannot resolve and so leaves out: a label's `sharedStyle`, a
  shape's `dmnElementRef` to an element of an imported model (`include1:_id`); a shape or edge the
  user deleted stays deleted. A diagram the editor adds to a file that had none is written in the
  file's DMN version too.

Checked with every TCK level-3 model: tests/designer/test_dmn_tck_saves.py (the whole set, the
editor's save imitated) and tests/browser/test_designer_dmn.py (a sample through dmn-js itself).

`read_only_parts` lists those parts, so the editor page shows them read-only.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from lxml import etree

from engine.dmn.dmn_file import EXPRESSIONS
from engine.spiff.xml import XmlRefused, parse_xml

EDITABLE = frozenset({"decisionTable", "literalExpression"})
DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"
DMNDI13 = "https://www.omg.org/spec/DMN/20191111/DMNDI/"
DI_REFERENCES = ("sharedStyle", "dmnElementRef", "sourceElement", "targetElement")  # dropped when unresolved
MAX_SHOWN = 20_000  # characters of a read-only part's XML shown on the page


@dataclass(frozen=True)
class ReadOnlyPart:
    """A decision or BKM whose logic the editor shows read-only."""

    id: str
    name: str
    element: str  # "decision" or "businessKnowledgeModel"
    kind: str  # the boxed expression: "context", "conditional", ...
    xml: str


def keep_uneditable(before: str, after: str, filename: str, max_bytes: int) -> str:
    """`after` (what the editor saved) with what it cannot edit put back from `before`; `after` unchanged when
    either does not parse (the save's validation reports that), and when it is not the editor's: the editor
    writes DMN 1.3 whatever it opened, so a DMN 1.4 or 1.5 file saved over one in its own version (a file
    uploaded again, changed in another tool) is taken as it is."""
    if before == after:
        return after
    try:
        old = parse_xml(before.encode(), filename, max_bytes)
        new_text = _same_version(old, after)
        if new_text == after and (etree.QName(old).namespace or "") != DMN13:
            return after
        new = parse_xml(new_text.encode(), filename, max_bytes)
    except XmlRefused:
        return after
    ns = etree.QName(new).namespace or ""
    if ns != etree.QName(old).namespace:
        return after  # not the same kind of document: nothing to merge
    changed = new_text != after
    for el in old.iter(f"{{{ns}}}decision", f"{{{ns}}}businessKnowledgeModel"):
        target = _by_id(new, el.get("id"), etree.QName(el).localname, ns)
        if target is None:
            continue  # deleted in the editor
        changed |= _restore(el, target, ns)
    changed |= _restore_item_definitions(old, new, ns)
    changed |= _restore_di_references(old, new)
    if not changed:
        return after
    return etree.tostring(new, xml_declaration=True, encoding="UTF-8").decode()


def read_only_parts(text: str, filename: str, max_bytes: int) -> list[ReadOnlyPart]:
    """The decisions and BKMs of a DMN file whose logic the editor cannot edit, with that logic's XML."""
    try:
        root = parse_xml(text.encode(), filename, max_bytes)
    except XmlRefused:
        return []
    ns = etree.QName(root).namespace or ""
    parts = []
    for el in root.iter(f"{{{ns}}}decision", f"{{{ns}}}businessKnowledgeModel"):
        logic = _logic(el, ns)
        if logic is None or _editable(logic, ns):
            continue
        element = etree.QName(el).localname
        kind = etree.QName(_body(logic, ns) if element == "businessKnowledgeModel" else logic).localname
        xml = etree.tostring(logic, encoding="unicode")
        parts.append(
            ReadOnlyPart(
                id=el.get("id") or "",
                name=el.get("name") or el.get("id") or "",
                element=element,
                kind=kind,
                xml=xml if len(xml) <= MAX_SHOWN else xml[:MAX_SHOWN] + "\n...",
            )
        )
    return parts


# ---------------------------------------------------------------- helpers


def _same_version(old: etree._Element, after: str) -> str:
    """`after` in the DMN version of `old`: the editor writes DMN 1.3 whatever it opened."""
    old_model = etree.QName(old).namespace or ""
    if old_model == DMN13 or DMN13 not in after:
        return after
    text = after.replace(DMN13, old_model)
    old_di = next((uri for uri in (old.nsmap or {}).values() if uri and uri.endswith("/DMNDI/")), None)
    if old_di is None and old_model.endswith("/MODEL/"):  # no diagram before: the editor's one in the same version
        old_di = old_model[: -len("MODEL/")] + "DMNDI/"
    return text.replace(DMNDI13, old_di) if old_di else text


def _by_id(root: etree._Element, eid: str | None, local: str, ns: str) -> etree._Element | None:
    if not eid:
        return None
    return next((el for el in root.iter(f"{{{ns}}}{local}") if el.get("id") == eid), None)


def _expression_children(el: etree._Element, ns: str) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and c.tag in {f"{{{ns}}}{k}" for k in EXPRESSIONS}]


def _logic(el: etree._Element, ns: str) -> etree._Element | None:
    """A decision's expression, or a BKM's encapsulated logic."""
    if etree.QName(el).localname == "businessKnowledgeModel":
        return el.find(f"{{{ns}}}encapsulatedLogic")
    found = _expression_children(el, ns)
    return found[0] if found else None


def _body(function: etree._Element, ns: str) -> etree._Element:
    found = _expression_children(function, ns)
    return found[0] if found else function


def _editable(logic: etree._Element, ns: str) -> bool:
    if etree.QName(logic).localname == "encapsulatedLogic":  # a BKM: editable when its body is
        body = _expression_children(logic, ns)
        return not body or etree.QName(body[0]).localname in EDITABLE
    return etree.QName(logic).localname in EDITABLE


def _restore(old_el: etree._Element, new_el: etree._Element, ns: str) -> bool:
    """Put the old logic back into `new_el` when the editor cannot edit it; whether anything changed."""
    old_logic = _logic(old_el, ns)
    if old_logic is None or _editable(old_logic, ns):
        return False
    new_logic = _logic(new_el, ns)
    if new_logic is not None and etree.tostring(new_logic, method="c14n") == etree.tostring(old_logic, method="c14n"):
        return False
    kept = copy.deepcopy(old_logic)
    if new_logic is not None:
        new_el.replace(new_logic, kept)
    else:
        new_el.append(kept)  # the expression is the last child of a decision and a BKM
    return True


def _restore_item_definitions(old: etree._Element, new: etree._Element, ns: str) -> bool:
    """The item definitions as they were (in their place, or before the first DRG element if the editor dropped
    them all); whether anything changed."""
    tag = f"{{{ns}}}itemDefinition"
    olds = [el for el in old if el.tag == tag]
    news = [el for el in new if el.tag == tag]
    if [etree.tostring(e, method="c14n") for e in olds] == [etree.tostring(e, method="c14n") for e in news]:
        return False
    anchor = news[0] if news else _first_after_item_definitions(new, ns)
    for el in olds:
        kept = copy.deepcopy(el)
        if anchor is None:
            new.append(kept)
        else:
            anchor.addprevious(kept)
    for el in news:
        new.remove(el)
    return True


def _first_after_item_definitions(root: etree._Element, ns: str) -> etree._Element | None:
    """Where item definitions go: after description, extension elements and imports (DMN's sequence)."""
    before = {f"{{{ns}}}{k}" for k in ("description", "extensionElements", "import", "itemDefinition")}
    return next((c for c in root if isinstance(c.tag, str) and c.tag not in before), None)


def _restore_di_references(old: etree._Element, new: etree._Element) -> bool:
    """Put back the diagram references dmn-moddle dropped (see DI_REFERENCES) on the shapes, edges and labels that
    are still there; whether anything changed."""
    old_di = {el.get("id"): el for el in _di_elements(old) if el.get("id")}
    changed = False
    for el in _di_elements(new):
        before = old_di.get(el.get("id")) if el.get("id") else None
        if before is None:
            continue
        changed |= _put_back(before, el)
        old_labels, new_labels = _labels(before), _labels(el)
        for old_label, new_label in zip(old_labels, new_labels, strict=False):
            changed |= _put_back(old_label, new_label)
    return changed


def _di_elements(root: etree._Element) -> list[etree._Element]:
    return [
        el
        for el in root.iter()
        if isinstance(el.tag, str)
        and etree.QName(el).namespace != etree.QName(root).namespace
        and etree.QName(el).localname in ("DMNShape", "DMNEdge", "DMNDiagram")
    ]


def _labels(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and etree.QName(c).localname == "DMNLabel"]


def _put_back(before: etree._Element, after: etree._Element) -> bool:
    changed = False
    for name in DI_REFERENCES:
        value = before.get(name)
        if value is not None and after.get(name) is None:
            after.set(name, _same_prefix(before, after, value))
            changed = True
    return changed


def _same_prefix(before: etree._Element, after: etree._Element, value: str) -> str:
    """A QName reference (`include1:_id`) keeps pointing at its namespace: the prefix is declared where needed."""
    prefix, colon, local = value.partition(":")
    if not colon:
        return value
    uri = (before.nsmap or {}).get(prefix)
    if uri is None or (after.nsmap or {}).get(prefix) == uri:
        return value
    known = next((p for p, u in (after.nsmap or {}).items() if u == uri and p), None)
    if known is not None:
        return f"{known}:{local}"
    return value  # not declared in the saved file: written as it was (the validation reports it)
