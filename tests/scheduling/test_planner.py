"""Series planning: a whole protocol booked in one go, the way the front desk would do it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

from ketadesk.scheduling.availability import Availability, describe_day
from ketadesk.scheduling.calendar import ClosureSpan
from ketadesk.scheduling.catalog import ProtocolSpec, ProtocolStage
from ketadesk.scheduling.model import PlannedSession
from ketadesk.scheduling.openings import Preferences
from ketadesk.scheduling.planner import SeriesPlan, plan_series, series_slots, spacing_problems
from tests.scheduling.conftest import DemoClinic

MON = dt.date(2025, 3, 3)
TUE_BEFORE_THANKSGIVING = dt.date(2025, 11, 25)
THANKSGIVING = dt.date(2025, 11, 27)
MON_BEFORE_FALL_BACK = dt.date(2025, 10, 27)  # clocks go back on Sun 2 Nov 2025
TEN = Preferences(preferred_start=dt.time(10, 0))


def plan(
    clinic: DemoClinic,
    protocol: str | ProtocolSpec,
    start: dt.date = MON,
    prefs: Preferences | None = TEN,
    **kwargs: object,
) -> SeriesPlan:
    spec = clinic.protocol(protocol) if isinstance(protocol, str) else protocol
    avail = kwargs.pop("availability", None) or clinic.availability()
    return plan_series(spec, start, prefs, avail, clinic.catalog.session_types, **kwargs)  # type: ignore[arg-type]


def days(clinic: DemoClinic, sessions: tuple[PlannedSession, ...]) -> list[dt.date]:
    return [clinic.local(s.start).date() for s in sessions]


def weekdays(clinic: DemoClinic, sessions: tuple[PlannedSession, ...]) -> list[str]:
    return [clinic.local(s.start).strftime("%a") for s in sessions]


def test_induction_series_is_six_infusions_on_mon_wed_fri(clinic: DemoClinic) -> None:
    protocol = clinic.protocol("iv_induction")
    result = plan(clinic, protocol, prefs=None)
    assert result.complete, result.problems
    assert [s.index for s in result.sessions] == [1, 2, 3, 4, 5, 6]
    assert len(result.sessions) == protocol.stages[0].count
    assert weekdays(clinic, result.sessions) == ["Mon", "Wed", "Fri"] * 2
    # With no preferred time the first start of the day is taken, and kept.
    opens = clinic.settings.hours["mon"]
    assert opens is not None
    assert {clinic.local(s.start).time() for s in result.sessions} == {opens[0]}
    assert len({s.resource_for("room") for s in result.sessions}) == 1


def test_induction_series_skips_thanksgiving(clinic: DemoClinic) -> None:
    prefs = Preferences(weekdays=("tue", "thu"), preferred_start=dt.time(10, 0))
    result = plan(clinic, "iv_induction", TUE_BEFORE_THANKSGIVING, prefs)
    assert result.complete, result.problems
    assert THANKSGIVING not in days(clinic, result.sessions)
    assert any("Thanksgiving" in note for note in result.notes)
    assert all(clinic.local(s.start).strftime("%H:%M") == "10:00" for s in result.sessions)


def test_series_keeps_ten_oclock_across_daylight_saving(clinic: DemoClinic) -> None:
    result = plan(clinic, "iv_induction", MON_BEFORE_FALL_BACK)
    assert result.complete, result.problems
    assert {clinic.local(s.start).strftime("%H:%M") for s in result.sessions} == {"10:00"}
    # The same wall-clock time is two different UTC hours either side of the change.
    assert {s.start.hour for s in result.sessions} == {17, 18}


def test_series_keeps_ten_oclock_across_the_spring_change(clinic: DemoClinic) -> None:
    result = plan(clinic, "spravato_trd", MON)
    assert result.complete, result.problems
    assert {clinic.local(s.start).strftime("%H:%M") for s in result.sessions} == {"10:00"}


def test_series_stays_in_the_preferred_room(clinic: DemoClinic) -> None:
    room = clinic.id("Room 2")
    prefs = Preferences(preferred_room=room, preferred_start=dt.time(10, 0))
    result = plan(clinic, "iv_induction", prefs=prefs)
    assert {s.resource_for("room") for s in result.sessions} == {room}


def test_busy_room_on_one_day_moves_the_series_to_a_room_free_every_day(
    clinic: DemoClinic,
) -> None:
    # The series is searched as a whole: rather than change rooms on Wednesday, all six
    # infusions take a room that is free on every one of their days.
    wednesday = MON + dt.timedelta(days=2)
    avail = clinic.availability([clinic.hold("Room 1", wednesday, "09:00", "12:00")])
    result = plan(clinic, "iv_induction", availability=avail)
    assert result.complete
    rooms = {s.resource_for("room") for s in result.sessions}
    assert len(rooms) == 1
    assert clinic.id("Room 1") not in rooms
    assert {clinic.local(s.start).strftime("%H:%M") for s in result.sessions} == {"10:00"}


def test_busy_preferred_room_on_one_day_changes_that_session_only(clinic: DemoClinic) -> None:
    wednesday = MON + dt.timedelta(days=2)
    avail = clinic.availability([clinic.hold("Room 1", wednesday, "09:00", "12:00")])
    prefs = Preferences(preferred_room=clinic.id("Room 1"), preferred_start=dt.time(10, 0))
    result = plan(clinic, "iv_induction", prefs=prefs, availability=avail)
    assert result.complete
    rooms = [s.resource_for("room") for s in result.sessions]
    assert rooms[1] != clinic.id("Room 1")
    assert rooms[:1] + rooms[2:] == [clinic.id("Room 1")] * 5
    assert any("Room 1 not free" in note for note in result.notes), result.notes
    assert {clinic.local(s.start).strftime("%H:%M") for s in result.sessions} == {"10:00"}


def test_planning_never_changes_its_inputs(clinic: DemoClinic) -> None:
    avail = clinic.availability()
    first = plan(clinic, "iv_induction", availability=avail)
    second = plan(clinic, "iv_induction", availability=avail)
    assert first == second  # the first plan's holds were not left behind
    assert all(avail.can_take(h) for h in first.holds)


def test_sessions_on_one_day_see_each_others_holds(clinic: DemoClinic) -> None:
    twice = ProtocolSpec(
        code="twice_a_day",
        name="Two infusions the same day",
        stages=(ProtocolStage("Same day", "iv_infusion", 2, 0, 0, 0),),
    )
    result = plan(clinic, twice)
    assert result.complete, result.problems
    first, second = result.sessions
    assert days(clinic, result.sessions) == [MON, MON]
    assert second.start >= first.end  # one patient, one session at a time
    for a in first.holds:
        for b in second.holds:
            if a.resource_id == b.resource_id and a.exclusive and b.exclusive:
                assert not a.span.overlaps(b.span)


def test_second_patient_gets_another_room_at_ten(clinic: DemoClinic) -> None:
    avail = clinic.availability()
    first = plan(clinic, "iv_induction", availability=avail)
    booked = avail.fork()
    booked.add(first.holds)
    second = plan(clinic, "iv_induction", availability=booked)
    assert second.complete
    assert [s.start for s in second.sessions] == [s.start for s in first.sessions]
    assert {s.resource_for("room") for s in second.sessions}.isdisjoint(
        {s.resource_for("room") for s in first.sessions}
    )
    assert {s.resource_for("nurse") for s in second.sessions}.isdisjoint(
        {s.resource_for("nurse") for s in first.sessions}
    )


def test_spravato_induction_and_optimization_has_twelve_sessions(clinic: DemoClinic) -> None:
    protocol = clinic.protocol("spravato_trd")
    result = plan(clinic, protocol)
    assert result.complete, result.problems
    induction, optimization = protocol.stages
    assert len(result.sessions) == induction.count + optimization.count == 12
    dates = days(clinic, result.sessions)
    gaps = [(b - a).days for a, b in itertools.pairwise(dates)]
    first_stage = gaps[: induction.count - 1]
    second_stage = gaps[induction.count - 1 :]
    assert all(induction.min_gap_days <= g <= induction.max_gap_days for g in first_stage)
    assert all(optimization.min_gap_days <= g <= optimization.max_gap_days for g in second_stage)
    assert weekdays(clinic, result.sessions[: induction.count]) == ["Mon", "Thu"] * 4
    assert (dates[induction.count - 1] - dates[0]).days + 1 <= (induction.window_days or 0)


def test_spravato_needs_prescriber_on_shift_for_every_session(clinic: DemoClinic) -> None:
    result = plan(clinic, "spravato_trd")
    prescriber = clinic.id("Dr Chen")
    assert all(s.resource_for("prescriber") == prescriber for s in result.sessions)


def test_kap_dosing_is_followed_by_integration_within_three_days(clinic: DemoClinic) -> None:
    protocol = clinic.protocol("kap_program")
    result = plan(clinic, protocol)
    assert result.complete, result.problems
    assert len(result.sessions) == protocol.session_count
    types = [s.session_type for s in result.sessions]
    assert types == ["integration", "integration"] + ["kap", "integration"] * 3
    follow = protocol.stages[1].followed_by
    assert follow is not None
    for dose, after in zip(result.sessions[2::2], result.sessions[3::2], strict=True):
        gap = (clinic.local(after.start).date() - clinic.local(dose.start).date()).days
        assert follow.min_days <= gap <= follow.max_days
    # The same therapist sees the patient through the program.
    assert len({s.resource_for("therapist") for s in result.sessions}) == 1


def _renovation(clinic: DemoClinic) -> list[ClosureSpan]:
    return [
        clinic.closure(MON + dt.timedelta(days=d), "00:00", "23:59", "renovation", f"Room {i}")
        for d in range(1, 8)
        for i in (1, 2, 3)
    ]


def test_room_renovation_moves_the_series_past_it(clinic: DemoClinic) -> None:
    # Searched as a whole, the series starts after the renovation rather than break in it;
    # the notes say why the first days were not taken.
    avail = clinic.availability(closures=_renovation(clinic))
    result = plan(clinic, "iv_induction", availability=avail)
    assert result.complete, result.problems
    assert all(d > MON + dt.timedelta(days=7) for d in days(clinic, result.sessions))
    assert any("every treatment room closed: renovation" in note for note in result.notes)


def test_room_renovation_leaves_a_session_unplaced_when_the_start_is_fixed(
    clinic: DemoClinic,
) -> None:
    avail = clinic.availability(closures=_renovation(clinic))
    result = plan(clinic, "iv_induction", availability=avail, search_days=0)
    assert not result.complete
    assert days(clinic, result.sessions)[0] == MON
    second = result.sessions[1]
    assert not second.placed
    assert second.holds == ()
    assert "every treatment room closed: renovation" in second.problems[0]
    assert second.problems[0] in result.problems
    assert result.sessions[3].placed  # the series carries on after the renovation


def test_therapist_on_leave_is_reported_by_name(clinic: DemoClinic) -> None:
    leave = [
        clinic.closure(
            MON + dt.timedelta(days=d), "00:00", "23:59", "parental leave", "Tess Rivera"
        )
        for d in range(40)
    ]
    result = plan(clinic, "kap_program", availability=clinic.availability(closures=leave))
    assert not result.complete
    assert "Tess Rivera away: parental leave" in result.sessions[0].problems[0]


def test_stage_window_that_cannot_be_kept_is_reported(clinic: DemoClinic) -> None:
    squeezed = ProtocolSpec(
        code="squeezed",
        name="Three infusions in two days",
        stages=(ProtocolStage("Squeezed", "iv_infusion", 3, 1, 1, 1, window_days=2),),
    )
    result = plan(clinic, squeezed)
    assert all(s.placed for s in result.sessions)
    assert result.problems == ("Squeezed: sessions 1-3 span 3 days; the protocol allows 2",)


def test_spacing_problems_name_the_sessions_and_the_rule(clinic: DemoClinic) -> None:
    protocol = clinic.protocol("iv_induction")
    result = plan(clinic, protocol)
    sessions = list(result.sessions)
    late = sessions[2]
    moved = PlannedSession(
        late.index,
        late.session_type,
        late.start + dt.timedelta(days=6),
        late.end + dt.timedelta(days=6),
        late.holds,
    )
    sessions[2] = moved
    problems = spacing_problems(protocol, sessions, clinic.calendar())
    stage = protocol.stages[0]
    assert (
        f"sessions 2 and 3 are 8 days apart; {stage.name} asks for "
        f"{stage.min_gap_days}-{stage.max_gap_days}"
    ) in problems
    assert any(p.startswith("sessions 3 and 4 are -") for p in problems)


def test_series_slots_put_each_integration_after_its_dose(clinic: DemoClinic) -> None:
    slots = series_slots(clinic.protocol("kap_program"))
    assert [(s.index, s.session_type, s.follows) for s in slots[2:4]] == [
        (3, "kap", None),
        (4, "integration", 3),
    ]


def test_patient_busy_elsewhere_is_respected(clinic: DemoClinic) -> None:
    dentist = clinic.span(MON, "09:00", "12:00")
    result = plan(clinic, "iv_booster", prefs=None, patient_busy=[dentist])
    (only,) = result.sessions
    assert only.placed
    assert only.start == dentist.end  # the first start on Monday that does not overlap


def test_a_session_off_the_time_asked_for_says_why(clinic: DemoClinic) -> None:
    """Issue 15: the planner moved a requested 10:00 to another time or day without a word."""
    busy = [clinic.hold(f"Room {i}", MON, "09:00", "11:00") for i in (1, 2, 3)]
    result = plan(clinic, "iv_induction", availability=clinic.availability(busy))
    assert result.complete, result.problems
    assert days(clinic, result.sessions)[0] != MON
    [note] = [n for n in result.notes if n.startswith("session 1: ")]
    assert note.startswith(f"session 1: {describe_day(MON)} only at 11:00 (10:00: ")
    assert "no treatment room free" in note
    # The trade is said: a later day, for the time asked for.
    assert note.endswith(
        f"planned {describe_day(days(clinic, result.sessions)[0])}, when 10:00 is free"
    )


def test_a_session_moved_off_its_time_on_the_day_says_why(clinic: DemoClinic) -> None:
    """With only Monday allowed, the first session stays on Monday at another time."""
    busy = [clinic.hold(f"Room {i}", MON, "09:00", "11:00") for i in (1, 2, 3)]
    prefs = Preferences(preferred_start=dt.time(10, 0), latest_start=dt.time(12, 0))
    one_day = ProtocolSpec(
        code="one",
        name="One infusion",
        stages=(ProtocolStage("Once", "iv_infusion", 1, 0, 0, 0),),
    )
    result = plan(
        clinic, one_day, prefs=prefs, availability=clinic.availability(busy), search_days=0
    )
    assert result.complete, result.problems
    planned = clinic.local(result.sessions[0].start).strftime("%H:%M")
    assert planned != "10:00"
    [note] = result.notes
    assert note.startswith(f"session 1: 10:00 not possible on {describe_day(MON)} (")
    assert note.endswith(f"planned {planned}")


def test_a_session_outside_the_preferred_room_says_why(clinic: DemoClinic) -> None:
    room = clinic.id("Room 2")
    wednesday = MON + dt.timedelta(days=2)
    avail = clinic.availability([clinic.hold("Room 2", wednesday, "09:00", "12:00")])
    prefs = Preferences(preferred_room=room, preferred_start=dt.time(10, 0))
    result = plan(clinic, "iv_induction", prefs=prefs, availability=avail)
    assert result.complete, result.problems
    moved = [s for s in result.sessions if s.resource_for("room") != room]
    assert moved, "the busy Wednesday should have taken another room"
    for session in moved:
        assert any(
            n.startswith(f"session {session.index}: Room 2 not free") for n in result.notes
        ), result.notes


def test_a_kept_time_and_room_need_no_note(clinic: DemoClinic) -> None:
    result = plan(clinic, "iv_induction")
    assert result.complete
    assert result.notes == ()


def test_a_series_starting_after_a_free_day_says_why(clinic: DemoClinic) -> None:
    # Dates from the clock (the suite runs again with it moved): a Thursday some weeks ahead,
    # no public holidays, and the clinic closed on the Monday a Thursday start's first weekly
    # session would take, so that session would go to the Tuesday, off Mon/Thu.
    today = dt.date.today()
    thu = today + dt.timedelta(days=14 + (3 - today.weekday()) % 7)
    mon = thu + dt.timedelta(days=4)
    closed = thu + dt.timedelta(days=32)
    settings = dataclasses.replace(clinic.settings, holidays_closed=())
    calendar = clinic.calendar(
        [ClosureSpan(clinic.span(closed, "00:00", "23:59"), "Training")], settings=settings
    )
    result = plan(
        clinic,
        "spravato_trd",
        thu,
        prefs=None,
        availability=Availability(calendar, clinic.resources),
    )
    assert result.complete, result.problems
    assert days(clinic, result.sessions)[0] == mon
    assert (
        f"Starts {describe_day(mon)}: starting {describe_day(thu)} would put session 9 on "
        f"{describe_day(closed + dt.timedelta(days=1))}, off the preferred weekdays"
    ) in result.notes


def test_a_series_on_the_first_free_day_has_no_start_note(clinic: DemoClinic) -> None:
    result = plan(clinic, "spravato_trd", prefs=None)
    assert days(clinic, result.sessions)[0] == MON
    assert not [n for n in result.notes if n.startswith("Starts")]


def test_a_day_free_only_in_another_room_is_offered_plainly_in_date_order(
    clinic: DemoClinic,
) -> None:
    """Trial 3, A11: asked from a Tuesday, a Spravato plan (Mon/Thu) said "session 1: Thu only
    at 09:55 (09:55: only other rooms or staff than the series' were free then)", with notes on
    Tuesday and Wednesday, out of date order, and no way to start on the Thursday."""
    tuesday = MON + dt.timedelta(days=1)
    thursday = MON + dt.timedelta(days=3)
    rooms = [f"Room {i}" for i in (1, 2, 3)]
    # Every room taken on the Tuesday and Wednesday morning; on the Thursday only Room 1.
    busy = [
        clinic.hold(r, d, "08:00", "13:00")
        for r in rooms
        for d in (tuesday, MON + dt.timedelta(days=2))
    ]
    busy.append(clinic.hold("Room 1", thursday, "08:00", "13:00"))
    # Rooms 2 and 3 are taken on the following Mondays and Thursdays: a series begun there
    # would change rooms at once.
    later = [MON + dt.timedelta(days=n) for n in range(4, 120)]
    busy += [clinic.hold(r, d, "08:00", "13:00") for r in rooms[1:] for d in later]
    result = plan(clinic, "spravato_trd", tuesday, availability=clinic.availability(busy))
    assert result.complete, result.problems
    notes = [n for n in result.notes if n.startswith("session 1: ")]
    assert all("Tue" not in n and "Wed" not in n for n in notes), notes
    assert not any("only other rooms or staff" in n for n in result.notes)
