"""Dates in words the way a US clinic reads them: month before day ("Tue Nov 24, 2026").

Pure and independent of the process locale, so every layer (services, printing, widgets) can say
a date the same way. Times stay 24-hour ``HH:MM``.
"""

from __future__ import annotations

import datetime as dt

WEEKDAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def short_date(day: dt.date, *, year: bool = False, weekday: bool = True) -> str:
    """``Tue Nov 24``; with ``year`` ``Tue Nov 24, 2026``; without ``weekday`` ``Nov 24``
    (``Nov 24, 2026``)."""
    text = f"{MONTH_ABBR[day.month - 1]} {day.day}"
    if year:
        text = f"{text}, {day.year}"
    if weekday:
        text = f"{WEEKDAY_ABBR[day.weekday()]} {text}"
    return text


def short_date_time(
    moment: dt.datetime, *, year: bool = False, weekday: bool = True, seconds: bool = False
) -> str:
    """``Tue Nov 24 09:30`` (the date as ``short_date`` says it, then the 24-hour time)."""
    clock = f"{moment:%H:%M:%S}" if seconds else f"{moment:%H:%M}"
    return f"{short_date(moment, year=year, weekday=weekday)} {clock}"


def long_date(day: dt.date) -> str:
    """``Tuesday, November 24, 2026``: a heading's date."""
    return f"{WEEKDAY_NAMES[day.weekday()]}, {MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"


def date_range(first: dt.date, last: dt.date) -> str:
    """A span of days: ``Nov 30 – Dec 6, 2026``, ``Dec 7 – 13, 2026``,
    ``Dec 28, 2026 – Jan 3, 2027``."""
    end = short_date(last, year=True, weekday=False)
    if first.year != last.year:
        return f"{short_date(first, year=True, weekday=False)} – {end}"
    if first.month != last.month:
        return f"{short_date(first, weekday=False)} – {end}"
    return f"{short_date(first, weekday=False)} – {last.day}, {last.year}"
