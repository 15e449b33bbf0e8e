"""Dates as a US clinic writes them (month/day/year), in one place for every widget."""

from __future__ import annotations

import datetime as dt


def us_date(day: dt.date) -> str:
    """``12/07/1967``: the form the patient form accepts back and the front desk reads."""
    return f"{day.month:02d}/{day.day:02d}/{day.year}"
