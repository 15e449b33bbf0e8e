"""The integrity check: what must never be in a clinic's database, found and named in plain words.

``find_problems`` reads (never writes) one consistent snapshot of the database and reports double
bookings, capacity overruns, sessions when the clinic, a room or a staff member is not available,
and rows that contradict one another.  It is built to read a five-year history in seconds: the
appointments are loaded once, the holds are streamed once in (resource, start) order and a sweep
line per resource (integrity_sweep.py) finds overlaps and overruns; the remaining checks are small
SQL queries.  The problems are gathered and worded in integrity_findings.py, the clinic's days
asked about through integrity_calendar.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import DateTime, Select, and_, exc, func, or_, select, true, type_coerce
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased
from sqlalchemy.types import NullType

from ketadesk.scheduling.calendar import Interval, covered
from ketadesk.scheduling.catalog import HoldMode, ResourceKind
from ketadesk.scheduling.model import ResourceInfo
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.services.clinic.integrity_away import away_warnings
from ketadesk.services.clinic.integrity_calendar import ClinicDays
from ketadesk.services.clinic.integrity_config import config_warnings
from ketadesk.services.clinic.integrity_findings import Appt, Findings, Hold
from ketadesk.services.clinic.integrity_followups import missing_follow_up_warnings
from ketadesk.services.clinic.integrity_report import IntegrityReport, Problem, ProblemCode
from ketadesk.services.clinic.integrity_rules import rule_warnings
from ketadesk.services.clinic.integrity_sweep import ResourcePass
from ketadesk.services.common.context import utcnow
from ketadesk.store.database import Database, DatabaseOpenError
from ketadesk.store.models import (
    Appointment,
    FollowUp,
    Measurement,
    Patient,
    ResourceHold,
    Series,
    SessionType,
    StaffMember,
    UTCDateTime,
)
from ketadesk.store.snapshot import load_resources

_STREAM_BATCH = 20_000
_EXCLUSIVE = HoldMode.EXCLUSIVE.value


def find_problems(db: Database, *, window: Interval | None = None) -> list[Problem]:
    """Everything wrong in the database (only what touches ``window`` when one is given)."""
    return list(check_integrity(db, window=window).problems)


def check_integrity(
    db: Database, *, window: Interval | None = None, now: dt.datetime | None = None
) -> IntegrityReport:
    """Run every check on one read-only snapshot; raises StoreError if the database is unusable.
    ``now``: what is still to come (sessions on a patient's days away); the wall clock if None."""
    now = now or utcnow()
    try:
        with _read_only_snapshot(db) as session:
            return _Checker(session, window, now).run()
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


class _Checker:
    def __init__(self, session: Session, window: Interval | None, now: dt.datetime) -> None:
        self.session = session
        self.window = window
        self.now = now
        self.resources: dict[int, ResourceInfo] = {}
        self.appointments: dict[int, Appt] = {}
        self.hold_count = 0
        # Appointment id -> resources of its active holds (for "holds nothing" and messages).
        self.held: dict[int, list[int]] = {}
        # Appointments booked when the clinic is closed, with the code and reason: the holds
        # under them are not reported again for the same reason.
        self.flagged_appointments: dict[int, tuple[ProblemCode, str]] = {}
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
        self.days = ClinicDays.load(self.session, self._closures_reach())
        self.findings = Findings(self.days, self.resources, self.appointments, self.held)
        for appt in self.appointments.values():
            if appt.status not in RELEASED_STATUSES:
                self._check_appointment_day(appt)
        self._check_holds()
        self._report_appointment_days()
        for appt in self.appointments.values():
            self._check_appointment_rows(appt)
        self._check_series()
        self._check_patient_overlaps()
        self._check_patient_references()
        self._check_staff_rows()
        return IntegrityReport(
            problems=self.findings.problems(),
            appointments=len(self.appointments),
            holds=self.hold_count,
            window=self.window,
            warnings=(
                config_warnings(self.session)
                + rule_warnings(self.session)
                + away_warnings(self.session, self.now)
                + missing_follow_up_warnings(self.session)
                if self.window is None
                else ()
            ),
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
            self.appointments[aid] = Appt(
                aid, patient, series, index, room, instant(starts), instant(ends), status
            )

    def _closures_reach(self) -> Interval | None:
        """When the closures that matter happen (None: whenever)."""
        if self.window is None:
            return None
        # Appointments straddling the window's edges are checked whole.
        starts = min((a.starts_at for a in self.appointments.values()), default=None)
        ends = max((a.ends_at for a in self.appointments.values()), default=None)
        return Interval(
            min(self.window.start, starts) if starts else self.window.start,
            max(self.window.end, ends) if ends else self.window.end,
        )

    # -- the clinic's days ----------------------------------------------------------------------

    def _check_appointment_day(self, appt: Appt) -> None:
        unavailable = self.days.clinic_unavailable(appt.starts_at, appt.ends_at)
        if unavailable is not None:
            self.flagged_appointments[appt.id] = unavailable

    def _report_appointment_days(self) -> None:
        # Worded after the holds are read, so that an appointment without a room can be named
        # by what it holds.
        for appointment_id, (code, reason) in self.flagged_appointments.items():
            appt = self.appointments[appointment_id]
            label = self.findings.appointment_label(appt)
            self.findings.add(
                code,
                f"{code}: {label} on {self.days.when(appt.span)}: {reason}",
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
        current: ResourcePass | None = None
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
            hold = Hold(hid, aid, rid, mode, exclusive, units, starts, ends, bool(active))
            if current is None or current.resource_id != rid:
                if current is not None:
                    current.finish()
                current = ResourcePass(rid, self.resources.get(rid), self.days, self.findings)
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

    def _check_hold_row(self, hold: Hold, no_appointment: bool, no_resource: bool) -> None:
        span = Interval(hold.starts_at, hold.ends_at)
        if no_appointment:
            self.findings.add(
                ProblemCode.ORPHAN,
                f"orphan: hold #{hold.id} on {self.findings.resource_name(hold.resource_id)} on "
                f"{self.days.when(span)} belongs to appointment #{hold.appointment_id}, "
                "which does not exist",
                appointment_ids=(hold.appointment_id,),
                resource_id=hold.resource_id,
                at=hold.starts_at,
            )
        if no_resource:
            self.findings.add(
                ProblemCode.ORPHAN,
                f"orphan: hold #{hold.id} of appointment #{hold.appointment_id} on "
                f"{self.days.when(span)} is on resource #{hold.resource_id}, which does not exist",
                appointment_ids=(hold.appointment_id,),
                resource_id=hold.resource_id,
                at=hold.starts_at,
            )
        if hold.exclusive != (hold.mode == HoldMode.EXCLUSIVE):
            marked = "exclusive" if hold.exclusive else "not exclusive"
            self.findings.add(
                ProblemCode.INCONSISTENT,
                f"inconsistent: hold #{hold.id} on {self.findings.resource_name(hold.resource_id)} "
                f"(appointment #{hold.appointment_id}, {self.days.when(span)}) is {hold.mode} "
                f"but marked {marked}",
                appointment_ids=(hold.appointment_id,),
                resource_id=hold.resource_id,
                at=hold.starts_at,
            )

    def _check_active_hold(
        self, hold: Hold, appt: Appt | None, resource: ResourceInfo | None
    ) -> None:
        # One line per cause: a hold already reported as an orphan, as left behind by a
        # cancellation, or under an appointment booked when the clinic is closed, is not
        # reported again for when it falls.
        span = Interval(hold.starts_at, hold.ends_at)
        if appt is None:
            return
        if appt.status in RELEASED_STATUSES:
            self.findings.gather(ProblemCode.STATUS, (hold.appointment_id,), None, span)
            return
        inside = appt.span.contains(span)
        if not inside:
            self.findings.gather(
                ProblemCode.INCONSISTENT,
                (hold.appointment_id,),
                hold.resource_id,
                span,
                f"outside the appointment's own time ({self.days.when(appt.span)})",
            )
        if hold.appointment_id in self.flagged_appointments:
            return
        if not inside:
            # Its time was not checked with the appointment's: check it now.
            unavailable = self.days.clinic_unavailable(hold.starts_at, hold.ends_at)
            if unavailable is not None:
                code, reason = unavailable
                self.findings.gather(code, (hold.appointment_id,), hold.resource_id, span, reason)
                return
        for closure in self.days.closures(hold.resource_id, hold.starts_at, hold.ends_at):
            what = closure.kind.replace("_", " ")
            reason = f"{what}: {closure.reason}" if closure.reason else what
            self.findings.gather(
                ProblemCode.CLOSED,
                (hold.appointment_id,),
                hold.resource_id,
                span,
                f"unavailable ({reason})",
            )
        if resource is not None and resource.kind is ResourceKind.STAFF:
            shifts = self.days.shifts(hold.resource_id, self.days.local_date(span.start))
            if not covered(shifts, span):
                on = ", ".join(self.days.clock_span(iv) for iv in shifts) or "none that day"
                self.findings.gather(
                    ProblemCode.OFF_SHIFT,
                    (hold.appointment_id,),
                    hold.resource_id,
                    span,
                    f"outside their shifts ({on})",
                )

    # -- appointments ---------------------------------------------------------------------------

    def _check_appointment_rows(self, appt: Appt) -> None:
        if appt.status not in RELEASED_STATUSES and not self.held.get(appt.id):
            label = self.findings.appointment_label(appt)
            self.findings.add(
                ProblemCode.STATUS,
                f"status: {label} on {self.days.when(appt.span)} is "
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
                self.findings.add(
                    ProblemCode.INCONSISTENT,
                    f"inconsistent: appointment #{appt.id} on {self.days.when(appt.span)} is in "
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
            self.findings.add(
                code,
                f"{code}: appointment #{row.id}{self.findings.on(appt)} {what}",
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
            when = ", ".join(f"#{i} ({self.days.day_label(t)})" for i, t in members)
            self.findings.add(
                ProblemCode.INCONSISTENT,
                f"inconsistent: series #{series_id} has {len(ids)} appointments numbered "
                f"{index}: {when}",
                appointment_ids=ids,
                at=members[0][1],
            )

    # -- patients -------------------------------------------------------------------------------

    def _check_patient_overlaps(self) -> None:
        """A patient is in one session at a time: each pair of a patient's active appointments
        that overlap is an error (booking refuses it; a row written round the services, or a
        write from before every path checked the patient, is what this finds)."""
        by_patient: dict[int, list[Appt]] = {}
        for appt in self.appointments.values():
            if appt.status not in RELEASED_STATUSES:
                by_patient.setdefault(appt.patient_id, []).append(appt)
        pairs: list[tuple[Appt, Appt]] = []
        for appts in by_patient.values():
            if len(appts) < 2:
                continue
            appts.sort(key=lambda a: (a.starts_at, a.ends_at, a.id))
            running: list[Appt] = []  # those still going at the current start
            for appt in appts:
                running = [r for r in running if r.ends_at > appt.starts_at]
                pairs.extend((r, appt) for r in running if appt.ends_at > appt.starts_at)
                running.append(appt)
        if not pairs:
            return
        names = self._overlap_names({a.id for pair in pairs for a in pair})
        for first, second in pairs:
            patient, first_type = names.get(first.id, (f"patient #{first.patient_id}", "?"))
            _, second_type = names.get(second.id, (patient, "?"))
            self.findings.add(
                ProblemCode.PATIENT_OVERLAP,
                f"{ProblemCode.PATIENT_OVERLAP}: {patient} is in two sessions at once: "
                f"appointment #{first.id} ({first_type}, {self.days.when(first.span)}) and "
                f"appointment #{second.id} ({second_type}, {self.days.when(second.span)})",
                appointment_ids=(first.id, second.id),
                at=second.starts_at,
            )

    def _overlap_names(self, appointment_ids: set[int]) -> dict[int, tuple[str, str]]:
        """Appointment id -> (the patient as the desk names them, the session type's name);
        read only for the few appointments a finding is about."""
        a, p, t = Appointment, Patient, SessionType
        stmt = (
            select(a.id, p.last_name, p.first_name, p.chart_number, t.name)
            .join(p, p.id == a.patient_id)
            .join(t, t.id == a.session_type_id)
            .where(a.id.in_(sorted(appointment_ids)))
        )
        return {
            aid: (f"{last}, {first} (chart {chart})", type_name)
            for aid, last, first, chart, type_name in self.session.execute(stmt)
        }

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
            self.findings.add(
                ProblemCode.ORPHAN,
                f"orphan: {label} #{row_id} ({kind}, {self.days.day_label(at)}) is for "
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
                self.findings.add(
                    ProblemCode.ORPHAN,
                    f"orphan: staff member {first} {last} ({role}) is resource #{resource_id}, "
                    "which does not exist",
                    resource_id=resource_id,
                )
            elif resource.kind is not ResourceKind.STAFF:
                self.findings.add(
                    ProblemCode.INCONSISTENT,
                    f"inconsistent: staff member {first} {last} ({role}) is resource "
                    f"{resource.name}, which is {_a(resource.kind)}",
                    resource_id=resource_id,
                )

    def _appointment(self, appointment_id: int) -> Appt | None:
        return self.appointments.get(appointment_id)


def _raw(column: InstrumentedAttribute[Any]) -> Any:
    """The column as the driver returns it, skipping SQLAlchemy's per-row conversion.

    Instants are then decoded once per distinct value (``_Checker._decode``) and flags taken by
    their truth (SQLite gives 0/1).
    """
    return type_coerce(column, NullType())


def _as_is(value: Any) -> Any:
    return value


def _a(kind: ResourceKind) -> str:
    return {ResourceKind.ROOM: "a room", ResourceKind.STAFF: "a staff member"}.get(kind, kind)


__all__ = [
    "check_integrity",
    "find_problems",
]
