"""Administration > Calendars through Flask's client, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from engine.admin import groups
from engine.sla import calendars
from tests.factories import ALICE
from tests.webui.conftest import csrf_of

ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:1
DTSTART;VALUE=DATE:20261225
SUMMARY:Christmas Day
END:VEVENT
END:VCALENDAR
"""


def post(client, page: str, url: str, data: dict, **kwargs):
    return client.post(url, data={**data, "csrf_token": csrf_of(client, page)}, **kwargs)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_list_shows_the_built_in_default(browser_of):
    page = text(browser_of("pmo").get("/admin/calendars"))
    assert "default" in page and "(built in)" in page and "Mon 09:00-17:00" in page
    assert 'name="csrf_token"' in page


def test_create_edit_hours_holidays_import_and_delete(app, browser_of):
    pmo = browser_of("pmo")
    ctx = app.extensions["pmoflow"]
    created = post(
        pmo, "/admin/calendars", "/admin/calendars", {"name": "Support NYC", "time_zone": "America/New_York"}
    )
    assert created.status_code == 302 and created.headers["Location"].endswith("/admin/calendars/Support%20NYC")
    page = "/admin/calendars/Support%20NYC"
    hours = {f"hours_{d}": "08:00-12:00, 13:00-16:00" for d in ("mon", "tue", "wed", "thu", "fri")}
    assert post(pmo, page, page, {"time_zone": "America/New_York", **hours}).status_code == 302
    assert post(pmo, page, f"{page}/holidays", {"day": "2026-07-03", "label": "Independence Day"}).status_code == 302
    imported = post(
        pmo, page, f"{page}/import", {"file": (io.BytesIO(ICS), "us.ics")}, content_type="multipart/form-data"
    )
    assert imported.status_code == 302
    shown = text(pmo.get(page))
    assert "Independence Day" in shown and "Christmas Day" in shown and "08:00-12:00, 13:00-16:00" in shown
    with ctx.uow(write=False) as uow:
        support = calendars.resolver(uow.session)("Support NYC")
    assert support.holidays == {date(2026, 7, 3), date(2026, 12, 25)}
    assert support.add(datetime(2026, 7, 2, 19, tzinfo=UTC), "PT2H") == datetime(2026, 7, 6, 13, tzinfo=UTC)  # Thu, Mon
    assert post(pmo, page, f"{page}/holidays/remove", {"day": "2026-07-03"}).status_code == 302
    assert "Independence Day" not in text(pmo.get(page))
    assert post(pmo, page, f"{page}/delete", {}).status_code == 302
    assert pmo.get(page).status_code == 404
    assert [c.name for c in calendars.list_calendars(ctx, ALICE)] == ["default"]


def test_problems_are_shown_on_their_fields(browser_of):
    pmo = browser_of("pmo")
    bad = post(pmo, "/admin/calendars", "/admin/calendars", {"name": "", "time_zone": "Mars/Base"})
    assert bad.status_code == 422
    assert "not a known time zone" in text(bad) and 'aria-invalid="true"' in text(bad)
    page = "/admin/calendars/default"
    hours = post(pmo, page, page, {"time_zone": "UTC", "hours_mon": "9 to 5"})
    assert hours.status_code == 422 and "is not a time range like 09:00-17:00" in text(hours)
    day = post(pmo, page, f"{page}/holidays", {"day": "soon"})
    assert day.status_code == 422 and "Enter a date" in text(day)
    ics = post(
        pmo,
        page,
        f"{page}/import",
        {"file": (io.BytesIO(b"not a calendar"), "x.ics")},
        content_type="multipart/form-data",
    )
    assert ics.status_code == 422 and "Not a valid .ics file." in text(ics)


def test_forms_without_the_csrf_token_are_refused(browser_of):
    pmo = browser_of("pmo")
    assert pmo.post("/admin/calendars", data={"name": "x", "time_zone": "UTC"}).status_code == 400


def test_approvers_may_not_manage_calendars(browser_of):
    alice = browser_of("alice")
    assert alice.get("/admin/calendars").status_code == 403
    assert post(alice, "/tasks", "/admin/calendars", {"name": "x", "time_zone": "UTC"}).status_code == 403


def test_an_admin_names_a_groups_manager_for_escalations(app, browser_of):
    pmo = browser_of("pmo")
    page = "/admin/groups/IT%20Manager"
    assert 'name="manager"' in text(pmo.get(page))
    unknown = post(pmo, page, f"{page}/manager", {"manager": "nobody"})
    assert unknown.status_code == 422 and "There is no active user &#39;nobody&#39;." in text(unknown)
    assert post(pmo, page, f"{page}/manager", {"manager": "erin"}).status_code == 302
    assert groups.group_detail(app.extensions["pmoflow"], "IT Manager").manager == "erin"
    assert 'value="erin"' in text(pmo.get(page))
