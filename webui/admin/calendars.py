"""Administration > Calendars: business calendars with working hours, time zone and holidays (role admin).

Every route needs `calendar.manage`. Durations marked to run on business time (pmoflow:calendar
on a timer or an SLA) count only the working time of the calendar they name.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.core import bounds
from engine.core.errors import Conflict, InvalidInput
from engine.sla import calendars
from engine.sla.calendars import Holiday
from webui.admin import bp
from webui.errors import field_errors, status_of
from webui.security import actor, engine_ctx, requires

DAY_NAMES = dict(
    zip(calendars.WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), strict=True)
)


def _list_page(
    status: int = 200, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> ResponseReturnValue:
    return render_template(
        "admin/calendars.html",
        rows=calendars.list_calendars(engine_ctx(), actor()),
        values=values or {"time_zone": engine_ctx().settings.default_timezone or "UTC"},
        errors=errors or {},
        days=DAY_NAMES,
    ), status


def _page(
    name: str, status: int = 200, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> ResponseReturnValue:
    cal = calendars.get_calendar(engine_ctx(), actor(), name)
    return render_template(
        "admin/calendar.html", c=cal, values=values or {}, errors=errors or {}, days=DAY_NAMES
    ), status


@bp.get("/calendars")
@requires("calendar.manage")
def calendar_list() -> ResponseReturnValue:
    return _list_page()


@bp.post("/calendars")
@requires("calendar.manage")
def calendar_create() -> ResponseReturnValue:
    values = {"name": request.form.get("name", ""), "time_zone": request.form.get("time_zone", "")}
    try:
        row = calendars.save_calendar(
            engine_ctx(), actor(), values["name"], values["time_zone"], calendars.DEFAULT_HOURS, new=True
        )
    except (InvalidInput, Conflict) as err:
        return _list_page(status_of(err), values, field_errors(err))
    flash(
        f"Calendar {row.name} created with Monday to Friday 09:00-17:00. Adjust its hours and holidays below.", "info"
    )
    return redirect(url_for("admin.calendar", name=row.name))


@bp.get("/calendars/<name>")
@requires("calendar.manage")
def calendar(name: str) -> ResponseReturnValue:
    return _page(name)


@bp.post("/calendars/<name>")
@requires("calendar.manage")
def calendar_update(name: str) -> ResponseReturnValue:
    hours = {d: request.form.get(f"hours_{d}", "") for d in calendars.WEEKDAYS}
    values = {"time_zone": request.form.get("time_zone", ""), **{f"hours_{d}": v for d, v in hours.items()}}
    try:
        calendars.save_calendar(engine_ctx(), actor(), name, values["time_zone"], hours)
    except InvalidInput as err:
        return _page(name, status_of(err), values, field_errors(err))
    flash(f"Saved calendar {name}. New due dates use it; dates already set stay as they are.", "info")
    return redirect(url_for("admin.calendar", name=name))


@bp.post("/calendars/<name>/holidays")
@requires("calendar.manage")
def calendar_add_holiday(name: str) -> ResponseReturnValue:
    values = {"day": request.form.get("day", ""), "label": request.form.get("label", "")}
    try:
        day = bounds.day(values["day"])
    except ValueError as err:
        return _page(name, 422, values, {"day": f"Enter a date like 2026-12-24 ({err})."})
    try:
        calendars.set_holidays(engine_ctx(), actor(), name, add=[Holiday(day, values["label"].strip() or "Holiday")])
    except InvalidInput as err:
        return _page(name, status_of(err), values, field_errors(err))
    flash(f"{day:%A %d %B %Y} is a holiday in {name}.", "info")
    return redirect(url_for("admin.calendar", name=name))


@bp.post("/calendars/<name>/holidays/remove")
@requires("calendar.manage")
def calendar_remove_holiday(name: str) -> ResponseReturnValue:
    try:
        day = bounds.day(request.form.get("day", ""))
        calendars.set_holidays(engine_ctx(), actor(), name, remove=[day])
    except ValueError:
        flash("That is not a date.", "error")
    else:
        flash(f"{day:%d %B %Y} is a working day again in {name}.", "info")
    return redirect(url_for("admin.calendar", name=name))


@bp.post("/calendars/<name>/import")
@requires("calendar.manage")
def calendar_import(name: str) -> ResponseReturnValue:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(name, 422, {}, {"file": "Choose an .ics file."})
    try:
        added = calendars.import_ics(engine_ctx(), actor(), name, upload.read())
    except InvalidInput as err:
        return _page(name, status_of(err), {}, field_errors(err))
    flash(f"Imported {added} holiday{'' if added == 1 else 's'} from {upload.filename}.", "info")
    return redirect(url_for("admin.calendar", name=name))


@bp.post("/calendars/<name>/delete")
@requires("calendar.manage")
def calendar_delete(name: str) -> ResponseReturnValue:
    calendars.delete_calendar(engine_ctx(), actor(), name)
    flash(
        f"Deleted calendar {name}."
        + (" The built-in Monday-Friday 09:00-17:00 applies again." if name == calendars.DEFAULT else ""),
        "info",
    )
    return redirect(url_for("admin.calendar_list"))
