"""The words of a closed day's session left with no new place: each day tried and what ruled it
out, the rule's own words shortened, no parentheses nested (the trial's "no opening Sun Dec 13
- Wed Dec 16 ...: clinic closed" while Mon and Tue were ruled out by the doses-per-week cap).
Plain data: the shipped catalogue, fixed dates (no clock is read)."""

from __future__ import annotations

import datetime as dt

from ketadesk.config import load_default_catalog
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.protocol_rules import window_cap_problems
from ketadesk.services.settings.consequences import days_ruled_out
from ketadesk.store.models import Appointment

WEDNESDAY = dt.date(2026, 12, 16)


def test_each_day_tried_names_what_ruled_it_out() -> None:
    catalog = load_default_catalog()
    calendar = ClinicCalendar(catalog.settings)
    protocol = catalog.protocols["spravato_trd"]
    monday, tuesday = WEDNESDAY - dt.timedelta(days=2), WEDNESDAY - dt.timedelta(days=1)
    thursday_before = WEDNESDAY - dt.timedelta(days=6)

    def capped(day: dt.date) -> str:
        # The planner's own words for the cap (as a re-flow onto ``day`` reports them).
        placed = [(3, "spravato", thursday_before), (4, "spravato", WEDNESDAY - dt.timedelta(5))]
        found = window_cap_problems(protocol, [*placed, (5, "spravato", day)])
        return "the series' spacing cannot be kept: " + "; ".join(found)

    ruled_out = {
        monday: capped(monday),
        tuesday: capped(tuesday),
        WEDNESDAY: "clinic closed: Snow closure",
        WEDNESDAY + dt.timedelta(days=3): "clinic closed on Saturdays",
        WEDNESDAY + dt.timedelta(days=5): (
            "the series' spacing cannot be kept: sessions 5 and 6 are 6 days apart; "
            "Induction (weeks 1-4, twice weekly) asks for 2-5"
        ),
    }
    row = Appointment(starts_at=calendar.at_local(WEDNESDAY, 10 * 60))
    assert days_ruled_out(ruled_out, row, calendar) == (
        "Wed 12/16: clinic closed, Snow closure; "
        "Mon 12/14, Tue 12/15: a third dose in 7 days [window_cap]; "
        "Mon 12/21: sessions 5 and 6 too far apart [max_gap]"
    )
