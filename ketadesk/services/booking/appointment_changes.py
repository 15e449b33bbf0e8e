"""The life of an appointment after it is booked: moving it, and its status changes (check in,
start, complete, no-show, cancel) and their undo, one short transaction each.

Each transaction locks the appointment first (``lock_appointments``) and re-reads it under the
lock, then the resources it will hold (``plan_check``), so two workstations acting on one
appointment queue up instead of deadlocking, and the second one is judged on what the first
one wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Table,
    delete,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import HoldMode
from ketadesk.scheduling.fees import FEE_KIND_NAMES, money
from ketadesk.scheduling.held_changes import HELD_KEY, Held, distinct_held, held_snapshot
from ketadesk.scheduling.model import PlannedHold, PlannedSession, ResourceInfo
from ketadesk.scheduling.protocol_rules import Finding
from ketadesk.scheduling.ride_home import RideHome
from ketadesk.scheduling.status_times import too_early_in
from ketadesk.scheduling.statuses import MOVABLE_STATUSES, RELEASED_STATUSES, TRANSITIONS
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require, unassigned_refusal
from ketadesk.services.booking import rule_check, start_check
from ketadesk.services.booking.booking import room_of, snapshot_of, write_holds
from ketadesk.services.booking.changed_elsewhere import changed_elsewhere
from ketadesk.services.booking.contention import retried_once
from ketadesk.services.booking.plan_check import (
    calendar_for,
    check_patient_free,
    conflict_from,
    verify_plan,
)
from ketadesk.services.booking.planning import load_patient_facts
from ketadesk.services.common.context import (
    Actor,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    utcnow,
)
from ketadesk.services.common.session_words import session_words
from ketadesk.services.confirmations import desk_moves
from ketadesk.services.fees import fees
from ketadesk.services.followups import sync, urgent_reviews
from ketadesk.services.monitoring import completion
from ketadesk.services.monitoring.reading_schedule import bp_alert
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog, load_config
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    Patient,
    Resource,
    ResourceHold,
    User,
)


@dataclass(frozen=True)
class StatusChange:
    appointment_id: int
    from_status: str
    to_status: str
    version: int
    event_id: int
    #: What the change went ahead despite (a standing urgent review under "warn").
    warnings: tuple[str, ...] = ()
    #: What else the change did that the person should know (a no-show fee recorded as owed).
    notes: tuple[str, ...] = ()


#: What each action is called wherever a person sees it (buttons, menus, the undo stack), in
#: the order they are offered; one that asks for a reason (cancel) gets "…" on buttons.
ACTION_NAMES: dict[str, str] = {
    "check_in": "Check in",
    "start": "Start session",
    "complete": "Complete",
    "no_show": "No-show",
    "cancel": "Cancel",
}
ASKS_REASON = frozenset({"cancel"})


def action_button_text(action: str) -> str:
    """The action's name on a button or menu item ("Cancel…" when it will ask why)."""
    return ACTION_NAMES[action] + ("…" if action in ASKS_REASON else "")


_HOLD = cast(Table, ResourceHold.__table__)


def move(
    db: Database,
    actor: Actor,
    appointment_id: int,
    new: PlannedSession,
    *,
    expected_version: int | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
    overrides: Mapping[str, str] | None = None,
    patient_knows: bool = False,
) -> StatusChange:
    """Move one appointment to a new time and resources (given by the planner).

    The protocol and gating rules are judged again inside the transaction
    (``rule_check``); ``overrides`` (rule code -> reason) are a clinician's decision to go
    ahead despite a "warn" rule, recorded with the appointment and audited.

    ``patient_knows``: the patient was told the new time as it was moved (on the phone, at
    the desk); otherwise the move may owe a schedule-change call, opened, re-told or closed in
    the same transaction (``confirmations.desk_moves``, ``scheduling/move_calls``)."""
    require(actor, "move", db, now=now)
    now = now or utcnow()
    if not new.placed:
        raise InvalidRequest("the new time is not placed: " + ", ".join(new.problems))
    if new.start < now:
        raise InvalidRequest("an appointment cannot be moved into the past")

    def write() -> StatusChange:
        with db.write() as session:
            appointment = _get_appointment(session, appointment_id, expected_version)
            if appointment.status not in MOVABLE_STATUSES:
                raise InvalidRequest(
                    f"{session_words(session, appointment)} is "
                    f"{appointment.status.replace('_', ' ')} and cannot be moved"
                )
            config = load_config(session)
            catalog = config.catalog
            type_code = config.session_type_code(appointment.session_type_id)
            if new.session_type != type_code:
                raise InvalidRequest(
                    f"{session_words(session, appointment)} is a {type_code} session; a move "
                    "keeps the "
                    f"session type (got {new.session_type})"
                )
            calendar = calendar_for(session, catalog, [new])
            resources = verify_plan(session, calendar, [new], ignore_appointments=[appointment.id])
            check_patient_free(
                session, calendar, appointment.patient_id, [new], config, ignore=appointment.id
            )
            findings = rule_check.judge_moves(
                session,
                config,
                appointment.patient_id,
                {appointment.id: new},
                facts=None
                if appointment.status == "tentative"
                else load_patient_facts(
                    session, appointment.patient_id, catalog, excluding=[appointment.id]
                ),
                overrides=overrides,
            )
            overridden = rule_check.enforce(findings, actor, catalog, fresh=overrides)
            held = clear_holds(session, [appointment.id])
            was = appointment.starts_at
            event = relocate(
                session,
                actor,
                appointment,
                new,
                resources,
                reason=reason,
                now=now,
                held_before=held.get(appointment.id, ()),
            )
            desk_moves.keep_calls(
                session,
                actor,
                [desk_moves.Moved(appointment, event, was)],
                patient_knows=patient_knows,
                now=now,
            )
            rule_check.record_overrides(
                session, actor, overridden, appointment.id, appointment.patient_id, now=now
            )
            session.flush()
            changes.bump(session, now)
            return StatusChange(
                appointment.id,
                appointment.status,
                appointment.status,
                appointment.version,
                event.id,
            )

    try:
        return retried_once(write)
    except IntegrityError as err:
        raise conflict_from(err) from None
    except PermissionDenied as err:
        # An override by a role that may not give it, found inside the transaction.
        audit.record_refusal(db, err, entity="appointment", entity_id=appointment_id, now=now)
        raise


def relocate(
    session: Session,
    actor: Actor,
    appointment: Appointment,
    planned: PlannedSession,
    resources: Mapping[int, ResourceInfo],
    *,
    reason: str,
    now: dt.datetime,
    detail: Mapping[str, Any] | None = None,
    held_before: Sequence[Held] | None = None,
) -> AppointmentEvent:
    """Put an appointment at its new time and resources, with its event and audit.

    Its old holds must already be deleted (a series move deletes all of its sessions' holds
    first, so one session may take the slot the next one leaves): ``clear_holds`` deletes
    them and says what they were, ``held_before``, which the event and the audit record
    before and after (each need's resource by id and name), so the history can say a change
    of nurse or monitor at the same time and room.
    """
    before = snapshot_of(appointment)
    session.expire(appointment, ["holds"])
    write_holds(session, appointment.id, planned.holds)
    appointment.starts_at = planned.start
    appointment.ends_at = planned.end
    appointment.room_id = room_of(planned, resources)
    appointment.updated_at = now
    session.flush()
    after = snapshot_of(appointment)
    # A session that held nothing before (rows written without their holds) says nothing of
    # its resources: the history then reads as it always did, not "none → Room 1".
    if held_before:
        before[HELD_KEY] = held_snapshot(held_before)
        after[HELD_KEY] = held_snapshot(_held_by_plan(session, planned, resources))
    event = AppointmentEvent(
        appointment_id=appointment.id,
        at=now,
        user_id=actor.user_id,
        action="move",
        from_status=appointment.status,
        to_status=appointment.status,
        reason=reason,
        detail={"before": before, "after": after, **(detail or {})},
    )
    session.add(event)
    audit.record(
        session,
        actor,
        "move",
        "appointment",
        appointment.id,
        patient_id=appointment.patient_id,
        before=before,
        after=after,
        detail=reason,
        now=now,
    )
    sync.sync_follow_ups(session, actor, [appointment.id], now=now)
    return event


def clear_holds(session: Session, appointment_ids: Iterable[int]) -> dict[int, tuple[Held, ...]]:
    """Delete the appointments' holds before a move writes their new ones, and say what each
    held (each need's resource, by id and its name now, in the order held) for the move's
    history (``relocate``'s ``held_before``)."""
    ids = sorted(set(appointment_ids))
    rows = session.execute(
        select(
            ResourceHold.appointment_id,
            ResourceHold.need,
            Resource.kind,
            Resource.id,
            Resource.name,
        )
        .join(Resource, Resource.id == ResourceHold.resource_id)
        .where(ResourceHold.appointment_id.in_(ids))
        .order_by(ResourceHold.appointment_id, ResourceHold.starts_at, Resource.sort_order)
    ).all()
    found: dict[int, list[Held]] = {}
    for appointment_id, need, kind, resource_id, name in rows:
        found.setdefault(appointment_id, []).append(Held(need, kind, resource_id, name))
    session.execute(delete(_HOLD).where(_HOLD.c.appointment_id.in_(ids)))
    return {a: distinct_held(held) for a, held in found.items()}


def _held_by_plan(
    session: Session, planned: PlannedSession, resources: Mapping[int, ResourceInfo]
) -> tuple[Held, ...]:
    """What a planned session holds, each need's resource named (a resource the plan's check
    did not name read from the database)."""
    holds = sorted(planned.holds, key=lambda h: h.span.start)
    missing = sorted({h.resource_id for h in holds if h.resource_id not in resources})
    named = {rid: (info.kind.value, info.name) for rid, info in resources.items()}
    if missing:
        named |= {
            rid: (kind, name)
            for rid, kind, name in session.execute(
                select(Resource.id, Resource.kind, Resource.name).where(Resource.id.in_(missing))
            )
        }

    def held(hold: PlannedHold) -> Held:
        kind, name = named.get(hold.resource_id, ("", f"#{hold.resource_id}"))
        return Held(hold.need, kind, hold.resource_id, name)

    return distinct_held(held(h) for h in holds)


def lock_appointments(session: Session, appointment_ids: Iterable[int]) -> dict[int, Appointment]:
    """Lock appointments, in id order, and read them as they are now (what another workstation
    committed while this one waited included).

    The first lock of every transaction that changes an existing appointment: the resources
    come after (``plan_check.verify_plan``), then the patient, and the change counter last.
    ``FOR NO KEY UPDATE`` queues writers of the appointment without blocking rows that merely
    refer to it (an event, a follow-up).  SQLite has no row locks: its write transactions
    begin IMMEDIATE and run one at a time.
    """
    rows = session.scalars(
        select(Appointment)
        .where(Appointment.id.in_(sorted(set(appointment_ids))))
        .order_by(Appointment.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).all()
    return {row.id: row for row in rows}


def _get_appointment(
    session: Session, appointment_id: int, expected_version: int | None
) -> Appointment:
    appointment = lock_appointments(session, [appointment_id]).get(appointment_id)
    if appointment is None:
        raise NotFound(f"no appointment #{appointment_id}")
    if expected_version is not None and appointment.version != expected_version:
        raise changed_elsewhere(session, appointment)
    return appointment


def assigned_staff(session: Session, appointment_id: int) -> set[int]:
    """The staff members (resource ids) an appointment holds in any of its phases: its
    clinicians."""
    return set(
        session.scalars(
            select(ResourceHold.resource_id)
            .join(Resource, Resource.id == ResourceHold.resource_id)
            .where(ResourceHold.appointment_id == appointment_id, Resource.kind == "staff")
        )
    )


def staff_member_of(session: Session, actor: Actor) -> int | None:
    """The staff member (resource id) the actor's account is linked to, if any."""
    if actor.user_id is None:
        return None
    return session.scalar(select(User.staff_id).where(User.id == actor.user_id))


def _require_assigned(session: Session, actor: Actor, action: str, appointment_id: int) -> None:
    refusal = unassigned_refusal(
        actor,
        action,
        appointment_id,
        assigned_staff(session, appointment_id),
        staff_member_of(session, actor),
    )
    if refusal is not None:
        raise refusal


def change_status(
    db: Database,
    actor: Actor,
    appointment_id: int,
    action: str,
    *,
    reason: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
    overrides: Mapping[str, str] | None = None,
    ride: RideHome | None = None,
    chair_confirmed: bool = False,
) -> StatusChange:
    """Check in, start, complete, mark a no-show or cancel an appointment.

    Completing a dosing session discharges its patient: the chair's discharge rules
    (``completion.check_complete``), then, for a type after which the patient may not drive,
    the ride home (``ride``: refused, ``RideNeeded``, without it); the discharge time and the
    minutes monitored are recorded on the monitoring record, the ride with the change.

    A start in a room where another patient is checked in that day and not started is refused
    with ``ChairTaken`` (who is there) unless ``chair_confirmed``: the desk asked and the
    nurse said go ahead.  A start while a BP over the hard stop stands goes ahead (the nurse
    starts the monitoring) and says it among the warnings.

    Starting judges the session's gating rules again at the clinic's today
    (``start_check``): a "block" refuses, a "warn" refuses unless ``overrides`` (rule code ->
    reason) give a reason, the decision of a role allowed to override, recorded with the
    appointment and audited."""
    if action not in TRANSITIONS:
        raise InvalidRequest(f"unknown action {action!r}")
    require(actor, action, db, now=now)
    now = now or utcnow()
    sources, target = TRANSITIONS[action]
    if action == "cancel" and not reason.strip():
        raise InvalidRequest("a cancellation needs a reason")

    def write() -> StatusChange:
        with db.write() as session:
            appointment = _get_appointment(session, appointment_id, expected_version)
            _require_assigned(session, actor, action, appointment_id)
            if appointment.status == target:
                raise InvalidRequest(
                    f"{session_words(session, appointment)} is already {target.replace('_', ' ')}"
                )
            if appointment.status not in sources:
                raise InvalidRequest(
                    f"{session_words(session, appointment)} is "
                    f"{appointment.status.replace('_', ' ')}; it cannot be "
                    f"{target.replace('_', ' ')}"
                )
            warnings: list[str] = []
            overridden: list[Finding] = []
            ride_home: RideHome | None = None
            discharge_before: dict[str, Any] | None = None
            _refuse_too_early(session, appointment, action, now)
            if action == "start":
                _refuse_a_taken_chair(session, appointment, confirmed=chair_confirmed)
                unsafe = bp_alert(session, appointment.id, now=now, starting=True)
                if unsafe:
                    warnings.append(f"Started for monitoring only. {unsafe}")
                config = load_config(session)
                # The gating rules again, at today's date: a consent, authorization or
                # certification may have lapsed since the booking.
                overridden = start_check.enforce_start(
                    start_check.judge_start(
                        session, config, appointment, now=now, overrides=overrides
                    ),
                    actor,
                    config,
                    fresh=overrides,
                )
                spec = config.catalog.session_types.get(
                    config.session_type_code(appointment.session_type_id)
                )
                if spec is not None and spec.dosing:
                    # A standing urgent review holds dosing back: refused, or a warning.
                    warned = urgent_reviews.dosing_check(
                        session,
                        config.catalog,
                        appointment.patient_id,
                        now=now,
                        doing="start this dosing session",
                    )
                    warnings.extend([warned] if warned else [])
            if action == "complete":
                # Completing a dosing session discharges its patient: the chair's rules
                # (observation minutes, readings, effects resolved) or a prescriber's override.
                warnings.extend(completion.check_complete(session, appointment, now=now))
                ride_home = completion.check_ride(session, appointment, ride)
                discharge_before = completion.record_discharge(session, appointment, now=now)
            before = snapshot_of(appointment)
            previous = appointment.status
            appointment.status = target
            appointment.updated_at = now
            detail: dict[str, Any] = {"warnings": warnings} if warnings else {}
            said = reason
            if action == "complete" and discharge_before is not None:
                # What the record held before, for the undo to put back.
                detail["record_before"] = discharge_before
            if action == "complete" and ride_home is not None:
                detail["ride"] = ride_home.as_detail()
                said = "; ".join(w for w in (reason, ride_home.words) if w)
            if target in RELEASED_STATUSES:
                for hold in appointment.holds:
                    hold.active = False
            if action == "cancel":
                catalog = load_catalog(session)
                late = appointment.starts_at - now < dt.timedelta(
                    hours=catalog.settings.late_cancel_hours
                )
                appointment.late_cancel = late
                detail["late_cancel"] = late
            event = AppointmentEvent(
                appointment_id=appointment.id,
                at=now,
                user_id=actor.user_id,
                action=action,
                from_status=previous,
                to_status=target,
                reason=reason,
                detail=detail,
            )
            session.add(event)
            session.flush()
            rule_check.record_overrides(
                session, actor, overridden, appointment.id, appointment.patient_id, now=now
            )
            notes: list[str] = []
            if action in ("cancel", "no_show"):
                # The fee it owes (scheduling/fees.py), written with the change it is for.
                config = load_config(session)
                fee = fees.charge_for_status_change(
                    session,
                    actor,
                    appointment,
                    action,
                    event_id=event.id,
                    catalog=config.catalog,
                    session_type=config.session_type_code(appointment.session_type_id),
                    now=now,
                )
                if fee is not None:
                    notes.append(
                        f"{FEE_KIND_NAMES.get(fee.kind, fee.kind)} fee "
                        f"{money(fee.amount_cents, fee.currency)} recorded as owed (Go ▸ Fees)"
                    )
            audit.record(
                session,
                actor,
                action,
                "appointment",
                appointment.id,
                patient_id=appointment.patient_id,
                before=before,
                after=snapshot_of(appointment),
                detail="; ".join([said, *warnings]) if warnings else said,
                now=now,
            )
            sync.sync_follow_ups(session, actor, [appointment.id], now=now)
            if target in RELEASED_STATUSES:
                # A desk move's call about it has nothing left to tell (scheduling/move_calls).
                desk_moves.follow_status(session, actor, [appointment.id], now=now)
            session.flush()  # every row written before the change counter, the last lock taken
            changes.bump(session, now)
            return StatusChange(
                appointment.id,
                previous,
                target,
                appointment.version,
                event.id,
                warnings=tuple(warnings),
                notes=tuple(notes),
            )

    try:
        return retried_once(write)
    except PermissionDenied as err:
        # Checked inside the write transaction (whose session it is is read there): the
        # refusal is recorded now that the transaction is over.
        audit.record_refusal(db, err, entity="appointment", entity_id=appointment_id, now=now)
        raise


def _refuse_too_early(
    session: Session, appointment: Appointment, action: str, now: dt.datetime
) -> None:
    """A check-in or start before the session's day, a no-show before its start: refused by
    the rule the views grey their actions by (``scheduling/status_times``)."""
    early = too_early_in(load_catalog(session).settings, action, appointment.starts_at, now)
    if early is not None:
        raise InvalidRequest(early.refusal)


class ChairTaken(InvalidRequest):
    """A start in a room another patient of that day is checked in to and not started: who is
    there, so the desk can ask before both are in one chair (a user trial: a Spravato patient
    started in Room 4 while an IV patient, checked in, still held it, and nobody said so)."""

    def __init__(self, message: str, who: tuple[str, ...]) -> None:
        super().__init__(message)
        self.who = who


def _refuse_a_taken_chair(
    session: Session, appointment: Appointment, *, confirmed: bool = False
) -> None:
    """A session starts in its room only while the room has a place for it: as many sessions in
    progress there as the room holds (a chair: one).  The one before may still be there, running
    late or never completed on the record: the desk is told whom to complete or where to go."""
    if appointment.room_id is None:
        return
    room = session.get(Resource, appointment.room_id)
    if room is None:
        return
    # That day's sessions: one left "in progress" on an earlier day is a record to finish
    # (its form is owed), not a patient in the chair.
    calendar = ClinicCalendar(load_catalog(session).settings)
    day = calendar.day_bounds(calendar.local_date(appointment.starts_at))
    there = session.execute(
        select(Appointment.id, Appointment.starts_at, Patient.last_name, Patient.first_name)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            Appointment.room_id == appointment.room_id,
            Appointment.status == "in_progress",
            Appointment.id != appointment.id,
            Appointment.starts_at >= day.start,
            Appointment.starts_at < day.end,
        )
        .order_by(Appointment.starts_at)
    ).all()
    if len(there) >= max(1, room.capacity):
        who = "; ".join(f"{last}, {first} (#{aid})" for aid, _starts, last, first in there)
        raise InvalidRequest(
            f"{room.name} is still in use: {who} in progress there; complete that session "
            "first (or undo its start), or move this one to a free room"
        )
    if confirmed:
        return
    waiting = session.execute(
        select(Appointment.starts_at, Patient.last_name, Patient.first_name)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            Appointment.room_id == appointment.room_id,
            Appointment.status == "checked_in",
            Appointment.id != appointment.id,
            Appointment.starts_at >= day.start,
            Appointment.starts_at < day.end,
        )
        .order_by(Appointment.starts_at)
    ).all()
    if not waiting:
        return
    held_by = tuple(
        f"{last}, {first} (checked in, booked {calendar.clock(starts)})"
        for starts, last, first in waiting
    )
    raise ChairTaken(
        f"{room.name} is held by {'; '.join(held_by)}: start this session there anyway?",
        held_by,
    )


def undo_status(
    db: Database,
    actor: Actor,
    appointment_id: int,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> StatusChange:
    """Take back the latest status change (a no-show marked by mistake, a cancel).

    Released holds are taken again only if nobody booked the slot in the meantime.
    ``expected_version``: the version the change left (refused, ``ChangedElsewhere``, when the
    appointment was changed since).
    """
    now = now or utcnow()

    def write() -> StatusChange:
        with db.write() as session:
            appointment = _get_appointment(session, appointment_id, expected_version)
            last = session.scalar(
                select(AppointmentEvent)
                .where(
                    AppointmentEvent.appointment_id == appointment.id,
                    AppointmentEvent.action.in_((*TRANSITIONS, "undo")),
                )
                .order_by(AppointmentEvent.at.desc(), AppointmentEvent.id.desc())
                .limit(1)
            )
            if last is None or last.action == "undo" or last.from_status is None:
                raise InvalidRequest(f"{session_words(session, appointment)} has no change to undo")
            require(actor, last.action)
            _require_assigned(session, actor, last.action, appointment_id)
            if last.to_status != appointment.status:
                raise InvalidRequest(
                    f"{session_words(session, appointment)} changed since; reload it"
                )
            before = snapshot_of(appointment)
            if (
                appointment.status in RELEASED_STATUSES
                and last.from_status not in RELEASED_STATUSES
            ):
                if appointment.series_id is not None:
                    # Its place in the series was made up since (services/rebooking): two live
                    # sessions cannot hold one place, and the make-up is the one booked now.
                    made_up = session.scalar(
                        select(Appointment).where(
                            Appointment.series_id == appointment.series_id,
                            Appointment.series_index == appointment.series_index,
                            Appointment.id != appointment.id,
                            Appointment.status.not_in(tuple(RELEASED_STATUSES)),
                        )
                    )
                    if made_up is not None:
                        raise InvalidRequest(
                            f"session {appointment.series_index} of the series was made up "
                            f"since ({session_words(session, made_up)}); take the make-up back "
                            "first"
                        )
                config = load_config(session)
                catalog = config.catalog
                held = [
                    PlannedHold(
                        need=h.need,
                        resource_id=h.resource_id,
                        mode=HoldMode(h.mode),
                        span=Interval(h.starts_at, h.ends_at),
                        units=h.units,
                    )
                    for h in appointment.holds
                ]
                planned = PlannedSession(
                    index=appointment.series_index or 1,
                    session_type=config.session_type_code(appointment.session_type_id),
                    start=appointment.starts_at,
                    end=appointment.ends_at,
                    holds=tuple(held),
                )
                calendar = calendar_for(session, catalog, [planned])
                verify_plan(session, calendar, [planned], ignore_appointments=[appointment.id])
                check_patient_free(
                    session,
                    calendar,
                    appointment.patient_id,
                    [planned],
                    config,
                    ignore=appointment.id,
                )
                for hold in appointment.holds:
                    hold.active = True
                appointment.late_cancel = False
                fees.void_for_undo(session, actor, appointment.id, now=now)
            if last.action == "complete" and "record_before" in (last.detail or {}):
                completion.restore_discharge(session, appointment, last.detail["record_before"])
            appointment.status = last.from_status
            appointment.updated_at = now
            event = AppointmentEvent(
                appointment_id=appointment.id,
                at=now,
                user_id=actor.user_id,
                action="undo",
                from_status=last.to_status,
                to_status=last.from_status,
                detail={"undoes": last.id},
            )
            session.add(event)
            session.flush()
            audit.record(
                session,
                actor,
                f"undo_{last.action}",
                "appointment",
                appointment.id,
                patient_id=appointment.patient_id,
                before=before,
                after=snapshot_of(appointment),
                now=now,
            )
            sync.sync_follow_ups(session, actor, [appointment.id], now=now)
            if last.to_status in RELEASED_STATUSES:
                # Booked again: a desk move's call its release closed is owed again.
                desk_moves.follow_status(session, actor, [appointment.id], now=now)
            session.flush()  # every row written before the change counter, the last lock taken
            changes.bump(session, now)
            return StatusChange(
                appointment.id,
                last.to_status or "",
                appointment.status,
                appointment.version,
                event.id,
            )

    try:
        return retried_once(write)
    except IntegrityError as err:
        raise conflict_from(err) from None
    except PermissionDenied as err:
        # Checked inside the write transaction (the action undone decides who may undo it):
        # the refusal is recorded now that the transaction is over.
        audit.record_refusal(db, err, entity="appointment", entity_id=appointment_id, now=now)
        raise
