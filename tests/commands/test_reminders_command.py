"""``ketadesk reminders send``: off until an administrator turns reminders on; then one run
queues the reminder of a consenting patient's booked session (dates from the real clock, as
the command's own, so the test holds whatever day it runs)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from ketadesk.cli import main
from ketadesk.services.booking import booking
from ketadesk.services.common.context import SYSTEM, utcnow
from ketadesk.services.reminders.consent import set_reminder_consent
from ketadesk.services.reminders.mail_settings import ReminderSettings, save_reminder_settings
from ketadesk.services.reminders.outbox import outbox
from ketadesk.store.models import Patient
from tests.clinic_fixtures import build_small_clinic

IV_ROOM_1 = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}


def test_reminders_send_is_off_then_queues_a_consenting_patients_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{os.path.join(tmp_path, 'clinic.sqlite')}"
    clinic = build_small_clinic(url)
    try:
        assert main(["reminders", "send", "--db", url]) == 0
        assert "off" in capsys.readouterr().out
        now = utcnow()
        day = clinic.calendar.local_date(now) + dt.timedelta(days=7)
        while clinic.calendar.opening_hours(day) is None or clinic.calendar.closed_reason(day):
            day += dt.timedelta(days=1)
        ada = clinic.ids["Ada Lovelace"]
        with clinic.db.write() as s:
            patient = s.get(Patient, ada)
            assert patient is not None
            patient.email = "ada@example.org"
        set_reminder_consent(clinic.db, SYSTEM, ada, True)
        planned = clinic.session("iv_infusion", day, "10:00", IV_ROOM_1)
        booking.book(clinic.db, SYSTEM, booking.BookingRequest(patient_id=ada, sessions=(planned,)))
        save_reminder_settings(
            clinic.db,
            SYSTEM,
            ReminderSettings(
                enabled=True, host="127.0.0.1", security="none", from_address="d@bayside.example"
            ),
        )
        assert main(["reminders", "send", "--db", url]) == 0
        assert "queued 1" in capsys.readouterr().out
        [row] = outbox(clinic.db, SYSTEM)
        assert (row.status, row.starts_at) == ("queued", planned.start)
    finally:
        clinic.db.dispose()
