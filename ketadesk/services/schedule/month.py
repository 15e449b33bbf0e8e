"""The days of a month the whole clinic is closed, for the month calendar beside the schedule
(a user trial: Christmas Day was drawn like any other day there, only the week view said it was
closed)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ketadesk.scheduling.calendar import Interval, local_instant
from ketadesk.services.schedule.public_holidays import CachedHolidaysCalendar
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.reference import Revision, reference_revision
from ketadesk.store.snapshot import load_closures


@dataclass(frozen=True, slots=True)
class ClosedDay:
    """A day the clinic does not open: a public holiday it closes for, or a whole-day
    closure (snow, training), with the reason in words ("Christmas Day")."""

    day: dt.date
    reason: str


@dataclass(frozen=True, slots=True)
class ClosedMonth:
    """The closed days from ``first`` to ``last``, as read at ``revision`` of the clinic's
    reference rows (None: read without one, never taken as still current)."""

    first: dt.date
    last: dt.date
    revision: Revision | None
    days: tuple[ClosedDay, ...]


def closed_days(db: Database, first: dt.date, last: dt.date) -> tuple[ClosedDay, ...]:
    """The days from ``first`` to ``last`` the clinic is closed all day for a holiday or a
    closure, in order.  The days it never opens (its weekly pattern: weekends, say) are left
    out: the calendar shows those already."""
    return closed_month(db, first, last).days


def closed_month(
    db: Database, first: dt.date, last: dt.date, known: ClosedMonth | None = None
) -> ClosedMonth:
    """``closed_days`` with the revision it was read at.  ``known`` (the last answer) is given
    back as it is when it is of the same days and the reference revision has not moved since:
    the holidays the clinic closes on (its ``[clinic]`` settings) and the closures are rows
    whose every change moves it (migration 0019), so a booking, a move or a call anywhere
    leaves it, and the month, alone."""
    with db.read() as session:
        revision = reference_revision(session)
        if (
            known is not None
            and revision is not None
            and known.revision == revision
            and (known.first, known.last) == (first, last)
        ):
            return known
        if last < first:
            return ClosedMonth(first, last, revision, ())
        catalog = load_catalog(session)
        zone = ZoneInfo(catalog.settings.timezone)
        window = Interval(
            local_instant(zone, first, 0), local_instant(zone, last + dt.timedelta(days=1), 0)
        )
        closures = load_closures(session, window, (), timezone=catalog.settings.timezone)
    calendar = CachedHolidaysCalendar(catalog.settings, closures=closures)
    found: list[ClosedDay] = []
    day = first
    while day <= last:
        if calendar.opening_hours(day) is not None:
            reason = calendar.closed_reason(day)
            if reason:
                words = reason.removeprefix("clinic closed: ").removeprefix("clinic closed")
                found.append(ClosedDay(day, (words or "closure").strip()))
        day += dt.timedelta(days=1)
    return ClosedMonth(first, last, revision, tuple(found))
