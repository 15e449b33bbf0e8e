"""The clinic calendar: local wall-clock time, opening hours, holidays, closures and shifts.

All instants are aware datetimes in UTC; days and times of day are the clinic's local ones.  A
10:00 session stays at 10:00 local across a daylight-saving change because every instant is built
from a local date and time through ``at_local``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo

from ketadesk.scheduling.catalog import WEEKDAYS, ClinicSettings
from ketadesk.scheduling.dates import clock

UTC = dt.UTC


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """A half-open stretch of time [start, end) between two aware instants."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Interval needs aware datetimes")

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end


def subtract(intervals: Iterable[Interval], cuts: Iterable[Interval]) -> list[Interval]:
    """The parts of ``intervals`` not covered by any of ``cuts`` (both need not be sorted)."""
    result = sorted(intervals)
    for cut in sorted(cuts):
        next_result: list[Interval] = []
        for iv in result:
            if not iv.overlaps(cut):
                next_result.append(iv)
                continue
            if iv.start < cut.start:
                next_result.append(Interval(iv.start, cut.start))
            if cut.end < iv.end:
                next_result.append(Interval(cut.end, iv.end))
        result = next_result
    return result


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for x in a:
        for y in b:
            start, end = max(x.start, y.start), min(x.end, y.end)
            if start < end:
                out.append(Interval(start, end))
    return sorted(out)


def local_instant(tz: ZoneInfo, day: dt.date, minute_of_day: int) -> dt.datetime:
    """The UTC instant of a wall-clock time in ``tz`` (``minute_of_day`` may pass 1440: the
    next day's); a time skipped by DST moves forward."""
    naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute_of_day)
    local = naive.replace(tzinfo=tz)
    back = local.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != naive:  # in the spring-forward gap
        local = (naive + dt.timedelta(hours=1)).replace(tzinfo=tz)
    return local.astimezone(UTC)


def covered(outer: Sequence[Interval], inner: Interval) -> bool:
    """Whether ``inner`` lies entirely inside one of ``outer`` (which must not overlap)."""
    return any(o.contains(inner) for o in outer)


@dataclass(frozen=True, slots=True)
class ShiftPattern:
    """A staff member's weekly working hours (weekday 0 = Monday), local minutes of the day."""

    resource_id: int
    weekday: int
    start_minute: int
    end_minute: int
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    # Every n-th week, counted from the week (Monday to Sunday) that holds ``anchor``: a nurse
    # who works every other Friday has n = 2 and an anchor on one of her working weeks.
    every_n_weeks: int = 1
    anchor: dt.date | None = None

    def applies(self, day: dt.date) -> bool:
        return (
            day.weekday() == self.weekday
            and (self.valid_from is None or day >= self.valid_from)
            and (self.valid_until is None or day <= self.valid_until)
            and self.on_week(day)
        )

    def on_week(self, day: dt.date) -> bool:
        """Whether ``day`` falls in one of this pattern's working weeks."""
        if self.every_n_weeks <= 1:
            return True
        anchor = self.anchor or self.valid_from
        if anchor is None:
            return True
        weeks = ((day - dt.timedelta(days=day.weekday())) - anchor).days
        weeks += anchor.weekday()
        return (weeks // 7) % self.every_n_weeks == 0


@dataclass(frozen=True, slots=True)
class ClosureSpan:
    """The whole clinic (``resource_id`` None) or one resource unavailable for a while."""

    span: Interval
    reason: str
    kind: str = "closure"
    resource_id: int | None = None


@dataclass(frozen=True, slots=True)
class HeldResource:
    """A resource a booked session holds, as a closure notice names it: its name, the word
    for it being unavailable ("closed", "out of service", "away") and when it is held."""

    resource_id: int
    name: str
    word: str
    span: Interval


@dataclass(frozen=True, slots=True)
class ClosedSession:
    """A booked session whose place closed after it was booked: the clinic that day (a holiday,
    a closure, a weekday it no longer opens) or its room.  Such a session stays on the schedule
    until someone moves it (services/settings/consequences.py leaves the ones it cannot place),
    so every place that lists it says so with ``notice``."""

    what: str  # "Clinic", the room's name, or a held monitor's or staff member's
    reason: str  # "Christmas Day", "renovation", "closed on Sundays", "Sick (called in)"
    #: What the closure makes of ``what``: "closed" (the clinic, a room), "out of service" (a
    #: monitor), "away" (a staff member's time off).
    word: str = "closed"
    #: Whether the whole day is closed (the clinic or the room), not only the session's hours.
    whole_day: bool = True

    @property
    def notice(self) -> str:
        """ "Clinic closed on this day: reschedule" (or "Room 2 closed ...", "Maria Kim away
        then: reschedule")."""
        when = "on this day" if self.whole_day else "then"
        return f"{self.what} {self.word} {when}: reschedule"


@dataclass
class ClinicCalendar:
    """Answers "is the clinic (or this resource) available then?" for a window of days.

    Built from settings, the clinic's closures and staff shifts; holidays come from the
    ``holidays`` package for the configured country (loaded only when first needed).
    """

    settings: ClinicSettings
    closures: Sequence[ClosureSpan] = ()
    shifts: Sequence[ShiftPattern] = ()
    _holiday_cache: dict[int, dict[dt.date, str]] = field(default_factory=dict, repr=False)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @cached_property
    def _shifts_by_resource(self) -> dict[int, list[ShiftPattern]]:
        by: dict[int, list[ShiftPattern]] = {}
        for s in self.shifts:
            by.setdefault(s.resource_id, []).append(s)
        return by

    @cached_property
    def _clinic_closures(self) -> list[ClosureSpan]:
        return [c for c in self.closures if c.resource_id is None]

    @cached_property
    def _resource_closures(self) -> dict[int, list[ClosureSpan]]:
        by: dict[int, list[ClosureSpan]] = {}
        for c in self.closures:
            if c.resource_id is not None:
                by.setdefault(c.resource_id, []).append(c)
        return by

    # -- local time ---------------------------------------------------------------------------

    def at_local(self, day: dt.date, minute_of_day: int) -> dt.datetime:
        """The UTC instant of a local wall-clock time; a time skipped by DST moves forward."""
        return local_instant(self.tz, day, minute_of_day)

    def day_bounds(self, day: dt.date) -> Interval:
        """[local midnight, next local midnight) as UTC instants."""
        return Interval(self.at_local(day, 0), self.at_local(day + dt.timedelta(days=1), 0))

    def local(self, instant: dt.datetime) -> dt.datetime:
        return instant.astimezone(self.tz)

    def clock(self, instant: dt.datetime) -> str:
        """The clinic's time of day of ``instant`` in its own format ("9:30 AM")."""
        return clock(self.local(instant), self.settings.time_format)

    def local_date(self, instant: dt.datetime) -> dt.date:
        return instant.astimezone(self.tz).date()

    def minute_of_day(self, instant: dt.datetime) -> int:
        loc = instant.astimezone(self.tz)
        return loc.hour * 60 + loc.minute

    # -- holidays and closures ------------------------------------------------------------------

    def holiday(self, day: dt.date) -> str | None:
        country = self.settings.holiday_country
        if not country:
            return None
        year = self._holiday_cache.get(day.year)
        if year is None:
            import holidays

            subdiv = self.settings.holiday_subdivision or None
            year = dict(holidays.country_holidays(country, subdiv=subdiv, years=day.year).items())
            self._holiday_cache[day.year] = year
        name = year.get(day)
        return name if name and self.settings.closes_on_holiday(name) else None

    def opening_hours(self, day: dt.date) -> Interval | None:
        """Opening hours of a day by the weekly pattern, before holidays and closures."""
        hours = self.settings.hours.get(WEEKDAYS[day.weekday()])
        if hours is None:
            return None
        opens, closes = hours
        return Interval(
            self.at_local(day, opens.hour * 60 + opens.minute),
            self.at_local(day, closes.hour * 60 + closes.minute),
        )

    def closed_reason(self, day: dt.date) -> str | None:
        """Why the whole clinic is closed all day, or None when it opens at all."""
        name = self.holiday(day)
        if name:
            return f"clinic closed: {name}"
        hours = self.opening_hours(day)
        if hours is None:
            return f"clinic closed on {day.strftime('%A')}s"
        if not subtract([hours], [c.span for c in self._clinic_closures]):
            reason = next(c.reason for c in self._clinic_closures if c.span.overlaps(hours))
            return f"clinic closed: {reason}" if reason else "clinic closed"
        return None

    def session_closed(
        self,
        span: Interval,
        room_id: int | None = None,
        room_name: str = "",
        held: Iterable[HeldResource] = (),
    ) -> ClosedSession | None:
        """Whether a session booked over ``span`` (in ``room_id``) meets a closure: the clinic
        closed all day, a clinic closure overlapping it, one of its room's, or one of the other
        resources it holds (``held``: a monitor out of service, a nurse's time off, during its
        hold); None when open."""
        reason = self.closed_reason(self.local_date(span.start))
        if reason:
            return ClosedSession("Clinic", reason.removeprefix("clinic ").removeprefix("closed: "))
        for c in self._clinic_closures:
            if c.span.overlaps(span):
                return ClosedSession("Clinic", c.reason or c.kind.replace("_", " "))
        if room_id is not None:
            for c in self.resource_closures(room_id):
                if c.span.overlaps(span):
                    return ClosedSession(room_name or "Room", c.reason or c.kind.replace("_", " "))
        return next(iter(self.held_closures(held, skip=room_id)), None)

    def held_closures(
        self, held: Iterable[HeldResource], *, skip: int | None = None
    ) -> list[ClosedSession]:
        """The resources a session holds (other than ``skip``, its room) that a closure meets
        during their hold, one each, in the order given: "Monitor 1 out of service then",
        "Maria Kim away then".  A resource held twice (a nurse for the dose, then for the
        observation) is named once."""
        found: list[ClosedSession] = []
        seen: set[int] = {skip} if skip is not None else set()
        for h in held:
            if h.resource_id in seen:
                continue
            closure = next(
                (c for c in self.resource_closures(h.resource_id) if c.span.overlaps(h.span)),
                None,
            )
            if closure is not None:
                seen.add(h.resource_id)
                reason = closure.reason or closure.kind.replace("_", " ")
                found.append(ClosedSession(h.name, reason, h.word, whole_day=False))
        return found

    def open_intervals(self, day: dt.date) -> list[Interval]:
        """When the clinic is open on a local day (empty on holidays and closed days)."""
        hours = self.opening_hours(day)
        if hours is None or self.holiday(day):
            return []
        return subtract([hours], [c.span for c in self._clinic_closures])

    def resource_closures(self, resource_id: int) -> list[ClosureSpan]:
        return self._resource_closures.get(resource_id, [])

    def shift_intervals(self, resource_id: int, day: dt.date) -> list[Interval]:
        """A staff member's working hours on a local day, from the weekly pattern."""
        return sorted(
            Interval(self.at_local(day, s.start_minute), self.at_local(day, s.end_minute))
            for s in self._shifts_by_resource.get(resource_id, [])
            if s.applies(day)
        )

    def available_intervals(
        self, resource_id: int, day: dt.date, *, is_staff: bool
    ) -> list[Interval]:
        """When a resource can be held on a day: open hours (and shifts for staff) less closures."""
        base = self.open_intervals(day)
        if is_staff:
            base = intersect(base, self.shift_intervals(resource_id, day))
        return subtract(base, [c.span for c in self.resource_closures(resource_id)])

    def unavailable_reason(
        self, resource_id: int | None, span: Interval, *, is_staff: bool = False
    ) -> str | None:
        """Why ``span`` cannot be used (for a resource, or the clinic), or None if it can."""
        day = self.local_date(span.start)
        reason = self.closed_reason(day)
        if reason:
            return reason
        if not covered(self.open_intervals(day), span):
            return "outside opening hours"
        if resource_id is None:
            return None
        for c in self.resource_closures(resource_id):
            if c.span.overlaps(span):
                return c.reason or c.kind.replace("_", " ")
        if is_staff and not covered(self.shift_intervals(resource_id, day), span):
            return "not on shift"
        return None
