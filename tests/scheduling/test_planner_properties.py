"""Planner invariants, checked on random clinics by a brute-force referee.

Whatever the clinic's existing bookings, closures and shifts, and whatever the patient prefers,
a placed session never overlaps another exclusive hold on the same resource, never takes a
resource past its capacity, never falls on a holiday or closure or outside opening hours or
shifts, and the protocol's spacing is kept or the plan says which rule it breaks.  The referee
below checks all of this from the holds themselves, without the availability index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval
from ketadesk.scheduling.catalog import WEEKDAYS, HoldMode, ResourceKind
from ketadesk.scheduling.model import ExistingHold, PlannedHold, PlannedSession, session_holds
from ketadesk.scheduling.openings import Preferences
from ketadesk.scheduling.planner import (
    ChangeKind,
    SeriesChange,
    SeriesPlan,
    plan_series,
    reflow,
    series_slots,
)
from tests.scheduling.conftest import DemoClinic, with_shift

# Windows around the awkward days: spring and autumn clock changes, Thanksgiving, Christmas.
STARTS = [dt.date(2025, 3, 3), dt.date(2025, 10, 27), dt.date(2025, 11, 20), dt.date(2025, 12, 18)]
PROTOCOLS = ["iv_induction", "iv_booster", "spravato_trd", "spravato_mdd_si", "kap_program"]
MODES = {
    "room": [HoldMode.EXCLUSIVE],
    "equipment": [HoldMode.EXCLUSIVE],
    "nurse": [HoldMode.SHARED, HoldMode.EXCLUSIVE],
    "prescriber": [HoldMode.PRESENCE, HoldMode.EXCLUSIVE],
    "therapist": [HoldMode.EXCLUSIVE],
    "front_desk": [HoldMode.EXCLUSIVE],
}
NAMES = [
    "Room 1",
    "Room 2",
    "Room 3",
    "Office",
    "Monitor 1",
    "Monitor 2",
    "Monitor 3",
    "Oximeter 1",
    "Oximeter 2",
    "Nurse Ana",
    "Nurse Ben",
    "Dr Chen",
    "Tess Rivera",
]


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def busy_clinics(
    draw: st.DrawFn, clinic: DemoClinic
) -> tuple[dt.date, list[ExistingHold], list[ClosureSpan], str]:
    start = draw(st.sampled_from(STARTS))
    holds = []
    for _ in range(draw(st.integers(0, 60))):
        name = draw(st.sampled_from(NAMES))
        res = next(r for r in clinic.resources if r.name == name)
        key = res.subkind if res.kind is ResourceKind.STAFF else res.kind.value
        mode = draw(st.sampled_from(MODES[key]))
        day = start + dt.timedelta(days=draw(st.integers(0, 24)))
        begin = draw(st.integers(7 * 12, 17 * 12)) * 5
        length = draw(st.integers(2, 36)) * 5
        holds.append(clinic.hold(name, day, _hhmm(begin), _hhmm(min(begin + length, 1439)), mode))
    closures = []
    for _ in range(draw(st.integers(0, 3))):
        day = start + dt.timedelta(days=draw(st.integers(0, 24)))
        begin = draw(st.integers(7, 16))
        end = draw(st.integers(begin + 1, 23))
        who = draw(st.sampled_from([None, *NAMES]))
        closures.append(clinic.closure(day, f"{begin:02d}:00", f"{end:02d}:00", "closed", who))
    nurse_leaves = draw(st.sampled_from(["18:00", "15:00", "12:30"]))
    return start, holds, closures, nurse_leaves


preferences = st.builds(
    Preferences,
    weekdays=st.sampled_from([(), ("mon", "wed", "fri"), ("tue", "thu"), ("mon",)]),
    preferred_start=st.sampled_from([None, dt.time(8, 0), dt.time(10, 0), dt.time(14, 35)]),
    preferred_room=st.sampled_from([None, 1, 2, 3]),
)


def referee(
    clinic: DemoClinic,
    calendar: ClinicCalendar,
    existing: Sequence[ExistingHold],
    plan: SeriesPlan,
    protocol_code: str,
    pinned: int | None = None,
) -> None:
    """Fails when the plan breaks a rule, judged from the holds alone.  ``pinned``: a session
    the desk moved to a time of its choosing, which need not lie on the slot grid."""
    resources = {r.id: r for r in clinic.resources}
    types = clinic.catalog.session_types
    placed = [s for s in plan.sessions if s.placed]
    everyone: list[tuple[object, ExistingHold | PlannedHold]] = [("existing", h) for h in existing]
    everyone += [(s.index, h) for s in placed for h in s.holds]
    for s in plan.sessions:
        if not s.placed:
            assert s.holds == ()
            assert s.problems
            assert all(p in plan.problems for p in s.problems)
    for s in placed:
        spec = types[s.session_type]
        assignment = {h.need: h.resource_id for h in s.holds}
        assert s.holds == session_holds(spec, s.start, assignment)
        for need in spec.needs:
            if need.key in assignment:
                res = resources[assignment[need.key]]
                assert (res.kind, res.subkind) == (need.kind, need.subkind)
            else:
                assert need.optional
        local = calendar.local(s.start)
        hours = clinic.settings.hours[WEEKDAYS[local.weekday()]]
        assert hours is not None
        since_opening = local.hour * 60 + local.minute - (hours[0].hour * 60 + hours[0].minute)
        assert s.index == pinned or since_opening % clinic.settings.slot_minutes == 0
        assert calendar.unavailable_reason(None, _span(s)) is None
        for h in s.holds:
            res = resources[h.resource_id]
            assert calendar.unavailable_reason(h.resource_id, h.span, is_staff=res.is_staff) is None
            mine = [o for _, o in everyone if o.resource_id == h.resource_id]
            if h.exclusive:
                clashes = [
                    o for o in mine if o is not h and o.exclusive and o.span.overlaps(h.span)
                ]
                assert clashes == [], (s.index, res.name)
            if h.units:
                moments = {h.span.start} | {
                    o.span.start for o in mine if h.span.start <= o.span.start < h.span.end
                }
                for moment in moments:
                    load = sum(o.units for o in mine if o.span.start <= moment < o.span.end)
                    assert load <= res.capacity, (s.index, res.name, moment)
    for a in placed:  # one patient, one session at a time
        for b in placed:
            assert a is b or not _span(a).overlaps(_span(b))
    _referee_spacing(clinic, calendar, plan, protocol_code)


def _span(s: PlannedSession) -> Interval:
    return Interval(s.start, s.end)


def _referee_spacing(
    clinic: DemoClinic, calendar: ClinicCalendar, plan: SeriesPlan, protocol_code: str
) -> None:
    protocol = clinic.protocol(protocol_code)
    by_index = {s.index: s for s in plan.sessions}
    prev: PlannedSession | None = None
    for slot in series_slots(protocol):
        s = by_index.get(slot.index)
        if s is None:
            continue
        stage = protocol.stages[slot.stage]
        day = calendar.local_date(s.start)
        if slot.follows is None:
            if prev is not None:
                gap = (day - calendar.local_date(prev.start)).days
                if not stage.min_gap_days <= gap <= stage.max_gap_days:
                    wanted = f"sessions {prev.index} and {s.index} are"
                    assert any(p.startswith(wanted) for p in plan.problems), (wanted, plan.problems)
            prev = s
        else:
            follow = stage.followed_by
            parent = by_index.get(slot.follows)
            assert follow is not None
            if parent is not None:
                gap = (day - calendar.local_date(parent.start)).days
                if not follow.min_days <= gap <= follow.max_days:
                    wanted = f"after session {parent.index}"
                    assert any(wanted in p for p in plan.problems), (wanted, plan.problems)
    for stage_no, stage in enumerate(protocol.stages):
        if stage.window_days is None:
            continue
        mains = [
            by_index[slot.index]
            for slot in series_slots(protocol)
            if slot.stage == stage_no and slot.follows is None and slot.index in by_index
        ]
        if len(mains) >= 2:
            span = (calendar.local_date(mains[-1].start) - calendar.local_date(mains[0].start)).days
            if span + 1 > stage.window_days:
                assert any(p.startswith(f"{stage.name}: sessions") for p in plan.problems)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), prefs=preferences, protocol=st.sampled_from(PROTOCOLS))
def test_planned_series_keep_every_clinic_rule(
    clinic: DemoClinic, data: st.DataObject, prefs: Preferences, protocol: str
) -> None:
    start, holds, closures, nurse_leaves = data.draw(busy_clinics(clinic))
    shifts = with_shift(clinic, "Nurse Ben", "07:30", nurse_leaves)
    avail = clinic.availability(holds, closures, shifts=shifts)
    calendar = clinic.calendar(closures, shifts=shifts)
    plan = plan_series(clinic.protocol(protocol), start, prefs, avail, clinic.catalog.session_types)
    assert len(plan.sessions) == clinic.protocol(protocol).session_count
    assert [s.index for s in plan.sessions] == list(range(1, len(plan.sessions) + 1))
    referee(clinic, calendar, holds, plan, protocol)
    # Planning again on the same availability gives the same plan: the input was not touched.
    again = plan_series(
        clinic.protocol(protocol), start, prefs, avail, clinic.catalog.session_types
    )
    assert again == plan


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    protocol=st.sampled_from(["iv_induction", "spravato_trd", "kap_program"]),
    kind=st.sampled_from(list(ChangeKind)),
    make_up=st.booleans(),
)
def test_reflowed_series_keep_every_clinic_rule(
    clinic: DemoClinic, data: st.DataObject, protocol: str, kind: ChangeKind, make_up: bool
) -> None:
    start, holds, closures, nurse_leaves = data.draw(busy_clinics(clinic))
    shifts = with_shift(clinic, "Nurse Ben", "07:30", nurse_leaves)
    avail = clinic.availability(holds, closures, shifts=shifts)
    calendar = clinic.calendar(closures, shifts=shifts)
    spec = clinic.protocol(protocol)
    types = clinic.catalog.session_types
    plan = plan_series(spec, start, Preferences(preferred_start=dt.time(10, 0)), avail, types)
    index = data.draw(st.integers(1, len(plan.sessions)))
    new_start = None
    if kind is ChangeKind.MOVED:
        old = plan.sessions[index - 1]
        shift_days = data.draw(st.integers(-2, 6))
        minute = data.draw(st.integers(7 * 12, 16 * 12)) * 5
        day = calendar.local_date(old.start) + dt.timedelta(days=shift_days)
        new_start = calendar.at_local(day, minute)
    change = SeriesChange(index, kind, new_start=new_start, make_up=make_up)
    after = reflow(plan, change, spec, avail, types, booked=False)
    earlier = [s for s in after.sessions if s.index < index]
    assert earlier == [s for s in plan.sessions if s.index < index]
    if kind is ChangeKind.MOVED:
        assert after.missed == plan.missed
        moved = after.session(index)
        assert moved is not None
        assert moved.start == new_start
    else:
        assert [m.index for m in after.missed] == [index]
    pinned = index if kind is ChangeKind.MOVED else None
    referee(clinic, calendar, holds, after, protocol, pinned)
