"""PostgreSQL: a booking's reads of its patient sent as two statements where its checks ask five.

Under the patient's lock a booking's checks read: the lock itself (``plan_check``: one booking
of a patient at a time), the patient's record (``planning.PATIENT_FACTS``: the gates), their
live sessions (``rule_check.COURSE_SESSIONS``: the protocol's rules), their bookings on the
plan's days (``plan_check``: one session at a time, the doses a day) and, with a prior
authorization, the sessions spending it (``planning``).  A booking sends them ahead in one
round trip (``reference.booking_reference``); here they go as two statements, the record read
as it is locked and the patient's live appointments once, each split into the rows its check
would have read (``pipeline.Combined``).  The checks still ask for their own reads and get
exactly those rows; they read for themselves when nothing was sent ahead (SQLite, a move).

Why the same rows: the lock and the record come from one row, locked before it is returned
(``FOR NO KEY UPDATE`` hands back its newest version); the three reads of appointments each
ran right after the lock with nothing of this patient able to change in between (every write
of a patient's sessions takes that lock), and each is a filter of the live appointments: the
bookings by their window (``plan_check._window``), the spending ones by status (their start
bound is applied by ``planning.prior_auth_spent``)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import String, Table, bindparam, literal, select

from ketadesk.scheduling.statuses import PRIOR_AUTH_SPENDING_STATUSES, RELEASED_STATUSES
from ketadesk.services.booking.planning import PATIENT_FACTS, PRIOR_AUTH_SESSIONS_ALL
from ketadesk.services.booking.rule_check import COURSE_SESSIONS
from ketadesk.store.models import Appointment, Patient, Protocol, Series, SessionType
from ketadesk.store.pipeline import Combined, Read, Rows

_APPOINTMENT = cast(Table, Appointment.__table__)
_PATIENT = cast(Table, Patient.__table__)
_PROTOCOL = cast(Table, Protocol.__table__)
_SERIES = cast(Table, Series.__table__)
_SESSION_TYPE = cast(Table, SessionType.__table__)

# The record's facts, then its id (the lock's one column), the row locked as ``_LOCK_PATIENT``.
LOCKED_FACTS = PATIENT_FACTS.add_columns(_PATIENT.c.id).with_for_update(key_share=True)

# Every column the three reads of appointments return, of the patient's live appointments.
LIVE_APPOINTMENTS = (
    select(
        _APPOINTMENT.c.id,
        _APPOINTMENT.c.series_id,
        _APPOINTMENT.c.series_index,
        _APPOINTMENT.c.session_type_id,
        _APPOINTMENT.c.starts_at,
        _APPOINTMENT.c.ends_at,
        _APPOINTMENT.c.status,
        _PROTOCOL.c.code,
        _SERIES.c.planned_count,
        _SESSION_TYPE.c.code,
    )
    .select_from(
        _APPOINTMENT.join(_SESSION_TYPE, _SESSION_TYPE.c.id == _APPOINTMENT.c.session_type_id)
        .outerjoin(_SERIES, _SERIES.c.id == _APPOINTMENT.c.series_id)
        .outerjoin(_PROTOCOL, _PROTOCOL.c.id == _SERIES.c.protocol_id)
    )
    .where(
        _APPOINTMENT.c.patient_id == bindparam("patient_id"),
        # Constants written into the statement, as in the reads it stands for.
        _APPOINTMENT.c.status.not_in([literal(s, String) for s in sorted(RELEASED_STATUSES)]),
    )
)


def patient_reads(patient_id: int, lock_patient: Read, patient_booked: Read) -> list[Combined]:
    """The record (``lock_patient`` and ``PATIENT_FACTS``) and the live appointments
    (``COURSE_SESSIONS``, ``patient_booked``, ``PRIOR_AUTH_SESSIONS_ALL``) of a booking's
    patient, as two combined reads, in that order (the lock first)."""
    params = {"patient_id": patient_id}
    window = patient_booked[1]
    since, until, begins = window["since"], window["until"], window["begins"]

    def split_record(rows: Rows) -> list[Rows]:
        return [[(row[-1],) for row in rows], [row[:-1] for row in rows]]

    def split_appointments(rows: Rows) -> list[Rows]:
        course: Rows = []
        booked: Rows = []
        spending: Rows = []
        for id_, series, index, type_id, start, end, status, protocol, count, code in rows:
            course.append((id_, series, index, type_id, start, protocol, count))
            if since <= start < until and end > begins:
                booked.append((id_, start, end, type_id))
            if status in PRIOR_AUTH_SPENDING_STATUSES:
                spending.append((id_, code, status, start))
        return [course, booked, spending]

    return [
        Combined((LOCKED_FACTS, params), (lock_patient, (PATIENT_FACTS, params)), split_record),
        Combined(
            (LIVE_APPOINTMENTS, params),
            ((COURSE_SESSIONS, params), patient_booked, (PRIOR_AUTH_SESSIONS_ALL, params)),
            split_appointments,
        ),
    ]
