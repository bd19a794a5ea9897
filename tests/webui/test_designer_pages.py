"""The designer's pages and JSON endpoints: render, save with the revision (409 when stale), CSRF, publish."""

from __future__ import annotations

import io
import re

import pytest

from designer import drafts
from tests.bpmn_samples import linear, one_approval, script_task
from tests.factories import ADMIN

META = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture
def designer(browser_of):
    client = browser_of("pmo")
    client.csrf = META.search(client.get("/designer").get_data(as_text=True)).group(1)
    return client


def post_json(client, url: str, body: dict, csrf: bool = True):
    headers = {"X-CSRFToken": client.csrf} if csrf else {}
    return client.post(url, json=body, headers=headers)


def test_the_library_lists_processes_templates_and_the_new_and_import_forms(designer):
    page = designer.get("/designer").get_data(as_text=True)
    for text in (
        "Project intake",
        "project-intake",
        "v1",
        "0 running",
        "Template: Cross-functional handoff",
        'action="/designer/import"',
        'name="csrf_token"',
    ):
        assert text in page


def test_create_from_a_template_then_the_editor_page_holds_the_modeler_and_the_panel_slot(designer, app):
    response = designer.post(
        "/designer/new",
        data={"key": "vendor-onboarding", "template": "cross-functional-handoff", "csrf_token": designer.csrf},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/designer/drafts/vendor-onboarding")
    page = designer.get("/designer/drafts/vendor-onboarding").get_data(as_text=True)
    assert 'id="properties-panel"' in page and "bpmn-modeler.production.min.js" in page
    assert "editor.js" in page and 'id="pmoflow-descriptor"' in page and "SeparationOfDuties" in page
    assert "panel-execution.js" in page and '"Topic"' in page and "candidateUsers" in page


def test_a_bad_new_process_is_shown_on_the_form(designer):
    response = designer.post("/designer/new", data={"key": "no spaces", "csrf_token": designer.csrf})
    assert response.status_code == 422
    assert "letters, digits" in response.get_data(as_text=True)


def test_save_returns_problems_and_the_new_revision_and_a_stale_save_is_409(designer, app):
    ctx = app.extensions["pmoflow"]
    draft = drafts.create_draft(ctx, ADMIN, "p1")
    ok = post_json(
        designer, "/designer/drafts/p1/save", {"revision": draft.revision, "bpmn": one_approval(lane_name="Ghosts")}
    )
    assert ok.status_code == 200
    assert ok.json["revision"] == draft.revision + 1
    assert [p["code"] for p in ok.json["problems"]] == ["unknown_group"]
    stale = post_json(designer, "/designer/drafts/p1/save", {"revision": draft.revision, "bpmn": one_approval()})
    assert stale.status_code == 409 and "pmo saved this draft" in stale.json["error"]["message"]
    assert stale.json["error"]["details"]["updated_by"] == "pmo"
    assert drafts.get_draft(ctx, ADMIN, "p1").revision == draft.revision + 1


def test_json_endpoints_need_the_csrf_header(designer, app):
    draft = drafts.create_draft(app.extensions["pmoflow"], ADMIN, "p1")
    refused = post_json(
        designer, "/designer/drafts/p1/save", {"revision": draft.revision, "bpmn": one_approval()}, csrf=False
    )
    assert refused.status_code == 400
    assert drafts.get_draft(app.extensions["pmoflow"], ADMIN, "p1").revision == draft.revision


def test_validate_does_not_save(designer, app):
    draft = drafts.create_draft(app.extensions["pmoflow"], ADMIN, "p1")
    answer = post_json(designer, "/designer/drafts/p1/validate", {"bpmn": one_approval(lane_name="Ghosts")})
    assert answer.status_code == 200 and [p["code"] for p in answer.json["problems"]] == ["unknown_group"]
    assert drafts.get_draft(app.extensions["pmoflow"], ADMIN, "p1").revision == draft.revision


def test_publish_refuses_problems_then_publishes_and_the_version_page_shows_the_note(designer, app):
    ctx = app.extensions["pmoflow"]
    draft = drafts.create_draft(ctx, ADMIN, "p1")
    broken = post_json(
        designer,
        "/designer/drafts/p1/save",
        {"revision": draft.revision, "bpmn": linear((script_task("calc", "total = ("), "calc"), pid="p1")},
    )
    refused = post_json(designer, "/designer/drafts/p1/publish", {"revision": broken.json["revision"], "note": "n"})
    assert refused.status_code == 422 and refused.json["error"]["details"]["problems"][0]["element_id"] == "calc"
    saved = post_json(
        designer, "/designer/drafts/p1/save", {"revision": broken.json["revision"], "bpmn": one_approval()}
    )
    done = post_json(designer, "/designer/drafts/p1/publish", {"revision": saved.json["revision"], "note": "First"})
    assert done.status_code == 200 and done.json == {"version": 1, "url": "/designer/processes/p1/versions/1"}
    page = designer.get(done.json["url"]).get_data(as_text=True)
    assert "First" in page and "v1" in page and 'id="diagram-data"' in page


def test_import_and_export(designer, app):
    response = designer.post(
        "/designer/import",
        content_type="multipart/form-data",
        data={"csrf_token": designer.csrf, "files": [(io.BytesIO(one_approval(pid="imported").encode()), "x.bpmn")]},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/designer/drafts/imported")
    exported = designer.get("/designer/drafts/imported/export")
    assert exported.headers["Content-Disposition"] == 'attachment; filename="imported.bpmn"'
    assert b'id="imported"' in exported.data
    bad = designer.post(
        "/designer/import",
        content_type="multipart/form-data",
        data={"csrf_token": designer.csrf, "files": [(io.BytesIO(b"<x/>"), "x.form")]},
    )
    assert bad.status_code == 422 and "exactly one .bpmn" in bad.get_data(as_text=True)


def test_the_diff_page_lists_changed_properties(designer, app):
    ctx = app.extensions["pmoflow"]
    draft = drafts.edit_version(ctx, ADMIN, "project-intake")
    drafts.save_draft(
        ctx,
        ADMIN,
        "project-intake",
        draft.revision,
        draft.bpmn.replace('name="IT Manager approval"', 'name="IT manager sign-off"'),
    )
    page = designer.get("/designer/processes/project-intake/diff?from=1&to=draft").get_data(as_text=True)
    assert "IT manager sign-off" in page and "1 changed" in page and 'data-element="it_manager_approval"' in page


def test_an_approver_and_an_auditor_may_not_design(browser_of):
    for user in ("alice", "audrey"):
        assert browser_of(user).get("/designer").status_code == 403
