"""The clinic's days, opening hours, closures and shifts as the integrity check asks about them,
each answer worked out once: holds start and end on the booking grid, so the same few instants
and days come up hundreds of thousands of times in a five-year history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval
from ketadesk.scheduling.closure_repeats import expand
from ketadesk.scheduling.dates import clock_span, short_date, short_date_time
from ketadesk.services.clinic.integrity_report import ProblemCode
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Closure
from ketadesk.store.snapshot import load_shifts


class _Day(NamedTuple):
    """A local day of the clinic: why it is closed, or its opening hours as UTC instants."""

    closed: str | None
    opening: tuple[tuple[dt.datetime, dt.datetime], ...]
    hours: str  # the opening hours as the clinic reads them ("07:30-18:00")


class ClinicDays:
    """The clinic's calendar with the closures that matter to one run of the check."""

    def __init__(self, calendar: ClinicCalendar, closures: Sequence[ClosureSpan]) -> None:
        self.calendar = calendar
        self._day_cache: dict[dt.date, _Day] = {}
        self._shift_cache: dict[tuple[int, dt.date], list[Interval]] = {}
        self._closures_by_day: dict[tuple[int | None, dt.date], list[ClosureSpan]] = {}
        self._closed_resources: set[int | None] = set()
        self._local_dates: dict[dt.datetime, dt.date] = {}
        self._midnights: dict[dt.date, dt.datetime] = {}
        for c in closures:
            day = calendar.local_date(c.span.start)
            last = calendar.local_date(c.span.end)
            self._closed_resources.add(c.resource_id)
            while day <= last:
                self._closures_by_day.setdefault((c.resource_id, day), []).append(c)
                day += dt.timedelta(days=1)

    @classmethod
    def load(cls, session: Session, reach: Interval | None) -> ClinicDays:
        """The stored calendar, with the closures that touch ``reach`` (all when None)."""
        catalog = load_catalog(session)
        stmt = select(Closure)
        if reach is not None:
            stmt = stmt.where(Closure.starts_at < reach.end, Closure.ends_at > reach.start)
        zone = ZoneInfo(catalog.settings.timezone)
        closures = [
            occurrence
            for c in session.scalars(stmt)
            for occurrence in expand(
                ClosureSpan(
                    span=Interval(c.starts_at, c.ends_at),
                    reason=c.reason,
                    kind=c.kind,
                    resource_id=c.resource_id,
                ),
                c.repeat_rule,
                zone,
                reach,
            )
        ]
        calendar = ClinicCalendar(
            settings=catalog.settings,
            closures=tuple(closures),
            shifts=tuple(load_shifts(session)),
        )
        return cls(calendar, closures)

    def _day(self, day: dt.date) -> _Day:
        info = self._day_cache.get(day)
        if info is None:
            opening = self.calendar.open_intervals(day)
            info = _Day(
                closed=self.calendar.closed_reason(day),
                opening=tuple((iv.start, iv.end) for iv in opening),
                hours=", ".join(self.clock_span(iv) for iv in opening),
            )
            self._day_cache[day] = info
        return info

    def local_date(self, instant: dt.datetime) -> dt.date:
        day = self._local_dates.get(instant)
        if day is None:
            day = self._local_dates[instant] = self.calendar.local_date(instant)
        return day

    def closures(
        self, resource_id: int | None, starts: dt.datetime, ends: dt.datetime
    ) -> list[ClosureSpan]:
        """The closures of the clinic (None) or of a resource that overlap [starts, ends)."""
        if resource_id not in self._closed_resources:
            return []
        found: list[ClosureSpan] = []
        day = self.local_date(starts)
        last = self.local_date(ends)
        while day <= last:
            for c in self._closures_by_day.get((resource_id, day), ()):
                if c.span.start < ends and starts < c.span.end and c not in found:
                    found.append(c)
            day += dt.timedelta(days=1)
        return found

    def next_midnight(self, day: dt.date) -> dt.datetime:
        """The instant the local day after ``day`` begins."""
        midnight = self._midnights.get(day)
        if midnight is None:
            midnight = self._midnights[day] = self.calendar.day_bounds(day).end
        return midnight

    def clinic_unavailable(
        self, starts: dt.datetime, ends: dt.datetime
    ) -> tuple[ProblemCode, str] | None:
        """Why the clinic cannot host [starts, ends) at all, or None when it is open throughout."""
        day = self._day(self.local_date(starts))
        if day.closed:
            return ProblemCode.CLOSED, day.closed
        for c in self.closures(None, starts, ends):
            reason = f"clinic closed: {c.reason}" if c.reason else "clinic closed"
            return ProblemCode.CLOSED, reason
        if not any(opens <= starts and ends <= closes for opens, closes in day.opening):
            return ProblemCode.OUTSIDE_HOURS, f"outside opening hours ({day.hours})"
        return None

    def shifts(self, resource_id: int, day: dt.date) -> list[Interval]:
        """A staff member's shifts on a local day, touching ones joined."""
        key = (resource_id, day)
        shifts = self._shift_cache.get(key)
        if shifts is None:
            shifts = _merge(self.calendar.shift_intervals(resource_id, day))
            self._shift_cache[key] = shifts
        return shifts

    # -- in words, local to the clinic ----------------------------------------------------------

    def when(self, span: Interval) -> str:
        """``Tue Mar 3, 2026 9:30–10:40 AM`` (month first, as the desk reads dates; the time
        in the clinic's format)."""
        start = self.calendar.local(span.start)
        end = self.calendar.local(span.end)
        fmt = self.calendar.settings.time_format
        if end.date() == start.date():
            return f"{short_date(start, year=True)} {clock_span(start, end, fmt)}"
        return f"{short_date_time(start, fmt, year=True)} to {short_date_time(end, fmt, year=True)}"

    def day_label(self, instant: dt.datetime) -> str:
        return short_date(self.calendar.local(instant), year=True)

    def clock_span(self, span: Interval) -> str:
        start, end = self.calendar.local(span.start), self.calendar.local(span.end)
        return clock_span(start, end, self.calendar.settings.time_format)


def _merge(intervals: Sequence[Interval]) -> list[Interval]:
    """Touching or overlapping intervals joined (a shift 08-12 then 12-16 is one 08-16)."""
    merged: list[Interval] = []
    for iv in sorted(intervals):
        if merged and iv.start <= merged[-1].end:
            if iv.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, iv.end)
        else:
            merged.append(iv)
    return merged
