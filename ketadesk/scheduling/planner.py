"""Series planning: a whole treatment protocol laid out in one go, and re-flowed after a change.

``plan_series`` walks the protocol's sessions in order.  Each dosing session's date is chosen
among the days its stage allows after the previous one (``min_gap_days``..``max_gap_days``),
scored by distance from ``target_gap_days``, the preferred weekdays (the protocol's default ones
when the patient names none) and whether the rest of the stage still fits its ``window_days``;
a follow-on session (``followed_by``: integration after each KAP dose) gets its own day range.
Within a day the series keeps its local start time and its room where it can (the first
session's, or the patient's preferred ones).  Closed days (holidays such as Thanksgiving, clinic
closures) simply offer no start, so the plan steps around them; local wall-clock time survives
daylight-saving changes because every instant is built from a local date and time.

Which day each session takes, and the series' time and room, are chosen for the series as a
whole (``planner_search``): the first session's start and room decide what every later session
costs, so the search weighs candidate anchors for it and then the days of all sessions together,
scoring with the same points this module ranks days and starts by.  The sessions are then placed
on their chosen days one by one, as before, each re-checked and each change explained.

The planner works on a fork of the availability it is given, adding each session's holds so the
next session sees them; inputs are never changed.  A session that cannot be placed keeps its
intended date with a problem in plain words and the nearest feasible alternatives.  ``reflow``
re-plans the rest of a series after one session moved, was missed or was cancelled, through the
same search.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ketadesk.scheduling.availability import (
    Availability,
    describe_day,
    instant,
    seconds,
)
from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import WEEKDAYS, ProtocolSpec, ResourceKind, SessionTypeSpec
from ketadesk.scheduling.dates import clock
from ketadesk.scheduling.days_away import AwayRange
from ketadesk.scheduling.dosing_days import dosed_day_spans
from ketadesk.scheduling.model import PlannedHold, PlannedSession, ResourceInfo, session_holds
from ketadesk.scheduling.openings import (
    Preferences,
    PreferenceWeights,
    SessionSearch,
    aggregate_reasons,
)
from ketadesk.scheduling.planner_search import (
    Choice,
    DayRange,
    DaysFor,
    Prev,
    SeriesSearch,
    SeriesSlot,
    _TypeDays,
    series_score,
)
from ketadesk.scheduling.protocol_rules import window_cap_problems

_DayRange = DayRange

# How far the planner looks for a first session after the requested start date, and beyond a
# session's allowed days for alternatives.  A search horizon, not a clinic rule.
DEFAULT_SEARCH_DAYS = 14
DEFAULT_ALTERNATIVES = 3


def series_slots(protocol: ProtocolSpec) -> tuple[SeriesSlot, ...]:
    """The protocol's sessions in series order (each follow-on right after its session)."""
    out: list[SeriesSlot] = []
    for stage_no, stage in enumerate(protocol.stages):
        for position in range(stage.count):
            main = SeriesSlot(len(out) + 1, stage_no, position, stage.session_type)
            out.append(main)
            if stage.followed_by is not None:
                out.append(
                    SeriesSlot(
                        len(out) + 1,
                        stage_no,
                        position,
                        stage.followed_by.session_type,
                        follows=main.index,
                    )
                )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """A proposed series: every session (placed or not), what is wrong, what was worked around."""

    protocol: str
    sessions: tuple[PlannedSession, ...]
    problems: tuple[str, ...] = ()  # sessions not placed, spacing rules not kept
    notes: tuple[str, ...] = ()  # days stepped around: "Thu 27 Nov not possible (...)"
    missed: tuple[PlannedSession, ...] = ()  # missed or cancelled sessions, kept visible

    @property
    def complete(self) -> bool:
        return not self.problems and all(s.placed for s in self.sessions)

    def session(self, index: int) -> PlannedSession | None:
        return next((s for s in self.sessions if s.index == index), None)

    @property
    def holds(self) -> tuple[PlannedHold, ...]:
        return tuple(h for s in self.sessions for h in s.holds)


class ChangeKind(enum.StrEnum):
    MOVED = "moved"
    MISSED = "missed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class SeriesChange:
    """What happened to one session of a series.

    ``new_start`` is where a moved session goes.  A missed or cancelled session is kept visible
    in ``SeriesPlan.missed`` and, with ``make_up``, planned again so the series keeps its count;
    without it the series goes on one session short.  Nothing is planned before ``not_before``
    (default: the day after a missed or cancelled session; pass today's date from the clock).
    """

    index: int
    kind: ChangeKind
    new_start: dt.datetime | None = None
    not_before: dt.date | None = None
    make_up: bool = True

    def __post_init__(self) -> None:
        if self.kind is ChangeKind.MOVED and self.new_start is None:
            raise ValueError("a moved session needs its new start")


# --------------------------------------------------------------------------------------------
# Spacing rules


def _days(n: int) -> str:
    return f"{n} day" if abs(n) == 1 else f"{n} days"


def spacing_problems(
    protocol: ProtocolSpec,
    sessions: Sequence[PlannedSession],
    calendar: ClinicCalendar,
    session_types: Mapping[str, SessionTypeSpec] | None = None,
) -> tuple[str, ...]:
    """The protocol's spacing rules a list of sessions breaks, in words (dates are local)."""
    by_index = {s.index: s for s in sessions}
    problems: list[str] = []
    prev: tuple[int, dt.date] | None = None
    stage_dates: dict[int, list[tuple[int, dt.date]]] = {}
    for slot in series_slots(protocol):
        session = by_index.get(slot.index)
        if session is None:
            continue
        day = calendar.local_date(session.start)
        stage = protocol.stages[slot.stage]
        if slot.follows is None:
            if prev is not None:
                gap = (day - prev[1]).days
                if not stage.min_gap_days <= gap <= stage.max_gap_days:
                    problems.append(
                        f"sessions {prev[0]} and {slot.index} are {_days(gap)} apart; "
                        f"{stage.name} asks for {stage.min_gap_days}-{stage.max_gap_days}"
                    )
            prev = (slot.index, day)
            stage_dates.setdefault(slot.stage, []).append((slot.index, day))
            continue
        parent = by_index.get(slot.follows)
        follow = stage.followed_by
        if parent is None or follow is None:
            continue
        gap = (day - calendar.local_date(parent.start)).days
        if not follow.min_days <= gap <= follow.max_days:
            name = session_types[slot.session_type].name if session_types else slot.session_type
            problems.append(
                f"session {slot.index} ({name}) is {_days(gap)} after session {slot.follows}; "
                f"the protocol asks for {follow.min_days}-{follow.max_days}"
            )
    for stage_no, dates in stage_dates.items():
        window = protocol.stages[stage_no].window_days
        if window is None or len(dates) < 2:
            continue
        span = (dates[-1][1] - dates[0][1]).days + 1
        if span > window:
            problems.append(
                f"{protocol.stages[stage_no].name}: sessions {dates[0][0]}-{dates[-1][0]} "
                f"span {span} days; the protocol allows {window}"
            )
    return tuple(problems)


# --------------------------------------------------------------------------------------------
# The planner


class _Planner:
    """Places one session after another on a private fork of the availability."""

    def __init__(
        self,
        protocol: ProtocolSpec,
        preferences: Preferences,
        work: Availability,
        session_types: Mapping[str, SessionTypeSpec],
        weights: PreferenceWeights,
        search_days: int,
        alternatives: int,
    ) -> None:
        self.protocol = protocol
        self.prefs = preferences
        self.work = work
        self.cal = work.calendar
        self.session_types = session_types
        self.weights = weights
        self.search_days = search_days
        self.alternatives = alternatives
        self.weekdays = frozenset(preferences.weekdays or protocol.default_weekdays)
        # Each weekday's points (Monday first): off the preferred weekdays or not.
        self._off_weekday = tuple(
            weights.off_weekday if self.weekdays and name not in self.weekdays else 0
            for name in WEEKDAYS
        )
        self._slot_type = {slot.index: slot.session_type for slot in series_slots(protocol)}
        self.series_minute: dict[str, int] = {}  # per session type: the series' local start
        self.keep: dict[str, dict[str, int]] = {}  # per session type: need -> resource
        self.notes: list[str] = []
        # Per session: the days ranked better than the one the series search chose that had a
        # start at the series' time and room (nothing in the notes says why they were passed).
        self.passed_over: dict[int, list[dt.date]] = {}
        # When the patient is already taken: other bookings, then this series' own sessions.
        self.patient_busy: list[tuple[int, int]] = []
        # The patient's days away: no session goes on one, and a day refused for it says so.
        self.away: tuple[AwayRange, ...] = ()
        # (local day, doses) of the patient's other bookings: a dosing session keeps off the
        # days already holding the clinic's limit of doses (``dosing_days``).
        self.patient_doses: list[tuple[dt.date, bool]] = []
        self._dose_cuts: dict[bool, list[tuple[int, int]]] = {}
        self.series_days: set[dt.date] = set()
        # ``main_days`` by what it reads: the slot, the previous session, where the stage's
        # window starts to cost among the gaps, the first day allowed, the capped days.
        self._main_days: dict[tuple[object, ...], _DayRange] = {}

    # -- days ---------------------------------------------------------------------------------

    def _weekday_points(self, day: dt.date) -> int:
        return self._off_weekday[day.weekday()]

    def _range(
        self,
        first: dt.date,
        last: dt.date,
        points: Iterable[tuple[int, dt.date]],
        rule: str,
        not_before: dt.date | None,
    ) -> _DayRange:
        off = self._off_weekday
        scored = [(p + off[d.weekday()], d) for p, d in points]
        if not_before is not None:
            scored = [(p, d) for p, d in scored if d >= not_before]
            if not scored:  # the rule's days are all past: take the first days after
                scored = [
                    (i * self.weights.per_day_from_target_gap + self._weekday_points(d), d)
                    for i, d in enumerate(_span(not_before, not_before + _td(last - first)))
                ]
                first, last = scored[0][1], scored[-1][1]
        return _DayRange(first, last, tuple(sorted(scored)), rule)

    def first_days(self, start_date: dt.date, not_before: dt.date | None) -> _DayRange:
        last = start_date + _td(self.search_days)
        per_day = self.weights.per_day_from_target_gap
        points = [(i * per_day, d) for i, d in enumerate(_span(start_date, last))]
        return self._range(start_date, last, points, "from the requested start", not_before)

    def main_days(
        self,
        slot: SeriesSlot,
        prev: tuple[int, dt.date],
        stage_first: dt.date | None,
        not_before: dt.date | None,
        earlier: Mapping[int, dt.date] | None = None,
    ) -> _DayRange:
        stage = self.protocol.stages[slot.stage]
        prev_index, prev_day = prev
        first = prev_day + _td(stage.min_gap_days)
        last = prev_day + _td(stage.max_gap_days)
        remaining = stage.count - slot.position - 1
        capped = self._capped_days(slot, earlier or {}, first, last)
        per_day = self.weights.per_day_from_target_gap
        # The last gap that leaves room for the stage's rest within its window (days used:
        # from the stage's first day to this one, then ``remaining`` more at the least gap).
        in_window: int | None = None
        if stage.window_days is not None and stage_first is not None:
            in_window = (
                (stage_first - prev_day).days
                + stage.window_days
                - 1
                - remaining * stage.min_gap_days
            )
            # Only where it falls among the gaps matters.
            in_window = min(max(in_window, stage.min_gap_days - 1), stage.max_gap_days)
        key = (slot.index, prev, in_window, not_before, frozenset(capped))
        found = self._main_days.get(key)
        if found is not None:
            return found
        off = self._off_weekday
        weekday = prev_day.weekday()
        beyond = self.weights.beyond_stage_window
        target = stage.target_gap_days
        scored = []
        for gap in range(stage.min_gap_days, stage.max_gap_days + 1):
            day = prev_day + _DAYS[gap] if 0 <= gap < len(_DAYS) else prev_day + _td(gap)
            if capped and day in capped:
                continue
            p = abs(gap - target) * per_day + off[(weekday + gap) % 7]
            if in_window is not None and gap > in_window:
                p += beyond
            scored.append((p, day))
        rule = (
            f"{stage.min_gap_days}-{_days(stage.max_gap_days)} after session {prev_index}"
            f" ({stage.name})"
        )
        if not_before is None:  # ``_range``'s, the weekdays' points already in
            scored.sort()
            found = _DayRange(first, last, tuple(scored), rule)
        else:
            points = [(p - off[d.weekday()], d) for p, d in scored]
            found = self._range(first, last, points, rule, not_before)
        self._main_days[key] = found
        return found

    def _capped_days(
        self, slot: SeriesSlot, earlier: Mapping[int, dt.date], first: dt.date, last: dt.date
    ) -> set[dt.date]:
        """The days from ``first`` to ``last`` that would put more of the stage's sessions in
        some ``window_cap.days`` days than it allows, counting the series' earlier sessions of
        the same type (``protocol_rules`` judges the same rule, the patient's other sessions
        included, when the plan is booked).  Sessions are placed in order, so only earlier
        ones can share the window.  All of them capped: none left out (the plan then says so)."""
        cap = self.protocol.stages[slot.stage].window_cap
        if cap is None:
            return set()
        window = _td(cap.days)
        since = first - window
        same = sorted(
            day
            for index, day in earlier.items()
            if index < slot.index
            and since < day <= last
            and self._slot_type.get(index) == slot.session_type
        )
        if len(same) < cap.sessions:
            return set()
        # A day is capped when the window ending on it, (day - window, day], already holds
        # as many of the stage's sessions as it allows.
        capped = {
            day
            for day in _span(first, last)
            if bisect_right(same, day) - bisect_right(same, day - window) >= cap.sessions
        }
        return set() if len(capped) > (last - first).days else capped

    def follow_days(
        self, slot: SeriesSlot, parent_day: dt.date, not_before: dt.date | None
    ) -> _DayRange:
        follow = self.protocol.stages[slot.stage].followed_by
        assert follow is not None
        first = parent_day + _td(follow.min_days)
        last = parent_day + _td(follow.max_days)
        per_day = self.weights.per_day_from_target_gap
        points = [((d - first).days * per_day, d) for d in _span(first, last)]
        rule = f"{follow.min_days}-{_days(follow.max_days)} after session {slot.follows}"
        return self._range(first, last, points, rule, not_before)

    # -- one day ------------------------------------------------------------------------------

    def search(
        self,
        spec: SessionTypeSpec,
        keep: Mapping[str, int] | None = None,
        after: PlannedSession | None = None,
    ) -> SessionSearch:
        busy = [*self.patient_busy, *self.dosed_days(spec.dosing)]
        if after is not None:
            # A session never starts before the one it follows has ended (same-day protocols).
            midnight = self.work.day_frame(self.cal.local_date(after.start))[0]
            busy = [*busy, (midnight, seconds(after.end))]
        return SessionSearch(
            self.work,
            spec,
            weights=self.weights,
            preferred_room=self.prefs.preferred_room,
            preferred_staff=self.prefs.preferred_staff,
            keep=keep if keep is not None else self.keep.get(spec.code),
            patient_busy=busy,
            away=self.away,
        )

    def dosed_days(self, dosing: bool) -> list[tuple[int, int]]:
        """The whole days a session (dosing or not) cannot go on for its dose."""
        found = self._dose_cuts.get(dosing)
        if found is None:
            found = _spans(dosed_day_spans(self.cal, dosing, self.patient_doses))
            self._dose_cuts[dosing] = found
        return found

    def target_minute(self, spec: SessionTypeSpec) -> int | None:
        if self.prefs.preferred_start is not None:
            t = self.prefs.preferred_start
            return t.hour * 60 + t.minute
        return self.series_minute.get(spec.code)

    def best_on_day(
        self,
        search: SessionSearch,
        day: dt.date,
        minute: int | None,
        grid: _TypeDays | None = None,
    ) -> tuple[int, int, dict[str, int]] | str:
        """(cost, start, assignment) of the day's best start, or why the day has none.

        ``grid``: the same search on bit grids (``planner_search._TypeDays``), which finds the
        same start and resources far quicker; the interval search still answers a day without
        a start (it says why), a start off the slot grid and resources two needs could share."""
        if grid is not None and search._prune:
            t = self.work.local_seconds(day, minute) if minute is not None else None
            lo, hi = search.window(day, self.prefs)
            if t is None or not lo <= t <= hi or grid.on_grid(day, t):
                if t is not None and lo <= t <= hi:
                    # As below: the series' time and room (and staff) when they are free.
                    chosen = grid.at(day, t)
                    if chosen is not None and all(
                        chosen.get(p.need) == p.resource_id for p in search.penalties
                    ):
                        return 0, t, chosen
                found = grid.best(day, t)
                if found is not None:
                    return found
        if minute is not None:
            # The usual case once a series has its time and room: try exactly that first.
            t = self.work.local_seconds(day, minute)
            lo, hi = search.window(day, self.prefs)
            if lo <= t <= hi:
                chosen, _ = search.at(t)
                if chosen is not None and all(
                    chosen.get(p.need) == p.resource_id for p in search.penalties
                ):
                    return 0, t, chosen
        options = search.day_options(day, self.prefs)
        if isinstance(options, str):
            return options
        target = self.work.local_seconds(day, minute) if minute is not None else None
        best = search.best_on_day(options, target)
        if best is None:
            return "no set of resources free together"
        return best

    # -- placing ------------------------------------------------------------------------------

    def place(
        self,
        slot: SeriesSlot,
        days: _DayRange,
        after: PlannedSession | None = None,
        *,
        on: tuple[dt.date, int | None, Mapping[str, int] | None] | None = None,
    ) -> PlannedSession | None:
        """The best start on the best of ``days`` (``after``: the session this one follows).

        ``on``: the day the series search chose, with the start minute and room to aim for
        (a series' first session); days scored better than it are still explained in notes.
        None when that day no longer has a start (the caller then places the session anew).
        """
        spec = self.session_types[slot.session_type]
        search = self.search(spec, keep=on[2] if on else None, after=after)
        grid = _TypeDays(self, spec, search)
        minute = on[1] if on is not None and on[1] is not None else self.target_minute(spec)
        best: tuple[int, dt.date, int, dict[str, int]] | None = None
        skipped: list[tuple[int, dt.date, str]] = []
        possible: list[tuple[int, dt.date, int]] = []  # days that lost on the time they allow
        scored = days.scored
        if on is not None:
            at = next((p for p, d in scored if d == on[0]), 0)
            scored = (*((p, d) for p, d in scored if p < at), (-1, on[0]))
        for points, day in scored:
            if best is not None and points >= best[0]:
                break
            found = self.best_on_day(search, day, minute, grid)
            if on is not None and day != on[0]:
                if isinstance(found, str):
                    skipped.append((points, day, found))
                elif found[0] > 0:  # kept neither the time nor the room there either
                    possible.append((points, day, found[1]))
                else:
                    self.passed_over.setdefault(slot.index, []).append(day)
                continue
            if isinstance(found, str):
                skipped.append((points, day, found))
                continue
            if on is None:
                possible.append((points, day, found[1]))
            total = points + found[0]
            if best is None or total < best[0]:
                best = (total, day, found[1], found[2])
        if best is None:
            if on is not None:
                return None
            return self._unplaced(slot, spec, search, days, minute, skipped)
        _total, day, t, chosen = best
        chosen_points = next((p for p, d in days.scored if d == day), 0)
        # Notes in date order, about the days the series keeps to (the protocol's or the ones
        # ticked): a day it would not use anyway is no trade to report (trial 3, A11).
        skipped = sorted((x for x in skipped if self._on_series_days(x[1])), key=lambda x: x[1])
        possible = sorted((x for x in possible if self._on_series_days(x[1])), key=lambda x: x[1])
        for points, skipped_day, why in skipped:
            if points < chosen_points:
                self.notes.append(
                    f"session {slot.index}: {describe_day(skipped_day)} not possible ({why}); "
                    f"planned {describe_day(day)}"
                )
        # An earlier day given up for the time: say the trade, not only the day planned.
        kept = (
            f", when {_clock(self.cal, minute)} is free"
            if minute is not None and self.cal.minute_of_day(instant(t)) == minute
            else ""
        )
        for points, other_day, other_t in possible:
            if points < chosen_points and minute is not None:
                clock = _clock(self.cal, self.cal.minute_of_day(instant(other_t)))
                room = self._other_room_at(search, other_day, minute, chosen)
                if clock == _clock(self.cal, minute) and room is not None:
                    # The time is free that day, in another room: say so, and how to take it.
                    self.notes.append(
                        f"session {slot.index}: could start {describe_day(other_day)} at "
                        f"{clock} in {room.name} (the series' room is taken then: choose "
                        f"{room.name} as the room to start then); planned {describe_day(day)}"
                    )
                    continue
                self.notes.append(
                    f"session {slot.index}: {describe_day(other_day)} only at {clock} "
                    f"({_clock(self.cal, minute)}: "
                    f"{self._why_not_at(search, other_day, minute, chosen)}); "
                    f"planned {describe_day(day)}{kept}"
                )
        self._note_changes(slot, search, day, minute, t, chosen)
        return self._commit(slot, spec, t, chosen)

    def _note_changes(
        self,
        slot: SeriesSlot,
        search: SessionSearch,
        day: dt.date,
        minute: int | None,
        t: int,
        chosen: Mapping[str, int],
    ) -> None:
        """Say why a session is not at the time or in the room asked for (the series' own time
        and room, or the patient's preferences): the desk never finds a change unexplained."""
        planned = self.cal.minute_of_day(instant(t))
        if minute is not None and planned != minute:
            self.notes.append(
                f"session {slot.index}: {_clock(self.cal, minute)} not possible on "
                f"{describe_day(day)} ({self._why_not_at(search, day, minute, chosen)}); "
                f"planned {_clock(self.cal, planned)}"
            )
        wanted = self.prefs.preferred_room
        if wanted is not None and wanted not in chosen.values():
            room = self.work.resource(wanted)
            rooms = [self.work.resource(r) for r in chosen.values()]
            taken = next((r for r in rooms if r is not None and r.kind is ResourceKind.ROOM), None)
            name = room.name if room is not None else f"room #{wanted}"
            instead = f"; planned in {taken.name}" if taken is not None else ""
            self.notes.append(
                f"session {slot.index}: {name} not free at {_clock(self.cal, planned)} on "
                f"{describe_day(day)}{instead}"
            )

    def _on_series_days(self, day: dt.date) -> bool:
        """Whether ``day`` is one of the weekdays the series keeps to (any, when none)."""
        return not self.weekdays or WEEKDAYS[day.weekday()] in self.weekdays

    def _why_not_at(
        self,
        search: SessionSearch,
        day: dt.date,
        minute: int,
        series: Mapping[str, int] | None = None,
    ) -> str:
        """Why the session cannot start at ``minute`` on ``day`` as planned.  When only another
        room was free then, it names that room and how to take it (the booking dialog's Room),
        rather than "only other rooms or staff than the series' were free then"."""
        target = self.work.local_seconds(day, minute)
        lo, hi = search.window(day, self.prefs)
        if not lo <= target <= hi:
            return "outside the start times asked for"
        at, reasons = search.at(target)
        if at is None:
            return "; ".join(reasons) or "no set of resources free together"
        series_rooms = {r.id for r in self._rooms_of(series or {})}
        other = next((r for r in self._rooms_of(at) if r.id not in series_rooms), None)
        if other is not None:
            return (
                f"free then in {other.name}, not in the series' room: choose {other.name} "
                "as the room to start then"
            )
        return "the series' staff were not free then, others were"

    def _other_room_at(
        self, search: SessionSearch, day: dt.date, minute: int, series: Mapping[str, int]
    ) -> ResourceInfo | None:
        """The room other than the series' in which the session could start at ``minute`` on
        ``day``, or None (not possible then at all, or only with other staff)."""
        target = self.work.local_seconds(day, minute)
        lo, hi = search.window(day, self.prefs)
        if not lo <= target <= hi:
            return None
        at, _reasons = search.at(target)
        if at is None:
            return None
        series_rooms = {r.id for r in self._rooms_of(series)}
        return next((r for r in self._rooms_of(at) if r.id not in series_rooms), None)

    def _rooms_of(self, chosen: Mapping[str, int]) -> list[ResourceInfo]:
        found = (self.work.resource(r) for r in chosen.values())
        return [r for r in found if r is not None and r.kind is ResourceKind.ROOM]

    def place_at(
        self,
        slot: SeriesSlot,
        start: dt.datetime,
        keep: Mapping[str, int],
        after: dt.date | None = None,
    ) -> PlannedSession:
        """A session at exactly ``start`` (a move the desk asked for), or why it cannot be,
        with the nearest feasible starts (after ``after``, the previous session's day)."""
        spec = self.session_types[slot.session_type]
        search = self.search(spec, keep=keep)
        t = seconds(start)
        chosen, reasons = search.at(t)
        if chosen is not None:
            return self._commit(slot, spec, t, chosen)
        day = self.cal.local_date(start)
        minute = self.cal.minute_of_day(start)
        around = [day + _td(k) for k in range(-self.search_days, self.search_days + 1)]
        around = [d for d in around if after is None or d > after]
        around.sort(key=lambda d: abs((d - day).days))
        return PlannedSession(
            index=slot.index,
            session_type=spec.code,
            start=start,
            end=start + dt.timedelta(minutes=spec.total_minutes),
            holds=(),
            problems=(
                f"session {slot.index} cannot move to {_when(self.cal, start)}: "
                + "; ".join(reasons),
            ),
            alternatives=self._nearest(search, around, minute, t),
        )

    def keep_as_booked(self, session: PlannedSession) -> PlannedSession | None:
        """``session`` unchanged when its resources are still free (its holds re-taken)."""
        if not session.placed or not session.holds:
            return None
        spec = self.session_types[session.session_type]
        pinned = {h.need: h.resource_id for h in session.holds}
        chosen, _ = self.search(spec, keep=pinned).at(seconds(session.start), only=pinned)
        if chosen is None:
            return None
        self.work.add(session.holds)
        self._remember(spec, seconds(session.start), pinned)
        self.taken_by_patient(session)
        return session

    def taken_by_patient(self, session: PlannedSession) -> None:
        """The patient is in ``session`` then: later sessions of the series go elsewhere."""
        self.patient_busy.append((seconds(session.start), seconds(session.end)))
        self.series_days.add(self.cal.local_date(session.start))

    def _commit(
        self, slot: SeriesSlot, spec: SessionTypeSpec, t: int, chosen: dict[str, int]
    ) -> PlannedSession:
        start = instant(t)
        holds = session_holds(spec, start, chosen)
        self.work.add(holds)
        self._remember(spec, t, chosen)
        session = PlannedSession(
            index=slot.index,
            session_type=spec.code,
            start=start,
            end=start + dt.timedelta(minutes=spec.total_minutes),
            holds=holds,
        )
        self.taken_by_patient(session)
        return session

    def _remember(self, spec: SessionTypeSpec, t: int, chosen: Mapping[str, int]) -> None:
        self.series_minute.setdefault(spec.code, self.cal.minute_of_day(instant(t)))
        self.keep.setdefault(spec.code, dict(chosen))

    def _unplaced(
        self,
        slot: SeriesSlot,
        spec: SessionTypeSpec,
        search: SessionSearch,
        days: _DayRange,
        minute: int | None,
        skipped: Sequence[tuple[int, dt.date, str]],
    ) -> PlannedSession:
        day = days.scored[0][1] if days.scored else days.first
        if minute is None:
            anchor = search.anchor(day)
            start = instant(anchor) if anchor is not None else self.cal.at_local(day, 0)
            minute = self.cal.minute_of_day(start)
        else:
            start = self.cal.at_local(day, minute)
        why = "; ".join(
            aggregate_reasons((d, text) for _p, d, text in sorted(skipped, key=lambda x: x[1]))
        )
        problem = (
            f"session {slot.index} ({spec.name}): no opening {describe_day(days.first)} - "
            f"{describe_day(days.last)} ({days.rule})"
        )
        if why:
            problem += f": {why}"
        # The nearest feasible starts after the allowed days (earlier ones would break the gap).
        outside = _span(days.last + _td(1), days.last + _td(self.search_days))
        return PlannedSession(
            index=slot.index,
            session_type=spec.code,
            start=start,
            end=start + dt.timedelta(minutes=spec.total_minutes),
            holds=(),
            problems=(problem,),
            alternatives=self._nearest(search, outside, minute, seconds(start)),
        )

    def _nearest(
        self, search: SessionSearch, days: Sequence[dt.date], minute: int | None, around: int
    ) -> tuple[dt.datetime, ...]:
        """Up to ``alternatives`` feasible starts, one per day, days taken in the given order
        (never a day that already has a session of the series)."""
        found: list[int] = []
        for day in days:
            if len(found) >= self.alternatives:
                break
            if day in self.series_days:
                continue
            options = search.day_options(day, self.prefs)
            if isinstance(options, str):
                continue
            target = self.work.local_seconds(day, minute) if minute is not None else None
            best = search.best_on_day(options, target)
            if best is not None and best[1] != around:
                found.append(best[1])
        return tuple(instant(t) for t in sorted(found))


def _spans(intervals: Iterable[Interval]) -> list[tuple[int, int]]:
    return [(seconds(i.start), seconds(i.end)) for i in intervals]


_DAYS = tuple(dt.timedelta(days=n) for n in range(64))


def _td(days: int | dt.timedelta) -> dt.timedelta:
    if isinstance(days, dt.timedelta):
        return days
    return _DAYS[days] if 0 <= days < len(_DAYS) else dt.timedelta(days=days)


def _span(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _clock(calendar: ClinicCalendar, minute_of_day: int) -> str:
    at = dt.time(minute_of_day // 60 % 24, minute_of_day % 60)
    return clock(at, calendar.settings.time_format)


def _when(calendar: ClinicCalendar, start: dt.datetime) -> str:
    return f"{calendar.clock(start)} on {describe_day(calendar.local_date(start))}"


# --------------------------------------------------------------------------------------------
# Entry points


def plan_series(
    protocol: ProtocolSpec,
    start_date: dt.date,
    preferences: Preferences | None,
    availability: Availability,
    session_types: Mapping[str, SessionTypeSpec],
    *,
    weights: PreferenceWeights | None = None,
    search_days: int = DEFAULT_SEARCH_DAYS,
    alternatives: int = DEFAULT_ALTERNATIVES,
    patient_busy: Sequence[Interval] = (),
    patient_doses: Sequence[tuple[dt.date, bool]] = (),
    whole_series: bool = True,
    patient_away: Sequence[AwayRange] = (),
) -> SeriesPlan:
    """Lay out every session of ``protocol`` from ``start_date`` (a local date) on.

    The first session goes on a good day from ``start_date`` (within ``search_days``); each
    later one follows the stage's spacing rules.  The days and the series' time and room are
    chosen for the series as a whole (``planner_search``); ``whole_series=False`` places one
    session after another instead (each on its best day, never going back: the old planner,
    kept as a yardstick).  ``patient_busy``: the patient's other bookings (no session overlaps
    them); ``patient_doses``: (local day, doses) of each of them (a dosing session keeps off a
    day already holding the clinic's limit of doses; a session that doses nothing does not,
    ``dosing_days``); ``patient_away``: the patient's days away (``days_away``: never planned
    on, a day refused for it names the range).  ``availability`` is not changed.
    """
    prefs = preferences or Preferences()
    planner = _Planner(
        protocol,
        prefs,
        availability.fork(),
        session_types,
        weights or PreferenceWeights(),
        search_days,
        alternatives,
    )
    planner.patient_busy.extend(_spans(patient_busy))
    planner.patient_doses.extend(patient_doses)
    planner.away = tuple(patient_away)

    days_for = _days_for(planner, start_date, None)

    slots = series_slots(protocol)
    choices: dict[int, Choice] = {}
    search: SeriesSearch | None = None
    if whole_series:
        search = SeriesSearch(planner, days_for)
        choices = search.run([(s, None) for s in slots], None, {}, {})
    placed: dict[int, PlannedSession] = {}
    prev: tuple[int, dt.date] | None = None
    stage_first: dict[int, dt.date] = {}
    for slot in slots:
        if slot.follows is not None:
            after: PlannedSession | None = placed[slot.follows]
            assert after is not None
        elif prev is None:
            after = None
        else:
            after = placed[prev[0]]
        on = {i: planner.cal.local_date(s.start) for i, s in placed.items()}
        days = days_for(slot, prev, stage_first, on)
        session = _place_chosen(planner, slot, days, after, choices.get(slot.index))
        placed[slot.index] = session
        if slot.follows is None:
            prev = (slot.index, planner.cal.local_date(session.start))
            stage_first.setdefault(slot.stage, prev[1])
    if search is not None and slots:
        _explain_start(planner, search, slots, placed)
    return _finish(protocol, planner, placed, session_types, missed=())


def _explain_start(
    planner: _Planner,
    search: SeriesSearch,
    slots: Sequence[SeriesSlot],
    placed: Mapping[int, PlannedSession],
) -> None:
    """Say why the series starts later than a better-ranked free day (the search chose the
    series as a whole: starting there would put a later session somewhere worse)."""
    first = placed.get(slots[0].index)
    passed = planner.passed_over.get(slots[0].index)
    if first is None or not first.placed or not passed:
        return
    cal = planner.cal
    start = cal.local_date(first.start)
    earlier = passed[0]
    chosen = {s.index: cal.local_date(s.start) for s in placed.values() if s.placed}
    later = search.series_from(slots, earlier)
    why = next(
        (f"leave session {slot.index} without a day" for slot, day, _p in later if day is None),
        None,
    )
    if why is None:
        off = [
            (slot, day)
            for slot, day, _p in later
            if day is not None and planner._weekday_points(day) > 0
        ]
        # A session off the weekdays where the chosen series' own is not, else the first.
        off.sort(
            key=lambda sd: (
                sd[0].index not in chosen or planner._weekday_points(chosen[sd[0].index]) > 0
            )
        )
        if off:
            slot, day = off[0]
            why = f"put session {slot.index} on {describe_day(day)}, off the preferred weekdays"
    if why is None:
        beyond = next(
            (
                slot
                for slot, day, p in later
                if day is not None and p >= planner.weights.beyond_stage_window
            ),
            None,
        )
        if beyond is not None:
            stage = planner.protocol.stages[beyond.stage]
            why = f"put session {beyond.index} beyond the {stage.name} window"
    if why is None:
        why = "fit the later sessions' spacing, time and room less well"
    planner.notes.append(
        f"Starts {describe_day(start)}: starting {describe_day(earlier)} would {why}"
    )


def _days_for(planner: _Planner, first_day: dt.date, not_before: dt.date | None) -> DaysFor:
    """The days each slot may take, as the series search and the placing loop ask them: a
    follow-on after its parent, the first session from ``first_day``, the others by their
    stage's gaps (and doses-per-window cap) after the previous one; none before ``not_before``
    (re-flow)."""

    def days_for(
        slot: SeriesSlot, prev: Prev, stage_first: Mapping[int, dt.date], on: Mapping[int, dt.date]
    ) -> _DayRange:
        if slot.follows is not None:
            return planner.follow_days(slot, on[slot.follows], not_before)
        if prev is None:
            return planner.first_days(first_day, None)
        return planner.main_days(slot, prev, stage_first.get(slot.stage), not_before, on)

    return days_for


def plan_score(
    protocol: ProtocolSpec,
    start_date: dt.date,
    preferences: Preferences | None,
    availability: Availability,
    session_types: Mapping[str, SessionTypeSpec],
    sessions: Sequence[PlannedSession],
    *,
    weights: PreferenceWeights | None = None,
    search_days: int = DEFAULT_SEARCH_DAYS,
) -> int:
    """The planner's score of a series planned from ``start_date`` (lower is better; see
    ``planner_search.series_score``): what ``plan_series`` minimises, for comparing plans."""
    planner = _Planner(
        protocol,
        preferences or Preferences(),
        availability.fork(),
        session_types,
        weights or PreferenceWeights(),
        search_days,
        0,
    )

    days_for = _days_for(planner, start_date, None)

    return series_score(planner, sessions, days_for, series_slots(protocol))


def reflow(
    plan: SeriesPlan,
    change: SeriesChange,
    protocol: ProtocolSpec,
    availability: Availability,
    session_types: Mapping[str, SessionTypeSpec],
    preferences: Preferences | None = None,
    *,
    booked: bool = True,
    weights: PreferenceWeights | None = None,
    search_days: int = DEFAULT_SEARCH_DAYS,
    alternatives: int = DEFAULT_ALTERNATIVES,
    patient_busy: Sequence[Interval] = (),
    patient_away: Sequence[AwayRange] = (),
) -> SeriesPlan:
    """How the rest of a series shifts after one session moved, was missed or was cancelled.

    Sessions before the changed one stay.  Each later session stays as it is when it still
    keeps the protocol's spacing from the one before and its resources are still free; the others
    are placed again by the series search (``planner_search``), the days of all of them weighed
    together, at the series' time and in its room where possible.  ``booked``
    says the plan's holds are in ``availability`` (a booked series): the changed and later
    sessions' holds are then released first, so a session can keep its own slot.  An earlier
    miss still open (in ``plan.missed``, no session in its place) stays a gap: it is not
    planned again here, and the spacing is kept across it.  ``patient_away``: the patient's
    days away, never re-planned onto.  Neither the plan nor the availability is changed.
    """
    if plan.session(change.index) is None:
        raise ValueError(f"the series has no session {change.index}")
    prefs = preferences or Preferences()
    work = availability.fork()
    earlier = [s for s in plan.sessions if s.index < change.index]
    later = [s for s in plan.sessions if s.index >= change.index]
    if booked:
        work.release(h for s in later for h in s.holds)
    else:
        work.add(h for s in earlier for h in s.holds)
    planner = _Planner(
        protocol,
        prefs,
        work,
        session_types,
        weights or PreferenceWeights(),
        search_days,
        alternatives,
    )
    planner.patient_busy.extend(_spans(patient_busy))
    planner.away = tuple(patient_away)
    for s in earlier:
        if s.placed:
            planner.taken_by_patient(s)
    original = {s.index: s for s in plan.sessions}
    changed = original[change.index]
    # Alternatives offered for the changed session avoid the days the series already uses.
    planner.series_days.update(
        planner.cal.local_date(s.start) for s in later if s.index != change.index and s.placed
    )
    # The series keeps the time and rooms of its first sessions (a moved first session sets it).
    for s in sorted(plan.sessions, key=lambda s: s.index):
        if s.placed and not (s.index == change.index and change.kind is ChangeKind.MOVED):
            spec = session_types[s.session_type]
            planner._remember(spec, seconds(s.start), {h.need: h.resource_id for h in s.holds})
    not_before = change.not_before
    missed: list[PlannedSession] = list(plan.missed)
    if change.kind is not ChangeKind.MOVED:
        day = planner.cal.local_date(changed.start)
        not_before = not_before or day + _td(1)
        missed.append(
            dataclasses.replace(
                changed,
                holds=(),
                problems=(f"{change.kind.value} on {describe_day(day)}",),
                alternatives=(),
            )
        )
    first_day = not_before or planner.cal.local_date(changed.start)

    days_for = _days_for(planner, first_day, not_before)

    slots = series_slots(protocol)
    no_make_up = change.kind is not ChangeKind.MOVED and not change.make_up
    # Earlier misses still open (kept in ``plan.missed``, no session in their place): their
    # places stay gaps, not planned again unseen: the desk decides each miss on its own, and a
    # proposal that counted on a session nobody books would keep a spacing the series lacks.
    gaps = {m.index for m in plan.missed} - set(original) - {change.index}
    gaps |= {s.index for s in slots if s.follows in gaps}
    # The sessions the search places: those after the changed one (and a make-up for it), not
    # the ones dropped with it.
    free = [
        (s, original.get(s.index) if s.index != change.index else None)
        for s in slots
        if s.index >= change.index
        and not (change.kind is ChangeKind.MOVED and s.index == change.index)
        and not (no_make_up and change.index in (s.index, s.follows))
        and s.index not in gaps
    ]
    choices: dict[int, Choice] | None = None
    placed: dict[int, PlannedSession] = {}
    dropped: set[int] = set()
    prev: tuple[int, dt.date] | None = None
    stage_first: dict[int, dt.date] = {}
    for slot in slots:
        was = original.get(slot.index)
        if slot.index < change.index:
            session = was
        elif slot.index in gaps:
            continue
        elif slot.follows in dropped or (
            slot.index == change.index
            and change.kind is not ChangeKind.MOVED
            and not change.make_up
        ):
            dropped.add(slot.index)
            continue
        elif slot.index == change.index and change.kind is ChangeKind.MOVED:
            assert change.new_start is not None
            keep = {h.need: h.resource_id for h in changed.holds}
            session = planner.place_at(slot, change.new_start, keep, prev[1] if prev else None)
        else:
            after: PlannedSession | None = None
            if slot.follows is not None:
                after = placed.get(slot.follows)
                if after is None:
                    continue
            elif prev is not None:
                after = placed.get(prev[0])
            on = {i: planner.cal.local_date(s.start) for i, s in placed.items()}
            if choices is None:
                remaining = [(s, w) for s, w in free if s.index >= slot.index]
                choices = SeriesSearch(planner, days_for).run(remaining, prev, stage_first, on)
            days = days_for(slot, prev, stage_first, on)
            choice = choices.get(slot.index)
            session = None
            if (
                choice is not None
                and choice.kept
                and was is not None
                and slot.index != change.index
                and days.first <= planner.cal.local_date(was.start) <= days.last
            ):
                session = planner.keep_as_booked(was)
            if session is None:
                session = _place_chosen(planner, slot, days, after, choice)
        if session is None:
            continue
        placed[slot.index] = session
        if slot.follows is None:
            prev = (slot.index, planner.cal.local_date(session.start))
            stage_first.setdefault(slot.stage, prev[1])
    plan_out = _finish(protocol, planner, placed, session_types, missed=tuple(missed))
    if dropped:
        count = len(series_slots(protocol))
        short = (
            f"session {change.index} {change.kind.value} without a make-up: the series has "
            f"{count - len(dropped)} of {count} sessions"
        )
        plan_out = dataclasses.replace(plan_out, problems=(short, *plan_out.problems))
    return plan_out


def _place_chosen(
    planner: _Planner,
    slot: SeriesSlot,
    days: _DayRange,
    after: PlannedSession | None,
    choice: Choice | None,
) -> PlannedSession:
    """``slot`` on the day the series search chose for it; when that day no longer has a start
    (an earlier session of the series took what it needed), on the best day of its range."""
    if choice is not None and not choice.unplaced and days.first <= choice.day <= days.last:
        found = planner.place(slot, days, after, on=(choice.day, choice.minute, choice.keep))
        if found is not None:
            return found
    found = planner.place(slot, days, after)
    assert found is not None
    return found


def _finish(
    protocol: ProtocolSpec,
    planner: _Planner,
    placed: Mapping[int, PlannedSession],
    session_types: Mapping[str, SessionTypeSpec],
    *,
    missed: tuple[PlannedSession, ...],
) -> SeriesPlan:
    sessions = tuple(placed[i] for i in sorted(placed))
    problems = [p for s in sessions for p in s.problems]
    problems.extend(spacing_problems(protocol, sessions, planner.cal, session_types))
    problems.extend(
        window_cap_problems(
            protocol,
            [
                (s.index, s.session_type, planner.cal.local_date(s.start))
                for s in sessions
                if s.placed
            ],
        )
    )
    return SeriesPlan(
        protocol=protocol.code,
        sessions=sessions,
        problems=tuple(problems),
        notes=tuple(planner.notes),
        missed=missed,
    )
