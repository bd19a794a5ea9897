"""The Content-Security-Policy: on every page of every role (the routes of the permission matrix), on error
pages and the sign-in page; no page carries inline script, an event-handler attribute, a `javascript:` URL or
inline style, which the policy would block (tests/browser checks the pages in Chromium as well)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.webui.conftest import sign_in
from tests.webui.test_permission_matrix import CALLERS, PAGES, SESSION_USER, fill, setup  # noqa: F401 - a fixture
from webui.app import CONTENT_SECURITY_POLICY
from webui.security import DMN_EDITOR_POLICY

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [p for folder in ("webui", "designer") for p in (ROOT / folder).rglob("templates/**/*.html")]


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def test_the_policy_allows_no_inline_script_and_nothing_from_elsewhere():
    policy = directives(CONTENT_SECURITY_POLICY)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no other host
    assert policy["style-src"] == ["'self'"]  # so <style> elements and stylesheets from elsewhere are refused
    assert policy["style-src-attr"] == ["'unsafe-inline'"]  # style attributes only: dmn-js's table editor sets them
    assert policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    unsafe = {name for name, values in policy.items() if any("unsafe" in v for v in values)}
    assert unsafe == {"style-src-attr"}


class InlineCode(HTMLParser):
    """What a strict policy would block in a page: inline scripts, on*= handlers, javascript: URLs, inline style."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and not named.get("src") and named.get("type") != "application/json":
            self._script = True  # an inline script (JSON data blocks are data, never run)
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            elif name == "style":
                self.found.append(f"<{tag} style=...>")
            elif value and value.strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_data(self, data: str) -> None:
        if self._script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:60]!r}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = False


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_holds_inline_code(template: Path):
    assert inline_code(template.read_text()) == []


DMN_EDITOR = (
    "/designer/drafts/<key>/dmn/<filename>"  # its own policy: inline <style> elements, for dmn-js's cell editor
)


def test_the_decision_table_editor_allows_inline_style_elements_and_nothing_more():
    policy, editor = directives(CONTENT_SECURITY_POLICY), directives(DMN_EDITOR_POLICY)
    assert editor.pop("style-src-elem") == ["'self'", "'unsafe-inline'"]
    assert editor == policy


def test_the_checker_sees_inline_code():
    page = """<script>alert(1)</script><a href=" JavaScript:x">a</a><button onclick="x()">b</button>
    <style>p{}</style><p style="color:red"></p><script type="application/json">{"a": 1}</script><script src="/s.js"></script>"""
    assert len(inline_code(page)) == 5


@pytest.mark.parametrize("caller", CALLERS)
def test_every_page_of_every_role_carries_the_policy(app, setup, caller):  # noqa: F811 - the matrix's fixture
    client = app.test_client()
    if caller in SESSION_USER:
        assert sign_in(client, SESSION_USER[caller]).status_code == 302
    pages = 0
    for method, rule in PAGES:
        if method != "GET" or rule.startswith("/attachments/"):  # attachments: their own sandbox policy
            continue
        response = client.get(fill(rule, app))
        if response.mimetype == "application/json":  # runs nothing; Chromium's JSON viewer styles itself inline
            continue
        expected = DMN_EDITOR_POLICY if response.status_code == 200 and rule == DMN_EDITOR else CONTENT_SECURITY_POLICY
        assert response.headers.get("Content-Security-Policy") == expected, (caller, rule)
        if response.mimetype == "text/html":
            pages += 1
            assert inline_code(response.get_data(as_text=True)) == [], (caller, rule)
    assert pages >= 2


def test_error_pages_and_the_sign_in_page_carry_the_policy(app):
    @app.get("/broken-for-csp")
    def broken() -> str:
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False  # TESTING would raise it in the test instead of the 500 page
    client = app.test_client()
    for url, status in (("/login", 200), ("/no-such-page", 404), ("/broken-for-csp", 500), ("/", 200)):
        response = client.get(url)
        assert response.status_code == status and response.mimetype == "text/html", url
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, url
        assert inline_code(response.get_data(as_text=True)) == [], url
    assert sign_in(client, "alice").status_code == 302
    forbidden = client.get("/admin/users")
    assert forbidden.status_code == 403 and forbidden.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    refused = client.post("/logout")  # no CSRF token: refused with the error page
    assert refused.status_code == 400 and refused.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    with client.get("/static/app.css") as static:
        assert static.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_an_attachment_keeps_its_own_stricter_policy(app):
    """A view that sets its own policy keeps it: attachments are served sandboxed, with nothing allowed."""
    from engine.requester import attachments
    from tests.factories import ADMIN
    from tests.webui.conftest import intake

    view = intake(app)
    doc = attachments.add_document(
        app.extensions["pmoflow"], ADMIN, "m.html", b"<script>x</script>", instance_id=view.id
    )
    client = app.test_client()
    assert sign_in(client, "pmo").status_code == 302
    response = client.get(f"/attachments/{doc.id}")
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
