"""Every TCK level-3 model survives the DMN editor's save (issue #17): the editor's save imitated as dmn-js 17
was seen to save these models (tests/designer/dmn_xml.py), then put right by designer/dmn_keep.py, gives the
file it started from: the same decisions, BKMs, item definitions, boxed expressions and diagram, and the same
model as the engine reads it. tests/browser/test_designer_dmn.py saves a sample through dmn-js itself."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from designer.dmn_keep import keep_uneditable
from engine.dmn.reader import read_dmn

from .dmn_xml import differences, editor_save

TCK3 = Path(__file__).resolve().parents[1] / "engine" / "dmn" / "tck" / "compliance-level-3"
MODELS = sorted(TCK3.glob("*/*.dmn"))
LIMIT = 10_000_000

pytestmark = pytest.mark.unit


def engine_view(text: str, name: str) -> list[object]:
    read = read_dmn(name, etree.fromstring(text.encode()))
    return [m.to_dict() for m in read.models] + [p.message for p in read.problems]


def test_the_set_is_the_whole_level():
    assert len(MODELS) >= 120
    assert len({m.parent.name for m in MODELS}) == len(list(TCK3.iterdir())) - sum(
        1 for d in TCK3.iterdir() if not d.is_dir()
    )


@cache
def original_view(path: Path) -> list[object]:
    return engine_view(path.read_text(), path.name)


@pytest.mark.parametrize("drop_boxed", [False, True], ids=["as-dmn-js", "boxed-lost"])
@pytest.mark.parametrize("path", MODELS, ids=[m.name for m in MODELS])
def test_a_save_gives_back_the_model(path, drop_boxed):
    original = path.read_text()
    kept = keep_uneditable(original, editor_save(original, drop_boxed), path.name, LIMIT)
    assert differences(original, kept) == []
    assert engine_view(kept, path.name) == original_view(path)


def test_the_comparison_sees_what_a_plain_save_loses():
    """Without dmn_keep, the imitated save loses parts of the models (so the test above has something to catch)."""
    lost = [m.name for m in MODELS if differences(m.read_text(), editor_save(m.read_text()))]
    assert {"1150-boxed-conditional.dmn", "1154-boxed-every.dmn", "0086-import.dmn", "1130-feel-interval.dmn"} <= set(
        lost
    )
    assert len([m for m in MODELS if differences(m.read_text(), editor_save(m.read_text(), drop_boxed=True))]) > 30
    sample = (TCK3 / "0086-import" / "0086-import.dmn").read_text()
    assert any("dmnElementRef" in d for d in differences(sample, editor_save(sample)))
