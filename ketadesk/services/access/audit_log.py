"""Reading the audit trail for the audit viewer: filtered pages of events, one appointment's
history, and the users and actions to filter by.

Read-only: nothing in the application updates or deletes an event (``access/audit.py`` writes
them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.dates import short_date_time
from ketadesk.scheduling.held_changes import HELD_KEY, held_of, held_pairs, need_label
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import Actor, Database, InvalidRequest
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import AuditEvent, Patient

# Actions said in words where the stored name is not already one (the rest read as they are,
# underscores as spaces).  "view" is a reading of clinical data (``audit.record_view``).
ACTION_WORDS = {"view": "viewed"}


def action_words(action: str) -> str:
    """An action as the viewer says it: ``view`` → "viewed", ``check_in`` → "check in"."""
    return ACTION_WORDS.get(action, action.replace("_", " "))


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit event as the viewer shows it."""

    id: int
    at: dt.datetime
    local_at: dt.datetime  # ``at`` in the clinic's time zone
    user_id: int | None
    username: str
    action: str
    entity: str
    entity_id: int | None
    patient_id: int | None
    patient: str  # "chart · Last, First", or "" when the event is about no patient
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    detail: str
    #: How the clinic reads a time of day ([clinic] time_format): the viewer's times say so.
    time_format: str = "12h"
    #: The clinic's time zone: an instant in a snapshot (stored UTC) reads as the clinic's
    #: local time ("starts_at: Wed Dec 9, 2026 7:45 AM", not "2026-12-09 15:45").
    zone: str = "UTC"

    @property
    def what(self) -> str:
        if self.action == "view" and self.after and self.after.get("read"):
            # What was read, and of which session: "monitoring record (appointment #12)".
            read = str(self.after["read"])
            if self.entity != "patient" and self.entity_id is not None:
                return f"{read} ({self.entity} #{self.entity_id})"
            return read
        return f"{self.entity} #{self.entity_id}" if self.entity_id is not None else self.entity

    @property
    def action_words(self) -> str:
        return action_words(self.action)

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) for every field whose value differs, in a stable order
        (none for a reading, which changes nothing)."""
        if self.action == "view":
            return []
        before = self.before or {}
        after = self.after or {}
        keys = list(before) + [k for k in after if k not in before]
        held_before, held_after = held_of(self.before), held_of(self.after)
        if held_before is None or held_after is None:
            return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
        # A move that kept what the session held: each need that changed by its resources'
        # names then ("Nurse: Kim Lee → Ana Ruiz"), in place of the list and the room's id.
        plain = [
            (k, before.get(k), after.get(k))
            for k in keys
            if k not in (HELD_KEY, "room_id") and before.get(k) != after.get(k)
        ]
        return plain + [
            (need_label(need), old, new) for need, old, new in held_pairs(held_before, held_after)
        ]

    def change_summary(self) -> str:
        """The changes in one line: ``status: booked → cancelled; room: 3``."""
        parts = []
        for key, old, new in self.changes():
            if self.before is None:
                parts.append(f"{key}: {self.value_text(new)}")
            elif self.after is None:
                parts.append(f"{key}: {self.value_text(old)} → (removed)")
            else:
                parts.append(f"{key}: {self.value_text(old)} → {self.value_text(new)}")
        return "; ".join(parts)

    def value_text(self, value: Any) -> str:
        """A snapshot's value in words: an instant (stored UTC, ISO) as the clinic's local
        time in its time format, with the year (a trial read "starts_at 2026-12-09 15:45"
        of a 7:45 AM session); yes/no; "—" for none."""
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
            try:
                instant = dt.datetime.fromisoformat(value)
            except ValueError:
                return value
            if instant.tzinfo is None:
                instant = instant.replace(tzinfo=dt.UTC)
            local = instant.astimezone(ZoneInfo(self.zone))
            return short_date_time(local, self.time_format, year=True)
        return str(value)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the viewer asks for; every field narrows the events, None means any."""

    user: str | None = None  # a username
    patient_id: int | None = None
    patient: str | None = None  # chart number or part of a name
    since: dt.datetime | None = None
    until: dt.datetime | None = None  # exclusive
    action: str | None = None
    entity: str | None = None
    entity_id: int | None = None


def audit_events(
    db: Database,
    actor: Actor,
    *,
    user: str | None = None,
    patient_id: int | None = None,
    patient: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    action: str | None = None,
    entity: str | None = None,
    entity_id: int | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[AuditRow]:
    """The audit events matching the filters, newest first, ``limit`` from ``offset``.

    ``patient`` matches a chart number exactly or a first, last or preferred name in part;
    ``until`` is exclusive; ``first_day``/``last_day`` are the clinic's local dates, both
    included.
    """
    require(actor, "view_audit", db)
    if limit < 1 or offset < 0:
        raise InvalidRequest("limit must be at least 1 and offset not negative")
    if first_day is not None and last_day is not None and last_day < first_day:
        raise InvalidRequest("the end of the date range is before its start")
    with db.read() as session:
        calendar = ClinicCalendar(load_catalog(session).settings)
    if first_day is not None:
        start = calendar.day_bounds(first_day).start
        since = start if since is None else max(since, start)
    if last_day is not None:
        end = calendar.day_bounds(last_day).end
        until = end if until is None else min(until, end)
    if since is not None and until is not None and until <= since:
        raise InvalidRequest("the end of the date range is not after its start")
    ev = AuditEvent
    query = (
        select(ev, Patient.chart_number, Patient.last_name, Patient.first_name)
        .outerjoin(Patient, Patient.id == ev.patient_id)
        .order_by(ev.at.desc(), ev.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if user:
        query = query.where(ev.username == user)
    if patient_id is not None:
        query = query.where(ev.patient_id == patient_id)
    if patient and patient.strip():
        text = patient.strip()
        like = f"%{_escape_like(text.lower())}%"
        query = query.where(
            or_(
                Patient.chart_number == text,
                func.lower(Patient.last_name).like(like, escape="\\"),
                func.lower(Patient.first_name).like(like, escape="\\"),
                func.lower(Patient.preferred_name).like(like, escape="\\"),
                func.lower(Patient.last_name + ", " + Patient.first_name).like(like, escape="\\"),
                func.lower(Patient.first_name + " " + Patient.last_name).like(like, escape="\\"),
            )
        )
    if since is not None:
        query = query.where(ev.at >= since)
    if until is not None:
        query = query.where(ev.at < until)
    if action:
        query = query.where(ev.action == action)
    if entity:
        query = query.where(ev.entity == entity)
    if entity_id is not None:
        query = query.where(ev.entity_id == entity_id)
    with db.read() as session:
        return [
            _row(event, chart, last, first, calendar)
            for event, chart, last, first in session.execute(query)
        ]


def appointment_history(db: Database, actor: Actor, appointment_id: int) -> list[AuditRow]:
    """Everything that happened to one appointment, oldest first (booked, moved, checked in,
    cancelled, undone, ...)."""
    rows = audit_events(
        db, actor, entity="appointment", entity_id=appointment_id, limit=10_000, offset=0
    )
    return rows[::-1]


def audit_choices(db: Database, actor: Actor) -> tuple[list[str], list[str]]:
    """The usernames and actions that occur in the trail, sorted, for the viewer's filters."""
    require(actor, "view_audit", db)
    with db.read() as session:
        users = session.scalars(select(AuditEvent.username).distinct()).all()
        actions = session.scalars(select(AuditEvent.action).distinct()).all()
    return sorted(u for u in users if u), sorted(a for a in actions if a)


def _row(
    event: AuditEvent,
    chart: str | None,
    last: str | None,
    first: str | None,
    calendar: ClinicCalendar,
) -> AuditRow:
    patient = f"{chart} · {last}, {first}" if chart is not None else ""
    return AuditRow(
        id=event.id,
        at=event.at,
        local_at=calendar.local(event.at),
        user_id=event.user_id,
        username=event.username,
        action=event.action,
        entity=event.entity,
        entity_id=event.entity_id,
        patient_id=event.patient_id,
        patient=patient,
        before=event.before,
        after=event.after,
        detail=event.detail,
        time_format=calendar.settings.time_format,
        zone=calendar.settings.timezone,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
