"""The days of a month the whole clinic is closed, for the month calendar beside the schedule
(a user trial: Christmas Day was drawn like any other day there, only the week view said it was
closed)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ketadesk.scheduling.calendar import Interval
from ketadesk.services.schedule.public_holidays import CachedHolidaysCalendar
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.snapshot import load_closures


@dataclass(frozen=True, slots=True)
class ClosedDay:
    """A day the clinic does not open: a public holiday it closes for, or a whole-day
    closure (snow, training), with the reason in words ("Christmas Day")."""

    day: dt.date
    reason: str


def closed_days(db: Database, first: dt.date, last: dt.date) -> tuple[ClosedDay, ...]:
    """The days from ``first`` to ``last`` the clinic is closed all day for a holiday or a
    closure, in order.  The days it never opens (its weekly pattern: weekends, say) are left
    out: the calendar shows those already."""
    if last < first:
        return ()
    with db.read() as session:
        catalog = load_catalog(session)
        bare = CachedHolidaysCalendar(catalog.settings)
        window = Interval(bare.day_bounds(first).start, bare.day_bounds(last).end)
        closures = tuple(c for c in load_closures(session, window, None) if c.resource_id is None)
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
    return tuple(found)
