"""Confirming the coming visits by phone, and reading arrivals at a glance: pure rules.

The call outcomes and their names, the confirmation settings (``[confirmations]`` in
clinic.toml, parsed here with errors naming the key), which day the list is for, whether a list
is all done, the checklist items a session type asks for, and the arrival state of a block on
the day view (arrived, late after a grace period, no-show candidate).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ketadesk.scheduling.catalog import ConfigError
from ketadesk.scheduling.statuses import ATTENDED_STATUSES

#: A call's outcomes, as the desk records them; the last attempt is the row's status.
#: ``rescheduled``: the patient, on the phone, asked for another time and the visit was moved
#: then (the list's Move…), the new time told: the visit is confirmed at it.
RESCHEDULED = "rescheduled"
CALL_OUTCOMES = ("confirmed", "left_message", "no_answer", "cancelled", RESCHEDULED)
#: A row with no attempt yet.  A message left or no answer has had its call: the list counts it
#: as worked (the desk may still try again).
NOT_CALLED = "not_called"
#: A visit a closure moved whose schedule-change call is still owed: the one call to make tells
#: the new time and confirms it (a user trial's desk made two calls to say one thing).  It
#: counts as still to call, as ``not_called`` does.
MOVED = "moved"
#: A row in one of these still has its call to make.
TO_CALL = frozenset({NOT_CALLED, MOVED})
OUTCOME_NAMES = {
    NOT_CALLED: "Not yet called",
    MOVED: "Moved: tell the new time",
    "confirmed": "Confirmed",
    "left_message": "Left a message",
    "no_answer": "No answer",
    "cancelled": "Cancelled",
    RESCHEDULED: "Rescheduled",
}

#: The arrival states a block on the day view may show (None: nothing to say yet); a patient
#: checked in and waiting past ``not_started_by`` is "not started", an overrun.
ARRIVED, LATE, NO_SHOW_CANDIDATE = "arrived", "late", "no_show_candidate"
NOT_STARTED = "not_started"
ARRIVAL_NAMES = {
    ARRIVED: "Arrived",
    LATE: "Late",
    NO_SHOW_CANDIDATE: "No-show?",
    NOT_STARTED: "Not started",
}

# The defaults of resources/config/clinic.toml [confirmations], for a clinic stored before the
# section existed.
CONFIRMATION_DEFAULTS: Mapping[str, Any] = {
    "days_ahead": 0,
    "late_grace_minutes": 10,
    "no_show_minutes": 30,
    "not_started_minutes": 30,
    "items": {
        "driver_confirmed": "Ride home",
        "fasting_confirmed": "Fasting",
        "nasal_spray_instructions": "Nasal spray",
    },
    "checklist": {
        "iv_infusion": ["driver_confirmed", "fasting_confirmed"],
        "spravato": ["driver_confirmed", "fasting_confirmed", "nasal_spray_instructions"],
        "im_ketamine": ["driver_confirmed"],
        "kap": ["driver_confirmed"],
    },
}
#: The checklist item that carries the ride's phone and pickup time.
RIDE_ITEM = "driver_confirmed"


@dataclass(frozen=True, slots=True)
class ConfirmationSettings:
    """``days_ahead``: the list's default day, that many days after today (0: the clinic's
    next open day); a booked patient is late ``late_grace_minutes`` after the start and a
    no-show candidate ``no_show_minutes`` after it; a patient checked in and not started is an
    overrun ``not_started_minutes`` after the planned start (at the planned end at the latest);
    ``items`` names each checklist item and ``checklist`` lists the items per session type
    code."""

    days_ahead: int = 0
    late_grace_minutes: int = 10
    no_show_minutes: int = 30
    not_started_minutes: int = 30
    items: Mapping[str, str] = field(default_factory=dict)
    checklist: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def items_for(self, session_type: str) -> tuple[str, ...]:
        return self.checklist.get(session_type, ())


def _minutes(data: Mapping[str, Any], key: str, source: str) -> int:
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(
            f"{source}: confirmations.{key}: must be a whole number >= 0, got {value!r}"
        )
    return value


def parse_confirmation_settings(
    given: Mapping[str, Any] | None, source: str = "clinic.toml"
) -> ConfirmationSettings:
    """``[confirmations]`` over its defaults; a mistake names its key."""
    data = {**CONFIRMATION_DEFAULTS, **(given or {})}
    items = data["items"]
    if not isinstance(items, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in items.items()
    ):
        raise ConfigError(f"{source}: [confirmations] items must map a key to a name")
    checklist = data["checklist"]
    if not isinstance(checklist, Mapping):
        raise ConfigError(f"{source}: [confirmations] checklist must map session types to items")
    parsed: dict[str, tuple[str, ...]] = {}
    for code, keys in checklist.items():
        if not isinstance(keys, list) or any(k not in items for k in keys):
            raise ConfigError(
                f"{source}: [confirmations.checklist] {code} must list items of "
                f"[confirmations.items] ({', '.join(items)})"
            )
        parsed[code] = tuple(keys)
    late = _minutes(data, "late_grace_minutes", source)
    no_show = _minutes(data, "no_show_minutes", source)
    if no_show < late:
        raise ConfigError(
            f"{source}: confirmations.no_show_minutes: must not be before "
            f"late_grace_minutes ({late}), got {no_show}"
        )
    return ConfirmationSettings(
        days_ahead=_minutes(data, "days_ahead", source),
        late_grace_minutes=late,
        no_show_minutes=no_show,
        not_started_minutes=_minutes(data, "not_started_minutes", source),
        items=dict(items),
        checklist=parsed,
    )


def confirmation_day(
    today: dt.date,
    days_ahead: int,
    is_open: Callable[[dt.date], bool],
    *,
    search_days: int = 366,
) -> dt.date:
    """The day a confirmation list is for: ``days_ahead`` days after ``today``, or the clinic's
    next open day after today when ``days_ahead`` is 0."""
    if days_ahead > 0:
        return today + dt.timedelta(days=days_ahead)
    day = today + dt.timedelta(days=1)
    for _ in range(search_days):
        if is_open(day):
            return day
        day += dt.timedelta(days=1)
    return today + dt.timedelta(days=1)


def confirmation_status(
    outcomes: Sequence[tuple[dt.datetime, str]], moved_at: dt.datetime | None
) -> str:
    """A row's status from its calls (time, outcome; oldest first): the latest call's outcome,
    ``not_called`` before the first.  A visit moved by a closure with its schedule-change call
    still owed (``moved_at``, the move) is ``moved`` until a call after the move: a call
    before it confirmed a time the visit no longer has."""
    if moved_at is not None:
        since = [outcome for at, outcome in outcomes if at >= moved_at]
        return since[-1] if since else MOVED
    return outcomes[-1][1] if outcomes else NOT_CALLED


def all_done(statuses: Iterable[str]) -> bool:
    """Every row of the list has had its call (there may be no row at all)."""
    return all(s not in TO_CALL for s in statuses)


def calls_progress(statuses: Iterable[str]) -> str:
    """Where a list of calls stands, in words: "no calls due" when it has no row (nothing to
    call is not the same as everything called), "3 visits, all called", "3 visits, 1 to call"."""
    listed = list(statuses)
    if not listed:
        return "no calls due"
    visits = f"{len(listed)} visit{'' if len(listed) == 1 else 's'}"
    left = sum(1 for s in listed if s in TO_CALL)
    if not left:
        return f"{visits}, {'called' if len(listed) == 1 else 'all called'}"
    return f"{visits}, {left} to call"


def not_started_by(start: dt.datetime, end: dt.datetime, not_started_minutes: int) -> dt.datetime:
    """When a patient checked in and still waiting for their session to start becomes an
    overrun: ``not_started_minutes`` after the planned start ([confirmations]), at the planned
    end at the latest (a user trial: a patient checked in and never started passed their
    planned end with nothing on the board)."""
    return min(start + dt.timedelta(minutes=not_started_minutes), end)


def not_started_overrun(
    status: str, start: dt.datetime, end: dt.datetime, now: dt.datetime, not_started_minutes: int
) -> bool:
    """A session checked in and not started at ``now``, past ``not_started_by``."""
    return status == "checked_in" and now >= not_started_by(start, end, not_started_minutes)


def arrival_state(
    status: str,
    start: dt.datetime,
    now: dt.datetime,
    grace_minutes: int,
    no_show_minutes: int,
    *,
    end: dt.datetime | None = None,
    not_started_minutes: int | None = None,
) -> str | None:
    """What a block on the day view says about the patient's arrival: ``arrived`` once checked
    in (or further on), ``late`` when still booked ``grace_minutes`` after the start, a
    ``no_show_candidate`` ``no_show_minutes`` after it; ``not_started`` when checked in and
    still not started past ``not_started_by`` (given the planned ``end`` and the minutes);
    None when there is nothing to say (not due yet, or cancelled, or already marked a
    no-show)."""
    if (
        end is not None
        and not_started_minutes is not None
        and not_started_overrun(status, start, end, now, not_started_minutes)
    ):
        return NOT_STARTED
    if status in ATTENDED_STATUSES:
        return ARRIVED
    if status != "booked":
        return None
    waited = now - start
    if waited >= dt.timedelta(minutes=no_show_minutes):
        return NO_SHOW_CANDIDATE
    if waited >= dt.timedelta(minutes=grace_minutes):
        return LATE
    return None
