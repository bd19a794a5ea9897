"""Every integer and date parameter of the pages is range-checked: 422 naming it, never a 500 (both databases)."""

from __future__ import annotations

from tests.webui.conftest import csrf_of, intake

HUGE = ["9223372036854775807", "99999999999999999999", "-99999999999999999999"]
BAD_PAGES = [*HUGE, "0", "-1", "abc"]
BAD_DAYS = ["0001-01-01", "9999-12-31", "10000-01-01", "2026-13-45", "soon"]
BAD_MOMENTS = [*BAD_DAYS, "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


def refused(client, url: str, name: str, **params: str) -> None:
    page = client.get(url, query_string=params)
    assert page.status_code == 422, (url, params, page.status_code)
    assert name in page.get_data(as_text=True), (url, params)


def test_listing_pages_refuse_page_numbers_out_of_range(browser_of):
    pmo = browser_of("pmo")
    for url in ("/tasks", "/requests", "/notifications", "/monitor"):
        for value in BAD_PAGES:
            refused(pmo, url, "page", page=value)
        last = pmo.get(url, query_string={"page": "2147483647"})
        assert last.status_code == 200, url


def test_filters_refuse_integers_and_dates_out_of_range(app, browser_of):
    pmo = browser_of("pmo")
    for value in [*HUGE, "0", "abc"]:
        refused(pmo, "/monitor", "version", version=value)
        if value != "9223372036854775807":  # before's range is 1..2**63-1 (the audit trail's seq)
            refused(pmo, "/audit", "before", before=value)
        refused(pmo, "/requests/new/project-intake", "version", version=value)
    for value in BAD_DAYS:
        for name in ("started_from", "started_to"):
            refused(pmo, "/monitor", name, **{name: value})
        for name in ("since", "until"):
            refused(pmo, "/dashboard", name, **{name: value})
    for value in BAD_MOMENTS:
        for name in ("since", "until"):
            refused(pmo, "/audit", name, **{name: value})
    assert pmo.get("/audit", query_string={"since": "1900-01-01", "until": "9998-12-31"}).status_code == 200
    assert pmo.get("/dashboard", query_string={"until": "9998-12-31"}).status_code == 200


def test_versions_in_paths_and_forms_are_range_checked(app, browser_of):
    pmo = browser_of("pmo")
    instance = intake(app)
    for value in HUGE[:2]:
        refused(pmo, f"/monitor/instances/{instance.id}/migrate", "version", version=value)
        assert pmo.get(f"/designer/processes/project-intake/versions/{value}").status_code == 404
        assert pmo.get(f"/designer/processes/project-intake/versions/{value}/export").status_code == 404
    token = csrf_of(pmo, "/monitor")
    page = pmo.post("/monitor/bulk", data={"csrf_token": token, "action": "migrate", "to_version": HUGE[1]})
    assert page.status_code == 422 and "to_version" in page.get_data(as_text=True)
    page = pmo.post(
        f"/monitor/instances/{instance.id}/migrate", data={"csrf_token": token, "version": HUGE[1], "reason": "x"}
    )
    assert page.status_code == 422 and "version" in page.get_data(as_text=True)


def test_the_audit_export_refuses_a_bad_filter_with_a_422_naming_it(browser_of):
    pmo = browser_of("pmo")
    for name, value in (("before", "99999999999999999999"), ("since", "9999-12-31T23:59:59-14:00")):
        page = pmo.get("/audit/export.csv", query_string={name: value})
        assert page.status_code == 422 and name in page.get_data(as_text=True), (name, page.status_code)


def test_date_forms_refuse_days_out_of_range(browser_of):
    erin, pmo = browser_of("erin"), browser_of("pmo")
    token = csrf_of(erin, "/account/out-of-office")
    for value in ("9999-12-31", "0001-01-01"):
        page = erin.post(
            "/account/out-of-office",
            data={"substitute": "dave", "starts_on": "2026-01-05", "ends_on": value, "csrf_token": token},
        )
        assert page.status_code == 422 and "ends_on-error" in page.get_data(as_text=True), value
        calendar = "/admin/calendars/default"
        added = pmo.post(f"{calendar}/holidays", data={"day": value, "csrf_token": csrf_of(pmo, calendar)})
        assert added.status_code == 422 and "Enter a date" in added.get_data(as_text=True), value
