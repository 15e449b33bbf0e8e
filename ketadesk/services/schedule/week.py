"""Seven days of the clinic for the week view, for some rooms or for one staff member."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ketadesk.services.schedule.day import core_queries
from ketadesk.services.schedule.day_rows import day_schedule_from_rows, read_catalog, read_day_rows
from ketadesk.services.schedule.day_schedule import DaySchedule, RoomColumn, in_order, shifted

if TYPE_CHECKING:
    from ketadesk.config import Catalog
    from ketadesk.store.database import Database


@dataclass(frozen=True, slots=True)
class WeekSchedule:
    """Seven days of the clinic for the week view, for some rooms or for one staff member.

    Attributes:
        first_day: the first local day shown.
        days: one DaySchedule per day, already narrowed to the rooms (``room_ids``) or to the
            staff member (``staff_id``) asked for: their columns, sessions and closures.
        label: what the week shows, in words: "All rooms", "Room 1, Room 2", "Nurse Kim".
        columns: every column of the week, whatever ``room_ids`` kept (the rooms of its
            days in their order, the no-room column last): what the week can be narrowed to.
        session_types: (code, name) of every session type booked in the week, in any
            column, in order of name: the other choice of the left panel's filters.
    """

    first_day: dt.date
    days: tuple[DaySchedule, ...]
    label: str
    room_ids: frozenset[int | None] | None = None
    staff_id: int | None = None
    columns: tuple[RoomColumn, ...] = ()
    session_types: tuple[tuple[str, str], ...] = ()

    @property
    def last_day(self) -> dt.date:
        return self.days[-1].day if self.days else self.first_day

    @property
    def clinic_name(self) -> str:
        return self.days[0].clinic_name if self.days else ""

    @property
    def time_format(self) -> str:
        """How the clinic reads a time of day (its days' ``time_format``)."""
        return self.days[0].time_format if self.days else "12h"

    @property
    def active_count(self) -> int:
        return sum(d.active_count for d in self.days)


WEEK_DAYS = 7


def week_schedule(
    db: Database,
    first_day: dt.date,
    *,
    room_ids: Iterable[int | None] | None = None,
    staff_id: int | None = None,
    catalog: Catalog | None = None,
) -> WeekSchedule:
    """Seven days from ``first_day`` in one read transaction, for the week view.

    ``room_ids`` keeps only those rooms (None among them: sessions without a room); ``staff_id``
    keeps only that staff member's sessions, off-shift hours and time off.  Without either,
    every room.
    """
    if room_ids is not None and staff_id is not None:
        raise ValueError("a week is shown for some rooms or for one staff member, not both")
    grouping = "staff" if staff_id is not None else "room"
    with core_queries(db) as queries:
        if catalog is None:
            catalog = read_catalog(queries)
        rows = [
            read_day_rows(
                queries, first_day + dt.timedelta(days=i), catalog, grouping, counter=False
            )
            for i in range(WEEK_DAYS)
        ]
    keep: frozenset[int | None] | None
    if staff_id is not None:
        keep = frozenset({staff_id})
        days = [day_schedule_from_rows(r, always_staff=keep) for r in rows]
    else:
        keep = frozenset(room_ids) if room_ids is not None else None
        days = [day_schedule_from_rows(r) for r in rows]
    columns, session_types = _every_column(days), _every_session_type(days)
    if keep is not None:
        days = [_narrowed(d, keep) for d in days]
    return WeekSchedule(
        first_day=first_day,
        days=tuple(days),
        label=_week_label(days, keep, staff_id),
        room_ids=keep if staff_id is None else None,
        staff_id=staff_id,
        columns=columns,
        session_types=session_types,
    )


def _every_column(days: Sequence[DaySchedule]) -> tuple[RoomColumn, ...]:
    seen: dict[int | None, RoomColumn] = {}
    for d in days:
        for c in d.rooms:
            seen.setdefault(c.id, c)
    return tuple(sorted(seen.values(), key=lambda c: c.id is None))  # a stable sort


def _every_session_type(days: Sequence[DaySchedule]) -> tuple[tuple[str, str], ...]:
    names = {a.session_type_code: a.session_type_name for d in days for a in d.appointments}
    return tuple(sorted(names.items(), key=lambda kv: (kv[1], kv[0])))


def _narrowed(day: DaySchedule, keep: frozenset[int | None]) -> DaySchedule:
    return dataclasses.replace(
        day,
        rooms=tuple(c for c in day.rooms if c.id in keep),
        appointments=tuple(a for a in day.appointments if a.room_id in keep),
        closures=tuple(c for c in day.closures if c.room_id is None or c.room_id in keep),
    )


def _week_label(
    days: Sequence[DaySchedule], keep: frozenset[int | None] | None, staff_id: int | None
) -> str:
    if keep is None:
        return "All rooms"
    names: dict[int | None, str] = {}
    for d in days:
        for c in d.rooms:
            names.setdefault(c.id, c.name)
    if staff_id is not None:
        return names.get(staff_id, f"Staff member #{staff_id}")
    shown = [names[i] for i in sorted(names, key=lambda i: (i is None, i or 0)) if i in keep]
    return ", ".join(shown) if shown else "No rooms"


def week_with_moved(
    week: WeekSchedule, appointment_id: int, start: dt.datetime, room_id: int | None
) -> WeekSchedule | None:
    """``week`` as it will read once the session ``appointment_id`` has moved to ``start``
    (aware) in ``room_id``: shown at once on a drop or an undo, before the write answers.  It
    leaves its day and joins the day of ``start`` (if in the week and, in a week of some rooms,
    its room is one of them).  None when the session is not in the week."""
    copies = [a for d in week.days for a in d.appointments if a.id == appointment_id]
    if not copies:
        return None
    local = start.astimezone(copies[0].start.tzinfo)
    moved = [shifted(a, local) for a in copies]
    if week.staff_id is None:
        names = {c.id: c.name for d in week.days for c in d.rooms}
        name = names.get(room_id, copies[0].room_name) if room_id is not None else ""
        moved = [dataclasses.replace(a, room_id=room_id, room_name=name) for a in moved]
        if week.room_ids is not None and room_id not in week.room_ids:
            moved = []
    days = []
    for d in week.days:
        kept = [a for a in d.appointments if a.id != appointment_id]
        if d.day == local.date():
            kept += moved
        days.append(dataclasses.replace(d, appointments=in_order(kept)))
    return dataclasses.replace(week, days=tuple(days))
