"""A small, named demo clinic built from plain data, for the scheduling tests.

Three treatment rooms, one office, three vital-signs monitors, two pulse oximeters, two nurses,
one prescriber and one therapist, all working Monday to Friday.  Settings, session types and
protocols are the shipped defaults (``load_default_catalog``), so the tests exercise the real
configuration rather than numbers of their own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from ketadesk.config import Catalog, load_default_catalog
from ketadesk.scheduling.availability import Availability
from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval, ShiftPattern
from ketadesk.scheduling.catalog import (
    WEEKDAYS,
    ClinicSettings,
    HoldMode,
    ProtocolSpec,
    ResourceKind,
    SessionTypeSpec,
)
from ketadesk.scheduling.model import ExistingHold, ResourceInfo


def minutes(hhmm: str) -> int:
    hh, mm = hhmm.split(":")
    return int(hh) * 60 + int(mm)


@dataclass(frozen=True)
class DemoClinic:
    """The demo clinic: resources by name, weekly shifts, and ways to build calendars on it."""

    catalog: Catalog
    resources: tuple[ResourceInfo, ...]
    shifts: tuple[ShiftPattern, ...]

    @property
    def settings(self) -> ClinicSettings:
        return self.catalog.settings

    def id(self, name: str) -> int:
        return next(r.id for r in self.resources if r.name == name)

    def spec(self, code: str) -> SessionTypeSpec:
        return self.catalog.session_types[code]

    def protocol(self, code: str) -> ProtocolSpec:
        return self.catalog.protocols[code]

    def calendar(
        self,
        closures: Sequence[ClosureSpan] = (),
        settings: ClinicSettings | None = None,
        shifts: Sequence[ShiftPattern] | None = None,
    ) -> ClinicCalendar:
        return ClinicCalendar(
            settings=settings or self.settings,
            closures=tuple(closures),
            shifts=tuple(self.shifts if shifts is None else shifts),
        )

    def availability(
        self,
        holds: Sequence[ExistingHold] = (),
        closures: Sequence[ClosureSpan] = (),
        *,
        shifts: Sequence[ShiftPattern] | None = None,
        resources: Sequence[ResourceInfo] | None = None,
    ) -> Availability:
        return Availability(
            self.calendar(closures, shifts=shifts),
            self.resources if resources is None else resources,
            holds,
        )

    def at(self, day: dt.date, hhmm: str) -> dt.datetime:
        """The UTC instant of a local wall-clock time."""
        return self.calendar().at_local(day, minutes(hhmm))

    def span(self, day: dt.date, start: str, end: str) -> Interval:
        return Interval(self.at(day, start), self.at(day, end))

    def hold(
        self,
        name: str,
        day: dt.date,
        start: str,
        end: str,
        mode: HoldMode = HoldMode.EXCLUSIVE,
    ) -> ExistingHold:
        return ExistingHold(
            resource_id=self.id(name),
            span=self.span(day, start, end),
            mode=mode,
            units=0 if mode is HoldMode.PRESENCE else 1,
        )

    def closure(
        self, day: dt.date, start: str, end: str, reason: str, name: str | None = None
    ) -> ClosureSpan:
        return ClosureSpan(
            span=self.span(day, start, end),
            reason=reason,
            kind="maintenance" if name else "closure",
            resource_id=self.id(name) if name else None,
        )

    def local(self, instant: dt.datetime) -> dt.datetime:
        return self.calendar().local(instant)


def build_demo_clinic(catalog: Catalog) -> DemoClinic:
    settings = catalog.settings
    resources: list[ResourceInfo] = []

    def add(rid: int, kind: ResourceKind, subkind: str, name: str, capacity: int = 1) -> None:
        resources.append(ResourceInfo(rid, kind, subkind, name, capacity, sort_order=rid))

    for i in (1, 2, 3):
        add(i, ResourceKind.ROOM, "treatment", f"Room {i}")
    add(4, ResourceKind.ROOM, "office", "Office")
    for i in (1, 2, 3):
        add(10 + i, ResourceKind.EQUIPMENT, "vital_signs_monitor", f"Monitor {i}")
    for i in (1, 2):
        add(20 + i, ResourceKind.EQUIPMENT, "pulse_oximeter", f"Oximeter {i}")
    staff = [
        (31, "nurse", "Nurse Ana"),
        (32, "nurse", "Nurse Ben"),
        (41, "prescriber", "Dr Chen"),
        (51, "therapist", "Tess Rivera"),
    ]
    for rid, role, name in staff:
        add(rid, ResourceKind.STAFF, role, name, settings.capacity_for_role(role))
    # Everyone works the clinic's opening hours, Monday to Friday.
    shifts = []
    for weekday, key in enumerate(WEEKDAYS):
        hours = settings.hours[key]
        if hours is None:
            continue
        opens, closes = hours
        for rid, _role, _name in staff:
            shifts.append(
                ShiftPattern(
                    rid,
                    weekday,
                    opens.hour * 60 + opens.minute,
                    closes.hour * 60 + closes.minute,
                )
            )
    return DemoClinic(catalog, tuple(resources), tuple(shifts))


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The shipped catalogue, its times of day said 24-hour ("10:00–11:40") as these tests'
    expectations are written: they are about the rules, not about how a time is said (the
    shipped default, 12-hour, is tested by test_dates.py and where a refusal's words are)."""
    shipped = load_default_catalog()
    return dataclasses.replace(
        shipped, settings=dataclasses.replace(shipped.settings, time_format="24h")
    )


@pytest.fixture(scope="session")
def clinic(catalog: Catalog) -> DemoClinic:
    return build_demo_clinic(catalog)


def with_shift(clinic: DemoClinic, name: str, start: str, end: str) -> tuple[ShiftPattern, ...]:
    """The clinic's shifts with one staff member working ``start``-``end`` every weekday."""
    rid = clinic.id(name)
    others = [s for s in clinic.shifts if s.resource_id != rid]
    mine = [
        dataclasses.replace(s, start_minute=minutes(start), end_minute=minutes(end))
        for s in clinic.shifts
        if s.resource_id == rid
    ]
    return tuple(others + mine)
