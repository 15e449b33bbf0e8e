"""Changing a patient's protocol: IV induction not working → Spravato, a Spravato induction
done → maintenance, a PTSD patient moving to ketamine-assisted psychotherapy.

A change is two steps the desk sees as one decision.  ``start_change`` ends the old series
from a day (``series_end.end_series`` with reason ``PROTOCOL_CHANGE``: its sessions from that
day cancelled, audited, no fee, no dropout) and returns a ``BookingDraft``: the new protocol
for the same patient, from that day, with the old series' weekdays, time and room, for the
series booking (``booking.book`` with ``previous_series_id``, which links the new series to the
old one).  The new booking is planned and judged as any (gaps, courses at once, REMS, consent,
eligibility), and only once the old sessions have left their places: a plan made before the
end would keep away from the very times and room the patient keeps.  So the end is written
first, and stands on its own: the clinician decided the old protocol stops, whether or not
the new one can be booked today (a REMS enrolment still pending).  When the new booking is
refused or abandoned, the desk is told the old series ended and offered to take the end back.

``undo_change`` takes the whole change back in one transaction: the new series cancelled
(only while nothing has happened to it: every session still booked or pencilled in as it was
booked), then the old series' sessions booked again where they were.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.dates import short_date_time
from ketadesk.scheduling.protocol_change import (
    CHANGE_ACTION,
    UNDO_CHANGE_ACTION,
    UNTOUCHED_STATUSES,
    change_note,
    change_problem,
    default_start,
    who_may_change,
)
from ketadesk.scheduling.series_end import PROTOCOL_CHANGE, parse_series_end_settings
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.scheduling.words import counted
from ketadesk.services.access import audit
from ketadesk.services.booking import series_end
from ketadesk.services.booking.appointment_changes import lock_appointments
from ketadesk.services.booking.booking import snapshot_of
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    utcnow,
)
from ketadesk.services.followups import sync
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    Patient,
    Protocol,
    Resource,
    Series,
    SessionType,
)

#: How a session of the new series cancelled by the undo says why.
UNDONE_REASON = "Protocol change taken back"


@dataclass(frozen=True, slots=True)
class ChangeInfo:
    """What the Change protocol dialog needs: the series, who may change it, the protocols
    offered (the clinic's, this one left out), the day the change takes effect (the day after
    the last session kept unless chosen), and what is kept and what is cancelled that day."""

    series_id: int
    patient_id: int
    patient_name: str
    protocol: str  # the old series' protocol code
    protocol_name: str
    status: str
    may_change: bool
    refusal: str  # "Only a prescriber may change a series' protocol" ("" when the actor may)
    effective: dt.date
    kept: tuple[str, ...]  # "4/6 IV ketamine infusion, Tue Dec 8 10:00 AM (completed)"
    to_cancel: tuple[str, ...]
    protocols: tuple[tuple[str, str], ...]  # (code, name) offered, in the catalog's order


@dataclass(frozen=True, slots=True)
class BookingDraft:
    """The series booking a change opens: whom, what, from when, and the old series' wishes
    (weekdays, time of day, room) for the plan; ``previous_series_id`` links the booking."""

    patient_id: int
    previous_series_id: int
    protocol: str
    protocol_name: str
    start: dt.date
    weekdays: tuple[str, ...]
    time: dt.time | None
    room: str | None
    old_protocol_name: str
    ended_words: str  # "Ended Dec 9: changed to Spravato TRD: no response … (Dr Okafor)"
    cancelled: int  # how many of the old series' sessions the end cancelled


@dataclass(frozen=True, slots=True)
class ChangeStarted:
    """The old series ended (``ended``, which the undo stack keeps) and the booking to open."""

    ended: series_end.SeriesEnded
    draft: BookingDraft


@dataclass(frozen=True, slots=True)
class ChangeUndone:
    """A change taken back: the new series cancelled (None when none had been booked), its
    sessions, and the old series' sessions booked again."""

    series_id: int
    new_series_id: int | None
    cancelled: tuple[int, ...]
    restored: tuple[int, ...]
    patient_name: str


def lowered(ended: str) -> str:
    """ "ended Dec 9: changed to …" from the record's "Ended Dec 9: changed to …", to follow
    the old protocol's name ("IV induction, ended Dec 9: changed to Spravato TRD: …")."""
    return ended[:1].lower() + ended[1:]


def _roles_refusal(session: Session, actor: Actor) -> str:
    settings = parse_series_end_settings(load_catalog(session).settings.extra.get("series_end"))
    return "" if actor.role in settings.roles else who_may_change(settings)


def _patient_name(session: Session, patient_id: int) -> str:
    patient = session.get(Patient, patient_id)
    return f"{patient.last_name}, {patient.first_name}" if patient is not None else ""


def _last_kept(
    session: Session, calendar: ClinicCalendar, series_id: int, today: dt.date
) -> dt.date | None:
    """The local day of the old series' last session that stays: one under way or over, or
    one of a day already past (an end never cancels those)."""
    rows = session.execute(
        select(Appointment.starts_at, Appointment.status).where(
            Appointment.series_id == series_id,
            Appointment.status.not_in(sorted(RELEASED_STATUSES)),
        )
    ).all()
    days = [
        calendar.local_date(starts)
        for starts, status in rows
        if status not in series_end.ENDED_FROM or calendar.local_date(starts) < today
    ]
    return max(days, default=None)


def change_info(
    db: Database,
    actor: Actor,
    series_id: int,
    effective: dt.date | None = None,
    *,
    now: dt.datetime | None = None,
) -> ChangeInfo:
    """The dialog's facts for changing ``series_id``'s protocol from ``effective`` (default:
    the day after its last session kept, today at the earliest)."""
    moment = now or utcnow()
    with db.read() as session:
        catalog = load_catalog(session)
        calendar = ClinicCalendar(catalog.settings)
        series = session.get(Series, series_id)
        if series is None:
            raise NotFound(f"series #{series_id} does not exist")
        protocol = session.get(Protocol, series.protocol_id)
        code = protocol.code if protocol is not None else ""
        today = calendar.local_date(moment)
        day = effective or default_start(_last_kept(session, calendar, series_id, today), today)
        start = calendar.day_bounds(day).start
        fmt = catalog.settings.time_format
        rows = session.execute(
            select(
                Appointment.series_index,
                Appointment.starts_at,
                Appointment.status,
                SessionType.name,
            )
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(
                Appointment.series_id == series_id,
                Appointment.status.not_in(sorted(RELEASED_STATUSES)),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
        kept: list[str] = []
        to_cancel: list[str] = []
        for index, starts, status, name in rows:
            words = (
                f"{index}/{series.planned_count} {name}, "
                f"{short_date_time(calendar.local(starts), fmt)}"
            )
            if starts >= start and status in series_end.ENDED_FROM:
                to_cancel.append(words)
            else:
                kept.append(f"{words} ({status.replace('_', ' ')})")
        refusal = _roles_refusal(session, actor)
        return ChangeInfo(
            series_id=series.id,
            patient_id=series.patient_id,
            patient_name=_patient_name(session, series.patient_id),
            protocol=code,
            protocol_name=protocol.name if protocol is not None else "",
            status=series.status,
            may_change=not refusal,
            refusal=refusal,
            effective=day,
            kept=tuple(kept),
            to_cancel=tuple(to_cancel),
            protocols=tuple((c, spec.name) for c, spec in catalog.protocols.items() if c != code),
        )


def _wishes(
    session: Session, calendar: ClinicCalendar, series: Series
) -> tuple[tuple[str, ...], dt.time | None, str | None]:
    """The old series' weekdays, time of day and room: as the booking recorded them, else as
    its sessions were booked (the commonest weekday set, first time and room)."""
    prefs = series.preferences or {}
    weekdays = tuple(prefs.get("weekdays") or ())
    time_text = prefs.get("time")
    time = dt.time.fromisoformat(time_text) if isinstance(time_text, str) else None
    room = prefs.get("room") or None
    if weekdays and time is not None and room:
        return weekdays, time, room
    rows = session.execute(
        select(Appointment.starts_at, Resource.name)
        .outerjoin(Resource, Resource.id == Appointment.room_id)
        .where(Appointment.series_id == series.id)
        .order_by(Appointment.starts_at)
    ).all()
    if not rows:
        return weekdays, time, room
    local = [calendar.local(starts) for starts, _name in rows]
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    if not weekdays:
        weekdays = tuple(names[d] for d in sorted({m.weekday() for m in local}))
    if time is None:
        time = Counter(m.time().replace(second=0, microsecond=0) for m in local).most_common(1)[0][
            0
        ]
    if not room:
        rooms = Counter(name for _starts, name in rows if name)
        room = rooms.most_common(1)[0][0] if rooms else None
    return weekdays, time, room


def _asked(
    session: Session,
    series: Series,
    protocol: str,
    why: str,
    effective: dt.date | None,
    moment: dt.datetime,
) -> BookingDraft:
    """The change as asked, checked (a mistake named, nothing written), as the booking it
    opens once the old series has ended (its words and count filled in then)."""
    catalog = load_catalog(session)
    calendar = ClinicCalendar(catalog.settings)
    old = session.get(Protocol, series.protocol_id)
    problem = change_problem(protocol, old.code if old is not None else "", why)
    if problem:
        raise InvalidRequest(problem)
    spec = catalog.protocols.get(protocol)
    if spec is None:
        raise InvalidRequest(f"unknown protocol {protocol!r}: choose one of the clinic's")
    weekdays, time, room = _wishes(session, calendar, series)
    today = calendar.local_date(moment)
    day = effective or default_start(_last_kept(session, calendar, series.id, today), today)
    return BookingDraft(
        patient_id=series.patient_id,
        previous_series_id=series.id,
        protocol=protocol,
        protocol_name=spec.name,
        start=day,
        weekdays=weekdays,
        time=time,
        room=room,
        old_protocol_name=old.name if old is not None else "",
        ended_words="",
        cancelled=0,
    )


def start_change(
    db: Database,
    actor: Actor,
    series_id: int,
    *,
    protocol: str,
    why: str,
    effective: dt.date | None = None,
    now: dt.datetime | None = None,
) -> ChangeStarted:
    """End ``series_id`` from ``effective`` with "changed to <new protocol>: <why>" and return
    the booking of ``protocol`` to open.  Refused (nothing written) for a role that may not
    end a series, an unknown or unchanged protocol, no reason, a day past, a series ended."""
    moment = now or utcnow()
    with db.read() as session:
        series = session.get(Series, series_id)
        if series is None:
            raise NotFound(f"series #{series_id} does not exist")
        refusal = _roles_refusal(session, actor)
        asked = None if refusal else _asked(session, series, protocol, why, effective, moment)
    if asked is None:
        err = PermissionDenied(refusal, actor=actor, action=CHANGE_ACTION)
        audit.record_refusal(db, err, entity="series", entity_id=series_id, now=moment)
        raise err
    ended = series_end.end_series(
        db,
        actor,
        series_id,
        reason=PROTOCOL_CHANGE,
        note=change_note(asked.protocol_name, why),
        effective=asked.start,
        now=moment,
    )
    return ChangeStarted(
        ended=ended,
        draft=dataclasses.replace(
            asked,
            start=ended.ended_on,
            ended_words=ended.words,
            cancelled=len(ended.cancelled),
        ),
    )


def _cancel_new_series(
    session: Session, actor: Actor, series_id: int, moment: dt.datetime, found: list[ChangeUndone]
) -> None:
    """In the undo's transaction: cancel the series that follows ``series_id``, refused when
    something has happened to it (a session moved, confirmed, checked in, given, cancelled)."""
    new = session.scalar(
        select(Series)
        .where(Series.previous_series_id == series_id, Series.status != "cancelled")
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    found.clear()
    if new is None:
        return
    protocol = session.get(Protocol, new.protocol_id)
    name = protocol.name if protocol is not None else "new"
    ids = list(session.scalars(select(Appointment.id).where(Appointment.series_id == new.id)))
    appointments = sorted(lock_appointments(session, ids).values(), key=lambda a: a.starts_at)
    calendar = ClinicCalendar(load_catalog(session).settings)
    for appointment in appointments:
        if appointment.status not in UNTOUCHED_STATUSES or appointment.version != 1:
            when = short_date_time(
                calendar.local(appointment.starts_at), calendar.settings.time_format
            )
            what = (
                "changed since it was booked"
                if appointment.status in UNTOUCHED_STATUSES
                else appointment.status.replace("_", " ")
            )
            raise InvalidRequest(
                f"the {name} series has begun to be used: session "
                f"{appointment.series_index}/{new.planned_count} ({when}) is {what}; the "
                "change cannot be taken back (end the new series instead)"
            )
    cancelled: list[int] = []
    for appointment in appointments:
        before = snapshot_of(appointment)
        previous = appointment.status
        appointment.status = "cancelled"
        appointment.updated_at = moment
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
                reason=UNDONE_REASON,
                detail={"protocol_change_undone": series_id},
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
            detail=UNDONE_REASON,
            now=moment,
        )
        cancelled.append(appointment.id)
    new.status = "cancelled"
    # The holds freed before the old sessions' places are judged (those reads go round the
    # ORM, on the transaction's connection).
    session.flush()
    audit.record(
        session,
        actor,
        UNDO_CHANGE_ACTION,
        "series",
        new.id,
        patient_id=new.patient_id,
        before={"status": "active", "previous_series_id": series_id},
        after={"status": "cancelled", "previous_series_id": series_id},
        detail=f"{counted(len(cancelled), 'session')} cancelled; series #{series_id} goes on",
        now=moment,
    )
    sync.sync_follow_ups(session, actor, cancelled, now=moment)
    session.flush()
    found.append(
        ChangeUndone(
            series_id=series_id,
            new_series_id=new.id,
            cancelled=tuple(cancelled),
            restored=(),
            patient_name="",
        )
    )


def undo_change(
    db: Database,
    actor: Actor,
    series_id: int,
    *,
    cancelled: Sequence[int] | None = None,
    now: dt.datetime | None = None,
) -> ChangeUndone:
    """Take a change of ``series_id``'s protocol back, in one transaction: the new series that
    follows it cancelled (refused, naming the session, once anything has happened to it),
    then the old series' sessions the change cancelled (``cancelled``) booked again where
    they were (refused when a place was taken since).  With no new series booked (the booking
    refused or abandoned) only the end is taken back."""
    moment = now or utcnow()
    found: list[ChangeUndone] = []
    restored = series_end.undo_end_series(
        db,
        actor,
        series_id,
        cancelled=cancelled,
        now=moment,
        first=lambda session: _cancel_new_series(session, actor, series_id, moment, found),
    )
    new = found[0] if found else None
    return ChangeUndone(
        series_id=series_id,
        new_series_id=new.new_series_id if new is not None else None,
        cancelled=new.cancelled if new is not None else (),
        restored=restored.cancelled,
        patient_name=restored.patient_name,
    )
