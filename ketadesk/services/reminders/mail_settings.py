"""The clinic's e-mail reminder settings: its own SMTP server, the template and the outbox timing.

They live in the stored configuration (``clinic_setting``, section ``reminders``), so every
workstation and the ``ketadesk reminders send`` command read the same ones.  The password is
kept there for the worker to sign in with, and never leaves this module unmasked: the audit
trail, the form and the log see ``MASK``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import Actor, Database, InvalidFields, utcnow
from ketadesk.store import changes
from ketadesk.store.models import ClinicSetting

__all__ = [
    "MASK",
    "SECURITY_MODES",
    "ReminderSettings",
    "masked",
    "read_reminder_settings",
    "save_reminder_settings",
    "validate_reminder_settings",
]

SECTION = "reminders"
#: What stands for a stored password everywhere but the SMTP sign-in.
MASK = "********"
#: How the connection is protected: STARTTLS on a plain port, TLS from the first byte, or none
#: (only sensible for a relay on the clinic's own machine or network).
SECURITY_MODES = ("starttls", "tls", "none")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PORT_MAX = 65535

DEFAULT_SUBJECT = "Reminder: your appointment at {clinic_name} on {date}"
DEFAULT_BODY = (
    "Hello {first_name},\n\n"
    "This is a reminder of your appointment at {clinic_name} on {date} at {time}.\n"
    "The attached calendar entry adds it to your calendar.\n\n"
    "To change or cancel it, please call us at {clinic_phone}.\n\n"
    "{clinic_name}\n"
)
#: The placeholders a template may use: nothing clinical, only what a reminder needs.
PLACEHOLDERS = ("first_name", "date", "time", "clinic_name", "clinic_phone")


@dataclass(frozen=True, slots=True)
class ReminderSettings:
    """Everything the Reminders page shows and saves (numbers are the clinic's, not ours)."""

    enabled: bool = False
    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = ""
    from_address: str = ""
    hours_before: int = 24  # a reminder goes out this long before the session starts
    max_attempts: int = 3  # tries before a message is recorded as failed
    backoff_minutes: int = 15  # wait after the first refusal, doubled after each further one
    timeout_seconds: int = 20
    send_every_minutes: int = 5  # how often a running workstation sends what is due
    subject: str = DEFAULT_SUBJECT
    body: str = DEFAULT_BODY


def _from_stored(value: dict[str, Any]) -> ReminderSettings:
    known = {k: v for k, v in value.items() if k in ReminderSettings.__dataclass_fields__}
    return ReminderSettings(**known)


def read_reminder_settings(db: Database, *, reveal: bool = False) -> ReminderSettings:
    """The settings as stored; the password masked unless ``reveal`` (the sender's need only)."""
    with db.read() as session:
        row = session.get(ClinicSetting, SECTION)
        settings = _from_stored(row.value if row is not None else {})
    return settings if reveal else masked(settings)


def masked(settings: ReminderSettings) -> ReminderSettings:
    return replace(settings, password=MASK if settings.password else "")


def validate_reminder_settings(settings: ReminderSettings) -> dict[str, str]:
    """Each bad field's name and what is wrong with it (empty when the form is right)."""
    errors: dict[str, str] = {}
    if settings.security not in SECURITY_MODES:
        errors["security"] = f"must be one of {', '.join(SECURITY_MODES)}"
    if not 1 <= settings.port <= _PORT_MAX:
        errors["port"] = f"a port is a number from 1 to {_PORT_MAX}"
    if settings.enabled and not settings.host.strip():
        errors["host"] = "give the clinic's SMTP server to send reminders"
    sender = settings.from_address.strip()
    if settings.enabled and not sender:
        errors["from_address"] = "give the address reminders are sent from"
    elif sender and not _EMAIL_RE.match(sender):
        errors["from_address"] = f"{sender!r} is not an e-mail address"
    if settings.hours_before < 1:
        errors["hours_before"] = "at least one hour before the session"
    if settings.max_attempts < 1:
        errors["max_attempts"] = "at least one attempt"
    if settings.backoff_minutes < 1:
        errors["backoff_minutes"] = "at least one minute between attempts"
    if settings.send_every_minutes < 1:
        errors["send_every_minutes"] = "at least every minute"
    if settings.timeout_seconds < 1:
        errors["timeout_seconds"] = "at least one second"
    for field in ("subject", "body"):
        problem = _template_problem(getattr(settings, field))
        if problem:
            errors[field] = problem
    return errors


def _template_problem(template: str) -> str:
    if not template.strip():
        return "the template is empty"
    try:
        template.format(**dict.fromkeys(PLACEHOLDERS, ""))
    except (KeyError, IndexError) as err:
        return f"unknown placeholder {err}; use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
    except ValueError as err:
        return f"the template cannot be filled in ({err}); write {{{{ and }}}} for braces"
    return ""


def save_reminder_settings(
    db: Database, actor: Actor, settings: ReminderSettings, *, now: dt.datetime | None = None
) -> ReminderSettings:
    """Store the settings (a password of ``MASK`` keeps the stored one); returns them masked.

    Raises PermissionDenied (audited) for a role that may not configure, and InvalidFields
    (nothing saved) naming each bad field.
    """
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    settings = replace(
        settings,
        host=settings.host.strip(),
        username=settings.username.strip(),
        from_address=settings.from_address.strip(),
    )
    errors = validate_reminder_settings(settings)
    if errors:
        raise InvalidFields(errors)
    with db.write() as session:
        row = session.get(ClinicSetting, SECTION)
        before = _from_stored(row.value if row is not None else {})
        if settings.password == MASK:
            settings = replace(settings, password=before.password)
        if settings == before:
            return masked(settings)
        value = asdict(settings)
        if row is None:
            session.add(ClinicSetting(key=SECTION, value=value, updated_at=now))
        else:
            row.value = value
            row.updated_at = now
        audit.record(
            session,
            actor,
            "configure_reminders",
            "clinic_setting",
            None,
            before=asdict(masked(before)),
            after=asdict(masked(settings)),
            detail="password changed" if settings.password != before.password else "",
            now=now,
        )
        changes.bump(session, now)
    return masked(settings)
