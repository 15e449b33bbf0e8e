"""Read the database into the scheduling package's plain data, for one window of time.

Cost follows the window asked for, not the length of the clinic's history: every query here is
bounded by the window and served by an index on (starts_at, ends_at).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval, ShiftPattern
from ketadesk.scheduling.catalog import HoldMode, ResourceKind
from ketadesk.scheduling.model import ExistingHold, ResourceInfo
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Closure, Resource, ResourceHold, StaffShift


@dataclass(frozen=True)
class Snapshot:
    """What the planner needs to know about one window: resources, holds and the calendar."""

    window: Interval
    catalog: Catalog
    calendar: ClinicCalendar
    resources: tuple[ResourceInfo, ...]
    holds: tuple[ExistingHold, ...]


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
    stmt = select(Closure).where(Closure.starts_at < window.end, Closure.ends_at > window.start)
    return [
        ClosureSpan(
            span=Interval(c.starts_at, c.ends_at),
            reason=c.reason,
            kind=c.kind,
            resource_id=c.resource_id,
        )
        for c in session.scalars(stmt)
    ]


def load_shifts(session: Session) -> list[ShiftPattern]:
    return [
        ShiftPattern(
            resource_id=s.resource_id,
            weekday=s.weekday,
            start_minute=s.start_minute,
            end_minute=s.end_minute,
            valid_from=s.valid_from,
            valid_until=s.valid_until,
        )
        for s in session.scalars(select(StaffShift))
    ]


def load_holds(session: Session, window: Interval) -> list[ExistingHold]:
    stmt = select(
        ResourceHold.resource_id,
        ResourceHold.starts_at,
        ResourceHold.ends_at,
        ResourceHold.mode,
        ResourceHold.units,
        ResourceHold.appointment_id,
    ).where(
        ResourceHold.active.is_(True),
        ResourceHold.starts_at < window.end,
        ResourceHold.ends_at > window.start,
    )
    return [
        ExistingHold(
            resource_id=row.resource_id,
            span=Interval(row.starts_at, row.ends_at),
            mode=HoldMode(row.mode),
            units=row.units,
            appointment_id=row.appointment_id,
        )
        for row in session.execute(stmt)
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
        holds=tuple(load_holds(session, window)),
    )
