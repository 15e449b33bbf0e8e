"""Whether a resource can take a hold: clinic hours, closures, shifts, exclusive holds, capacity.

``Availability`` indexes the holds of a window per resource, sorted by start, so one question
costs a bisection plus the handful of holds that overlap, however long the clinic's history.  It
also answers per local day with the free stretches of each resource (computed once per resource
and day, then cached), which is what the openings search and the series planner build on.

Tentative holds (session 1 of a series while session 2 is being planned) are added to a
``fork()`` so the availability the caller handed in never changes.  Refusals come back in words
a front desk understands: "Room 2 closed: maintenance", "no nurse on shift 16:00-17:40 on Tue
3 Mar", always in the clinic's local time.
"""

from __future__ import annotations

import datetime as dt
import enum
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ketadesk.scheduling.calendar import UTC, ClinicCalendar, Interval, ShiftPattern
from ketadesk.scheduling.catalog import (
    WEEKDAYS,
    HoldMode,
    ResourceKind,
    ResourceNeed,
    SessionTypeSpec,
)
from ketadesk.scheduling.dates import clock_span, short_date
from ketadesk.scheduling.model import ExistingHold, PlannedHold, ResourceInfo

# Times inside this package's fast paths are whole seconds since the epoch (UTC): comparing and
# shifting ints is many times cheaper than aware datetimes, and a day holds thousands of checks.
Span = tuple[int, int]  # [start, end) in epoch seconds
# A need's holds as whole minutes from a session's start: (from, to, mode) each.
HoldWindows = tuple[tuple[int, int, HoldMode], ...]
_ONE_DAY = dt.timedelta(days=1)
_Hold = tuple[int, int, bool, int]  # start, end, exclusive, units
# A hold as the store can read it without building objects: resource id, start and end in epoch
# seconds, exclusive, units.  Reading thousands of holds this way costs a few milliseconds.
HoldRow = tuple[int, int, int, bool, int]
_DAY = 24 * 60 * 60  # seconds in a local day without a clock change
_MINUTES = 24 * 60


def seconds(instant: dt.datetime) -> int:
    """Epoch seconds of an aware instant (the fast paths' time unit)."""
    return int(instant.timestamp())


def instant(epoch_seconds: int) -> dt.datetime:
    """The aware UTC instant of epoch seconds."""
    return dt.datetime.fromtimestamp(epoch_seconds, UTC)


# --------------------------------------------------------------------------------------------
# Words for the front desk


# What a need's subkind is called at the front desk ("no vital-signs monitor free ...").
_SUBKIND_LABELS = {
    "treatment": "treatment room",
    "office": "office",
    "vital_signs_monitor": "vital-signs monitor",
    "pulse_oximeter": "pulse oximeter",
    "pump": "infusion pump",
    "prescriber": "prescriber",
    "nurse": "nurse",
    "therapist": "therapist",
    "front_desk": "front-desk colleague",
}


def describe_day(day: dt.date) -> str:
    """A local date the way the desk says it: "Tue Mar 3" (independent of the process locale)."""
    return short_date(day)


def subkind_label(subkind: str) -> str:
    return _SUBKIND_LABELS.get(subkind, subkind.replace("_", " "))


def clock_time(calendar: ClinicCalendar, epoch_seconds: int) -> str:
    """The clinic's wall-clock time of an instant, in its format ("9:30 AM")."""
    return calendar.clock(dt.datetime.fromtimestamp(epoch_seconds, calendar.tz))


def describe_span(calendar: ClinicCalendar, start: int, end: int) -> str:
    """ "10:15–11:40 AM on Tue 3 Mar" in the clinic's zone and time format."""
    day = dt.datetime.fromtimestamp(start, calendar.tz).date()
    return f"{describe_hours(calendar, start, end)} on {describe_day(day)}"


def describe_hours(calendar: ClinicCalendar, start: int, end: int) -> str:
    """ "10:15–11:40 AM": the clinic's wall-clock span of two instants (epoch seconds)."""
    first, last = (dt.datetime.fromtimestamp(t, calendar.tz) for t in (start, end))
    return clock_span(first, last, calendar.settings.time_format)


# --------------------------------------------------------------------------------------------
# Plain interval arithmetic on sorted, disjoint [start, end) spans


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Sorted, disjoint union of half-open spans (touching spans join)."""
    out: list[Span] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def subtract_spans(base: Sequence[Span], cuts: Sequence[Span]) -> list[Span]:
    """``base`` less ``cuts``; both sorted and disjoint."""
    if not cuts:
        return list(base)
    out: list[Span] = []
    j = 0
    for s, e in base:
        while j < len(cuts) and cuts[j][1] <= s:
            j += 1
        k = j
        cur = s
        while k < len(cuts) and cuts[k][0] < e:
            cs, ce = cuts[k]
            if cs > cur:
                out.append((cur, cs))
            cur = max(cur, ce)
            k += 1
        if cur < e:
            out.append((cur, e))
    return out


def intersect_spans(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    """Overlap of two sorted, disjoint span lists."""
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        s = max(a[i][0], b[j][0])
        e = min(a[i][1], b[j][1])
        if s < e:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _meets(spans: Sequence[Span], s: int, e: int) -> bool:
    """Whether any of ``spans`` overlaps [s, e)."""
    return any(a < e and s < b for a, b in spans)


def _inside(spans: Sequence[Span], s: int, e: int) -> bool:
    """Whether [s, e) lies inside one of the sorted, disjoint ``spans``."""
    i = bisect_left(spans, (s + 1,)) - 1
    return i >= 0 and spans[i][0] <= s and e <= spans[i][1]


# --------------------------------------------------------------------------------------------
# Refusals


class RefusalKind(enum.StrEnum):
    UNKNOWN_RESOURCE = "unknown_resource"
    INACTIVE = "inactive"
    OUTSIDE_WINDOW = "outside_window"  # beyond the window the holds were loaded for
    CLINIC_CLOSED = "clinic_closed"
    OUTSIDE_HOURS = "outside_hours"
    RESOURCE_CLOSED = "resource_closed"  # room closed, equipment out of service, staff away
    OFF_SHIFT = "off_shift"
    TAKEN = "taken"  # another exclusive hold overlaps
    FULL = "full"  # capacity would be exceeded

    @property
    def is_calendar(self) -> bool:
        """A refusal that no other booking caused: the resource is simply not there then."""
        return self not in (RefusalKind.TAKEN, RefusalKind.FULL)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why one resource cannot take one hold, in words for the front desk."""

    kind: RefusalKind
    resource_id: int
    message: str


# A closed room is "closed", a monitor "out of service", a staff member "away".
_CLOSED_WORD = {
    ResourceKind.ROOM: "closed",
    ResourceKind.EQUIPMENT: "out of service",
    ResourceKind.STAFF: "away",
}


# --------------------------------------------------------------------------------------------
# The index


_BUCKET = 24 * 60 * 60  # the index's buckets: a day of epoch seconds (UTC days)


@dataclass(frozen=True, slots=True)
class _ResourceIndex:
    """One resource's holds sorted by start; ``max_len`` bounds how far back an overlap starts.
    ``buckets``: for each UTC day with holds, the positions of its holds (first, past the
    last), so that finding a day's holds in five years of them reads a few neighbouring
    entries rather than a bisection across the whole history (``position``)."""

    starts: tuple[int, ...]
    holds: tuple[_Hold, ...]
    max_len: int
    buckets: dict[int, tuple[int, int]]

    @classmethod
    def of(cls, items: list[_Hold]) -> _ResourceIndex:
        """The index of ``items`` (sorted)."""
        starts = tuple(i[0] for i in items)
        buckets: dict[int, tuple[int, int]] = {}
        lo, n = 0, len(starts)
        while lo < n:
            bucket = starts[lo] // _BUCKET
            hi = bisect_left(starts, (bucket + 1) * _BUCKET, lo)
            buckets[bucket] = (lo, hi)
            lo = hi
        return cls(starts, tuple(items), max(i[1] - i[0] for i in items), buckets)

    def position(self, at: int) -> int:
        """``bisect_left(self.starts, at)``."""
        found = self.buckets.get(at // _BUCKET)
        if found is None:
            return bisect_left(self.starts, at)
        return bisect_left(self.starts, at, found[0], found[1])

    def meeting(self, start: int, end: int) -> tuple[_Hold, ...]:
        """The holds that start before ``end`` and may end after ``start`` (those starting at
        most ``max_len`` before it), in order."""
        return self.holds[self.position(start - self.max_len + 1) : self.position(end)]


@dataclass(frozen=True, slots=True)
class DayFree:
    """A resource's free stretches on one local day, per kind of hold it could still take."""

    presence: tuple[Span, ...]  # on site and open (no capacity needed)
    shared: tuple[Span, ...]  # ... and one more unit of capacity free
    exclusive: tuple[Span, ...]  # ... and no exclusive hold either

    def for_mode(self, mode: HoldMode) -> tuple[Span, ...]:
        if mode is HoldMode.EXCLUSIVE:
            return self.exclusive
        if mode is HoldMode.SHARED:
            return self.shared
        return self.presence


_NOTHING_FREE = DayFree((), (), ())


class DayBits(NamedTuple):
    """``DayFree`` on a minute grid: bit ``i`` of each int is set when the whole minute
    [midnight + 60 i, midnight + 60 i + 60) is free (``midnight``: the day's local midnight in
    epoch seconds).  "Does a 100-minute hold fit from minute m" is then a few shifts and ands
    of one int (``run_starts``), not a scan of intervals.  A stretch that begins or ends inside
    a minute loses that minute (never more free than ``DayFree``).  A named tuple: the planner
    makes hundreds a plan, and a frozen dataclass costs several times as much to make."""

    midnight: int
    presence: int
    shared: int
    exclusive: int

    def for_mode(self, mode: HoldMode) -> int:
        if mode is HoldMode.EXCLUSIVE:
            return self.exclusive
        if mode is HoldMode.SHARED:
            return self.shared
        return self.presence


def spans_to_bits(spans: Iterable[Span], midnight: int) -> int:
    """The minutes wholly inside ``spans`` as bits from ``midnight`` (see ``DayBits``)."""
    bits = 0
    for s, e in spans:
        lo = -((midnight - s) // 60)  # ceil((s - midnight) / 60)
        hi = (e - midnight) // 60
        if lo < 0:
            lo = 0
        if hi > lo:
            bits |= ((1 << (hi - lo)) - 1) << lo
    return bits


def _busy_bits(holds: Iterable[_Hold], midnight: int) -> int:
    """The minutes any of ``holds`` touches, as bits from ``midnight``."""
    bits = 0
    for s, e, _excl, _units in holds:
        lo = (s - midnight) // 60
        hi = -((midnight - e) // 60)  # ceil((e - midnight) / 60)
        if lo < 0:
            lo = 0
        if hi > lo:
            bits |= ((1 << (hi - lo)) - 1) << lo
    return bits


def run_starts(bits: int, length: int) -> int:
    """The bits ``m`` of ``bits`` that begin a run of at least ``length`` set bits (m .. m +
    length - 1 all set), by doubling: a few shifts and ands, whatever the length."""
    if length <= 1:
        return bits if length == 1 else -1
    steps = _RUN_STEPS.get(length)
    if steps is None:
        steps = _RUN_STEPS[length] = _run_steps(length)
    for step in steps:
        bits &= bits >> step
    return bits


def _run_steps(length: int) -> tuple[int, ...]:
    """The shifts ``run_starts`` takes for a run of ``length`` (> 1): 1, 2, 4, ... then the
    rest."""
    steps: list[int] = []
    covered = 1
    while covered < length:
        step = min(covered, length - covered)
        steps.append(step)
        covered += step
    return tuple(steps)


_RUN_STEPS: dict[int, tuple[int, ...]] = {}


def closed_word(kind: ResourceKind) -> str:
    """What a closure makes of a resource of ``kind``: "closed", "out of service", "away"."""
    return _CLOSED_WORD[kind]


def _to_hold(hold: ExistingHold | PlannedHold) -> _Hold:
    return (seconds(hold.span.start), seconds(hold.span.end), hold.exclusive, hold.units)


class Availability:
    """Answers whether a resource can take a hold, for the holds of one window.

    Built from the calendar, the clinic's resources and the active holds of a window (the store's
    ``Snapshot`` hands exactly these over).  ``window``, when given, is the span those holds were
    loaded for: a question about time outside it is refused rather than answered from missing
    data.  ``add`` and ``release`` change only this object; ``fork`` gives an independent copy
    that shares the (read-only) index, so planners work on a fork and never touch their input.
    """

    def __init__(
        self,
        calendar: ClinicCalendar,
        resources: Sequence[ResourceInfo],
        holds: Sequence[ExistingHold] = (),
        *,
        window: Interval | None = None,
        hold_rows: Iterable[HoldRow] = (),
    ) -> None:
        self.calendar = calendar
        self.resources: dict[int, ResourceInfo] = {r.id: r for r in resources}
        self.window = window
        self._window = (seconds(window.start), seconds(window.end)) if window else None
        by_resource: dict[int, list[_Hold]] = {}
        for h in holds:
            item = _to_hold(h)
            if self._window and (item[1] <= self._window[0] or item[0] >= self._window[1]):
                continue
            by_resource.setdefault(h.resource_id, []).append(item)
        for rid, start, end, exclusive, units in hold_rows:
            if self._window and (end <= self._window[0] or start >= self._window[1]):
                continue
            by_resource.setdefault(rid, []).append((start, end, exclusive, units))
        self._index: dict[int, _ResourceIndex] = {}
        for rid, items in by_resource.items():
            items.sort()
            self._index[rid] = _ResourceIndex.of(items)
        self._closures: dict[int, list[Span]] = {}
        for c in calendar.closures:
            if c.resource_id is not None:
                self._closures.setdefault(c.resource_id, []).append(
                    (seconds(c.span.start), seconds(c.span.end))
                )
        for rid, spans in self._closures.items():
            self._closures[rid] = merge_spans(spans)
        # The whole clinic's closures (``open_spans`` takes the days they meet the long way).
        self._clinic_closed = merge_spans(
            (seconds(c.span.start), seconds(c.span.end))
            for c in calendar.closures
            if c.resource_id is None
        )
        # Each staff member's shift patterns by weekday.
        self._shifts_on: dict[tuple[int, int], list[ShiftPattern]] = {}
        for shift in calendar.shifts:
            self._shifts_on.setdefault((shift.resource_id, shift.weekday), []).append(shift)
        # Resources there whenever the clinic is open, one unit each (rooms, equipment): their
        # free time on a day is the clinic's hours less their holds (``day_bits``' short way).
        self._plain = frozenset(
            r.id
            for r in resources
            if r.active and not r.is_staff and r.capacity == 1 and r.id not in self._closures
        )
        self._candidates: dict[tuple[ResourceKind, str, str | None], tuple[ResourceInfo, ...]] = {}
        # The tentative layer: holds added or released on this object only.
        self._added: dict[int, list[_Hold]] = {}  # sorted, like the index
        self._added_max: dict[int, int] = {}
        self._removed: dict[int, Counter[_Hold]] = {}
        self._reset_caches()

    def _reset_caches(self) -> None:
        # Caches belong to one object (a fork starts cold) so a measurement of a fork is honest.
        self._open: dict[dt.date, list[Span]] = {}
        self._frames: dict[dt.date, tuple[int, int]] = {}
        self._calendar_free: dict[tuple[int, dt.date], list[Span]] = {}
        self._day_free: dict[tuple[int, dt.date], DayFree] = {}
        self._day_bits: dict[tuple[int, dt.date], DayBits] = {}
        self._presence: dict[tuple[int, tuple[Span, ...]], int] = {}  # (midnight, spans)
        self._day_open: dict[dt.date, tuple[int, int, int]] = {}  # midnights, open bits
        # ``hold_starts`` by resource and day, then by the holds asked for.
        self._hold_starts: dict[tuple[int, dt.date], dict[HoldWindows, int]] = {}
        self._open_runs: dict[tuple[dt.date, int], int] = {}  # open bits' runs by length
        self._local_cache: dict[tuple[dt.date, int], int] = {}

    # -- copies and tentative holds -------------------------------------------------------------

    def fork(self) -> Availability:
        """An independent copy: the same index, its own tentative holds (copied) and caches."""
        clone = object.__new__(Availability)
        clone.calendar = self.calendar
        clone.resources = self.resources
        clone.window = self.window
        clone._window = self._window
        clone._index = self._index
        clone._closures = self._closures
        clone._clinic_closed = self._clinic_closed
        clone._shifts_on = self._shifts_on
        clone._plain = self._plain
        clone._candidates = self._candidates
        clone._added = {rid: list(items) for rid, items in self._added.items()}
        clone._added_max = dict(self._added_max)
        clone._removed = {rid: Counter(c) for rid, c in self._removed.items()}
        clone._reset_caches()
        return clone

    def add(self, holds: Iterable[PlannedHold | ExistingHold]) -> None:
        """Take holds tentatively (no check: ask ``refusals`` first)."""
        for h in holds:
            item = _to_hold(h)
            insort(self._added.setdefault(h.resource_id, []), item)
            longest = self._added_max.get(h.resource_id, 0)
            self._added_max[h.resource_id] = max(longest, item[1] - item[0])
            self._touch(h.resource_id, item)

    def release(self, holds: Iterable[PlannedHold | ExistingHold]) -> None:
        """Give back holds, e.g. a series' own holds before it is re-flowed.

        A tentatively added hold is dropped; otherwise one indexed hold with the same resource,
        span, mode and units is ignored from now on (a hold that matches none changes nothing).
        """
        for h in holds:
            item = _to_hold(h)
            added = self._added.get(h.resource_id)
            i = bisect_left(added, item) if added else 0
            if added and i < len(added) and added[i] == item:
                del added[i]
            else:
                self._removed.setdefault(h.resource_id, Counter())[item] += 1
            self._touch(h.resource_id, item)

    def _touch(self, rid: int, item: _Hold) -> None:
        # The resource's free time changed on the day(s) the hold touches.
        for day in {self._local_date(item[0]), self._local_date(item[1] - 1)}:
            self._day_free.pop((rid, day), None)
            self._day_bits.pop((rid, day), None)
            self._hold_starts.pop((rid, day), None)

    # -- resources --------------------------------------------------------------------------------

    def resource(self, resource_id: int) -> ResourceInfo | None:
        return self.resources.get(resource_id)

    def candidates(
        self, kind: ResourceKind, subkind: str, session_type: str | None = None
    ) -> tuple[ResourceInfo, ...]:
        """Active resources of a kind, in the clinic's order (sort order, then name); with
        ``session_type``, only those that serve it (``ResourceInfo.serves``)."""
        key = (kind, subkind, session_type)
        found = self._candidates.get(key)
        if found is None:
            found = tuple(
                sorted(
                    (
                        r
                        for r in self.resources.values()
                        if r.kind is kind
                        and r.subkind == subkind
                        and r.active
                        and (session_type is None or r.serves_type(session_type))
                    ),
                    key=lambda r: (r.sort_order, r.name, r.id),
                )
            )
            self._candidates[key] = found
        return found

    def candidates_for(self, spec: SessionTypeSpec, need: ResourceNeed) -> tuple[ResourceInfo, ...]:
        """The active resources that may fill ``need`` of ``spec``: of its kind, and (staff)
        qualified for every phase the need holds them; resources kept for some session
        types only when ``spec`` is one of them."""
        found = self.candidates(need.kind, need.subkind, spec.code)
        if need.kind is not ResourceKind.STAFF:
            return found
        phases = spec.need_phases(need)
        return tuple(r for r in found if r.may_serve(spec.code, phases))

    # -- local days -----------------------------------------------------------------------------

    def _local_date(self, epoch_seconds: int) -> dt.date:
        return dt.datetime.fromtimestamp(epoch_seconds, self.calendar.tz).date()

    def local_seconds(self, day: dt.date, minute_of_day: int) -> int:
        """Epoch seconds of a local wall-clock time (as ``ClinicCalendar.at_local``)."""
        frame = self._frames.get(day)
        if frame is None:
            frame = self.day_frame(day)
        if frame[1] - frame[0] == _DAY and 0 <= minute_of_day <= _MINUTES:
            # A day without a clock change: every wall-clock minute is midnight + 60 m.
            return frame[0] + 60 * minute_of_day
        key = (day, minute_of_day)
        found = self._local_cache.get(key)
        if found is None:
            found = seconds(self.calendar.at_local(day, minute_of_day))
            self._local_cache[key] = found
        return found

    def minute_of_day(self, day: dt.date, epoch_seconds: int) -> int:
        """The local wall-clock minute of an instant on ``day`` (as
        ``ClinicCalendar.minute_of_day``)."""
        frame = self._frames.get(day)
        if frame is None:
            frame = self.day_frame(day)
        if frame[1] - frame[0] == _DAY and frame[0] <= epoch_seconds < frame[1]:
            return (epoch_seconds - frame[0]) // 60
        return self.calendar.minute_of_day(instant(epoch_seconds))

    def day_frame(self, day: dt.date) -> tuple[int, int]:
        """[local midnight, next local midnight) in epoch seconds."""
        frame = self._frames.get(day)
        if frame is None:
            # Days are mostly asked in runs: a neighbour's frame gives one of the midnights.
            cal = self.calendar
            after = day + _ONE_DAY
            before = self._frames.get(day - _ONE_DAY)
            following = self._frames.get(after)
            frame = (
                before[1] if before is not None else seconds(cal.at_local(day, 0)),
                following[0] if following is not None else seconds(cal.at_local(after, 0)),
            )
            self._frames[day] = frame
        return frame

    def open_spans(self, day: dt.date) -> list[Span]:
        """When the clinic is open on a local day (holidays, closed days and closures removed),
        limited to the loaded window."""
        found = self._open.get(day)
        if found is None:
            cal = self.calendar
            hours = cal.settings.hours.get(WEEKDAYS[day.weekday()])
            if hours is None or cal.holiday(day):
                found = []
            elif not self._clinic_closed or not _meets(self._clinic_closed, *self.day_frame(day)):
                # As ``ClinicCalendar.open_intervals`` without building datetimes: the weekly
                # hours on the day's own clock (``local_seconds``), no closure to take out.
                opens, closes = hours
                found = [
                    (
                        self.local_seconds(day, opens.hour * 60 + opens.minute),
                        self.local_seconds(day, closes.hour * 60 + closes.minute),
                    )
                ]
            else:
                found = [(seconds(i.start), seconds(i.end)) for i in cal.open_intervals(day)]
            if self._window:
                found = intersect_spans(found, [self._window])
            self._open[day] = found
        return found

    def calendar_free(self, resource_id: int, day: dt.date) -> list[Span]:
        """When a resource is there at all on a day: open hours, its shifts, less its closures."""
        key = (resource_id, day)
        found = self._calendar_free.get(key)
        if found is None:
            found = self.open_spans(day)
            res = self.resources.get(resource_id)
            if res is None or not res.active:
                found = []
            if found and res is not None and res.is_staff:
                # As ``ClinicCalendar.shift_intervals``, on the day's own clock.
                shifts = [
                    (self.local_seconds(day, s.start_minute), self.local_seconds(day, s.end_minute))
                    for s in self._shifts_on.get((resource_id, day.weekday()), ())
                    if s.applies(day)
                ]
                if len(shifts) == 1 and len(found) == 1:  # the usual day: one shift, open once
                    start, end = max(found[0][0], shifts[0][0]), min(found[0][1], shifts[0][1])
                    found = [(start, end)] if start < end else []
                else:
                    found = intersect_spans(found, merge_spans(shifts))
            closures = self._closures.get(resource_id)
            if found and closures:
                found = subtract_spans(found, closures)
            self._calendar_free[key] = found
        return found

    # -- holds ------------------------------------------------------------------------------------

    def overlapping(self, resource_id: int, start: int, end: int) -> list[_Hold]:
        """Holds on a resource overlapping [start, end): indexed, less released, plus added."""
        out: list[_Hold] = []
        idx = self._index.get(resource_id)
        if idx is not None:
            # A hold overlapping ``start`` began less than ``max_len`` before it.
            out = [h for h in idx.meeting(start, end) if h[1] > start]
        removed = self._removed.get(resource_id)
        if removed and out:
            left = Counter(removed)
            kept: list[_Hold] = []
            for h in out:
                if left[h] > 0:
                    left[h] -= 1
                else:
                    kept.append(h)
            out = kept
        added = self._added.get(resource_id)
        if added:
            lo = bisect_left(added, (start - self._added_max[resource_id] + 1,))
            hi = bisect_left(added, (end,), lo)
            out.extend(h for h in added[lo:hi] if h[1] > start)
        return out

    def day_free(self, resource_id: int, day: dt.date) -> DayFree:
        """A resource's free stretches on a local day, for each kind of hold (cached)."""
        key = (resource_id, day)
        found = self._day_free.get(key)
        if found is not None:
            return found
        base = self.calendar_free(resource_id, day)
        res = self.resources.get(resource_id)
        if not base or res is None:
            found = _NOTHING_FREE
        else:
            day_start, day_end = self.day_frame(day)
            holds = self.overlapping(resource_id, day_start, day_end)
            if not holds:
                spans = tuple(base)
                found = DayFree(spans, spans, spans)
            elif res.capacity == 1:
                # One unit: any hold that uses capacity fills it (the common case: rooms,
                # monitors, therapists), so no load count is needed.
                busy = merge_spans((h[0], h[1]) for h in holds if h[3])
                shared = subtract_spans(base, busy)
                taken = merge_spans((h[0], h[1]) for h in holds if h[2] and not h[3])
                found = DayFree(tuple(base), tuple(shared), tuple(subtract_spans(shared, taken)))
            else:
                full = _busy_at_capacity(holds, res.capacity - 1)
                shared = subtract_spans(base, full)
                taken = merge_spans((h[0], h[1]) for h in holds if h[2])
                found = DayFree(tuple(base), tuple(shared), tuple(subtract_spans(shared, taken)))
        self._day_free[key] = found
        return found

    def day_bits(self, resource_id: int, day: dt.date) -> DayBits:
        """``day_free`` on a minute grid (``DayBits``; cached)."""
        key = (resource_id, day)
        found = self._day_bits.get(key)
        if found is not None:
            return found
        if self._indexed_only(resource_id):
            # The short way of the general one below, for a plain resource's indexed holds.
            midnight, next_midnight, presence = self._open_day(day)
            idx = self._index.get(resource_id)
            if not presence:
                found = DayBits(midnight, 0, 0, 0)
            elif idx is None:
                found = DayBits(midnight, presence, presence, presence)
            else:
                used = taken = 0
                for s, e, exclusive, units in idx.meeting(midnight, next_midnight):
                    first = (s - midnight) // 60
                    end = -((midnight - e) // 60)  # ceil((e - midnight) / 60)
                    if first < 0:
                        first = 0
                    if end > first:
                        if units:
                            used |= (1 << end) - (1 << first)
                        elif exclusive:
                            taken |= (1 << end) - (1 << first)
                shared = presence & ~used
                found = DayBits(midnight, presence, shared, shared & ~taken)
            self._day_bits[key] = found
            return found
        midnight, next_midnight = self._frames.get(day) or self.day_frame(day)
        res = self.resources.get(resource_id)
        base = self._calendar_free.get(key)
        if base is None:
            base = self.calendar_free(resource_id, day)
        if not base or res is None:
            found = DayBits(midnight, 0, 0, 0)
        elif res.capacity >= 1:
            # Straight from the holds, no spans merged: a minute a hold touches is taken.
            if base is self._open.get(day):  # the clinic's hours, as most resources'
                presence = self._open_day(day)[2]
            else:
                span_key = (midnight, tuple(base))
                known = self._presence.get(span_key)
                if known is None:
                    known = self._presence[span_key] = spans_to_bits(base, midnight)
                presence = known
            idx = self._index.get(resource_id)
            holds: Sequence[_Hold]
            if resource_id in self._added or resource_id in self._removed or idx is None:
                holds = self.overlapping(resource_id, midnight, next_midnight)
            else:  # as ``overlapping``, less its copies: holds ending by midnight add nothing
                holds = idx.meeting(midnight, next_midnight)
            if not holds:
                found = DayBits(midnight, presence, presence, presence)
            elif res.capacity == 1:
                # One unit: any hold that uses capacity fills it (rooms, monitors, therapists).
                used = taken = 0
                for s, e, exclusive, units in holds:
                    lo = (s - midnight) // 60
                    hi = -((midnight - e) // 60)  # ceil((e - midnight) / 60)
                    if lo < 0:
                        lo = 0
                    if hi > lo:
                        if units:
                            used |= ((1 << (hi - lo)) - 1) << lo
                        elif exclusive:
                            taken |= ((1 << (hi - lo)) - 1) << lo
                shared = presence & ~used
                found = DayBits(midnight, presence, shared, shared & ~taken)
            else:
                # Capacity counted per minute: the units each minute's holds take, swept in
                # order; where they reach the capacity one more unit would not fit.
                capacity = res.capacity
                taken = 0
                events: list[tuple[int, int]] = []
                for s, e, exclusive, units in holds:
                    lo = (s - midnight) // 60
                    hi = -((midnight - e) // 60)  # ceil((e - midnight) / 60)
                    if lo < 0:
                        lo = 0
                    if hi <= lo:
                        continue
                    if exclusive:
                        taken |= ((1 << (hi - lo)) - 1) << lo
                    if units:
                        events.append((lo, units))
                        events.append((hi, -units))
                events.sort()
                full = load = 0
                began = -1
                for minute, change in events:
                    load += change
                    if load >= capacity:
                        if began < 0:
                            began = minute
                    elif began >= 0:
                        full |= ((1 << (minute - began)) - 1) << began
                        began = -1
                shared = presence & ~full
                found = DayBits(midnight, presence, shared, shared & ~taken)
        else:
            free = self.day_free(resource_id, day)
            found = DayBits(
                midnight,
                spans_to_bits(free.presence, midnight),
                spans_to_bits(free.shared, midnight),
                spans_to_bits(free.exclusive, midnight),
            )
        self._day_bits[key] = found
        return found

    def hold_starts(self, resource_id: int, day: dt.date, holds: HoldWindows) -> int:
        """The starts (bits from the day's local midnight, as ``DayBits``) from which the
        resource could take every one of ``holds`` ((from, to, mode): whole minutes from the
        start), whatever else is asked of it (cached).

        For a resource there whenever the clinic is open, one unit, with only indexed holds
        (rooms, equipment), a start is out when one of its holds would meet one of the day's:
        a hold [lo, hi) of the resource rules out the starts from lo - length + 1 to hi - 1,
        one mask per hold, instead of the runs of its free time (``run_starts``)."""
        key = (resource_id, day)
        by_holds = self._hold_starts.get(key)
        if by_holds is None:
            by_holds = self._hold_starts[key] = {}
        else:
            found = by_holds.get(holds)
            if found is not None:
                return found
        found = -1
        if self._indexed_only(resource_id):
            midnight, next_midnight, _open = self._open_day(day)
            idx = self._index.get(resource_id)
            today = idx.meeting(midnight, next_midnight) if idx is not None else ()
            for a, b, mode in holds:
                length = b - a
                if length <= 0:  # as ``run_starts``: every start, shifted as the others
                    found &= -1 if a >= 0 else -1 << -a
                    continue
                runs = self._open_runs.get((day, length))
                if runs is None:
                    runs = self.open_runs(day, length)
                out = 0
                if mode is not HoldMode.PRESENCE:
                    # The stretches ruled out, in start order: those that meet (a day's
                    # sessions, a hold's length apart or less) are joined before any bits.
                    shared = mode is HoldMode.SHARED
                    lo = hi = 0
                    for s, e, exclusive, units in today:
                        if not units and (shared or not exclusive):
                            continue
                        end = -((midnight - e) // 60)  # ceil((e - midnight) / 60)
                        if end <= 0:
                            continue
                        first = (s - midnight) // 60 - length + 1
                        if first < 0:
                            first = 0
                        if first <= hi and hi:
                            if end > hi:
                                hi = end
                            continue
                        if hi:
                            out |= (1 << hi) - (1 << lo)
                        lo, hi = first, end
                    if hi:
                        out |= (1 << hi) - (1 << lo)
                run = runs & ~out
                found &= run >> a if a >= 0 else run << -a
                if not found:
                    break
        else:
            bits: DayBits | int | None = None
            for a, b, mode in holds:
                if mode is HoldMode.PRESENCE:
                    # Only whether the resource is there: no need to count its holds.
                    free = bits.presence if isinstance(bits, DayBits) else bits
                    if free is None:
                        free = bits = self._presence_bits(resource_id, day)
                else:
                    if not isinstance(bits, DayBits):
                        bits = self.day_bits(resource_id, day)
                    free = bits.for_mode(mode)
                run = run_starts(free, b - a)
                found &= run >> a if a >= 0 else run << -a
                if not found:
                    break
        by_holds[holds] = found
        return found

    def _presence_bits(self, resource_id: int, day: dt.date) -> int:
        """``day_bits(...).presence`` without the holds."""
        found = self._day_bits.get((resource_id, day))
        if found is not None:
            return found.presence
        base = self._calendar_free.get((resource_id, day))
        if base is None:
            base = self.calendar_free(resource_id, day)
        res = self.resources.get(resource_id)
        if not base or res is None or res.capacity < 1:
            return self.day_bits(resource_id, day).presence
        if base is self._open.get(day):
            return self._open_day(day)[2]
        midnight = (self._frames.get(day) or self.day_frame(day))[0]
        span_key = (midnight, tuple(base))
        known = self._presence.get(span_key)
        if known is None:
            known = self._presence[span_key] = spans_to_bits(base, midnight)
        return known

    def open_runs(self, day: dt.date, length: int) -> int:
        """The minutes (bits from the day's local midnight) from which the clinic stays open
        ``length`` minutes (cached)."""
        found = self._open_runs.get((day, length))
        if found is None:
            presence = self._open_day(day)[2]
            found = self._open_runs[(day, length)] = run_starts(presence, length)
        return found

    def _indexed_only(self, resource_id: int) -> bool:
        """A plain resource whose holds are all in the index (none added or taken away since)."""
        return (
            resource_id in self._plain
            and resource_id not in self._added
            and resource_id not in self._removed
        )

    def _open_day(self, day: dt.date) -> tuple[int, int, int]:
        """The day's midnights and its opening hours as bits (``DayBits.presence`` of a
        resource there whenever the clinic is open; cached)."""
        found = self._day_open.get(day)
        if found is not None:
            return found
        midnight, next_midnight = self._frames.get(day) or self.day_frame(day)
        spans = self.open_spans(day)
        opened = (midnight, next_midnight, spans_to_bits(spans, midnight) if spans else 0)
        self._day_open[day] = opened
        return opened

    # -- questions ------------------------------------------------------------------------------

    def can_take(self, hold: PlannedHold) -> bool:
        return self.refusal(hold) is None

    def refusal(self, hold: PlannedHold) -> Refusal | None:
        """Why ``hold`` cannot be taken (None when it can)."""
        return self.refusal_at(
            hold.resource_id,
            seconds(hold.span.start),
            seconds(hold.span.end),
            hold.mode,
            hold.units,
        )

    def refusals(self, holds: Sequence[PlannedHold]) -> list[Refusal]:
        """Refusals for a whole session's holds, judged together (they count against each
        other as well as against the holds already there)."""
        out: list[Refusal] = []
        taken: dict[int, list[_Hold]] = {}
        for h in holds:
            item = _to_hold(h)
            found = self.refusal_at(
                h.resource_id, item[0], item[1], h.mode, h.units, extra=taken.get(h.resource_id)
            )
            if found is not None:
                out.append(found)
            taken.setdefault(h.resource_id, []).append(item)
        return out

    def refusal_at(
        self,
        resource_id: int,
        start: int,
        end: int,
        mode: HoldMode,
        units: int,
        *,
        extra: Sequence[_Hold] | None = None,
    ) -> Refusal | None:
        """``refusal`` on epoch seconds; ``extra`` holds count as if already taken."""
        res = self.resources.get(resource_id)
        if res is None:
            return Refusal(
                RefusalKind.UNKNOWN_RESOURCE, resource_id, f"resource #{resource_id} is unknown"
            )
        if not res.active:
            return Refusal(RefusalKind.INACTIVE, resource_id, f"{res.name} is not in use")
        day = self._local_date(start)
        if not _inside(self.calendar_free(resource_id, day), start, end):
            return self._calendar_refusal(res, day, start, end)
        holds = self.overlapping(resource_id, start, end)
        if extra:
            holds.extend(h for h in extra if h[0] < end and h[1] > start)
        if mode is HoldMode.EXCLUSIVE:
            clash = next((h for h in holds if h[2]), None)
            if clash is not None:
                return Refusal(
                    RefusalKind.TAKEN,
                    resource_id,
                    f"{res.name} booked {describe_span(self.calendar, clash[0], clash[1])}",
                )
        if units > 0 and holds:
            peak, at = _peak_load(holds, start, end)
            if peak + units > res.capacity:
                who = "patients" if res.is_staff else "bookings"
                return Refusal(
                    RefusalKind.FULL,
                    resource_id,
                    f"{res.name} already has {peak} {who} at {clock_time(self.calendar, at)} "
                    f"on {describe_day(self._local_date(at))}",
                )
        return None

    def closure_reason(self, resource_id: int, start: int, end: int) -> str | None:
        """The reason of the first closure of a resource overlapping [start, end), if any."""
        span = Interval(instant(start), instant(end))
        for c in self.calendar.resource_closures(resource_id):
            if c.span.overlaps(span):
                return c.reason or c.kind.replace("_", " ")
        return None

    def _calendar_refusal(self, res: ResourceInfo, day: dt.date, start: int, end: int) -> Refusal:
        cal = self.calendar
        rid = res.id
        if self._window and (start < self._window[0] or end > self._window[1]):
            return Refusal(
                RefusalKind.OUTSIDE_WINDOW,
                rid,
                f"{describe_day(day)} is outside the dates loaded for planning",
            )
        closed = cal.closed_reason(day)
        if closed:
            return Refusal(RefusalKind.CLINIC_CLOSED, rid, closed)
        span = Interval(instant(start), instant(end))
        for c in cal.closures:
            if c.resource_id is None and c.span.overlaps(span):
                text = f"clinic closed: {c.reason}" if c.reason else "clinic closed"
                return Refusal(RefusalKind.CLINIC_CLOSED, rid, text)
        if not _inside(self.open_spans(day), start, end):
            hours = cal.opening_hours(day)
            assert hours is not None  # closed_reason() covers a day without hours
            opens, closes = seconds(hours.start), seconds(hours.end)
            return Refusal(
                RefusalKind.OUTSIDE_HOURS,
                rid,
                f"outside opening hours ({describe_hours(cal, opens, closes)} "
                f"on {describe_day(day)})",
            )
        why = self.closure_reason(rid, start, end)
        if why is not None:
            return Refusal(
                RefusalKind.RESOURCE_CLOSED, rid, f"{res.name} {_CLOSED_WORD[res.kind]}: {why}"
            )
        return Refusal(
            RefusalKind.OFF_SHIFT,
            rid,
            f"{res.name} not on shift {describe_span(cal, start, end)}",
        )


def _busy_at_capacity(holds: Sequence[_Hold], limit: int) -> list[Span]:
    """Where the load of ``holds`` is above ``limit`` (so one more unit would not fit)."""
    events: list[tuple[int, int]] = []
    for s, e, _excl, units in holds:
        if units:
            events.append((s, units))
            events.append((e, -units))
    events.sort()
    out: list[Span] = []
    load = 0
    began: int | None = None
    i = 0
    while i < len(events):
        t = events[i][0]
        while i < len(events) and events[i][0] == t:
            load += events[i][1]
            i += 1
        if load > limit and began is None:
            began = t
        elif load <= limit and began is not None:
            out.append((began, t))
            began = None
    return out


def _peak_load(holds: Sequence[_Hold], start: int, end: int) -> tuple[int, int]:
    """The highest load of ``holds`` within [start, end), and when it is first reached."""
    events: list[tuple[int, int]] = []
    for s, e, _excl, units in holds:
        if units:
            events.append((max(s, start), units))
            events.append((min(e, end), -units))
    events.sort()
    load = peak = 0
    at = start
    i = 0
    while i < len(events):
        t = events[i][0]
        while i < len(events) and events[i][0] == t:
            load += events[i][1]
            i += 1
        if load > peak:
            peak, at = load, t
    return peak, at
