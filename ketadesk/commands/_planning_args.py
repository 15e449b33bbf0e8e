"""Arguments shared by ``ketadesk plan``, ``ketadesk book`` and ``ketadesk openings``."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

# Dates a command accepts: a clinic's records and plans lie well inside these, and date arithmetic
# near the ends of Python's calendar (year 1 or 9999) would overflow mid-plan.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2199


def iso_date(text: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise argparse.ArgumentTypeError(
            f"{text} is out of range; use a date from {EARLIEST_YEAR} to {LATEST_YEAR}"
        )
    return day


#: The times of day a command accepts, as its errors name them.
TIME_FORMS = "24-hour HH:MM (14:30) or 12-hour with am/pm (2:30pm)"


def clock_time(text: str) -> dt.time:
    """A time of day typed either way: "14:30", "2:30pm", "2:30 PM", "9am"."""
    from ketadesk.scheduling.dates import parse_clock_time

    value = parse_clock_time(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time; use {TIME_FORMS}")
    return value


def local_datetime(text: str) -> dt.datetime:
    """'YYYY-MM-DD HH:MM' or 'YYYY-MM-DD 2:30pm': a wall-clock time in the clinic's zone,
    naive on purpose (its calendar places it)."""
    date_text, _, time_text = text.strip().partition(" ")
    try:
        day = dt.date.fromisoformat(date_text)
        time = clock_time(time_text)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date and time; use 'YYYY-MM-DD HH:MM' ('2026-12-07 14:30') "
            "or 'YYYY-MM-DD 2:30pm'"
        ) from None
    iso_date(day.isoformat())
    return dt.datetime.combine(day, time)


def weekday_list(text: str) -> tuple[str, ...]:
    from ketadesk.scheduling.catalog import WEEKDAYS

    days = tuple(d.strip().lower()[:3] for d in text.split(",") if d.strip())
    bad = [d for d in days if d not in WEEKDAYS]
    if bad or not days:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of weekdays; use e.g. mon,wed,fri"
        )
    return days


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def day_count(text: str) -> int:
    """A number of days to search: at least 1, at most a year (a longer search would run for
    minutes and list more starts than anyone reads)."""
    value = positive_int(text)
    if value > MAX_SEARCH_DAYS:
        raise argparse.ArgumentTypeError(f"at most {MAX_SEARCH_DAYS} days, got {value}")
    return value


MAX_SEARCH_DAYS = 366


def add_wishes(parser: argparse.ArgumentParser, *, room_help: str = "preferred room") -> None:
    parser.add_argument("--weekdays", type=weekday_list, default=(), metavar="mon,wed,fri")
    parser.add_argument(
        "--time", type=clock_time, metavar="HH:MM", help="preferred start (14:30 or 2:30pm)"
    )
    parser.add_argument(
        "--earliest", type=clock_time, metavar="HH:MM", help="no start before (or 9am)"
    )
    parser.add_argument("--latest", type=clock_time, metavar="HH:MM", help="no start after")
    parser.add_argument("--room", metavar="NAME", help=room_help)
    parser.add_argument("--staff", metavar="NAME", help="preferred staff member")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_today(parser)


def add_today(parser: argparse.ArgumentParser) -> None:
    """``--today D``: the command acts as at the start of D at the clinic (see clinic_now)."""
    parser.add_argument(
        "--today",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="act as at the start of this day at the clinic (for scripts and tests)",
    )


def wishes_from(args: argparse.Namespace) -> Any:
    from ketadesk.services.booking.planning import PlanWishes

    return PlanWishes(
        weekdays=tuple(args.weekdays),
        time=args.time,
        earliest=args.earliest,
        latest=args.latest,
        room=args.room,
        staff=args.staff,
    )


def clinic_now(db: Any, override: dt.date | None) -> tuple[dt.date, dt.datetime]:
    """The command's clock: today at the clinic and the instant "now", both from the real clock,
    or with ``--today D`` the start of D at the clinic, so a script (or a test) that plans and
    books against a given day means the same thing whatever day it runs on."""
    from zoneinfo import ZoneInfo

    from ketadesk.store.clinic_config import load_catalog

    with db.read() as session:
        tz = ZoneInfo(load_catalog(session).settings.timezone)
    if override is None:
        now = dt.datetime.now(tz)
        return now.date(), now.astimezone(dt.UTC)
    return override, dt.datetime.combine(override, dt.time(), tz).astimezone(dt.UTC)


def clinic_today(db: Any, override: dt.date | None) -> dt.date:
    """Today in the clinic's time zone (or the --today given)."""
    return clinic_now(db, override)[0]
