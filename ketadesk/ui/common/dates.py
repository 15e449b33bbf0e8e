"""Dates as a US clinic writes them (month/day/year), in one place for every widget."""

from __future__ import annotations

import datetime as dt


def us_date(day: dt.date) -> str:
    """``12/07/1967``: the form the patient form accepts back and the front desk reads."""
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


def us_long_date(day: dt.date) -> str:
    """``Tuesday, November 24, 2026``: a heading's date."""
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def us_date_range(first: dt.date, last: dt.date) -> str:
    """A span of days as a US heading writes it: ``Nov 30 – Dec 6, 2026``, ``Dec 7 – 13, 2026``,
    ``Dec 28, 2026 – Jan 3, 2027``."""
    if first.year != last.year:
        return f"{first:%b} {first.day}, {first.year} – {last:%b} {last.day}, {last.year}"
    if first.month != last.month:
        return f"{first:%b} {first.day} – {last:%b} {last.day}, {last.year}"
    return f"{first:%b} {first.day} – {last.day}, {last.year}"
