"""Openings: every start at which a session type fits, ranked by the patient's preferences.

A start fits when every need of the session type gets one resource of its kind for all of its
holds (an optional need, such as an office for an integration session that can be held over
telehealth, may go without).  The search works per local day on intervals rather than slot by
slot: each resource's free stretches for the day (``Availability.day_free``) are turned into the
set of session starts they allow, sets are intersected need by need (the scarcest need first, so
a day without a prescriber on shift costs one look), and only then are the slot-grid starts
enumerated.  Its cost follows the number of days and resources, not the number of slots.

When a day has no opening, the search says why in the desk's words ("clinic closed:
Thanksgiving", "no nurse on shift", "no vital-signs monitor free 07:45-18:00"); reasons are
aggregated over the days they apply to.
"""

from __future__ import annotations

import datetime as dt
import heapq
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ketadesk.scheduling.availability import (
    Availability,
    Refusal,
    Span,
    clock_time,
    closed_word,
    describe_day,
    describe_hours,
    describe_span,
    instant,
    subkind_label,
    subtract_spans,
)
from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.catalog import WEEKDAYS, HoldMode, ResourceKind, SessionTypeSpec
from ketadesk.scheduling.dates import clock
from ketadesk.scheduling.days_away import AwayRange, away_reason, away_spans
from ketadesk.scheduling.model import PlannedHold, PlannedSession, hold_units, session_holds

# Starts are closed ranges [first, last] of epoch seconds: a start ``t`` fits a free stretch
# [fs, fe) for a hold from ``a`` to ``b`` seconds into the session iff fs - a <= t <= fe - b.
Ranges = list[tuple[int, int]]
_FAR = 1 << 62


@dataclass(frozen=True, slots=True)
class Preferences:
    """What the patient asked for.  Weekdays and the start window are hard limits of a search;
    the preferred room, staff member and start time only rank (and steer resource choice)."""

    weekdays: tuple[str, ...] = ()  # "mon".."sun"; empty: any day the clinic opens
    earliest_start: dt.time | None = None  # local
    latest_start: dt.time | None = None  # local
    preferred_room: int | None = None  # resource id
    preferred_staff: int | None = None  # resource id
    preferred_start: dt.time | None = None  # local; e.g. the time of the previous session

    def __post_init__(self) -> None:
        for day in self.weekdays:
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not a weekday; use {', '.join(WEEKDAYS)}")
        early, late = self.earliest_start, self.latest_start
        if early is not None and late is not None and early > late:
            raise ValueError("the earliest start is after the latest start")


@dataclass(frozen=True, slots=True)
class PreferenceWeights:
    """How strongly each preference ranks, in points (lower total is better).

    These weigh the patient's wishes against each other; they are not clinic rules, so they live
    here with their defaults and callers may pass their own.
    """

    per_minute_from_preferred_start: int = 1
    other_room: int = 30  # not the preferred (or the series') room
    other_staff: int = 30  # not the preferred staff member
    off_weekday: int = 60  # planner: a day that is not one of the preferred weekdays
    per_day_from_target_gap: int = 20  # planner: each day away from the protocol's target gap
    beyond_stage_window: int = 1000  # planner: a date that leaves no room for the stage's rest


@dataclass(frozen=True, slots=True)
class Opening:
    """One feasible start and the resource chosen for each need."""

    session_type: str
    start: dt.datetime
    end: dt.datetime
    assignment: tuple[tuple[str, int], ...]  # (need key, resource id); optional needs may lack
    cost: int  # preference mismatch in points (0 = exactly as preferred)

    def resource_for(self, need: str) -> int | None:
        return next((rid for key, rid in self.assignment if key == need), None)

    def planned_holds(self, spec: SessionTypeSpec) -> tuple[PlannedHold, ...]:
        return session_holds(spec, self.start, dict(self.assignment))

    def as_session(self, spec: SessionTypeSpec, index: int) -> PlannedSession:
        return PlannedSession(
            index=index,
            session_type=spec.code,
            start=self.start,
            end=self.end,
            holds=self.planned_holds(spec),
        )


@dataclass(frozen=True, slots=True)
class OpeningSearch:
    """The result of ``find_openings``: openings best first, and why other days had none."""

    openings: tuple[Opening, ...]
    reasons: tuple[str, ...] = ()  # aggregated: "clinic closed: Thanksgiving (Thu 27 Nov)"
    truncated: bool = False  # more openings existed than ``limit`` / ``per_day`` let through


# --------------------------------------------------------------------------------------------
# Range arithmetic on closed start ranges


def _starts_for(free: Sequence[Span], a: int, b: int) -> Ranges:
    return [(fs - a, fe - b) for fs, fe in free if fe - fs >= b - a]


def _intersect(x: Ranges, y: Ranges) -> Ranges:
    out: Ranges = []
    i = j = 0
    while i < len(x) and j < len(y):
        lo = max(x[i][0], y[j][0])
        hi = min(x[i][1], y[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


def _union(lists: Iterable[Ranges]) -> Ranges:
    out: Ranges = []
    for lo, hi in sorted(r for rs in lists for r in rs):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _snap(ranges: Ranges, anchor: int, step: int) -> Ranges:
    """Shrink ranges to the slot grid ``anchor + k * step``; drop those without a grid point."""
    out: Ranges = []
    for lo, hi in ranges:
        first = anchor - ((anchor - lo) // step) * step
        last = anchor + ((hi - anchor) // step) * step
        if first <= last:
            out.append((first, last))
    return out


def _measure(ranges: Ranges) -> int:
    return sum(hi - lo + 1 for lo, hi in ranges)


def _minus(ranges: Ranges, cuts: Ranges) -> Ranges:
    if not cuts:
        return ranges
    left = subtract_spans([(lo, hi + 1) for lo, hi in ranges], [(lo, hi + 1) for lo, hi in cuts])
    return [(lo, hi - 1) for lo, hi in left]


def _contains(ranges: Ranges, t: int) -> bool:
    i = bisect_right(ranges, (t, _FAR)) - 1
    return i >= 0 and ranges[i][1] >= t


def _grid_points(ranges: Ranges, step: int) -> Iterable[int]:
    for lo, hi in ranges:
        yield from range(lo, hi + 1, step)


# --------------------------------------------------------------------------------------------
# The per-session-type search engine (shared with the planner)


@dataclass(frozen=True, slots=True)
class _NeedPlan:
    key: str
    kind: ResourceKind
    label: str
    optional: bool
    holds: tuple[tuple[int, int, HoldMode], ...]  # seconds from the session's start
    candidates: tuple[int, ...]  # resource ids, preferred first

    @property
    def reach(self) -> tuple[int, int]:
        return min(h[0] for h in self.holds), max(h[1] for h in self.holds)


@dataclass(frozen=True, slots=True)
class Penalty:
    """Points added to a start when ``resource_id`` cannot serve ``need`` then."""

    need: str
    resource_id: int
    points: int


@dataclass(slots=True)
class DayOptions:
    """What one day allows: feasible starts, and which resources could serve each need when."""

    day: dt.date
    starts: Ranges
    # Per need: each resource looked at (preferred first) with the starts it could serve.
    by_need: dict[str, list[tuple[int, Ranges]]] = field(default_factory=dict)
    # Per need: which resource serves which starts, the first in preference order winning.
    painted: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)

    def can_serve(self, need: str, resource_id: int, t: int) -> bool:
        return any(rid == resource_id and _contains(r, t) for rid, r in self.by_need[need])

    def first_serving(self, need: str, t: int) -> int | None:
        painted = self.painted[need]
        i = bisect_right(painted, (t, _FAR, _FAR)) - 1
        return painted[i][2] if i >= 0 and painted[i][1] >= t else None


#: Where an administrator adds what the clinic lacks, as the settings window names its pages.
ADD_RESOURCE_PAGE = "Settings ▸ Rooms and equipment"
ADD_STAFF_PAGE = "Settings ▸ Staff"


def _clinic_lacks(need: _NeedPlan) -> str:
    """ "the clinic has no office: an administrator adds one in Settings ▸ Rooms and
    equipment" (the desk cannot fix it; the words say who can, and where)."""
    page = ADD_STAFF_PAGE if need.kind is ResourceKind.STAFF else ADD_RESOURCE_PAGE
    return f"the clinic has no {need.label}: an administrator adds one in {page}"


class SessionSearch:
    """Finds and explains starts of one session type on an ``Availability``.

    Resources are tried preferred first: the patient's room and staff member, then ``keep`` (the
    resource each need had earlier in the series, so a series stays in one room).  A start where
    the preferred (or kept) room or the preferred staff member cannot serve costs points
    (``PreferenceWeights``).  Built once per question; cheap.
    """

    def __init__(
        self,
        availability: Availability,
        spec: SessionTypeSpec,
        *,
        weights: PreferenceWeights | None = None,
        preferred_room: int | None = None,
        preferred_staff: int | None = None,
        keep: Mapping[str, int] | None = None,
        patient_busy: Sequence[Span] = (),
        away: Sequence[AwayRange] = (),
    ) -> None:
        self.availability = availability
        self.spec = spec
        self.weights = weights or PreferenceWeights()
        self.total = spec.total_minutes * 60
        self.step = availability.calendar.settings.slot_minutes * 60
        # The patient's days away: whole days taken (so every search skips them), and named
        # when a day is refused for them (``days_away.away_reason``).
        self.away = tuple(away)
        away_busy = [
            (int(i.start.timestamp()), int(i.end.timestamp()))
            for i in away_spans(self.away, availability.calendar)
        ]
        # A patient is in one session at a time: starts that would overlap one of theirs go.
        self.patient_busy = sorted([*patient_busy, *away_busy])
        self._patient_cuts = _union([[(s - self.total + 1, e - 1)] for s, e in self.patient_busy])
        keep = keep or {}
        needs: list[_NeedPlan] = []
        penalties: list[Penalty] = []
        for need in spec.needs:
            found = [r.id for r in availability.candidates_for(spec, need)]
            wanted = [
                r
                for r in (preferred_room, preferred_staff, keep.get(need.key))
                if r is not None and r in found
            ]
            ordered = wanted + [r for r in found if r not in wanted]
            holds = []
            for h in need.holds:
                a, b = spec.hold_window(h)
                holds.append((a * 60, b * 60, h.mode))
            needs.append(
                _NeedPlan(
                    key=need.key,
                    kind=need.kind,
                    label=subkind_label(need.subkind),
                    optional=need.optional,
                    holds=tuple(holds),
                    candidates=tuple(ordered),
                )
            )
            if need.kind is ResourceKind.ROOM and wanted:
                penalties.append(Penalty(need.key, wanted[0], self.weights.other_room))
            elif need.kind is ResourceKind.STAFF and preferred_staff in found:
                assert preferred_staff is not None
                penalties.append(Penalty(need.key, preferred_staff, self.weights.other_staff))
        self.needs = tuple(needs)
        self.penalties = tuple(penalties)
        # When two needs could take the same unit, choosing for one changes the other's choice:
        # then every resource is examined and assigned one by one (no configured type does this).
        seen = [rid for n in needs for rid in n.candidates]
        self._prune = len(seen) == len(set(seen))
        # The scarcest required need first: a day without its one prescriber stops at once.
        self._order = sorted(
            (n for n in needs if not n.optional), key=lambda n: len(n.candidates)
        ) + [n for n in needs if n.optional]

    # -- one day ----------------------------------------------------------------------------------

    def anchor(self, day: dt.date) -> int | None:
        """The slot grid's origin for a day: the opening time by the weekly hours."""
        hours = self.availability.calendar.settings.hours.get(WEEKDAYS[day.weekday()])
        if hours is None:
            return None
        opens = hours[0]
        return self.availability.local_seconds(day, opens.hour * 60 + opens.minute)

    def window(self, day: dt.date, prefs: Preferences) -> tuple[int, int]:
        lo, hi = -_FAR, _FAR
        avail = self.availability
        if prefs.earliest_start is not None:
            lo = avail.local_seconds(day, _minute(prefs.earliest_start))
        if prefs.latest_start is not None:
            hi = avail.local_seconds(day, _minute(prefs.latest_start))
        return lo, hi

    def day_options(self, day: dt.date, prefs: Preferences) -> DayOptions | str:
        """The starts a day allows within the preferred start window, or why there are none."""
        avail = self.availability
        open_spans = avail.open_spans(day)
        anchor = self.anchor(day)
        if not open_spans or anchor is None:
            return self._closed_reason(day)
        if self.away:
            why = away_reason(self.away, day)
            if why:
                return why
        lo, hi = self.window(day, prefs)
        starts = _snap(
            _intersect(_starts_for(open_spans, 0, self.total), [(lo, hi)]), anchor, self.step
        )
        if not starts:
            return self._no_time_reason(day, prefs)
        if self._patient_cuts:
            starts = _minus(starts, self._patient_cuts)
            if not starts:
                return "the patient has another session then"
        options = DayOptions(day, starts)
        for need in self._order:
            per: list[tuple[int, Ranges]] = []
            painted: list[tuple[int, int, int]] = []
            covered: Ranges = []
            wanted = _measure(options.starts)
            for rid in need.candidates:
                free = avail.day_free(rid, day)
                ranges = options.starts
                for a, b, mode in need.holds:
                    ranges = _intersect(ranges, _starts_for(free.for_mode(mode), a, b))
                    if not ranges:
                        break
                if not ranges:
                    continue
                per.append((rid, ranges))
                painted.extend((lo, hi, rid) for lo, hi in _minus(ranges, covered))
                covered = _union((covered, ranges))
                if self._prune and _measure(covered) == wanted:
                    # Every start already has a resource preferred to the ones left, which
                    # would never be chosen: leave them unexamined.
                    break
            painted.sort()
            options.by_need[need.key] = per
            options.painted[need.key] = painted
            if need.optional:
                continue
            narrowed = _snap(_intersect(options.starts, covered), anchor, self.step)
            if not narrowed:
                return self._need_reason(need, day, options.starts)
            options.starts = narrowed
        return options

    def cost(self, options: DayOptions, t: int, target: int | None) -> int:
        points = 0
        if target is not None:
            points += abs(t - target) // 60 * self.weights.per_minute_from_preferred_start
        for p in self.penalties:
            if p.need in options.by_need and not options.can_serve(p.need, p.resource_id, t):
                points += p.points
        return points

    def assign(self, options: DayOptions, t: int) -> dict[str, int] | None:
        """Resources for a start the day allows: preferred ones first, each unit used once."""
        chosen: dict[str, int] = {}
        if self._prune:
            for need in self.needs:
                rid = options.first_serving(need.key, t)
                if rid is not None:
                    chosen[need.key] = rid
                elif not need.optional:
                    return None
            return chosen
        used: set[int] = set()
        chosen = {}
        for need in self.needs:
            rid = next(
                (
                    rid
                    for rid, ranges in options.by_need.get(need.key, ())
                    if rid not in used and _contains(ranges, t)
                ),
                None,
            )
            if rid is None:
                if need.optional:
                    continue
                return None
            chosen[need.key] = rid
            used.add(rid)
        return chosen

    def best_on_day(
        self, options: DayOptions, target: int | None
    ) -> tuple[int, int, dict[str, int]] | None:
        """The cheapest start of a day: (cost, start, assignment); the earliest among equals."""
        for cost, t in sorted((self.cost(options, t, target), t) for t in self.grid(options)):
            chosen = self.assign(options, t)
            if chosen is not None:
                return cost, t, chosen
        return None

    def grid(self, options: DayOptions) -> Iterable[int]:
        return _grid_points(options.starts, self.step)

    # -- one start ----------------------------------------------------------------------------

    def at(
        self,
        t: int,
        *,
        only: Mapping[str, int] | None = None,
        pinned: Mapping[str, int] | None = None,
    ) -> tuple[dict[str, int] | None, tuple[str, ...]]:
        """Resources for a session starting exactly at ``t`` (any time, on the grid or not), or
        why it cannot.  ``only`` pins needs to given resources and leaves out the optional
        needs it does not name (a session kept as booked); ``pinned`` pins needs and chooses
        for the others as usual (a place that came free in one room)."""
        avail = self.availability
        day = avail.calendar.local_date(instant(t))
        if not _inside_any(avail.open_spans(day), t, t + self.total):
            return None, (self._clinic_refusal(day, t),)
        why = away_reason(self.away, day) if self.away else ""
        if why:
            return None, (why,)
        clash = next((b for b in self.patient_busy if b[0] < t + self.total and t < b[1]), None)
        if clash is not None:
            span = describe_span(avail.calendar, clash[0], clash[1])
            return None, (f"the patient has another session {span}",)
        used: set[int] = set()
        chosen: dict[str, int] = {}
        reasons: list[str] = []
        for need in self.needs:
            refusals: list[Refusal] = []
            candidates = need.candidates
            if only is not None and need.key in only:
                candidates = (only[need.key],)
            elif pinned is not None and need.key in pinned:
                candidates = (pinned[need.key],)
            elif only is not None and need.optional:
                continue  # the session as booked went without this optional need
            for rid in candidates:
                if rid in used:
                    continue
                refusal = next(
                    (
                        r
                        for a, b, mode in need.holds
                        if (r := avail.refusal_at(rid, t + a, t + b, mode, hold_units(mode)))
                    ),
                    None,
                )
                if refusal is None:
                    chosen[need.key] = rid
                    used.add(rid)
                    break
                refusals.append(refusal)
            else:
                if not need.optional:
                    reasons.append(self._refusals_text(need, refusals, t))
        if reasons:
            return None, tuple(reasons)
        return chosen, ()

    # -- words --------------------------------------------------------------------------------

    def _closed_reason(self, day: dt.date) -> str:
        avail = self.availability
        if avail.window is not None:
            lo, hi = avail.day_frame(day)
            w = (avail.window.start.timestamp(), avail.window.end.timestamp())
            if hi <= w[0] or lo >= w[1]:
                return "outside the dates loaded for planning"
        return avail.calendar.closed_reason(day) or "clinic closed"

    def _no_time_reason(self, day: dt.date, prefs: Preferences) -> str:
        minutes = self.spec.total_minutes
        if prefs.earliest_start is None and prefs.latest_start is None:
            return f"the clinic is not open {minutes} minutes in a row"
        fmt = self.availability.calendar.settings.time_format
        lo = clock(prefs.earliest_start, fmt) if prefs.earliest_start else "opening"
        hi = clock(prefs.latest_start, fmt) if prefs.latest_start else "closing"
        return f"no start between {lo} and {hi} leaves {minutes} minutes before closing"

    def _clinic_refusal(self, day: dt.date, t: int) -> str:
        avail = self.availability
        if not avail.open_spans(day):
            return self._closed_reason(day)
        cal = avail.calendar
        end = t + self.total
        for c in cal.closures:
            if c.resource_id is None and c.span.overlaps(Interval(instant(t), instant(end))):
                return f"clinic closed: {c.reason}" if c.reason else "clinic closed"
        runs = f"a {self.spec.total_minutes}-minute session at {describe_span(cal, t, end)}"
        hours = cal.opening_hours(day)
        if hours is not None and t < int(hours.start.timestamp()):
            return f"{runs} starts before opening ({clock_time(cal, int(hours.start.timestamp()))})"
        if hours is not None and end > int(hours.end.timestamp()):
            return f"{runs} runs past closing ({clock_time(cal, int(hours.end.timestamp()))})"
        return f"{runs} is outside opening hours"

    def _need_reason(self, need: _NeedPlan, day: dt.date, starts: Ranges) -> str:
        """Why no resource serves ``need`` at any of ``starts`` (words without the date)."""
        avail = self.availability
        if not need.candidates:
            return _clinic_lacks(need)
        a, b = need.reach
        lo, hi = starts[0][0] + a, starts[-1][1] + b
        there = []
        for rid in need.candidates:
            ranges = starts
            free = avail.calendar_free(rid, day)
            for ha, hb, _mode in need.holds:
                ranges = _intersect(ranges, _starts_for(free, ha, hb))
            if ranges:
                there.append(rid)
        if not there:
            closed = self._closed_text(need, lo, hi)
            if closed is not None:
                return closed
            if need.kind is ResourceKind.STAFF:
                return f"no {need.label} on shift"
            return f"no {need.label} available (closed or out of service)"
        cal = avail.calendar
        return f"no {need.label} free {describe_hours(cal, lo, hi)}"

    def _refusals_text(self, need: _NeedPlan, refusals: Sequence[Refusal], t: int) -> str:
        cal = self.availability.calendar
        a, b = need.reach
        span = describe_span(cal, t + a, t + b)
        if not need.candidates:
            return _clinic_lacks(need)
        if len(refusals) == 1:
            return refusals[0].message
        if refusals and all(r.kind.is_calendar for r in refusals):
            closed = self._closed_text(need, t + a, t + b)
            if closed is not None:
                return closed
            if need.kind is ResourceKind.STAFF:
                return f"no {need.label} on shift {span}"
            return f"no {need.label} available {span} (closed or out of service)"
        return f"no {need.label} free {span}"

    def _closed_text(self, need: _NeedPlan, start: int, end: int) -> str | None:
        """ "every treatment room closed: renovation" when one closure reason explains all."""
        avail = self.availability
        reasons = {avail.closure_reason(rid, start, end) for rid in need.candidates}
        if len(reasons) != 1 or None in reasons:
            return None
        reason = reasons.pop()
        word = closed_word(need.kind)
        if len(need.candidates) == 1:
            return f"{avail.resources[need.candidates[0]].name} {word}: {reason}"
        return f"every {need.label} {word}: {reason}"


def _minute(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _inside_any(spans: Sequence[Span], s: int, e: int) -> bool:
    return any(a <= s and e <= b for a, b in spans)


# --------------------------------------------------------------------------------------------
# Reasons, aggregated over days


def aggregate_reasons(by_day: Iterable[tuple[dt.date, str]], *, show_days: int = 4) -> list[str]:
    """ "no nurse on shift (Mon 2 Mar, Tue 3 Mar)": one line per reason, in first-seen order."""
    grouped: dict[str, list[dt.date]] = {}
    for day, text in by_day:
        grouped.setdefault(text, []).append(day)
    out = []
    for text, days in grouped.items():
        shown = ", ".join(describe_day(d) for d in days[:show_days])
        if len(days) > show_days:
            shown += f" and {len(days) - show_days} more days"
        out.append(f"{text} ({shown})")
    return out


def _days(first: dt.date, last: dt.date) -> Iterable[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def find_openings(
    availability: Availability,
    spec: SessionTypeSpec,
    first_day: dt.date,
    last_day: dt.date,
    preferences: Preferences | None = None,
    *,
    weights: PreferenceWeights | None = None,
    limit: int | None = None,
    per_day: int | None = None,
    patient_busy: Sequence[Interval] = (),
    earliest_day: bool = False,
    away: Sequence[AwayRange] = (),
    exact_preferred_start: bool = False,
) -> OpeningSearch:
    """Every feasible start of ``spec`` on local days ``first_day``..``last_day`` (inclusive).

    Starts lie on the slot grid (``slot_minutes`` from each day's opening time), on the
    preferred weekdays and inside the preferred start window.  Openings come best first by
    ``cost`` (minutes away from the preferred start time, plus points when the preferred room or
    staff member is not the one free; see ``PreferenceWeights``), earliest first among equals,
    each with the preferred resources assigned where they are free.  ``earliest_day``: the
    earliest day with an opening first, best first within each day ("next available": the
    preferred start on the first day it is free, else the nearest start that day, never a later
    day only because the preferred start is free there).

    ``per_day`` keeps only that many best starts of each day (a day view of choices); ``limit``
    caps the whole list.  Both are off by default: a 4-week search on a 15-room clinic returns
    every start in well under 100 ms.  ``patient_busy``: when the patient is already booked (no
    opening overlaps those times); ``away``: the patient's days away (no opening on them, each
    such day's reason naming the range).  ``exact_preferred_start``: the preferred start itself
    is offered on each day it is free, on the grid or not (a move of a session booked at 7:45
    on a grid from 7:00 by 20 minutes offers 7:45, not only 7:40 and 8:00).
    """
    prefs = preferences or Preferences()
    search = SessionSearch(
        availability,
        spec,
        weights=weights,
        preferred_room=prefs.preferred_room,
        preferred_staff=prefs.preferred_staff,
        patient_busy=[(int(i.start.timestamp()), int(i.end.timestamp())) for i in patient_busy],
        away=away,
    )
    cal = availability.calendar
    reasons: list[tuple[dt.date, str]] = []
    # (day rank, cost, start, options, resources chosen for an exact start off the grid)
    found: list[tuple[int, int, int, DayOptions, dict[str, int] | None]] = []
    truncated = False
    considered = 0
    for day in _days(first_day, last_day):
        if prefs.weekdays and WEEKDAYS[day.weekday()] not in prefs.weekdays:
            continue
        considered += 1
        options = search.day_options(day, prefs)
        if isinstance(options, str):
            reasons.append((day, options))
            continue
        target = (
            availability.local_seconds(day, _minute(prefs.preferred_start))
            if prefs.preferred_start is not None
            else None
        )
        if target is None and not search.penalties:
            scored = [(0, t, options) for t in search.grid(options)]
        else:
            scored = [(search.cost(options, t, target), t, options) for t in search.grid(options)]
        if per_day is not None and len(scored) > per_day:
            scored = heapq.nsmallest(per_day, scored, key=lambda x: (x[0], x[1]))
            truncated = True
        rank = day.toordinal() if earliest_day else 0
        found.extend((rank, cost, t, o, None) for cost, t, o in scored)
        on_grid = any(t == target for _c, t, _o in scored)
        if exact_preferred_start and target is not None and not on_grid:
            exact, _why = search.at(target)
            if exact is not None:
                found.append((rank, 0, target, options, exact))
    found.sort(key=lambda x: (x[0], x[1], x[2]))
    openings: list[Opening] = []
    for _rank, cost, t, options, exact in found:
        if limit is not None and len(openings) >= limit:
            truncated = True
            break
        chosen = exact if exact is not None else search.assign(options, t)
        if chosen is None:
            continue
        openings.append(
            Opening(
                session_type=spec.code,
                start=instant(t),
                end=instant(t + search.total),
                assignment=tuple((n.key, chosen[n.key]) for n in search.needs if n.key in chosen),
                cost=cost,
            )
        )
    if openings:
        # The clinic's usual closed weekdays are news only when nothing was found at all.
        reasons = [(d, r) for d, r in reasons if cal.opening_hours(d) is not None]
    text = aggregate_reasons(reasons)
    if considered == 0:
        wanted = ", ".join(d.capitalize() for d in prefs.weekdays)
        text.append(
            f"no day from {describe_day(first_day)} to {describe_day(last_day)} "
            f"falls on the preferred weekdays ({wanted})"
        )
    return OpeningSearch(tuple(openings), tuple(text), truncated)


def room_need(spec: SessionTypeSpec) -> str | None:
    """The key of the need that holds a room (or an office), None for a type that takes none."""
    return next((n.key for n in spec.needs if n.kind is ResourceKind.ROOM), None)


def opening_at(
    availability: Availability,
    spec: SessionTypeSpec,
    start: dt.datetime,
    preferences: Preferences | None = None,
    *,
    room: int | None = None,
) -> Opening | tuple[str, ...]:
    """The session starting exactly at ``start`` with resources chosen, or why it cannot be:
    e.g. ("no vital-signs monitor free 10:15-11:40 on Tue Mar 3",).  ``room``: the room it
    must have (the preferred room is only tried first)."""
    prefs = preferences or Preferences()
    search = SessionSearch(
        availability,
        spec,
        preferred_room=prefs.preferred_room,
        preferred_staff=prefs.preferred_staff,
    )
    pinned: dict[str, int] = {}
    if room is not None:
        key = room_need(spec)
        need = next((n for n in spec.needs if n.key == key), None)
        if need is None or room not in {r.id for r in availability.candidates_for(spec, need)}:
            found = availability.resources.get(room)
            return (f"{spec.name} cannot be held in {found.name if found else f'#{room}'}",)
        pinned[need.key] = room
    t = int(start.timestamp())
    chosen, reasons = search.at(t, pinned=pinned)
    if chosen is None:
        return reasons
    return Opening(
        session_type=spec.code,
        start=instant(t),
        end=instant(t + search.total),
        assignment=tuple((n.key, chosen[n.key]) for n in search.needs if n.key in chosen),
        cost=0,
    )
