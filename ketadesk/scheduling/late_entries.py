"""Late entries in a session's record: a reading typed in well after the time it was taken.

A clinical record shows when a value was entered as well as when it was taken: a blood
pressure back-filled at 11:02 for a check taken at 10:00 reads "entered 11:02 AM, 62 min
later, by Kim Nguyen" beside the reading, on the monitoring record, the session's page and the
printed session record alike.  How many minutes after the time taken an entry counts as late
is the clinic's ``[chair] late_entry_minutes`` (``chair_rules.ChairSettings``).  Nothing about
the reading's clinical judgement changes: the rules read the time it was taken, as before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ketadesk.scheduling.dates import clock, short_date


@dataclass(frozen=True, slots=True)
class LateEntry:
    """A value entered ``minutes`` after the time it was taken (more than the clinic allows).

    Attributes:
        taken_at: when the reading was taken (aware).
        entered_at: when it was entered (saved) (aware).
        entered_by: who entered it, as their account names them ("" when not known).
        minutes: whole minutes from taken to entered.
    """

    taken_at: dt.datetime
    entered_at: dt.datetime
    entered_by: str
    minutes: int

    def words(self, zone: ZoneInfo, time_format: str) -> str:
        """``entered 11:02 AM, 62 min later, by Kim Nguyen``; the day too when it was entered
        on another day than taken (``entered Thu Dec 3 9:10 AM, 20 h 10 min later``)."""
        entered = self.entered_at.astimezone(zone)
        when = clock(entered, time_format)
        if entered.date() != self.taken_at.astimezone(zone).date():
            when = f"{short_date(entered.date())} {when}"
        by = f", by {self.entered_by}" if self.entered_by else ""
        return f"entered {when}, {later_words(self.minutes)} later{by}"


def later_words(minutes: int) -> str:
    """How long after: "62 min" up to two hours (a nurse counts a back-filled check in
    minutes), then "3 h 5 min"."""
    if minutes < 120:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" + (f" {rest} min" if rest else "")


def late_entry(
    taken_at: dt.datetime,
    entered_at: dt.datetime | None,
    entered_by: str,
    *,
    late_after_minutes: int,
) -> LateEntry | None:
    """The reading taken at ``taken_at`` and entered at ``entered_at`` as a late entry, when it
    came more than ``late_after_minutes`` whole minutes after it was taken; None when on time,
    or when the entry's time is not known (a reading saved before entry times were kept)."""
    if entered_at is None:
        return None
    # In UTC: two times of one zone subtract as wall clocks, wrong on a clock-change night.
    seconds = (entered_at.astimezone(dt.UTC) - taken_at.astimezone(dt.UTC)).total_seconds()
    minutes = int(seconds // 60)
    if minutes <= late_after_minutes:
        return None
    return LateEntry(taken_at, entered_at, entered_by, minutes)
