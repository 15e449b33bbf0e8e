"""Openings: when can this patient have a session, and if never, why not."""

from __future__ import annotations

import datetime as dt

import pytest

from ketadesk.scheduling.openings import (
    Opening,
    Preferences,
    PreferenceWeights,
    find_openings,
    opening_at,
)
from tests.scheduling.conftest import DemoClinic, minutes, with_shift

MON = dt.date(2025, 3, 3)
TUE = dt.date(2025, 3, 4)
FRI = dt.date(2025, 3, 7)
THANKSGIVING = dt.date(2025, 11, 27)


def local_times(clinic: DemoClinic, openings: tuple[Opening, ...]) -> list[str]:
    return [clinic.local(o.start).strftime("%H:%M") for o in openings]


def test_iv_openings_start_on_the_slot_grid_from_opening_time(clinic: DemoClinic) -> None:
    iv = clinic.spec("iv_infusion")
    found = find_openings(clinic.availability(), iv, MON, MON)
    opens, closes = clinic.settings.hours["mon"]  # type: ignore[misc]
    slot = clinic.settings.slot_minutes
    starts = [minutes(t) for t in local_times(clinic, found.openings)]
    first, last = minutes(opens.strftime("%H:%M")), minutes(closes.strftime("%H:%M"))
    assert starts == sorted(starts)
    assert starts[0] == first
    assert starts[-1] == last - iv.total_minutes  # the session ends at closing time
    assert all((s - first) % slot == 0 for s in starts)
    assert len(starts) == (last - iv.total_minutes - first) // slot + 1


def test_friday_openings_end_with_the_earlier_closing(clinic: DemoClinic) -> None:
    iv = clinic.spec("iv_infusion")
    found = find_openings(clinic.availability(), iv, FRI, FRI)
    _opens, closes = clinic.settings.hours["fri"]  # type: ignore[misc]
    last = minutes(local_times(clinic, found.openings)[-1])
    assert last + iv.total_minutes == closes.hour * 60 + closes.minute


def test_openings_keep_to_the_preferred_weekdays_and_times(clinic: DemoClinic) -> None:
    prefs = Preferences(
        weekdays=("tue", "thu"), earliest_start=dt.time(9, 0), latest_start=dt.time(11, 0)
    )
    found = find_openings(
        clinic.availability(), clinic.spec("iv_infusion"), MON, MON + dt.timedelta(days=13), prefs
    )
    assert found.openings
    for o in found.openings:
        local = clinic.local(o.start)
        assert local.strftime("%a") in ("Tue", "Thu")
        assert dt.time(9, 0) <= local.time() <= dt.time(11, 0)


def test_preferred_start_time_ranks_first(clinic: DemoClinic) -> None:
    prefs = Preferences(preferred_start=dt.time(14, 0))
    found = find_openings(
        clinic.availability(), clinic.spec("iv_infusion"), MON, FRI, prefs, limit=10
    )
    assert local_times(clinic, found.openings[:5]) == ["14:00"] * 5
    assert [clinic.local(o.start).date() for o in found.openings[:5]] == [
        MON + dt.timedelta(days=i) for i in range(5)
    ]
    assert found.openings[0].cost == 0
    assert found.truncated


def test_preferred_room_is_given_when_free(clinic: DemoClinic) -> None:
    prefs = Preferences(preferred_room=clinic.id("Room 3"), preferred_start=dt.time(10, 0))
    found = find_openings(clinic.availability(), clinic.spec("iv_infusion"), MON, MON, prefs)
    assert found.openings[0].resource_for("room") == clinic.id("Room 3")


def test_busy_preferred_room_costs_less_than_a_long_wait(clinic: DemoClinic) -> None:
    weights = PreferenceWeights()
    avail = clinic.availability([clinic.hold("Room 3", MON, "09:00", "12:00")])
    prefs = Preferences(preferred_room=clinic.id("Room 3"), preferred_start=dt.time(10, 0))
    found = find_openings(
        avail, clinic.spec("iv_infusion"), MON, MON, prefs, weights=weights, limit=1
    )
    best = found.openings[0]
    assert local_times(clinic, (best,)) == ["10:00"]
    assert best.resource_for("room") != clinic.id("Room 3")
    assert best.cost == weights.other_room


def test_spravato_needs_prescriber_on_shift(clinic: DemoClinic) -> None:
    spravato = clinic.spec("spravato")
    shifts = with_shift(clinic, "Dr Chen", "08:00", "12:00")
    found = find_openings(clinic.availability(shifts=shifts), spravato, MON, MON)
    # The prescriber is needed from the first device to the end of observation.
    offsets = spravato.phase_offsets()
    first_needed = offsets["dosing"][0]
    last_needed = offsets["observation"][1]
    times = [minutes(t) for t in local_times(clinic, found.openings)]
    assert times[0] == minutes("08:00") - first_needed
    assert times[-1] == minutes("12:00") - last_needed


def test_spravato_without_its_prescriber_explains_why(clinic: DemoClinic) -> None:
    away = clinic.closure(MON, "00:00", "23:59", "conference", name="Dr Chen")
    found = find_openings(clinic.availability(closures=[away]), clinic.spec("spravato"), MON, MON)
    assert found.openings == ()
    assert found.reasons == ("Dr Chen away: conference (Mon Mar 3)",)


def test_third_spravato_at_ten_has_no_pulse_oximeter(clinic: DemoClinic) -> None:
    spravato = clinic.spec("spravato")
    avail = clinic.availability().fork()
    ten = clinic.at(MON, "10:00")
    for _ in range(2):  # the clinic has two oximeters
        opening = opening_at(avail, spravato, ten)
        assert isinstance(opening, Opening)
        avail.add(opening.planned_holds(spravato))
    third = opening_at(avail, spravato, ten)
    assert third == ("no pulse oximeter free 10:15–12:30 on Mon Mar 3",)


def test_busy_monitors_are_explained_in_desk_words(clinic: DemoClinic) -> None:
    busy = [clinic.hold(f"Monitor {i}", TUE, "10:00", "12:00") for i in (1, 2, 3)]
    result = opening_at(
        clinic.availability(busy), clinic.spec("iv_infusion"), clinic.at(TUE, "10:00")
    )
    assert result == ("no vital-signs monitor free 10:15–11:40 on Tue Mar 4",)


def test_integration_falls_back_to_telehealth_without_an_office(clinic: DemoClinic) -> None:
    integration = clinic.spec("integration")
    office_shut = clinic.closure(MON, "00:00", "23:59", "flooded", name="Office")
    found = find_openings(clinic.availability(closures=[office_shut]), integration, MON, MON)
    assert found.openings
    assert all(o.resource_for("office") is None for o in found.openings)
    assert all(o.resource_for("therapist") == clinic.id("Tess Rivera") for o in found.openings)
    with_office = find_openings(clinic.availability(), integration, MON, MON, limit=1)
    assert with_office.openings[0].resource_for("office") == clinic.id("Office")


def test_no_openings_on_thanksgiving_say_why(clinic: DemoClinic) -> None:
    found = find_openings(
        clinic.availability(), clinic.spec("iv_infusion"), THANKSGIVING, THANKSGIVING
    )
    assert found.openings == ()
    assert len(found.reasons) == 1
    assert found.reasons[0].startswith("clinic closed: Thanksgiving")
    assert found.reasons[0].endswith("(Thu Nov 27)")


def test_every_monitor_busy_all_day_is_explained(clinic: DemoClinic) -> None:
    busy = [clinic.hold(f"Monitor {i}", MON, "07:30", "18:00") for i in (1, 2, 3)]
    found = find_openings(clinic.availability(busy), clinic.spec("iv_infusion"), MON, TUE)
    assert found.openings
    assert all(clinic.local(o.start).date() == TUE for o in found.openings)
    assert found.reasons == ("no vital-signs monitor free 07:45–18:00 (Mon Mar 3)",)


def test_no_nurse_on_shift_is_explained(clinic: DemoClinic) -> None:
    # Both nurses work Tuesday to Friday only.
    shifts = tuple(
        s
        for s in clinic.shifts
        if not (
            s.weekday == 0 and s.resource_id in (clinic.id("Nurse Ana"), clinic.id("Nurse Ben"))
        )
    )
    found = find_openings(clinic.availability(shifts=shifts), clinic.spec("iv_infusion"), MON, MON)
    assert found.reasons == ("no nurse on shift (Mon Mar 3)",)


def test_weekends_are_mentioned_only_when_nothing_fits(clinic: DemoClinic) -> None:
    iv = clinic.spec("iv_infusion")
    week = find_openings(clinic.availability(), iv, MON, MON + dt.timedelta(days=6))
    assert week.openings
    assert week.reasons == ()
    weekend = find_openings(
        clinic.availability(), iv, MON + dt.timedelta(days=5), MON + dt.timedelta(days=6)
    )
    assert weekend.reasons == (
        "clinic closed on Saturdays (Sat Mar 8)",
        "clinic closed on Sundays (Sun Mar 9)",
    )


def test_no_day_falls_on_the_preferred_weekdays(clinic: DemoClinic) -> None:
    found = find_openings(
        clinic.availability(), clinic.spec("iv_infusion"), MON, FRI, Preferences(weekdays=("sat",))
    )
    assert found.openings == ()
    assert found.reasons == (
        "no day from Mon Mar 3 to Fri Mar 7 falls on the preferred weekdays (Sat)",
    )


def test_late_start_window_leaves_no_time_before_closing(clinic: DemoClinic) -> None:
    prefs = Preferences(earliest_start=dt.time(17, 0))
    found = find_openings(clinic.availability(), clinic.spec("iv_infusion"), MON, MON, prefs)
    assert found.reasons == (
        "no start between 17:00 and closing leaves 100 minutes before closing (Mon Mar 3)",
    )


def test_per_day_keeps_the_best_starts_of_each_day(clinic: DemoClinic) -> None:
    prefs = Preferences(preferred_start=dt.time(10, 0))
    found = find_openings(
        clinic.availability(), clinic.spec("iv_infusion"), MON, FRI, prefs, per_day=2
    )
    assert found.truncated
    by_day: dict[dt.date, list[str]] = {}
    for o in found.openings:
        by_day.setdefault(clinic.local(o.start).date(), []).append(
            clinic.local(o.start).strftime("%H:%M")
        )
    # 09:55 and 10:05 are equally far from ten; the earlier wins the second place.
    assert by_day == {MON + dt.timedelta(days=i): ["10:00", "09:55"] for i in range(5)}


def test_nurse_exclusive_start_spreads_two_infusions_over_both_nurses(clinic: DemoClinic) -> None:
    iv = clinic.spec("iv_infusion")
    avail = clinic.availability().fork()
    ten = clinic.at(MON, "10:00")
    nurses = []
    for _ in range(2):
        opening = opening_at(avail, iv, ten)
        assert isinstance(opening, Opening)
        nurses.append(opening.resource_for("nurse"))
        avail.add(opening.planned_holds(iv))
    assert set(nurses) == {clinic.id("Nurse Ana"), clinic.id("Nurse Ben")}
    # A third infusion starting at ten would need a nurse's undivided attention too.
    assert opening_at(avail, iv, ten) == ("no nurse free 10:15–11:40 on Mon Mar 3",)


def test_opening_becomes_a_planned_session(clinic: DemoClinic) -> None:
    iv = clinic.spec("iv_infusion")
    found = find_openings(clinic.availability(), iv, MON, MON, limit=1)
    session = found.openings[0].as_session(iv, index=1)
    assert session.placed
    assert {h.need for h in session.holds} == {"room", "monitor", "nurse"}
    assert session.end - session.start == dt.timedelta(minutes=iv.total_minutes)


def test_preferences_reject_unknown_weekdays() -> None:
    with pytest.raises(ValueError, match="not a weekday"):
        Preferences(weekdays=("monday",))


def test_a_clinic_without_an_office_says_who_adds_one_and_where(clinic: DemoClinic) -> None:
    intake = clinic.spec("intake")
    no_office = [r for r in clinic.resources if r.subkind != "office"]
    found = find_openings(clinic.availability(resources=no_office), intake, MON, MON)
    assert found.openings == ()
    assert found.reasons == (
        "the clinic has no office: an administrator adds one in Settings ▸ Rooms and equipment"
        " (Mon Mar 3)",
    )


def test_an_off_grid_preferred_start_is_offered_itself_when_asked(clinic: DemoClinic) -> None:
    """A move of a session booked at 7:45 on a grid from the opening (the user trial's Move
    dialog offered 7:40): the preferred start itself, first, only when asked for."""
    slot = clinic.settings.slot_minutes
    opens, _closes = clinic.settings.hours["mon"]  # type: ignore[misc]
    off = minutes(opens.strftime("%H:%M")) + 2 * slot + max(1, slot // 2)
    assert off % slot != minutes(opens.strftime("%H:%M")) % slot
    wanted = dt.time(off // 60, off % 60)
    prefs = Preferences(preferred_start=wanted)
    iv = clinic.spec("iv_infusion")
    plain = find_openings(clinic.availability(), iv, MON, MON, prefs)
    assert wanted.strftime("%H:%M") not in local_times(clinic, plain.openings)
    exact = find_openings(clinic.availability(), iv, MON, MON, prefs, exact_preferred_start=True)
    assert local_times(clinic, exact.openings)[0] == wanted.strftime("%H:%M")
    assert exact.openings[0].cost == 0
    assert len(exact.openings) == len(plain.openings) + 1
    # Every room taken at that time: not offered.
    rooms = [r.name for r in clinic.resources if r.name.startswith("Room")]
    busy = clinic.availability([clinic.hold(name, MON, "07:00", "13:00") for name in rooms])
    taken = find_openings(busy, iv, MON, MON, prefs, exact_preferred_start=True)
    assert wanted.strftime("%H:%M") not in local_times(clinic, taken.openings)
