"""Tentative holds whose deadline has passed, released lazily: there is no background job, so
every booking transaction (through ``plan_check.verify_plan``), the tentative-hold services and
``ketadesk check`` release them before they read the holds, and read-only availability
(``store.snapshot.load_hold_rows``) treats them as free until then.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, insert, literal_column, select, update
from sqlalchemy.orm import Session

from ketadesk.services.access import audit
from ketadesk.services.common.context import SYSTEM
from ketadesk.store import raw
from ketadesk.store.models import Appointment, AppointmentEvent, ResourceHold
from ketadesk.store.pipeline import forget_prefetched, prefetched
from ketadesk.store.snapshot import autoflush

_APPOINTMENT = cast(Table, Appointment.__table__)
_HOLD = cast(Table, ResourceHold.__table__)
_EVENT = cast(Table, AppointmentEvent.__table__)

RELEASE_REASON = "the tentative hold's deadline passed"


class _Expired(NamedTuple):
    id: int
    patient_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    room_id: int | None
    hold_until: dt.datetime | None


# Every booking runs this first: built once, the deadline bound at execution.
EXPIRED = (
    select(
        _APPOINTMENT.c.id,
        _APPOINTMENT.c.patient_id,
        _APPOINTMENT.c.starts_at,
        _APPOINTMENT.c.ends_at,
        _APPOINTMENT.c.room_id,
        _APPOINTMENT.c.hold_until,
    ).where(
        # A constant in the statement, as the partial index's condition: SQLite uses the index
        # only when the query's condition names the same value.
        _APPOINTMENT.c.status == literal_column("'tentative'"),
        _APPOINTMENT.c.hold_until <= bindparam("now", type_=_APPOINTMENT.c.hold_until.type),
    )
    # No ORDER BY: SQLite would rather walk the table in id order than sort the few rows the
    # index finds; they are sorted here.
)


def release_expired(session: Session, now: dt.datetime) -> list[int]:
    """Turn every tentative appointment whose ``hold_until`` is at or before ``now`` into
    "released", its holds inactive, with an event and an audit entry each (by the system: the
    deadline, not a user, released it).  Returns the released appointments' ids."""
    autoflush(session)
    if prefetched(session, EXPIRED, {"now": now}) == []:
        return []  # read ahead with the booking's other reads (``prefetch``): none expired
    conn = raw.connection(session)
    rows = sorted(_Expired(*r) for r in raw.rows(conn, EXPIRED, {"now": now}))
    if not rows:
        return []
    if raw.logging(conn):
        raise raw.Unlogged("expired holds to release")  # a write: made in the write transaction
    # What was read ahead in this transaction counted these holds as taken.
    forget_prefetched(session)
    ids = [r.id for r in rows]
    conn.execute(
        update(_APPOINTMENT)
        .where(_APPOINTMENT.c.id.in_(ids))
        .values(status="released", updated_at=now, version=_APPOINTMENT.c.version + 1)
    )
    conn.execute(update(_HOLD).where(_HOLD.c.appointment_id.in_(ids)).values(active=False))
    conn.execute(
        insert(_EVENT),
        [
            {
                "appointment_id": r.id,
                "at": now,
                "user_id": None,
                "action": "release",
                "from_status": "tentative",
                "to_status": "released",
                "reason": RELEASE_REASON,
                "detail": {"hold_until": r.hold_until.isoformat() if r.hold_until else None},
            }
            for r in rows
        ],
    )
    audit.write(
        session,
        [
            audit.entry(
                SYSTEM,
                "release",
                "appointment",
                r.id,
                patient_id=r.patient_id,
                before={"status": "tentative", "starts_at": r.starts_at.isoformat()},
                after={"status": "released", "starts_at": r.starts_at.isoformat()},
                detail=RELEASE_REASON,
                now=now,
            )
            for r in rows
        ],
    )
    # The ORM may hold these appointments already (their status and version changed underneath).
    released = set(ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Appointment) and obj.id in released:
            session.expire(obj)
    return ids
