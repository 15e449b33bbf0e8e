"""Render the main window's views on the demo clinic to docs/screenshots/ (for the README).

    make screenshots                                   # every view below
    .venv/bin/python scripts/screenshots.py [--out DIR] [VIEW ...]   # e.g. waitlist my-day

Each picture is ``ketadesk screenshot`` run as a user runs it (no sign-in), at 1400x900, on a
demo built fresh for Tuesday 24 November 2026 with the clock held at 10:52 that morning, so the
pictures are the same from one run to the next.  Before the pictures, the front desk works the
first calls of the confirmation list (through the services, as the window would), so that the
list shows calls made.  The chair board is shot last, after an IM session that runs past its
discharge time is added for it (``overrun``), so its picture shows "Not yet: …".  Dialogs
(booking, patient record, monitoring record, trend chart) have their pictures made by their own
tests' helpers; this script covers the window's views.
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


#: The chair board's overrun (an IM session past its discharge time, a reading and the
#: sedation still owed): its room, its start, and the readings the nurse took, by time.
OVERRUN_ROOM = "Room 6"
OVERRUN_START = "09:30"
OVERRUN_READINGS = {"Pre-dose": "09:35", "+0 min": "09:40", "+15 min": "09:55",
                    "+30 min": "10:10", "+45 min": "10:26"}  # fmt: skip


def overrun(url: str) -> str | None:
    """For the chair board's picture only (made last): an IM ketamine session booked in a
    room free this morning, started, its record kept by the nurse (dose at 09:40, readings up
    to +45 min, sedation "mild" not marked resolved), so that at 10:52 its card says what
    discharge still waits for.  Through the services, as the window would; the first cleared
    patient and the first nurse and monitor the booking accepts.  None when nothing fits."""
    import dataclasses

    from sqlalchemy import select

    from ketadesk.scheduling.model import PlannedSession, session_holds
    from ketadesk.services.booking.appointment_changes import change_status
    from ketadesk.services.booking.booking import BookingRequest, book
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.common.context import SYSTEM, Actor, ServiceError
    from ketadesk.services.monitoring import records
    from ketadesk.services.monitoring.record_forms import with_reading
    from ketadesk.store.clinic_config import load_config
    from ketadesk.store.models import Appointment, Patient, Resource

    zone = ZoneInfo("America/Los_Angeles")

    def at(hhmm: str) -> dt.datetime:
        return dt.datetime.combine(DAY, dt.time.fromisoformat(hhmm), zone).astimezone(dt.UTC)

    db = open_clinic(url).db
    try:
        with db.read() as session:
            spec = load_config(session).catalog.session_types["im_ketamine"]
            resources = session.execute(select(Resource.id, Resource.kind, Resource.subkind,
                                               Resource.name)).all()  # fmt: skip
            busy = set(
                session.scalars(
                    select(Appointment.patient_id).where(
                        Appointment.starts_at < at("18:00"), Appointment.ends_at > at("07:00")
                    )
                )
            )
            patients = [
                p
                for p in session.scalars(
                    select(Patient.id)
                    .where(Patient.screening_status == "cleared", Patient.driver_name != "")
                    .order_by(Patient.id)
                )
                if p not in busy
            ]
        room = next(r.id for r in resources if r.name == OVERRUN_ROOM)
        monitors = [r.id for r in resources if r.subkind == "vital_signs_monitor"]
        nurses = [r.id for r in resources if r.kind == "staff" and r.subkind == "nurse"]
        start = at(OVERRUN_START)
        for patient in patients[:20]:
            for monitor in monitors:
                for nurse in nurses:
                    assignment = {"room": room, "monitor": monitor, "nurse": nurse}
                    planned = PlannedSession(
                        index=1,
                        session_type="im_ketamine",
                        start=start,
                        end=start + dt.timedelta(minutes=spec.total_minutes),
                        holds=session_holds(spec, start, assignment),
                    )
                    try:
                        booked = book(
                            db,
                            SYSTEM,
                            BookingRequest(patient_id=patient, sessions=(planned,)),
                            now=at("08:00"),
                        )
                        (appointment_id,) = booked.appointment_ids
                        change_status(db, SYSTEM, appointment_id, "check_in", now=at("09:28"))
                        change_status(db, SYSTEM, appointment_id, "start", now=start)
                    except ServiceError:
                        continue
                    nurse_actor = Actor(user_id=None, username="nurse", role="nurse")
                    form = records.load_record(db, nurse_actor, appointment_id)
                    labels = [r.label for r in form.readings]
                    for label, hhmm in OVERRUN_READINGS.items():
                        form = with_reading(
                            form,
                            labels.index(label),
                            time=hhmm,
                            systolic="132",
                            diastolic="84",
                            spo2="97",
                        )
                    form = dataclasses.replace(
                        form, dose_mg="50", dose_started="09:40", sedation="mild",
                        dissociation="none",
                    )  # fmt: skip
                    records.save_record(db, nurse_actor, appointment_id, form, now=at("10:30"))
                    return f"IM #{appointment_id} in {OVERRUN_ROOM}"
        return None
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
    # The chair board last: its overrun session is for its picture only.
    for view in sorted(views, key=lambda v: v == "chairs"):
        if view == "chairs":
            print(f"chair board overrun: {overrun(url) or 'no room free, left out'}")
        shoot(url, view, args.out)


if __name__ == "__main__":
    main()
