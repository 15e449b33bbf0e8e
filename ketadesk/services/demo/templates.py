"""Weekday templates: every slot a room or an office can offer on a weekday, conflict-free
together, placed through the scheduling engine's own availability rules.

A room runs its sessions back to back, a nurse watches only as many rooms as her ratio allows,
and her rooms' dosing starts are staggered so that she is never needed by two at once.  Any
subset of a conflict-free template is conflict-free, so patients then simply take free template
slots on days the clinic is open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ketadesk.config import Catalog
from ketadesk.scheduling.availability import Availability
from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import WEEKDAYS, ResourceKind, ResourceNeed, SessionTypeSpec
from ketadesk.scheduling.model import PlannedHold, hold_units, session_holds
from ketadesk.services.demo.facts import (
    INTAKE,
    INTEGRATION,
    IV,
    KAP,
    ODD_ROOM_DELAY_MINUTES,
    OFFICE_GAP_MINUTES,
    OFFICE_HOURS_DELAY,
    OFFICE_LUNCH,
    PATIENCE_MINUTES,
    REVIEW,
    ROOM_TURNOVER_MINUTES,
    SPRAVATO,
)
from ketadesk.services.demo.layout import Layout, open_minutes
from ketadesk.services.demo.planned import MINUTE, Slot, days_of

# The Monday of the week the weekday templates are laid out on: a winter week, no clock change.
_TEMPLATE_WEEK = dt.date(2001, 1, 8)


class _TemplateBuilder:
    """Places one weekday's slots on minutes of the day, asking the scheduling engine
    (``Availability``, the rules every booking is checked by) whether each session's holds fit.

    The engine answers for real instants, so the weekday is played on a reference date of that
    weekday with no holidays, closures or clock change: a template that fits there fits every
    ordinary week (the days' own closures are taken out later, per day).
    """

    def __init__(self, catalog: Catalog, layout: Layout, weekday: int) -> None:
        self.types = catalog.session_types
        self.layout = layout
        self.weekday = weekday
        self.step = catalog.settings.slot_minutes
        hours = open_minutes(catalog, weekday)
        self.opens, self.closes = hours if hours is not None else (0, 0)
        calendar = ClinicCalendar(
            replace(catalog.settings, holiday_country=""), shifts=tuple(layout.shift_patterns())
        )
        self.day = _TEMPLATE_WEEK + days_of(weekday)
        self.availability = Availability(calendar, layout.resource_infos())
        self.slots: list[Slot] = []

    def _at(self, minute: int) -> dt.datetime:
        return self.availability.calendar.at_local(self.day, minute)

    def _fits(self, holds: Sequence[PlannedHold]) -> bool:
        return not self.availability.refusals(holds)

    def _assign(
        self, spec: SessionTypeSpec, start: int, candidates: Mapping[tuple[str, str], list[int]]
    ) -> dict[str, int] | None:
        if start < self.opens or start + spec.total_minutes > self.closes:
            return None
        at = self._at(start)
        assignment: dict[str, int] = {}
        for need in spec.needs:
            key = (need.kind.value, need.subkind)
            options = candidates.get(key, self.layout.by_subkind.get(key, []))
            chosen = next(
                (rid for rid in options if self._fits(_need_holds(spec, need, at, rid))),
                None,
            )
            if chosen is None:
                if need.optional:
                    continue
                return None
            assignment[need.key] = chosen
        return assignment

    def _commit(self, code: str, start: int, lane: int, assignment: dict[str, int]) -> None:
        spec = self.types[code]
        room_id = None
        clinician = None
        for need in spec.needs:
            rid = assignment.get(need.key)
            if rid is not None and need.kind is ResourceKind.ROOM:
                room_id = rid
        self.availability.add(session_holds(spec, self._at(start), assignment))
        for role in ("nurse", "therapist", "prescriber"):
            clinician = next(
                (r for r in assignment.values() if self.layout.role.get(r) == role), None
            )
            if clinician is not None:
                break
        self.slots.append(
            Slot(
                key=len(self.slots),
                code=code,
                minute=start,
                lane=lane,
                room_id=room_id,
                assignment=tuple(sorted(assignment.items())),
                clinician=clinician,
            )
        )

    def _earliest(
        self,
        code: str,
        after: int,
        candidates: Mapping[tuple[str, str], list[int]],
        lunch: bool,
    ) -> tuple[int, dict[str, int]] | None:
        spec = self.types.get(code)
        if spec is None:
            return None
        total = spec.total_minutes
        start = -(-after // self.step) * self.step
        while start + total <= self.closes:
            if not (lunch and start < OFFICE_LUNCH[1] and OFFICE_LUNCH[0] < start + total):
                assignment = self._assign(spec, start, candidates)
                if assignment is not None:
                    return start, assignment
            start += self.step
        return None

    def run_lane(
        self,
        lane: int,
        cycle: Sequence[str],
        candidates: Mapping[tuple[str, str], list[int]],
        *,
        start: int,
        gap: int,
        lunch: bool = False,
    ) -> None:
        """Sessions back to back, following ``cycle`` while it fits, else whatever fits first."""
        t, position = start, 0
        while True:
            options: list[tuple[int, int, str, dict[str, int]]] = []
            for k in range(len(cycle)):
                code = cycle[(position + k) % len(cycle)]
                found = self._earliest(code, t, candidates, lunch)
                if found is not None:
                    options.append((found[0], k, code, found[1]))
            if not options:
                return
            planned = next((o for o in options if o[1] == 0), None)
            if planned is None or planned[0] > t + PATIENCE_MINUTES:
                planned = min(options)
            begins, k, code, assignment = planned
            self._commit(code, begins, lane, assignment)
            t = begins + self.types[code].total_minutes + gap
            position = (position + k + 1) % len(cycle)


def _need_holds(
    spec: SessionTypeSpec, need: ResourceNeed, start: dt.datetime, resource_id: int
) -> list[PlannedHold]:
    """The holds one need of a session starting at ``start`` takes on ``resource_id`` (what
    ``session_holds`` gives for that need; the template chooses needs one at a time)."""
    return [
        PlannedHold(
            need=need.key,
            resource_id=resource_id,
            mode=hold.mode,
            span=Interval(start + begins * MINUTE, start + ends * MINUTE),
            units=hold_units(hold.mode),
        )
        for hold in need.holds
        for begins, ends in (spec.hold_window(hold),)
    ]


def weekday_template(catalog: Catalog, layout: Layout, weekday: int) -> list[Slot]:
    builder = _TemplateBuilder(catalog, layout, weekday)
    if builder.closes <= builder.opens:
        return []
    kap_days = {
        WEEKDAYS.index(d)
        for p in catalog.protocols.values()
        if any(s.session_type == KAP for s in p.stages)
        for d in p.default_weekdays
    }
    room = (ResourceKind.ROOM.value, "treatment")
    office = (ResourceKind.ROOM.value, "office")
    monitor = (ResourceKind.EQUIPMENT.value, "vital_signs_monitor")
    oximeter = (ResourceKind.EQUIPMENT.value, "pulse_oximeter")
    nurse = (ResourceKind.STAFF.value, "nurse")
    for index, rid in enumerate(layout.rooms):
        if rid in layout.room_oximeter:
            cycle = [SPRAVATO, SPRAVATO, IV] if index % 2 == 0 else [SPRAVATO, IV, SPRAVATO]
        elif weekday in kap_days:
            cycle = [KAP, IV]
        else:
            cycle = [IV]
        candidates = {
            room: [rid],
            monitor: [layout.room_monitor[rid]],
            oximeter: [layout.room_oximeter[rid]] if rid in layout.room_oximeter else [],
            nurse: [layout.room_nurse[rid]],
            office: [],
        }
        builder.run_lane(
            rid,
            cycle,
            candidates,
            start=builder.opens + (index % 2) * ODD_ROOM_DELAY_MINUTES,
            gap=ROOM_TURNOVER_MINUTES,
        )
    offices = layout.offices
    for k, (role, cycle) in enumerate(
        [("prescriber", [INTAKE, REVIEW, REVIEW]), ("therapist", [INTEGRATION])]
    ):
        for j, rid in enumerate(layout.staff(role)):
            shift = layout.shifts.get(rid, {}).get(weekday)
            if shift is None:
                continue
            turn = (j + k * len(layout.staff("prescriber"))) % max(1, len(offices))
            candidates = {
                (ResourceKind.STAFF.value, role): [rid],
                office: offices[turn:] + offices[:turn],
                room: [],
            }
            builder.run_lane(
                rid,
                cycle,
                candidates,
                start=max(builder.opens, shift[0])
                + (OFFICE_HOURS_DELAY if role == "prescriber" else 0),
                gap=OFFICE_GAP_MINUTES,
                lunch=True,
            )
    return builder.slots
