"""The reminder outbox: queue a reminder for each booked session of a patient who opted in,
keep it in step with cancellations and moves, and send what is due, with retries.

One service for both workers, the application's background loop and ``ketadesk reminders
send`` (for cron): ``run_outbox`` syncs the queue and then sends.  Every message stays in the
table afterwards, sent, failed or dropped, as the record the Reminders page lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ketadesk.services.access.permissions import require
from ketadesk.services.common.addresses import one_line_address
from ketadesk.services.common.context import Actor, Database, InvalidFields, utcnow
from ketadesk.services.reminders.mail_settings import ReminderSettings, read_reminder_settings
from ketadesk.services.reminders.message import ReminderFacts, compose_reminder, test_message
from ketadesk.services.reminders.smtp_sender import SendFailed, send_message
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, Patient, ReminderConsent, ReminderMessage

__all__ = [
    "OutboxRow",
    "OutboxRun",
    "Sender",
    "outbox",
    "run_outbox",
    "send_test_message",
    "sync_outbox",
]

#: Only a booked session is reminded of: a tentative hold is not yet the patient's appointment.
REMINDED_STATUS = "booked"

#: How a message leaves: the SMTP sender, unless a caller gives another (a test never does).
Sender = Callable[[ReminderSettings, EmailMessage], None]


@dataclass(frozen=True, slots=True)
class OutboxRun:
    """What one run did."""

    queued: int = 0
    updated: int = 0
    dropped: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One message as the Reminders page lists it (the address, not the patient's name)."""

    id: int
    to_address: str
    starts_at: dt.datetime
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    last_error: str


def _due(starts_at: dt.datetime, settings: ReminderSettings) -> dt.datetime:
    return starts_at - dt.timedelta(hours=settings.hours_before)


def _sync(session: Session, settings: ReminderSettings, now: dt.datetime) -> OutboxRun:
    queued = updated = dropped = 0
    opted_in = set(
        session.scalars(select(ReminderConsent.patient_id).where(ReminderConsent.opted_in))
    )
    seen: set[tuple[int, dt.datetime]] = set()
    for message, appointment in session.execute(
        select(ReminderMessage, Appointment)
        .join(Appointment, Appointment.id == ReminderMessage.appointment_id)
        .where(ReminderMessage.status.in_(("queued", "sent")))
    ):
        if message.status == "sent":
            seen.add((appointment.id, message.starts_at))
            continue
        reason = ""
        if appointment.status != REMINDED_STATUS:
            reason = f"the session is {appointment.status.replace('_', ' ')}"
        elif appointment.starts_at <= now:
            reason = "the session began before the reminder went out"
        elif message.patient_id not in opted_in:
            reason = "the patient withdrew consent"
        if reason:
            message.status, message.last_error, message.updated_at = "dropped", reason, now
            dropped += 1
            continue
        if appointment.starts_at != message.starts_at:  # moved: the reminder follows it
            message.starts_at = appointment.starts_at
            message.next_attempt_at = max(now, _due(appointment.starts_at, settings))
            message.updated_at = now
            updated += 1
        seen.add((appointment.id, message.starts_at))
    if opted_in:
        for appointment, email in session.execute(
            select(Appointment, Patient.email)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(Appointment.status == REMINDED_STATUS)
            .where(Appointment.starts_at > now)
            .where(Appointment.patient_id.in_(opted_in))
            .where(Patient.email != "")
        ):
            if (appointment.id, appointment.starts_at) in seen:
                continue
            session.add(
                ReminderMessage(
                    appointment_id=appointment.id,
                    patient_id=appointment.patient_id,
                    to_address=email.strip(),
                    starts_at=appointment.starts_at,
                    status="queued",
                    attempts=0,
                    next_attempt_at=max(now, _due(appointment.starts_at, settings)),
                    last_error="",
                    created_at=now,
                    updated_at=now,
                )
            )
            queued += 1
    if queued or updated or dropped:
        changes.bump(session, now)
    return OutboxRun(queued=queued, updated=updated, dropped=dropped)


def sync_outbox(db: Database, *, now: dt.datetime | None = None) -> OutboxRun:
    """Queue reminders for new bookings, follow moved sessions, drop cancelled ones."""
    now = now or utcnow()
    settings = read_reminder_settings(db)
    with db.write() as session:
        return _sync(session, settings, now)


def _facts(session: Session, message: ReminderMessage) -> ReminderFacts | None:
    appointment = session.get(Appointment, message.appointment_id)
    patient = session.get(Patient, message.patient_id)
    if appointment is None or patient is None:
        return None
    clinic = load_catalog(session).settings
    return ReminderFacts(
        message_id=message.id,
        to_address=message.to_address,
        first_name=patient.preferred_name.strip() or patient.first_name,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        clinic_name=clinic.name,
        clinic_phone=clinic.phone,
        clinic_address=one_line_address(clinic.address),
        timezone=clinic.timezone,
        time_format=clinic.time_format,
    )


def _send_due(
    db: Database, settings: ReminderSettings, now: dt.datetime, sender: Sender
) -> tuple[int, int, int]:
    sent = retrying = failed = 0
    with db.read() as session:
        due = list(
            session.scalars(
                select(ReminderMessage.id)
                .where(ReminderMessage.status == "queued")
                .where(ReminderMessage.next_attempt_at <= now)
                .order_by(ReminderMessage.next_attempt_at, ReminderMessage.id)
            )
        )
    # While one worker sends a message, another (a second workstation, cron) must not: the
    # message is claimed by moving its next attempt past the send's time-out, in one UPDATE
    # that only one of them can win on SQLite and PostgreSQL alike.
    lease = now + dt.timedelta(seconds=2 * settings.timeout_seconds)
    for message_id in due:
        # One short transaction per message: a slow server never holds the database.
        with db.write() as session:
            claimed = session.connection().execute(
                update(ReminderMessage)
                .where(ReminderMessage.id == message_id)
                .where(ReminderMessage.status == "queued")
                .where(ReminderMessage.next_attempt_at <= now)
                .values(next_attempt_at=lease)
            )
            message = session.get(ReminderMessage, message_id) if claimed.rowcount == 1 else None
            facts = _facts(session, message) if message is not None else None
        if facts is None:
            continue
        error = ""
        try:
            sender(settings, compose_reminder(settings, facts, now))
        except SendFailed as err:
            error = str(err)
        with db.write() as session:
            message = session.get(ReminderMessage, message_id)
            if message is None or message.status != "queued":
                continue
            message.attempts += 1
            message.updated_at = now
            if not error:
                message.status, message.sent_at, message.last_error = "sent", now, ""
                sent += 1
            elif message.attempts >= settings.max_attempts:
                message.status, message.last_error = "failed", error
                failed += 1
            else:
                wait = settings.backoff_minutes * 2 ** (message.attempts - 1)
                message.next_attempt_at = now + dt.timedelta(minutes=wait)
                message.last_error = error
                retrying += 1
            changes.bump(session, now)
    return sent, retrying, failed


def run_outbox(
    db: Database, *, now: dt.datetime | None = None, sender: Sender = send_message
) -> OutboxRun:
    """Sync the queue, then send every message that is due (nothing while reminders are off)."""
    now = now or utcnow()
    settings = read_reminder_settings(db, reveal=True)
    if not settings.enabled:
        return OutboxRun()
    with db.write() as session:
        synced = _sync(session, settings, now)
    sent, retrying, failed = _send_due(db, settings, now, sender)
    return OutboxRun(synced.queued, synced.updated, synced.dropped, sent, retrying, failed)


def outbox(db: Database, actor: Actor, *, limit: int = 200) -> list[OutboxRow]:
    """The latest messages, newest first, for an administrator."""
    require(actor, "configure", db)
    with db.read() as session:
        rows = session.scalars(
            select(ReminderMessage).order_by(ReminderMessage.id.desc()).limit(limit)
        )
        return [
            OutboxRow(
                m.id,
                m.to_address,
                m.starts_at,
                m.status,
                m.attempts,
                m.next_attempt_at,
                m.sent_at,
                m.last_error,
            )
            for m in rows
        ]


def send_test_message(
    db: Database,
    actor: Actor,
    to_address: str,
    *,
    now: dt.datetime | None = None,
    sender: Sender = send_message,
) -> str:
    """Send a test message with the stored settings; returns what happened, in a sentence.

    InvalidFields on "test_address" for a bad address; a refusal is reported, not raised."""
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    address = to_address.strip()
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise InvalidFields({"test_address": "give an e-mail address to send the test to"})
    settings = read_reminder_settings(db, reveal=True)
    if not settings.host or not settings.from_address:
        raise InvalidFields({"host": "save the server and the from address first"})
    try:
        sender(settings, test_message(settings, address, now))
    except SendFailed as err:
        return f"Not sent: {err}"
    return f"Sent to {address} through {settings.host}:{settings.port}."
