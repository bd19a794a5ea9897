"""Business calendars: working hours, weekends, time zone and holidays, and time arithmetic on them.

A duration "on business time" counts only working time. A business *day* is one working day's hours (the calendar's
usual day length, 8 hours for 09:00-17:00), a business *week* is as many days as the calendar has working weekdays;
hours, minutes and seconds are working time. So "P2D" on the default calendar, raised at 17:00 on a Friday, is due
at 17:00 on Tuesday. Months and years have no fixed working length and are refused. The arithmetic works on absolute
instants (UTC) and reads the working hours in the calendar's own time zone, so a day on which the clocks change is
neither longer nor shorter than its working hours say.

The calendar named "default" always exists: Monday to Friday 09:00-17:00 in the time zone of the setting
PMOFLOW_DEFAULT_TIMEZONE (UTC when unset), until an administrator saves one of that name. The service functions
(save, holidays, iCalendar import) need `calendar.manage`; anyone may read (`list_calendars`, `get_calendar`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core.context import EngineContext
from engine.core.errors import Conflict, InvalidInput, NotFound
from engine.core.permissions import Actor, require
from engine.db.models import BusinessCalendar
from engine.events import stream as audit

DEFAULT = "default"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_HOURS = {d: "09:00-17:00" if i < 5 else "" for i, d in enumerate(WEEKDAYS)}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,79}$")
_INTERVAL = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_DURATION = re.compile(
    r"^P(?:(?P<years>\d+(?:[.,]\d+)?)Y)?(?:(?P<months>\d+(?:[.,]\d+)?)M)?(?:(?P<weeks>\d+(?:[.,]\d+)?)W)?"
    r"(?:(?P<days>\d+(?:[.,]\d+)?)D)?(?:T(?:(?P<hours>\d+(?:[.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$",
    re.I,
)
MAX_DAYS_SEARCHED = 3 * 366  # a calendar with no working time in three years is refused
HOLIDAYS_MAX = 2000


class CalendarError(ValueError):
    """A duration or calendar the arithmetic cannot use (the message says why)."""


# ---------------------------------------------------------------- pure arithmetic

Interval = tuple[time, time]


@dataclass(frozen=True)
class WorkingCalendar:
    """Working hours per weekday (intervals in local time), a time zone and holiday dates."""

    name: str
    time_zone: str = "UTC"
    hours: dict[str, tuple[Interval, ...]] = field(default_factory=lambda: parse_hours(DEFAULT_HOURS))
    holidays: frozenset[date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def day_length(self) -> timedelta:
        """One business day: the most common length of a working weekday."""
        lengths = [_length(iv) for iv in self.hours.values() if iv]
        if not lengths:
            raise CalendarError(f"calendar {self.name!r} has no working hours on any weekday")
        return Counter(lengths).most_common(1)[0][0]

    @property
    def working_weekdays(self) -> int:
        return sum(1 for iv in self.hours.values() if iv)

    def intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of a local date as UTC instants (none on weekends and holidays)."""
        if day in self.holidays:
            return []
        zone = self.zone
        result = []
        for start, end in self.hours.get(WEEKDAYS[day.weekday()], ()):
            a = datetime.combine(day, start, zone).astimezone(UTC)
            b = (
                datetime.combine(day, end, zone)
                if end != time(0)
                else datetime.combine(day + timedelta(days=1), time(0), zone)
            ).astimezone(UTC)
            if b > a:
                result.append((a, b))
        return result

    def is_working_time(self, instant: datetime) -> bool:
        local = instant.astimezone(self.zone)
        return any(a <= instant < b for a, b in self.intervals_on(local.date()))

    def add(self, start: datetime, duration: str | timedelta) -> datetime:
        """`start` plus a duration of working time; raises CalendarError."""
        work = duration if isinstance(duration, timedelta) else self.working_time(duration)
        if work < timedelta(0):
            raise CalendarError("a business-time duration cannot be negative")
        return self._walk(_aware(start), work)

    def working_time(self, duration: str) -> timedelta:
        """How much working time an ISO 8601 duration means on this calendar; raises CalendarError."""
        parts = parse_duration(duration)
        if parts.get("years") or parts.get("months"):
            raise CalendarError(f"{duration!r}: months and years have no fixed working length; use days or weeks")
        days = parts.get("days", 0) + parts.get("weeks", 0) * self.working_weekdays
        return (self.day_length * days if days else timedelta(0)) + timedelta(
            hours=parts.get("hours", 0), minutes=parts.get("minutes", 0), seconds=parts.get("seconds", 0)
        )

    def working_between(self, start: datetime, end: datetime) -> timedelta:
        """The working time from `start` to `end` (zero if `end` is not later)."""
        start, end = _aware(start), _aware(end)
        total = timedelta(0)
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date()
        while day <= last:
            for a, b in self.intervals_on(day):
                overlap = min(b, end) - max(a, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    def _walk(self, start: datetime, work: timedelta) -> datetime:
        day = start.astimezone(self.zone).date() - timedelta(days=1)  # an interval may begin the day before
        remaining = work
        for _ in range(MAX_DAYS_SEARCHED):
            for a, b in self.intervals_on(day):
                if b <= start:
                    continue
                begin = max(a, start)
                if remaining <= b - begin:
                    return begin + remaining
                remaining -= b - begin
            day += timedelta(days=1)
        raise CalendarError(f"calendar {self.name!r} has too little working time to add {work}")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _length(intervals: tuple[Interval, ...]) -> timedelta:
    total = timedelta(0)
    for a, b in intervals:
        end = datetime.combine(date.min, b) if b != time(0) else datetime.combine(date.min + timedelta(days=1), b)
        total += end - datetime.combine(date.min, a)
    return total


def parse_duration(text: str) -> dict[str, float]:
    """The parts of an ISO 8601 duration ("P2D", "PT4H30M", "P1W"); raises CalendarError."""
    match = _DURATION.match((text or "").strip()) if isinstance(text, str) else None
    if match is None or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise CalendarError(f"{text!r} is not an ISO 8601 duration (for example P2D or PT4H)")
    return {k: float(v.replace(",", ".")) for k, v in match.groupdict().items() if v is not None}


def parse_hours(hours: dict[str, str]) -> dict[str, tuple[Interval, ...]]:
    """Weekday -> "09:00-12:00, 13:00-17:00" (empty: not a working day) as intervals; raises CalendarError."""
    result: dict[str, tuple[Interval, ...]] = {}
    for day in WEEKDAYS:
        text = (hours.get(day) or "").strip()
        intervals: list[Interval] = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            match = _INTERVAL.match(part)
            if not match:
                raise CalendarError(f"{day}: {part!r} is not a time range like 09:00-17:00")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
                raise CalendarError(f"{day}: {part!r} is not a valid time range")
            start, end = time(h1, m1), time(0) if h2 == 24 else time(h2, m2)
            if end != time(0) and end <= start:
                raise CalendarError(f"{day}: {part!r} ends before it starts")
            if intervals and (intervals[-1][1] == time(0) or start < intervals[-1][1]):
                raise CalendarError(f"{day}: the ranges must be in order and must not overlap")
            intervals.append((start, end))
        result[day] = tuple(intervals)
    return result


def format_hours(intervals: tuple[Interval, ...]) -> str:
    return ", ".join(f"{a:%H:%M}-{'24:00' if b == time(0) else f'{b:%H:%M}'}" for a, b in intervals)


def check_zone(name: str) -> str:
    """The IANA time zone name if it exists; raises CalendarError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"{name!r} is not a known time zone (use an IANA name such as Europe/Berlin)") from None
    return name


def default_calendar(time_zone: str = "UTC") -> WorkingCalendar:
    return WorkingCalendar(DEFAULT, check_zone(time_zone or "UTC"))


# ---------------------------------------------------------------- persistence and service


@dataclass(frozen=True)
class Holiday:
    day: date
    name: str


@dataclass(frozen=True)
class CalendarView:
    id: str | None  # None: the built-in default, not saved yet
    name: str
    time_zone: str
    hours: dict[str, str]
    holidays: list[Holiday]
    updated_at: datetime | None

    @classmethod
    def of(cls, row: BusinessCalendar) -> CalendarView:
        return cls(
            id=row.uuid,
            name=row.name,
            time_zone=row.time_zone,
            hours=dict(row.hours),
            holidays=[Holiday(date.fromisoformat(h["date"]), h.get("name", "")) for h in row.holidays],
            updated_at=row.updated_at,
        )


def to_working(row: BusinessCalendar) -> WorkingCalendar:
    return WorkingCalendar(
        row.name, row.time_zone, parse_hours(row.hours), frozenset(date.fromisoformat(h["date"]) for h in row.holidays)
    )


Lookup = Callable[[str | None], WorkingCalendar]  # calendar name (None: the default) -> calendar


def resolver(session: Session, default_time_zone: str = "UTC") -> Lookup:
    """A lookup of calendars by name (None: the default) for one step; raises CalendarError for unknown names."""
    return lookup(
        lambda key: session.scalars(select(BusinessCalendar).where(BusinessCalendar.name == key)).first(),
        default_time_zone,
    )


def snapshot(ctx: EngineContext) -> Lookup:
    """Every saved calendar read once, found as `resolver` finds them: for work without a session (dry runs)."""
    with ctx.uow(write=False) as uow:
        saved = {row.name: to_working(row) for row in uow.session.scalars(select(BusinessCalendar))}
    return lookup(saved.get, ctx.settings.default_timezone or "UTC")


def lookup(fetch: Callable[[str], WorkingCalendar | BusinessCalendar | None], default_time_zone: str = "UTC") -> Lookup:
    """Calendars by name from `fetch`, the built-in default when none is saved; raises CalendarError for others."""
    cache: dict[str, WorkingCalendar] = {}

    def find(name: str | None) -> WorkingCalendar:
        key = name or DEFAULT
        if key not in cache:
            found = fetch(key) or (default_calendar(default_time_zone) if key == DEFAULT else None)
            if found is None:
                raise CalendarError(f"there is no business calendar named {key!r}")
            cache[key] = to_working(found) if isinstance(found, BusinessCalendar) else found
        return cache[key]

    return find


def known_names(session: Session) -> set[str]:
    """Names of every calendar a definition may use (the default always)."""
    return {DEFAULT, *session.scalars(select(BusinessCalendar.name))}


def list_calendars(ctx: EngineContext, actor: Actor) -> list[CalendarView]:
    """Every calendar by name, the default first."""
    require(actor, "definition.read")
    with ctx.uow(write=False) as uow:
        rows = [
            CalendarView.of(r) for r in uow.session.scalars(select(BusinessCalendar).order_by(BusinessCalendar.name))
        ]
    if not any(r.name == DEFAULT for r in rows):
        rows.insert(0, _builtin(ctx))
    return sorted(rows, key=lambda r: (r.name != DEFAULT, r.name.lower()))


def get_calendar(ctx: EngineContext, actor: Actor, name: str) -> CalendarView:
    """One calendar; raises NotFound."""
    require(actor, "definition.read")
    with ctx.uow(write=False) as uow:
        row = _find(uow.session, name)
        if row is not None:
            return CalendarView.of(row)
    if name == DEFAULT:
        return _builtin(ctx)
    raise NotFound(f"there is no business calendar named {name!r}")


def _builtin(ctx: EngineContext) -> CalendarView:
    return CalendarView(None, DEFAULT, ctx.settings.default_timezone or "UTC", dict(DEFAULT_HOURS), [], None)


def _find(session: Session, name: str) -> BusinessCalendar | None:
    return session.scalars(select(BusinessCalendar).where(BusinessCalendar.name == name)).first()


def save_calendar(
    ctx: EngineContext,
    actor: Actor,
    name: str,
    time_zone: str,
    hours: dict[str, str],
    *,
    new: bool = False,
) -> CalendarView:
    """Create (`new`) or update a calendar's time zone and working hours; raises InvalidInput, Conflict."""
    require(actor, "calendar.manage")
    name = " ".join((name or "").split())
    errors: dict[str, str] = {}
    if not NAME.match(name):
        errors["name"] = "Use 1-80 letters, digits, spaces, '.', '_' or '-'."
    try:
        check_zone((time_zone or "").strip())
    except CalendarError as err:
        errors["time_zone"] = str(err)
    cleaned = {d: (hours.get(d) or "").strip() for d in WEEKDAYS}
    try:
        parsed = parse_hours(cleaned)
        if not any(parsed.values()):
            errors["hours"] = "At least one weekday needs working hours."
        cleaned = {d: format_hours(parsed[d]) for d in WEEKDAYS}
    except CalendarError as err:
        errors[f"hours_{str(err)[:3]}"] = str(err)
    if errors:
        raise InvalidInput("the calendar is not valid", {"fields": errors})
    now = ctx.clock.now()
    with ctx.uow() as uow:
        row = _find(uow.session, name)
        if new and row is not None:
            raise Conflict(f"calendar {name!r} exists already", {"fields": {"name": "This name is taken."}})
        if row is None and not new and name != DEFAULT:
            raise NotFound(f"there is no business calendar named {name!r}")
        if row is None:
            row = BusinessCalendar(name=name, holidays=[], created_at=now)
            uow.session.add(row)
        row.time_zone, row.hours, row.updated_at = time_zone.strip(), cleaned, now
        audit.record(
            uow.session,
            "calendar_saved",
            now,
            actor=actor.username,
            data={"calendar": name, "time_zone": row.time_zone, "hours": cleaned},
        )
        uow.session.flush()
        view = CalendarView.of(row)
        uow.commit()
    return view


def delete_calendar(ctx: EngineContext, actor: Actor, name: str) -> None:
    """Delete a calendar (the default returns to its built-in hours); raises NotFound."""
    require(actor, "calendar.manage")
    with ctx.uow() as uow:
        row = _find(uow.session, name)
        if row is None:
            raise NotFound(f"there is no business calendar named {name!r}")
        uow.session.delete(row)
        audit.record(uow.session, "calendar_deleted", ctx.clock.now(), actor=actor.username, data={"calendar": name})
        uow.commit()


def set_holidays(
    ctx: EngineContext,
    actor: Actor,
    name: str,
    add: list[Holiday] | None = None,
    remove: list[date] | None = None,
    source: str = "manual",
) -> CalendarView:
    """Add (or rename) and remove holidays of a saved calendar; raises NotFound, InvalidInput."""
    require(actor, "calendar.manage")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        row = _saved(ctx, uow.session, name, now)
        days = {h["date"]: h.get("name", "") for h in row.holidays}
        for day in remove or []:
            days.pop(day.isoformat(), None)
        for holiday in add or []:
            days[holiday.day.isoformat()] = holiday.name[:200]
        if len(days) > HOLIDAYS_MAX:
            raise InvalidInput(
                f"a calendar holds at most {HOLIDAYS_MAX} holidays",
                {"fields": {"holidays": f"At most {HOLIDAYS_MAX} holidays."}},
            )
        row.holidays = [{"date": d, "name": days[d]} for d in sorted(days)]
        row.updated_at = now
        audit.record(
            uow.session,
            "calendar_holidays_changed",
            now,
            actor=actor.username,
            data={
                "calendar": row.name,
                "source": source,
                "added": [h.day.isoformat() for h in add or []],
                "removed": [d.isoformat() for d in remove or []],
            },
        )
        uow.session.flush()
        view = CalendarView.of(row)
        uow.commit()
    return view


def _saved(ctx: EngineContext, session: Session, name: str, now: datetime) -> BusinessCalendar:
    """The calendar row; the built-in default is saved on its first change."""
    row = _find(session, name)
    if row is None and name == DEFAULT:
        row = BusinessCalendar(
            name=DEFAULT,
            time_zone=ctx.settings.default_timezone or "UTC",
            hours=dict(DEFAULT_HOURS),
            holidays=[],
            created_at=now,
            updated_at=now,
        )
        session.add(row)
    if row is None:
        raise NotFound(f"there is no business calendar named {name!r}")
    return row


def holidays_from_ics(content: bytes) -> list[Holiday]:
    """All-day (and timed) events of an iCalendar file as holidays, recurrences expanded for their
    first 10 years; raises InvalidInput naming the problem."""
    from icalendar import Calendar

    try:
        cal = Calendar.from_ical(content)
    except (ValueError, IndexError, KeyError) as err:
        raise InvalidInput(f"not an iCalendar file: {err}", {"fields": {"file": "Not a valid .ics file."}}) from err
    found: dict[date, str] = {}
    for event in cal.walk("VEVENT"):
        start = event.get("DTSTART")
        if start is None:
            continue
        first = start.dt.date() if isinstance(start.dt, datetime) else start.dt
        end_prop = event.get("DTEND")
        last = first
        if end_prop is not None:
            end = end_prop.dt.date() if isinstance(end_prop.dt, datetime) else end_prop.dt - timedelta(days=1)
            last = max(first, end)
        name = str(event.get("SUMMARY") or "Holiday")
        for start_day in _occurrences(event, first):
            span = (last - first).days
            for i in range(min(span, 31) + 1):
                found.setdefault(start_day + timedelta(days=i), name)
    if not found:
        raise InvalidInput("the file has no events", {"fields": {"file": "No events (VEVENT) found."}})
    return [Holiday(d, n) for d, n in sorted(found.items())]


def _occurrences(event: Any, first: date) -> list[date]:
    rule = event.get("RRULE")
    if rule is None:
        return [first]
    from dateutil.rrule import rrulestr

    text = rule.to_ical().decode()
    until = (
        first.replace(year=first.year + 10)
        if not (first.month == 2 and first.day == 29)
        else first.replace(year=first.year + 10, day=28)
    )
    rr = rrulestr(text, dtstart=datetime.combine(first, time(0)), ignoretz=True)
    return [d.date() for d in rr.between(datetime.combine(first, time(0)), datetime.combine(until, time(0)), inc=True)]


def import_ics(ctx: EngineContext, actor: Actor, name: str, content: bytes) -> int:
    """Add the events of an iCalendar file to a calendar's holidays; returns how many; raises InvalidInput."""
    require(actor, "calendar.manage")
    if len(content) > ctx.settings.max_upload_bytes:
        raise InvalidInput("the file is too large", {"fields": {"file": "The file is too large."}})
    holidays = holidays_from_ics(content)
    set_holidays(ctx, actor, name, add=holidays, source="ics")
    return len(holidays)


def calendar_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(BusinessCalendar)) or 0
