"""When a status change opens for a session: a check-in or a start on the session's own
clinic-local day at the earliest (``[clinic] check_in_days_ahead`` days before it at most), a
no-show once the session's start has passed; and how long a session is late in words: a
patient checked in and not started counts from the planned start, a session running past its
planned end from that end.

One rule, asked by the service that writes the change
(``services/booking/appointment_changes.change_status``) and by the views that offer it (greyed
out, saying when it opens), so that a menu never offers what the desk would refuse.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ketadesk.scheduling.catalog import ClinicSettings
from ketadesk.scheduling.dates import WEEKDAY_ABBR, clock

__all__ = [
    "EARLIEST_ON_ITS_DAY",
    "ONCE_STARTED",
    "TooEarly",
    "minutes_not_started",
    "minutes_over",
    "not_started_forms",
    "not_started_words",
    "over_forms",
    "over_words",
    "room_busy_forms",
    "room_busy_words",
    "too_early",
]

#: Done on the session's own day (or ``check_in_days_ahead`` days earlier): a session is not
#: checked in or started a week ahead.
EARLIEST_ON_ITS_DAY = frozenset({"check_in", "start"})
#: Marked once the session has begun without the patient: earlier, a patient who called it
#: off is a cancellation, and a no-show days ahead would charge its fee at once.
ONCE_STARTED = frozenset({"no_show"})

_DONE = {"check_in": "checked in", "start": "started"}
_OPENS = {"check_in": "Check-in opens", "start": "Starting opens"}


@dataclass(frozen=True, slots=True)
class TooEarly:
    """A status change asked for before it opens.

    Attributes:
        action: "check_in", "start" or "no_show".
        opens: when it opens, aware, in the clinic's zone.
        refusal: the service's refusal, a clause ("the session of Thu 12/17 cannot be checked
            in before its own day (today is Mon 12/14)").
        hint: what a greyed menu item or button says ("Check-in opens on the day of the
            session (Thu 12/17)").
    """

    action: str
    opens: dt.datetime
    refusal: str
    hint: str


def too_early(
    action: str,
    start: dt.datetime,
    now: dt.datetime,
    *,
    timezone: str,
    check_in_days_ahead: int,
    time_format: str,
) -> TooEarly | None:
    """Why ``action`` cannot be taken yet on a session starting at ``start`` (aware), at
    ``now`` (aware); None when it may (as far as time goes: the status and the role decide
    the rest)."""
    zone = ZoneInfo(timezone)
    local_start = start.astimezone(zone)
    if action in EARLIEST_ON_ITS_DAY:
        its_day = local_start.date()
        today = now.astimezone(zone).date()
        first_day = its_day - dt.timedelta(days=check_in_days_ahead)
        if today >= first_day:
            return None
        ahead = check_in_days_ahead
        before = (
            "before its own day"
            if ahead == 0
            else f"more than {ahead} day{'s' if ahead != 1 else ''} before its day"
        )
        when = (
            "on the day of the session"
            if ahead == 0
            else f"{ahead} day{'s' if ahead != 1 else ''} before the session"
        )
        return TooEarly(
            action,
            dt.datetime.combine(first_day, dt.time(), zone),
            f"the session of {_day(its_day)} cannot be {_DONE[action]} {before} "
            f"(today is {_day(today)})",
            f"{_OPENS[action]} {when} ({_day(first_day)})",
        )
    if action in ONCE_STARTED:
        if now >= start:
            return None
        at = f"{_day(local_start.date())} at {clock(local_start, time_format)}"
        return TooEarly(
            action,
            local_start,
            f"the session of {at} has not started yet: a no-show is marked once its start "
            "has passed (cancel it if the patient called it off)",
            f"A no-show is marked once the session has started ({at}); "
            "cancel it if the patient called it off",
        )
    return None


def too_early_in(
    settings: ClinicSettings, action: str, start: dt.datetime, now: dt.datetime
) -> TooEarly | None:
    """``too_early`` with a clinic's settings (its timezone and ``check_in_days_ahead``)."""
    return too_early(
        action,
        start,
        now,
        timezone=settings.timezone,
        check_in_days_ahead=settings.check_in_days_ahead,
        time_format=settings.time_format,
    )


def _day(day: dt.date) -> str:
    """``Thu 12/17``: a day the front desk reads month/day."""
    return f"{WEEKDAY_ABBR[day.weekday()]} {day.month}/{day.day}"


# -- how late, in minutes and words -----------------------------------------------------------


def _whole_minutes(since: dt.datetime, now: dt.datetime) -> int:
    # In UTC: two times of one zone subtract as wall clocks, wrong on a clock-change night.
    elapsed = now.astimezone(dt.UTC) - since.astimezone(dt.UTC)
    return max(0, int(elapsed.total_seconds() // 60))


def minutes_not_started(start: dt.datetime, now: dt.datetime) -> int:
    """How long a patient checked in and not started has waited for the session, in whole
    minutes from its planned ``start`` (a trial's day view counted from the planned end and
    said "Not started +142 min" of a patient 4 h 52 min past her start); 0 before it."""
    return _whole_minutes(start, now)


def minutes_over(planned_end: dt.datetime, now: dt.datetime) -> int:
    """How long a session (in progress, or checked in and never started) holds its room past
    its ``planned_end``, in whole minutes; 0 before it."""
    return _whole_minutes(planned_end, now)


def not_started_words(minutes: int) -> str:
    """``Not started +10 min``: a checked-in patient ``minutes`` after the planned start."""
    return f"Not started +{minutes} min"


def not_started_forms(minutes: int) -> tuple[str, ...]:
    """``not_started_words`` and shorter forms, longest first, for a narrow block to take the
    first that fits whole: the number is what a nurse needs, and an elided "Not started +…"
    hid it (a 15-room day at 1366 px)."""
    return (not_started_words(minutes), f"Not started +{minutes}", f"Waiting +{minutes}")


def over_words(minutes: int) -> str:
    """``+25 min over``: what the overrun's tail says, ``minutes`` past the planned end."""
    return f"+{minutes} min over"


def over_forms(minutes: int) -> tuple[str, ...]:
    """``over_words`` and shorter forms, longest first, for a narrow block's badge:
    ``+195 over`` (the word says what the number is), ``+195``."""
    return (over_words(minutes), f"+{minutes} over", f"+{minutes}")


def room_busy_words(patient_name: str, minutes: int) -> str:
    """What the next session in a room says while an earlier one still holds it
    (``Hopper, Grace`` running ``25`` min over): ``⚠ Room busy: Hopper +25 min``; the family
    name only, so it fits a narrow block (the tooltip says the whole)."""
    family = patient_name.split(",", 1)[0].strip() or patient_name
    return f"⚠ Room busy: {family} +{minutes} min"


def room_busy_forms(patient_name: str, minutes: int) -> tuple[str, ...]:
    """``room_busy_words`` and shorter forms of it, longest first, for a narrow block to take
    the first that fits: ``⚠ Room busy: Hopper`` (the overrun's own badge says how long),
    ``⚠ Room busy``, ``⚠ Busy``."""
    full = room_busy_words(patient_name, minutes)
    return (full, full.rsplit(" +", 1)[0], "⚠ Room busy", "⚠ Busy")
