"""The waitlist's matching: when a place frees up, which waiting patients could take it, best
fit first, and why each of the others cannot.

The place is offered as it came free: a session that starts when the freed one started, in its
room (a place without a room, a telehealth review say, is its time only).  Another room or
another time is not that place; it is a booking like any other.  A wish takes the place when a
session of the wished-for type can start there (``SessionSearch.at`` on the ``Availability``:
every resource the type needs is found free, not only the freed room) and it keeps to the wish:
its weekdays, its time of day (the whole session between ``available_from`` and
``available_until``), its rooms and staff (when it names any, only those), its deadline (the
day is not after it, and it has not passed), and the patient's other sessions.  A wish that
cannot take it says why, in the desk's words.

Best fit first: the nearest deadline (who must be seen soonest), then who has waited longest.

Whether the booking's rules about the patient (gates, protocol rules, dosing sessions a day)
let them have it is not judged here: the service asks the booking's own checks
(``services/booking/booking.patient_refusals``), whose warn-level rules do not refuse.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from ketadesk.scheduling.availability import Availability, instant
from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.catalog import WEEKDAYS, ResourceKind, SessionTypeSpec
from ketadesk.scheduling.dates import clock, clock_span
from ketadesk.scheduling.openings import Opening, SessionSearch


@dataclass(frozen=True, slots=True)
class WaitlistWish:
    """One waiting patient's wish, as plain data.

    ``rooms`` and ``staff`` are resource ids (empty: any); ``available_from`` and
    ``available_until`` are local times the whole session must lie between (None: opening,
    closing); ``deadline`` is the last local day the patient still wants a place on.
    ``patient_busy`` are the patient's other sessions around the freed day.
    """

    entry_id: int
    patient_id: int
    session_type: str
    added_at: dt.datetime
    weekdays: tuple[str, ...] = ()
    available_from: dt.time | None = None
    available_until: dt.time | None = None
    rooms: frozenset[int] = frozenset()
    staff: frozenset[int] = frozenset()
    deadline: dt.date | None = None
    patient_busy: tuple[Interval, ...] = ()


@dataclass(frozen=True, slots=True)
class FreedPlace:
    """A stretch of the schedule that just came free: where a session was (its room and the
    staff members it held)."""

    start: dt.datetime
    end: dt.datetime
    room_id: int | None = None
    staff_ids: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class WaitlistMatch:
    """A wish that can take the freed place, and the session it would get there."""

    wish: WaitlistWish
    opening: Opening

    @property
    def rank(self) -> tuple[dt.date, dt.datetime, int]:
        return (self.wish.deadline or dt.date.max, self.wish.added_at, self.wish.entry_id)


@dataclass(frozen=True, slots=True)
class WaitlistRefusal:
    """A wish that cannot take the freed place, and why ("asks for Tue, Thu only")."""

    wish: WaitlistWish
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WaitlistAnswer:
    """Who could take a freed place (best fit first, one wish a patient) and who could not."""

    matches: tuple[WaitlistMatch, ...]
    refused: tuple[WaitlistRefusal, ...]


def wish_problem(
    wish: WaitlistWish,
    spec: SessionTypeSpec | None,
    day: dt.date,
    today: dt.date,
) -> str | None:
    """Why a wish cannot be matched on ``day`` whatever the schedule holds (None: it may)."""
    if spec is None:
        return f"the session type {wish.session_type!r} is no longer offered"
    if wish.deadline is not None and wish.deadline < today:
        return f"its deadline passed on {wish.deadline:%m/%d/%Y}"
    if wish.deadline is not None and day > wish.deadline:
        return f"the day is after its deadline ({wish.deadline:%m/%d/%Y})"
    if wish.weekdays and WEEKDAYS[day.weekday()] not in wish.weekdays:
        days = ", ".join(d.capitalize() for d in wish.weekdays)
        return f"asks for {days} only"
    if _window_minutes(wish) < spec.total_minutes:
        return f"the time of day asked for is shorter than a {spec.total_minutes}-minute session"
    return None


def _window_minutes(wish: WaitlistWish) -> int:
    """How long the time of day the wish asks for lasts (a day's length when it names none)."""
    earliest = wish.available_from or dt.time(0, 0)
    if wish.available_until is None:
        return 24 * 60
    until = wish.available_until.hour * 60 + wish.available_until.minute
    return until - (earliest.hour * 60 + earliest.minute)


def _clock(t: dt.time | None, default: str, fmt: str) -> str:
    return clock(t, fmt) if t is not None else default


def _time_of_day_problem(
    wish: WaitlistWish, start: dt.datetime, end: dt.datetime, fmt: str
) -> str | None:
    """Why a session from ``start`` to ``end`` (local) is outside the wish's time of day."""
    earliest, latest = wish.available_from, wish.available_until
    if earliest is None and latest is None:
        return None
    starts_in = earliest is None or start.time() >= earliest
    ends_in = latest is None or (end.date() == start.date() and end.time() <= latest)
    if starts_in and ends_in:
        return None
    return (
        f"asks for {_clock(earliest, 'opening', fmt)}–{_clock(latest, 'closing', fmt)}; "
        f"the session would run {clock_span(start, end, fmt)}"
    )


def _names(availability: Availability, ids: Collection[int]) -> str:
    found = availability.resources
    return ", ".join(sorted(found[i].name if i in found else f"#{i}" for i in ids))


def _misfit(
    availability: Availability, opening: Opening, spec: SessionTypeSpec, wish: WaitlistWish
) -> str | None:
    """Why the resources chosen are not the rooms or staff the wish asks for (None: they are)."""
    for need in spec.needs:
        chosen = opening.resource_for(need.key)
        if need.kind is ResourceKind.ROOM and wish.rooms and chosen not in wish.rooms:
            return f"asks for {_names(availability, wish.rooms)} only, not free then"
    if wish.staff:
        staff = {opening.resource_for(n.key) for n in spec.needs if n.kind is ResourceKind.STAFF}
        if not staff & wish.staff:
            return f"asks for {_names(availability, wish.staff)}, not free then"
    return None


def take_place(
    availability: Availability, spec: SessionTypeSpec, freed: FreedPlace, wish: WaitlistWish
) -> Opening | tuple[str, ...]:
    """The session of ``spec`` that takes ``freed`` as it came free (its start, its room) for
    ``wish``, with a resource for every need, or why it cannot."""
    calendar = availability.calendar
    start = freed.start
    end = start + dt.timedelta(minutes=spec.total_minutes)
    reasons: list[str] = []
    timing = _time_of_day_problem(
        wish, calendar.local(start), calendar.local(end), calendar.settings.time_format
    )
    if timing is not None:
        reasons.append(timing)
    pinned: dict[str, int] = {}
    if freed.room_id is not None:
        room = _names(availability, (freed.room_id,))
        need = next((n for n in spec.needs if n.kind is ResourceKind.ROOM), None)
        if need is None or freed.room_id not in {
            r.id for r in availability.candidates_for(spec, need)
        }:
            reasons.append(f"{spec.name} cannot be held in {room}")
        elif wish.rooms and freed.room_id not in wish.rooms:
            reasons.append(f"asks for {_names(availability, wish.rooms)} only")
        else:
            pinned[need.key] = freed.room_id
    if reasons:
        return tuple(reasons)
    staff_choice = sorted(wish.staff & freed.staff_ids) or sorted(wish.staff)
    search = SessionSearch(
        availability,
        spec,
        preferred_room=freed.room_id or (min(wish.rooms) if wish.rooms else None),
        preferred_staff=staff_choice[0] if staff_choice else None,
        patient_busy=[
            (int(i.start.timestamp()), int(i.end.timestamp())) for i in wish.patient_busy
        ],
    )
    t = int(start.timestamp())
    chosen, problems = search.at(t, pinned=pinned)
    if chosen is None:
        return problems
    opening = Opening(
        session_type=spec.code,
        start=instant(t),
        end=instant(t + search.total),
        assignment=tuple((n.key, chosen[n.key]) for n in search.needs if n.key in chosen),
        cost=0,
    )
    misfit = _misfit(availability, opening, spec, wish)
    return (misfit,) if misfit is not None else opening


#: Why the clinic's rules would not let a patient have a matched place (the booking's own
#: checks, asked by the service); () when they would.
Judge = Callable[[WaitlistMatch], tuple[str, ...]]


def weigh_waitlist(
    availability: Availability,
    session_types: Mapping[str, SessionTypeSpec],
    freed: FreedPlace,
    wishes: Sequence[WaitlistWish],
    *,
    now: dt.datetime,
    judge: Judge | None = None,
) -> WaitlistAnswer:
    """The wishes that can take ``freed``, best fit first, one a patient (the desk calls a
    person, not an entry), and why each wish of the other patients cannot, in the order of
    ``wishes``.  ``judge`` is asked about each match, best first, until the patient has one it
    lets through; one it stops is refused with its words.  A place that has started (or
    passed) is offered to nobody."""
    calendar = availability.calendar
    day = calendar.local_date(freed.start)
    today = calendar.local_date(now)
    if freed.start < now:
        return WaitlistAnswer((), ())
    matches: list[WaitlistMatch] = []
    refused: list[WaitlistRefusal] = []
    for wish in wishes:
        spec = session_types.get(wish.session_type)
        problem = wish_problem(wish, spec, day, today)
        if problem is not None:
            refused.append(WaitlistRefusal(wish, (problem,)))
            continue
        assert spec is not None
        found = take_place(availability, spec, freed, wish)
        if isinstance(found, tuple):
            refused.append(WaitlistRefusal(wish, found))
        else:
            matches.append(WaitlistMatch(wish, found))
    matches.sort(key=lambda m: m.rank)
    offered: set[int] = set()
    best: list[WaitlistMatch] = []
    for match in matches:
        if match.wish.patient_id in offered:
            continue
        stopped = judge(match) if judge is not None else ()
        if stopped:
            refused.append(WaitlistRefusal(match.wish, stopped))
            continue
        offered.add(match.wish.patient_id)
        best.append(match)
    order = {id(w): n for n, w in enumerate(wishes)}
    return WaitlistAnswer(
        tuple(best),
        tuple(
            sorted(
                (r for r in refused if r.wish.patient_id not in offered),
                key=lambda r: order[id(r.wish)],
            )
        ),
    )


def match_waitlist(
    availability: Availability,
    session_types: Mapping[str, SessionTypeSpec],
    freed: FreedPlace,
    wishes: Sequence[WaitlistWish],
    *,
    now: dt.datetime,
) -> tuple[WaitlistMatch, ...]:
    """The wishes that can take ``freed``, best fit first (``weigh_waitlist``'s matches)."""
    return weigh_waitlist(availability, session_types, freed, wishes, now=now).matches
