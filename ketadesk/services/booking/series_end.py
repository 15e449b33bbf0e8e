"""Ending a series: a prescriber stops a patient's series (sustained hypertension, a response
achieved, the patient's wish), with a reason and the day it ends, in one transaction.

Every session of the series from that day on that has not happened is cancelled with the
reason (its holds released, its follow-ups kept in step as a cancellation keeps them, no fee:
the clinic stopped it, not the patient), and the series is marked "ended" with the reason, who
and when (migration 0021).  An ended series is not at risk: its misses owe no outreach call
(``followups/sync.py``), the dropout list and the record's counts leave it alone.

``undo_end_series`` takes it back (the window's undo stack): the sessions are booked again
where they were, if their places are still free, and the series is as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import HoldMode
from ketadesk.scheduling.dates import short_date, short_date_time
from ketadesk.scheduling.model import PlannedHold, PlannedSession
from ketadesk.scheduling.series_end import (
    END_REASONS,
    SeriesEndSettings,
    ended_words,
    parse_series_end_settings,
    reason_problem,
    reason_words,
    who_may_end,
)
from ketadesk.scheduling.statuses import TRANSITIONS
from ketadesk.scheduling.words import counted
from ketadesk.services.access import audit
from ketadesk.services.booking.appointment_changes import lock_appointments
from ketadesk.services.booking.booking import snapshot_of
from ketadesk.services.booking.contention import retried_once
from ketadesk.services.booking.plan_check import (
    calendar_for,
    check_patient_free,
    conflict_from,
    verify_plan,
)
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    utcnow,
)
from ketadesk.services.confirmations import desk_moves
from ketadesk.services.followups import sync
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog, load_config
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    Patient,
    Protocol,
    Series,
    SessionType,
    User,
)

#: The statuses a series' session may be cancelled from when the series ends (those a
#: cancellation takes): a session under way or done stays as it is.
ENDED_FROM = TRANSITIONS["cancel"][0]
#: The action and entity the audit trail names an ending by.
END_ACTION = "end_series"
UNDO_ACTION = "undo_end_series"


@dataclass(frozen=True, slots=True)
class SeriesEndInfo:
    """What the End series dialog needs: the series, who may end it, and what ending it on a
    day would cancel (``to_cancel``, the sessions from that day on, in order, in words)."""

    series_id: int
    patient_id: int
    protocol_name: str
    status: str
    may_end: bool
    refusal: str  # "Only a prescriber may end a series" ("" when the actor may)
    effective: dt.date
    to_cancel: tuple[str, ...]
    reasons: tuple[tuple[str, str], ...]  # (code, words) in the order offered


@dataclass(frozen=True, slots=True)
class SeriesEnded:
    """A series ended: the words the record says, the sessions cancelled (in start order)."""

    series_id: int
    patient_id: int
    patient_name: str
    ended_on: dt.date
    words: str  # "Ended Dec 8: side effects / safety (Dr Okafor)"
    cancelled: tuple[int, ...]
    previous_status: str


def _settings(session: Session) -> tuple[SeriesEndSettings, ClinicCalendar]:
    catalog = load_catalog(session)
    return (
        parse_series_end_settings(catalog.settings.extra.get("series_end")),
        ClinicCalendar(catalog.settings),
    )


def _require(actor: Actor, settings: SeriesEndSettings) -> None:
    if actor.role not in settings.roles:
        raise PermissionDenied(who_may_end(settings), actor=actor, action=END_ACTION)


def _series(session: Session, series_id: int) -> Series:
    series = session.scalar(
        select(Series)
        .where(Series.id == series_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if series is None:
        raise NotFound(f"series #{series_id} does not exist")
    return series


def _from_day(
    session: Session, calendar: ClinicCalendar, series_id: int, effective: dt.date
) -> list[Appointment]:
    """The series' sessions not yet under way whose local day is ``effective`` or later."""
    start = calendar.day_bounds(effective).start
    ids = session.scalars(
        select(Appointment.id).where(
            Appointment.series_id == series_id,
            Appointment.starts_at >= start,
            Appointment.status.in_(sorted(ENDED_FROM)),
        )
    ).all()
    found = lock_appointments(session, ids)
    return sorted(found.values(), key=lambda a: (a.starts_at, a.id))


def end_info(
    db: Database,
    actor: Actor,
    series_id: int,
    effective: dt.date | None = None,
    *,
    now: dt.datetime | None = None,
) -> SeriesEndInfo:
    """The dialog's facts for ending ``series_id`` on ``effective`` (default: today)."""
    moment = now or utcnow()
    with db.read() as session:
        settings, calendar = _settings(session)
        series = session.get(Series, series_id)
        if series is None:
            raise NotFound(f"series #{series_id} does not exist")
        protocol = session.get(Protocol, series.protocol_id)
        day = effective or calendar.local_date(moment)
        start = calendar.day_bounds(day).start
        fmt = load_catalog(session).settings.time_format
        rows = session.execute(
            select(Appointment.series_index, Appointment.starts_at, SessionType.name)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(
                Appointment.series_id == series_id,
                Appointment.starts_at >= start,
                Appointment.status.in_(sorted(ENDED_FROM)),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
        words = tuple(
            f"{index}/{series.planned_count} {name}, {short_date_time(calendar.local(starts), fmt)}"
            for index, starts, name in rows
        )
        allowed = actor.role in settings.roles
        return SeriesEndInfo(
            series_id=series.id,
            patient_id=series.patient_id,
            protocol_name=protocol.name if protocol is not None else "",
            status=series.status,
            may_end=allowed,
            refusal="" if allowed else who_may_end(settings),
            effective=day,
            to_cancel=words,
            reasons=tuple(END_REASONS.items()),
        )


def end_series(
    db: Database,
    actor: Actor,
    series_id: int,
    *,
    reason: str,
    note: str = "",
    effective: dt.date | None = None,
    now: dt.datetime | None = None,
) -> SeriesEnded:
    """End ``series_id`` from ``effective`` (a local day; default today): every session of the
    series from that day on that has not begun is cancelled with the reason, and the series
    is marked "ended".  Refused for a role ``[series_end] roles`` does not name ("Only a
    prescriber may end a series"), for a missing reason, a day already past, and a series
    already ended."""
    moment = now or utcnow()
    problem = reason_problem(reason, note)
    if problem:
        raise InvalidRequest(problem)

    def write() -> SeriesEnded:
        with db.write() as session:
            settings, calendar = _settings(session)
            _require(actor, settings)
            series = _series(session, series_id)
            if series.status == "ended":
                raise InvalidRequest(
                    "this series has ended already"
                    + (f" ({short_date(series.ended_on)})" if series.ended_on else "")
                )
            day = effective or calendar.local_date(moment)
            today = calendar.local_date(moment)
            if day < today:
                raise InvalidRequest(
                    f"{short_date(day)} has passed: a series ends today ({short_date(today)}) "
                    "or on a later day"
                )
            by = _user_name(session, actor)
            words = reason_words(reason, note)
            cancelled: list[int] = []
            for appointment in _from_day(session, calendar, series_id, day):
                before = snapshot_of(appointment)
                previous = appointment.status
                appointment.status = "cancelled"
                appointment.updated_at = moment
                # The clinic stopped the series, not the patient: no late cancellation, so no
                # fee and no dropout.
                appointment.late_cancel = False
                for hold in appointment.holds:
                    hold.active = False
                session.add(
                    AppointmentEvent(
                        appointment_id=appointment.id,
                        at=moment,
                        user_id=actor.user_id,
                        action="cancel",
                        from_status=previous,
                        to_status="cancelled",
                        reason=f"Series ended: {words}",
                        detail={"series_end": series_id},
                    )
                )
                audit.record(
                    session,
                    actor,
                    "cancel",
                    "appointment",
                    appointment.id,
                    patient_id=appointment.patient_id,
                    before=before,
                    after=snapshot_of(appointment),
                    detail=f"Series ended: {words}",
                    now=moment,
                )
                cancelled.append(appointment.id)
            before_series = _series_state(series)
            previous_status = series.status
            series.status = "ended"
            series.ended_on = day
            series.end_reason = reason
            series.end_note = note.strip()
            series.ended_by_id = actor.user_id
            series.ended_at = moment
            # A desk move's call about a cancelled session has nothing left to tell.
            desk_moves.follow_status(session, actor, cancelled, now=moment)
            # The cancelled sessions' follow-ups, and the outreach calls of earlier misses in
            # the series, which an ended series no longer owes.
            _settle(
                session,
                actor,
                series,
                END_ACTION,
                before_series,
                f"{words}; {counted(len(cancelled), 'session')} cancelled",
                moment,
            )
            return SeriesEnded(
                series_id=series.id,
                patient_id=series.patient_id,
                patient_name=_patient_name(session, series),
                ended_on=day,
                words=ended_words(day, reason, note, by),
                cancelled=tuple(cancelled),
                previous_status=previous_status,
            )

    try:
        return retried_once(write)
    except PermissionDenied as err:
        audit.record_refusal(db, err, entity="series", entity_id=series_id, now=moment)
        raise


def undo_end_series(
    db: Database,
    actor: Actor,
    series_id: int,
    *,
    cancelled: Sequence[int] | None = None,
    now: dt.datetime | None = None,
    first: Callable[[Session], None] | None = None,
) -> SeriesEnded:
    """Take an ending back: the sessions it cancelled booked again where they were (refused,
    naming the session, when its place was taken since), the series as it was.

    ``first`` writes in the same transaction before the sessions are booked again (the undo
    of a change of protocol cancels the new series there, freeing the places it took:
    ``protocol_change.undo_change``); what it raises refuses the whole undo.

    ``cancelled`` names the sessions the ending cancelled (``SeriesEnded.cancelled``, which
    the undo stack keeps): exactly those are booked again.  Without it, the sessions whose
    cancellation the latest ending of the series recorded (its events name the series), never
    a session cancelled on its own since, whatever its time."""
    moment = now or utcnow()

    def write() -> SeriesEnded:
        with db.write() as session:
            settings, _calendar = _settings(session)
            _require(actor, settings)
            series = _series(session, series_id)
            if series.status != "ended":
                raise InvalidRequest("this series is not ended; there is nothing to take back")
            if first is not None:
                first(session)
            mine = _ending_events(session, series_id, cancelled)
            config = load_config(session)
            catalog = config.catalog
            restored: list[int] = []
            for appointment in sorted(
                lock_appointments(session, mine).values(), key=lambda a: a.starts_at
            ):
                event = mine[appointment.id]
                if appointment.status != "cancelled" or event.from_status is None:
                    continue
                planned = PlannedSession(
                    index=appointment.series_index or 1,
                    session_type=config.session_type_code(appointment.session_type_id),
                    start=appointment.starts_at,
                    end=appointment.ends_at,
                    holds=tuple(
                        PlannedHold(
                            need=h.need,
                            resource_id=h.resource_id,
                            mode=HoldMode(h.mode),
                            span=Interval(h.starts_at, h.ends_at),
                            units=h.units,
                        )
                        for h in appointment.holds
                    ),
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
                before = snapshot_of(appointment)
                for hold in appointment.holds:
                    hold.active = True
                appointment.status = event.from_status
                appointment.updated_at = moment
                session.add(
                    AppointmentEvent(
                        appointment_id=appointment.id,
                        at=moment,
                        user_id=actor.user_id,
                        action="undo",
                        from_status="cancelled",
                        to_status=event.from_status,
                        detail={"undoes": event.id, "series_end": series_id},
                    )
                )
                audit.record(
                    session,
                    actor,
                    "undo_cancel",
                    "appointment",
                    appointment.id,
                    patient_id=appointment.patient_id,
                    before=before,
                    after=snapshot_of(appointment),
                    detail="the series' end taken back",
                    now=moment,
                )
                restored.append(appointment.id)
            # Booked again: a desk move's call the ending closed is owed again.
            desk_moves.follow_status(session, actor, restored, now=moment)
            before_series = _series_state(series)
            day = series.ended_on or moment.date()
            words = ended_words(day, series.end_reason or "", series.end_note or "")
            series.status = "active"
            series.ended_on = None
            series.end_reason = None
            series.end_note = None
            series.ended_by_id = None
            series.ended_at = None
            _settle(
                session,
                actor,
                series,
                UNDO_ACTION,
                before_series,
                f"{counted(len(restored), 'session')} booked again",
                moment,
            )
            return SeriesEnded(
                series_id=series.id,
                patient_id=series.patient_id,
                patient_name=_patient_name(session, series),
                ended_on=day,
                words=words,
                cancelled=tuple(restored),
                previous_status="ended",
            )

    try:
        return retried_once(write)
    except IntegrityError as err:
        raise conflict_from(err) from None
    except PermissionDenied as err:
        audit.record_refusal(db, err, entity="series", entity_id=series_id, now=moment)
        raise


def _ending_events(
    session: Session, series_id: int, cancelled: Sequence[int] | None
) -> dict[int, AppointmentEvent]:
    """The cancellations an ending of ``series_id`` recorded, by appointment (the latest of
    each): of the sessions in ``cancelled``, or else of the series' latest ending.  A session
    cancelled on its own has no ``series_end`` in its event, so it is never among them (the
    undo once took the series' latest cancellation of any kind for the ending's)."""
    events = session.scalars(
        select(AppointmentEvent)
        .join(Appointment, Appointment.id == AppointmentEvent.appointment_id)
        .where(Appointment.series_id == series_id, AppointmentEvent.action == "cancel")
        .order_by(AppointmentEvent.at, AppointmentEvent.id)
    ).all()
    ending = [e for e in events if (e.detail or {}).get("series_end") == series_id]
    if cancelled is None:
        latest = max((e.at for e in ending), default=None)
        ending = [e for e in ending if e.at == latest]
    else:
        wanted = set(cancelled)
        ending = [e for e in ending if e.appointment_id in wanted]
    return {e.appointment_id: e for e in ending}  # in time order: the latest of each wins


def _series_appointments(session: Session, series_id: int) -> list[int]:
    return list(session.scalars(select(Appointment.id).where(Appointment.series_id == series_id)))


def _settle(
    session: Session,
    actor: Actor,
    series: Series,
    action: str,
    before: dict[str, object],
    detail: str,
    moment: dt.datetime,
) -> None:
    """The end of a series' end or its undo: the series audited before and after, its
    sessions' follow-ups brought in line, every row written before the change counter (the
    last lock taken)."""
    session.flush()
    audit.record(
        session,
        actor,
        action,
        "series",
        series.id,
        patient_id=series.patient_id,
        before=before,
        after=_series_state(series),
        detail=detail,
        now=moment,
    )
    sync.sync_follow_ups(session, actor, _series_appointments(session, series.id), now=moment)
    session.flush()
    changes.bump(session, moment)


def _series_state(series: Series) -> dict[str, Any]:
    return {
        "status": series.status,
        "ended_on": series.ended_on.isoformat() if series.ended_on else None,
        "end_reason": series.end_reason,
        "end_note": series.end_note,
    }


def _user_name(session: Session, actor: Actor) -> str:
    if actor.user_id is None:
        return actor.username
    name = session.scalar(select(User.display_name).where(User.id == actor.user_id))
    return name or actor.username


def _patient_name(session: Session, series: Series) -> str:
    patient = session.get(Patient, series.patient_id)
    return f"{patient.last_name}, {patient.first_name}" if patient is not None else ""
