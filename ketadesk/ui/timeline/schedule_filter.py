"""Narrowing a day or a week to some rooms or session types, for the left panel's filters.

A filter only hides what the user asked not to see; it changes no data and knows no clinic
rule.  It is applied to the ``DaySchedule`` (or each day of the ``WeekSchedule``) the services
returned, before the view draws it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ketadesk.scheduling.words import counted
from ketadesk.services.schedule.day_schedule import DaySchedule

if TYPE_CHECKING:  # its module reads the database: not imported at start-up for a type
    from ketadesk.services.schedule.week import WeekSchedule


@dataclass(frozen=True, slots=True)
class ScheduleFilter:
    """What to show: ``None`` means everything of that kind.

    Attributes:
        column_ids: the columns (rooms, or staff members on the staff view) to keep.
        session_types: the session-type codes to keep.
    """

    column_ids: frozenset[int | None] | None = None
    session_types: frozenset[str] | None = None

    @property
    def is_empty(self) -> bool:
        return self.column_ids is None and self.session_types is None

    def apply(self, schedule: DaySchedule) -> DaySchedule:
        if self.is_empty:
            return schedule
        columns = schedule.rooms
        appointments = schedule.appointments
        closures = schedule.closures
        if self.column_ids is not None:
            keep = self.column_ids
            columns = tuple(c for c in columns if c.id in keep)
            appointments = tuple(a for a in appointments if a.room_id in keep)
            closures = tuple(c for c in closures if c.room_id is None or c.room_id in keep)
        if self.session_types is not None:
            types = self.session_types
            appointments = tuple(a for a in appointments if a.session_type_code in types)
        return dataclasses.replace(
            schedule, rooms=columns, appointments=appointments, closures=closures
        )

    def apply_week(self, week: WeekSchedule) -> WeekSchedule:
        """Each day of ``week`` narrowed as ``apply`` narrows one; ``week`` itself when the
        filter hides nothing (a week laid out ahead is then shown as it was laid out)."""
        if self.is_empty:
            return week
        return dataclasses.replace(week, days=tuple(self.apply(d) for d in week.days))

    def describe(self, schedule: DaySchedule) -> str:
        """A few words for the status bar: what is hidden."""
        parts = []
        if self.column_ids is not None:
            shown = sum(1 for c in schedule.rooms if c.id in self.column_ids)
            parts.append(f"{shown} of {len(schedule.rooms)} columns")
        if self.session_types is not None:
            parts.append(counted(len(self.session_types), "session type"))
        return ("filtered: " + ", ".join(parts)) if parts else ""
