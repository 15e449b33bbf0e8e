"""A closed day's re-plan of a maintenance session keeps the series' rhythm, and the gap to the
patient's next series (the user trial: session 6/6 pulled a week earlier, 21 days before the
next series' first dose, and nothing said so).

Ada has two Spravato maintenance series: the first weekly, then its sessions 5/6 and 6/6 two
weeks apart; the second starts two weeks after the first's last.  The clinic closes on 6/6's
day.  On a real clinic (SQLite and PostgreSQL), dates from the clinic's today (``utcnow`` at
the clinic), so the tests pass whatever day they run, also under ``faketime +400d``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest
from sqlalchemy import update

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.rule_check import RuleRefused
from ketadesk.services.clinic.integrity_rules import rule_warnings
from ketadesk.services.common.context import SYSTEM, Actor, utcnow
from ketadesk.services.patients.patient_record import patient_record
from ketadesk.services.printing.call_list import call_list, calls_layout
from ketadesk.services.settings import consequences
from ketadesk.services.settings.availability import Unavailability
from ketadesk.store.models import Appointment
from tests.clinic_fixtures import SmallClinic, build_small_clinic, extend_authorizations

NURSE = Actor(user_id=None, username="kim", role="nurse")
SPRAVATO = {
    "room": "Room 2",
    "monitor": "Monitor 2",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
#: The first series, on Wednesdays (days from a Monday): weekly, then two weeks to 6/6.
FIRST = (2, 9, 16, 23, 30, 44)
#: The second series' first session, two weeks after the first's last.
SECOND_STARTS = 58
#: Days from the Monday on which no weekday may be a holiday (the re-plan's weeks).
OPEN_DAYS = 64


@dataclass
class TwoSeries:
    clinic: SmallClinic
    now: dt.datetime
    monday: dt.date
    first: list[int] = field(default_factory=list)
    second: list[int] = field(default_factory=list)

    def day(self, offset: int) -> dt.date:
        return self.monday + dt.timedelta(days=offset)

    def day_of(self, appointment_id: int) -> dt.date:
        with self.clinic.db.read() as s:
            row = s.get(Appointment, appointment_id)
            assert row is not None
            return self.clinic.calendar.local_date(row.starts_at)

    def book(self, days: Sequence[dt.date]) -> list[int]:
        sessions = tuple(
            self.clinic.session("spravato", d, "10:00", SPRAVATO, index=n + 1)
            for n, d in enumerate(days)
        )
        result = booking.book(
            self.clinic.db,
            SYSTEM,
            BookingRequest(
                patient_id=self.clinic.ids["Ada Lovelace"],
                sessions=sessions,
                protocol="spravato_maintenance",
            ),
            now=self.now,
        )
        return list(result.appointment_ids)

    def second_days(self, first: int) -> list[dt.date]:
        """Six weekly days from ``first``, each on the next open weekday."""
        out: list[dt.date] = []
        for n in range(6):
            day = self.day(first + 7 * n)
            while day.weekday() > 4 or self.clinic.calendar.closed_reason(day):
                day += dt.timedelta(days=1)
            out.append(day)
        return out

    def close(self, first: int, days: int = 1) -> consequences.Consequences:
        cal = self.clinic.calendar
        proposed = Unavailability(
            "closure",
            cal.at_local(self.day(first), 0),
            cal.at_local(self.day(first + days), 0),
            "Snow closure",
        )
        return consequences.preview(self.clinic.db, proposed, now=self.now)


@pytest.fixture
def two_series(db_url: str) -> Iterator[TwoSeries]:
    clinic = build_small_clinic(db_url)
    now = utcnow()
    local = clinic.calendar.local_date(now)
    extend_authorizations(clinic, local + dt.timedelta(days=800))
    monday = local + dt.timedelta(days=7 + (7 - local.weekday()) % 7)
    while any(
        clinic.calendar.closed_reason(monday + dt.timedelta(days=d))
        for d in range(OPEN_DAYS)
        if (monday + dt.timedelta(days=d)).weekday() < 5
    ):
        monday += dt.timedelta(days=7)
    t = TwoSeries(clinic, now, monday)
    t.first = t.book([t.day(d) for d in FIRST])
    t.second = t.book(t.second_days(SECOND_STARTS))
    yield t
    clinic.db.dispose()


def test_a_closed_maintenance_day_moves_the_session_to_the_nearest_later_day_keeping_the_gaps(
    two_series: TwoSeries,
) -> None:
    """Not a week earlier on its own weekday (7 days after 5/6, 21 before the next series):
    the Thursday after, 15 days after 5/6 and 13 before the next series, within 6-16."""
    t = two_series
    last = t.first[-1]
    preview = t.close(FIRST[-1])
    assert [b.appointment_id for b in preview.broken] == [last]
    assert preview.unplaced == ()
    move = preview.move_of(last)
    assert move is not None
    new_day = t.clinic.calendar.local_date(move.new.start)
    assert new_day == t.day(FIRST[-1] + 1), new_day
    assert [m.appointment_id for m in preview.moves] == [last]  # nothing else moves
    assert (new_day - t.day(FIRST[-2])).days <= 16
    assert (t.day_of(t.second[0]) - new_day).days <= 16


def test_a_week_closed_leaves_the_session_unplaced_naming_the_gap_to_the_next_series(
    two_series: TwoSeries,
) -> None:
    """The whole week of 6/6 closed: the week before would leave 21 days to the next series
    (``series_gap``), the Monday after 19 days after 5/6 (``max_gap``); the session is left
    for a person, the reason naming each day tried and what ruled it out, and the printed call
    asks for a new time rather than telling one."""
    t = two_series
    last = t.first[-1]
    monday = FIRST[-1] - 2
    preview = t.close(monday, days=5)
    assert preview.move_of(last) is None
    [unplaced] = preview.unplaced
    problem = unplaced.problem
    assert "[series_gap]" in problem, problem
    assert "Days tried: " in problem
    tried = problem.split("Days tried: ")[1]
    # The week before (6/6's own weekday among them): too far from the next series.
    before = t.day(FIRST[-1] - 8), t.day(FIRST[-1] - 5)
    assert f"{_md(before[0])} to {_md(before[1])}: gap between series [series_gap]" in tried
    closed = t.day(monday), t.day(monday + 4)
    assert f"{_md(closed[0])} to {_md(closed[1])}: clinic closed, Snow closure" in tried
    assert "too far apart [max_gap]" in tried
    assert "Saturdays" not in tried  # the days the clinic never opens go unsaid
    assert "((" not in problem
    assert "))" not in problem

    consequences.apply(t.clinic.db, SYSTEM, preview, now=t.now)
    calls = call_list(t.clinic.db, SYSTEM, t.clinic.calendar.local_date(t.now), now=t.now)
    [call] = [c for c in calls.calls if c.session.startswith("Schedule change")]
    assert "needs a new time, none found: " in call.session
    assert "Tell: the new time" not in call.ask
    assert "Agree a new time" in call.ask
    text = "".join(b.html for b in calls_layout(calls).blocks)
    assert "needs a new time, none found" in text


def test_a_next_series_three_weeks_after_is_refused_and_check_names_it(
    two_series: TwoSeries,
) -> None:
    """Booking, and ``ketadesk check`` over what is booked, judge the gap across series."""
    t = two_series
    # A third series 21 days after the second's last: the booking is refused, naming the rule.
    third_first = (t.day_of(t.second[-1]) - t.monday).days + 21
    with pytest.raises(RuleRefused, match=r"Gap between series \[series_gap\]") as refused:
        t.book(t.second_days(third_first))
    assert "would be 21 days apart" in str(refused.value)
    assert "6-16 days after the previous series" in str(refused.value)
    assert not [p for p in _check(t) if "[series_gap]" in p]

    # The first series' last session pulled a week earlier behind the rules' back (as the
    # trial's re-plan did): ``ketadesk check`` says so.
    with t.clinic.db.write() as s:
        row = s.get(Appointment, t.first[-1])
        assert row is not None
        s.execute(
            update(Appointment)
            .where(Appointment.id == row.id)
            .values(
                starts_at=row.starts_at - dt.timedelta(days=7),
                ends_at=row.ends_at - dt.timedelta(days=7),
            )
        )
    [warning] = [p for p in _check(t) if "[series_gap]" in p]
    assert "21 days apart" in warning
    # And the patient record, which said "Gaps: 7-14 days, within the protocol".
    record = patient_record(t.clinic.db, NURSE, t.clinic.ids["Ada Lovelace"], now=t.now)
    second = next(p for p in record.series if t.second[0] in {x.appointment_id for x in p.sessions})
    [outside] = [g for p in record.series for g in p.gaps_outside_rule]
    assert outside in second.gaps
    assert outside.description == (
        "Previous series' 6 → this series' 1: 21 days, too far apart "
        "(6-16 days after the previous series)"
    )


def _md(day: dt.date) -> str:
    return f"{day:%a} {day.month}/{day.day}"


def _check(t: TwoSeries) -> list[str]:
    with t.clinic.db.read() as s:
        return [p.message for p in rule_warnings(s)]
