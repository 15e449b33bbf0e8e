"""Dates as a US clinic writes them (month/day/year), in one place for every widget."""

from __future__ import annotations

import datetime as dt

from ketadesk.scheduling import dates as _dates
from ketadesk.scheduling.dates import short_date, short_date_time

__all__ = [
    "short_date",
    "short_date_time",
    "us_date",
    "us_date_range",
    "us_long_date",
]


def us_date(day: dt.date) -> str:
    """``12/07/1967``: the form the patient form accepts back and the front desk reads."""
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


def us_long_date(day: dt.date) -> str:
    """``Tuesday, November 24, 2026``: a heading's date."""
    return _dates.long_date(day)


def us_date_range(first: dt.date, last: dt.date) -> str:
    """A span of days as a US heading writes it: ``Nov 30 – Dec 6, 2026``, ``Dec 7 – 13, 2026``,
    ``Dec 28, 2026 – Jan 3, 2027``."""
    return _dates.date_range(first, last)
