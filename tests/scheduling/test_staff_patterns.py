"""Shifts every other week, and staff limited to some phases: plain data, no database."""

from __future__ import annotations

import dataclasses
import datetime as dt

from ketadesk.scheduling.calendar import ShiftPattern
from ketadesk.scheduling.catalog import ResourceKind
from ketadesk.scheduling.model import ResourceInfo
from tests.scheduling.conftest import DemoClinic

MONDAY = dt.date(2027, 3, 1)


def test_an_every_other_week_shift_works_its_anchor_week_and_every_second_one() -> None:
    friday = MONDAY + dt.timedelta(days=4)
    shift = ShiftPattern(
        1, 4, 9 * 60, 13 * 60, every_n_weeks=2, anchor=MONDAY + dt.timedelta(days=2)
    )
    assert shift.applies(friday)
    assert not shift.applies(friday + dt.timedelta(weeks=1))
    assert shift.applies(friday + dt.timedelta(weeks=2))
    assert shift.applies(friday - dt.timedelta(weeks=2))
    assert not shift.applies(friday - dt.timedelta(weeks=1))
    assert not shift.applies(friday + dt.timedelta(days=1))  # another weekday
    weekly = ShiftPattern(1, 4, 9 * 60, 13 * 60)
    assert weekly.applies(friday + dt.timedelta(weeks=1))


def test_the_calendar_has_no_hours_for_her_off_week(clinic: DemoClinic) -> None:
    ana = clinic.id("Nurse Ana")
    shifts = tuple(
        dataclasses.replace(s, every_n_weeks=2, anchor=MONDAY) if s.resource_id == ana else s
        for s in clinic.shifts
    )
    calendar = clinic.calendar(shifts=shifts)
    tuesday = MONDAY + dt.timedelta(days=1)
    assert calendar.shift_intervals(ana, tuesday)
    assert calendar.shift_intervals(ana, tuesday + dt.timedelta(weeks=1)) == []


def test_a_nurse_qualified_for_spravato_only_is_no_candidate_for_an_infusion(
    clinic: DemoClinic,
) -> None:
    iv, spravato = clinic.spec("iv_infusion"), clinic.spec("spravato")
    ben = clinic.id("Nurse Ben")
    spravato_nurse = next(n for n in spravato.needs if n.key == "nurse")
    only_spravato = frozenset(("spravato", p) for p in spravato.need_phases(spravato_nurse))
    resources = tuple(
        dataclasses.replace(r, qualifications=only_spravato) if r.id == ben else r
        for r in clinic.resources
    )
    availability = clinic.availability(resources=resources)
    iv_nurse = next(n for n in iv.needs if n.key == "nurse")
    assert iv.need_phases(iv_nurse) == ("infusion", "recovery")
    assert ben not in [r.id for r in availability.candidates_for(iv, iv_nurse)]
    assert ben in [r.id for r in availability.candidates_for(spravato, spravato_nurse)]
    anyone = ResourceInfo(99, ResourceKind.STAFF, "nurse", "Nurse Cy")
    assert anyone.may_serve("iv_infusion", ("infusion", "recovery"))
