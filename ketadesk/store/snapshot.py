"""Read the database into the scheduling package's plain data, for one window of time.

Cost follows the window asked for, not the length of the clinic's history: every query here is
bounded by the window and served by an index on (starts_at, ends_at).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from ketadesk.config import Catalog
from ketadesk.scheduling.availability import Availability, HoldRow
from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval, ShiftPattern
from ketadesk.scheduling.catalog import ResourceKind
from ketadesk.scheduling.model import ResourceInfo
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Closure, Resource, ResourceHold, StaffShift
from ketadesk.store.queries import overlapping


@dataclass(frozen=True)
class Snapshot:
    """What the planner needs to know about one window: resources, holds and the calendar."""

    window: Interval
    catalog: Catalog
    calendar: ClinicCalendar
    resources: tuple[ResourceInfo, ...]
    hold_rows: tuple[HoldRow, ...]

    def availability(self) -> Availability:
        """The scheduling package's view of this window, ready for questions."""
        return Availability(
            self.calendar, self.resources, window=self.window, hold_rows=self.hold_rows
        )


def load_resources(session: Session, *, include_inactive: bool = False) -> list[ResourceInfo]:
    stmt = select(Resource).order_by(Resource.kind, Resource.sort_order, Resource.name)
    if not include_inactive:
        stmt = stmt.where(Resource.active.is_(True))
    return [
        ResourceInfo(
            id=r.id,
            kind=ResourceKind(r.kind),
            subkind=r.subkind,
            name=r.name,
            capacity=r.capacity,
            active=r.active,
            sort_order=r.sort_order,
        )
        for r in session.scalars(stmt)
    ]


def load_closures(session: Session, window: Interval) -> list[ClosureSpan]:
    stmt = select(
        Closure.starts_at, Closure.ends_at, Closure.reason, Closure.kind, Closure.resource_id
    ).where(Closure.starts_at < window.end, Closure.ends_at > window.start)
    return [
        ClosureSpan(span=Interval(start, end), reason=reason, kind=kind, resource_id=rid)
        for start, end, reason, kind, rid in session.execute(stmt)
    ]


def load_shifts(session: Session) -> list[ShiftPattern]:
    stmt = select(
        StaffShift.resource_id,
        StaffShift.weekday,
        StaffShift.start_minute,
        StaffShift.end_minute,
        StaffShift.valid_from,
        StaffShift.valid_until,
    )
    return [ShiftPattern(*row) for row in session.execute(stmt)]


class epoch_seconds(FunctionElement[int]):
    """Seconds since 1970 of a stored UTC timestamp, computed by the database (no parsing of
    timestamps in Python: the planner's hot path reads thousands of holds)."""

    type = Integer()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS BIGINT)"


def load_hold_rows(session: Session, window: Interval) -> list[HoldRow]:
    """The active holds overlapping ``window`` as plain tuples (see ``HoldRow``)."""
    stmt = select(
        ResourceHold.resource_id,
        epoch_seconds(ResourceHold.starts_at),
        epoch_seconds(ResourceHold.ends_at),
        ResourceHold.exclusive,
        ResourceHold.units,
    ).where(
        ResourceHold.active.is_(True),
        *overlapping(ResourceHold.starts_at, ResourceHold.ends_at, window),
    )
    return [
        (rid, start, end, bool(exclusive), units)
        for rid, start, end, exclusive, units in session.execute(stmt)
    ]


def load_calendar(session: Session, window: Interval, catalog: Catalog) -> ClinicCalendar:
    return ClinicCalendar(
        settings=catalog.settings,
        closures=tuple(load_closures(session, window)),
        shifts=tuple(load_shifts(session)),
    )


def load_snapshot(session: Session, window: Interval, catalog: Catalog | None = None) -> Snapshot:
    catalog = catalog or load_catalog(session)
    return Snapshot(
        window=window,
        catalog=catalog,
        calendar=load_calendar(session, window, catalog),
        resources=tuple(load_resources(session)),
        hold_rows=tuple(load_hold_rows(session, window)),
    )
