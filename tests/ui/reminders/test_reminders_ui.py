"""E-mail reminders through the windows: an administrator sets up the clinic's SMTP server in
Settings and sends a test message to a real SMTP server (aiosmtpd); the desk ticks a patient's
consent on the patient form; the outbox run delivers the reminder with its ``.ics`` and the
page lists it as sent."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.booking import booking
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.reminders.consent import set_reminder_consent
from ketadesk.services.reminders.mail_settings import (
    MASK,
    ReminderSettings,
    read_reminder_settings,
    save_reminder_settings,
)
from ketadesk.services.reminders.outbox import run_outbox
from ketadesk.store.models import AuditEvent, Patient, ReminderConsent
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.patient_form import NO_ADDRESS_FOR_REMINDERS, PatientFormDialog
from ketadesk.ui.settings.pages import PAGES
from ketadesk.ui.settings.reminders_page import RemindersPage
from ketadesk.ui.shell.reminder_loop import ReminderLoop
from tests.clinic_fixtures import SmallClinic, build_small_clinic
from tests.services.reminders.smtp_server import Mailbox, smtp_server
from tests.ui.conftest import NOW
from tests.ui.sql_guard import allow_gui_thread_sql

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
IV_ROOM_1 = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
SECRET = "smtp-pass-not-to-show"


@pytest.fixture
def small(tmp_path: Path) -> Iterator[SmallClinic]:
    c = build_small_clinic(f"sqlite:///{os.path.join(tmp_path, 'clinic.sqlite')}")
    yield c
    c.db.dispose()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


def _page(qtbot: QtBot, clinic: SmallClinic, actor: Actor = SYSTEM) -> RemindersPage:
    page = RemindersPage(Desk(clinic.db, actor, now=lambda: NOW))
    qtbot.addWidget(page)
    page.resize(1100, 760)
    page.show()
    qtbot.waitUntil(lambda: page._shown is not None)
    return page


def _save(qtbot: QtBot, page: RemindersPage) -> None:
    with qtbot.waitSignal(page.saved, timeout=5000):
        page.save_button.click()


def _open_form(qtbot: QtBot, clinic: SmallClinic, patient_id: int) -> PatientFormDialog:
    opened: list[PatientFormDialog] = []
    desk = Desk(clinic.db, FRONT_DESK, now=lambda: NOW)
    PatientFormDialog.open_for(desk, patient_id, None, opened.append)
    qtbot.waitUntil(lambda: bool(opened))
    qtbot.addWidget(opened[0])
    return opened[0]


def _open_day_after_tomorrow(clinic: SmallClinic) -> dt.date:
    day = clinic.calendar.local_date(NOW) + dt.timedelta(days=2)
    while clinic.calendar.opening_hours(day) is None or clinic.calendar.closed_reason(day):
        day += dt.timedelta(days=1)
    return day


def test_the_page_is_in_the_settings_window() -> None:
    assert any(spec.name == "reminders" and not spec.setup for spec in PAGES)


def test_settings_saved_with_the_password_masked_and_a_test_message_arrives(
    qtbot: QtBot, small: SmallClinic, mailbox: Mailbox
) -> None:
    page = _page(qtbot, small)
    page.enabled.setChecked(True)
    page.host.setText("127.0.0.1")
    page.port.setValue(mailbox.port)
    page.security.setCurrentIndex(page.security.findData("none"))
    page.password.setText(SECRET)
    page.from_address.setText("not an address")
    page.save_button.click()
    qtbot.waitUntil(lambda: page.errors["from_address"].isVisibleTo(page))
    with allow_gui_thread_sql():
        assert read_reminder_settings(small.db).host == ""  # nothing saved
    page.from_address.setText("desk@bayside.example")
    _save(qtbot, page)
    assert page.password.text() == MASK
    with allow_gui_thread_sql():
        assert read_reminder_settings(small.db, reveal=True).password == SECRET
        with small.db.read() as s:
            for event in s.scalars(select(AuditEvent)):
                assert SECRET not in f"{event.before}{event.after}{event.detail}"
    page.test_address.setText("admin@bayside.example")
    page.test_button.click()
    qtbot.waitUntil(lambda: page.test_result.text().startswith("Sent"), timeout=5000)
    assert mailbox.arrived[0].recipients == ["admin@bayside.example"]


def test_the_front_desk_does_not_see_the_settings(qtbot: QtBot, small: SmallClinic) -> None:
    page = RemindersPage(Desk(small.db, FRONT_DESK, now=lambda: NOW))
    qtbot.addWidget(page)
    assert not page.save_button.isEnabled()
    assert "administrator" in page.message.text()


def test_consent_ticked_on_the_patient_form_brings_the_reminder_with_its_ics(
    qtbot: QtBot, small: SmallClinic, mailbox: Mailbox
) -> None:
    grace, ada = small.ids["Grace Hopper"], small.ids["Ada Lovelace"]
    # Without an e-mail address the opt-in is refused at the address, and nothing saved.
    form = _open_form(qtbot, small, grace)
    assert form.consent_note.text() == "Not asked yet."
    form.reminders.setChecked(True)
    with qtbot.waitSignal(form.not_saved, timeout=5000):
        form.save()
    assert form.errors() == {"email": NO_ADDRESS_FOR_REMINDERS}
    # With one, the consent is recorded: who and when.
    form = _open_form(qtbot, small, ada)
    form.fields["email"].set_text("ada@example.org")
    form.reminders.setChecked(True)
    with qtbot.waitSignal(form.saved, timeout=5000):
        form.save()
    with allow_gui_thread_sql(), small.db.read() as s:
        consent = s.get(ReminderConsent, ada)
        assert consent is not None
        assert (consent.opted_in, consent.recorded_by, consent.recorded_at) == (True, "maria", NOW)
        patient = s.get(Patient, ada)
        assert patient is not None
        assert patient.email == "ada@example.org"
    again = _open_form(qtbot, small, ada)
    assert again.reminders.isChecked()
    assert "Agreed" in again.consent_note.text()
    assert "maria" in again.consent_note.text()

    page = _page(qtbot, small)
    page.enabled.setChecked(True)
    page.host.setText("127.0.0.1")
    page.port.setValue(mailbox.port)
    page.security.setCurrentIndex(page.security.findData("none"))
    page.from_address.setText("desk@bayside.example")
    _save(qtbot, page)
    day = _open_day_after_tomorrow(small)
    start = small.at(day, "10:00")
    with allow_gui_thread_sql():
        planned = small.session("iv_infusion", day, "10:00", IV_ROOM_1)
        booking.book(
            small.db,
            FRONT_DESK,
            booking.BookingRequest(patient_id=ada, sessions=(planned,)),
            now=NOW,
        )
        settings = read_reminder_settings(small.db)
        run_outbox(small.db, now=start - dt.timedelta(hours=settings.hours_before))
    [arrived] = mailbox.arrived
    assert arrived.recipients == ["ada@example.org"]
    [ics] = list(arrived.message.iter_attachments())
    [event] = icalendar.Calendar.from_ical(ics.get_content()).walk("VEVENT")
    assert event.decoded("dtstart") == start
    page.refresh()
    qtbot.waitUntil(lambda: page.outbox_table.rowCount() == 1)
    item = page.outbox_table.item(0, 2)
    assert item is not None
    assert item.text() == "sent"
    if os.environ.get("KETADESK_SCREENSHOTS"):
        page.grab().save(os.environ["KETADESK_SCREENSHOTS"] + "/reminders_page.png")
        again.grab().save(os.environ["KETADESK_SCREENSHOTS"] + "/reminders_consent.png")
    assert dataclasses.asdict(settings)["password"] == ""


def test_the_running_application_sends_what_is_due(
    qtbot: QtBot, small: SmallClinic, mailbox: Mailbox
) -> None:
    ada = small.ids["Ada Lovelace"]
    day = _open_day_after_tomorrow(small)
    start = small.at(day, "10:00")
    with allow_gui_thread_sql():
        with small.db.write() as s:
            patient = s.get(Patient, ada)
            assert patient is not None
            patient.email = "ada@example.org"
        set_reminder_consent(small.db, FRONT_DESK, ada, True, now=NOW)
        planned = small.session("iv_infusion", day, "10:00", IV_ROOM_1)
        booking.book(
            small.db,
            FRONT_DESK,
            booking.BookingRequest(patient_id=ada, sessions=(planned,)),
            now=NOW,
        )
        save_reminder_settings(
            small.db,
            SYSTEM,
            ReminderSettings(
                enabled=True,
                host="127.0.0.1",
                port=mailbox.port,
                security="none",
                from_address="desk@bayside.example",
            ),
            now=NOW,
        )
        hours = read_reminder_settings(small.db).hours_before
    loop = ReminderLoop(small.db, lambda: start - dt.timedelta(hours=hours))
    with qtbot.waitSignal(loop.ran, timeout=5000):
        loop.run_now()
    assert loop.last_run is not None
    assert loop.last_run.sent == 1
    assert [a.recipients for a in mailbox.arrived] == [["ada@example.org"]]
    loop.stop()
