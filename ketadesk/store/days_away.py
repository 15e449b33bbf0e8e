"""A patient's days away as the scheduling rule takes them (``scheduling/days_away.py``), read
by every step that places a session: planning, booking, moves, a closure's re-plan.

One Core statement, compiled once and run on the driver's cursor (``store/raw``), like the
booking's other reads: through the ORM its building and compiling cost a fifth of a booking, and
a read the booking's check made ahead (SQLite, another writer queued) could not be replayed.  On
PostgreSQL the booking sends it in its pipeline of reads (``booking._reads_ahead``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from ketadesk.scheduling.days_away import AWAY_RULE, AwayRange
from ketadesk.store import raw
from ketadesk.store.models import GatingOverride, PatientAway
from ketadesk.store.pipeline import prefetched
from ketadesk.store.snapshot import autoflush

_AWAY = cast(Table, PatientAway.__table__)

#: Every range on one patient's record, in date order (parameter ``patient_id``).
PATIENT_AWAY = (
    select(_AWAY.c.id, _AWAY.c.first_day, _AWAY.c.last_day, _AWAY.c.reason)
    .where(_AWAY.c.patient_id == bindparam("patient_id"))
    .order_by(_AWAY.c.first_day, _AWAY.c.id)
)


def patient_away_ranges(session: Session, patient_id: int) -> list[AwayRange]:
    """Every range on the patient's record, past ones too, in date order."""
    autoflush(session)  # a range added in this transaction counts
    params = {"patient_id": patient_id}
    rows = prefetched(session, PATIENT_AWAY, params)
    if rows is None:
        rows = raw.rows(raw.connection(session), PATIENT_AWAY, params)
    return [AwayRange(_day(first), _day(last), reason, key) for key, first, last, reason in rows]


def _day(value: dt.date | str) -> dt.date:
    # Prefetched rows come as the driver gives them (PostgreSQL: a date already).
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def kept_on_days_away(session: Session, appointment_ids: Iterable[int]) -> set[int]:
    """Of ``appointment_ids``, the sessions kept on a day away with an override on record
    (``scheduling/days_away.away_flagged``'s ``kept_by_override``)."""
    ids = sorted(set(appointment_ids))
    if not ids:
        return set()
    return set(
        session.scalars(
            select(GatingOverride.appointment_id).where(
                GatingOverride.rule == AWAY_RULE, GatingOverride.appointment_id.in_(ids)
            )
        )
    )
