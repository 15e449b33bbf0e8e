"""A visit a closure moved and the schedule-change call that tells its new time, as one call.

A closure's re-plan (``services/settings/consequences.apply``) moves sessions and opens one
schedule-change call per patient in the same transaction, at the same instant.  The call that
tells a visit its new time is that one: the patient's schedule-change call opened at the
instant of the visit's latest move, when that move was a closure's.  A visit moved again since
(a drag, Move…) has a time the call never told, and is confirmed as any other -- unless that
move was made without the patient: then its own call tells it (``services/confirmations/
desk_moves``), linked from the move's event (``LINK``: the call and the time the patient knows).

``told_by`` reads, for the confirmation list, the call that covers each visit; ``visits_told``
the visits one call covers; ``confirm_visits_told`` keeps, when the call reached the patient,
a confirmation call on each of them (who, when, "by the schedule-change call"), so the list
counts them confirmed and its history says how.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.followup_rules import NO_NEW_TIME_WORDS
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.services.access import audit
from ketadesk.services.common.context import Actor
from ketadesk.store.models import Appointment, AppointmentEvent, ConfirmationCall, FollowUp

#: The follow-up kind a closure's re-plan opens (services/settings/consequences.CALL_KIND).
SCHEDULE_CHANGE = "schedule_change"
#: What a confirmation call kept for a reached schedule-change call says.
TOLD_NOTE = "Told the new time on the schedule-change call"
#: The key of a move event's detail that links a move made without the patient to the call
#: that tells it: {"follow_up_id": the call, "known_start": the start the patient knows (ISO)}.
LINK = "schedule_change"


@dataclass(frozen=True, slots=True)
class ScheduleChangeCall:
    """The schedule-change call that tells one visit its new time.

    Attributes:
        follow_up_id: the call on the follow-up queue.
        status: the follow-up's: open or snoozed (still owed), done.
        moved_at: when the visit was moved (the call was opened then too).
        words: what the call is to tell ("Closure: … Spravato moved from … to …").
        no_new_time: the same call also asks for a new time for a session left unplaced.
    """

    follow_up_id: int
    status: str
    moved_at: dt.datetime
    words: str
    no_new_time: bool

    @property
    def owed(self) -> bool:
        return self.status in ("open", "snoozed")


def latest_moves(session: Session, appointment_ids: Collection[int]) -> dict[int, AppointmentEvent]:
    """Each of ``appointment_ids``'s latest move event (those never moved are left out)."""
    if not appointment_ids:
        return {}
    latest: dict[int, AppointmentEvent] = {}
    for event in session.scalars(
        select(AppointmentEvent)
        .where(
            AppointmentEvent.appointment_id.in_(sorted(appointment_ids)),
            AppointmentEvent.action == "move",
        )
        .order_by(AppointmentEvent.at, AppointmentEvent.id)
    ):
        latest[event.appointment_id] = event
    return latest


def link_of(event: AppointmentEvent | None) -> tuple[int, dt.datetime] | None:
    """The desk move's call a move event links to, and the start the patient knows."""
    link = (event.detail or {}).get(LINK) if event is not None else None
    if not isinstance(link, dict) or "follow_up_id" not in link:
        return None
    known = dt.datetime.fromisoformat(str(link["known_start"]))
    return int(link["follow_up_id"]), known if known.tzinfo else known.replace(tzinfo=dt.UTC)


def _closure_moves(
    session: Session, latest: dict[int, AppointmentEvent]
) -> dict[int, tuple[int, dt.datetime]]:
    """Each visit whose latest move was a closure's: its patient and the move's instant."""
    moved = {a: e.at for a, e in latest.items() if (e.detail or {}).get("closure_id")}
    if not moved:
        return {}
    patients = dict(
        session.execute(
            select(Appointment.id, Appointment.patient_id).where(Appointment.id.in_(sorted(moved)))
        ).all()
    )
    return {a: (patients[a], at) for a, at in moved.items() if a in patients}


def told_by(session: Session, appointment_ids: Collection[int]) -> dict[int, ScheduleChangeCall]:
    """The schedule-change call (not cancelled) that tells each of ``appointment_ids`` its new
    time: for those a closure moved last, the closure's; for those last moved without the
    patient, the call that move linked."""
    latest = latest_moves(session, appointment_ids)
    found: dict[int, ScheduleChangeCall] = {}
    links = {a: link for a, e in latest.items() if (link := link_of(e)) is not None}
    if links:
        rows = {
            c.id: c
            for c in session.scalars(
                select(FollowUp).where(
                    FollowUp.id.in_(sorted({fid for fid, _k in links.values()})),
                    FollowUp.status != "cancelled",
                )
            )
        }
        for appointment_id, (fid, _known) in links.items():
            row = rows.get(fid)
            if row is not None:
                found[appointment_id] = ScheduleChangeCall(
                    row.id, row.status, latest[appointment_id].at, row.outcome, False
                )
    moves = _closure_moves(session, latest)
    if not moves:
        return found
    calls = session.scalars(
        select(FollowUp).where(
            FollowUp.kind == SCHEDULE_CHANGE,
            FollowUp.status != "cancelled",
            FollowUp.patient_id.in_(sorted({p for p, _at in moves.values()})),
        )
    ).all()
    by_moment = {(c.patient_id, c.created_at): c for c in calls}
    for appointment_id, (patient_id, at) in moves.items():
        call = by_moment.get((patient_id, at))
        if call is not None:
            found[appointment_id] = ScheduleChangeCall(
                call.id, call.status, at, call.outcome, NO_NEW_TIME_WORDS in call.outcome
            )
    return found


def moved_since(session: Session, call: FollowUp) -> list[int]:
    """The patient's sessions moved since ``call`` was opened (any move: the call's own
    and later ones), the ids a schedule-change call reads its visits from."""
    return list(
        session.scalars(
            select(AppointmentEvent.appointment_id)
            .join(Appointment, Appointment.id == AppointmentEvent.appointment_id)
            .where(
                Appointment.patient_id == call.patient_id,
                AppointmentEvent.action == "move",
                AppointmentEvent.at >= call.created_at,
            )
            .distinct()
        ).all()
    )


def visits_told(session: Session, call: FollowUp) -> list[int]:
    """The visits whose new time ``call`` tells: its patient's sessions a closure moved at the
    instant the call was opened, or moved without the patient since, and not moved again
    (otherwise) since."""
    covered = told_by(session, moved_since(session, call))
    return sorted(a for a, c in covered.items() if c.follow_up_id == call.id)


def confirm_visits_told(
    session: Session, actor: Actor, call: FollowUp, notes: str, *, now: dt.datetime
) -> list[int]:
    """Keep a "confirmed" confirmation call, in the caller's transaction, on each visit still to
    come whose new time ``call`` told: the patient was reached and told it (``notes``, what
    they said).  A visit already confirmed since its move is left as it is.  Returns the visits
    confirmed."""
    confirmed: list[int] = []
    for appointment_id in visits_told(session, call):
        appointment = session.get(Appointment, appointment_id)
        if (
            appointment is None
            or appointment.status in RELEASED_STATUSES
            or appointment.starts_at <= now
        ):
            continue
        latest = session.scalars(
            select(ConfirmationCall)
            .where(ConfirmationCall.appointment_id == appointment_id)
            .order_by(ConfirmationCall.at.desc(), ConfirmationCall.id.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.outcome == "confirmed" and latest.at >= call.created_at:
            continue
        note = f"{TOLD_NOTE}: {notes.strip()}" if notes.strip() else TOLD_NOTE
        session.add(
            ConfirmationCall(
                appointment_id=appointment_id,
                at=now,
                user_id=actor.user_id,
                username=actor.username,
                outcome="confirmed",
                note=note,
            )
        )
        session.flush()
        audit.record(
            session,
            actor,
            "confirmation_call",
            "appointment",
            appointment_id,
            patient_id=appointment.patient_id,
            before={"confirmation": latest.outcome if latest is not None else "not_called"},
            after={"confirmation": "confirmed", "note": note, "follow_up_id": call.id},
            detail=note,
            now=now,
        )
        confirmed.append(appointment_id)
    return confirmed
