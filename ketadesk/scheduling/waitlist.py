"""The waitlist's matching: when a place frees up, which waiting patients could take it, best
fit first.

A wish matches a freed place when, on the freed place's local day, a session of the wished-for
type can start (``find_openings`` on the ``Availability``, so every resource the type needs is
found free, not only the room that was freed) such that it overlaps the freed stretch and
keeps to the wish: its weekdays, its time of day (the whole session between ``available_from``
and ``available_until``), its rooms and staff (when it names any, only those), its deadline
(the day is not after it, and it has not passed), and the patient's other sessions.

Best fit first: the opening closest to the freed start that keeps the freed room (the search's
own cost: minutes away plus points for another room or staff member), then the nearest
deadline (who must be seen soonest), then who has waited longest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ketadesk.scheduling.availability import Availability
from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.catalog import WEEKDAYS, ResourceKind, SessionTypeSpec
from ketadesk.scheduling.openings import Opening, Preferences, find_openings


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
    """A wish that can take the freed place, and the session it would get."""

    wish: WaitlistWish
    opening: Opening
    minutes_from_freed_start: int

    @property
    def rank(self) -> tuple[int, dt.date, dt.datetime, int]:
        return (
            self.opening.cost,
            self.wish.deadline or dt.date.max,
            self.wish.added_at,
            self.wish.entry_id,
        )


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
        return "not one of the weekdays asked for"
    if _latest_start(wish, spec) is False:
        return f"the time of day asked for is shorter than a {spec.total_minutes}-minute session"
    return None


def _latest_start(wish: WaitlistWish, spec: SessionTypeSpec) -> dt.time | bool | None:
    """The latest start that still ends by ``available_until``; False when none does."""
    if wish.available_until is None:
        return None
    until = wish.available_until.hour * 60 + wish.available_until.minute
    latest = until - spec.total_minutes
    if latest < 0:
        return False
    earliest = wish.available_from
    if earliest is not None and latest < earliest.hour * 60 + earliest.minute:
        return False
    return dt.time(latest // 60, latest % 60)


def _fits_wish(opening: Opening, spec: SessionTypeSpec, wish: WaitlistWish) -> bool:
    for need in spec.needs:
        chosen = opening.resource_for(need.key)
        if need.kind is ResourceKind.ROOM and wish.rooms and chosen not in wish.rooms:
            return False
    if wish.staff:
        staff = {opening.resource_for(n.key) for n in spec.needs if n.kind is ResourceKind.STAFF}
        if not staff & wish.staff:
            return False
    return True


def best_opening(
    availability: Availability,
    spec: SessionTypeSpec,
    freed: FreedPlace,
    wish: WaitlistWish,
    *,
    now: dt.datetime,
) -> Opening | None:
    """The best session of ``spec`` for ``wish`` that uses the freed stretch, or None."""
    calendar = availability.calendar
    day = calendar.local_date(freed.start)
    latest = _latest_start(wish, spec)
    if latest is False:
        return None
    preferred_room = freed.room_id if not wish.rooms or freed.room_id in wish.rooms else None
    if preferred_room is None and wish.rooms:
        preferred_room = min(wish.rooms)
    staff_choice = sorted(wish.staff & freed.staff_ids) or sorted(wish.staff)
    prefs = Preferences(
        weekdays=wish.weekdays,
        earliest_start=wish.available_from,
        latest_start=latest if isinstance(latest, dt.time) else None,
        preferred_room=preferred_room,
        preferred_staff=staff_choice[0] if staff_choice else None,
        preferred_start=calendar.local(freed.start).time().replace(second=0, microsecond=0),
    )
    search = find_openings(availability, spec, day, day, prefs, patient_busy=wish.patient_busy)
    for opening in search.openings:
        if opening.start < now:
            continue
        if not (opening.start < freed.end and freed.start < opening.end):
            continue  # not the place that came free
        if _fits_wish(opening, spec, wish):
            return opening
    return None


def match_waitlist(
    availability: Availability,
    session_types: Mapping[str, SessionTypeSpec],
    freed: FreedPlace,
    wishes: Sequence[WaitlistWish],
    *,
    now: dt.datetime,
) -> tuple[WaitlistMatch, ...]:
    """The wishes that can take ``freed``, best fit first (see the module's docstring)."""
    calendar = availability.calendar
    day = calendar.local_date(freed.start)
    today = calendar.local_date(now)
    if day < today or freed.end <= now:
        return ()
    matches: list[WaitlistMatch] = []
    taken: set[int] = set()
    for wish in wishes:
        spec = session_types.get(wish.session_type)
        if wish_problem(wish, spec, day, today) is not None or wish.patient_id in taken:
            continue
        assert spec is not None
        opening = best_opening(availability, spec, freed, wish, now=now)
        if opening is None:
            continue
        minutes = int(abs((opening.start - freed.start).total_seconds()) // 60)
        matches.append(WaitlistMatch(wish, opening, minutes))
    matches.sort(key=lambda m: m.rank)
    # One offer per patient (their best-fitting wish): the desk calls a person, not an entry.
    out: list[WaitlistMatch] = []
    for match in matches:
        if match.wish.patient_id not in taken:
            taken.add(match.wish.patient_id)
            out.append(match)
    return tuple(out)
