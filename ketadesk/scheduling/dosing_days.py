"""How many dosing sessions a patient may have on one day (``[clinic]
dosing_sessions_per_patient_day``), judged by one rule wherever it is asked: by the planner
(which days a new session may go on), by booking and every move (whether a plan may be
written), and by the drag check.

Only dosing sessions count, on both sides: a dosing session is refused on a day that already
holds the limit of the patient's doses, and a session that doses nothing (an integration or
psychotherapy session, an intake, a booster review) is never refused for a dosed day
(DOMAIN.md: the day's cap is about doses; a non-dosing session on a dosing day is normal, e.g. a
KAP program's preparation and integration around its dosing sessions).  Whether the patient is
free at the hour is another rule (no patient in two sessions at once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ketadesk.scheduling.calendar import ClinicCalendar, Interval

__all__ = ["CrowdedDay", "crowded_days", "days_closed_to_doses", "dosed_day_spans"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CrowdedDay(Generic[T]):
    """A day on which the patient would have more dosing sessions than the clinic allows."""

    day: dt.date
    count: int  # the dosing sessions the day would have, the plan's and the booked ones
    limit: int
    booked: tuple[T, ...]  # the patient's dosing sessions already on that day, as given


def crowded_days(
    planned: Iterable[tuple[dt.date, bool]],
    booked: Iterable[tuple[dt.date, bool, T]],
    limit: int,
) -> list[CrowdedDay[T]]:
    """The days on which the plan's dosing sessions and the patient's booked ones together
    exceed ``limit``, in date order.  ``planned``: (local day, doses) of each session placed;
    ``booked``: (local day, doses, what to name it by) of each of the patient's other live
    sessions.  Sessions that dose nothing are ignored on both sides."""
    doses: dict[dt.date, int] = {}
    for day, dosing in planned:
        if dosing:
            doses[day] = doses.get(day, 0) + 1
    already: dict[dt.date, list[T]] = {}
    for day, dosing, name in booked:
        if dosing and day in doses:
            already.setdefault(day, []).append(name)
    return [
        CrowdedDay(day, count + len(already.get(day, ())), limit, tuple(already.get(day, ())))
        for day, count in sorted(doses.items())
        if count + len(already.get(day, ())) > limit
    ]


def days_closed_to_doses(
    dosing: bool, booked: Iterable[tuple[dt.date, bool]], limit: int
) -> list[dt.date]:
    """The days a new session cannot go on for the dose it gives: none for a session that
    doses nothing; for a dosing one, the days already holding ``limit`` of the patient's doses
    (``crowded_days`` of one more dose there)."""
    if not dosing:
        return []
    booked = list(booked)
    days = sorted({day for day, doses in booked if doses})
    named = [(day, doses, None) for day, doses in booked]
    return [c.day for c in crowded_days(((d, True) for d in days), named, limit)]


def dosed_day_spans(
    calendar: ClinicCalendar, dosing: bool, booked: Iterable[tuple[dt.date, bool]]
) -> list[Interval]:
    """``days_closed_to_doses`` as whole local days (UTC instants), at the clinic's limit: what
    a planner adds to the patient's busy times for a session that doses (or not)."""
    limit = calendar.settings.dosing_sessions_per_patient_day
    return [calendar.day_bounds(day) for day in days_closed_to_doses(dosing, booked, limit)]
