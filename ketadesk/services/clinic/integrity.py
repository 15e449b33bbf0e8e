"""The integrity check: what must never be in a clinic's database, found and named in plain words.

``find_problems`` reads (never writes) one consistent snapshot of the database and reports double
bookings, capacity overruns, sessions when the clinic, a room or a staff member is not available,
and rows that contradict one another.  It is built to read a five-year history in seconds: the
appointments are loaded once, the holds are streamed once in (resource, start) order and a sweep
line per resource finds overlaps and overruns; the remaining checks are small SQL queries.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import DateTime, Select, and_, exc, func, or_, select, true, type_coerce
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased
from sqlalchemy.types import NullType

from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval, covered
from ketadesk.scheduling.catalog import HoldMode, ResourceKind
from ketadesk.scheduling.model import ResourceInfo
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database, DatabaseOpenError
from ketadesk.store.models import (
    Appointment,
    Closure,
    FollowUp,
    Measurement,
    Patient,
    ResourceHold,
    Series,
    StaffMember,
    UTCDateTime,
)
from ketadesk.store.snapshot import load_resources, load_shifts

_STREAM_BATCH = 20_000
_EXCLUSIVE = HoldMode.EXCLUSIVE.value
_BEFORE_EVERYTHING = dt.datetime.min.replace(tzinfo=dt.UTC)


class ProblemCode(enum.StrEnum):
    OVERLAP = "overlap"  # two active exclusive holds on one resource at the same time
    CAPACITY = "capacity"  # more units held at once than the resource's capacity
    CLOSED = "closed"  # clinic closed that day (holiday, weekday, closure) or resource closed
    OUTSIDE_HOURS = "outside_hours"  # on an open day, but outside the opening hours
    OFF_SHIFT = "off_shift"  # a staff member held outside their shifts
    ORPHAN = "orphan"  # a row pointing to something that does not exist
    STATUS = "status"  # holds that do not match their appointment's status
    INCONSISTENT = "inconsistent"  # rows that contradict one another


@dataclass(frozen=True)
class Problem:
    """One thing wrong, as one readable line (``message`` starts with the code)."""

    code: str
    message: str
    appointment_ids: tuple[int, ...] = ()
    resource_id: int | None = None
    at: dt.datetime | None = None  # when it happens (UTC), for sorting and for jumping to it

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class IntegrityReport:
    problems: tuple[Problem, ...]
    appointments: int  # how many appointments were read
    holds: int  # how many resource holds were read
    window: Interval | None = None

    @property
    def clean(self) -> bool:
        return not self.problems


def find_problems(db: Database, *, window: Interval | None = None) -> list[Problem]:
    """Everything wrong in the database (only what touches ``window`` when one is given)."""
    return list(check_integrity(db, window=window).problems)


def check_integrity(db: Database, *, window: Interval | None = None) -> IntegrityReport:
    """Run every check on one read-only snapshot; raises StoreError if the database is unusable."""
    try:
        with _read_only_snapshot(db) as session:
            return _Checker(session, window).run()
    except exc.DBAPIError as err:
        first = str(err.orig).strip().splitlines()
        raise DatabaseOpenError(
            f"cannot read {db.label}: {first[0] if first else type(err.orig).__name__}"
        ) from None


@contextlib.contextmanager
def _read_only_snapshot(db: Database) -> Iterator[Session]:
    """A transaction that cannot write and sees one moment of the database throughout."""
    with db.read() as session:
        if not db.is_sqlite:
            # REPEATABLE READ: a booking made while we read must not look like an orphan.
            session.connection(
                execution_options={
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            )
            yield session
            return
        # SQLite: a read transaction already sees one snapshot (WAL); query_only refuses writes.
        conn = session.connection()
        conn.exec_driver_sql("PRAGMA query_only = ON")
        try:
            yield session
        finally:
            try:
                conn.exec_driver_sql("PRAGMA query_only = OFF")
            except exc.DBAPIError:
                conn.invalidate()  # never hand a read-only connection back to the pool


# ---------------------------------------------------------------------------------------------
# The checks


class _Appt(NamedTuple):
    id: int
    patient_id: int
    series_id: int | None
    series_index: int | None
    room_id: int | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str

    @property
    def span(self) -> Interval:
        return Interval(self.starts_at, self.ends_at)


class _Hold(NamedTuple):
    id: int
    appointment_id: int
    resource_id: int
    mode: str
    exclusive: bool
    units: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    active: bool


@dataclass
class _Finding:
    """A problem still being gathered: holds of one kind merge into one line."""

    code: ProblemCode
    resource_id: int | None
    appointment_ids: tuple[int, ...]
    start: dt.datetime
    end: dt.datetime
    detail: str = ""


class _Day(NamedTuple):
    """A local day of the clinic: why it is closed, or its opening hours as UTC instants."""

    closed: str | None
    opening: tuple[tuple[dt.datetime, dt.datetime], ...]
    hours: str  # the opening hours as the clinic reads them ("07:30-18:00")


@dataclass
class _Stretch:
    """A stretch of time during which a resource is held beyond its capacity."""

    start: dt.datetime
    peak: int
    appointment_ids: set[int] = field(default_factory=set)
    only_exclusive: bool = True


class _Checker:
    def __init__(self, session: Session, window: Interval | None) -> None:
        self.session = session
        self.window = window
        self.problems: list[Problem] = []
        self.resources: dict[int, ResourceInfo] = {}
        self.appointments: dict[int, _Appt] = {}
        self.hold_count = 0
        # Appointment id -> resources of its active holds (for "holds nothing" and messages).
        self.held: dict[int, list[int]] = {}
        # Appointments booked when the clinic is closed, with the code and reason: the holds
        # under them are not reported again for the same reason.
        self.flagged_appointments: dict[int, tuple[ProblemCode, str]] = {}
        self.findings: dict[tuple[Any, ...], _Finding] = {}
        self._day_cache: dict[dt.date, _Day] = {}
        self._shift_cache: dict[tuple[int, dt.date], list[Interval]] = {}
        self._closures_by_day: dict[tuple[int | None, dt.date], list[ClosureSpan]] = {}
        self._closed_resources: set[int | None] = set()
        # Holds start and end on the clinic's booking grid, so few instants repeat many times.
        self._local_dates: dict[dt.datetime, dt.date] = {}
        self._midnights: dict[dt.date, dt.datetime] = {}
        self._instants: dict[Any, dt.datetime] = {}
        dialect = session.get_bind().dialect
        # PostgreSQL's driver hands over aware datetimes by itself; SQLite's gives text.
        driver_type = dialect.type_descriptor(DateTime(timezone=True))
        self._native_instants = driver_type.result_processor(dialect, None) is None
        stored = UTCDateTime().dialect_impl(dialect)
        self._process_instant: Callable[[Any], Any] = (
            stored.result_processor(dialect, None) or _as_is
        )

    def _decode(self, value: Any) -> dt.datetime:
        """A stored instant as an aware datetime, decoded by the column's own type.

        Holds start and end on the booking grid, so the same few thousand instants repeat
        hundreds of thousands of times: each distinct stored value is decoded once.
        """
        if self._native_instants:
            return value  # type: ignore[no-any-return]
        instant = self._instants.get(value)
        if instant is None:
            instant = self._instants[value] = self._process_instant(value)
        return instant

    def _stream(self, stmt: Select[Any]) -> Iterator[Any]:
        """Rows of a large query, fetched in batches (a server-side cursor on PostgreSQL)."""
        result = self.session.connection().execute(stmt.execution_options(yield_per=_STREAM_BATCH))
        for batch in result.partitions():
            yield from batch

    def run(self) -> IntegrityReport:
        self.resources = {r.id: r for r in load_resources(self.session, include_inactive=True)}
        self._load_appointments()
        self.calendar = self._load_calendar()
        for appt in self.appointments.values():
            if appt.status not in RELEASED_STATUSES:
                self._check_appointment_day(appt)
        self._check_holds()
        self._report_appointment_days()
        for appt in self.appointments.values():
            self._check_appointment_rows(appt)
        self._check_series()
        self._check_patient_references()
        self._check_staff_rows()
        self.problems.extend(self._finding_problem(f) for f in self.findings.values())
        self.problems.sort(key=_problem_order)
        return IntegrityReport(
            problems=tuple(self.problems),
            appointments=len(self.appointments),
            holds=self.hold_count,
            window=self.window,
        )

    # -- loading --------------------------------------------------------------------------------

    def _in_window(self, starts: Any, ends: Any) -> Any:
        assert self.window is not None
        return and_(starts < self.window.end, ends > self.window.start)

    def _load_appointments(self) -> None:
        a = Appointment
        stmt = select(
            a.id,
            a.patient_id,
            a.series_id,
            a.series_index,
            a.room_id,
            _raw(a.starts_at),
            _raw(a.ends_at),
            a.status,
        ).order_by(a.id)
        if self.window is not None:
            # What touches the window: its appointments, and those of its holds.
            h = ResourceHold
            held_in_window = select(h.appointment_id).where(self._in_window(h.starts_at, h.ends_at))
            stmt = stmt.where(
                or_(self._in_window(a.starts_at, a.ends_at), a.id.in_(held_in_window))
            )
        instant = self._decode
        for aid, patient, series, index, room, starts, ends, status in self._stream(stmt):
            self.appointments[aid] = _Appt(
                aid, patient, series, index, room, instant(starts), instant(ends), status
            )

    def _load_calendar(self) -> ClinicCalendar:
        catalog = load_catalog(self.session)
        stmt = select(Closure)
        if self.window is not None:
            # Appointments straddling the window's edges are checked whole.
            starts = min((a.starts_at for a in self.appointments.values()), default=None)
            ends = max((a.ends_at for a in self.appointments.values()), default=None)
            reach = Interval(
                min(self.window.start, starts) if starts else self.window.start,
                max(self.window.end, ends) if ends else self.window.end,
            )
            stmt = stmt.where(Closure.starts_at < reach.end, Closure.ends_at > reach.start)
        closures = [
            ClosureSpan(
                span=Interval(c.starts_at, c.ends_at),
                reason=c.reason,
                kind=c.kind,
                resource_id=c.resource_id,
            )
            for c in self.session.scalars(stmt)
        ]
        calendar = ClinicCalendar(
            settings=catalog.settings,
            closures=tuple(closures),
            shifts=tuple(load_shifts(self.session)),
        )
        for c in closures:
            day = calendar.local_date(c.span.start)
            last = calendar.local_date(c.span.end)
            self._closed_resources.add(c.resource_id)
            while day <= last:
                self._closures_by_day.setdefault((c.resource_id, day), []).append(c)
                day += dt.timedelta(days=1)
        return calendar

    # -- the clinic's days, hours and closures --------------------------------------------------

    def _day(self, day: dt.date) -> _Day:
        info = self._day_cache.get(day)
        if info is None:
            opening = self.calendar.open_intervals(day)
            info = _Day(
                closed=self.calendar.closed_reason(day),
                opening=tuple((iv.start, iv.end) for iv in opening),
                hours=", ".join(self._clock_span(iv) for iv in opening),
            )
            self._day_cache[day] = info
        return info

    def _local_date(self, instant: dt.datetime) -> dt.date:
        day = self._local_dates.get(instant)
        if day is None:
            day = self._local_dates[instant] = self.calendar.local_date(instant)
        return day

    def _closures(
        self, resource_id: int | None, starts: dt.datetime, ends: dt.datetime
    ) -> list[ClosureSpan]:
        """The closures of the clinic (None) or of a resource that overlap [starts, ends)."""
        if resource_id not in self._closed_resources:
            return []
        found: list[ClosureSpan] = []
        day = self._local_date(starts)
        last = self._local_date(ends)
        while day <= last:
            for c in self._closures_by_day.get((resource_id, day), ()):
                if c.span.start < ends and starts < c.span.end and c not in found:
                    found.append(c)
            day += dt.timedelta(days=1)
        return found

    def _next_midnight(self, day: dt.date) -> dt.datetime:
        """The instant the local day after ``day`` begins."""
        midnight = self._midnights.get(day)
        if midnight is None:
            midnight = self._midnights[day] = self.calendar.day_bounds(day).end
        return midnight

    def _clinic_unavailable(
        self, starts: dt.datetime, ends: dt.datetime
    ) -> tuple[ProblemCode, str] | None:
        """Why the clinic cannot host [starts, ends) at all, or None when it is open throughout."""
        day = self._day(self._local_date(starts))
        if day.closed:
            return ProblemCode.CLOSED, day.closed
        for c in self._closures(None, starts, ends):
            reason = f"clinic closed: {c.reason}" if c.reason else "clinic closed"
            return ProblemCode.CLOSED, reason
        if not any(opens <= starts and ends <= closes for opens, closes in day.opening):
            return ProblemCode.OUTSIDE_HOURS, f"outside opening hours ({day.hours})"
        return None

    def _check_appointment_day(self, appt: _Appt) -> None:
        unavailable = self._clinic_unavailable(appt.starts_at, appt.ends_at)
        if unavailable is not None:
            self.flagged_appointments[appt.id] = unavailable

    def _report_appointment_days(self) -> None:
        # Worded after the holds are read, so that an appointment without a room can be named
        # by what it holds.
        for appointment_id, (code, reason) in self.flagged_appointments.items():
            appt = self.appointments[appointment_id]
            self._add(
                code,
                f"{code}: {self._appointment_label(appt)} on {self._when(appt.span)}: {reason}",
                appointment_ids=(appt.id,),
                resource_id=appt.room_id,
                at=appt.starts_at,
            )

    # -- holds: one ordered pass ----------------------------------------------------------------

    def _check_holds(self) -> None:
        h = ResourceHold
        stmt = select(
            h.id,
            h.appointment_id,
            h.resource_id,
            h.mode,
            _raw(h.exclusive),
            h.units,
            _raw(h.starts_at),
            _raw(h.ends_at),
            _raw(h.active),
        ).order_by(h.resource_id, h.starts_at, h.ends_at)  # the order of ix_resource_hold_lookup
        if self.window is not None:
            # The window's holds, and all the holds of its appointments.
            a = Appointment
            in_window = select(a.id).where(self._in_window(a.starts_at, a.ends_at))
            stmt = stmt.where(
                or_(self._in_window(h.starts_at, h.ends_at), h.appointment_id.in_(in_window))
            )
        appointments = self.appointments
        held = self.held
        count = 0
        instants = self._instants
        decode = self._decode
        native = self._native_instants
        current: _ResourcePass | None = None
        for hid, aid, rid, mode, exclusive, units, raw_starts, raw_ends, active in self._stream(
            stmt
        ):
            count += 1
            if native:
                starts, ends = raw_starts, raw_ends
            else:
                starts = instants.get(raw_starts) or decode(raw_starts)
                ends = instants.get(raw_ends) or decode(raw_ends)
            exclusive = bool(exclusive)
            hold = _Hold(hid, aid, rid, mode, exclusive, units, starts, ends, bool(active))
            if current is None or current.resource_id != rid:
                if current is not None:
                    current.finish()
                current = _ResourcePass(self, rid)
            appt = appointments.get(aid)
            if appt is None or current.resource is None or exclusive != (mode == _EXCLUSIVE):
                self._check_hold_row(hold, appt is None, current.resource is None)
            if not active:
                continue
            held_by = held.get(aid)
            if held_by is None:
                held[aid] = [rid]
            else:
                held_by.append(rid)
            if not (
                # The usual case: its time was checked with its appointment's.
                appt is not None
                and appt.status not in RELEASED_STATUSES
                and appt.starts_at <= starts
                and ends <= appt.ends_at
                and not (current.closures and current.in_closure(hold))
                and (not current.is_staff or current.on_shift(hold))
            ):
                self._check_active_hold(hold, appt, current.resource)
            current.add(hold)
        if current is not None:
            current.finish()
        self.hold_count = count

    def _check_hold_row(self, hold: _Hold, no_appointment: bool, no_resource: bool) -> None:
        span = Interval(hold.starts_at, hold.ends_at)
        if no_appointment:
            self._add(
                ProblemCode.ORPHAN,
                f"orphan: hold #{hold.id} on {self._resource_name(hold.resource_id)} on "
                f"{self._when(span)} belongs to appointment #{hold.appointment_id}, "
                "which does not exist",
                appointment_ids=(hold.appointment_id,),
                resource_id=hold.resource_id,
                at=hold.starts_at,
            )
        if no_resource:
            self._add(
                ProblemCode.ORPHAN,
                f"orphan: hold #{hold.id} of appointment #{hold.appointment_id} on "
                f"{self._when(span)} is on resource #{hold.resource_id}, which does not exist",
                appointment_ids=(hold.appointment_id,),
                resource_id=hold.resource_id,
                at=hold.starts_at,
            )
        if hold.exclusive != (hold.mode == HoldMode.EXCLUSIVE):
            marked = "exclusive" if hold.exclusive else "not exclusive"
            self._add(
                ProblemCode.INCONSISTENT,
                f"inconsistent: hold #{hold.id} on {self._resource_name(hold.resource_id)} "
                f"(appointment #{hold.appointment_id}, {self._when(span)}) is {hold.mode} "
                f"but marked {marked}",
                appointment_ids=(hold.appointment_id,),
                resource_id=hold.resource_id,
                at=hold.starts_at,
            )

    def _check_active_hold(
        self, hold: _Hold, appt: _Appt | None, resource: ResourceInfo | None
    ) -> None:
        # One line per cause: a hold already reported as an orphan, as left behind by a
        # cancellation, or under an appointment booked when the clinic is closed, is not
        # reported again for when it falls.
        span = Interval(hold.starts_at, hold.ends_at)
        if appt is None:
            return
        if appt.status in RELEASED_STATUSES:
            self._gather(ProblemCode.STATUS, (hold.appointment_id,), None, span)
            return
        inside = appt.span.contains(span)
        if not inside:
            self._gather(
                ProblemCode.INCONSISTENT,
                (hold.appointment_id,),
                hold.resource_id,
                span,
                f"outside the appointment's own time ({self._when(appt.span)})",
            )
        if hold.appointment_id in self.flagged_appointments:
            return
        if not inside:
            # Its time was not checked with the appointment's: check it now.
            unavailable = self._clinic_unavailable(hold.starts_at, hold.ends_at)
            if unavailable is not None:
                code, reason = unavailable
                self._gather(code, (hold.appointment_id,), hold.resource_id, span, reason)
                return
        for closure in self._closures(hold.resource_id, hold.starts_at, hold.ends_at):
            what = closure.kind.replace("_", " ")
            reason = f"{what}: {closure.reason}" if closure.reason else what
            self._gather(
                ProblemCode.CLOSED,
                (hold.appointment_id,),
                hold.resource_id,
                span,
                f"unavailable ({reason})",
            )
        if resource is not None and resource.kind is ResourceKind.STAFF:
            shifts = self._shifts(hold.resource_id, self._local_date(span.start))
            if not covered(shifts, span):
                on = ", ".join(self._clock_span(iv) for iv in shifts) or "none that day"
                self._gather(
                    ProblemCode.OFF_SHIFT,
                    (hold.appointment_id,),
                    hold.resource_id,
                    span,
                    f"outside their shifts ({on})",
                )

    def _shifts(self, resource_id: int, day: dt.date) -> list[Interval]:
        key = (resource_id, day)
        shifts = self._shift_cache.get(key)
        if shifts is None:
            shifts = _merge(self.calendar.shift_intervals(resource_id, day))
            self._shift_cache[key] = shifts
        return shifts

    # -- appointments ---------------------------------------------------------------------------

    def _check_appointment_rows(self, appt: _Appt) -> None:
        if appt.status not in RELEASED_STATUSES and not self.held.get(appt.id):
            self._add(
                ProblemCode.STATUS,
                f"status: {self._appointment_label(appt)} on {self._when(appt.span)} is "
                f"{appt.status.replace('_', ' ')} but holds no resources",
                appointment_ids=(appt.id,),
                resource_id=appt.room_id,
                at=appt.starts_at,
            )
        if appt.room_id is not None:
            room = self.resources.get(appt.room_id)
            if room is None or room.kind is not ResourceKind.ROOM:
                what = "does not exist" if room is None else f"is {_a(room.kind)}, not a room"
                name = f"#{appt.room_id}" if room is None else room.name
                self._add(
                    ProblemCode.INCONSISTENT,
                    f"inconsistent: appointment #{appt.id} on {self._when(appt.span)} is in "
                    f"room {name}, which {what}",
                    appointment_ids=(appt.id,),
                    resource_id=appt.room_id,
                    at=appt.starts_at,
                )

    def _appointments_in_window(self) -> Any:
        a = Appointment
        if self.window is None:
            return true()
        return self._in_window(a.starts_at, a.ends_at)

    def _check_series(self) -> None:
        a, s = Appointment, Series
        wrong = (
            select(
                a.id, a.patient_id, a.series_id, s.id.label("found"), s.patient_id.label("owner")
            )
            .outerjoin(s, s.id == a.series_id)
            .where(
                a.series_id.is_not(None),
                or_(s.id.is_(None), s.patient_id != a.patient_id),
                self._appointments_in_window(),
            )
            .order_by(a.id)
        )
        for row in self.session.execute(wrong):
            appt = self._appointment(row.id)
            if row.found is None:
                code = ProblemCode.ORPHAN
                what = f"belongs to series #{row.series_id}, which does not exist"
            else:
                code = ProblemCode.INCONSISTENT
                what = (
                    f"is for patient #{row.patient_id} but belongs to series #{row.series_id} "
                    f"of patient #{row.owner}"
                )
            self._add(
                code,
                f"{code}: appointment #{row.id}{self._on(appt)} {what}",
                appointment_ids=(row.id,),
                at=appt.starts_at if appt else None,
            )
        counted = (
            a.series_id.is_not(None),
            a.series_index.is_not(None),
            a.status.not_in(sorted(RELEASED_STATUSES)),
        )
        scope = (
            []
            if self.window is None
            else [a.series_id.in_(select(a.series_id).where(self._appointments_in_window()))]
        )
        dupes = (
            select(a.series_id, a.series_index)
            .where(*counted, *scope)
            .group_by(a.series_id, a.series_index)
            .having(func.count() > 1)
            .subquery()
        )
        rows = self.session.execute(
            select(a.id, a.series_id, a.series_index, a.starts_at)
            .join(
                dupes,
                and_(a.series_id == dupes.c.series_id, a.series_index == dupes.c.series_index),
            )
            .where(*counted)
            .order_by(a.series_id, a.series_index, a.starts_at, a.id)
        ).all()
        groups: dict[tuple[int, int], list[tuple[int, dt.datetime]]] = {}
        for member in rows:
            key = (member.series_id, member.series_index)
            groups.setdefault(key, []).append((member.id, member.starts_at))
        for (series_id, index), members in groups.items():
            ids = tuple(m[0] for m in members)
            when = ", ".join(f"#{i} ({self._day_label(t)})" for i, t in members)
            self._add(
                ProblemCode.INCONSISTENT,
                f"inconsistent: series #{series_id} has {len(ids)} appointments numbered "
                f"{index}: {when}",
                appointment_ids=ids,
                at=members[0][1],
            )

    # -- other rows -----------------------------------------------------------------------------

    def _check_patient_references(self) -> None:
        f, m = FollowUp, Measurement
        self._check_patient_reference(
            "follow-up", select(f.id, f.kind, f.patient_id, f.due_at), f.patient_id, f.due_at
        )
        self._check_patient_reference(
            "measurement",
            select(m.id, m.instrument, m.patient_id, m.taken_at),
            m.patient_id,
            m.taken_at,
        )

    def _check_patient_reference(
        self,
        label: str,
        stmt: Select[int, str, int, dt.datetime],
        patient_id: InstrumentedAttribute[int],
        when: InstrumentedAttribute[dt.datetime],
    ) -> None:
        p = aliased(Patient)
        stmt = stmt.outerjoin(p, p.id == patient_id).where(p.id.is_(None))
        if self.window is not None:
            stmt = stmt.where(when >= self.window.start, when < self.window.end)
        for row_id, kind, missing_id, at in self.session.execute(stmt):
            self._add(
                ProblemCode.ORPHAN,
                f"orphan: {label} #{row_id} ({kind}, {self._day_label(at)}) is for "
                f"patient #{missing_id}, who does not exist",
                at=at,
            )

    def _check_staff_rows(self) -> None:
        stmt = select(
            StaffMember.resource_id,
            StaffMember.first_name,
            StaffMember.last_name,
            StaffMember.role,
        ).order_by(StaffMember.resource_id)
        for resource_id, first, last, role in self.session.execute(stmt):
            resource = self.resources.get(resource_id)
            if resource is None:
                self._add(
                    ProblemCode.ORPHAN,
                    f"orphan: staff member {first} {last} ({role}) is resource #{resource_id}, "
                    "which does not exist",
                    resource_id=resource_id,
                )
            elif resource.kind is not ResourceKind.STAFF:
                self._add(
                    ProblemCode.INCONSISTENT,
                    f"inconsistent: staff member {first} {last} ({role}) is resource "
                    f"{resource.name}, which is {_a(resource.kind)}",
                    resource_id=resource_id,
                )

    # -- gathering and wording ------------------------------------------------------------------

    def _add(
        self,
        code: ProblemCode,
        message: str,
        *,
        appointment_ids: tuple[int, ...] = (),
        resource_id: int | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        self.problems.append(
            Problem(
                code=str(code),
                message=message,
                appointment_ids=appointment_ids,
                resource_id=resource_id,
                at=at.astimezone(dt.UTC) if at is not None else None,
            )
        )

    def _gather(
        self,
        code: ProblemCode,
        appointment_ids: tuple[int, ...],
        resource_id: int | None,
        span: Interval,
        detail: str = "",
    ) -> None:
        """Merge hold-level findings, so one appointment's holds on a resource make one line."""
        key = (code, appointment_ids, resource_id, detail)
        found = self.findings.get(key)
        if found is None:
            self.findings[key] = _Finding(
                code, resource_id, appointment_ids, span.start, span.end, detail
            )
        else:
            found.start = min(found.start, span.start)
            found.end = max(found.end, span.end)

    def _finding_problem(self, f: _Finding) -> Problem:
        span = Interval(f.start, f.end)
        when = self._when(span)
        ids = _ids(f.appointment_ids)
        res = self._resource_name(f.resource_id) if f.resource_id is not None else ""
        if f.code is ProblemCode.OVERLAP:
            if len(f.appointment_ids) == 1:
                message = f"overlap: {res} held twice by appointment {ids} on {when}"
            else:
                message = f"overlap: {res} held by appointments {ids} on {when}"
        elif f.code is ProblemCode.CAPACITY:
            message = f"capacity: {res} {f.detail} by appointments {ids} on {when}"
        elif f.code is ProblemCode.STATUS:
            appt = self.appointments[f.appointment_ids[0]]
            span = appt.span
            message = (
                f"status: appointment #{appt.id} on {self._when(span)} is "
                f"{appt.status.replace('_', ' ')} but still holds {self._held_names(appt.id)}"
            )
        else:
            message = f"{f.code}: {res} held by appointment {ids} on {when}: {f.detail}"
        return Problem(
            code=str(f.code),
            message=message,
            appointment_ids=f.appointment_ids,
            resource_id=f.resource_id,
            at=span.start.astimezone(dt.UTC),
        )

    def _appointment(self, appointment_id: int) -> _Appt | None:
        return self.appointments.get(appointment_id)

    def _appointment_label(self, appt: _Appt) -> str:
        if appt.room_id is not None:
            return f"appointment #{appt.id} in {self._resource_name(appt.room_id)}"
        held = self.held.get(appt.id)
        if held:
            return f"appointment #{appt.id} with {self._resource_name(held[0])}"
        return f"appointment #{appt.id}"

    def _held_names(self, appointment_id: int) -> str:
        ids = dict.fromkeys(self.held.get(appointment_id, ()))
        return ", ".join(self._resource_name(r) for r in ids)

    def _resource_name(self, resource_id: int | None) -> str:
        resource = self.resources.get(resource_id) if resource_id is not None else None
        return resource.name if resource is not None else f"resource #{resource_id}"

    def _on(self, appt: _Appt | None) -> str:
        return f" on {self._when(appt.span)}" if appt is not None else ""

    def _when(self, span: Interval) -> str:
        start = self.calendar.local(span.start)
        end = self.calendar.local(span.end)
        if end.date() == start.date():
            return f"{start:%a %Y-%m-%d %H:%M}-{end:%H:%M}"
        return f"{start:%a %Y-%m-%d %H:%M} to {end:%a %Y-%m-%d %H:%M}"

    def _day_label(self, instant: dt.datetime) -> str:
        return f"{self.calendar.local(instant):%a %Y-%m-%d}"

    def _clock_span(self, span: Interval) -> str:
        return f"{self.calendar.local(span.start):%H:%M}-{self.calendar.local(span.end):%H:%M}"


class _ResourcePass:
    """One resource's active holds, fed in order of start: overlaps, capacity and shifts.

    The holds still running sit in a heap by end time (a sweep line): a hold that starts is
    compared with the exclusive holds still running (overlaps) and its units are added to the
    load (capacity).  For staff, the shifts of the day being swept are kept at hand.
    """

    def __init__(self, checker: _Checker, resource_id: int) -> None:
        self.checker = checker
        self.resource_id = resource_id
        self.resource = checker.resources.get(resource_id)
        self.is_staff = self.resource is not None and self.resource.kind is ResourceKind.STAFF
        self.closures = sorted(
            checker.calendar.resource_closures(resource_id), key=lambda c: c.span.start
        )
        self.closures_ended = 0  # the closures before this one end before the holds to come
        self.capacity = self.resource.capacity if self.resource is not None else None
        self.running: list[tuple[dt.datetime, int, _Hold]] = []
        self.load = 0
        self.over: _Stretch | None = None
        self.day_ends = _BEFORE_EVERYTHING
        self.shifts: list[Interval] = []

    def in_closure(self, hold: _Hold) -> bool:
        closures = self.closures
        while (
            self.closures_ended < len(closures)
            and closures[self.closures_ended].span.end <= hold.starts_at
        ):
            self.closures_ended += 1
        for c in closures[self.closures_ended :]:
            if c.span.start >= hold.ends_at:
                break
            if hold.starts_at < c.span.end:
                return True
        return False

    def on_shift(self, hold: _Hold) -> bool:
        if hold.starts_at >= self.day_ends:
            day = self.checker._local_date(hold.starts_at)
            self.day_ends = self.checker._next_midnight(day)
            self.shifts = self.checker._shifts(self.resource_id, day)
        for shift in self.shifts:
            if shift.start <= hold.starts_at and hold.ends_at <= shift.end:
                return True
        return False

    def add(self, hold: _Hold) -> None:
        running = self.running
        if running:
            if running[0][0] <= hold.starts_at:
                self._release(hold.starts_at)
            if hold.exclusive:
                for _, _, other in running:
                    if other.exclusive:
                        self._overlap(hold, other)
        heapq.heappush(running, (hold.ends_at, hold.id, hold))
        self.load += hold.units
        if self.capacity is None or self.load <= self.capacity:
            return
        if self.over is None:
            self.over = _Stretch(start=hold.starts_at, peak=self.load)
            for _, _, held in running:
                self._join(held)
        else:
            self.over.peak = max(self.over.peak, self.load)
            self._join(hold)

    def _overlap(self, hold: _Hold, other: _Hold) -> None:
        self.checker._gather(
            ProblemCode.OVERLAP,
            tuple(sorted({other.appointment_id, hold.appointment_id})),
            self.resource_id,
            Interval(hold.starts_at, min(hold.ends_at, other.ends_at)),
        )

    def finish(self) -> None:
        while self.running:
            self._release(self.running[0][0])

    def _join(self, hold: _Hold) -> None:
        assert self.over is not None
        if hold.units:
            self.over.appointment_ids.add(hold.appointment_id)
            self.over.only_exclusive = self.over.only_exclusive and hold.exclusive

    def _release(self, until: dt.datetime) -> None:
        while self.running and self.running[0][0] <= until:
            end, _, hold = heapq.heappop(self.running)
            self.load -= hold.units
            over = self.over
            if over is not None and self.capacity is not None and self.load <= self.capacity:
                self.over = None
                # Exclusive holds alone over capacity are overlaps, already reported as such.
                if not over.only_exclusive:
                    self.checker._gather(
                        ProblemCode.CAPACITY,
                        tuple(sorted(over.appointment_ids)),
                        self.resource_id,
                        Interval(over.start, end),
                        f"is held {over.peak} times at once (capacity {self.capacity})",
                    )


def _raw(column: InstrumentedAttribute[Any]) -> Any:
    """The column as the driver returns it, skipping SQLAlchemy's per-row conversion.

    Instants are then decoded once per distinct value (``_Checker._decode``) and flags taken by
    their truth (SQLite gives 0/1).
    """
    return type_coerce(column, NullType())


def _as_is(value: Any) -> Any:
    return value


def _merge(intervals: Sequence[Interval]) -> list[Interval]:
    """Touching or overlapping intervals joined (a shift 08-12 then 12-16 is one 08-16)."""
    merged: list[Interval] = []
    for iv in sorted(intervals):
        if merged and iv.start <= merged[-1].end:
            if iv.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, iv.end)
        else:
            merged.append(iv)
    return merged


def _ids(ids: Iterable[int]) -> str:
    labels = [f"#{i}" for i in ids]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def _a(kind: ResourceKind) -> str:
    return {ResourceKind.ROOM: "a room", ResourceKind.STAFF: "a staff member"}.get(kind, kind)


_CODE_ORDER = {code.value: i for i, code in enumerate(ProblemCode)}


def _problem_order(p: Problem) -> tuple[bool, dt.datetime, int, str]:
    at = p.at or dt.datetime.max.replace(tzinfo=dt.UTC)
    return (p.at is None, at, _CODE_ORDER.get(p.code, len(_CODE_ORDER)), p.message)


__all__ = [
    "IntegrityReport",
    "Problem",
    "ProblemCode",
    "check_integrity",
    "find_problems",
]
