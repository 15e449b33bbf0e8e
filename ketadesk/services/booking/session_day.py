"""What a session's day holds against it, for the session's page: the patient away that day,
the clinic, the session's room or its equipment or staff closed then, each said in a sentence
with what to do; and where a move of it starts looking (the day after, past the days away).

Read only.  A session booked before its patient's days away were saved, or before a closure
(snow, a room under repair), stays booked until someone moves it (``services/patients/
days_away.py`` and the closures' consequences name such sessions, never move them): this is
what its page says about it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketadesk.scheduling.availability import closed_word
from ketadesk.scheduling.calendar import ClinicCalendar, HeldResource, Interval
from ketadesk.scheduling.catalog import ResourceKind
from ketadesk.scheduling.dates import short_date
from ketadesk.scheduling.days_away import AwayRange, away_flagged, first_day_back
from ketadesk.scheduling.openings import Preferences, find_openings, room_need
from ketadesk.scheduling.statuses import MOVABLE_STATUSES, RELEASED_STATUSES
from ketadesk.services.booking.move_check import MoveVerdict, placement_of, prepare_move
from ketadesk.services.booking.planning import _patient_busy
from ketadesk.services.common.context import NotFound, utcnow
from ketadesk.store.clinic_config import load_catalog, load_config
from ketadesk.store.database import Database
from ketadesk.store.days_away import kept_on_days_away, patient_away_ranges
from ketadesk.store.models import Appointment, Resource, ResourceHold
from ketadesk.store.snapshot import load_calendar, load_snapshot

#: The statuses whose day still matters: a session still to come (a pencilled-in hold too).
_STILL_TO_COME = MOVABLE_STATUSES | {"tentative"}

#: What the desk can do about a session whose day no longer works.
WHAT_TO_DO = "Move… finds it another place, or cancel it"


@dataclass(frozen=True)
class SessionDay:
    """A session's day as its page tells it.

    Attributes:
        away: the patient's days away holding the session's day (None: not away then).
        closed: what is closed then, each in words ("The clinic is closed that day: snow
            closure", "Monitor 2 is out of service then: repair").
        notices: the sentences the page shows near the status, what to do included; empty
            when the day holds nothing against the session (or it is over, cancelled...).
        away_ranges: all the patient's days away (a move's proposals keep off them).
        move_from: the first day a move of the session is proposed on: the day after it,
            past any days away holding that day, at its own time of day (local).
        openings_from: the first day the Move dialog lists openings from: the session's own
            day (its own time offered there) when nothing holds that day against it and it is
            still to come, else ``move_from``.
    """

    away: AwayRange | None
    closed: tuple[str, ...]
    notices: tuple[str, ...]
    away_ranges: tuple[AwayRange, ...]
    move_from: dt.date
    openings_from: dt.date | None = None


def session_day(db: Database, appointment_id: int, *, now: dt.datetime | None = None) -> SessionDay:
    """What the session's day holds against it (one read transaction)."""
    now = now or utcnow()
    with db.read() as session:
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound("that session no longer exists")
        catalog = load_catalog(session)
        span = Interval(appointment.starts_at, appointment.ends_at)
        held = session.execute(
            select(
                Resource.id,
                Resource.name,
                Resource.kind,
                ResourceHold.starts_at,
                ResourceHold.ends_at,
            )
            .join(ResourceHold, ResourceHold.resource_id == Resource.id)
            .where(ResourceHold.appointment_id == appointment_id, ResourceHold.active.is_(True))
            .order_by(ResourceHold.starts_at, Resource.name)
        ).all()
        ids = {rid for rid, *_ in held} | (
            {appointment.room_id} if appointment.room_id is not None else set()
        )
        calendar = load_calendar(session, span, catalog, resource_ids=ids)
        room_name = (
            session.scalar(select(Resource.name).where(Resource.id == appointment.room_id))
            if appointment.room_id is not None
            else None
        )
        ranges = tuple(patient_away_ranges(session, appointment.patient_id))
        kept = appointment_id in kept_on_days_away(session, [appointment_id])
        status, room_id = appointment.status, appointment.room_id
        holds = [
            HeldResource(rid, name, closed_word(ResourceKind(kind)), Interval(starts, ends))
            for rid, name, kind, starts, ends in held
        ]
    day = calendar.local_date(span.start)
    move_from = first_day_back(ranges, max(day + dt.timedelta(days=1), calendar.local_date(now)))
    if status not in _STILL_TO_COME or span.end <= now:
        return SessionDay(None, (), (), ranges, move_from)
    # Kept there with an override on record: decided, as the views and ``ketadesk check``
    # take it (the page once flagged it while they did not).
    away = away_flagged(ranges, day, kept_by_override=kept)
    closed: list[str] = []
    clinic = calendar.session_closed(span, room_id, room_name or "")
    if clinic is not None:
        if clinic.what == "Clinic" and clinic.reason.startswith("closed"):
            closed.append(f"The clinic is {clinic.reason}")  # "closed on Sundays"
        elif clinic.what == "Clinic":
            closed.append(f"The clinic is closed then: {clinic.reason}")
        else:
            closed.append(f"{clinic.what} is closed then: {clinic.reason}")
    # Each held resource once, however many holds it has (a nurse for the dose and again for
    # the observation was named twice).
    closed.extend(
        f"{c.what} is {c.word} then: {c.reason}"
        for c in calendar.held_closures(holds, skip=room_id)
    )
    notices: list[str] = []
    if away is not None:
        notices.append(
            f"The patient is away {away.words}, and this session on "
            f"{short_date(day)} is still booked."
        )
    notices.extend(f"{c}; this session is still booked." for c in closed)
    if notices:
        notices.append(f"{WHAT_TO_DO}.")
    own = day if not notices and day >= calendar.local_date(now) else move_from
    return SessionDay(away, tuple(closed), tuple(notices), ranges, move_from, own)


@dataclass(frozen=True)
class MoveOpening:
    """A free place for the session: its start, and the room the search chose (None: a
    session that takes no room)."""

    start: dt.datetime
    end: dt.datetime
    room_id: int | None
    room: str


@dataclass(frozen=True)
class MoveOpenings:
    """Where the session could go, best first within each day, days in order.

    Attributes:
        openings: the places found (each free for the session's room, equipment and staff,
            and for the patient: not away, not in another session).
        reasons: why days had none ("clinic closed: Christmas Day (Fri Dec 25)").
        rooms: the clinic's rooms the session may take (id, name), for a place typed in.
    """

    openings: tuple[MoveOpening, ...]
    reasons: tuple[str, ...]
    rooms: tuple[tuple[int, str], ...]


def move_openings(
    db: Database,
    appointment_id: int,
    first: dt.date,
    *,
    days: int = 7,
    per_day: int = 3,
    now: dt.datetime | None = None,
) -> MoveOpenings:
    """The next openings for this one session from ``first`` over ``days`` days, by the
    openings search every booking uses (``scheduling/openings.find_openings``): its own
    place given back, the patient's other sessions and days away kept off, its time of day
    and room preferred.  Read only; the place chosen is judged again by the move's own check
    (``move_check``) and written by ``appointment_changes.move``."""
    now = now or utcnow()
    placement = placement_of(db, appointment_id)
    with db.read() as session:
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound("that session no longer exists")
        config = load_config(session)
        catalog = config.catalog
        spec = catalog.session_types[config.session_type_code(appointment.session_type_id)]
        calendar = ClinicCalendar(catalog.settings)
        first = max(first, calendar.local_date(now))
        last = first + dt.timedelta(days=days - 1)
        reasons: list[str] = []
        # One session of a series moves between its neighbours (the series keeps its order;
        # "Move rest of series…" moves the later ones with it).
        before, after = _neighbours(session, appointment)
        if before is not None:
            first = max(first, calendar.local_date(before) + dt.timedelta(days=1))
        if after is not None:
            bound = calendar.local_date(after) - dt.timedelta(days=1)
            if bound < last:
                last = bound
                next_day = short_date(bound + dt.timedelta(days=1))
                reasons.append(
                    f"the next session of the series is on {next_day}: "
                    "Move rest of series… moves it too"
                )
        if last < first:
            return MoveOpenings((), tuple(reasons), ())
        window = Interval(calendar.day_bounds(first).start, calendar.day_bounds(last).end)
        snapshot = load_snapshot(session, window, catalog)
        availability = snapshot.availability()
        availability.release(placement.session.holds)
        busy = _patient_busy(
            session,
            appointment.patient_id,
            window,
            catalog,
            snapshot.calendar,
            excluding=appointment_id,
        ).for_type(spec, snapshot.calendar)
        local = snapshot.calendar.local(appointment.starts_at)
        found = find_openings(
            availability,
            spec,
            first,
            last,
            Preferences(preferred_room=appointment.room_id, preferred_start=local.time()),
            per_day=per_day,
            patient_busy=busy,
            away=patient_away_ranges(session, appointment.patient_id),
            # The session's own time of day is offered even off the slot grid: a session
            # booked at 7:45 is offered 7:45 again (a user trial's dialog preselected 7:40).
            exact_preferred_start=True,
        )
        names = {row.id: row.name for row in session.execute(select(Resource.id, Resource.name))}
        rooms = tuple(
            (rid, name)
            for rid, name in session.execute(
                select(Resource.id, Resource.name)
                .where(Resource.kind == ResourceKind.ROOM.value, Resource.active.is_(True))
                .order_by(Resource.sort_order, Resource.name)
            )
        )
    need = room_need(spec)
    out = []
    for o in found.openings:
        if o.start <= now:
            continue
        room_id = o.resource_for(need) if need is not None else None
        out.append(MoveOpening(o.start, o.end, room_id, names.get(room_id, "") if room_id else ""))
    out.sort(key=lambda o: (snapshot.calendar.local_date(o.start), o.start))
    return MoveOpenings(tuple(out), (*found.reasons, *reasons), rooms if need is not None else ())


def _neighbours(
    session: Session, appointment: Appointment
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The starts of the live sessions of the series just before and after this one."""
    if appointment.series_id is None or appointment.series_index is None:
        return None, None
    live = (
        Appointment.series_id == appointment.series_id,
        Appointment.id != appointment.id,
        Appointment.status.not_in(tuple(RELEASED_STATUSES)),
    )
    before = session.scalar(
        select(func.max(Appointment.starts_at)).where(
            *live, Appointment.series_index < appointment.series_index
        )
    )
    after = session.scalar(
        select(func.min(Appointment.starts_at)).where(
            *live, Appointment.series_index > appointment.series_index
        )
    )
    return before, after


def judge_move(
    db: Database,
    appointment_id: int,
    new_start: dt.datetime,
    new_room_id: int | None,
    *,
    now: dt.datetime | None = None,
) -> MoveVerdict:
    """What the drag check says of one place for this session (``move_check``: room, staff,
    equipment, the patient's day, and the protocol and gating rules with who may go past a
    "warn" one); read only, the move re-checks inside its own write."""
    check = prepare_move(db, appointment_id, around=new_start, now=now)
    return check.verdict(new_start, new_room_id)
