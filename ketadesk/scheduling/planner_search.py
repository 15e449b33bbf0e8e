"""The series search behind the planner: the whole series is placed at once, not one session after
another.

Clinics keep "same time, same room" for a series, so the first session's start and room (its
*anchor*) decide what every later session costs.  The search

1. enumerates anchors for the series' first session: each treatment room it could take on its best
   few days, at the start minutes where the room's free time begins or ends on the days the series
   will likely use (the cost of a fixed set of days is piecewise linear in the minute, so its least
   value lies at such a break), plus the patient's preferred time and the planner's own greedy
   choice.  The first days are the best-ranked ones and those whose likely series costs least in
   days; a quick beam over the days alone (their points, any start) seeds anchors of its own, on
   its first day and ranked on its days (a holiday and a doses-per-window cap can make a later
   start the better series);
2. ranks the anchors by what they would cost on those likely days and keeps the best few;
3. runs a beam over the sessions in series order: each state is a partial series (its days, its
   anchors); states with the same anchors and the same recent days are merged (the cheaper one
   wins), and only the cheapest ``BEAM`` survive each step (a step dearer than ``BEAM`` states
   already offered is never made, nor its day built: ``_Bound``);
4. when the best series still breaks a rule the plan reports (a session unplaced, a stage beyond
   its window), searches again ``WIDER`` (more anchors, first days and states, no day passed
   over).

It scores with the planner's own score (``series_score``): the points of each session's day as the
planner ranks them (late start, gap off target, off the preferred weekdays, beyond the stage
window), the minutes off the series time (the preferred start, or the series' first session's)
and a room other than the series' room (the preferred room, or the first session's), and the
preferred staff member when one is named.  Days come from the planner's own day ranges
(``days_for``), so every spacing rule the planner applies applies here too.  Per-day feasibility is
built lazily and cached: a day is only looked at when a state reaches it.

The search only chooses days and anchors; the planner then places each session on its chosen day
with its own per-day rules and notes, re-checking every hold.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from heapq import heappush, heapreplace
from typing import Protocol

from ketadesk.scheduling.availability import (
    Availability,
    seconds,
)
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import ProtocolSpec, ResourceKind, SessionTypeSpec
from ketadesk.scheduling.model import PlannedSession
from ketadesk.scheduling.openings import _FAR, Preferences, PreferenceWeights, SessionSearch


@dataclass(frozen=True, slots=True)
class SeriesSlot:
    """One place in a protocol's series."""

    index: int  # 1-based place in the series ("3/6")
    stage: int  # index into ``protocol.stages``
    position: int  # 0-based place among the stage's main sessions
    session_type: str
    follows: int | None = None  # a follow-on session: the index of the session it follows


@dataclass(frozen=True, slots=True)
class DayRange:
    """The days a session may take, scored (lower is better)."""

    first: dt.date
    last: dt.date
    scored: tuple[tuple[int, dt.date], ...]
    rule: str  # the rule in words, for a problem: "1-5 days after session 3 (Induction)"


class _Planner(Protocol):
    """What the search reads of the planner (``planner._Planner``)."""

    protocol: ProtocolSpec
    prefs: Preferences
    work: Availability
    cal: ClinicCalendar
    session_types: Mapping[str, SessionTypeSpec]
    weights: PreferenceWeights
    series_minute: dict[str, int]
    keep: dict[str, dict[str, int]]

    def search(
        self,
        spec: SessionTypeSpec,
        keep: Mapping[str, int] | None = None,
        after: PlannedSession | None = None,
    ) -> SessionSearch: ...


_DayRange = DayRange

# How many anchors are followed through the whole series, and how many partial series survive
# each step.  Search effort, not clinic rules.
ANCHORS = 16
BEAM = 48
# Every day of a session's range with a start is looked at: a doses-per-window cap can make a
# day ranked well below the best one the only way past a holiday.
# Days looked at for the first session's anchors: of the best-ranked days that have a start
# (``ANCHOR_DAYS * FIRST_DAY_CANDIDATES`` of them), those whose likely series costs least.
ANCHOR_DAYS = 4
FIRST_DAY_CANDIDATES = 3
# Partial series the search for the best days alone keeps each step.
DAYS_BEAM = 16
# Whether the beams skip the steps no survivor could be (``_Bound``): the same series, found
# quicker.  Off only to check exactly that.
BOUNDED = True
# A session the search cannot place: ranked below any placed one whatever the points.
UNPLACED = 10_000_000
# When the best series found breaks a rule the plan would report (a session left unplaced, a
# stage beyond its window: a doses-per-window cap and a holiday can leave a narrow path), the
# search is run again this much wider (anchors, beam, first days): slower, but only for those
# series.
WIDER = 4

Prev = tuple[int, dt.date] | None
DaysFor = Callable[[SeriesSlot, Prev, Mapping[int, dt.date], Mapping[int, dt.date]], DayRange]


@dataclass(frozen=True, slots=True)
class Choice:
    """Where the search put one session: its day, and for a series' first session the start
    minute and room to aim for; ``kept``: the booked session stays; ``unplaced``: no day has a
    start (the planner explains)."""

    day: dt.date
    minute: int | None = None
    keep: Mapping[str, int] | None = None
    kept: bool = False
    unplaced: bool = False


Anchor = tuple[int, int | None]  # the series' (minute of day, room id) of a session type


@dataclass(slots=True)
class _State:
    """A partial series.  ``stage_first`` and ``anchors`` are never changed once made (a state
    that changes one gets its own), so states share them; ``days``, ``stage_key`` and
    ``anchor_key`` are kept in step with ``placed``, ``stage_first`` and ``anchors`` (its days
    in order, their sorted items): the keys states are merged and day ranges cached by."""

    cost: int
    prev: Prev
    stage_first: dict[int, dt.date]
    placed: dict[int, dt.date]
    anchors: dict[str, Anchor]  # type code -> (minute of day, room id)
    choices: dict[int, Choice]
    days: tuple[dt.date, ...]
    stage_key: tuple[tuple[int, dt.date], ...]
    anchor_key: tuple[tuple[str, Anchor], ...]

    @classmethod
    def first(
        cls,
        prev: Prev,
        stage_first: Mapping[int, dt.date],
        placed: Mapping[int, dt.date],
        anchors: Mapping[str, Anchor],
    ) -> _State:
        return cls(
            0,
            prev,
            dict(stage_first),
            dict(placed),
            dict(anchors),
            {},
            tuple(sorted(placed.values())),
            tuple(sorted(stage_first.items())),
            tuple(sorted(anchors.items())),
        )

    def key(self, recent: int) -> tuple[object, ...]:
        return (self.anchor_key, self.days[-recent:], self.prev, self.stage_key)

    def key_after(
        self, slot: SeriesSlot, day: dt.date, anchor: Anchor | None, recent: int
    ) -> tuple[object, ...]:
        """``key`` of the state ``slot`` on ``day`` leads to (``anchor``: the series' time and
        room it sets), without making that state."""
        if slot.index in self.placed:
            days = tuple(sorted({**self.placed, slot.index: day}.values()))[-recent:]
        elif not self.days or day > self.days[-1]:  # the usual: a later day than any
            days = (*self.days[1 - recent :], day) if recent > 1 else (day,)
        else:
            days = tuple(sorted((*self.days[-recent:], day)))[-recent:]
        prev = self.prev
        stage_key = self.stage_key
        if slot.follows is None:
            prev = (slot.index, day)
            if slot.stage not in self.stage_first:
                stage_key = tuple(sorted((*stage_key, (slot.stage, day))))
        anchor_key = self.anchor_key
        if anchor is not None:
            anchor_key = tuple(sorted({**self.anchors, slot.session_type: anchor}.items()))
        return (anchor_key, days, prev, stage_key)

    def advance(
        self,
        slot: SeriesSlot,
        day: dt.date,
        cost: int = 0,
        anchor: Anchor | None = None,
        choice: Choice | None = None,
    ) -> _State:
        """The state after ``slot`` on ``day`` at ``cost`` more (``anchor``: the series' time
        and room it sets; ``choice``: what the planner is told)."""
        placed = {**self.placed, slot.index: day}
        if slot.index in self.placed:
            days = tuple(sorted(placed.values()))
        else:
            i = bisect_right(self.days, day)
            days = (*self.days[:i], day, *self.days[i:])
        prev = self.prev
        stage_first = self.stage_first
        stage_key = self.stage_key
        if slot.follows is None:
            prev = (slot.index, day)
            if slot.stage not in stage_first:
                stage_first = {**stage_first, slot.stage: day}
                stage_key = tuple(sorted(stage_first.items()))
        anchors = self.anchors
        anchor_key = self.anchor_key
        if anchor is not None:
            anchors = {**anchors, slot.session_type: anchor}
            anchor_key = tuple(sorted(anchors.items()))
        choices = self.choices
        if choice is not None:
            choices = {**choices, slot.index: choice}
        return _State(
            self.cost + cost,
            prev,
            stage_first,
            placed,
            anchors,
            choices,
            days,
            stage_key,
            anchor_key,
        )


# One way to place a session: (its cost, its day, the series' time and room it sets, choice;
# None: ``Choice(day)``).
_Step = tuple[int, dt.date, Anchor | None, Choice | None]


class _Bound:
    """The dearest a survivor of a beam of ``size`` can be, known before the step is over: the
    ``size``-th cheapest cost at which distinct merge keys were first offered.  A key's cost only
    falls as offers merge into it, so at least ``size`` keys already cost no more than this:
    an offer dearer than it can never survive, and a day whose points alone exceed it need not
    be looked at (nor built).  None until ``size`` keys have been offered."""

    __slots__ = ("_heap", "limit", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._heap: list[int] = []  # negated: the dearest of the cheapest ``size`` on top
        self.limit: int | None = None

    def offer(self, cost: int) -> None:
        """A new key first offered at ``cost``."""
        heap = self._heap
        if len(heap) < self.size:
            heappush(heap, -cost)
            if len(heap) == self.size:
                self.limit = -heap[0]
        elif cost < -heap[0]:
            heapreplace(heap, -cost)
            self.limit = -heap[0]


class _Day:
    """One day of a session type: its local midnight and its feasible starts as bits (bit ``i``:
    a start at midnight + ``i`` minutes; only slot-grid starts are set)."""

    __slots__ = ("midnight", "starts")

    def __init__(self, midnight: int, starts: int) -> None:
        self.midnight = midnight
        self.starts = starts

    def at(self, bits: int, t: int) -> bool:
        """Whether ``bits`` (a start set of this day) has the start ``t`` (epoch seconds)."""
        i = (t - self.midnight) // 60
        return i >= 0 and (bits >> i) & 1 == 1


class _TypeDays:
    """One session type's days, looked at lazily: feasible starts, and the starts each resource
    could serve.

    Starts are kept as bits on a minute grid (``Availability.day_bits``): whether a hold of
    ``L`` minutes fits from each minute of a day is a few shifts and ands of one int, and the
    sets of starts of the needs and resources combine with ``&`` and ``|``.  It finds the same
    starts as ``SessionSearch.day_options`` (the scarcest need first, each resource in
    preference order, the slot grid from the day's opening, the start window, the patient's
    other sessions).  ``search``: the one to follow (its resources' order, the patient's other
    sessions); by default the planner's with no resource kept."""

    def __init__(
        self, planner: _Planner, spec: SessionTypeSpec, search: SessionSearch | None = None
    ) -> None:
        self.planner = planner
        self.spec = spec
        self.search: SessionSearch = search or planner.search(spec, keep={})
        self.avail = planner.work
        self.step = self.search.step
        self.per_minute = planner.weights.per_minute_from_preferred_start
        room = next(
            (n for n in self.search.needs if n.kind is ResourceKind.ROOM and not n.optional), None
        )
        self.room_key = room.key if room is not None else None
        self.rooms: tuple[int, ...] = room.candidates if room is not None else ()
        self.staff = tuple(
            p
            for p in self.search.penalties
            if any(n.key == p.need and n.kind is ResourceKind.STAFF for n in self.search.needs)
        )
        # Per need: its holds in whole minutes from the session's start, and its resources in
        # preference order.
        self.holds = {
            n.key: tuple((a // 60, b // 60, mode) for a, b, mode in n.holds)
            for n in self.search.needs
        }
        self.candidates = {n.key: n.candidates for n in self.search.needs}
        self._days: dict[dt.date, _Day | None] = {}
        self._opened: dict[dt.date, _Day | None] = {}
        self._fits: dict[tuple[str, int, dt.date], int] = {}
        self._cost: dict[tuple[dt.date, int | None, int | None], tuple[int, int, int | None] | None]
        self._cost = {}
        self._points: dict[tuple[dt.date, int | None, int | None], int | None] = {}

    def day(self, day: dt.date) -> _Day | None:
        """The day's feasible starts (None when it has none), as ``SessionSearch.day_options``
        finds them."""
        if day in self._days:
            return self._days[day]
        found = self._build(day)
        self._days[day] = found
        return found

    def _open(self, day: dt.date) -> _Day | None:
        """The day's starts before any resource is asked: the clinic open for the whole
        session, on the slot grid, in the start window, the patient free."""
        if day in self._opened:
            return self._opened[day]
        found = self._opened[day] = self._open_starts(day)
        return found

    def _open_starts(self, day: dt.date) -> _Day | None:
        search = self.search
        avail = self.avail
        open_spans = avail.open_spans(day)
        anchor = search.anchor(day)
        if not open_spans or anchor is None:
            return None
        midnight, next_midnight = avail.day_frame(day)
        starts = avail.open_runs(day, self.spec.total_minutes)
        lo, hi = search.window(day, self.planner.prefs)
        if lo > -_FAR or hi < _FAR:
            starts &= _mask(midnight, lo, hi)
        step = self.step // 60
        starts &= _grid((anchor - midnight) // 60 % step, step, (next_midnight - midnight) // 60)
        for cut_lo, cut_hi in search._patient_cuts:
            if cut_hi >= midnight and cut_lo < next_midnight:  # the patient's other days: none
                starts &= ~_mask(midnight, cut_lo, cut_hi)
        return _Day(midnight, starts) if starts else None

    def at(self, day: dt.date, t: int) -> dict[str, int] | None:
        """The resources for a start at ``t`` (on the slot grid), each need's first in
        preference order (as ``SessionSearch.at``); None when it has no start there."""
        opened = self._open(day)
        if opened is None or not opened.at(opened.starts, t):
            return None
        chosen: dict[str, int] = {}
        for need in self.search.needs:
            rid = self.first_serving(need.key, opened, day, t)
            if rid is not None:
                chosen[need.key] = rid
            elif not need.optional:
                return None
        return chosen

    def _build(self, day: dt.date) -> _Day | None:
        search = self.search
        opened = self._open(day)
        if opened is None:
            return None
        midnight, starts = opened.midnight, opened.starts
        prune = search._prune
        known = self._fits
        hold_starts = self.avail.hold_starts
        for need in search._order:
            covered = 0
            key = need.key
            holds = self.holds[key]
            for rid in need.candidates:
                fits = known.get((key, rid, day))
                if fits is None:
                    fits = known[(key, rid, day)] = hold_starts(rid, day, holds)
                covered |= fits & starts
                if prune and covered == starts:
                    break  # every start has a resource preferred to the rest
            if need.optional:
                continue
            starts = covered
            if not starts:
                return None
        return _Day(midnight, starts)

    def fits(self, need: str, rid: int, day: dt.date) -> int:
        """The starts (bits from the day's midnight) at which ``rid``'s free time holds every
        hold of ``need``, whatever the other needs."""
        key = (need, rid, day)
        found = self._fits.get(key)
        if found is None:
            found = self._fits[key] = self.avail.hold_starts(rid, day, self.holds[need])
        return found

    def serve(self, need: str, rid: int, day: dt.date) -> int:
        """The day's feasible starts at which ``rid`` can serve ``need`` (bits)."""
        found = self.day(day)
        return self.fits(need, rid, day) & found.starts if found is not None else 0

    def first_serving(self, need: str, day: _Day, on: dt.date, t: int) -> int | None:
        """The first resource in preference order that can serve ``need`` at ``t``."""
        return next(
            (rid for rid in self.candidates[need] if day.at(self.fits(need, rid, on), t)), None
        )

    def best(self, day: dt.date, target: int | None) -> tuple[int, int, dict[str, int]] | None:
        """(cost, start, resources) of the day's cheapest start aiming at ``target`` (epoch
        seconds), the earliest among equals, as ``SessionSearch.best_on_day`` chooses it over
        ``day_options`` (each of the search's penalties counted where its resource cannot
        serve, the first resource in preference order that can serve each need); None when
        the day has no start.  Only for a search whose needs share no resource
        (``SessionSearch._prune``)."""
        found = self.day(day)
        if found is None:
            return None
        penalties = self.search.penalties
        best: tuple[int, int] | None = None
        # Each set of penalties the start keeps: its starts, and the nearest one's cost (a
        # start that keeps more than its set counts at its own cost in that set's turn).
        for kept in range(1 << len(penalties)):
            bits = found.starts
            points = 0
            for i, p in enumerate(penalties):
                if kept >> i & 1:
                    bits &= self.fits(p.need, p.resource_id, day)
                else:
                    points += p.points
            if not bits:
                continue
            t = _nearest(bits, found.midnight, target)
            if target is not None:
                points += abs(t - target) // 60 * self.per_minute
            if best is None or (points, t) < best:
                best = (points, t)
        assert best is not None  # the set of no penalties has every start
        chosen: dict[str, int] = {}
        for need in self.search.needs:
            rid = self.first_serving(need.key, found, day, best[1])
            if rid is not None:
                chosen[need.key] = rid
        return best[0], best[1], chosen

    def on_grid(self, day: dt.date, t: int) -> bool:
        """Whether ``t`` is on the day's slot grid (a whole minute, a whole number of slots
        from the day's opening)."""
        anchor = self.search.anchor(day)
        return anchor is not None and (t - anchor) % self.step == 0

    def plain(self, day: dt.date) -> bool:
        """Whether ``day`` has no clock change (each minute of its grid is its bit)."""
        midnight, next_midnight = self.avail.day_frame(day)
        return next_midnight - midnight == 24 * 60 * 60

    def minute(self, day: dt.date, t: int) -> int:
        """The local minute of the day of ``t``, a start on ``day``."""
        return self.avail.minute_of_day(day, t)

    def cost(
        self, day: dt.date, minute: int | None, room: int | None
    ) -> tuple[int, int, int | None] | None:
        """(points, start, room) of the day's best start aiming at ``minute`` in ``room`` (both
        optional), as the planner's per-day choice ranks them; None when the day has none."""
        key = (day, minute, room)
        if key in self._cost:
            return self._cost[key]
        result = self._nearest_start(day, minute, room)
        if result is not None and result[2] is None and self.room_key is not None:
            found = self.day(day)
            assert found is not None
            serving = self.first_serving(self.room_key, found, day, result[1])
            result = (result[0], result[1], serving)
        self._cost[key] = result
        return result

    def points(self, day: dt.date, minute: int | None, room: int | None) -> int | None:
        """The points of ``cost`` alone (no room looked for when another room wins)."""
        key = (day, minute, room)
        if key in self._cost:
            found = self._cost[key]
        elif key in self._points:
            return self._points[key]
        else:
            found = self._nearest_start(day, minute, room)
            self._points[key] = found[0] if found is not None else None
        return found[0] if found is not None else None

    def _nearest_start(
        self, day: dt.date, minute: int | None, room: int | None
    ) -> tuple[int, int, int | None] | None:
        """``cost`` before a start in another room is given its room (None then)."""
        found = self.day(day)
        result: tuple[int, int, int | None] | None = None
        if found is not None:
            target = self.avail.local_seconds(day, minute) if minute is not None else None
            if target is not None and not self.staff and self.planner.weights.other_room > 0:
                # The usual answer once a series has its time and room: free right there (the
                # loop below would find the same, nothing cheaper than no points at all).
                bits = found.starts
                if room is not None and self.room_key is not None:
                    bits &= self.fits(self.room_key, room, day)
                offset = target - found.midnight
                if offset >= 0 and offset % 60 == 0 and bits >> (offset // 60) & 1:
                    return 0, target, room if self.room_key is not None else None
            if not self.staff:
                return self._nearest_in(found, day, target, room)
            rooms: list[tuple[int | None, int]] = [(None, 0)]
            if room is not None and self.room_key is not None:
                rooms = [(room, 0), (None, self.planner.weights.other_room)]
            staff_sets: list[tuple[tuple[str, int] | None, int]] = [(None, 0)]
            for p in self.staff[:1]:
                staff_sets = [((p.need, p.resource_id), 0), (None, p.points)]
            for rid, room_points in rooms:
                for staff, staff_points in staff_sets:
                    bits = found.starts
                    if rid is not None and self.room_key is not None:
                        bits &= self.fits(self.room_key, rid, day)
                    if staff is not None:
                        bits &= self.fits(staff[0], staff[1], day)
                    if not bits:
                        continue
                    near = _nearest(bits, found.midnight, target)
                    points = room_points + staff_points
                    if target is not None:
                        points += abs(near - target) // 60 * self.per_minute
                    if result is None or (points, near) < result[:2]:
                        result = (points, near, rid)
        return result

    def _nearest_in(
        self, found: _Day, day: dt.date, target: int | None, room: int | None
    ) -> tuple[int, int, int | None]:
        """``_nearest_start`` of a type with no staff to prefer (the common case), the same
        answer without its general loop: the start nearest ``target`` in ``room``, then in
        any room for ``other_room`` points more, only when that could still be cheaper."""
        midnight, starts, per = found.midnight, found.starts, self.per_minute
        result: tuple[int, int, int | None] | None = None
        if room is not None and self.room_key is not None:
            bits = starts & self.fits(self.room_key, room, day)
            if bits:
                near = _nearest(bits, midnight, target)
                result = (abs(near - target) // 60 * per if target is not None else 0, near, room)
            other = self.planner.weights.other_room
            if result is not None and other > result[0]:
                return result
        else:
            other = 0
        near = _nearest(starts, midnight, target)  # a day found has a start
        points = other + (abs(near - target) // 60 * per if target is not None else 0)
        if result is None or (points, near) < result[:2]:
            result = (points, near, None)
        return result


def _cost_order(merged: tuple[int, int, *tuple[object, ...]]) -> tuple[int, int]:
    return merged[0], merged[1]


def _mask(midnight: int, lo: int, hi: int) -> int:
    """The bits of the starts from ``lo`` to ``hi`` (epoch seconds, both included)."""
    first = max(0, -((midnight - lo) // 60))  # ceil
    last = (hi - midnight) // 60
    if last > 10_000:  # an open end: past any day
        last = 10_000
    return ((1 << (last - first + 1)) - 1) << first if last >= first else 0


_GRIDS: dict[tuple[int, int, int], int] = {}


def _grid(first: int, step: int, length: int) -> int:
    """Bits ``first``, ``first + step``, ... below ``length`` (the slot grid of a day)."""
    key = (first, step, length)
    found = _GRIDS.get(key)
    if found is None:
        found = 0
        for i in range(first, length, step):
            found |= 1 << i
        _GRIDS[key] = found
    return found


def _bits(bits: int) -> Iterator[int]:
    """The indices of the set bits, lowest first."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


def _runs(bits: int, step: int) -> int:
    """The first and last starts of each run of starts ``step`` minutes apart."""
    return bits & ~(bits << step) | bits & ~(bits >> step)


def _nearest(bits: int, midnight: int, target: int | None) -> int:
    """The start in ``bits`` (not empty) nearest ``target`` (the earliest among equals), in
    epoch seconds."""
    if target is None:
        return midnight + 60 * ((bits & -bits).bit_length() - 1)
    i = (target - midnight) // 60
    below: int | None = None
    above: int | None = None
    if i >= 0:
        low = bits & ((2 << i) - 1)
        if low:
            below = midnight + 60 * (low.bit_length() - 1)
        high = bits >> (i + 1)
        if high:
            above = midnight + 60 * (i + (high & -high).bit_length())
    else:
        above = midnight + 60 * ((bits & -bits).bit_length() - 1)
    if below is None:
        assert above is not None
        return above
    if above is None or target - below <= above - target:
        return below
    return above


class SeriesSearch:
    """Chooses the days (and the first session's start and room) of the slots still to place."""

    def __init__(self, planner: _Planner, days_for: DaysFor) -> None:
        self.planner = planner
        self.days_for = days_for
        self.types: dict[str, _TypeDays] = {}
        self._days: dict[tuple[object, ...], _DayRange] = {}
        self.anchors = ANCHORS
        self.beam = BEAM
        self.anchor_days = ANCHOR_DAYS
        self.bounded = BOUNDED
        # The first day and later days of the series' best days alone (see ``run``).
        self._seed: tuple[dt.date, list[dt.date]] | None = None
        self._choices: dict[dt.date, Choice] = {}
        self._runs_of: dict[tuple[str, int, dt.date], int] = {}
        self._likely: dict[dt.date, tuple[list[tuple[SeriesSlot, dt.date]], int]] = {}
        self._still_free: dict[int, bool] = {}  # booked sessions (re-flow) whose holds are free
        # The best series found from each first day (its first session's day): why a series
        # starts later than a free earlier day is told from the series that day would give.
        self.best_by_first: dict[dt.date, _State] = {}
        prefs = planner.prefs
        self.preferred_minute = (
            prefs.preferred_start.hour * 60 + prefs.preferred_start.minute
            if prefs.preferred_start is not None
            else None
        )

    def _on(self, day: dt.date) -> Choice:
        """``Choice(day)``, one for each day (it never changes): the beams make thousands."""
        found = self._choices.get(day)
        if found is None:
            found = self._choices[day] = Choice(day)
        return found

    def days(self, slot: SeriesSlot, state: _State) -> _DayRange:
        """The slot's day range after ``state`` (the planner's own, cached)."""
        # What the planner's day ranges read: the previous session, the first day of the
        # slot's stage, the session a follow-on follows, the history a doses-per-window cap
        # counts.
        key = (
            slot.index,
            state.prev,
            state.stage_first.get(slot.stage),
            state.placed.get(slot.follows) if slot.follows is not None else None,
            self._cap_history(slot, state),
        )
        found = self._days.get(key)
        if found is None:
            found = self.days_for(slot, state.prev, state.stage_first, state.placed)
            self._days[key] = found
        return found

    def _cap_history(self, slot: SeriesSlot, state: _State) -> tuple[dt.date, ...]:
        """What a stage's doses-per-window cap reads of the history (its last ``sessions``
        days), so that day ranges cached for one history are not reused for another."""
        cap = self.planner.protocol.stages[slot.stage].window_cap
        if cap is None or slot.follows is not None:
            return ()
        return state.days[-cap.sessions :]

    def table(self, code: str) -> _TypeDays:
        found = self.types.get(code)
        if found is None:
            found = _TypeDays(self.planner, self.planner.session_types[code])
            self.types[code] = found
        return found

    def _targets(
        self, table: _TypeDays, anchor: tuple[int, int | None] | None
    ) -> tuple[int | None, int | None]:
        minute = self.preferred_minute
        if minute is None and anchor is not None:
            minute = anchor[0]
        room = self.planner.prefs.preferred_room
        if room is None or room not in table.rooms:
            room = anchor[1] if anchor is not None else None
        return minute, room

    # -- the search ---------------------------------------------------------------------------

    def run(
        self,
        slots: Sequence[tuple[SeriesSlot, PlannedSession | None]],
        prev: Prev,
        stage_first: Mapping[int, dt.date],
        placed: Mapping[int, dt.date],
    ) -> dict[int, Choice]:
        """Choices for ``slots`` (in series order; each with its booked session when re-flowed),
        given what is already placed before them."""
        first = slots[0][0] if slots else None
        if first is not None and first.session_type not in self.planner.series_minute:
            # The series' best days alone (each day's points, any start): their first day and
            # the days they use seed anchors of their own, ranked on those days.
            days = self._days_only(slots, prev, stage_first, placed)
            if days is not None:
                code = first.session_type
                self._seed = (
                    days.choices[first.index].day,
                    [
                        days.choices[s.index].day
                        for s, _ in slots[1:]
                        if s.session_type == code and s.index in days.choices
                    ],
                )
        best = self._run(slots, prev, stage_first, placed)
        if best.cost >= self.planner.weights.beyond_stage_window:
            self.anchors, self.beam = ANCHORS * WIDER, BEAM * WIDER
            self.anchor_days = ANCHOR_DAYS * WIDER
            wider = self._run(slots, prev, stage_first, placed)
            if wider.cost < best.cost:
                best = wider
        return best.choices

    def _run(
        self,
        slots: Sequence[tuple[SeriesSlot, PlannedSession | None]],
        prev: Prev,
        stage_first: Mapping[int, dt.date],
        placed: Mapping[int, dt.date],
    ) -> _State:
        anchors: dict[str, tuple[int, int | None]] = {}
        for code, minute in self.planner.series_minute.items():
            keep = self.planner.keep.get(code, {})
            table = self.table(code)
            anchors[code] = (minute, keep.get(table.room_key) if table.room_key else None)
        start = _State.first(prev, stage_first, placed, anchors)
        recent = 2
        states = [start]
        for n, (slot, was) in enumerate(slots):
            if n == 0 and slot.session_type not in anchors:
                states = self._anchored_first(slot, start, slots[1:])
                continue
            # Each state's next steps as (cost, order, state, step), merged by the key of the
            # state they lead to (the cheaper wins, the first among equals); the cheapest
            # ``beam`` survive, among equals the one whose winning step came first, and only
            # they are made into states.  With ``bounded``, steps no survivor could be are never
            # made (``_Bound``): the survivors are the same, as neither their costs nor the
            # order of their winning steps depend on the steps left out.
            merged: dict[tuple[object, ...], tuple[int, int, _State, _Step]] = {}
            bound = _Bound(self.beam)
            order = 0
            for state in states:
                base = state.cost
                limit = bound.limit if self.bounded else None
                for step in self._steps(
                    state, slot, was, limit=None if limit is None else limit - base
                ):
                    cost = base + step[0]
                    if limit is not None and cost > limit:
                        continue
                    k = state.key_after(slot, step[1], step[2], recent)
                    other = merged.get(k)
                    if other is None:
                        merged[k] = (cost, order, state, step)
                        bound.offer(cost)
                        if self.bounded:
                            limit = bound.limit
                    elif cost < other[0]:
                        merged[k] = (cost, order, state, step)
                    order += 1
            best = sorted(merged.values(), key=_cost_order)[: self.beam]
            states = [
                state.advance(slot, st[1], st[0], st[2], st[3] or self._on(st[1]))
                for _c, _o, state, st in best
            ]
        # The old planner's own series, session by session, is always a candidate: the search
        # never returns a series it scores worse.
        dive = self._greedy(start, slots, anchors)
        final = [*states, dive]
        if slots:
            index = slots[0][0].index
            for state in final:
                choice = state.choices.get(index)
                if choice is None:
                    continue
                was_best = self.best_by_first.get(choice.day)
                if was_best is None or state.cost < was_best.cost:
                    self.best_by_first[choice.day] = state
        return min(final, key=lambda s: s.cost)

    def series_from(
        self, slots: Sequence[SeriesSlot], first_day: dt.date
    ) -> list[tuple[SeriesSlot, dt.date | None, int]]:
        """The later sessions of the series starting on ``first_day`` as (slot, day or None when
        it has no day with a start, the day's points): the best series the search found from
        that day, else each session on its best-ranked day with a start."""
        if not slots:
            return []
        state = _State.first(None, {}, {}, {})
        found = self.best_by_first.get(first_day)
        if found is not None:
            picks = [(s, found.choices[s.index].day) for s in slots[1:] if s.index in found.choices]
        else:
            picks, _total = self._likely_from(
                slots[0], state, first_day, [(s, None) for s in slots[1:]]
            )
        state = state.advance(slots[0], first_day)
        out: list[tuple[SeriesSlot, dt.date | None, int]] = []
        for slot, day in picks:
            days = self.days(slot, state)
            points = next((p for p, d in days.scored if d == day), None)
            unplaced = self.table(slot.session_type).day(day) is None
            if found is not None:
                choice = found.choices[slot.index]
                unplaced = choice.unplaced
            out.append((slot, None if unplaced or points is None else day, points or 0))
            state = state.advance(slot, day)
        return out

    def _days_only(
        self,
        slots: Sequence[tuple[SeriesSlot, PlannedSession | None]],
        prev: Prev,
        stage_first: Mapping[int, dt.date],
        placed: Mapping[int, dt.date],
    ) -> _State | None:
        """The series' best days by their points alone (a day counts when it has a start at
        all), by the same beam; None when some session has no day."""
        states = [_State.first(prev, stage_first, placed, {})]
        for slot, _was in slots:
            table = self.table(slot.session_type)
            # As the beam of ``_run``: merged by key, the cheapest survive (among equals the
            # one whose winning step came first), steps no survivor could be left out.
            merged: dict[tuple[object, ...], tuple[int, int, _State, int, dt.date]] = {}
            bound = _Bound(DAYS_BEAM)
            order = 0
            for state in states:
                days = self.days(slot, state)
                limit: int | None = None
                for points, day in days.scored:
                    if limit is not None and points > limit:
                        break
                    cost = state.cost + points
                    if self.bounded and bound.limit is not None and cost > bound.limit:
                        break
                    if table.day(day) is None:
                        continue
                    if limit is None:
                        limit = points + 2 * self.planner.weights.off_weekday
                    k = state.key_after(slot, day, None, 2)
                    old = merged.get(k)
                    if old is None:
                        merged[k] = (cost, order, state, points, day)
                        bound.offer(cost)
                    elif cost < old[0]:
                        merged[k] = (cost, order, state, points, day)
                    order += 1
            if not merged:
                return None
            best = sorted(merged.values(), key=_cost_order)[:DAYS_BEAM]
            states = [
                state.advance(slot, day, p, None, self._on(day)) for _c, _o, state, p, day in best
            ]
        return states[0]

    def _greedy(
        self,
        start: _State,
        slots: Sequence[tuple[SeriesSlot, PlannedSession | None]],
        anchors: Mapping[str, tuple[int, int | None]],
    ) -> _State:
        """Each session on its own best day, never going back (as ``whole_series=False``)."""
        state = start
        for n, (slot, was) in enumerate(slots):
            code = slot.session_type
            if n == 0 and code not in anchors:
                table = self.table(code)
                pref_room = self.planner.prefs.preferred_room
                fixed_room = pref_room if pref_room in table.rooms else None
                days = self.days(slot, state)
                best: tuple[int, int, dt.date, int, int | None] | None = None
                for points, day in days.scored:
                    if best is not None and points >= best[0]:
                        break
                    found = table.cost(day, self.preferred_minute, fixed_room)
                    if found is not None and (best is None or points + found[0] < best[0]):
                        best = (points + found[0], points, day, found[1], found[2])
                if best is not None:
                    total, _points, day, t, rid = best
                    keep = {table.room_key: rid} if table.room_key and rid is not None else None
                    aim = table.minute(day, t) if self.preferred_minute is None else None
                    anchor = (table.minute(day, t), rid)
                    state = state.advance(slot, day, total, anchor, Choice(day, aim, keep))
                    continue
            steps = self._steps(state, slot, was, greedy=True)
            step = min(steps, key=lambda st: st[0])  # the first among equals, as greedy
            state = state.advance(slot, step[1], step[0], step[2], step[3] or self._on(step[1]))
        return state

    def _steps(
        self,
        state: _State,
        slot: SeriesSlot,
        was: PlannedSession | None,
        *,
        greedy: bool = False,
        limit: int | None = None,
    ) -> list[_Step]:
        """The ways to place ``slot`` after ``state`` on each day worth a look, as (cost, day,
        the series' time and room it sets, choice); ``greedy``: the days the one-at-a-time
        planner looks at (until a day's points alone exceed the best total); ``limit``: only
        the steps costing no more (the days after a dearer one, in points order, are not looked
        at: the steps are the first of those without ``limit``, less the dearer ones)."""
        days = self.days(slot, state)
        table = self.table(slot.session_type)
        anchor = state.anchors.get(slot.session_type)
        minute, room = self._targets(table, anchor)
        cal = self.planner.cal
        out: list[_Step] = []
        was_day = cal.local_date(was.start) if was is not None and was.placed else None
        kept_cost = self._kept_cost(was, table, minute, room) if was_day is not None else None
        if was_day is not None and kept_cost is not None and days.first <= was_day <= days.last:
            # A booked session that still keeps its spacing and resources stays as booked.
            points = next((p for p, d in days.scored if d == was_day), 0)
            return [(points + kept_cost, was_day, None, Choice(was_day, kept=True))]
        best_total: int | None = None
        cut = False
        for points, day in days.scored:
            if greedy and best_total is not None and points >= best_total:
                break
            if limit is not None and points > limit:
                cut = True
                break
            found = table.cost(day, minute, room)
            if found is None:
                continue
            if limit is not None and points + found[0] > limit:
                cut = True
                continue
            if greedy and (best_total is None or points + found[0] < best_total):
                best_total = points + found[0]
            sets = (table.minute(day, found[1]), found[2]) if anchor is None else None
            out.append((points + found[0], day, sets, None))  # Choice(day), made for survivors
        if not out:
            if cut:
                # Whether the session has a day at all is only known from every day.
                assert limit is not None
                return [] if limit < UNPLACED else self._steps(state, slot, was)
            day = days.scored[0][1] if days.scored else days.first
            out.append((UNPLACED, day, None, Choice(day, unplaced=True)))
        return out

    def _kept_cost(
        self, was: PlannedSession | None, table: _TypeDays, minute: int | None, room: int | None
    ) -> int | None:
        """The score of a booked session left as it is, or None when it cannot stay."""
        if was is None or not was.placed or not was.holds:
            return None
        pinned = {h.need: h.resource_id for h in was.holds}
        free = self._still_free.get(was.index)
        if free is None:
            search = self.planner.search(table.spec, keep=pinned)
            free = search.at(seconds(was.start), only=pinned)[0] is not None
            self._still_free[was.index] = free
        if not free:
            return None
        points = 0
        if minute is not None:
            target = self.planner.work.local_seconds(self.planner.cal.local_date(was.start), minute)
            points += abs(seconds(was.start) - target) // 60 * table.per_minute
        if room is not None and table.room_key is not None and pinned.get(table.room_key) != room:
            points += self.planner.weights.other_room
        return points

    # -- anchors ------------------------------------------------------------------------------

    def _anchored_first(
        self,
        slot: SeriesSlot,
        start: _State,
        rest: Sequence[tuple[SeriesSlot, PlannedSession | None]],
    ) -> list[_State]:
        """The series' first session at each promising anchor, best first."""
        self._likely.clear()  # ``_likely_days`` of this ``start`` and ``rest`` only
        code = slot.session_type
        table = self.table(code)
        days = self.days(slot, start)
        candidates: list[tuple[int, dt.date]] = []
        for p, d in days.scored:  # best-ranked first: only as many days as needed are built
            if table.day(d) is not None:
                candidates.append((p, d))
                if len(candidates) == self.anchor_days * FIRST_DAY_CANDIDATES:
                    break
        if not candidates:
            steps = self._steps(start, slot, None)
            return [
                start.advance(slot, day, cost, sets, c or Choice(day))
                for cost, day, sets, c in steps
            ]
        # The first days whose series would likely cost least in days (its own points and
        # those of the later sessions' likely days), the best-ranked first among equals: a
        # later start can keep the rest of the series off a holiday, and its doses-per-window
        # cap off the preferred weekdays.
        by_series = sorted(
            range(len(candidates)),
            key=lambda i: (
                candidates[i][0] + self._likely_days(slot, start, candidates[i][1], rest)[1],
                i,
            ),
        )
        chosen = set(range(min(self.anchor_days, len(candidates)))) | set(
            by_series[: max(1, self.anchor_days // 2)]
        )
        first_days = [candidates[i] for i in sorted(chosen)]
        pref_room = self.planner.prefs.preferred_room
        fixed_room = pref_room if pref_room in table.rooms else None
        rooms: Sequence[int | None] = table.rooms or (None,)
        greedy_first = table.cost(first_days[0][1], self.preferred_minute, fixed_room)
        # Each first day gets its share of the anchors: a later start can be the one that keeps
        # the rest of the series off a holiday (and its doses-per-window cap off the preferred
        # weekdays), which the first day's own likely days would never show.
        share = max(1, self.anchors // len(first_days))
        ranked: list[tuple[int, int, tuple[dt.date, int, int | None]]] = []
        for points, d1 in first_days:
            greedy = greedy_first if d1 == first_days[0][1] else None
            ranked.extend(
                self._rank_anchors(table, slot, start, rest, points, d1, rooms, greedy, share)
            )
        if self._seed is not None:
            day, later = self._seed
            seed_points = next((p for p, d in days.scored if d == day), None)
            if seed_points is not None:
                seen = {r[2] for r in ranked}
                seeded = self._rank_anchors(
                    table, slot, start, rest, seed_points, day, rooms, None, share, likely=later
                )
                ranked.extend(r for r in seeded if r[2] not in seen)
        ranked.sort(key=lambda r: (r[0], r[2][0], r[2][1], rooms.index(r[2][2])))
        return self._anchor_states(table, slot, start, ranked)

    def _anchor_states(
        self,
        table: _TypeDays,
        slot: SeriesSlot,
        start: _State,
        ranked: Sequence[tuple[int, int, tuple[dt.date, int, int | None]]],
    ) -> list[_State]:
        out: list[_State] = []
        for _estimate, first_points, (d1, minute, rid) in ranked:
            keep = {table.room_key: rid} if table.room_key is not None and rid is not None else None
            # With a preferred start the series' time is that, whatever the first session's.
            aim = minute if self.preferred_minute is None else None
            choice = Choice(d1, minute=aim, keep=keep)
            out.append(start.advance(slot, d1, first_points, (minute, rid), choice))
        return out

    def _rank_anchors(
        self,
        table: _TypeDays,
        slot: SeriesSlot,
        start: _State,
        rest: Sequence[tuple[SeriesSlot, PlannedSession | None]],
        points: int,
        d1: dt.date,
        rooms: Sequence[int | None],
        greedy_first: tuple[int, int, int | None] | None,
        keep: int,
        *,
        likely: Sequence[dt.date] | None = None,
    ) -> list[tuple[int, int, tuple[dt.date, int, int | None]]]:
        """The ``keep`` best anchors (estimate, first session's points, (day, minute, room)) of
        the first session on ``d1``, each estimated on the days the series would likely use
        from there (each later session on its best-ranked day with a start)."""
        if likely is None:
            days, _points = self._likely_days(slot, start, d1, rest)
            same_type = [d for s, d in days if s.session_type == table.spec.code]
        else:
            same_type = list(likely)
        scored: dict[tuple[dt.date, int, int | None], int] = {}
        first = table.day(d1)
        assert first is not None
        step = table.step // 60
        work = self.planner.work
        key_room = table.room_key
        # On days without a clock change a start's bit is its minute of the day: the breaks of
        # every day are then marked in one int.
        plain = table.plain(d1) and all(table.plain(d) for d in same_type)
        for rid in rooms:
            own = table.serve(key_room, rid, d1) if rid is not None and key_room else first.starts
            if not own:
                continue
            if plain:
                marks = _runs(own, step)
                if self.preferred_minute is not None:
                    marks |= 1 << self.preferred_minute
                if rid is not None and key_room:
                    for d in same_type:
                        marks |= self._serve_runs(table, rid, d, step)
                midnight = first.midnight
                for i in _bits(marks):
                    if own >> i & 1:  # a start itself (``_nearest`` would say so)
                        t = midnight + 60 * i
                        key = (d1, i, rid)
                    else:
                        t = _nearest(own, midnight, midnight + 60 * i)
                        key = (d1, (t - midnight) // 60, rid)
                    if key not in scored:
                        scored[key] = points + self._first_points(table, d1, t, rid)
                continue
            breaks = {first.midnight + 60 * i for i in _bits(_runs(own, step))}
            if self.preferred_minute is not None:
                breaks.add(work.local_seconds(d1, self.preferred_minute))
            if rid is not None and key_room:
                for d in same_type:
                    other = table.day(d)
                    if other is None:
                        continue
                    for i in _bits(_runs(table.serve(key_room, rid, d), step)):
                        minute = table.minute(d, other.midnight + 60 * i)
                        breaks.add(work.local_seconds(d1, minute))
            for b in breaks:
                t = _nearest(own, first.midnight, b)
                key = (d1, table.minute(d1, t), rid)
                if key in scored:
                    continue
                scored[key] = points + self._first_points(table, d1, t, rid)
        if greedy_first is not None:
            key = (d1, table.minute(d1, greedy_first[1]), greedy_first[2])
            scored.setdefault(key, points + greedy_first[0])
        ranked: list[tuple[int, int, tuple[dt.date, int, int | None]]] = []
        # Cheapest first-session points first, so that the K-th best estimate soon bounds the
        # rest: an anchor whose partial estimate already exceeds it is dropped.
        order = sorted(scored.items(), key=lambda kv: (kv[1], kv[0][0], kv[0][1]))
        missing = 2 * self.planner.weights.off_weekday
        bound: int | None = None
        # On days without a clock change, a start free right at the series' time and room
        # costs nothing (``points`` would say so): one bit of the room's starts that day.
        quick = plain and not table.staff and self.planner.weights.other_room > 0
        free_at: dict[tuple[dt.date, int | None], int] = {}
        for key, first_points in order:
            if bound is not None and first_points > bound:
                break  # the rest start dearer than the bound, whatever their later sessions
            _d1, minute, rid = key
            tm, tr = self._targets(table, (minute, rid))
            estimate = first_points
            for d in same_type:
                if bound is not None and estimate > bound:
                    break
                if quick and tm is not None:
                    bits = free_at.get((d, tr))
                    if bits is None:
                        bits = free_at[(d, tr)] = self._free_starts(table, d, tr)
                    if bits >> tm & 1:
                        continue
                found = table.points(d, tm, tr)
                estimate += found if found is not None else missing
            if bound is not None and estimate > bound:
                continue
            ranked.append((estimate, first_points, key))
            if len(ranked) >= keep:
                ranked.sort(key=lambda r: (r[0], r[2][0], r[2][1], rooms.index(r[2][2])))
                del ranked[keep:]
                bound = ranked[-1][0]
        return ranked

    def _free_starts(self, table: _TypeDays, day: dt.date, room: int | None) -> int:
        """The day's starts in ``room`` (any room when None or the type needs none)."""
        found = table.day(day)
        if found is None:
            return 0
        if room is None or table.room_key is None:
            return found.starts
        return found.starts & table.fits(table.room_key, room, day)

    def _serve_runs(self, table: _TypeDays, rid: int, day: dt.date, step: int) -> int:
        """``_runs`` of the starts ``rid`` serves on ``day`` (kept: each first day's anchors
        are marked with the same later days')."""
        key = (table.spec.code, rid, day)
        found = self._runs_of.get(key)
        if found is None:
            assert table.room_key is not None
            found = self._runs_of[key] = _runs(table.serve(table.room_key, rid, day), step)
        return found

    def _first_points(self, table: _TypeDays, day: dt.date, t: int, rid: int | None) -> int:
        """The first session's own points at ``t`` (a start on ``day``) in ``rid``: preferred
        time, room, staff."""
        points = 0
        if self.preferred_minute is not None:
            target = self.planner.work.local_seconds(day, self.preferred_minute)
            points += abs(t - target) // 60 * table.per_minute
        pref_room = self.planner.prefs.preferred_room
        if pref_room in table.rooms and rid != pref_room:
            points += self.planner.weights.other_room
        for p in table.staff[:1]:
            found = table.day(day)
            if found is None or not found.at(table.serve(p.need, p.resource_id, day), t):
                points += p.points
        return points

    def _likely_days(
        self,
        slot: SeriesSlot,
        start: _State,
        day: dt.date,
        rest: Sequence[tuple[SeriesSlot, PlannedSession | None]],
    ) -> tuple[list[tuple[SeriesSlot, dt.date]], int]:
        """The days the series would likely use after its first session on ``day`` (each later
        session on its best-ranked day with a start), and their points; kept for the first
        days of one ``_anchored_first`` (they are sorted on it, then ranked on it)."""
        found = self._likely.get(day)
        if found is None:
            found = self._likely[day] = self._likely_from(slot, start, day, rest)
        return found

    def _likely_from(
        self,
        slot: SeriesSlot,
        start: _State,
        day: dt.date,
        rest: Sequence[tuple[SeriesSlot, PlannedSession | None]],
    ) -> tuple[list[tuple[SeriesSlot, dt.date]], int]:
        state = start.advance(slot, day)
        out: list[tuple[SeriesSlot, dt.date]] = []
        total = 0
        for later, _was in rest:
            days = self.days(later, state)
            table = self.table(later.session_type)
            found = next(((p, d) for p, d in days.scored if table.day(d) is not None), None)
            if found is None:
                pick = days.scored[0][1] if days.scored else days.first
                total += UNPLACED
            else:
                total += found[0]
                pick = found[1]
            out.append((later, pick))
            state = state.advance(later, pick)
        return out, total


# --------------------------------------------------------------------------------------------
# The score


def series_score(
    planner: _Planner,
    sessions: Sequence[PlannedSession],
    days_for: DaysFor,
    slots: Sequence[SeriesSlot],
) -> int:
    """The planner's score of a placed series (lower is better): the points of each session's
    day in its range, the minutes off the series time and a room other than the series' room
    (as ``SeriesSearch`` ranks them).  A session outside its day range or unplaced scores
    ``UNPLACED``."""
    by_index = {s.index: s for s in sessions}
    cal = planner.cal
    prefs = planner.prefs
    pref_minute = (
        prefs.preferred_start.hour * 60 + prefs.preferred_start.minute
        if prefs.preferred_start is not None
        else None
    )
    prev: Prev = None
    stage_first: dict[int, dt.date] = {}
    placed: dict[int, dt.date] = {}
    series: dict[str, tuple[int, int | None]] = {}
    total = 0
    for slot in slots:
        session = by_index.get(slot.index)
        if session is None or not session.placed:
            total += UNPLACED
            continue
        day = cal.local_date(session.start)
        days = days_for(slot, prev, stage_first, placed)
        points = next((p for p, d in days.scored if d == day), None)
        if points is None:
            total += UNPLACED
        else:
            total += points
        spec = planner.session_types[session.session_type]
        room_need = next(
            (n.key for n in spec.needs if n.kind is ResourceKind.ROOM and not n.optional), None
        )
        rooms = {h.need: h.resource_id for h in session.holds}
        room = rooms.get(room_need) if room_need is not None else None
        minute = cal.minute_of_day(session.start)
        first = series.setdefault(spec.code, (minute, room))
        target_minute = pref_minute if pref_minute is not None else first[0]
        total += abs(minute - target_minute) * planner.weights.per_minute_from_preferred_start
        target_room = first[1]
        if prefs.preferred_room is not None and room_need is not None:
            candidates = [
                r.id
                for need in spec.needs
                if need.key == room_need
                for r in planner.work.candidates_for(spec, need)
            ]
            if prefs.preferred_room in candidates:
                target_room = prefs.preferred_room
        if target_room is not None and room != target_room:
            total += planner.weights.other_room
        if prefs.preferred_staff is not None:
            staffed = [
                need.key
                for need in spec.needs
                if need.kind is ResourceKind.STAFF
                and prefs.preferred_staff in {r.id for r in planner.work.candidates_for(spec, need)}
            ]
            if staffed and rooms.get(staffed[0]) != prefs.preferred_staff:
                total += planner.weights.other_staff
        placed[slot.index] = day
        if slot.follows is None:
            prev = (slot.index, day)
            stage_first.setdefault(slot.stage, day)
    return total
