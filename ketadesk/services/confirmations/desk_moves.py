"""The schedule-change call a move made without the patient owes, kept in the move's own
transaction (``booking.appointment_changes.move``, ``booking.series_moves.move_series``).

The rules are ``scheduling/move_calls``: a move the patient was not told of owes one call,
due at once, for the front desk, as a closure's re-plan does.  Each move event of a session the
call is about links to it (``schedule_changes.LINK``, with the start the patient knows), so the
confirmation list shows the visit "Moved: tell the new time" and a call reached confirms it, as
for a closure's call.  Moved again before the call is made, the same call names the newest
time; moved back where the patient knows it (an undo too) or told at last (a move with the
patient on the phone), the call is closed.  Cancelled or missed before the call is made
(``follow_status``: a cancellation, a series ended, from the status change's own transaction),
the session leaves the call, which closes saying why when nothing is left to tell; the
cancellation undone, the call is open again.  A closure's re-plan moving or leaving a session a
call tells (``owed_calls`` before it, ``hand_over`` after) has the closure's own call tell it,
and ``take_back`` gives the call back when the closure is undone.  Every call opened, re-told,
closed or re-opened is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.followup_rules import SCHEDULE_CHANGE_CALL
from ketadesk.scheduling.move_calls import (
    CALL_ROLE,
    MOVED_BACK,
    NO_LONGER_OWED,
    TAKEN_OVER,
    TOLD_AT_MOVE,
    Gone,
    ToTell,
    call_words,
    gone_words,
    owes_call,
)
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.services.access import audit
from ketadesk.services.common.context import Actor
from ketadesk.services.confirmations.schedule_changes import (
    LINK,
    latest_moves,
    link_of,
    moved_since,
)
from ketadesk.services.followups.sync import follow_up_state
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, AppointmentEvent, FollowUp, SessionType

_LIVE = ("open", "snoozed")


@dataclass(frozen=True, slots=True)
class Moved:
    """One session just moved in the caller's transaction: the appointment (at its new
    place), its move event, and where it was before this move."""

    appointment: Appointment
    event: AppointmentEvent
    was: dt.datetime


def keep_calls(
    session: Session,
    actor: Actor,
    moved: Sequence[Moved],
    *,
    patient_knows: bool,
    now: dt.datetime,
) -> list[int]:
    """Open, re-tell or close the schedule-change calls ``moved`` owes (all of one patient or
    of several); returns the calls opened."""
    if not moved:
        return []
    catalog = load_catalog(session)
    calendar = ClinicCalendar(catalog.settings)
    today = calendar.local_date(now)
    ids = [m.appointment.id for m in moved]
    # Each session's latest move before this one: the call it is linked to, if still owed.
    previous = _previous_links(session, ids, {m.event.id for m in moved})
    touched: set[int] = set()
    opening: dict[int, list[Moved]] = {}  # patient -> sessions owing a new call
    links: dict[int, tuple[int, dt.datetime]] = {}
    for m in moved:
        link = previous.get(m.appointment.id)
        if link is not None:
            fid, known = link
            touched.add(fid)
            if not patient_knows and m.appointment.starts_at != known:
                links[m.appointment.id] = (fid, known)
            continue
        if owes_call(
            was=m.was,
            new=m.appointment.starts_at,
            was_day=calendar.local_date(m.was),
            today=today,
            status=m.appointment.status,
            patient_knows=patient_knows,
        ):
            opening.setdefault(m.appointment.patient_id, []).append(m)
    opened: list[int] = []
    for patient_id, sessions in sorted(opening.items()):
        # A series moved while one of its sessions already owes a call: that call tells all.
        shared = next(
            (f for a, (f, _k) in links.items() if _patient(moved, a) == patient_id),
            None,
        )
        if shared is not None:
            fid = shared
        else:
            row = FollowUp(
                patient_id=patient_id,
                appointment_id=sessions[0].appointment.id,
                kind=SCHEDULE_CHANGE_CALL,
                due_at=now,
                deadline_at=None,
                assignee_role=CALL_ROLE,
                priority="normal",
                status="open",
                outcome="",
                created_at=now,
            )
            session.add(row)
            session.flush()
            fid = row.id
            opened.append(fid)
        for m in sessions:
            links[m.appointment.id] = (fid, m.was)
        touched.add(fid)
    for m in moved:
        link = links.get(m.appointment.id)
        if link is not None:
            fid, known = link
            m.event.detail = {
                **(m.event.detail or {}),
                LINK: {"follow_up_id": fid, "known_start": known.isoformat()},
            }
    session.flush()
    for fid in sorted(touched):
        _retell(session, actor, fid, calendar, opened=fid in opened, told=patient_knows, now=now)
    return opened


def _patient(moved: Sequence[Moved], appointment_id: int) -> int | None:
    return next(
        (m.appointment.patient_id for m in moved if m.appointment.id == appointment_id), None
    )


def _previous_links(
    session: Session, appointment_ids: Sequence[int], new_events: set[int]
) -> dict[int, tuple[int, dt.datetime]]:
    """The live call each session's previous move linked to, with the start the patient
    knows."""
    found: dict[int, tuple[int, dt.datetime]] = {}
    latest: dict[int, AppointmentEvent] = {}
    for event in session.scalars(
        select(AppointmentEvent)
        .where(
            AppointmentEvent.appointment_id.in_(sorted(appointment_ids)),
            AppointmentEvent.action == "move",
            AppointmentEvent.id.not_in(sorted(new_events)),
        )
        .order_by(AppointmentEvent.at, AppointmentEvent.id)
    ):
        latest[event.appointment_id] = event
    for appointment_id, event in latest.items():
        link = link_of(event)
        if link is None:
            continue
        row = session.get(FollowUp, link[0])
        if row is not None and row.status in _LIVE:
            found[appointment_id] = link
    return found


def follow_status(
    session: Session, actor: Actor, appointment_ids: Collection[int], *, now: dt.datetime
) -> None:
    """Keep the desk moves' calls of these sessions in step with a status change made in the
    caller's transaction: a session cancelled or missed leaves its call (closed, saying why,
    when nothing is left to tell); booked again (an undo), it is told again, a call its
    cancellation closed opened again."""
    latest = latest_moves(session, appointment_ids)
    calls = sorted({link[0] for e in latest.values() if (link := link_of(e)) is not None})
    if not calls:
        return
    session.flush()
    calendar = ClinicCalendar(load_catalog(session).settings)
    for fid in calls:
        _retell(session, actor, fid, calendar, opened=False, told=False, now=now)


def owed_calls(
    session: Session, appointment_ids: Collection[int]
) -> dict[int, tuple[int, dt.datetime]]:
    """Of these sessions, those a desk move's call still owes the patient news of: the call
    and the start the patient knows (read before a closure moves them)."""
    return _previous_links(session, sorted(appointment_ids), set())


def hand_over(
    session: Session,
    actor: Actor,
    owed: Mapping[int, tuple[int, dt.datetime]],
    *,
    left: Collection[int],
    now: dt.datetime,
) -> None:
    """A closure's call now tells the sessions ``owed`` named (``owed_calls``): each desk
    move's call lets them go, those the closure moved (their latest move is the closure's) and
    those it ``left`` without a place alike, closed ``TAKEN_OVER`` when nothing is left."""
    if not owed:
        return
    session.flush()
    calendar = ClinicCalendar(load_catalog(session).settings)
    for fid in sorted({fid for fid, _known in owed.values()}):
        _retell(
            session,
            actor,
            fid,
            calendar,
            opened=False,
            told=False,
            now=now,
            excluding=frozenset(left),
            closing=TAKEN_OVER,
        )


def take_back(session: Session, actor: Actor, moved: Sequence[Moved], *, now: dt.datetime) -> None:
    """A closure undone moved ``moved`` back: a desk move's call the closure's call took over
    tells them again (the move back links to it, with the start the patient knows), opened
    again."""
    calls: set[int] = set()
    for m in moved:
        link = None
        for event in session.scalars(
            select(AppointmentEvent)
            .where(
                AppointmentEvent.appointment_id == m.appointment.id,
                AppointmentEvent.action == "move",
                AppointmentEvent.id != m.event.id,
            )
            .order_by(AppointmentEvent.at.desc(), AppointmentEvent.id.desc())
        ):
            link = link_of(event)
            if link is not None:
                break
        if link is None:
            continue
        row = session.get(FollowUp, link[0])
        if row is None or (row.status, row.outcome) != ("cancelled", TAKEN_OVER):
            continue
        fid, known = link
        m.event.detail = {
            **(m.event.detail or {}),
            LINK: {"follow_up_id": fid, "known_start": known.isoformat()},
        }
        calls.add(fid)
    if not calls:
        return
    session.flush()
    calendar = ClinicCalendar(load_catalog(session).settings)
    for fid in sorted(calls):
        _retell(session, actor, fid, calendar, opened=False, told=False, now=now)


def _reopenable(row: FollowUp) -> bool:
    """A call closed only because its sessions went (cancelled, missed, taken over by a
    closure's call): an undo may make it owed again."""
    return row.status == "cancelled" and (
        row.outcome.startswith(NO_LONGER_OWED) or row.outcome == TAKEN_OVER
    )


def _why_released(session: Session, appointment: Appointment) -> str:
    """The reason of the change that released the session ("" when it gave none)."""
    reason = session.scalar(
        select(AppointmentEvent.reason)
        .where(
            AppointmentEvent.appointment_id == appointment.id,
            AppointmentEvent.to_status == appointment.status,
        )
        .order_by(AppointmentEvent.at.desc(), AppointmentEvent.id.desc())
        .limit(1)
    )
    return (reason or "").strip()


def _retell(
    session: Session,
    actor: Actor,
    follow_up_id: int,
    calendar: ClinicCalendar,
    *,
    opened: bool,
    told: bool,
    now: dt.datetime,
    excluding: frozenset[int] = frozenset(),
    closing: str = "",
) -> None:
    """Say on the call what is still to tell, from the sessions linked to it (but
    ``excluding``); close it when nothing is: told at the move, ``closing`` when given, its
    sessions cancelled or missed (saying so), or moved back where the patient knows it.  A call
    closed only because its sessions went is opened again when one is to tell again."""
    row = session.get(FollowUp, follow_up_id)
    if row is None:
        return
    live = row.status in _LIVE
    if not live and not _reopenable(row):
        return
    before = follow_up_state(row)
    fmt = calendar.settings.time_format
    latest = latest_moves(session, moved_since(session, row))
    to_tell: list[ToTell] = []
    gone: list[Gone] = []
    for appointment_id in sorted(latest):
        link = link_of(latest[appointment_id])
        if link is None or link[0] != row.id or appointment_id in excluding:
            continue
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            continue
        name = session.scalar(
            select(SessionType.name).where(SessionType.id == appointment.session_type_id)
        )
        label = f"{name or 'Session'}"
        if appointment.series_index is not None:
            label += f" (session {appointment.series_index})"
        if appointment.status in RELEASED_STATUSES:
            gone.append(Gone(label, appointment.status, _why_released(session, appointment)))
            continue
        to_tell.append(
            ToTell(label, calendar.local(link[1]), calendar.local(appointment.starts_at))
        )
    words = call_words(to_tell, fmt)
    if words:
        if live and words == row.outcome and not opened:
            return
        row.outcome = words
        if live:
            action = "create_follow_up" if opened else "update_follow_up"
        else:
            row.status = "open"
            row.completed_at = None
            row.completed_by_id = None
            action = "reopen_follow_up"
    elif not live:
        return
    else:
        if told:
            row.status, row.outcome = "done", TOLD_AT_MOVE
        elif closing:
            row.status, row.outcome = "cancelled", closing
        elif gone:
            row.status, row.outcome = "cancelled", gone_words(gone)
        else:
            row.status, row.outcome = "cancelled", MOVED_BACK
        row.completed_at = now
        row.completed_by_id = actor.user_id
        row.snoozed_until = None
        action = "complete_follow_up" if told else "cancel_follow_up"
    session.flush()
    audit.record(
        session,
        actor,
        action,
        "follow_up",
        row.id,
        patient_id=row.patient_id,
        before=None if opened else before,
        after=follow_up_state(row),
        detail=row.outcome,
        now=now,
    )
