"""Every MIWG reference diagram imports into a draft, saves and exports with nothing lost (server side).

The browser round trip, through bpmn-js itself, is tests/browser/test_designer.py.
"""

from __future__ import annotations

import pytest

from designer import drafts
from engine.spiff.model.parsing import SourceFile
from tests.designer.miwg import MIWG, lost
from tests.factories import ADMIN


@pytest.mark.skipif(not MIWG, reason="the MIWG corpus is not on this machine")
def test_every_miwg_diagram_survives_import_save_and_export(ctx):
    assert len(MIWG) >= 20
    for path in MIWG:
        key = f"miwg-{path.stem}"
        draft = drafts.import_files(ctx, ADMIN, [SourceFile(path.name, path.read_bytes())], key=key)
        saved = drafts.save_draft(ctx, ADMIN, key, draft.revision, draft.bpmn)
        assert saved.revision == draft.revision + 1
        name, exported = drafts.export_draft(ctx, ADMIN, key)
        assert name == f"{key}.bpmn"
        assert lost(path.read_bytes(), exported) == [], path.name


def test_the_comparison_notices_a_lost_shape_a_renamed_element_and_a_moved_bound():
    original = MIWG[0].read_bytes() if MIWG else None
    if original is None:
        pytest.skip("the MIWG corpus is not on this machine")
    text = original.decode("latin-1")
    import re

    first_name = re.search(r'name="([^"]+)"', text.split("<semantic:process", 1)[1]).group(1)
    renamed = text.replace(f'name="{first_name}"', 'name="something else"', 1).encode("latin-1")
    assert any("name" in p for p in lost(original, renamed))
    moved = re.sub(r'(<dc:Bounds[^>]*?x=")(\d+)', lambda m: m.group(1) + str(int(m.group(2)) + 50), text, count=1)
    assert any("bounds" in p for p in lost(original, moved.encode("latin-1")))
    shape = re.search(r"<bpmndi:BPMNShape.*?</bpmndi:BPMNShape>", text, re.S).group(0)
    assert any("is gone" in p for p in lost(original, text.replace(shape, "").encode("latin-1")))


def test_a_lost_collection_reference_is_reported():
    before = (
        b'<d xmlns:b="x"><b:userTask id="t"><b:multiInstanceLoopCharacteristics>'
        b"<b:loopDataInputRef>items</b:loopDataInputRef></b:multiInstanceLoopCharacteristics></b:userTask></d>"
    )
    after = b'<d xmlns:b="x"><b:userTask id="t"><b:multiInstanceLoopCharacteristics/></b:userTask></d>'
    assert lost(before, after) == ["t: loopDataInputRef 'items' is gone"]
    assert lost(before, before) == []
