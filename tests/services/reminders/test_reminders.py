"""E-mail reminders on a real clinic (SQLite and PostgreSQL) through a real SMTP server
(aiosmtpd): the message, its recipient, its minimal text and its ``.ics``; a retry after a
refusal; nothing for a patient who did not opt in; cancelled and moved sessions.

Time is injected: "now" is a Tuesday morning, and the session two open days later.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from email.message import EmailMessage

import icalendar
import pytest
from sqlalchemy import select

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields, PermissionDenied
from ketadesk.services.reminders.consent import reminder_consent, set_reminder_consent
from ketadesk.services.reminders.mail_settings import (
    MASK,
    ReminderSettings,
    read_reminder_settings,
    save_reminder_settings,
)
from ketadesk.services.reminders.outbox import OutboxRun, outbox, run_outbox, send_test_message
from ketadesk.services.reminders.smtp_sender import send_message
from ketadesk.store.models import AuditEvent, Patient, ReminderMessage
from tests.clinic_fixtures import SmallClinic, build_small_clinic, say_times
from tests.services.reminders.smtp_server import Mailbox, smtp_server

#: Tuesday 24 November 2026, 10:15 at the clinic.
NOW = dt.datetime(2026, 11, 24, 18, 15, tzinfo=dt.UTC)
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
IV_ROOM_1 = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
SECRET = "s3cret-smtp-pass"


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    with c.db.write() as s:
        for name, email in (("Ada Lovelace", "ada@example.org"), ("Mary Seacole", "mary@x.org")):
            patient = s.get(Patient, c.ids[name])
            assert patient is not None
            patient.email = email
    yield c
    c.db.dispose()


@pytest.fixture
def mailbox(clinic: SmallClinic) -> Iterator[Mailbox]:
    with smtp_server() as box:
        save_reminder_settings(
            clinic.db,
            SYSTEM,
            ReminderSettings(
                enabled=True,
                host="127.0.0.1",
                port=box.port,
                security="none",
                username="",
                password=SECRET,
                from_address="desk@bayside.example",
            ),
            now=NOW,
        )
        yield box


def _next_open_day(clinic: SmallClinic) -> dt.date:
    """The first open day after tomorrow: far enough that its reminder is not due at once."""
    day = clinic.calendar.local_date(NOW) + dt.timedelta(days=2)
    while clinic.calendar.opening_hours(day) is None or clinic.calendar.closed_reason(day):
        day += dt.timedelta(days=1)
    return day


def _book(clinic: SmallClinic, patient: str, hhmm: str = "10:00") -> int:
    planned = clinic.session("iv_infusion", _next_open_day(clinic), hhmm, IV_ROOM_1)
    result = booking.book(
        clinic.db,
        FRONT_DESK,
        booking.BookingRequest(patient_id=clinic.ids[patient], sessions=(planned,)),
        now=NOW,
    )
    return result.appointment_ids[0]


def _when_due(clinic: SmallClinic, hhmm: str = "10:00") -> dt.datetime:
    hours = read_reminder_settings(clinic.db).hours_before
    return clinic.at(_next_open_day(clinic), hhmm) - dt.timedelta(hours=hours)


def test_a_reminder_arrives_with_minimal_text_and_its_ics(
    clinic: SmallClinic, mailbox: Mailbox
) -> None:
    with clinic.db.write() as session:  # a US clinic's 12-hour times (the small clinic's: 24)
        say_times(session, "12h")
    set_reminder_consent(clinic.db, FRONT_DESK, clinic.ids["Ada Lovelace"], True, now=NOW)
    _book(clinic, "Ada Lovelace")
    early = run_outbox(clinic.db, now=NOW)
    assert (early.queued, early.sent) == (1, 0)  # queued, not due yet
    run = run_outbox(clinic.db, now=_when_due(clinic))
    assert run.sent == 1
    [arrived] = mailbox.arrived
    assert arrived.recipients == ["ada@example.org"]
    message = arrived.message
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    start = clinic.at(_next_open_day(clinic), "10:00")
    local = start.astimezone(clinic.calendar.tz)
    assert "Hello Ada," in text
    assert f"{local.month}/{local.day}/{local.year}" in text
    assert "10:00 AM" in text
    assert clinic.catalog.settings.name in text
    for private in ("Lovelace", "infusion", "IV", "ketamine"):
        assert private not in text
        assert private not in str(message["Subject"])
    [ics] = [part for part in message.iter_attachments() if part.get_filename()]
    assert ics.get_filename() == "appointment.ics"
    calendar = icalendar.Calendar.from_ical(ics.get_content())
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == start
    assert "infusion" not in str(event.get("summary")).lower()
    with clinic.db.read() as s:
        [row] = s.scalars(select(ReminderMessage)).all()
        assert (row.status, row.attempts) == ("sent", 1)


def test_a_refused_message_is_retried_after_the_backoff(
    clinic: SmallClinic, mailbox: Mailbox
) -> None:
    set_reminder_consent(clinic.db, FRONT_DESK, clinic.ids["Ada Lovelace"], True, now=NOW)
    _book(clinic, "Ada Lovelace")
    settings = read_reminder_settings(clinic.db)
    mailbox.refuse = 1
    due = _when_due(clinic)
    first = run_outbox(clinic.db, now=due)
    assert (first.sent, first.retrying) == (0, 1)
    assert mailbox.arrived == []
    too_soon = run_outbox(clinic.db, now=due + dt.timedelta(minutes=settings.backoff_minutes - 1))
    assert too_soon.sent == 0
    retry = run_outbox(clinic.db, now=due + dt.timedelta(minutes=settings.backoff_minutes))
    assert retry.sent == 1
    assert [a.recipients for a in mailbox.arrived] == [["ada@example.org"]]
    [row] = outbox(clinic.db, SYSTEM)
    assert (row.status, row.attempts) == ("sent", 2)


def test_every_attempt_refused_is_recorded_as_failed(clinic: SmallClinic, mailbox: Mailbox) -> None:
    set_reminder_consent(clinic.db, FRONT_DESK, clinic.ids["Ada Lovelace"], True, now=NOW)
    _book(clinic, "Ada Lovelace")
    settings = read_reminder_settings(clinic.db)
    mailbox.refuse = settings.max_attempts
    when = _when_due(clinic)
    for attempt in range(settings.max_attempts):
        run_outbox(clinic.db, now=when)
        when += dt.timedelta(minutes=settings.backoff_minutes * 2**attempt)
    [row] = outbox(clinic.db, SYSTEM)
    assert (row.status, row.attempts) == ("failed", settings.max_attempts)
    assert "451" in row.last_error


def test_a_patient_who_did_not_opt_in_gets_nothing(clinic: SmallClinic, mailbox: Mailbox) -> None:
    _book(clinic, "Mary Seacole")  # has an e-mail address, never consented
    run = run_outbox(clinic.db, now=_when_due(clinic))
    assert (run.queued, run.sent) == (0, 0)
    assert mailbox.arrived == []
    assert outbox(clinic.db, SYSTEM) == []


def test_a_cancelled_session_drops_its_reminder_and_a_moved_one_follows(
    clinic: SmallClinic, mailbox: Mailbox
) -> None:
    set_reminder_consent(clinic.db, FRONT_DESK, clinic.ids["Ada Lovelace"], True, now=NOW)
    ada = _book(clinic, "Ada Lovelace")
    run_outbox(clinic.db, now=NOW)
    later = clinic.session("iv_infusion", _next_open_day(clinic), "15:00", IV_ROOM_1)
    appointment_changes.move(clinic.db, FRONT_DESK, ada, later, reason="asked", now=NOW)
    assert run_outbox(clinic.db, now=NOW).updated == 1
    [row] = outbox(clinic.db, SYSTEM)
    assert row.starts_at == later.start
    appointment_changes.change_status(clinic.db, FRONT_DESK, ada, "cancel", reason="x", now=NOW)
    assert run_outbox(clinic.db, now=NOW).dropped == 1
    run_outbox(clinic.db, now=_when_due(clinic, "15:00"))
    assert mailbox.arrived == []
    assert [r.status for r in outbox(clinic.db, SYSTEM)] == ["dropped"]


def test_consent_needs_an_address_and_is_audited(clinic: SmallClinic) -> None:
    with pytest.raises(InvalidFields) as err:
        set_reminder_consent(clinic.db, FRONT_DESK, clinic.ids["Grace Hopper"], True, now=NOW)
    assert "email" in err.value.errors
    record = set_reminder_consent(clinic.db, FRONT_DESK, clinic.ids["Ada Lovelace"], True, now=NOW)
    assert (record.opted_in, record.recorded_by, record.recorded_at) == (True, "maria", NOW)
    assert reminder_consent(clinic.db, clinic.ids["Ada Lovelace"]) == record
    with clinic.db.read() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "reminder_consent"))
        assert event.before is not None
        assert event.after is not None
        assert (event.before["opted_in"], event.after["opted_in"]) == (False, True)


def test_the_password_is_masked_in_reads_and_the_audit_trail(
    clinic: SmallClinic, mailbox: Mailbox
) -> None:
    shown = read_reminder_settings(clinic.db)
    assert shown.password == MASK
    # Saving the form back with the mask keeps the stored password.
    save_reminder_settings(clinic.db, SYSTEM, dataclasses.replace(shown, port=mailbox.port + 1))
    assert read_reminder_settings(clinic.db, reveal=True).password == SECRET
    with clinic.db.read() as s:
        for event in s.scalars(select(AuditEvent)):
            assert SECRET not in str(event.before) + str(event.after) + event.detail
    with pytest.raises(PermissionDenied):
        save_reminder_settings(clinic.db, FRONT_DESK, shown)


def test_the_test_message_arrives(clinic: SmallClinic, mailbox: Mailbox) -> None:
    answer = send_test_message(clinic.db, SYSTEM, "admin@bayside.example", now=NOW)
    assert answer.startswith("Sent")
    assert mailbox.arrived[0].recipients == ["admin@bayside.example"]
    with pytest.raises(InvalidFields):
        send_test_message(clinic.db, SYSTEM, "not an address", now=NOW)


def test_a_second_worker_does_not_send_a_message_already_being_sent(
    clinic: SmallClinic, mailbox: Mailbox
) -> None:
    """Two workstations (or a desk and cron) running the outbox at once send each reminder
    once: the second finds the message claimed while the first is talking to the server."""
    set_reminder_consent(clinic.db, FRONT_DESK, clinic.ids["Ada Lovelace"], True, now=NOW)
    _book(clinic, "Ada Lovelace")
    due = _when_due(clinic)
    meanwhile: list[OutboxRun] = []

    def first_worker(settings: ReminderSettings, message: EmailMessage) -> None:
        meanwhile.append(run_outbox(clinic.db, now=due))  # the other worker, mid-send
        send_message(settings, message)

    assert run_outbox(clinic.db, now=due, sender=first_worker).sent == 1
    assert [run.sent for run in meanwhile] == [0]
    assert len(mailbox.arrived) == 1


def test_the_consent_is_dated_by_the_clinic_s_clock(clinic: SmallClinic) -> None:
    """An answer taken at 9 p.m. at the clinic is that day's, though UTC is already tomorrow."""
    evening = dt.datetime.combine(
        clinic.calendar.local_date(NOW), dt.time(21, 0), tzinfo=clinic.calendar.tz
    )
    ada = clinic.ids["Ada Lovelace"]
    set_reminder_consent(clinic.db, FRONT_DESK, ada, True, now=evening.astimezone(dt.UTC))
    recorded = reminder_consent(clinic.db, ada).recorded_at
    assert recorded is not None
    assert recorded.date() == evening.date()
    assert recorded == evening
