"""Render the main window's views on the demo clinic to docs/screenshots/ (for the README).

    make screenshots                                   # every view below
    .venv/bin/python scripts/screenshots.py [--out DIR] [VIEW ...]   # e.g. waitlist my-day

Each picture is ``ketadesk screenshot`` run as a user runs it (no sign-in), at 1400x900, on a
demo built fresh for Tuesday 24 November 2026 with the clock held at 10:52 that morning, so the
pictures are the same from one run to the next.  Before the pictures, the front desk works the
first calls of the confirmation list (through the services, as the window would), so that the
list shows calls made.  Most dialogs (booking, monitoring record, trend chart) have their
pictures made by their own tests' helpers; this script covers the window's views and, painted in
this process on the same demo and clock after the views, Settings ▸ Clinic rules and the
patient record of a patient whose series is at risk: the front desk first cancels, late ("no
ride today"), the first series session of the day still to come (through the services).  The
chair board is shot on a copy of the demo with an IM session that runs past its discharge time
(``overrun``), so its picture shows "Not yet: …" and no other picture has that session.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
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
#: Pages painted here, not through `ketadesk screenshot`: name -> (file, the user's role).
DIALOGS = {
    "settings-rules": ("settings-rules.png", "admin"),
    "patient-record": ("patient-record.png", "nurse"),
}
#: How long a page may take to read what it shows.
SETTLE_S = 60.0


def build(url: str) -> None:
    """The demo clinic of DAY, with the first confirmation calls of the next open day made and
    a late cancellation this morning (its series at risk on the recall list and the record)."""
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
        _late_cancellation(db, desk)
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


def _settle(done: object, what: str) -> None:
    """Turn the event loop until ``done()`` (the page's reads answered), then a few rounds."""
    import time

    from PySide6.QtCore import QCoreApplication

    assert callable(done)
    deadline = time.monotonic() + SETTLE_S
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not shown within {SETTLE_S:.0f} s")
        QCoreApplication.processEvents()
        time.sleep(0.01)
    for _ in range(20):
        QCoreApplication.processEvents()
        time.sleep(0.01)


def _late_cancellation(db: Any, actor: Any) -> int:
    """Cancel the day's first series session still to come, late: its patient's series is at
    risk, with an outreach call and a make-up to offer.  The patient's id."""
    from sqlalchemy import select

    from ketadesk.services.booking.appointment_changes import change_status
    from ketadesk.services.followups.recall import at_risk_list
    from ketadesk.store.models import Appointment

    with db.read() as session:
        first = session.scalars(
            select(Appointment.id)
            .where(
                Appointment.series_id.is_not(None),
                Appointment.status == "booked",
                Appointment.starts_at > NOW,
                Appointment.starts_at < NOW + dt.timedelta(hours=8),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ).first()
    if first is None:
        raise SystemExit("the demo has no series session left today to cancel")
    change_status(db, actor, first, "cancel", reason="no ride today", now=NOW)
    return at_risk_list(db, now=NOW)[0].patient_id


def shoot_dialog(url: str, name: str, out: Path) -> None:
    """A page the window opens as a dialog, painted here at SIZE on the demo at NOW."""
    from PySide6.QtWidgets import QApplication

    from ketadesk.services.access.accounts import list_users
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.common.context import Actor
    from ketadesk.ui.common.background import wait_for_background_work
    from ketadesk.ui.common.desk import Desk

    app = QApplication.instance() or QApplication([])
    file, role = DIALOGS[name]
    db = open_clinic(url).db
    try:
        user = next(u for u in list_users(db) if u.role == role)
        desk = Desk(db, Actor(user_id=user.id, username=user.username, role=role), now=lambda: NOW)
        if name == "settings-rules":
            from ketadesk.ui.settings.rules_page import RulesPage

            page = RulesPage(desk)
            page.resize(int(SIZE[0]) * 2 // 3, int(SIZE[1]))
            page.show()
            _settle(lambda: bool(page.levels), name)
            widget = page
        else:
            from ketadesk.services.followups.recall import at_risk_list
            from ketadesk.ui.patients.patient_record import PatientRecordView

            patient = at_risk_list(db, now=NOW)[0].patient_id
            view = PatientRecordView(desk, patient)
            view.resize(int(SIZE[0]), int(SIZE[1]))
            view.show()
            _settle(lambda: view.record is not None, name)
            widget = view
        assert widget.grab().save(str(out / file)), f"{out / file} not written"
        widget.close()
        widget.deleteLater()
        assert app is not None
        _settle(lambda: True, name)
    finally:
        # A read the page started (a trend, a refresh) ends before its database goes.
        wait_for_background_work()
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    names = (*VIEWS, *DIALOGS)
    parser.add_argument("views", nargs="*", metavar="VIEW", help=f"any of {', '.join(names)}")
    args = parser.parse_args()
    unknown = [v for v in args.views if v not in names]
    if unknown:
        parser.error(f"no view {', '.join(unknown)}; the views are {', '.join(names)}")
    views = args.views or list(names)
    folder = Path(tempfile.mkdtemp(prefix="ketadesk-shots-"))
    url = f"sqlite:///{folder / 'demo.sqlite'}"
    build(url)
    # The chair board on a copy with its overrun session: for its picture only.
    chairs = f"sqlite:///{folder / 'chairs.sqlite'}"
    if "chairs" in views:
        shutil.copyfile(folder / "demo.sqlite", folder / "chairs.sqlite")
        print(f"chair board overrun: {overrun(chairs) or 'no room free, left out'}")
    for view in views:
        if view in VIEWS:
            shoot(chairs if view == "chairs" else url, view, args.out)
    for view in views:
        if view in DIALOGS:
            shoot_dialog(url, view, args.out)


if __name__ == "__main__":
    main()
