"""The DMN editor's saves keep what it cannot edit (designer/dmn_keep.py), shown here without a browser: the
editor's save is imitated (DMN 1.3 namespace, elements DMN 1.3 does not define dropped, boxed expressions it
cannot show left out); tests/browser/test_designer_dmn.py saves TCK models through the real dmn-js, and
tests/designer/test_dmn_tck_saves.py every level-3 model through the save path."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from designer.dmn_keep import DMN13, DMNDI13, keep_uneditable, read_only_parts
from engine.dmn.reader import read_dmn

from .dmn_xml import editor_save as dmn_js_save

TCK = Path(__file__).resolve().parents[1] / "engine" / "dmn" / "tck" / "compliance-level-3"
LIMIT = 10_000_000
DMN15 = "https://www.omg.org/spec/DMN/20230324/MODEL/"
ONLY_15 = ("conditional", "filter", "for", "some", "every")


def semantic(text: str, name: str) -> list[dict[str, object]]:
    read = read_dmn(name, etree.fromstring(text.encode()))
    return [m.to_dict() for m in read.models] + [p.message for p in read.problems]  # type: ignore[list-item]


def editor_save(text: str, drop_boxed: bool) -> str:
    """What dmn-js writes: DMN 1.3, the 1.5-only elements gone (and, with `drop_boxed`, every boxed expression)."""
    root = etree.fromstring(text.replace(DMN15, DMN13).replace(DMN15.replace("MODEL", "DMNDI"), DMNDI13).encode())
    ns = etree.QName(root).namespace
    gone = ONLY_15 + (("context", "invocation", "relation", "list", "functionDefinition") if drop_boxed else ())
    for el in list(root.iter(*(f"{{{ns}}}{k}" for k in gone))):
        parent = el.getparent()
        if parent is not None and etree.QName(parent).localname in ("decision", "encapsulatedLogic"):
            parent.remove(el)
    for bkm in root.iter(f"{{{ns}}}businessKnowledgeModel"):
        logic = bkm.find(f"{{{ns}}}encapsulatedLogic")
        editable = logic is not None and any(
            etree.QName(c).localname in ("literalExpression", "decisionTable") for c in logic if isinstance(c.tag, str)
        )
        if drop_boxed and logic is not None and not editable:
            bkm.remove(logic)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()


@pytest.mark.parametrize(
    "folder",
    [
        "1150-boxed-conditional",
        "1151-boxed-filter",
        "1152-boxed-for",
        "1153-boxed-some",
        "1154-boxed-every",
        "1161-boxed-list-expression",
        "0030-user-defined-functions",
        "0041-multiple-nestedcontext",
        "0085-decision-services",
        "0004-lending",
    ],
)
@pytest.mark.parametrize("drop_boxed", [False, True])
def test_a_save_keeps_what_the_editor_cannot_edit(folder, drop_boxed):
    name = f"{folder}.dmn"
    original = (TCK / folder / name).read_text()
    saved = editor_save(original, drop_boxed)
    if drop_boxed or folder.startswith("115"):  # DMN 1.5-only elements, or everything boxed: the imitation loses them
        assert semantic(saved, name) != semantic(original, name)
    kept = keep_uneditable(original, saved, name, LIMIT)
    assert etree.QName(etree.fromstring(kept.encode())).namespace == DMN15
    assert semantic(kept, name) == semantic(original, name)


def test_what_the_editor_changed_and_deleted_stays_changed_and_deleted():
    original = (TCK / "1150-boxed-conditional" / "1150-boxed-conditional.dmn").read_text()
    saved = editor_save(original, drop_boxed=False)
    root = etree.fromstring(saved.encode())
    ns = etree.QName(root).namespace
    first = root.find(f"{{{ns}}}decision")
    assert first is not None
    root.remove(first)  # deleted in the diagram
    kept = keep_uneditable(original, etree.tostring(root, encoding="unicode"), "c.dmn", LIMIT)
    ids = [d.get("id") for d in etree.fromstring(kept.encode()).iter(f"{{{DMN15}}}decision")]
    assert first.get("id") not in ids and len(ids) == 2


def test_unparsable_saves_are_left_to_validation():
    assert keep_uneditable("<definitions/>", "<not xml", "x.dmn", LIMIT) == "<not xml"


def test_read_only_parts_name_each_boxed_expression():
    text = (TCK / "0030-user-defined-functions" / "0030-user-defined-functions.dmn").read_text()
    parts = read_only_parts(text, "u.dmn", LIMIT)
    assert {(p.element, p.kind) for p in parts} == {("decision", "context")}
    assert all(p.xml.startswith("<context") for p in parts)
    conditional = (TCK / "1150-boxed-conditional" / "1150-boxed-conditional.dmn").read_text()
    assert [p.kind for p in read_only_parts(conditional, "c.dmn", LIMIT)] == ["conditional"] * 3


ITEM_DEFINITIONS = f"""<definitions xmlns="{DMN15}" id="d" name="d" namespace="urn:d">
  <itemDefinition name="tAge" id="tAge"><typeRef>number</typeRef>
    <typeConstraint id="tc"><text>[0..150]</text></typeConstraint></itemDefinition>
  <itemDefinition name="tName" id="tName"><typeRef>string</typeRef></itemDefinition>
  <decision id="a" name="a"><variable name="a" typeRef="tAge"/><literalExpression><text>42</text></literalExpression></decision>
</definitions>"""


def test_item_definitions_come_back_with_their_type_constraints():
    """dmn-moddle (DMN 1.3) drops a DMN 1.5 `typeConstraint`; the editor cannot edit item definitions at all."""
    saved = dmn_js_save(ITEM_DEFINITIONS)
    assert "typeConstraint" not in saved
    kept = keep_uneditable(ITEM_DEFINITIONS, saved, "d.dmn", LIMIT)
    assert "<typeConstraint" in kept
    assert semantic(kept, "d.dmn") == semantic(ITEM_DEFINITIONS, "d.dmn")
    root = etree.fromstring(kept.encode())
    assert [etree.QName(c).localname for c in root] == ["itemDefinition", "itemDefinition", "decision"]
    edited = saved.replace("<text>42</text>", "<text>43</text>")  # what the editor can change stays changed
    assert "<text>43</text>" in keep_uneditable(ITEM_DEFINITIONS, edited, "d.dmn", LIMIT)


def test_a_diagram_the_editor_adds_is_in_the_files_dmn_version():
    original = ITEM_DEFINITIONS  # no diagram, no DMNDI namespace declared
    assert "DMNDI" not in original
    saved = dmn_js_save(original).replace(
        "</definitions>",
        f'<dmndi:DMNDI xmlns:dmndi="{DMNDI13}"><dmndi:DMNDiagram id="D1"/></dmndi:DMNDI></definitions>',
    )
    kept = etree.fromstring(keep_uneditable(original, saved, "c.dmn", LIMIT).encode())
    assert [c.tag for c in kept.iter("{*}DMNDI")] == ["{https://www.omg.org/spec/DMN/20230324/DMNDI/}DMNDI"]


def test_a_dmn_15_file_saved_over_its_earlier_version_is_taken_as_it_is():
    """Only the editor's saves are put right: it writes DMN 1.3, so a DMN 1.5 file (uploaded again after a change
    in another tool) replaces the old one whole, its changed context and item definitions included."""
    original = (TCK / "0030-user-defined-functions" / "0030-user-defined-functions.dmn").read_text()
    assert "<context" in original and DMN15 in original
    changed = original.replace("<context", "<context label='changed elsewhere'", 1)
    assert keep_uneditable(original, changed, "u.dmn", LIMIT) == changed
    lending = (TCK / "0004-lending" / "0004-lending.dmn").read_text()
    removed = etree.fromstring(lending.encode())
    assert removed.find(f"{{{DMN15}}}itemDefinition") is not None
    for el in list(removed.iter(f"{{{DMN15}}}itemDefinition")):
        removed.remove(el)
    text = etree.tostring(removed, encoding="unicode")
    assert keep_uneditable(lending, text, "l.dmn", LIMIT) == text
