"""Query pieces shared by the store and the services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement

from ketadesk.scheduling.calendar import Interval

# Appointments and their holds lie inside one clinic day (a booking must fit the opening hours
# of its day), so anything that overlaps a window starts less than a day before it.  Saying so
# lets the (starts_at, ends_at) indexes serve "what overlaps this window" as a short range scan
# instead of walking the clinic's whole history: the cost follows the window.
LONGEST_BOOKING = dt.timedelta(days=1)


def overlapping(starts_at: Any, ends_at: Any, window: Interval) -> tuple[ColumnElement[bool], ...]:
    """WHERE clauses for rows [starts_at, ends_at) that overlap ``window``."""
    return (
        starts_at >= window.start - LONGEST_BOOKING,
        starts_at < window.end,
        ends_at > window.start,
    )
