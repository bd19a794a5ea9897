"""Business-time arithmetic (weekends, holidays, time zones, DST) and the calendar service on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from engine.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.sla import calendars
from engine.sla.calendars import CalendarError, Holiday, WorkingCalendar, default_calendar, parse_hours
from tests.factories import ADMIN, ALICE

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def cal(zone: str = "UTC", holidays: tuple[date, ...] = (), **hours: str) -> WorkingCalendar:
    return WorkingCalendar("t", zone, parse_hours({**calendars.DEFAULT_HOURS, **hours}), frozenset(holidays))


# ---------------------------------------------------------------- arithmetic


def test_two_business_days_from_friday_evening_are_due_on_tuesday_evening():
    friday_5pm = utc(2026, 1, 9, 17)
    assert default_calendar().add(friday_5pm, "P2D") == utc(2026, 1, 13, 17)


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        (utc(2026, 1, 5, 9), "PT8H", utc(2026, 1, 5, 17)),  # a whole working day
        (utc(2026, 1, 5, 16), "PT2H", utc(2026, 1, 6, 10)),  # the evening is skipped
        (utc(2026, 1, 5, 20), "PT1H", utc(2026, 1, 6, 10)),  # raised after hours: counts from 09:00
        (utc(2026, 1, 10, 12), "PT30M", utc(2026, 1, 12, 9, 30)),  # raised on Saturday
        (utc(2026, 1, 7, 12), "P1W", utc(2026, 1, 14, 12)),  # a week is five working days
        (utc(2026, 1, 5, 12), "P0D", utc(2026, 1, 5, 12)),
    ],
)
def test_weekends_and_evenings_do_not_count(start, duration, due):
    assert default_calendar().add(start, duration) == due


def test_holidays_are_skipped():
    monday = date(2026, 1, 12)
    assert cal(holidays=(monday,)).add(utc(2026, 1, 9, 17), "P2D") == utc(2026, 1, 14, 17)


def test_working_hours_are_read_in_the_calendars_time_zone():
    berlin = default_calendar(BERLIN)
    # Friday 17:00 in Berlin is 16:00 UTC in winter; Tuesday 17:00 in Berlin likewise.
    assert berlin.add(utc(2026, 1, 9, 16), "P2D") == utc(2026, 1, 13, 16)
    assert not berlin.is_working_time(utc(2026, 1, 9, 16, 30))
    assert berlin.is_working_time(utc(2026, 1, 9, 15, 30))
    new_york = default_calendar(NEW_YORK)
    assert new_york.add(utc(2026, 1, 5, 14), "PT1H") == utc(2026, 1, 5, 15)  # 09:00 EST


def test_the_change_to_summer_time_keeps_the_local_working_hours():
    berlin = default_calendar(BERLIN)
    # Clocks go forward on Sunday 29 March 2026: Friday 17:00 CET is 16:00 UTC, Tuesday 17:00 CEST is 15:00 UTC.
    assert berlin.add(utc(2026, 3, 27, 16), "P2D") == utc(2026, 3, 31, 15)
    # and back on Sunday 25 October 2026
    assert berlin.add(utc(2026, 10, 23, 15), "P2D") == utc(2026, 10, 27, 16)


def test_a_working_day_across_a_dst_change_counts_real_hours():
    # working hours over the night of the change (a 24-hour operation on Sundays)
    night = cal(BERLIN, sun="00:00-24:00")
    start = utc(2026, 3, 28, 23)  # Sunday 00:00 CET
    assert night.add(start, "PT23H") == utc(2026, 3, 29, 22)  # 23 real hours: Sunday has only 23
    assert night.add(start, "PT24H") == utc(2026, 3, 30, 8)  # one more hour on Monday from 09:00 CEST


def test_split_hours_and_short_days():
    split = cal(mon="09:00-12:00, 13:00-17:00", fri="09:00-13:00")
    assert split.add(utc(2026, 1, 5, 11), "PT2H") == utc(2026, 1, 5, 14)
    assert split.day_length == timedelta(hours=8)  # the usual day, not Friday's
    assert split.add(utc(2026, 1, 9, 12), "PT2H") == utc(2026, 1, 12, 10)


@pytest.mark.parametrize("bad", ["P1M", "P1Y", "2 days", "P", "PT"])
def test_durations_that_cannot_run_on_business_time_are_refused(bad):
    with pytest.raises(CalendarError):
        default_calendar().add(utc(2026, 1, 5, 9), bad)


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"mon": "9-17"}, "time range"),
        ({"mon": "17:00-09:00"}, "ends before"),
        ({"mon": "09:00-12:00, 11:00-13:00"}, "overlap"),
        ({"mon": "25:00-26:00"}, "valid"),
    ],
)
def test_bad_working_hours_are_named(hours, message):
    with pytest.raises(CalendarError, match=message):
        parse_hours(hours)


def test_a_calendar_without_working_time_is_refused():
    closed = WorkingCalendar("closed", "UTC", parse_hours({}))
    with pytest.raises(CalendarError, match="no working hours"):
        closed.add(utc(2026, 1, 5), "P1D")
    with pytest.raises(CalendarError, match="time zone"):
        default_calendar("Mars/Olympus")


ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:1
DTSTART;VALUE=DATE:20261225
DTEND;VALUE=DATE:20261227
SUMMARY:Christmas
END:VEVENT
BEGIN:VEVENT
UID:2
DTSTART;VALUE=DATE:20260501
SUMMARY:Labour Day
RRULE:FREQ=YEARLY
END:VEVENT
END:VCALENDAR
"""


def test_ics_events_become_holidays_with_multi_day_events_and_yearly_rules():
    found = {h.day: h.name for h in calendars.holidays_from_ics(ICS)}
    assert found[date(2026, 12, 25)] == found[date(2026, 12, 26)] == "Christmas"
    assert date(2026, 12, 27) not in found
    assert found[date(2027, 5, 1)] == "Labour Day" and date(2035, 5, 1) in found


def test_a_file_that_is_not_icalendar_is_refused():
    with pytest.raises(InvalidInput):
        calendars.holidays_from_ics(b"hello")


# ---------------------------------------------------------------- the service (SQLite and PostgreSQL)


def test_the_default_calendar_exists_until_an_admin_saves_one(ctx):
    [default] = calendars.list_calendars(ctx, ALICE)
    assert (default.name, default.id, default.hours["mon"], default.hours["sat"]) == (
        "default",
        None,
        "09:00-17:00",
        "",
    )
    saved = calendars.save_calendar(ctx, ADMIN, "default", BERLIN, {**calendars.DEFAULT_HOURS, "fri": "09:00-15:00"})
    assert saved.id and calendars.get_calendar(ctx, ALICE, "default").hours["fri"] == "09:00-15:00"
    with ctx.uow(write=False) as uow:
        assert calendars.resolver(uow.session)("default").time_zone == BERLIN


def test_create_edit_holidays_import_and_delete(ctx):
    calendars.save_calendar(ctx, ADMIN, "Support NYC", NEW_YORK, calendars.DEFAULT_HOURS, new=True)
    with pytest.raises(Conflict):
        calendars.save_calendar(ctx, ADMIN, "Support NYC", NEW_YORK, calendars.DEFAULT_HOURS, new=True)
    view = calendars.set_holidays(ctx, ADMIN, "Support NYC", add=[Holiday(date(2026, 7, 3), "Independence Day")])
    assert [(h.day, h.name) for h in view.holidays] == [(date(2026, 7, 3), "Independence Day")]
    assert calendars.import_ics(ctx, ADMIN, "Support NYC", ICS) > 3
    with ctx.uow(write=False) as uow:
        support = calendars.resolver(uow.session)("Support NYC")
    assert date(2026, 12, 25) in support.holidays
    # Thursday 2 July 16:00 EDT + 2 business hours: Friday 3 July is a holiday, so Monday 6 July 10:00 EDT
    assert support.add(utc(2026, 7, 2, 20), "PT2H") == utc(2026, 7, 6, 14)
    view = calendars.set_holidays(ctx, ADMIN, "Support NYC", remove=[date(2026, 7, 3)])
    assert date(2026, 7, 3) not in {h.day for h in view.holidays}
    calendars.delete_calendar(ctx, ADMIN, "Support NYC")
    with pytest.raises(NotFound):
        calendars.get_calendar(ctx, ALICE, "Support NYC")


def test_bad_calendars_are_refused_field_by_field_and_only_admins_may_manage(ctx):
    with pytest.raises(InvalidInput) as info:
        calendars.save_calendar(ctx, ADMIN, "", "Nowhere/Else", {"mon": "nine to five"}, new=True)
    assert set(info.value.details["fields"]) == {"name", "time_zone", "hours_mon"}
    with pytest.raises(Forbidden):
        calendars.save_calendar(ctx, ALICE, "x", "UTC", calendars.DEFAULT_HOURS, new=True)
    with pytest.raises(NotFound):
        calendars.set_holidays(ctx, ADMIN, "missing", add=[Holiday(date(2026, 1, 1), "x")])
