"""A form's text components (form-js "text", markdown) are shown on the start form and on the task page, in
their place among the fields (webui.filters.form_text; both databases)."""

from __future__ import annotations

from markupsafe import Markup

from tests.webui.conftest import intake
from webui.filters import form_text


def test_the_start_form_shows_the_forms_text_before_its_fields(app, browser_of):
    html = browser_of("alice").get("/requests/new/project-intake").get_data(as_text=True)
    lead = '<p class="form-text-lead"><strong>New project request</strong></p>'
    assert lead in html
    assert "<p>Describe the project and its budget. The budget decides who approves it:" in html
    assert html.index(lead) < html.index('name="title"')
    assert "####" not in html


def test_the_task_page_shows_the_forms_text(app, browser_of):
    task_id = intake(app).open_tasks[0].id
    html = browser_of("alice").get(f"/tasks/{task_id}").get_data(as_text=True)
    assert '<div class="form-text"><p class="form-text-lead"><strong>' in html
    assert "####" not in html


def test_form_text_escapes_and_keeps_paragraphs():
    shown = form_text("# Title <b>\nline one\nline <i>two</i>\n\nnext & last")
    assert isinstance(shown, Markup)
    assert shown == (
        '<p class="form-text-lead"><strong>Title &lt;b&gt;</strong></p>'
        "<p>line one<br>line &lt;i&gt;two&lt;/i&gt;</p><p>next &amp; last</p>"
    )
    assert form_text(None) == "" and form_text("   ") == ""
