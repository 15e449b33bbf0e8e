"""The exact series planner: the yardstick for the planner's series search (benchmarks only).

An OR-Tools CP-SAT model over the same feasible places the planner may use, minimising the
planner's own score (``planner_search.series_score``) with its default weights: the first
session's days after the requested start, each gap's days off the stage's target, days off the
preferred weekdays, the stage window's penalty, minutes off the series time (the preferred start,
or the first session's) and a room other than the series' room (the preferred room, or the first
session's).  A stage's doses-per-window cap (``window_cap``) is a hard rule, as the planner
keeps it.  OR-Tools is in the ``bench`` extra, never a runtime dependency.

Places are (day, start, room): every start on the slot grid of a day the session type can use,
in every treatment room, with the other needs served by the first free resource; each is checked
with ``Availability.refusals`` before it goes into the model.  A series' sessions never share a
day (every gap is at least a day), so the model chooses at most one place per day (``z``), which
session takes each day (``y``), and links them: the per-day cost of a place does not depend on
which session sits there, which keeps the model small and its relaxation tight.  Days that no
solution better than a known one (the hint) could use are left out: a session ``k`` days away
from its ideal date (the start plus the target gaps) costs at least ``k`` day points.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from ketadesk.scheduling.availability import Availability, instant
from ketadesk.scheduling.catalog import WEEKDAYS, ProtocolSpec, ResourceKind, SessionTypeSpec
from ketadesk.scheduling.model import PlannedSession, session_holds
from ketadesk.scheduling.openings import Preferences, PreferenceWeights, SessionSearch
from ketadesk.scheduling.planner import DEFAULT_SEARCH_DAYS, series_slots


@dataclass(frozen=True)
class Place:
    day: int  # days after the requested start
    t: int  # epoch seconds
    minute: int  # local minute of day
    room: int
    assignment: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ExactResult:
    sessions: tuple[PlannedSession, ...]
    objective: int
    bound: float
    optimal: bool
    seconds: float
    places: int
    build_seconds: float


def feasible_places(
    availability: Availability,
    spec: SessionTypeSpec,
    prefs: Preferences,
    weights: PreferenceWeights,
    start: dt.date,
    days: Sequence[int],
) -> dict[int, list[Place]]:
    """Every (start, room) of each day, checked with ``Availability.refusals``."""
    search = SessionSearch(availability, spec, weights=weights, keep={})
    room_need = next(n for n in spec.needs if n.kind is ResourceKind.ROOM)
    rooms = [r.id for r in availability.candidates_for(spec, room_need)]
    cal = availability.calendar
    out: dict[int, list[Place]] = {}
    for k in days:
        day = start + dt.timedelta(days=k)
        options = search.day_options(day, prefs)
        if isinstance(options, str):
            continue
        places: list[Place] = []
        for t in search.grid(options):
            others: dict[str, int] = {}
            for need in spec.needs:
                if need.key == room_need.key:
                    continue
                rid = options.first_serving(need.key, t)
                if rid is not None:
                    others[need.key] = rid
            begin = instant(t)
            minute = cal.minute_of_day(begin)
            for room in rooms:
                assignment = {room_need.key: room, **others}
                if availability.refusals(session_holds(spec, begin, assignment)):
                    continue
                places.append(Place(k, t, minute, room, tuple(sorted(assignment.items()))))
        if places:
            out[k] = places
    return out


def exact_plan(
    protocol: ProtocolSpec,
    start: dt.date,
    prefs: Preferences,
    availability: Availability,
    session_types: Mapping[str, SessionTypeSpec],
    *,
    upper_bound: int,
    hint: Sequence[PlannedSession] = (),
    weights: PreferenceWeights | None = None,
    time_limit: float = 20.0,
    workers: int = 2,
) -> ExactResult:
    """The series minimising the planner's score (protocols of one session type, no follow-ons).

    ``upper_bound``: the score of a known series (the search's); days that could only be used at
    a higher score are left out.  ``hint``: that series, as a starting solution.
    """
    w = weights or PreferenceWeights()
    slots = series_slots(protocol)
    assert all(s.follows is None for s in slots), "follow-on sessions are not modelled"
    codes = {s.session_type for s in slots}
    assert len(codes) == 1, "one session type per protocol"
    spec = session_types[codes.pop()]
    built = time.perf_counter()
    per_day = w.per_day_from_target_gap
    reach = upper_bound // per_day  # no session further than this from its ideal day
    ideal: list[int] = []
    for n, slot in enumerate(slots):
        stage = protocol.stages[slot.stage]
        ideal.append(0 if n == 0 else ideal[-1] + stage.target_gap_days)
    lo = [max(0, d - reach) for d in ideal]
    hi = [d + reach for d in ideal]
    hi[0] = min(hi[0], DEFAULT_SEARCH_DAYS)
    # The gaps bound each session's days too.
    for n in range(1, len(slots)):
        stage = protocol.stages[slots[n].stage]
        lo[n] = max(lo[n], lo[n - 1] + stage.min_gap_days)
        hi[n] = min(hi[n], hi[n - 1] + stage.max_gap_days)
    for n in range(len(slots) - 2, -1, -1):
        stage = protocol.stages[slots[n + 1].stage]
        hi[n] = min(hi[n], hi[n + 1] - stage.min_gap_days)
        lo[n] = max(lo[n], lo[n + 1] - stage.max_gap_days)
    all_days = sorted({k for n in range(len(slots)) for k in range(lo[n], hi[n] + 1)})
    places = feasible_places(availability, spec, prefs, w, start, all_days)
    nplaces = sum(len(ps) for ps in places.values())
    weekdays = set(prefs.weekdays or protocol.default_weekdays)

    def weekday_points(k: int) -> int:
        day = start + dt.timedelta(days=k)
        return w.off_weekday if weekdays and WEEKDAYS[day.weekday()] not in weekdays else 0

    # The places as runs: in each room, the longest stretches of consecutive grid starts that
    # are all places (a run is one choice; its start is a variable within it).
    step = availability.calendar.settings.slot_minutes
    runs: dict[int, list[tuple[int, int, int]]] = {}  # day -> (room, first minute, last minute)
    place_at: dict[tuple[int, int, int], Place] = {}
    for k, ps in places.items():
        by_room: dict[int, list[int]] = {}
        for p in ps:
            by_room.setdefault(p.room, []).append(p.minute)
            place_at[k, p.minute, p.room] = p
        out: list[tuple[int, int, int]] = []
        for room, mins in sorted(by_room.items()):
            mins.sort()
            run_first = prev = mins[0]
            for mm in mins[1:]:
                if mm != prev + step:
                    out.append((room, run_first, prev))
                    run_first = mm
                prev = mm
            out.append((room, run_first, prev))
        runs[k] = out
    all_minutes = [mm for rs in runs.values() for _, a, b in rs for mm in (a, b)]
    lo_min, hi_min = (min(all_minutes), max(all_minutes)) if all_minutes else (0, 0)
    pref_minute = (
        prefs.preferred_start.hour * 60 + prefs.preferred_start.minute
        if prefs.preferred_start is not None
        else None
    )
    if pref_minute is not None:
        lo_min, hi_min = min(lo_min, pref_minute), max(hi_min, pref_minute)

    m = cp_model.CpModel()
    y: dict[tuple[int, int], cp_model.IntVar] = {}
    for n in range(len(slots)):
        for k in range(lo[n], hi[n] + 1):
            if k in places:
                y[n, k] = m.new_bool_var(f"y{n}_{k}")
        m.add_exactly_one(v for (nn, _), v in y.items() if nn == n)
    objective: list[cp_model.LinearExprT] = []
    room_need = next(n for n in spec.needs if n.kind is ResourceKind.ROOM)
    room_ids = [r.id for r in availability.candidates_for(spec, room_need)]
    fixed_room = prefs.preferred_room if prefs.preferred_room in room_ids else None
    rooms = sorted({room for rs in runs.values() for room, _, _ in rs})
    series_room = {r: m.new_bool_var(f"room{r}") for r in rooms} if fixed_room is None else {}
    if series_room:
        m.add_exactly_one(series_room.values())
    first_minutes = sorted(
        {
            mm
            for k, rs in runs.items()
            if (0, k) in y
            for _, a, b in rs
            for mm in range(a, b + 1, step)
        }
    )
    series_minute = (
        m.new_constant(pref_minute)
        if pref_minute is not None
        else m.new_int_var_from_domain(cp_model.Domain.from_values(first_minutes), "series_minute")
    )
    u: dict[tuple[int, int], cp_model.IntVar] = {}
    minute_of: dict[int, cp_model.IntVar] = {}
    span = hi_min - lo_min
    for k, rs in runs.items():
        takers = [v for (_, kk), v in y.items() if kk == k]
        if not takers:
            continue
        on = m.new_bool_var(f"on{k}")
        m.add(sum(takers) == on)
        choice = [m.new_bool_var(f"u{k}_{j}") for j in range(len(rs))]
        for j, v in enumerate(choice):
            u[k, j] = v
        m.add(sum(choice) == on)
        objective.append(weekday_points(k) * on)
        steps = m.new_int_var(lo_min // step, hi_min // step, f"q{k}")
        minute = m.new_int_var(lo_min, hi_min, f"t{k}")
        m.add(minute == step * steps)
        minute_of[k] = minute
        for v, (_room, a, b) in zip(choice, rs, strict=True):
            m.add(minute >= a).only_enforce_if(v)
            m.add(minute <= b).only_enforce_if(v)
        dev = m.new_int_var(0, span, f"dev{k}")
        m.add(dev >= minute - series_minute).only_enforce_if(on)
        m.add(dev >= series_minute - minute).only_enforce_if(on)
        objective.append(w.per_minute_from_preferred_start * dev)
        first = y.get((0, k))
        if first is not None and pref_minute is None:
            m.add(series_minute == minute).only_enforce_if(first)
        changed = m.new_bool_var(f"changed{k}")
        if fixed_room is not None:
            in_room = sum(
                v for v, (room, _, _) in zip(choice, rs, strict=True) if room == fixed_room
            )
            m.add(changed >= on - in_room)
        else:
            for r, chosen in series_room.items():
                in_room = sum(v for v, (room, _, _) in zip(choice, rs, strict=True) if room == r)
                m.add(changed >= chosen + on - 1 - in_room)
                if first is not None:
                    m.add(chosen == in_room).only_enforce_if(first)
        objective.append(w.other_room * changed)
    # The days: session 1's distance from the start, every gap's distance from its target,
    # the stage window.
    day_of = [sum(k * v for (nn, k), v in y.items() if nn == n) for n in range(len(slots))]
    objective.append(per_day * day_of[0])
    stage_first: dict[int, int] = {}
    for n, slot in enumerate(slots):
        stage = protocol.stages[slot.stage]
        if slot.stage not in stage_first:
            stage_first[slot.stage] = n
        elif stage.window_days is not None:
            remaining = stage.count - slot.position - 1
            late = m.new_bool_var(f"late{n}")
            m.add(
                day_of[n] - day_of[stage_first[slot.stage]] + 1 + remaining * stage.min_gap_days
                <= stage.window_days
            ).only_enforce_if(~late)
            objective.append(w.beyond_stage_window * late)
        if n == 0:
            continue
        gap = day_of[n] - day_of[n - 1]
        m.add(gap >= stage.min_gap_days)
        m.add(gap <= stage.max_gap_days)
        # The stage's doses-per-window cap (the planner leaves out the days that would break
        # it, ``_Planner._capped_days``): one session type, in order, so the session
        # ``cap.sessions`` before this one must be ``cap.days`` or more days earlier.
        cap = stage.window_cap
        if cap is not None and n >= cap.sessions:
            m.add(day_of[n] - day_of[n - cap.sessions] >= cap.days)
        off = m.new_int_var(0, stage.max_gap_days, f"off{n}")
        m.add_abs_equality(off, gap - stage.target_gap_days)
        objective.append(per_day * off)
    m.minimize(sum(objective))
    # The hint: the search's series, where its places are among the model's.
    cal = availability.calendar
    for n, s in enumerate(sorted(hint, key=lambda s: s.index)):
        k = (cal.local_date(s.start) - start).days
        hint_room = next((h.resource_id for h in s.holds if h.need == room_need.key), None)
        at = cal.minute_of_day(s.start)
        if (n, k) not in y or k not in runs:
            continue
        m.add_hint(y[n, k], 1)
        for j, (r, a, b) in enumerate(runs[k]):
            if r == hint_room and a <= at <= b:
                m.add_hint(u[k, j], 1)
                m.add_hint(minute_of[k], at)
    build_seconds = time.perf_counter() - built
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = 1
    t0 = time.perf_counter()
    status = solver.solve(m)
    seconds = time.perf_counter() - t0
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactResult(
            (), -1, solver.best_objective_bound, False, seconds, nplaces, build_seconds
        )
    sessions: list[PlannedSession] = []
    for n, slot in enumerate(slots):
        k = next(kk for (nn, kk), v in y.items() if nn == n and solver.value(v))
        j = next(j for j in range(len(runs[k])) if solver.value(u[k, j]))
        p = place_at[k, solver.value(minute_of[k]), runs[k][j][0]]
        begin = instant(p.t)
        sessions.append(
            PlannedSession(
                index=slot.index,
                session_type=spec.code,
                start=begin,
                end=begin + dt.timedelta(minutes=spec.total_minutes),
                holds=session_holds(spec, begin, dict(p.assignment)),
            )
        )
    return ExactResult(
        tuple(sessions),
        round(solver.objective_value),
        solver.best_objective_bound,
        status == cp_model.OPTIMAL,
        seconds,
        nplaces,
        build_seconds,
    )
