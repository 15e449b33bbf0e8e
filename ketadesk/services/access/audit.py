"""The audit trail: one append-only event for every write a service makes.

Events are only ever inserted: this module (and the whole application) offers no way to change
or delete one.  Refused attempts and disclosures of patient data (prints, exports) are events
too; ``audit_events`` and ``appointment_history`` read the trail for the audit viewer.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, insert, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidRequest,
    PermissionDenied,
    require,
)
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, AuditEvent, Patient

_TABLE = cast(Table, AuditEvent.__table__)
_INSERT = insert(_TABLE)


def entry(
    actor: Actor,
    action: str,
    entity: str,
    entity_id: int | None,
    *,
    patient_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str = "",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """One audit event as a row, for ``write``."""
    return {
        "at": now or dt.datetime.now(dt.UTC),
        "user_id": actor.user_id,
        "username": actor.username,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "patient_id": patient_id,
        "before": before,
        "after": after,
        "detail": detail,
    }


def write(session: Session, entries: Sequence[dict[str, Any]]) -> None:
    """Insert audit events (rows from ``entry``) at once, in the session's transaction.

    A plain insert, for the hot paths (a booking writes one per appointment): it neither
    flushes the session nor builds objects.
    """
    if entries:
        session.connection().execute(_INSERT, list(entries))


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: int | None,
    *,
    patient_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str = "",
    now: dt.datetime | None = None,
) -> None:
    session.add(
        AuditEvent(
            **entry(
                actor,
                action,
                entity,
                entity_id,
                patient_id=patient_id,
                before=before,
                after=after,
                detail=detail,
                now=now,
            )
        )
    )


# --------------------------------------------------------------------------------------------
# Refusals and disclosures: events written in their own short transaction.

log = logging.getLogger(__name__)


def record_refusal(
    db: Database,
    err: PermissionDenied,
    *,
    entity: str = "permission",
    entity_id: int | None = None,
    patient_id: int | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Record that ``err``'s actor was refused its action, in a transaction of its own.

    Called by ``require(actor, action, db)`` before the service opens its transaction, or by
    a service that checked inside one, once that transaction has rolled back.  Records a given
    refusal once; a failure to record it is logged and does not hide the refusal itself.
    """
    actor = err.actor
    if actor is None or err.audited:
        return
    row = entry(
        actor,
        "refused",
        entity,
        entity_id,
        patient_id=patient_id,
        after={"action": err.action, "role": actor.role},
        detail=str(err),
        now=now,
    )
    try:
        with db.write() as session:
            write(session, [row])
    except SQLAlchemyError as failure:
        log.error("could not record a refused %s: %s", err.action, type(failure).__name__)
        return
    err.audited = True


def record_disclosure(
    db: Database,
    actor: Actor,
    what: str,
    patient_id: int | None,
    detail: str = "",
    *,
    chart: str | None = None,
    appointment_id: int | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Record that patient data left the application: a print, a PDF, an export.

    ``what`` names the document ("appointment card", "day sheet", "csv export"); ``patient_id``
    is the one patient it is about (or give ``chart`` or ``appointment_id`` and it is looked
    up), or None for a document about many (say so in ``detail``).
    """
    with db.write() as session:
        if patient_id is None and chart is not None:
            patient_id = session.scalar(select(Patient.id).where(Patient.chart_number == chart))
        if patient_id is None and appointment_id is not None:
            patient_id = session.scalar(
                select(Appointment.patient_id).where(Appointment.id == appointment_id)
            )
        write(
            session,
            [
                entry(
                    actor,
                    "disclose",
                    "document",
                    None,
                    patient_id=patient_id,
                    after={"document": what},
                    detail=detail,
                    now=now,
                )
            ],
        )


# --------------------------------------------------------------------------------------------
# Reading the trail (read-only: nothing in the application updates or deletes an event).


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

    @property
    def what(self) -> str:
        return f"{self.entity} #{self.entity_id}" if self.entity_id is not None else self.entity

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) for every field whose value differs, in a stable order."""
        before = self.before or {}
        after = self.after or {}
        keys = list(before) + [k for k in after if k not in before]
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]

    def change_summary(self) -> str:
        """The changes in one line: ``status: booked → cancelled; room: 3``."""
        parts = []
        for key, old, new in self.changes():
            if self.before is None:
                parts.append(f"{key}: {_show(new)}")
            elif self.after is None:
                parts.append(f"{key}: {_show(old)} → (removed)")
            else:
                parts.append(f"{key}: {_show(old)} → {_show(new)}")
        return "; ".join(parts)


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return value[:16].replace("T", " ")  # an ISO instant from a snapshot: minutes suffice
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
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
