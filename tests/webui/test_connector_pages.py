"""Administration > Connectors: the HTTP connector's allow-list in the browser."""

from __future__ import annotations

import re

from tests.webui.conftest import csrf_of


def text(response) -> str:
    return response.get_data(as_text=True)


def test_an_admin_allows_a_host_and_removes_it(browser_of):
    pmo = browser_of("pmo")
    token = csrf_of(pmo, "/admin/connectors")
    response = pmo.post(
        "/admin/connectors", data={"pattern": "ERP.example.com", "note": "the ERP", "csrf_token": token}
    )
    assert response.status_code == 302
    page = text(pmo.get("/admin/connectors"))
    assert "erp.example.com" in page and "the ERP" in page and "Refused" in page
    host_id = re.search(r"/admin/connectors/([0-9a-f-]{36})/remove", page).group(1)
    assert pmo.post(f"/admin/connectors/{host_id}/remove", data={"csrf_token": token}).status_code == 302
    assert "<code>erp.example.com</code>" not in text(pmo.get("/admin/connectors"))


def test_bad_and_duplicate_hosts_are_refused_on_the_field(browser_of):
    pmo = browser_of("pmo")
    token = csrf_of(pmo, "/admin/connectors")
    bad = pmo.post("/admin/connectors", data={"pattern": "https://erp.example.com/api", "csrf_token": token})
    assert bad.status_code == 422 and "no scheme, port or path" in text(bad)
    pmo.post("/admin/connectors", data={"pattern": "10.0.0.5", "allow_private": "1", "csrf_token": token})
    again = pmo.post("/admin/connectors", data={"pattern": "10.0.0.5", "csrf_token": token})
    assert again.status_code == 409 and "already on the allow-list" in text(again)
    assert "Allowed" in text(pmo.get("/admin/connectors"))


def test_approvers_cannot_see_the_allow_list(browser_of):
    assert browser_of("alice").get("/admin/connectors").status_code == 403
