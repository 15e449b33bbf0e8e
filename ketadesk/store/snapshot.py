"""Read the database into the scheduling package's plain data, for one window of time.

Cost follows the window asked for, not the length of the clinic's history: every query here is
bounded by the window and served by an index on (starts_at, ends_at).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Integer, Table, bindparam, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from ketadesk.config import Catalog
from ketadesk.scheduling.availability import Availability, HoldRow
from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval, ShiftPattern
from ketadesk.scheduling.catalog import ClinicSettings, ResourceKind
from ketadesk.scheduling.closure_repeats import expand
from ketadesk.scheduling.model import ResourceInfo
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import (
    Appointment,
    Closure,
    Resource,
    ResourceHold,
    StaffQualification,
    StaffShift,
)
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


_QUALIFICATION = cast(Table, StaffQualification.__table__)
QUALIFICATIONS = select(
    _QUALIFICATION.c.resource_id, _QUALIFICATION.c.session_type, _QUALIFICATION.c.phase
)


def load_qualifications(conn: Connection) -> dict[int, frozenset[tuple[str, str]]]:
    """Per staff member, the (session type, phase) pairs they may be booked for (a staff
    member without any is not in the mapping: they may be booked for anything)."""
    found: dict[int, set[tuple[str, str]]] = {}
    for rid, session_type, phase in conn.execute(QUALIFICATIONS):
        found.setdefault(rid, set()).add((session_type, phase))
    return {rid: frozenset(pairs) for rid, pairs in found.items()}


def load_resources(session: Session, *, include_inactive: bool = False) -> list[ResourceInfo]:
    stmt = select(Resource).order_by(Resource.kind, Resource.sort_order, Resource.name)
    if not include_inactive:
        stmt = stmt.where(Resource.active.is_(True))
    resources = list(session.scalars(stmt))
    qualified = load_qualifications(session.connection())
    return [
        ResourceInfo(
            id=r.id,
            kind=ResourceKind(r.kind),
            subkind=r.subkind,
            name=r.name,
            capacity=r.capacity,
            active=r.active,
            sort_order=r.sort_order,
            qualifications=qualified.get(r.id, frozenset()),
            serves=frozenset(r.serves or ()),
        )
        for r in resources
    ]


_CLOSURE = cast(Table, Closure.__table__)
_SHIFT = cast(Table, StaffShift.__table__)

# Built once (a booking reads both inside its write transaction, so they are on its hot path),
# parameters bound at execution.
_CLOSURES = select(
    _CLOSURE.c.starts_at,
    _CLOSURE.c.ends_at,
    _CLOSURE.c.reason,
    _CLOSURE.c.kind,
    _CLOSURE.c.resource_id,
    _CLOSURE.c.repeat_rule,
).where(_CLOSURE.c.starts_at < bindparam("until"), _CLOSURE.c.ends_at > bindparam("begins"))
_CLOSURES_OF = _CLOSURES.where(
    or_(
        _CLOSURE.c.resource_id.is_(None),
        _CLOSURE.c.resource_id.in_(bindparam("ids", expanding=True)),
    )
)
_SHIFTS = select(
    _SHIFT.c.resource_id,
    _SHIFT.c.weekday,
    _SHIFT.c.start_minute,
    _SHIFT.c.end_minute,
    _SHIFT.c.valid_from,
    _SHIFT.c.valid_until,
    _SHIFT.c.every_n_weeks,
    _SHIFT.c.anchor_date,
)
_SHIFTS_OF = _SHIFTS.where(
    _SHIFT.c.resource_id.in_(bindparam("ids", expanding=True)),
    or_(_SHIFT.c.valid_from.is_(None), _SHIFT.c.valid_from <= bindparam("last")),
    or_(_SHIFT.c.valid_until.is_(None), _SHIFT.c.valid_until >= bindparam("first")),
)


def autoflush(session: Session) -> None:
    """What an ORM query does first: write the session's pending changes, so that a plain
    Core read sees them too (nearly free when nothing is pending)."""
    if session.autoflush:
        session.flush()


def load_closures(
    session: Session,
    window: Interval,
    resource_ids: Collection[int] | None = None,
    *,
    timezone: str,
) -> list[ClosureSpan]:
    """Closures overlapping ``window``: the clinic's, and every resource's (or, given
    ``resource_ids``, only those resources'); a repeating one as each of its days' stretches
    that meets the window, in the clinic's ``timezone``."""
    autoflush(session)
    params: dict[str, Any] = {"until": window.end, "begins": window.start}
    stmt = _CLOSURES
    if resource_ids is not None:
        stmt = _CLOSURES_OF
        params["ids"] = sorted(resource_ids)
    zone = ZoneInfo(timezone)
    return [
        occurrence
        for start, end, reason, kind, rid, rule in session.connection().execute(stmt, params)
        for occurrence in expand(
            ClosureSpan(span=Interval(start, end), reason=reason, kind=kind, resource_id=rid),
            rule,
            zone,
            window,
        )
    ]


def load_shifts(
    session: Session,
    *,
    resource_ids: Collection[int] | None = None,
    window: Interval | None = None,
) -> list[ShiftPattern]:
    """Staff shift patterns: all of them, or (given ``resource_ids`` and ``window``) only those
    of these resources valid on some day of the window: no other shift can matter to a question
    about them."""
    autoflush(session)
    if resource_ids is None or window is None:
        if resource_ids is not None or window is not None:
            raise TypeError("load_shifts: give both resource_ids and window, or neither")
        rows = session.connection().execute(_SHIFTS)
    else:
        # Validity is in local dates; a day either side of the UTC dates covers any zone.
        rows = session.connection().execute(
            _SHIFTS_OF,
            {
                "ids": sorted(resource_ids),
                "first": window.start.date() - dt.timedelta(days=1),
                "last": window.end.date() + dt.timedelta(days=1),
            },
        )
    return [ShiftPattern(*row) for row in rows]


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
    # FLOOR: whole seconds the way SQLite's strftime('%s') and ``availability.seconds`` count
    # them (a bare cast to BIGINT would round a fraction of a second up).
    clause = compiler.process(element.clauses, **kw)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {clause})) AS BIGINT)"


def load_hold_rows(
    session: Session, window: Interval, now: dt.datetime | None = None
) -> list[HoldRow]:
    """The active holds overlapping ``window`` as plain tuples (see ``HoldRow``), but not those
    of a tentative appointment whose deadline is past at ``now`` (free, not yet released)."""
    now = now or dt.datetime.now(dt.UTC)
    expired = select(Appointment.id).where(
        Appointment.status == "tentative", Appointment.hold_until <= now
    )
    stmt = select(
        ResourceHold.resource_id,
        epoch_seconds(ResourceHold.starts_at),
        epoch_seconds(ResourceHold.ends_at),
        ResourceHold.exclusive,
        ResourceHold.units,
    ).where(
        ResourceHold.active.is_(True),
        ResourceHold.appointment_id.not_in(expired),
        *overlapping(ResourceHold.starts_at, ResourceHold.ends_at, window),
    )
    return [
        (rid, start, end, bool(exclusive), units)
        for rid, start, end, exclusive, units in session.execute(stmt)
    ]


# Public holidays by country and year, shared by every calendar of the process: building one
# year from the ``holidays`` package costs about a millisecond, and they never change.
_HOLIDAYS: dict[str, dict[int, dict[dt.date, str]]] = {}


def calendar_of(
    settings: ClinicSettings,
    closures: Sequence[ClosureSpan] = (),
    shifts: Sequence[ShiftPattern] = (),
) -> ClinicCalendar:
    """A clinic calendar that shares the process's holiday tables."""
    return ClinicCalendar(
        settings=settings,
        closures=closures,
        shifts=shifts,
        _holiday_cache=_HOLIDAYS.setdefault(
            f"{settings.holiday_country or ''}-{settings.holiday_subdivision}", {}
        ),
    )


def load_calendar(
    session: Session,
    window: Interval,
    catalog: Catalog,
    *,
    resource_ids: Collection[int] | None = None,
) -> ClinicCalendar:
    """The calendar of ``window``; given ``resource_ids`` it knows the closures and shifts of
    those resources only (enough to check holds on them, and cheaper to read)."""
    return calendar_of(
        catalog.settings,
        closures=tuple(
            load_closures(session, window, resource_ids, timezone=catalog.settings.timezone)
        ),
        shifts=tuple(
            load_shifts(session, resource_ids=resource_ids, window=window)
            if resource_ids is not None
            else load_shifts(session)
        ),
    )


def load_snapshot(
    session: Session,
    window: Interval,
    catalog: Catalog | None = None,
    *,
    now: dt.datetime | None = None,
) -> Snapshot:
    """Everything availability needs over ``window``; ``now`` decides which tentative holds have
    expired (free)."""
    catalog = catalog or load_catalog(session)
    return Snapshot(
        window=window,
        catalog=catalog,
        calendar=load_calendar(session, window, catalog),
        resources=tuple(load_resources(session)),
        hold_rows=tuple(load_hold_rows(session, window, now)),
    )
