"""A patient's days away ("travelling for work the week of the 14th"): date ranges, each with a
short reason, kept on the patient's record and respected at every step that places a session.

One rule, asked by the planner (a day away is a day the patient is taken), single booking and
"next available" (skipped), the rules engine (``protocol_rules.PATIENT_AWAY``: a booking or a
move onto a day away is a warning the desk overrides with a reason), and a closure's
consequences (never re-planned onto a day away).  Pure: plain dates in, words out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.dates import date_range, parse_us_date, short_date

#: The rule's code (``protocol_rules.PATIENT_AWAY``), also the key of an override on record:
#: here so the day's first paint reads it without importing the rules engine.
AWAY_RULE = "patient_away"

#: How long a reason may be (the stored column's length).
REASON_LENGTH = 120


@dataclass(frozen=True, slots=True)
class AwayRange:
    """Days the patient is away, ``first`` to ``last`` inclusive (local dates; one day when
    they are equal), and why ("travel", "work", ...).

    Attributes:
        first: the first day away.
        last: the last day away (inclusive).
        reason: why, in the desk's words ("" when none was given).
        key: the stored row's id (None for a range not stored yet).
    """

    first: dt.date
    last: dt.date
    reason: str = ""
    key: int | None = None

    def covers(self, day: dt.date) -> bool:
        return self.first <= day <= self.last

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def span(self) -> str:
        """ "Mon Dec 14" for one day, else "Dec 14 – 18, 2026"."""
        if self.first == self.last:
            return short_date(self.first, year=True)
        return date_range(self.first, self.last)

    @property
    def words(self) -> str:
        """ "Dec 14 – 18, 2026 (travel)": the range and its reason, as the desk reads it."""
        return f"{self.span} ({self.reason})" if self.reason else self.span

    def overlaps(self, first: dt.date, last: dt.date) -> bool:
        return self.first <= last and first <= self.last


def away_on(ranges: Iterable[AwayRange], day: dt.date) -> AwayRange | None:
    """The range that makes ``day`` a day away (the first one stored, when ranges overlap);
    None: the patient is not away that day."""
    for r in sorted(ranges, key=lambda r: (r.first, r.last)):
        if r.covers(day):
            return r
    return None


def away_flagged(
    ranges: Iterable[AwayRange], day: dt.date, *, kept_by_override: bool
) -> AwayRange | None:
    """The days away a session on ``day`` is flagged for (a call owed to move it): the range
    holding the day, unless the session was kept there with an override on record (a reason
    given when it was booked or moved there: decided, not a call owed).  The one rule every
    place that flags such a session asks: the day and week views, the day sheet, the
    appointment card, the session's page and ``ketadesk check``."""
    return None if kept_by_override else away_on(ranges, day)


def away_reason(ranges: Iterable[AwayRange], day: dt.date) -> str:
    """Why ``day`` is a day away, in words ("the patient is away Dec 14 – 18, 2026 (travel)");
    "" when it is not."""
    found = away_on(ranges, day)
    return f"the patient is away {found.words}" if found is not None else ""


def first_day_back(ranges: Iterable[AwayRange], day: dt.date) -> dt.date:
    """``day`` when the patient is not away then, else the first day after the days away
    that hold it (ranges that meet or overlap are passed together): where a proposed move
    starts looking, so it never offers a day the patient is away."""
    ordered = sorted(ranges, key=lambda r: (r.first, r.last))
    moved = True
    while moved:
        moved = False
        for r in ordered:
            if r.covers(day):
                day = r.last + dt.timedelta(days=1)
                moved = True
    return day


def away_days(ranges: Iterable[AwayRange], first: dt.date, last: dt.date) -> set[dt.date]:
    """Every day from ``first`` to ``last`` (inclusive) on which the patient is away."""
    out: set[dt.date] = set()
    for r in ranges:
        day = max(r.first, first)
        while day <= min(r.last, last):
            out.add(day)
            day += dt.timedelta(days=1)
    return out


def away_spans(
    ranges: Iterable[AwayRange], calendar: ClinicCalendar, window: Interval | None = None
) -> list[Interval]:
    """The ranges as instants (local midnight to the midnight after the last day), the way the
    planner and the openings search take a patient's busy times; only those meeting
    ``window`` when one is given."""
    out: list[Interval] = []
    for r in sorted(ranges, key=lambda r: (r.first, r.last)):
        span = Interval(
            calendar.at_local(r.first, 0), calendar.at_local(r.last + dt.timedelta(days=1), 0)
        )
        if window is None or (span.start < window.end and window.start < span.end):
            out.append(span)
    return out


def upcoming_first(ranges: Sequence[AwayRange], today: dt.date) -> list[AwayRange]:
    """The ranges as the record lists them: those not over yet first (soonest first), then the
    past ones, the latest first, as history."""
    coming = sorted((r for r in ranges if r.last >= today), key=lambda r: (r.first, r.last))
    past = sorted((r for r in ranges if r.last < today), key=lambda r: (r.last, r.first))
    return [*coming, *reversed(past)]


def range_problem(first: dt.date | None, last: dt.date | None, reason: str) -> str:
    """What is wrong with a range as typed, in words ("" when nothing is)."""
    if first is None:
        return "the first day away is missing"
    if last is None:
        return "the last day away is missing"
    if last < first:
        return (
            f"the last day away ({short_date(last, year=True)}) is before the first "
            f"({short_date(first, year=True)})"
        )
    if len(reason.strip()) > REASON_LENGTH:
        return f"the reason is longer than {REASON_LENGTH} characters"
    return ""


def read_day(text: str, what: str, *, default_year: int | None = None) -> dt.date:
    """A day typed at the command line or in a form, month first (12/14/2026, 2026-12-14,
    Dec 14); ``ValueError`` naming ``what`` and the text when it is no date."""
    text = text.strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    day = parse_us_date(text, default_year=default_year)
    if day is None:
        raise ValueError(f"{what} {text!r} is not a date (month first: 12/14/2026, or 2026-12-14)")
    return day
