"""The follow-up rules on the shipped configuration: business days, calendar days, windows.

Around Thanksgiving 2026 (Thursday 26 November, a US public holiday the clinic closes for):
Wednesday 25 is open, Thursday 26 closed, Friday 27 open until 17:00, Saturday and Sunday
closed, Monday 30 open.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ketadesk.config import Catalog, load_default_catalog
from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval
from ketadesk.scheduling.catalog import FollowUpRule
from ketadesk.scheduling.followup_rules import (
    Section,
    adverse_event_follow_up,
    check_in_deadline,
    completion_follow_up,
    countdown_text,
    due_text,
    next_business_day,
    reattempt_at,
    section_of,
    session_follow_ups,
)

WED = dt.date(2026, 11, 25)
THANKSGIVING = dt.date(2026, 11, 26)
FRI = dt.date(2026, 11, 27)
MON = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_default_catalog()


@pytest.fixture
def calendar(catalog: Catalog) -> ClinicCalendar:
    return ClinicCalendar(catalog.settings)


def at(calendar: ClinicCalendar, day: dt.date, hhmm: str) -> dt.datetime:
    hh, mm = hhmm.split(":")
    return calendar.at_local(day, int(hh) * 60 + int(mm))


def local(calendar: ClinicCalendar, instant: dt.datetime | None) -> str:
    assert instant is not None
    return f"{calendar.local(instant):%a %Y-%m-%d %H:%M}"


def owed(catalog: Catalog, calendar: ClinicCalendar, code: str, day: dt.date, status: str):  # type: ignore[no-untyped-def]
    spec = catalog.session_types[code]
    start = at(calendar, day, "10:00")
    end = start + dt.timedelta(minutes=spec.total_minutes)
    return {f.kind: f for f in session_follow_ups(spec, start, end, status, calendar)}


# -- next-day call: the next business day ---------------------------------------------------


def test_next_day_call_after_a_wednesday_session_skips_thanksgiving(
    catalog: Catalog, calendar: ClinicCalendar
) -> None:
    call = owed(catalog, calendar, "iv_infusion", WED, "completed")["next_day_call"]
    assert local(calendar, call.due) == "Fri 2026-11-27 07:30"
    assert local(calendar, call.deadline) == "Fri 2026-11-27 17:00"  # Fridays close at 17:00
    assert call.assignee_role == "nurse"


def test_next_day_call_after_a_friday_session_skips_the_weekend(
    catalog: Catalog, calendar: ClinicCalendar
) -> None:
    call = owed(catalog, calendar, "spravato", FRI, "completed")["next_day_call"]
    assert local(calendar, call.due) == "Mon 2026-11-30 07:30"
    assert local(calendar, call.deadline) == "Mon 2026-11-30 18:00"


def test_a_whole_day_closure_is_not_a_business_day(catalog: Catalog) -> None:
    training = ClosureSpan(
        Interval(
            ClinicCalendar(catalog.settings).at_local(MON, 0),
            ClinicCalendar(catalog.settings).at_local(MON + dt.timedelta(days=1), 0),
        ),
        "staff training",
    )
    calendar = ClinicCalendar(catalog.settings, closures=(training,))
    assert next_business_day(calendar, FRI, 1) == MON + dt.timedelta(days=1)
    assert next_business_day(calendar, THANKSGIVING, 0) == FRI
    assert next_business_day(calendar, WED, 0) == WED


# -- REMS form: calendar days, whatever the clinic's hours ---------------------------------


def test_rems_deadline_is_seven_calendar_days_across_thanksgiving_and_a_weekend(
    catalog: Catalog, calendar: ClinicCalendar
) -> None:
    form = owed(catalog, calendar, "spravato", WED, "completed")["rems_form"]
    # Holiday and weekend inside the week do not stretch it: the end of Wednesday 2 December.
    assert local(calendar, form.deadline) == "Thu 2026-12-03 00:00"
    assert calendar.local(form.due) == calendar.local(at(calendar, WED, "12:30"))
    assert form.assignee_role == "nurse"


def test_rems_deadline_may_fall_on_a_weekend(catalog: Catalog, calendar: ClinicCalendar) -> None:
    sat = dt.date(2026, 11, 21)
    # A Saturday session (an exceptional opening) is due by the end of the next Saturday.
    form = owed(catalog, calendar, "spravato", sat, "completed")["rems_form"]
    assert local(calendar, form.deadline) == "Sun 2026-11-29 00:00"


def test_rems_deadline_days_come_from_configuration(
    catalog: Catalog, calendar: ClinicCalendar
) -> None:
    spec = catalog.session_types["spravato"]
    rules = tuple(
        dataclasses.replace(r, calendar_days=3) if r.kind == "rems_form" else r
        for r in spec.followups
    )
    spec = dataclasses.replace(spec, followups=rules)
    start = at(calendar, WED, "10:00")
    found = {f.kind: f for f in session_follow_ups(spec, start, start, "completed", calendar)}
    assert local(calendar, found["rems_form"].deadline) == "Sun 2026-11-29 00:00"


# -- what each status owes ------------------------------------------------------------------


def test_a_booked_dosing_session_owes_only_its_phq9_at_check_in(
    catalog: Catalog, calendar: ClinicCalendar
) -> None:
    found = owed(catalog, calendar, "spravato", WED, "booked")
    assert set(found) == {"phq9"}
    assert found["phq9"].due == found["phq9"].deadline == at(calendar, WED, "10:00")


def test_a_completed_spravato_session_owes_call_form_and_phq9(
    catalog: Catalog, calendar: ClinicCalendar
) -> None:
    assert set(owed(catalog, calendar, "spravato", WED, "completed")) == {
        "next_day_call",
        "rems_form",
        "phq9",
    }


@pytest.mark.parametrize("status", ["cancelled", "no_show"])
def test_a_session_not_held_owes_nothing(
    catalog: Catalog, calendar: ClinicCalendar, status: str
) -> None:
    assert owed(catalog, calendar, "spravato", WED, status) == {}


def test_integration_is_owed_one_to_three_days_after_a_kap_dose(
    catalog: Catalog, calendar: ClinicCalendar
) -> None:
    tue = dt.date(2026, 11, 24)
    found = owed(catalog, calendar, "kap", tue, "completed")
    integration = found["integration"]
    assert local(calendar, integration.due) == "Wed 2026-11-25 07:30"
    assert local(calendar, integration.deadline) == "Sat 2026-11-28 00:00"  # end of Friday
    assert integration.assignee_role == "therapist"
    assert local(calendar, found["next_day_call"].due) == "Wed 2026-11-25 07:30"


def test_booster_review_window_after_the_induction(
    catalog: Catalog, calendar: ClinicCalendar
) -> None:
    stage = catalog.protocols["iv_induction"].stages[-1]
    assert stage.on_complete is not None
    review = completion_follow_up(
        stage.on_complete, at(calendar, WED, "12:00"), calendar, "prescriber"
    )
    assert review.kind == "booster_review"
    assert local(calendar, review.due) == "Wed 2026-12-09 07:30"  # 14 days later
    assert local(calendar, review.deadline) == "Thu 2027-01-07 00:00"  # end of day 42
    assert review.assignee_role == "prescriber"


def test_adverse_event_is_followed_up_by_the_end_of_the_next_business_day(
    catalog: Catalog, calendar: ClinicCalendar
) -> None:
    settings = catalog.settings.followups
    event = adverse_event_follow_up(at(calendar, WED, "11:20"), calendar, settings)
    assert event.kind == "adverse_event"
    assert event.priority == "high"
    assert event.assignee_role == "prescriber"
    assert local(calendar, event.due) == "Wed 2026-11-25 11:20"
    assert local(calendar, event.deadline) == "Fri 2026-11-27 17:00"
    same_day = dataclasses.replace(settings, adverse_event_business_days=0)
    event = adverse_event_follow_up(at(calendar, WED, "11:20"), calendar, same_day)
    assert local(calendar, event.deadline) == "Wed 2026-11-25 18:00"


def test_a_rule_with_only_min_days_owes_that_day(calendar: ClinicCalendar) -> None:
    from ketadesk.scheduling.followup_rules import rule_follow_up

    rule = FollowUpRule(kind="integration", assignee_role="therapist", min_days=2)
    start = at(calendar, WED, "09:00")
    found = rule_follow_up(rule, start, start, calendar)
    assert local(calendar, found.due) == "Fri 2026-11-27 07:30"
    assert local(calendar, found.deadline) == "Sat 2026-11-28 00:00"


# -- calling again ----------------------------------------------------------------------------


def test_reattempt_later_the_same_day(calendar: ClinicCalendar) -> None:
    assert local(calendar, reattempt_at(calendar, at(calendar, WED, "09:10"), 4)) == (
        "Wed 2026-11-25 13:10"
    )


def test_reattempt_after_closing_goes_to_the_next_business_morning(
    calendar: ClinicCalendar,
) -> None:
    # 16:00 + 4 h is after closing; Thursday is Thanksgiving: Friday's opening.
    assert local(calendar, reattempt_at(calendar, at(calendar, WED, "16:00"), 4)) == (
        "Fri 2026-11-27 07:30"
    )
    # Before opening: the opening itself.
    assert local(calendar, reattempt_at(calendar, at(calendar, FRI, "02:00"), 4)) == (
        "Fri 2026-11-27 07:30"
    )


# -- how the queue reads an item --------------------------------------------------------------


def test_sections_and_countdowns_of_a_rems_form(catalog: Catalog, calendar: ClinicCalendar) -> None:
    form = owed(catalog, calendar, "spravato", WED, "completed")["rems_form"]
    days = catalog.settings.followups.upcoming_days

    def read(day: dt.date, hhmm: str) -> tuple[Section, str]:
        now = at(calendar, day, hhmm)
        return (
            section_of(now, form.due, form.deadline, calendar, days),
            countdown_text(now, form.due, form.deadline, calendar),
        )

    # Open from the session's end, but due today only on its last day: the section says what
    # the countdown says (a user trial found "due by tomorrow" under "Due today").
    assert read(WED, "13:00") == (Section.UPCOMING, "due in 7 days")
    assert read(MON, "09:00") == (Section.UPCOMING, "due in 2 days")
    assert read(dt.date(2026, 12, 1), "09:00") == (Section.UPCOMING, "due by tomorrow")
    assert read(dt.date(2026, 12, 2), "09:00") == (Section.DUE_TODAY, "due today")
    assert read(dt.date(2026, 12, 3), "09:00") == (Section.OVERDUE, "overdue by 1 day")
    assert read(dt.date(2026, 12, 5), "09:00") == (Section.OVERDUE, "overdue by 3 days")


def test_sections_and_countdowns_of_a_call(catalog: Catalog, calendar: ClinicCalendar) -> None:
    call = owed(catalog, calendar, "iv_infusion", WED, "completed")["next_day_call"]
    days = catalog.settings.followups.upcoming_days

    def read(day: dt.date, hhmm: str) -> tuple[Section, str]:
        now = at(calendar, day, hhmm)
        return (
            section_of(now, call.due, call.deadline, calendar, days),
            countdown_text(now, call.due, call.deadline, calendar),
        )

    assert read(WED, "13:00") == (Section.UPCOMING, "due in 2 days")
    assert read(THANKSGIVING, "13:00") == (Section.UPCOMING, "due tomorrow")
    assert read(FRI, "10:00") == (Section.DUE_TODAY, "due today by 5:00 PM")  # a US clinic's
    assert read(FRI, "17:40") == (Section.OVERDUE, "overdue by 40 mins")
    # Hours and their minutes: a user trial read 1 h 55 late as "overdue by 1 hour".
    assert read(FRI, "18:55") == (Section.OVERDUE, "overdue by 1 hour 55 mins")
    assert read(FRI, "19:00") == (Section.OVERDUE, "overdue by 2 hours")
    assert read(MON, "08:00") == (Section.OVERDUE, "overdue by 3 days")


def test_a_follow_up_beyond_the_horizon_is_later(
    catalog: Catalog, calendar: ClinicCalendar
) -> None:
    due = at(calendar, dt.date(2026, 12, 24), "09:00")
    now = at(calendar, WED, "09:00")
    assert section_of(now, due, None, calendar, 7) is Section.LATER
    assert section_of(now, due, None, calendar, 30) is Section.UPCOMING
    assert section_of(at(calendar, dt.date(2026, 12, 25), "09:00"), due, None, calendar, 7) is (
        Section.OVERDUE
    )


# -- when a protocol stage is over --------------------------------------------------------------


def test_an_induction_is_over_when_every_planned_place_was_held() -> None:
    from ketadesk.scheduling.followup_rules import stage_finished

    held = [(i, "completed") for i in range(1, 7)]
    assert stage_finished(1, 6, 6, held)
    # Session 3 missed and made up under its number: still over.
    assert stage_finished(1, 6, 6, [*held, (3, "no_show")])
    # Session 2 cancelled, nothing since: the patient dropped out, the induction is not over.
    dropped = [(1, "completed"), (2, "cancelled")]
    assert not stage_finished(1, 6, 6, dropped)
    # The last one still booked: not over yet.
    assert not stage_finished(1, 6, 6, [*held[:5], (6, "booked")])
    # Session 3 missed and never made up, but the patient came to the last one: over.
    assert stage_finished(1, 6, 6, [h for h in held if h[0] != 3] + [(3, "cancelled")])
    # A series planned shorter than the protocol ends at its last planned place.
    assert stage_finished(1, 6, 4, held[:4])
    assert not stage_finished(1, 6, 0, [])


def test_stage_ranges_count_the_sessions_that_follow_each_dose(catalog: Catalog) -> None:
    from ketadesk.scheduling.followup_rules import stage_ranges

    kap = catalog.protocols["kap_program"]
    assert [(s.name, lo, hi) for s, lo, hi in stage_ranges(kap)] == [
        ("Preparation", 1, 2),
        ("Dosing", 3, 8),
    ]


# -- what the queue says -------------------------------------------------------------------------


def test_the_rems_form_is_due_by_the_end_of_the_session_date_plus_seven(
    catalog: Catalog, calendar: ClinicCalendar
) -> None:
    """DOMAIN.md: the REMS form's last day is the session's date + 7; print that date, not the
    day after (its deadline is the midnight that ends it)."""
    start, end = at(calendar, WED, "10:00"), at(calendar, WED, "12:30")
    (form,) = [
        f
        for f in session_follow_ups(
            catalog.session_types["spravato"], start, end, "completed", calendar
        )
        if f.kind == "rems_form"
    ]
    due, deadline = calendar.local(form.due), calendar.local(form.deadline or form.due)
    # Said in the shipped clinic's 12-hour time (the queue's Due column).
    fmt = calendar.settings.time_format
    assert fmt == "12h"
    assert due_text(due, deadline, calendar.local(end), fmt) == "by end of Wed Dec 2"
    # Before it can be done (a snooze to Monday): from then to its last day.
    monday = calendar.local(at(calendar, MON, "07:30"))
    assert (
        due_text(monday, deadline, calendar.local(end), fmt)
        == "Mon Nov 30 7:30 AM to end of Wed Dec 2"
    )
    # Due and late on one day (a next-day call), or at one moment (a PHQ-9): the moment.
    friday = calendar.local(at(calendar, FRI, "07:30"))
    closes = calendar.local(at(calendar, FRI, "17:00"))
    assert due_text(friday, closes, calendar.local(end), fmt) == "Fri Nov 27 7:30 AM"
    assert due_text(friday, None, calendar.local(end), fmt) == "Fri Nov 27 7:30 AM"
    assert due_text(friday, friday, calendar.local(end), "24h") == "Fri Nov 27 07:30"


@pytest.mark.parametrize(
    ("status", "late_from"),
    [
        ("booked", "12:30"),  # waits for the patient: late once the session is over
        ("checked_in", "10:00"),  # the patient is in: late from the session's start
        ("in_progress", "10:00"),
        ("completed", "10:00"),
        (None, "10:00"),  # no session: as stored
    ],
)
def test_a_check_in_follow_up_waits_for_the_check_in(
    calendar: ClinicCalendar, status: str | None, late_from: str
) -> None:
    start, end = at(calendar, WED, "10:00"), at(calendar, WED, "12:30")
    assert check_in_deadline(start, status, end) == at(calendar, WED, late_from)


def test_a_follow_up_due_by_tomorrow_is_not_counted_due_today(
    calendar: ClinicCalendar,
) -> None:
    """A user trial: "Adverse-event follow-up … by Tue Dec 8 17:00 · due by tomorrow" sat under
    "Due today (1)" and was counted as due today."""
    now = at(calendar, WED, "09:30")
    due = at(calendar, WED, "09:00")
    deadline = at(calendar, FRI, "17:00")  # Thursday is Thanksgiving: by Friday
    tomorrow = at(calendar, THANKSGIVING, "17:00")
    assert countdown_text(now, due, tomorrow, calendar) == "due by tomorrow"
    assert section_of(now, due, tomorrow, calendar, 7) is Section.UPCOMING
    assert section_of(now, due, deadline, calendar, 7) is Section.UPCOMING
    # By the end of today, it is due today; past its deadline, overdue.
    today = at(calendar, WED, "17:00")
    assert countdown_text(now, due, today, calendar) == "due today by 5:00 PM"
    assert section_of(now, due, today, calendar, 7) is Section.DUE_TODAY
    assert section_of(at(calendar, WED, "17:01"), due, today, calendar, 7) is Section.OVERDUE


@pytest.mark.parametrize("hhmm", ["00:30", "08:00", "13:00", "23:30"])
@pytest.mark.parametrize("days_on", range(10))
def test_due_today_is_what_the_countdown_says_due_today(
    catalog: Catalog, calendar: ClinicCalendar, days_on: int, hhmm: str
) -> None:
    """Whatever the follow-up and the moment: under "Due today" exactly when its own words say
    "due today"."""
    now = at(calendar, WED + dt.timedelta(days=days_on), hhmm)
    days = catalog.settings.followups.upcoming_days
    for session_type in ("spravato", "iv_infusion"):
        for item in owed(catalog, calendar, session_type, WED, "completed").values():
            section = section_of(now, item.due, item.deadline, calendar, days)
            words = countdown_text(now, item.due, item.deadline, calendar)
            assert (section is Section.DUE_TODAY) == words.startswith("due today"), (
                item,
                section,
                words,
            )
