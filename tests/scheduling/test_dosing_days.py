"""The doses a patient may have on one day: one rule for the planner, booking and moves, in
which only dosing sessions count (a non-dosing session on a dosed day is allowed)."""

from __future__ import annotations

import datetime as dt

from ketadesk.scheduling.dosing_days import crowded_days, days_closed_to_doses
from ketadesk.scheduling.openings import Preferences
from tests.scheduling.conftest import DemoClinic
from tests.scheduling.test_planner import MON, plan

TUE = MON + dt.timedelta(days=1)
AFTERNOON = Preferences(weekdays=("mon", "wed", "fri"), preferred_start=dt.time(14, 0))


def test_a_second_dose_crowds_the_day_and_names_the_dose_already_booked() -> None:
    [day] = crowded_days([(MON, True)], [(MON, True, "#7 10:00"), (TUE, True, "#8")], 1)
    assert (day.day, day.count, day.limit, day.booked) == (MON, 2, 1, ("#7 10:00",))


def test_a_session_that_doses_nothing_never_crowds_a_dosed_day() -> None:
    assert crowded_days([(MON, False)], [(MON, True, "#7")], 1) == []
    # Nor does a non-dosing session already booked count against a dose.
    assert crowded_days([(MON, True)], [(MON, False, "#9")], 1) == []
    assert days_closed_to_doses(False, [(MON, True)], 1) == []
    assert days_closed_to_doses(True, [(MON, True), (TUE, False)], 1) == [MON]


def test_a_clinic_allowing_two_doses_a_day_crowds_only_the_third() -> None:
    assert crowded_days([(MON, True)], [(MON, True, "#7")], 2) == []
    assert days_closed_to_doses(True, [(MON, True)], 2) == []
    assert [
        d.count for d in crowded_days([(MON, True)], [(MON, True, "a"), (MON, True, "b")], 2)
    ] == [3]


def test_the_planner_keeps_doses_off_a_dosed_day_but_not_the_sessions_that_dose_nothing(
    clinic: DemoClinic,
) -> None:
    """A Spravato dose booked on Monday at 08:00: a KAP program's first preparation
    (integration) session may still be that Monday; a booster infusion may not."""
    dose = clinic.span(MON, "08:00", "10:30")
    doses = [(MON, True)]
    kap = plan(clinic, "kap_program", prefs=AFTERNOON, patient_busy=[dose], patient_doses=doses)
    first = kap.sessions[0]
    assert first.session_type == "integration"
    assert first.placed
    assert clinic.local(first.start).date() == MON
    assert first.start >= dose.end
    booster = plan(clinic, "iv_booster", prefs=AFTERNOON, patient_busy=[dose], patient_doses=doses)
    (only,) = booster.sessions
    assert only.placed
    assert clinic.local(only.start).date() > MON
