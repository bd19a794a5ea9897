"""Smoke: the landing page renders in Chromium, and the vendored bpmn-js and form-js bundles load and draw."""

from __future__ import annotations

import json

from playwright.sync_api import Page

from .conftest import ROOT, LiveServer

VENDOR = "/static/vendor"
BPMN_VIEWER = f"{VENDOR}/bpmn-js/bpmn-navigated-viewer.production.min.js"


def _landing_page_renders(page: Page, url: str) -> None:
    response = page.goto(url + "/")
    assert response is not None and response.status == 200
    assert page.title().endswith("· pmoflow")
    assert page.locator("h1").inner_text() == "pmoflow"
    openapi = page.locator('a[href="/api/v1/openapi.json"]')
    assert openapi.is_visible()
    # nothing is wider than the viewport: no sideways scrolling on a phone
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_landing_page_renders_on_desktop_and_phone(live_server: LiveServer, page: Page, mobile_page: Page):
    _landing_page_renders(page, live_server.url)
    _landing_page_renders(mobile_page, live_server.url)


def test_a_vendored_bundle_is_served_with_its_license_banner(live_server: LiveServer, page: Page):
    response = page.goto(live_server.url + BPMN_VIEWER)
    assert response is not None and response.status == 200
    assert "javascript" in response.headers["content-type"]
    first_line = response.text().split("\n", 1)[0]
    assert first_line.startswith("/*! bpmn-js") and first_line.endswith("bpmn.io/license */")


def test_the_vendored_bundles_draw_a_shipped_diagram_and_form(live_server: LiveServer, page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    # a page of the server: the bundles load from the same origin, under its Content-Security-Policy
    page.goto(live_server.url + "/login")
    page.set_content(f"""<!doctype html><html lang="en"><head><title>bundles</title>
      <link rel="stylesheet" href="{VENDOR}/bpmn-js/assets/diagram-js.css">
      <link rel="stylesheet" href="{VENDOR}/bpmn-js/assets/bpmn-js.css">
      <link rel="stylesheet" href="{VENDOR}/form-js/form-js.css">
      <script src="{BPMN_VIEWER}"></script>
      <script src="{VENDOR}/form-js/form-viewer.umd.js"></script>
    </head><body><main><div id="canvas" style="height: 500px"></div><div id="form"></div></main></body></html>""")
    drawn = page.evaluate(
        """async ([xml, schema]) => {
        const viewer = new BpmnJS({container: '#canvas'});
        await viewer.importXML(xml);
        const form = new FormViewer.Form({container: document.querySelector('#form')});
        await form.importSchema(schema, {});
        return viewer.get('elementRegistry').getAll().length;
    }""",
        [
            (ROOT / "workflows/project-intake.bpmn").read_text(),
            json.loads((ROOT / "workflows/approval-decision.form").read_text()),
        ],
    )
    assert drawn > 10
    assert page.locator('[data-element-id="it_manager_approval"]').is_visible()
    assert page.locator(".fjs-form").get_by_text("Decision").first.is_visible()
    # the license asks that the bpmn.io watermark stays visible
    assert page.locator(".bjs-powered-by").is_visible()
    assert errors == []
