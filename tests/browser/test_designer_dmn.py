"""The designer's DMN editor (dmn-js 17) with TCK level-3 models (issue #17): a sample that covers every kind of
boxed expression (decision tables, literal expressions, BKMs with their function definitions, which dmn-js
edits; contexts, invocations, relations, lists, conditionals, filters, for, some, every, which it shows
read-only), imports, decision services and diagrams with label styles is opened in the editor, saved and
exported; the export is the file it started from (tests/designer/dmn_xml.py: element by element, and the model
the engine reads). An edit made in the editor is saved and nothing else changes. The whole level-3 set goes
through the same save path without a browser in tests/designer/test_dmn_tck_saves.py."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from playwright.sync_api import Page, expect

from tests.designer.dmn_xml import differences
from tests.designer.test_dmn_tck_saves import TCK3, engine_view

from .conftest import LiveServer
from .test_designer import create_from_template, save_now, wait_ready
from .test_tasklist import sign_in

SAMPLE = (
    ("0004-lending", "0004-lending.dmn"),  # decision tables, BKMs (tables, literal bodies), contexts, invocations
    ("0014-loan-comparison", "0014-loan-comparison.dmn"),  # a relation
    ("0030-user-defined-functions", "0030-user-defined-functions.dmn"),  # function definitions in a context
    ("0087-chapter-11-example", "0087-chapter-11-example.dmn"),  # decision services, a large diagram
    ("0086-import", "Imported_Model.dmn"),  # an imported model (uploaded first), label styles
    ("0086-import", "0086-import.dmn"),  # an import; a shape of an imported decision
    ("0092-feel-lambda", "0092-feel-lambda.dmn"),  # literal expressions
    ("1130-feel-interval", "1130-feel-interval.dmn"),  # label styles on every shape
    ("1150-boxed-conditional", "1150-boxed-conditional.dmn"),  # DMN 1.5 only, and no diagram
    ("1151-boxed-filter", "1151-boxed-filter.dmn"),
    ("1152-boxed-for", "1152-boxed-for.dmn"),
    ("1153-boxed-some", "1153-boxed-some.dmn"),
    ("1154-boxed-every", "1154-boxed-every.dmn"),
    ("1161-boxed-list-expression", "1161-boxed-list-expression.dmn"),  # a list; a DMN 1.5 diagram attribute
)
DRAFT = "tck-models"
DMN15 = "https://www.omg.org/spec/DMN/20230324/MODEL/"


def _open_and_save(page: Page, server: LiveServer, name: str, edit: str = "") -> str:
    page.goto(server.url + f"/designer/drafts/{DRAFT}/dmn/{name}")
    wait_ready(page)
    if edit:
        page.evaluate(edit)
    save_now(page)
    return page.request.get(server.url + f"/designer/drafts/{DRAFT}/export?file={name}").text()


def _upload(page: Page, server: LiveServer, path, tmp_path) -> None:
    page.goto(server.url + f"/designer/drafts/{DRAFT}")
    wait_ready(page)
    (tmp_path / path.name).write_text(path.read_text())
    page.set_input_files("#add-file", str(tmp_path / path.name))
    expect(page.locator(f"#files a[href$='{path.name}']")).to_be_visible()
    expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved"), timeout=20_000)


def test_tck_models_come_back_from_the_dmn_editor_as_they_went_in(live_server: LiveServer, page: Page, tmp_path):
    if not live_server.database_url.startswith("sqlite"):
        pytest.skip("the round trip does not depend on the database; it runs once")
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, DRAFT, "project-intake")
    failures = {}
    for folder, name in SAMPLE:
        path = TCK3 / folder / name
        _upload(page, live_server, path, tmp_path)
        original = path.read_text()
        exported = _open_and_save(page, live_server, name)
        assert etree.QName(etree.fromstring(exported.encode())).namespace == DMN15, name
        lost = differences(original, exported)
        if lost or engine_view(exported, name) != engine_view(original, name):
            failures[name] = lost[:10] or ["the engine reads another model"]
    assert failures == {}


def test_an_edit_in_the_dmn_editor_is_saved_and_nothing_else_changes(live_server: LiveServer, page: Page, tmp_path):
    """A decision whose logic dmn-js cannot show (a DMN 1.5 conditional) renamed on the requirements diagram: the
    name changes (and its variable's, as dmn-js keeps them equal), the conditional and everything else stays; the
    page lists the conditionals read-only."""
    if not live_server.database_url.startswith("sqlite"):
        pytest.skip("the round trip does not depend on the database; it runs once")
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, DRAFT, "project-intake")
    path = TCK3 / "1150-boxed-conditional" / "1150-boxed-conditional.dmn"
    _upload(page, live_server, path, tmp_path)
    page.goto(live_server.url + f"/designer/drafts/{DRAFT}/dmn/{path.name}")
    wait_ready(page)
    expect(page.locator(".read-only-part")).to_have_count(3)
    rename = """() => {
        const viewer = pmoflowDmn.dmnJS.getActiveViewer();
        const shape = viewer.get('elementRegistry').get('_decision001');
        viewer.get('modeling').updateLabel(shape, 'renamed in the editor');
    }"""
    exported = _open_and_save(page, live_server, path.name, rename)
    changes = differences(path.read_text(), exported)
    decision = "/definitions[@id=_i9fboPUUEeesLuP4RHs4vA]/decision[@id=_decision001]"
    assert changes == [
        f"{decision}/@name: 'decision001' -> 'renamed in the editor'",
        f"{decision}/variable/@name: 'decision001' -> 'renamed in the editor'",
    ]


def test_a_bkm_literal_expression_is_edited_in_the_boxed_expression_editor(
    live_server: LiveServer, page: Page, tmp_path
):
    """dmn-js edits a BKM whose function body is a literal expression (its boxed expression view): the new text
    is saved, and nothing else of the model changes."""
    if not live_server.database_url.startswith("sqlite"):
        pytest.skip("the round trip does not depend on the database; it runs once")
    sign_in(page, live_server, "pmo")
    create_from_template(page, live_server, DRAFT, "project-intake")
    path = TCK3 / "0005-literal-invocation" / "0005-literal-invocation.dmn"
    _upload(page, live_server, path, tmp_path)
    edit = """async () => {
        const dmnJS = pmoflowDmn.dmnJS;
        const view = dmnJS.getViews().find(v => v.type === 'boxedExpression' && v.element.id === 'b_PMT');
        await dmnJS.open(view);
        const body = view.element.encapsulatedLogic.body;
        dmnJS.getActiveViewer().get('modeling').updateProperties(body, {text: '(p*r/12)/(1-(1+r/12)**-n) + 0'});
    }"""
    exported = _open_and_save(page, live_server, path.name, edit)
    [change] = differences(path.read_text(), exported)
    assert "businessKnowledgeModel[@id=b_PMT]/encapsulatedLogic/literalExpression/text: text" in change
    assert change.endswith("-> '(p*r/12)/(1-(1+r/12)**-n) + 0'")
