"""A reminder e-mail: the template filled with the minimum (first name, date and time, the
clinic's name and phone; no session type, nothing clinical) and an ``.ics`` calendar entry."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from ketadesk import __version__
from ketadesk.scheduling.dates import clock
from ketadesk.services.reminders.mail_settings import ReminderSettings

__all__ = ["ReminderFacts", "compose_reminder", "test_message"]

PRODID = f"-//KetaDesk//KetaDesk {__version__} reminders//EN"
#: What the calendar entry is called: "appointment", never the kind of session.
SUMMARY = "Appointment at {clinic_name}"


@dataclass(frozen=True, slots=True)
class ReminderFacts:
    """What one reminder may say."""

    message_id: int
    to_address: str
    first_name: str
    starts_at: dt.datetime  # aware
    ends_at: dt.datetime
    clinic_name: str
    clinic_phone: str
    clinic_address: str
    timezone: str
    time_format: str = "12h"


def _fields(facts: ReminderFacts) -> dict[str, str]:
    local = facts.starts_at.astimezone(zoneinfo.ZoneInfo(facts.timezone))
    return {
        "first_name": facts.first_name,
        # US clinic: month/day; the time as the clinic reads it ([clinic] time_format).
        "date": f"{local:%A}, {local.month}/{local.day}/{local.year}",
        "time": clock(local, facts.time_format),
        "clinic_name": facts.clinic_name,
        "clinic_phone": facts.clinic_phone,
    }


def _calendar(facts: ReminderFacts, now: dt.datetime) -> bytes:
    import icalendar

    tz = zoneinfo.ZoneInfo(facts.timezone)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = icalendar.Event()
    event.add("uid", f"reminder-{facts.message_id}@ketadesk")
    event.add("dtstamp", now.astimezone(dt.UTC).replace(microsecond=0))
    event.add("dtstart", facts.starts_at.astimezone(tz))
    event.add("dtend", facts.ends_at.astimezone(tz))
    event.add("summary", SUMMARY.format(clinic_name=facts.clinic_name))
    if facts.clinic_address:
        event.add("location", facts.clinic_address)
    cal.add_component(event)
    year = facts.starts_at.astimezone(tz).year
    cal.add_missing_timezones(first_date=dt.date(year - 1, 1, 1), last_date=dt.date(year + 2, 1, 1))
    content: bytes = cal.to_ical()
    return content


def compose_reminder(
    settings: ReminderSettings, facts: ReminderFacts, now: dt.datetime
) -> EmailMessage:
    fields = _fields(facts)
    message = EmailMessage()
    message["From"] = settings.from_address
    message["To"] = facts.to_address
    message["Subject"] = settings.subject.format(**fields)
    message["Date"] = format_datetime(now.astimezone(dt.UTC))
    message["Message-ID"] = make_msgid(domain=settings.from_address.rpartition("@")[2] or None)
    message.set_content(settings.body.format(**fields))
    message.add_attachment(
        _calendar(facts, now), maintype="text", subtype="calendar", filename="appointment.ics"
    )
    return message


def test_message(settings: ReminderSettings, to_address: str, now: dt.datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.from_address
    message["To"] = to_address
    message["Subject"] = "KetaDesk: test message"
    message["Date"] = format_datetime(now.astimezone(dt.UTC))
    message.set_content(
        "This test message shows that KetaDesk can send reminders through this server.\n"
    )
    return message
