"""One appointment, not a series: an intake or screening consult, a booster review, a single
session of any type, at an exact date and time or at the next opening that meets the desk's
weekday and time-of-day wishes.  Planning is read-only (``propose_single``); booking goes through
``booking.book`` (plan re-checked in the transaction, gates per session type, audit, change
counter), tentatively too (``tentative=True``: pencilled in until a deadline).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import SessionTypeSpec
from ketadesk.scheduling.dates import short_date
from ketadesk.scheduling.dosing_days import crowded_days
from ketadesk.scheduling.gating import GateResult
from ketadesk.scheduling.model import PlannedSession
from ketadesk.scheduling.openings import Preferences, find_openings, opening_at, room_need
from ketadesk.services.booking import booking
from ketadesk.services.booking.planning import (
    PlanWishes,
    _names,
    _patient_busy,
    _preferences,
    _window,
    find_patient,
    gate_sessions,
    patient_facts,
    rule_gates,
)
from ketadesk.services.booking.replanning import (
    REPLAN_ATTEMPTS,
    Replanned,
    book_replanning,
)
from ketadesk.services.common.context import Actor, InvalidRequest, NotFound, utcnow
from ketadesk.store.clinic_config import load_config
from ketadesk.store.database import Database
from ketadesk.store.days_away import patient_away_ranges
from ketadesk.store.models import Resource
from ketadesk.store.snapshot import load_snapshot

# "Next available" looks this many days ahead unless told otherwise.
DEFAULT_NEXT_DAYS = 28


@dataclass(frozen=True)
class SingleProposal:
    """One planned appointment for a patient (or why none could be placed), with its gates."""

    patient_id: int
    patient_name: str
    session_type: str
    session_type_name: str
    session: PlannedSession | None
    problems: tuple[str, ...]
    gates: tuple[GateResult, ...]
    resource_names: Mapping[int, str]
    calendar: ClinicCalendar = field(repr=False)

    @property
    def bookable(self) -> bool:
        return self.session is not None and not any(g.stops_booking for g in self.gates)


def day_part_bounds(part: str) -> tuple[dt.time | None, dt.time | None]:
    """The start-time window of "morning" (before noon) or "afternoon" (from noon), as
    (earliest, latest) starts; "any" is no window."""
    noon = dt.time(12, 0)
    if part == "morning":
        return None, (dt.datetime.combine(dt.date.min, noon) - dt.timedelta(minutes=1)).time()
    if part == "afternoon":
        return noon, None
    if part in ("", "any"):
        return None, None
    raise InvalidRequest(f"time of day: {part!r} is not morning, afternoon or any")


def propose_single(
    db: Database,
    *,
    session_type: str,
    today: dt.date,
    chart: str | None = None,
    patient_id: int | None = None,
    at: dt.datetime | None = None,
    first: dt.date | None = None,
    days: int = DEFAULT_NEXT_DAYS,
    wishes: PlanWishes | None = None,
    now: dt.datetime | None = None,
    room_required: bool = False,
) -> SingleProposal:
    """Plan one session of ``session_type`` for a patient: exactly ``at`` (a local wall-clock
    time, naive, or an aware instant), or else the first opening from ``first`` (default
    tomorrow) over ``days`` days meeting ``wishes`` (weekdays, earliest/latest start, room,
    staff): the earliest day with one, at the preferred start (``wishes.time``) when it is free
    that day, else the start nearest to it.  ``room_required``: the room the wishes name is
    the only one it may have (else it is only tried first); when it is not free, the problems
    say why and suggest the room's next free time and the rooms free at that time.  Writes
    nothing; ``now`` decides which tentative holds have expired."""
    if days < 1:
        raise InvalidRequest("days: the search needs at least one day")
    with db.read() as session:
        config = load_config(session)
        catalog = config.catalog
        spec = catalog.session_types.get(session_type)
        if spec is None:
            known = ", ".join(sorted(catalog.session_types))
            raise NotFound(f"session type: no session type {session_type!r}; known: {known}")
        if chart is not None:
            patient = find_patient(session, chart)
        else:
            from ketadesk.store.models import Patient

            found = session.get(Patient, patient_id) if patient_id is not None else None
            if found is None:
                raise NotFound(f"patient: no patient #{patient_id}")
            patient = found
        prefs = _preferences(session, wishes or PlanWishes(), (), [spec], catalog.settings)
        calendar = ClinicCalendar(catalog.settings)
        problems: tuple[str, ...] = ()
        planned: PlannedSession | None = None
        if at is not None:
            if at.tzinfo is None:
                minute = at.hour * 60 + at.minute
                local = calendar.local(calendar.at_local(at.date(), minute))
            else:
                local = calendar.local(at)
            day = calendar.local_date(local)
            if day < today or (now is not None and local < now):
                raise InvalidRequest(f"at: {_when(calendar, local)} is in the past")
            window = _window(catalog, day, 1)
            snapshot = load_snapshot(session, window, catalog, now=now)
            taken = _patient_busy(session, patient.id, window, catalog, snapshot.calendar)
            busy = list(taken.sessions)
            start = local.astimezone(dt.UTC)
            clash = next((b for b in busy if b.start < start and start < b.end), None)
            room = prefs.preferred_room if room_required else None
            found_at = opening_at(snapshot.availability(), spec, start, prefs, room=room)
            if isinstance(found_at, tuple) and room is not None:
                problems = _room_taken(
                    session, catalog, spec, room, start, found_at, patient.id, now
                )
            elif isinstance(found_at, tuple):
                problems = found_at
            else:
                candidate = found_at.as_session(spec, 1)
                overlap = [b for b in busy if b.start < candidate.end and candidate.start < b.end]
                crowded = crowded_days(
                    [(day, spec.dosing)],
                    [(d, dosing, None) for d, dosing in taken.doses],
                    catalog.settings.dosing_sessions_per_patient_day,
                )
                if overlap or clash:
                    problems = ("the patient already has an appointment at that time",)
                elif crowded:
                    # The words booking refuses it with (``plan_check.check_patient_free``).
                    problems = (
                        f"the patient would have {crowded[0].count} dosing sessions on "
                        f"{short_date(day)} (at most {crowded[0].limit})",
                    )
                else:
                    planned = candidate
        else:
            start_day = first or today + dt.timedelta(days=1)
            if start_day < today:
                raise InvalidRequest(f"from: {start_day:%Y-%m-%d} is in the past")
            window = _window(catalog, start_day, days)
            snapshot = load_snapshot(session, window, catalog, now=now)
            busy = _patient_busy(session, patient.id, window, catalog, snapshot.calendar).for_type(
                spec, snapshot.calendar
            )
            moment = now or utcnow()
            today_bounds = snapshot.calendar.day_bounds(today)
            if start_day <= today and today_bounds.start < moment:
                # "Next available" from today starts from now, never at a time already gone
                # (a user trial was offered 8:00 AM at 9:45, which booking then refused).
                busy = [*busy, Interval(today_bounds.start, moment)]
            room = prefs.preferred_room if room_required else None
            search = find_openings(
                snapshot.availability(),
                spec,
                start_day,
                start_day + dt.timedelta(days=days - 1),
                prefs,
                # A room required: every opening listed and the first in that room taken (the
                # search only ranks the preferred room: its best opening may be another room).
                limit=1 if room is None else None,
                patient_busy=busy,
                # "Next available": the first day with a place, the preferred start (or the
                # nearest to it) on that day; the desk's dialog plans through here too.
                earliest_day=True,
                # Never on a day the patient is away (an exact time there is a warning).
                away=patient_away_ranges(session, patient.id),
            )
            key = room_need(spec)
            fitting = [
                o for o in search.openings if room is None or o.resource_for(key or "") == room
            ]
            if fitting:
                planned = fitting[0].as_session(spec, 1)
            elif room is not None and search.openings:
                other = search.openings[0]
                problems = (
                    f"{_name(session, room)} has no opening for {spec.name} in the {days} days "
                    f"from {start_day:%m/%d/%Y}",
                    f"the first opening in another room: {_when(snapshot.calendar, other.start)}, "
                    f"{_name(session, other.resource_for(key or ''))}",
                )
            else:
                problems = search.reasons or (
                    f"no opening for {spec.name} in the {days} days from {start_day:%m/%d/%Y}",
                )
        gates: list[GateResult] = []
        if planned is not None:
            facts = patient_facts(session, patient, catalog)
            gates = gate_sessions(catalog, facts, [planned], snapshot.calendar)
            # A single dose can break the patient's courses too: a second treatment during
            # one, an induction's doses a week.
            gates += rule_gates(session, config, snapshot.calendar, patient.id, [planned], None)
        return SingleProposal(
            patient_id=patient.id,
            patient_name=patient.display_name,
            session_type=session_type,
            session_type_name=spec.name,
            session=planned,
            problems=tuple(problems),
            gates=tuple(gates),
            resource_names=_names(session),
            calendar=snapshot.calendar,
        )


def _name(session: Session, resource_id: int | None) -> str:
    found = session.get(Resource, resource_id) if resource_id is not None else None
    if found is None:
        return "no room" if resource_id is None else f"resource #{resource_id}"
    return found.name


def _when(calendar: ClinicCalendar, moment: dt.datetime) -> str:
    """ "Tue 12/08/2026 10:00 AM": a time as the command line prints a booking's."""
    return f"{calendar.local(moment):%a %m/%d/%Y} {calendar.clock(moment)}"


def _room_taken(
    session: Session,
    catalog: Catalog,
    spec: SessionTypeSpec,
    room: int,
    start: dt.datetime,
    reasons: tuple[str, ...],
    patient_id: int,
    now: dt.datetime | None,
) -> tuple[str, ...]:
    """Why a session of ``spec`` cannot be had in ``room`` at ``start``, then what can: the
    room's next free start (within ``DEFAULT_NEXT_DAYS``) and the other rooms free then."""
    calendar = ClinicCalendar(catalog.settings)
    day = calendar.local_date(start)
    window = _window(catalog, day, DEFAULT_NEXT_DAYS)
    snapshot = load_snapshot(session, window, catalog, now=now)
    availability = snapshot.availability()
    name, when = _name(session, room), _when(calendar, start)
    problems = [f"{spec.name} cannot be had in {name} at {when}: " + "; ".join(reasons)]
    key = room_need(spec) or ""
    search = find_openings(
        availability,
        spec,
        day,
        day + dt.timedelta(days=DEFAULT_NEXT_DAYS - 1),
        Preferences(preferred_room=room),
        patient_busy=_patient_busy(
            session, patient_id, window, catalog, snapshot.calendar
        ).for_type(spec, calendar),
    )
    later = min(
        (o.start for o in search.openings if o.start > start and o.resource_for(key) == room),
        default=None,
    )
    if later is not None:
        problems.append(f"{name} is next free at {_when(calendar, later)}")
    else:
        problems.append(f"{name} has no free time for it in the {DEFAULT_NEXT_DAYS} days from then")
    need = next((n for n in spec.needs if n.key == key), None)
    others = [
        r.name
        for r in (availability.candidates_for(spec, need) if need is not None else ())
        if r.id != room and not isinstance(opening_at(availability, spec, start, room=r.id), tuple)
    ]
    problems.append(
        f"free at {when}: {', '.join(others)}" if others else f"no other room is free at {when}"
    )
    return tuple(problems)


class NotPlaced(InvalidRequest):
    """No session could be planned (``proposal.problems`` says why)."""

    def __init__(self, proposal: SingleProposal, lost: Sequence[str] = ()) -> None:
        self.proposal = proposal
        self.lost = tuple(lost)
        after = (
            f" (after another workstation took the place planned {len(lost)} "
            f"time{'s' if len(lost) != 1 else ''})"
            if lost
            else ""
        )
        super().__init__(
            f"{proposal.session_type_name} not booked{after}: "
            + ("; ".join(proposal.problems) or "no time was found")
        )


#: What ``book_single_replanning`` booked: the proposal that held, the booking, and the places
#: lost to other workstations before it (each in the booking's words).
SingleBooking = Replanned[SingleProposal, booking.BookingResult]


def book_single_replanning(
    db: Database,
    actor: Actor,
    plan: Callable[[], SingleProposal],
    *,
    tentative: bool = False,
    hold_until: dt.datetime | None = None,
    now: dt.datetime | None = None,
    attempts: int = REPLAN_ATTEMPTS,
) -> SingleBooking:
    """Book what ``plan`` proposes, planning again when another workstation took that place
    first (``replanning.book_replanning``: ``attempts`` plans in all, then
    ``PlaceKeptBeingTaken``).  A plan that places nothing raises ``NotPlaced``; a refusal that
    planning again does not change is raised as it is."""

    def placed(proposal: SingleProposal, lost: tuple[str, ...]) -> None:
        if proposal.session is None:
            raise NotPlaced(proposal, lost)

    return book_replanning(
        plan,
        lambda proposal: book_single(
            db, actor, proposal, tentative=tentative, hold_until=hold_until, now=now
        ),
        sessions=lambda proposal: (proposal.session,) if proposal.session is not None else (),
        bookable=placed,
        what=lambda proposal: proposal.session_type_name,
        hint="look for a time with `ketadesk openings`",
        attempts=attempts,
    )


def book_single(
    db: Database,
    actor: Actor,
    proposal: SingleProposal,
    *,
    tentative: bool = False,
    hold_until: dt.datetime | None = None,
    overrides: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> booking.BookingResult:
    """Book (or pencil in) the proposal's session through ``booking.book``: the gates of its
    session type, the plan and the patient's other appointments are checked again there."""
    if proposal.session is None:
        raise InvalidRequest(
            "when: nothing to book; " + ("; ".join(proposal.problems) or "no time was found")
        )
    return booking.book(
        db,
        actor,
        booking.BookingRequest(
            patient_id=proposal.patient_id,
            sessions=(proposal.session,),
            overrides=dict(overrides or {}),
            tentative=tentative,
            hold_until=hold_until,
        ),
        now=now,
    )
