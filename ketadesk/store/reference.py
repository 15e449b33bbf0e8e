"""The slow-changing rows a booking checks against on SQLite (the configuration, the
resources, staff shifts and closures), kept between bookings on the database connection and
validated inside each booking's own transaction.

SQLite's ``PRAGMA data_version`` changes whenever another connection (another workstation,
another process, another ``Database`` in this one) has committed anything to the file since this
connection last asked; writes on this very connection are watched by a commit listener, which
drops the cached rows on every commit but a booking's (a booking writes none of these rows).
So the cache holds exactly while nothing but bookings was written, wherever from, and costs a
booking one pragma instead of five queries.  Closures are kept from a little before the first
booking's time on (bookings lie in the future); a window before that is read directly.

PostgreSQL has no such cheap and sound signal (a revision counter kept by triggers would be
one; it needs a schema change): bookings there read these rows every time, all in one round trip.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, Text, bindparam, event, select
from sqlalchemy import cast as sa_cast
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval, ShiftPattern
from ketadesk.scheduling.catalog import ResourceKind
from ketadesk.scheduling.model import ResourceInfo
from ketadesk.store.clinic_config import CONFIG_ROWS, StoredConfig, config_from_rows
from ketadesk.store.models import Closure, Resource, StaffShift
from ketadesk.store.pipeline import read_together, utc
from ketadesk.store.snapshot import QUALIFICATIONS, autoflush, calendar_of, load_calendar

_RESOURCE = cast(Table, Resource.__table__)
_CLOSURE = cast(Table, Closure.__table__)
_SHIFT = cast(Table, StaffShift.__table__)

_ALL_RESOURCES = select(
    _RESOURCE.c.id,
    _RESOURCE.c.kind,
    _RESOURCE.c.subkind,
    _RESOURCE.c.name,
    _RESOURCE.c.capacity,
    _RESOURCE.c.active,
    _RESOURCE.c.sort_order,
    # As text: the rows are the key of what was built from them (``_BUILT``), decoded only
    # when they changed.
    sa_cast(_RESOURCE.c.serves, Text),
)
_CLOSURES_FROM = (
    select(
        _CLOSURE.c.starts_at,
        _CLOSURE.c.ends_at,
        _CLOSURE.c.reason,
        _CLOSURE.c.kind,
        _CLOSURE.c.resource_id,
    )
    .where(_CLOSURE.c.ends_at > bindparam("since"))
    .order_by(_CLOSURE.c.starts_at, _CLOSURE.c.id)
)
_ALL_SHIFTS = select(
    _SHIFT.c.resource_id,
    _SHIFT.c.weekday,
    _SHIFT.c.start_minute,
    _SHIFT.c.end_minute,
    _SHIFT.c.valid_from,
    _SHIFT.c.valid_until,
    _SHIFT.c.every_n_weeks,
    _SHIFT.c.anchor_date,
).order_by(_SHIFT.c.id)

# How far before the booking that filled the cache its closures reach: a booking's holds may
# begin a little before its first session (preparation), never days before its "now".
_CLOSURES_MARGIN = dt.timedelta(days=2)
# Keys in the pooled connection's ``info`` (it lives as long as the SQLite connection does).
_CACHED = "ketadesk.reference"
_BOOKING = "ketadesk.reference.booking"
_WATCHED = "ketadesk.reference.watched"


@dataclass(frozen=True)
class Reference:
    """What a booking checks against, as the file held it at ``data_version``."""

    data_version: int
    config: StoredConfig
    resources: Mapping[int, ResourceInfo]  # every resource, active or not
    shifts: tuple[ShiftPattern, ...]
    closures: tuple[ClosureSpan, ...]  # those ending after ``since``
    since: dt.datetime

    def calendar(
        self, session: Session, window: Interval, resource_ids: Collection[int]
    ) -> ClinicCalendar:
        """The calendar ``load_calendar(window, resource_ids=...)`` would read: the window's
        closures of the clinic and of these resources, and these resources' shifts valid on
        a day of the window (a day either side of its UTC dates, as ``load_shifts``)."""
        if window.start < self.since:
            return load_calendar(session, window, self.config.catalog, resource_ids=resource_ids)
        ids = set(resource_ids)
        first = window.start.date() - dt.timedelta(days=1)
        last = window.end.date() + dt.timedelta(days=1)
        return calendar_of(
            self.config.catalog.settings,
            closures=tuple(
                c
                for c in self.closures
                if c.span.start < window.end
                and c.span.end > window.start
                and (c.resource_id is None or c.resource_id in ids)
            ),
            shifts=tuple(
                s
                for s in self.shifts
                if s.resource_id in ids
                and (s.valid_from is None or s.valid_from <= last)
                and (s.valid_until is None or s.valid_until >= first)
            ),
        )


def _forget_unless_booking(conn: Connection) -> None:
    """Commit listener: any commit on this connection but a booking's may have changed the
    rows (``PRAGMA data_version`` does not count this connection's own writes)."""
    info = conn.info
    if not info.pop(_BOOKING, False):
        info.pop(_CACHED, None)


def _forget(conn: Connection) -> None:
    conn.info.pop(_BOOKING, None)


def _watch(engine: Engine) -> None:
    if not event.contains(engine, "commit", _forget_unless_booking):
        event.listen(engine, "commit", _forget_unless_booking)
        event.listen(engine, "rollback", _forget)


def booking_reference(session: Session, engine: Engine, *, now: dt.datetime) -> Reference:
    """The configuration, resources, shifts and closures as committed now, read inside the
    caller's booking transaction; marks the transaction as a booking.  ``engine``: the
    database's own engine (``Database.engine``), whose commits, whatever the options they were
    made with, are watched.

    SQLite: one pragma while nothing but bookings was written since this connection last read
    them.  PostgreSQL: read afresh, all five in one round trip (``store/pipeline.py``)."""
    autoflush(session)
    conn = session.connection()
    since = now - _CLOSURES_MARGIN
    if conn.dialect.name != "sqlite":
        return _read(conn, 0, since)
    info = conn.info
    if not info.get(_WATCHED):
        _watch(engine)
        info[_WATCHED] = True
    info[_BOOKING] = True
    version = int(conn.exec_driver_sql("PRAGMA data_version").scalar_one())
    cached = info.get(_CACHED)
    if isinstance(cached, Reference) and cached.data_version == version and cached.since <= since:
        return cached
    ref = _read(conn, version, since)
    info[_CACHED] = ref
    return ref


def _read(conn: Connection, version: int, since: dt.datetime) -> Reference:
    config_rows, resource_rows, qualification_rows, shift_rows, closure_rows = read_together(
        conn,
        [
            (CONFIG_ROWS, {}),
            (_ALL_RESOURCES, {}),
            (QUALIFICATIONS, {}),
            (_ALL_SHIFTS, {}),
            (_CLOSURES_FROM, {"since": since}),
        ],
    )
    key = tuple(tuple(map(tuple, rows)) for rows in (resource_rows, qualification_rows))
    key += (tuple(map(tuple, shift_rows)), tuple(map(tuple, closure_rows)))
    built = _BUILT.get(key)
    if built is None:
        built = _build(resource_rows, qualification_rows, shift_rows, closure_rows)
        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.clear()
        _BUILT[key] = built
    resources, shifts, closures = built
    return Reference(
        data_version=version,
        config=config_from_rows(config_rows),
        resources=resources,
        shifts=shifts,
        closures=closures,
        since=since,
    )


_Built = tuple[Mapping[int, ResourceInfo], tuple[ShiftPattern, ...], tuple[ClosureSpan, ...]]
# What was built from the rows, by the rows: a booking on PostgreSQL (or on SQLite after another
# workstation wrote) reads them again, but builds them only when they changed.  Small: one entry
# per distinct state seen.
_BUILT: dict[tuple[Any, ...], _Built] = {}
_BUILT_MAX = 8


def _build(
    resource_rows: Sequence[Sequence[Any]],
    qualification_rows: Sequence[Sequence[Any]],
    shift_rows: Sequence[Sequence[Any]],
    closure_rows: Sequence[Sequence[Any]],
) -> _Built:
    qualified: dict[int, set[tuple[str, str]]] = {}
    for rid, session_type, phase in qualification_rows:
        qualified.setdefault(rid, set()).add((session_type, phase))
    resources = {
        rid: ResourceInfo(
            id=rid,
            kind=ResourceKind(kind),
            subkind=subkind,
            name=name,
            capacity=capacity,
            active=active,
            sort_order=sort_order,
            qualifications=frozenset(qualified.get(rid, ())),
            serves=frozenset((json.loads(serves) if serves else None) or ()),
        )
        for rid, kind, subkind, name, capacity, active, sort_order, serves in resource_rows
    }
    closures = tuple(
        ClosureSpan(span=Interval(utc(start), utc(end)), reason=reason, kind=kind, resource_id=rid)
        for start, end, reason, kind, rid in closure_rows
    )
    return resources, tuple(ShiftPattern(*row) for row in shift_rows), closures
