"""Availability: can this room, monitor or staff member take this hold, and if not, why not."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from ketadesk.scheduling.availability import Availability, RefusalKind, run_starts, spans_to_bits
from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.catalog import HoldMode, ResourceKind
from ketadesk.scheduling.model import ExistingHold, PlannedHold
from tests.scheduling.conftest import DemoClinic, with_shift

MON = dt.date(2025, 3, 3)
TUE = dt.date(2025, 3, 4)
THANKSGIVING = dt.date(2025, 11, 27)
AFTER_SPRING_FORWARD = dt.date(2025, 3, 10)


def planned(
    clinic: DemoClinic,
    name: str,
    day: dt.date,
    start: str,
    end: str,
    mode: HoldMode = HoldMode.EXCLUSIVE,
) -> PlannedHold:
    return PlannedHold(
        need="any",
        resource_id=clinic.id(name),
        mode=mode,
        span=clinic.span(day, start, end),
        units=0 if mode is HoldMode.PRESENCE else 1,
    )


def test_room_cannot_be_double_booked(clinic: DemoClinic) -> None:
    avail = clinic.availability([clinic.hold("Room 1", MON, "10:00", "11:40")])
    refusal = avail.refusal(planned(clinic, "Room 1", MON, "11:00", "12:40"))
    assert refusal is not None
    assert refusal.kind is RefusalKind.TAKEN
    assert refusal.message == "Room 1 booked 10:00–11:40 on Mon Mar 3"
    assert avail.can_take(planned(clinic, "Room 1", MON, "11:40", "13:20"))  # back to back
    assert avail.can_take(planned(clinic, "Room 2", MON, "11:00", "12:40"))


def test_nurse_watches_at_most_three_recovering_patients(clinic: DemoClinic) -> None:
    ratio = clinic.settings.capacity_for_role("nurse")
    watching = [
        clinic.hold("Nurse Ana", MON, "10:00", "11:00", HoldMode.SHARED) for _ in range(ratio)
    ]
    avail = clinic.availability(watching)
    refusal = avail.refusal(planned(clinic, "Nurse Ana", MON, "10:30", "11:30", HoldMode.SHARED))
    assert refusal is not None
    assert refusal.kind is RefusalKind.FULL
    assert refusal.message == f"Nurse Ana already has {ratio} patients at 10:30 on Mon Mar 3"
    assert avail.can_take(planned(clinic, "Nurse Ana", MON, "11:00", "12:00", HoldMode.SHARED))
    one_less = clinic.availability(watching[1:])
    assert one_less.can_take(planned(clinic, "Nurse Ana", MON, "10:30", "11:30", HoldMode.SHARED))


def test_dosing_start_needs_the_nurse_undivided_but_only_against_other_dosing_starts(
    clinic: DemoClinic,
) -> None:
    dosing = clinic.availability([clinic.hold("Nurse Ana", MON, "10:00", "10:10")])
    assert not dosing.can_take(planned(clinic, "Nurse Ana", MON, "10:05", "10:15"))
    # Watching someone recover beside another patient's dosing start is fine ...
    assert dosing.can_take(planned(clinic, "Nurse Ana", MON, "10:05", "10:50", HoldMode.SHARED))
    # ... and so is a dosing start while she watches recovering patients.
    watching = clinic.availability(
        [clinic.hold("Nurse Ana", MON, "09:30", "11:00", HoldMode.SHARED)]
    )
    assert watching.can_take(planned(clinic, "Nurse Ana", MON, "10:05", "10:15"))


def test_prescriber_on_site_oversees_any_number_of_sessions(clinic: DemoClinic) -> None:
    many = clinic.settings.capacity_for_role("prescriber") + 2
    present = [
        clinic.hold("Dr Chen", MON, "10:00", "12:00", HoldMode.PRESENCE) for _ in range(many)
    ]
    avail = clinic.availability(present)
    assert avail.can_take(planned(clinic, "Dr Chen", MON, "10:15", "12:25", HoldMode.PRESENCE))


def test_closed_room_is_explained(clinic: DemoClinic) -> None:
    closure = clinic.closure(MON, "08:00", "12:00", "maintenance", name="Room 2")
    avail = clinic.availability(closures=[closure])
    refusal = avail.refusal(planned(clinic, "Room 2", MON, "10:00", "11:40"))
    assert refusal is not None
    assert refusal.kind is RefusalKind.RESOURCE_CLOSED
    assert refusal.message == "Room 2 closed: maintenance"
    assert avail.can_take(planned(clinic, "Room 2", MON, "12:00", "13:40"))


def test_monitor_out_of_service_is_explained(clinic: DemoClinic) -> None:
    closure = clinic.closure(MON, "07:00", "18:00", "sent for calibration", name="Monitor 1")
    avail = clinic.availability(closures=[closure])
    refusal = avail.refusal(planned(clinic, "Monitor 1", MON, "10:15", "11:40"))
    assert refusal is not None
    assert refusal.message == "Monitor 1 out of service: sent for calibration"


def test_thanksgiving_is_explained(clinic: DemoClinic) -> None:
    refusal = clinic.availability().refusal(
        planned(clinic, "Room 1", THANKSGIVING, "10:00", "11:40")
    )
    assert refusal is not None
    assert refusal.kind is RefusalKind.CLINIC_CLOSED
    assert refusal.message.startswith("clinic closed: Thanksgiving")


def test_clinic_closure_is_explained(clinic: DemoClinic) -> None:
    training = clinic.closure(MON, "12:00", "18:00", "staff training")
    refusal = clinic.availability(closures=[training]).refusal(
        planned(clinic, "Room 1", MON, "13:00", "14:40")
    )
    assert refusal is not None
    assert refusal.message == "clinic closed: staff training"


def test_nurse_off_shift_is_explained(clinic: DemoClinic) -> None:
    avail = clinic.availability(shifts=with_shift(clinic, "Nurse Ana", "07:30", "12:00"))
    refusal = avail.refusal(planned(clinic, "Nurse Ana", MON, "11:30", "12:30", HoldMode.SHARED))
    assert refusal is not None
    assert refusal.kind is RefusalKind.OFF_SHIFT
    assert refusal.message == "Nurse Ana not on shift 11:30–12:30 on Mon Mar 3"


def test_session_past_closing_time_is_refused(clinic: DemoClinic) -> None:
    refusal = clinic.availability().refusal(planned(clinic, "Room 1", MON, "17:00", "18:40"))
    assert refusal is not None
    assert refusal.kind is RefusalKind.OUTSIDE_HOURS
    assert refusal.message == "outside opening hours (07:30–18:00 on Mon Mar 3)"


def test_refusals_speak_local_time_after_the_clocks_change(clinic: DemoClinic) -> None:
    avail = clinic.availability([clinic.hold("Room 1", AFTER_SPRING_FORWARD, "10:00", "11:40")])
    refusal = avail.refusal(planned(clinic, "Room 1", AFTER_SPRING_FORWARD, "10:30", "12:10"))
    assert refusal is not None
    assert refusal.message == "Room 1 booked 10:00–11:40 on Mon Mar 10"


def test_tentative_holds_count_on_the_fork_only(clinic: DemoClinic) -> None:
    avail = clinic.availability()
    fork = avail.fork()
    first = planned(clinic, "Room 1", MON, "10:00", "11:40")
    fork.add([first])
    second = planned(clinic, "Room 1", MON, "11:00", "12:40")
    assert not fork.can_take(second)
    assert avail.can_take(second)
    fork.release([first])
    assert fork.can_take(second)


def test_releasing_a_booked_hold_frees_its_room_on_the_fork(clinic: DemoClinic) -> None:
    booked = clinic.hold("Room 1", MON, "10:00", "11:40")
    avail = clinic.availability([booked])
    fork = avail.fork()
    fork.release([booked])
    again = planned(clinic, "Room 1", MON, "10:00", "11:40")
    assert fork.can_take(again)
    assert not avail.can_take(again)


def test_a_sessions_own_holds_count_against_each_other(clinic: DemoClinic) -> None:
    avail = clinic.availability()
    holds = [
        planned(clinic, "Room 1", MON, "10:00", "11:40"),
        planned(clinic, "Room 1", MON, "11:00", "12:00"),
    ]
    assert all(avail.can_take(h) for h in holds)
    refusals = avail.refusals(holds)
    assert [r.kind for r in refusals] == [RefusalKind.TAKEN]


def test_day_free_time_agrees_with_the_calendar(clinic: DemoClinic) -> None:
    closures = [
        clinic.closure(TUE, "09:00", "10:30", "repair", name="Room 2"),
        clinic.closure(TUE, "15:00", "18:00", "staff meeting"),
    ]
    shifts = with_shift(clinic, "Nurse Ben", "12:00", "16:00")
    avail = clinic.availability(closures=closures, shifts=shifts)
    calendar = clinic.calendar(closures, shifts=shifts)
    for res in clinic.resources:
        for day in (MON, TUE, THANKSGIVING, dt.date(2025, 3, 8)):
            expected = calendar.available_intervals(res.id, day, is_staff=res.is_staff)
            got = [
                Interval(dt.datetime.fromtimestamp(s, dt.UTC), dt.datetime.fromtimestamp(e, dt.UTC))
                for s, e in avail.day_free(res.id, day).presence
            ]
            assert got == expected, (res.name, day)


def test_opening_hours_agree_with_the_calendar_across_a_year(clinic: DemoClinic) -> None:
    """``open_spans`` reads the weekly hours on the day's own clock; the calendar's datetimes
    say the same on every day of a year: both clock changes, holidays, a closure's day."""
    closures = [clinic.closure(TUE, "15:00", "18:00", "staff meeting")]
    avail = clinic.availability(closures=closures)
    calendar = clinic.calendar(closures)
    for n in range(366):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=n)
        expected = [
            (int(i.start.timestamp()), int(i.end.timestamp())) for i in calendar.open_intervals(day)
        ]
        assert avail.open_spans(day) == expected, day


def test_questions_beyond_the_loaded_window_are_refused(clinic: DemoClinic) -> None:
    window = clinic.span(MON, "00:00", "23:59")
    avail = Availability(clinic.calendar(), clinic.resources, (), window=window)
    assert avail.can_take(planned(clinic, "Room 1", MON, "10:00", "11:40"))
    refusal = avail.refusal(planned(clinic, "Room 1", TUE, "10:00", "11:40"))
    assert refusal is not None
    assert refusal.kind is RefusalKind.OUTSIDE_WINDOW


def test_inactive_resource_takes_nothing(clinic: DemoClinic) -> None:
    resources = [
        dataclasses.replace(r, active=False) if r.name == "Room 3" else r for r in clinic.resources
    ]
    avail = clinic.availability(resources=resources)
    refusal = avail.refusal(planned(clinic, "Room 3", MON, "10:00", "11:40"))
    assert refusal is not None
    assert refusal.kind is RefusalKind.INACTIVE
    assert [r.name for r in avail.candidates(ResourceKind.ROOM, "treatment")] == [
        "Room 1",
        "Room 2",
    ]


def test_day_bits_are_day_free_on_a_minute_grid(clinic: DemoClinic) -> None:
    """The planner's bit grids say exactly what ``day_free`` says, hold kind by hold kind (one
    unit, shared capacity, a presence-only hold), on an ordinary day and after the clocks
    change; ``run_starts`` finds where a hold of a given length fits."""
    holds = [
        clinic.hold("Room 1", MON, "10:00", "11:40"),
        clinic.hold("Room 1", MON, "13:15", "14:00", HoldMode.PRESENCE),
        clinic.hold("Nurse Ana", MON, "10:00", "11:00", HoldMode.SHARED),
        clinic.hold("Nurse Ana", MON, "10:30", "12:00", HoldMode.SHARED),
        clinic.hold("Room 2", AFTER_SPRING_FORWARD, "09:00", "09:45"),
    ]
    avail = clinic.availability(holds)
    for day in (MON, TUE, AFTER_SPRING_FORWARD):
        midnight = avail.day_frame(day)[0]
        for name in ("Room 1", "Room 2", "Nurse Ana"):
            free = avail.day_free(clinic.id(name), day)
            bits = avail.day_bits(clinic.id(name), day)
            assert bits.midnight == midnight
            for mode in HoldMode:
                assert bits.for_mode(mode) == spans_to_bits(free.for_mode(mode), midnight)
    room = avail.day_bits(clinic.id("Room 1"), MON)
    starts = run_starts(room.exclusive, 100)

    def at(hhmm: str) -> int:
        return int(clinic.span(MON, hhmm, "23:59").start.timestamp() - room.midnight) // 60

    assert not (starts >> at("10:00")) & 1  # taken
    assert not (starts >> at("08:30")) & 1  # would run into the 10:00 session
    assert (starts >> at("11:40")) & 1  # back to back
    assert run_starts(0b0111_0110, 3) == 0b0001_0000
    assert run_starts(0b0111_0110, 2) == 0b0011_0010


def test_local_clock_on_days_with_and_without_a_clock_change(clinic: DemoClinic) -> None:
    """``local_seconds`` and ``minute_of_day`` take a day without a clock change as midnight +
    60 m; on the days the clocks change they answer as the calendar does."""
    avail = clinic.availability()
    cal = avail.calendar
    days = [dt.date(2025, 3, 8) + dt.timedelta(days=k) for k in range(3)]
    days += [dt.date(2025, 11, 1) + dt.timedelta(days=k) for k in range(3)]
    for day in days:
        for minute in range(0, 24 * 60 + 1, 7):
            t = avail.local_seconds(day, minute)
            assert t == int(cal.at_local(day, minute).timestamp()), (day, minute)
        midnight, next_midnight = avail.day_frame(day)
        for t in range(midnight, next_midnight, 13 * 60 + 11):
            instant = dt.datetime.fromtimestamp(t, dt.UTC)
            assert avail.minute_of_day(day, t) == cal.minute_of_day(instant), (day, t)


def _random_holds(
    clinic: DemoClinic,
    rng: random.Random,
    names: list[str],
    days: list[dt.date],
    *,
    count: int,
    longest: int,
) -> list[ExistingHold]:
    """``count`` holds of every kind on ``names`` on ``days``, 5 to ``longest`` minutes long,
    some beginning inside a minute (20 or 45 seconds past it)."""
    holds = []
    for _ in range(count):
        day = rng.choice(days)
        start = clinic.at(day, f"{rng.randrange(0, 23):02d}:{rng.randrange(0, 60):02d}")
        start += dt.timedelta(seconds=rng.choice([0, 0, 20, 45]))
        mode = rng.choice(list(HoldMode))
        holds.append(
            ExistingHold(
                clinic.id(rng.choice(names)),
                Interval(start, start + dt.timedelta(minutes=rng.randrange(5, longest))),
                mode,
                0 if mode is HoldMode.PRESENCE else 1,
            )
        )
    return holds


@pytest.mark.parametrize("seed", range(6))
def test_day_bits_of_rooms_and_equipment_on_random_days(clinic: DemoClinic, seed: int) -> None:
    """Rooms and equipment take a short way to their bits (the clinic's hours less their holds):
    the same minutes as ``day_free``'s stretches, for holds of every kind that begin and end
    inside minutes, across midnight and the spring-forward night, also after holds are added
    and released on a fork (the general way then)."""
    rng = random.Random(seed)
    names = ["Room 1", "Room 2", "Monitor 1", "Nurse Ana"]
    days = [MON, TUE, AFTER_SPRING_FORWARD - dt.timedelta(days=1), AFTER_SPRING_FORWARD]
    holds = _random_holds(clinic, rng, names, days, count=80, longest=300)
    avail = clinic.availability(holds)
    fork = avail.fork()
    fork.add(holds[:3])
    fork.release(holds[3:6])
    for a in (avail, fork):
        for day in days:
            midnight = a.day_frame(day)[0]
            for name in names:
                free = a.day_free(clinic.id(name), day)
                bits = a.day_bits(clinic.id(name), day)
                for mode in HoldMode:
                    assert bits.for_mode(mode) == spans_to_bits(free.for_mode(mode), midnight), (
                        name,
                        day,
                        mode,
                    )


@pytest.mark.parametrize("seed", range(6))
def test_hold_starts_are_the_runs_of_each_holds_free_time(clinic: DemoClinic, seed: int) -> None:
    """``hold_starts`` (a resource's starts for a need's holds; rooms and equipment the short
    way, from each hold of the day) is the runs of the free time of each hold's kind, as the
    bit grids give them, for holds that begin and end inside minutes, windows before and after
    a session's start, and again once holds are added and released."""
    rng = random.Random(seed)
    names = ["Room 1", "Room 2", "Monitor 1", "Nurse Ana"]
    days = [MON, TUE, AFTER_SPRING_FORWARD]
    holds = _random_holds(clinic, rng, names, days, count=60, longest=200)

    def expected(a: Availability, rid: int, day: dt.date, windows: tuple) -> int:  # type: ignore[type-arg]
        free = a.day_bits(rid, day)
        found = -1
        for lo, hi, mode in windows:
            run = run_starts(free.for_mode(mode), hi - lo)
            found &= run >> lo if lo >= 0 else run << -lo
        return found

    avail = clinic.availability(holds[:40])
    fork = avail.fork()
    for a in (avail, fork):
        for _ in range(60):
            windows = tuple(
                (lo, lo + rng.randrange(0, 150), rng.choice(list(HoldMode)))
                for lo in sorted(rng.randrange(-20, 120) for _ in range(rng.randrange(1, 3)))
            )
            rid, day = clinic.id(rng.choice(names)), rng.choice(days)
            assert a.hold_starts(rid, day, windows) == expected(a, rid, day, windows)
        if a is fork:
            break
        fork.hold_starts(clinic.id("Room 1"), MON, ((0, 100, HoldMode.EXCLUSIVE),))
        fork.add(holds[40:])
        fork.release(holds[:5])


def test_day_bits_count_a_staff_members_capacity_per_minute(clinic: DemoClinic) -> None:
    """A nurse watching up to three patients: the minutes three shared holds overlap are full
    (no more shared holds), the minutes an exclusive hold takes are not free for another; the
    same minutes as ``day_free``'s stretches."""
    holds = [
        clinic.hold("Nurse Ana", MON, "09:00", "10:00", HoldMode.SHARED),
        clinic.hold("Nurse Ana", MON, "09:30", "10:30", HoldMode.SHARED),
        clinic.hold("Nurse Ana", MON, "09:45", "11:00", HoldMode.SHARED),
        clinic.hold("Nurse Ana", MON, "13:00", "13:10"),
    ]
    avail = clinic.availability(holds)
    rid = clinic.id("Nurse Ana")
    bits = avail.day_bits(rid, MON)
    free = avail.day_free(rid, MON)
    midnight = avail.day_frame(MON)[0]
    assert bits.shared == spans_to_bits(free.shared, midnight)
    assert bits.exclusive == spans_to_bits(free.exclusive, midnight)
    assert bits.presence == spans_to_bits(free.presence, midnight)
    assert not bits.shared >> (9 * 60 + 45) & 1  # three at 09:45
    assert bits.shared >> (9 * 60 + 44) & 1  # two at 09:44
    assert bits.shared >> (13 * 60) & 1
    assert not bits.exclusive >> (13 * 60) & 1
