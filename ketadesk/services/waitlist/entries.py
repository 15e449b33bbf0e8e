"""The waitlist's entries: who waits for which place, added, edited and taken off the list.

Each write is one short transaction under ``manage_waitlist`` (the front desk and the
administrator), audited with the entry before and after, and counted (the change counter), so
every workstation's waitlist refreshes.  ``list_entries`` reads the list with its filters, as
frozen ``WaitlistRow``s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import WEEKDAYS
from ketadesk.scheduling.dates import clock, clock_span
from ketadesk.scheduling.statuses import MOVABLE_STATUSES
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidFields,
    InvalidRequest,
    NotFound,
    may,
    utcnow,
)
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import (
    WAITLIST_KINDS,
    WAITLIST_STATUSES,
    Appointment,
    GatingOverride,
    Patient,
    Resource,
    SessionType,
    WaitlistEntry,
)

#: What each kind of wish is called on screen and on paper.
KIND_NAMES = {
    "earlier": "An earlier session",
    "series_start": "A series start",
    "preferred_time": "A preferred time",
}
#: What each status is called on screen and on paper.
STATUS_NAMES = {
    "waiting": "Waiting",
    "booked": "Booked",
    "expired": "Expired",
    "removed": "Removed",
}


@dataclass(frozen=True, slots=True)
class EntryFields:
    """What the desk types for an entry (times are local; ``deadline`` a local date)."""

    patient_id: int
    session_type: str
    kind: str = "earlier"
    weekdays: tuple[str, ...] = ()
    available_from: dt.time | None = None
    available_until: dt.time | None = None
    room_ids: tuple[int, ...] = ()
    staff_ids: tuple[int, ...] = ()
    deadline: dt.date | None = None
    notes: str = ""


@dataclass(frozen=True, slots=True)
class WaitlistRow:
    """One entry as the list shows it."""

    id: int
    patient_id: int
    patient_name: str
    chart_number: str
    phone: str
    kind: str
    session_type: str
    session_type_name: str
    weekdays: tuple[str, ...]
    available_from: dt.time | None
    available_until: dt.time | None
    room_ids: tuple[int, ...]
    room_names: tuple[str, ...]
    staff_ids: tuple[int, ...]
    staff_names: tuple[str, ...]
    deadline: dt.date | None
    notes: str
    status: str
    appointment_id: int | None
    added_at: dt.datetime
    past_deadline: bool = False
    #: How the clinic reads a time of day ([clinic] time_format).
    time_format: str = "12h"

    @property
    def fields(self) -> EntryFields:
        return EntryFields(
            patient_id=self.patient_id,
            session_type=self.session_type,
            kind=self.kind,
            weekdays=self.weekdays,
            available_from=self.available_from,
            available_until=self.available_until,
            room_ids=self.room_ids,
            staff_ids=self.staff_ids,
            deadline=self.deadline,
            notes=self.notes,
        )

    @property
    def days_text(self) -> str:
        return ", ".join(d.capitalize() for d in self.weekdays) or "Any day"

    @property
    def times_text(self) -> str:
        if self.available_from is None and self.available_until is None:
            return "Any time"
        fmt = self.time_format
        lo = clock(self.available_from, fmt) if self.available_from else "opening"
        hi = clock(self.available_until, fmt) if self.available_until else "closing"
        return f"{lo}–{hi}"

    @property
    def where_text(self) -> str:
        parts = [", ".join(self.room_names) or "any room"]
        if self.staff_names:
            parts.append("with " + ", ".join(self.staff_names))
        return "; ".join(parts)

    @property
    def deadline_text(self) -> str:
        if self.deadline is None:
            return "No deadline"
        return f"{self.deadline:%m/%d/%Y}" + (" (passed)" if self.past_deadline else "")


@dataclass(frozen=True, slots=True)
class WaitlistChoices:
    """What an entry may name: session types, rooms and staff (id, name), in the clinic's
    order."""

    session_types: tuple[tuple[str, str], ...]
    rooms: tuple[tuple[int, str], ...]
    staff: tuple[tuple[int, str], ...]
    today: dt.date = field(default=dt.date.min)
    #: How the clinic reads a time of day ([clinic] time_format): the form's times say so.
    time_format: str = "12h"


def _minute(t: dt.time | None) -> int | None:
    return None if t is None else t.hour * 60 + t.minute


def local_time(minute: int | None) -> dt.time | None:
    return None if minute is None else dt.time(minute // 60, minute % 60)


def waitlist_choices(db: Database, *, now: dt.datetime | None = None) -> WaitlistChoices:
    """The session types, rooms and staff an entry may name, and the clinic's today."""
    with db.read() as session:
        catalog = load_catalog(session)
        rows = session.execute(
            select(Resource.id, Resource.name, Resource.kind)
            .where(Resource.active.is_(True), Resource.kind.in_(("room", "staff")))
            .order_by(Resource.sort_order, Resource.name)
        ).all()
    today = ClinicCalendar(catalog.settings).local_date(now or utcnow())
    return WaitlistChoices(
        session_types=tuple((code, spec.name) for code, spec in catalog.session_types.items()),
        rooms=tuple((rid, name) for rid, name, kind in rows if kind == "room"),
        staff=tuple((rid, name) for rid, name, kind in rows if kind == "staff"),
        today=today,
        time_format=catalog.settings.time_format,
    )


def validate_entry(
    session: Session, fields: EntryFields, today: dt.date, *, new: bool
) -> dict[str, str]:
    """What is wrong with ``fields``, field by field (empty: nothing)."""
    errors: dict[str, str] = {}
    catalog = load_catalog(session)
    patient = session.get(Patient, fields.patient_id)
    if patient is None:
        errors["patient"] = f"no patient #{fields.patient_id}"
    elif not patient.active:
        errors["patient"] = f"{patient.display_name}'s chart is inactive"
    if fields.session_type not in catalog.session_types:
        errors["session_type"] = f"no session type {fields.session_type!r}"
    if fields.kind not in WAITLIST_KINDS:
        errors["kind"] = f"{fields.kind!r} is not one of {', '.join(WAITLIST_KINDS)}"
    wrong = [d for d in fields.weekdays if d not in WEEKDAYS]
    if wrong:
        errors["weekdays"] = f"{', '.join(wrong)}: use {', '.join(WEEKDAYS)}"
    lo, hi = _minute(fields.available_from), _minute(fields.available_until)
    if lo is not None and hi is not None and lo >= hi:
        errors["available_until"] = "the time of day ends before it begins"
    spec = catalog.session_types.get(fields.session_type)
    if spec is not None and lo is not None and hi is not None and hi - lo < spec.total_minutes:
        assert fields.available_from is not None
        assert fields.available_until is not None
        fmt = catalog.settings.time_format
        errors["available_until"] = (
            f"{clock_span(fields.available_from, fields.available_until, fmt)} is shorter than a "
            f"{spec.total_minutes}-minute {spec.name}"
        )
    if new and fields.deadline is not None and fields.deadline < today:
        errors["deadline"] = f"{fields.deadline:%m/%d/%Y} has already passed"
    wanted = {*fields.room_ids, *fields.staff_ids}
    if wanted:
        kinds = dict(
            session.execute(
                select(Resource.id, Resource.kind).where(Resource.id.in_(sorted(wanted)))
            ).all()
        )
        bad_rooms = [r for r in fields.room_ids if kinds.get(r) != "room"]
        bad_staff = [s for s in fields.staff_ids if kinds.get(s) != "staff"]
        if bad_rooms:
            errors["rooms"] = f"not a room: #{', #'.join(map(str, bad_rooms))}"
        if bad_staff:
            errors["staff"] = f"not a staff member: #{', #'.join(map(str, bad_staff))}"
    if len(fields.notes) > 2000:
        errors["notes"] = "at most 2,000 characters"
    return errors


def _values(fields: EntryFields) -> dict[str, Any]:
    return {
        "patient_id": fields.patient_id,
        "kind": fields.kind,
        "session_type": fields.session_type,
        "weekdays": [d for d in WEEKDAYS if d in fields.weekdays],
        "earliest_minute": _minute(fields.available_from),
        "latest_minute": _minute(fields.available_until),
        "room_ids": sorted(set(fields.room_ids)),
        "staff_ids": sorted(set(fields.staff_ids)),
        "deadline": fields.deadline,
        "notes": fields.notes.strip(),
    }


def _snapshot(entry: WaitlistEntry) -> dict[str, Any]:
    return {
        "patient_id": entry.patient_id,
        "kind": entry.kind,
        "session_type": entry.session_type,
        "weekdays": list(entry.weekdays),
        "earliest_minute": entry.earliest_minute,
        "latest_minute": entry.latest_minute,
        "room_ids": list(entry.room_ids),
        "staff_ids": list(entry.staff_ids),
        "deadline": entry.deadline.isoformat() if entry.deadline else None,
        "notes": entry.notes,
        "status": entry.status,
        "appointment_id": entry.appointment_id,
    }


def _today(session: Session, now: dt.datetime) -> dt.date:
    return ClinicCalendar(load_catalog(session).settings).local_date(now)


def add_entry(
    db: Database, actor: Actor, fields: EntryFields, *, now: dt.datetime | None = None
) -> int:
    """Put a patient on the waitlist; returns the entry's id."""
    require(actor, "manage_waitlist", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        errors = validate_entry(session, fields, _today(session, now), new=True)
        if errors:
            raise InvalidFields(errors)
        entry = WaitlistEntry(
            **_values(fields),
            status="waiting",
            created_at=now,
            updated_at=now,
            created_by_id=actor.user_id,
        )
        session.add(entry)
        session.flush()
        audit.record(
            session,
            actor,
            "add_waitlist_entry",
            "waitlist_entry",
            entry.id,
            patient_id=entry.patient_id,
            after=_snapshot(entry),
            now=now,
        )
        session.flush()
        changes.bump(session, now)
        return entry.id


def _locked(session: Session, entry_id: int) -> WaitlistEntry:
    entry = session.scalar(
        select(WaitlistEntry)
        .where(WaitlistEntry.id == entry_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if entry is None:
        raise NotFound(f"no waitlist entry #{entry_id}")
    return entry


def edit_entry(
    db: Database,
    actor: Actor,
    entry_id: int,
    fields: EntryFields,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Change what a waiting entry asks for (not whose it is)."""
    require(actor, "manage_waitlist", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        entry = _locked(session, entry_id)
        if entry.status != "waiting":
            raise InvalidRequest(
                f"waitlist entry #{entry_id} is {entry.status}; only a waiting entry is edited"
            )
        if fields.patient_id != entry.patient_id:
            raise InvalidFields({"patient": "an entry stays with its patient; add a new one"})
        before = _snapshot(entry)
        deadline_changed = fields.deadline != entry.deadline
        errors = validate_entry(session, fields, _today(session, now), new=deadline_changed)
        if errors:
            raise InvalidFields(errors)
        for key, value in _values(fields).items():
            setattr(entry, key, value)
        entry.updated_at = now
        session.flush()
        after = _snapshot(entry)
        changed = {k: v for k, v in before.items() if after[k] != v}
        audit.record(
            session,
            actor,
            "edit_waitlist_entry",
            "waitlist_entry",
            entry.id,
            patient_id=entry.patient_id,
            before=changed,
            after={k: after[k] for k in changed},
            now=now,
        )
        session.flush()
        changes.bump(session, now)


def set_status(
    db: Database,
    actor: Actor,
    entry_id: int,
    status: str,
    *,
    appointment_id: int | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
) -> None:
    """Mark an entry booked (with the appointment it got), expired or removed, or put it back
    to waiting."""
    if status not in WAITLIST_STATUSES:
        raise InvalidFields({"status": f"{status!r} is not one of {', '.join(WAITLIST_STATUSES)}"})
    if status == "booked" and appointment_id is None:
        raise InvalidFields({"appointment": "a booked entry names the appointment it got"})
    if not _booked_past_warnings(db, actor, status, appointment_id):
        require(actor, "manage_waitlist", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        entry = _locked(session, entry_id)
        if entry.status == status:
            raise InvalidRequest(f"waitlist entry #{entry_id} is already {status}")
        before = _snapshot(entry)
        entry.status = status
        entry.appointment_id = appointment_id if status == "booked" else None
        entry.updated_at = now
        session.flush()
        audit.record(
            session,
            actor,
            f"waitlist_{status}",
            "waitlist_entry",
            entry.id,
            patient_id=entry.patient_id,
            before={"status": before["status"], "appointment_id": before["appointment_id"]},
            after={"status": entry.status, "appointment_id": entry.appointment_id},
            detail=reason,
            now=now,
        )
        session.flush()
        changes.bump(session, now)


def _booked_past_warnings(
    db: Database, actor: Actor, status: str, appointment_id: int | None
) -> bool:
    """The waitlist is the front desk's, but a nurse or prescriber who booked an offered place
    past its warnings (``offers.book_offer`` with overrides: their clinical decision, which the
    desk may not take) marks the entry booked: the appointment carries the overrides they
    recorded."""
    if status != "booked" or appointment_id is None or not may(actor, "override_gate"):
        return False
    with db.read() as session:
        found = session.scalar(
            select(GatingOverride.id).where(GatingOverride.appointment_id == appointment_id)
        )
    return found is not None


def list_entries(
    db: Database,
    *,
    statuses: Sequence[str] = ("waiting",),
    session_type: str | None = None,
    text: str = "",
    entry_ids: Sequence[int] | None = None,
    now: dt.datetime | None = None,
) -> list[WaitlistRow]:
    """The entries with ``statuses`` (all when empty), of ``session_type`` (all when None),
    whose patient's name, chart or phone holds ``text``: nearest deadline first, then who has
    waited longest."""
    now = now or utcnow()
    with db.read() as session:
        catalog = load_catalog(session)
        today = ClinicCalendar(catalog.settings).local_date(now)
        query = select(WaitlistEntry, Patient).join(Patient, Patient.id == WaitlistEntry.patient_id)
        if statuses:
            query = query.where(WaitlistEntry.status.in_(tuple(statuses)))
        if session_type:
            query = query.where(WaitlistEntry.session_type == session_type)
        if entry_ids is not None:
            query = query.where(WaitlistEntry.id.in_(tuple(entry_ids)))
        rows = session.execute(query).all()
        names = dict(session.execute(select(Resource.id, Resource.name)).all())
        wanted = text.strip().casefold()
        out: list[WaitlistRow] = []
        for entry, patient in rows:
            if wanted and not any(
                wanted in value.casefold()
                for value in (patient.display_name, patient.first_name, patient.chart_number)
            ):
                digits = "".join(ch for ch in wanted if ch.isdigit())
                if not digits or digits not in patient.phone_key:
                    continue
            spec = catalog.session_types.get(entry.session_type)
            out.append(
                WaitlistRow(
                    id=entry.id,
                    patient_id=patient.id,
                    patient_name=patient.display_name,
                    chart_number=patient.chart_number,
                    phone=patient.phone,
                    kind=entry.kind,
                    session_type=entry.session_type,
                    session_type_name=spec.name if spec else entry.session_type,
                    weekdays=tuple(entry.weekdays),
                    available_from=local_time(entry.earliest_minute),
                    available_until=local_time(entry.latest_minute),
                    room_ids=tuple(entry.room_ids),
                    room_names=tuple(names.get(r, f"#{r}") for r in entry.room_ids),
                    staff_ids=tuple(entry.staff_ids),
                    staff_names=tuple(names.get(s, f"#{s}") for s in entry.staff_ids),
                    deadline=entry.deadline,
                    notes=entry.notes,
                    status=entry.status,
                    appointment_id=entry.appointment_id,
                    added_at=entry.created_at,
                    past_deadline=entry.deadline is not None and entry.deadline < today,
                    time_format=catalog.settings.time_format,
                )
            )
    out.sort(key=lambda r: (r.deadline or dt.date.max, r.added_at, r.id))
    return out


def mark_booked(
    db: Database, actor: Actor, entry_id: int, *, now: dt.datetime | None = None
) -> int:
    """Mark an entry booked with the patient's next session of its type (booked at the desk
    some other way than the waitlist's offer); returns that appointment's id."""
    require(actor, "manage_waitlist", db, now=now)
    now = now or utcnow()
    with db.read() as session:
        entry = session.get(WaitlistEntry, entry_id)
        if entry is None:
            raise NotFound(f"no waitlist entry #{entry_id}")
        appointment_id = session.scalar(
            select(Appointment.id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(
                Appointment.patient_id == entry.patient_id,
                SessionType.code == entry.session_type,
                Appointment.status.in_(tuple(MOVABLE_STATUSES)),
                Appointment.starts_at >= now,
            )
            .order_by(Appointment.starts_at, Appointment.id)
            .limit(1)
        )
        if appointment_id is None:
            patient = session.get(Patient, entry.patient_id)
            name = patient.display_name if patient else f"patient #{entry.patient_id}"
            spec = load_catalog(session).session_types.get(entry.session_type)
            what = spec.name if spec else entry.session_type
            raise InvalidRequest(
                f"{name} has no {what} booked from now on: book it first, then mark the "
                "entry booked"
            )
    set_status(
        db,
        actor,
        entry_id,
        "booked",
        appointment_id=appointment_id,
        reason="booked at the desk",
        now=now,
    )
    return appointment_id
