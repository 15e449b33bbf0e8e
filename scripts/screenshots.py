"""Render the main window's views on the demo clinic to docs/screenshots/ (for the README).

    make screenshots                                   # every view below
    .venv/bin/python scripts/screenshots.py [--out DIR] [VIEW ...]   # e.g. waitlist my-day

Each picture is ``ketadesk screenshot`` run as a user runs it (no sign-in), at 1400x900, on a
demo built fresh for Tuesday 24 November 2026 with the clock held at 10:52 that morning, so the
pictures are the same from one run to the next.  Before the pictures, the front desk works the
first calls of the confirmation list (through the services, as the window would), so that the
list shows calls made.  Dialogs (booking, patient record, monitoring record, trend chart) have
their pictures made by their own tests' helpers; this script covers the window's views.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
DAY = dt.date(2026, 11, 24)
TIME = "10:52"
NOW = dt.datetime(2026, 11, 24, 18, 52, tzinfo=dt.UTC)  # 10:52 at the clinic (PST)
#: view (as `ketadesk screenshot --view` names it) -> (file, the user whose window it is)
VIEWS = {
    "day": ("day-view.png", "nurse"),
    "staff": ("staff-day.png", "nurse"),
    "week": ("week.png", "frontdesk"),
    "chairs": ("chair-board.png", "nurse"),
    "follow-ups": ("follow-ups.png", "nurse"),
    "recall": ("recall-at-risk.png", "frontdesk"),
    "my-day": ("my-day.png", "nurse"),
    "waitlist": ("waitlist.png", "frontdesk"),
    "confirmations": ("confirmations.png", "frontdesk"),
}
SIZE = ("1400", "900")


def build(url: str) -> None:
    """The demo clinic of DAY, with the first confirmation calls of the next open day made."""
    from ketadesk.services.access.accounts import list_users
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.common.context import Actor
    from ketadesk.services.confirmations.calls import (
        list_confirmations,
        record_call,
        set_checklist_item,
    )
    from ketadesk.services.demo.clinic import build_demo

    build_demo(url, today=DAY)
    db = open_clinic(url).db
    try:
        user = next(u for u in list_users(db) if u.username == "frontdesk")
        desk = Actor(user_id=user.id, username=user.username, role=user.role)
        listed = list_confirmations(db, now=NOW)
        rows = listed.rows
        calls = [
            ("confirmed", ""),
            ("confirmed", ""),
            ("left_message", "left word with the family; calls back after 5"),
            ("no_answer", ""),
            ("confirmed", "ride: a friend, 555-0142"),
        ]
        for row, (outcome, note) in zip(rows, calls, strict=False):
            record_call(db, desk, row.appointment_id, outcome, note=note, now=NOW)
        # The first visit's ride is arranged (with its pickup time), and it fasts.
        first = rows[0]
        for key in ("driver_confirmed", "fasting_confirmed"):
            if any(item.key == key for item in first.checklist):
                end = first.planned_end.astimezone(ZoneInfo(listed.timezone))
                pickup = f"{end:%H:%M}" if key == "driver_confirmed" else None
                set_checklist_item(
                    db, desk, first.appointment_id, key, True, ride_pickup=pickup, now=NOW
                )
    finally:
        db.dispose()


def shoot(url: str, view: str, out: Path) -> None:
    file, user = VIEWS[view]
    args = ["--db", url, "--view", view, "--date", DAY.isoformat(), "--time", TIME]
    args += ["--user", user, "--width", SIZE[0], "--height", SIZE[1], "--out", str(out / file)]
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    subprocess.run(
        [sys.executable, "-m", "ketadesk", "screenshot", *args], check=True, env=env, cwd=ROOT
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("views", nargs="*", metavar="VIEW", help=f"any of {', '.join(VIEWS)}")
    args = parser.parse_args()
    unknown = [v for v in args.views if v not in VIEWS]
    if unknown:
        parser.error(f"no view {', '.join(unknown)}; the views are {', '.join(VIEWS)}")
    views = args.views or list(VIEWS)
    folder = Path(tempfile.mkdtemp(prefix="ketadesk-shots-"))
    url = f"sqlite:///{folder / 'demo.sqlite'}"
    build(url)
    for view in views:
        shoot(url, view, args.out)


if __name__ == "__main__":
    main()
