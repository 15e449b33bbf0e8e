"""The slow-changing rows a booking checks against (the configuration, the resources, staff
shifts and closures), kept between bookings on the database connection and validated inside
each booking's own transaction by reading one row.

Triggers on those tables (migration 0019) move ``reference_revision`` in the same transaction as
any change to them, whoever makes it (another workstation, a settings page, a ``sqlite3`` shell),
so a booking keeps its cached rows while that row still says what it said when they were read:
one small read instead of five queries, and the rows are rebuilt only after a real change.
Bookings' own writes (appointments, holds...) do not move it, so four workstations booking at
once keep their caches.  The row holds a counter and a random token, so a restored older file
whose counter happens to meet the cached one is still told apart.

SQLite: the read happens inside the ``BEGIN IMMEDIATE`` transaction, so nothing can change
between it and the commit.  PostgreSQL: the booking first takes ``REFERENCE_LOCK`` shared (sent
with the read, one round trip) and holds it to the end of its transaction, and the triggers take
it exclusively before a change: a change waits for the bookings checking against the rows it
changes, and a booking started meanwhile waits for it to commit and then reads the new revision.
Closures are kept from a little before the first booking's time on (bookings lie in the future);
a window before that is read directly.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, Text, bindparam, select, text
from sqlalchemy import cast as sa_cast
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval, ShiftPattern
from ketadesk.scheduling.catalog import ResourceKind
from ketadesk.scheduling.closure_repeats import expand
from ketadesk.scheduling.model import ResourceInfo
from ketadesk.store import raw
from ketadesk.store.clinic_config import CONFIG_ROWS, StoredConfig, config_from_rows
from ketadesk.store.models import Closure, ReferenceRevision, Resource, StaffShift
from ketadesk.store.pipeline import (
    Ahead,
    Read,
    forget_prefetched,
    keep,
    prefetch,
    read_together,
    same_reads,
    sendable,
    utc,
)
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
        _CLOSURE.c.repeat_rule,
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
# Key in the pooled connection's ``info`` (it lives as long as the database connection does).
_CACHED = "ketadesk.reference"

# PostgreSQL: the transaction-scoped advisory lock bookings hold shared and the reference
# tables' triggers take exclusively (migration 0019 has the same number: one bigint, 'KETAREF1',
# outside the int4 range of ``hashtext`` keys and apart from the (resource, day) two-key locks).
REFERENCE_LOCK = 0x4B45544152454631
SHARE_REFERENCE = text(f"SELECT pg_advisory_xact_lock_shared({REFERENCE_LOCK})")
_REVISION_TABLE = cast(Table, ReferenceRevision.__table__)
_REVISION = select(_REVISION_TABLE.c.value, _REVISION_TABLE.c.token).where(
    _REVISION_TABLE.c.id == 1
)

Revision = tuple[int, int]


@dataclass(frozen=True)
class Reference:
    """What a booking checks against, as the database held it at ``revision``."""

    revision: Revision | None  # None: read without a revision row; never kept
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


def reference_revision(session: Session) -> Revision | None:
    """Where the revision row stands now (None without one): it moves with every change to
    the configuration, the resources, shifts and closures, whoever makes it (migration 0019),
    so a reader of those alone (the month's closed days) can tell it has nothing new to read."""
    autoflush(session)
    row = session.connection().execute(_REVISION).first()
    return (int(row[0]), int(row[1])) if row is not None else None


def booking_reference(
    session: Session,
    *,
    now: dt.datetime,
    ahead: Callable[[Reference], Sequence[Ahead]] | None = None,
) -> Reference:
    """The configuration, resources, shifts and closures as committed now, read inside the
    caller's booking transaction (the cached ones while the revision row has not moved).

    PostgreSQL: also takes ``REFERENCE_LOCK`` shared to the end of the transaction, so the rows
    stay as read until the booking commits (the caller need not lock the resources' rows).
    ``ahead``: the reads the booking will make, given the reference; with a cached reference
    they go to the server in the same round trip, after the lock and the revision, and are
    kept for the checks that ask for them (``pipeline.prefetched``).  Should the revision have
    moved and the reads made with the new reference differ, they are forgotten (and read
    again by those checks, after the locks already taken)."""
    autoflush(session)
    conn = raw.connection(session)
    since = now - _CLOSURES_MARGIN
    reads: list[Read] = [(_REVISION, {})]
    if conn.dialect.name == "postgresql":
        reads.insert(0, (SHARE_REFERENCE, {}))
    info = conn.info
    cached = info.get(_CACHED)
    usable = cached if isinstance(cached, Reference) and cached.since <= since else None
    sent = list(ahead(usable)) if ahead is not None and usable is not None else []
    results = read_together(conn, reads + sendable(sent))
    rows = results[len(reads) - 1]
    if sent:
        keep(session, sent, results[len(reads) :])
    revision: Revision | None = (int(rows[0][0]), int(rows[0][1])) if rows else None
    if revision is not None and usable is not None and usable.revision == revision:
        return usable
    ref = _read(conn, revision, since)
    if revision is not None:
        info[_CACHED] = ref
    else:
        info.pop(_CACHED, None)
    if ahead is not None:
        wanted = list(ahead(ref))
        if not sent:
            prefetch(session, wanted)
        elif not same_reads(sent, wanted):
            forget_prefetched(session)
    return ref


def _read(conn: Connection, revision: Revision | None, since: dt.datetime) -> Reference:
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
    config = config_from_rows(config_rows)
    # The zone too: a repeating closure's days are the clinic's local days.
    timezone = config.catalog.settings.timezone
    key: tuple[Any, ...] = tuple(
        tuple(map(tuple, rows)) for rows in (resource_rows, qualification_rows)
    )
    key += (tuple(map(tuple, shift_rows)), tuple(map(tuple, closure_rows)), (timezone,))
    built = _BUILT.get(key)
    if built is None:
        built = _build(
            resource_rows, qualification_rows, shift_rows, closure_rows, ZoneInfo(timezone)
        )
        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.clear()
        _BUILT[key] = built
    resources, shifts, closures = built
    return Reference(
        revision=revision,
        config=config,
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
    zone: ZoneInfo,
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
        occurrence
        for start, end, reason, kind, rid, rule in closure_rows
        for occurrence in expand(
            ClosureSpan(
                span=Interval(utc(start), utc(end)), reason=reason, kind=kind, resource_id=rid
            ),
            rule,
            zone,
        )
    )
    return resources, tuple(ShiftPattern(*row) for row in shift_rows), closures
