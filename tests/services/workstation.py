"""One workstation of tests/services/test_two_workstations.py, run as a process of its own.

    python -m tests.services.workstation watch URL IDS_JSON PATIENT
        opens the Tuesday in a DayView (offscreen) with a ChangeWatcher, prints READY once it
        listens, then SEEN <seconds> when a session of PATIENT shows in the open view.
    python -m tests.services.workstation book URL IDS_JSON PATIENT HH:MM GO_FILE
        waits for GO_FILE, books PATIENT's IV infusion in Room 3 on the Tuesday at HH:MM, and
        prints BOOKED <ids> or CONFLICT <message>.

Every line is flushed at once: the test reads them as they come.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ketadesk.services.common.context import Actor

TUESDAY_TEXT = "2026-11-24"
NOW_TEXT = "2026-11-24T16:00:00+00:00"
ASSIGN = {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"}


def _say(line: str) -> None:
    print(line, flush=True)


def _clinic(url: str, ids_json: str):  # type: ignore[no-untyped-def]
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.store.clinic_config import load_catalog
    from tests.clinic_fixtures import SmallClinic

    opened = open_clinic(url)
    with opened.db.read() as s:
        catalog = load_catalog(s)
    return SmallClinic(db=opened.db, catalog=catalog, ids=json.loads(ids_json))


def watch(url: str, ids_json: str, patient: str) -> int:
    import datetime as dt

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer

    from ketadesk.services.schedule.day import day_schedule
    from ketadesk.ui.common.app import create_application
    from ketadesk.ui.common.desk import Desk
    from ketadesk.ui.shell.change_watch import ChangeWatcher
    from ketadesk.ui.timeline.day_view import DayView

    app = create_application(["workstation-b"])
    clinic = _clinic(url, ids_json)
    tuesday = dt.date.fromisoformat(TUESDAY_TEXT)
    now = dt.datetime.fromisoformat(NOW_TEXT)
    desk = Desk(clinic.db, Actor(user_id=None, username="b", role="front_desk"), lambda: now)
    view = DayView(desk=desk)
    view.resize(900, 600)
    view.set_schedule(day_schedule(clinic.db, tuesday))
    view.show()
    watcher = ChangeWatcher(desk)  # the application's own intervals
    shown = patient.split()[-1] + ", " + " ".join(patient.split()[:-1])

    def on_changed() -> None:
        view.set_schedule(day_schedule(clinic.db, tuesday), keep_place=True)
        layout = view.day_layout()
        if layout is not None and any(b.appointment.patient_name == shown for b in layout.blocks):
            _say(f"SEEN {time.time():.3f}")
            app.quit()

    def ready() -> None:
        if watcher.is_listening():
            _say("READY")
        else:
            QTimer.singleShot(50, ready)

    watcher.changed.connect(on_changed)
    QTimer.singleShot(0, ready)
    QTimer.singleShot(30_000, app.quit)  # never wait forever
    app.exec()
    watcher.stop()
    clinic.db.dispose()
    return 0


def book(url: str, ids_json: str, patient: str, hhmm: str, go_file: str) -> int:
    import datetime as dt

    from ketadesk.services.booking import booking
    from ketadesk.services.booking.booking import BookingRequest
    from ketadesk.services.booking.plan_check import BookingConflict

    clinic = _clinic(url, ids_json)
    tuesday = dt.date.fromisoformat(TUESDAY_TEXT)
    now = dt.datetime.fromisoformat(NOW_TEXT)
    request = BookingRequest(
        patient_id=clinic.ids[patient],
        sessions=(clinic.session("iv_infusion", tuesday, hhmm, ASSIGN),),
    )
    actor = Actor(user_id=None, username=f"desk-{os.getpid()}", role="front_desk")
    _say("WAITING")
    go = Path(go_file)
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    try:
        result = booking.book(clinic.db, actor, request, now=now)
    except BookingConflict as err:
        _say(f"CONFLICT {err}")
    else:
        _say(f"BOOKED {time.time():.3f} {' '.join(map(str, result.appointment_ids))}")
    clinic.db.dispose()
    return 0


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    sys.exit(watch(*rest) if mode == "watch" else book(*rest))
