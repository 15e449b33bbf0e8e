"""The confirmation list: each booked visit of a day with its calls, and the pre-visit checklist.

``list_confirmations`` reads a day's list (by default the day ``[confirmations] days_ahead``
names: the clinic's next open day); ``record_call`` keeps one attempt (who, when, outcome,
note), cancelling through the booking service's own cancellation, with its reason;
``set_checklist_item`` ticks an item of the pre-visit checklist on the appointment.  Each write
is checked (``confirm_visits``: front desk, nurse, administrator), audited before/after and
counted (the change counter).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import SessionTypeSpec
from ketadesk.scheduling.confirmations import (
    CALL_OUTCOMES,
    NOT_CALLED,
    OUTCOME_NAMES,
    RESCHEDULED,
    RIDE_ITEM,
    TO_CALL,
    ConfirmationSettings,
    all_done,
    confirmation_day,
    confirmation_status,
    parse_confirmation_settings,
)
from ketadesk.scheduling.dates import parse_clock_time, short_date_time, typed_clock
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.booking import appointment_changes
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidFields,
    InvalidRequest,
    NotFound,
    may,
    utcnow,
)
from ketadesk.services.confirmations.schedule_changes import ScheduleChangeCall, told_by
from ketadesk.services.followups.actions import kind_roles, record_attempt_in
from ketadesk.services.followups.sync import followup_settings
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import (
    Appointment,
    ConfirmationCall,
    FollowUp,
    Patient,
    SessionType,
)

#: The longest note a call keeps.
NOTE_MAX = 2000


@dataclass(frozen=True, slots=True)
class CallAttempt:
    at: dt.datetime
    username: str
    outcome: str
    note: str

    @property
    def outcome_name(self) -> str:
        return OUTCOME_NAMES.get(self.outcome, self.outcome)


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    key: str
    name: str
    ticked: bool


@dataclass(frozen=True, slots=True)
class ConfirmationRow:
    """One visit on the list; ``status`` is the latest call's outcome (or ``not_called``)."""

    appointment_id: int
    patient_id: int
    patient_name: str
    phone: str
    start: dt.datetime
    session_type: str
    session_type_name: str
    appointment_status: str
    status: str
    attempts: tuple[CallAttempt, ...]
    checklist: tuple[ChecklistItem, ...]
    driver: str
    ride_phone: str
    ride_pickup: str  # as the clinic reads a time ("2:30 PM"), "" when none was kept
    planned_end: dt.datetime
    #: The schedule-change call that tells this visit its new time (a closure moved it), or
    #: None: while it is owed the row is ``moved`` and the one call to make is that one.
    schedule_change: ScheduleChangeCall | None = None
    #: When the ride is expected (DOMAIN.md: pickup = the planned end of observation; the
    #: session's end for a type without an observation phase); None: no ride is asked.
    pickup_planned: dt.datetime | None = None

    @property
    def status_name(self) -> str:
        return OUTCOME_NAMES.get(self.status, self.status)

    @property
    def to_call(self) -> bool:
        return self.status in TO_CALL


@dataclass(frozen=True, slots=True)
class ConfirmationList:
    day: dt.date
    timezone: str
    clinic_name: str
    rows: tuple[ConfirmationRow, ...]
    #: How the clinic reads a time of day ([clinic] time_format).
    time_format: str = "12h"

    @property
    def all_done(self) -> bool:
        return all_done(r.status for r in self.rows)

    @property
    def left_to_call(self) -> int:
        return sum(1 for r in self.rows if r.to_call)


def confirmation_settings(session: Session) -> ConfirmationSettings:
    """The clinic's ``[confirmations]`` (the defaults for a clinic stored before it existed)."""
    settings = load_catalog(session).settings
    return parse_confirmation_settings(settings.extra.get("confirmations"), "database/clinic.toml")


def observation_end(
    spec: SessionTypeSpec | None, starts_at: dt.datetime, ends_at: dt.datetime
) -> dt.datetime:
    """The planned end of a session's observation (the end of its last observation phase),
    the session's end when it has none: when the ride home is expected."""
    if spec is None:
        return ends_at
    offsets = spec.phase_offsets()
    ends = [offsets[p.key][1] for p in spec.phases if p.shade == "observation"]
    return starts_at + dt.timedelta(minutes=max(ends)) if ends else ends_at


def default_day(db: Database, *, now: dt.datetime | None = None) -> dt.date:
    """The day the list opens on: ``days_ahead`` after today, or the next open day."""
    with db.read() as session:
        catalog = load_catalog(session)
        settings = confirmation_settings(session)
    calendar = ClinicCalendar(catalog.settings)
    today = calendar.local_date(now or utcnow())
    return confirmation_day(
        today, settings.days_ahead, lambda d: calendar.opening_hours(d) is not None
    )


def list_confirmations(
    db: Database, day: dt.date | None = None, *, now: dt.datetime | None = None
) -> ConfirmationList:
    """The visits of ``day`` (the default day when None) in start order, with their calls and
    checklist.  A visit cancelled by a confirmation call stays on the list, as cancelled."""
    if day is None:
        day = default_day(db, now=now)
    with db.read() as session:
        catalog = load_catalog(session)
        settings = confirmation_settings(session)
        calendar = ClinicCalendar(catalog.settings)
        bounds = calendar.day_bounds(day)
        rows = session.execute(
            select(Appointment, Patient, SessionType)
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(Appointment.starts_at >= bounds.start, Appointment.starts_at < bounds.end)
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
        ids = [a.id for a, _p, _t in rows]
        told = told_by(session, ids)
        calls: dict[int, list[CallAttempt]] = {}
        if ids:
            for call in session.scalars(
                select(ConfirmationCall)
                .where(ConfirmationCall.appointment_id.in_(ids))
                .order_by(ConfirmationCall.at, ConfirmationCall.id)
            ):
                calls.setdefault(call.appointment_id, []).append(
                    CallAttempt(call.at, call.username, call.outcome, call.note)
                )
        out: list[ConfirmationRow] = []
        for appointment, patient, session_type in rows:
            attempts = tuple(calls.get(appointment.id, ()))
            change = told.get(appointment.id)
            status = confirmation_status(
                [(a.at, a.outcome) for a in attempts],
                change.moved_at if change is not None and change.owed else None,
            )
            if appointment.status in RELEASED_STATUSES and status != "cancelled":
                continue  # cancelled or released elsewhere: nobody to call
            if appointment.status == "released":
                continue
            ticks = appointment.checklist or {}
            out.append(
                ConfirmationRow(
                    appointment_id=appointment.id,
                    patient_id=patient.id,
                    patient_name=patient.display_name,
                    phone=patient.phone,
                    start=appointment.starts_at,
                    session_type=session_type.code,
                    session_type_name=session_type.name,
                    appointment_status=appointment.status,
                    status=status,
                    attempts=attempts,
                    checklist=tuple(
                        ChecklistItem(key, settings.items[key], bool(ticks.get(key)))
                        for key in settings.items_for(session_type.code)
                    ),
                    driver=patient.driver_name,
                    ride_phone=str(ticks.get("ride_phone") or patient.driver_phone or ""),
                    ride_pickup=typed_clock(
                        str(ticks.get("ride_pickup") or ""), catalog.settings.time_format
                    ),
                    planned_end=appointment.ends_at,
                    schedule_change=change,
                    pickup_planned=(
                        observation_end(
                            catalog.session_types.get(session_type.code),
                            appointment.starts_at,
                            appointment.ends_at,
                        )
                        if RIDE_ITEM in settings.items_for(session_type.code)
                        else None
                    ),
                )
            )
    return ConfirmationList(
        day=day,
        timezone=catalog.settings.timezone,
        clinic_name=catalog.settings.name,
        rows=tuple(out),
        time_format=catalog.settings.time_format,
    )


def _latest_outcome(session: Session, appointment_id: int) -> str:
    latest = session.scalar(
        select(ConfirmationCall.outcome)
        .where(ConfirmationCall.appointment_id == appointment_id)
        .order_by(ConfirmationCall.at.desc(), ConfirmationCall.id.desc())
        .limit(1)
    )
    return latest or NOT_CALLED


def record_call(
    db: Database,
    actor: Actor,
    appointment_id: int,
    outcome: str,
    *,
    note: str = "",
    reason: str = "",
    now: dt.datetime | None = None,
) -> None:
    """Keep one call to confirm ``appointment_id``.  ``cancelled`` cancels the appointment
    through the booking service first (its reason required, its own checks, audit and
    follow-ups), then keeps the call.  ``rescheduled`` (the visit was just moved with the
    patient on the phone, the list's Move…) keeps the new time in the call's note."""
    errors: dict[str, str] = {}
    if outcome not in CALL_OUTCOMES:
        errors["outcome"] = f"{outcome!r} is not one of {', '.join(CALL_OUTCOMES)}"
    if outcome == "cancelled" and not reason.strip():
        errors["reason"] = "a cancellation needs a reason"
    if len(note) > NOTE_MAX:
        errors["note"] = f"at most {NOTE_MAX:,} characters"
    if errors:
        raise InvalidFields(errors)
    require(actor, "confirm_visits", db, now=now)
    now = now or utcnow()
    with db.read() as session:
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound(f"no appointment #{appointment_id}")
        if appointment.status in RELEASED_STATUSES:
            raise InvalidRequest(
                f"appointment #{appointment_id} is {appointment.status.replace('_', ' ')}; "
                "there is nothing to confirm"
            )
        if outcome == RESCHEDULED:
            settings = load_catalog(session).settings
            when = short_date_time(
                ClinicCalendar(settings).local(appointment.starts_at), settings.time_format
            )
            note = f"New time {when}" + (f": {note.strip()}" if note.strip() else "")
    if outcome == "cancelled":
        # The normal cancellation: its permission, late-cancel flag, event, audit, follow-ups
        # and the waitlist's offer all follow from it as from any other cancellation.
        appointment_changes.change_status(
            db, actor, appointment_id, "cancel", reason=reason.strip(), now=now
        )
    with db.write() as session:
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
        before = _latest_outcome(session, appointment_id)
        call = ConfirmationCall(
            appointment_id=appointment_id,
            at=now,
            user_id=actor.user_id,
            username=actor.username,
            outcome=outcome,
            note=note.strip(),
        )
        session.add(call)
        session.flush()
        audit.record(
            session,
            actor,
            "confirmation_call",
            "appointment",
            appointment_id,
            patient_id=appointment.patient_id,
            before={"confirmation": before},
            after={"confirmation": outcome, "note": call.note},
            detail=reason.strip() if outcome == "cancelled" else call.note,
            now=now,
        )
        session.flush()
        _keep_on_schedule_change(session, actor, appointment_id, outcome, call.note, now=now)
        changes.bump(session, now)


#: A confirmation call's outcome as an attempt of the schedule-change call it also made.
_AS_ATTEMPT = {"confirmed": "reached", "left_message": "voicemail", "no_answer": "no_answer"}


def _keep_on_schedule_change(
    session: Session,
    actor: Actor,
    appointment_id: int,
    outcome: str,
    note: str,
    *,
    now: dt.datetime,
) -> None:
    """A confirmation call to a visit whose schedule-change call is owed was that call too: it
    is counted there (an attempt, or reached and done when the visit was confirmed), so the
    follow-up queue and the printed call list do not send the desk to ring again.  A call that
    also asks a new time for a session left without one stays open when reached: telling one
    new time did not settle that."""
    change = told_by(session, [appointment_id]).get(appointment_id)
    result = _AS_ATTEMPT.get(outcome)
    if change is None or not change.owed or result is None or not may(actor, "work_follow_up"):
        return
    row = session.get(FollowUp, change.follow_up_id)
    if row is None:
        return
    if result == "reached" and change.no_new_time:
        return
    catalog = load_catalog(session)
    if kind_roles(actor.role, row.kind, followup_settings(catalog)):
        return  # a clinic that made these calls clinical: left to its clinical roles
    said = f"On the confirmation call: {OUTCOME_NAMES[outcome].lower()}"
    record_attempt_in(
        session,
        actor,
        row,
        catalog,
        result,
        f"{said}. {note}" if note else said,
        now=now,
    )


def set_checklist_item(
    db: Database,
    actor: Actor,
    appointment_id: int,
    item: str,
    ticked: bool,
    *,
    ride_phone: str | None = None,
    ride_pickup: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Tick (or untick) ``item`` of the appointment's pre-visit checklist; the ride item also
    keeps the ride's phone and pickup time (as the desk types it: "2:30 pm", "2:30p", "230pm",
    "14:30"; kept as "14:30", local)."""
    require(actor, "confirm_visits", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound(f"no appointment #{appointment_id}")
        code = session.scalar(
            select(SessionType.code).where(SessionType.id == appointment.session_type_id)
        )
        settings = confirmation_settings(session)
        allowed = settings.items_for(code or "")
        errors: dict[str, str] = {}
        if item not in allowed:
            errors["item"] = f"{item!r} is not on this session type's checklist" + (
                f" ({', '.join(allowed)})" if allowed else " (it has none)"
            )
        if ride_phone is not None:
            digits = "".join(ch for ch in ride_phone if ch.isdigit())
            if ride_phone.strip() and len(digits) < 7:
                errors["ride_phone"] = f"{ride_phone!r} is not a phone number"
        pickup_at = parse_clock_time(ride_pickup) if ride_pickup and ride_pickup.strip() else None
        if ride_pickup is not None and ride_pickup.strip() and pickup_at is None:
            errors["ride_pickup"] = (
                f"{ride_pickup.strip()!r} is not a time of day: type it as 2:30 pm, 230pm or 14:30"
            )
        if (ride_phone is not None or ride_pickup is not None) and item != RIDE_ITEM:
            errors.setdefault("item", "only the ride keeps a phone and a pickup time")
        if appointment.status in RELEASED_STATUSES:
            errors.setdefault("item", f"the appointment is {appointment.status.replace('_', ' ')}")
        if errors:
            raise InvalidFields(errors)
        before: dict[str, Any] = dict(appointment.checklist or {})
        after = {**before, item: ticked}
        if ride_phone is not None:
            after["ride_phone"] = ride_phone.strip()
        if ride_pickup is not None:
            # Kept in one form ("14:30", the clinic's local time), said in the clinic's format.
            after["ride_pickup"] = f"{pickup_at:%H:%M}" if pickup_at is not None else ""
        appointment.checklist = after
        appointment.updated_at = now
        session.flush()
        changed = sorted(k for k in after if before.get(k) != after[k])
        audit.record(
            session,
            actor,
            "checklist",
            "appointment",
            appointment_id,
            patient_id=appointment.patient_id,
            before={k: before.get(k) for k in changed},
            after={k: after[k] for k in changed},
            now=now,
        )
        session.flush()
        changes.bump(session, now)
