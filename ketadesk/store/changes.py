"""The change counter that tells other workstations something was written.

Every write transaction bumps it; open views poll it (a single-row read) and refresh only when it
moved.  On PostgreSQL the bump also sends a NOTIFY, so listeners hear of it at once.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, bindparam, func, literal, select, text, update
from sqlalchemy.orm import Session

from ketadesk.store.models import ChangeCounter

if TYPE_CHECKING:
    from ketadesk.store.database import Database

COUNTER_ID = 1
NOTIFY_CHANNEL = "ketadesk_changes"
_NOTIFY = text(f"NOTIFY {NOTIFY_CHANNEL}")

_TABLE = cast(Table, ChangeCounter.__table__)
_BUMP = (
    update(_TABLE)
    .where(_TABLE.c.id == COUNTER_ID)
    .values(
        value=_TABLE.c.value + 1,
        changed_at=bindparam("stamp", type_=_TABLE.c.changed_at.type),
    )
)

# PostgreSQL: the NOTIFY rides on the update (``pg_notify`` is what NOTIFY does, sent at commit
# like it), one round trip instead of two.
_BUMP_AND_NOTIFY = _BUMP.returning(func.pg_notify(literal(NOTIFY_CHANNEL), literal("")))


def ensure_counter(session: Session) -> None:
    if session.get(ChangeCounter, COUNTER_ID) is None:
        session.add(ChangeCounter(id=COUNTER_ID, value=0))
        session.flush()


def bump(session: Session, now: dt.datetime | None = None) -> None:
    """Mark that this transaction changed something (call once per write transaction).

    A plain update of the one row: it neither flushes the session's pending objects (the commit
    does) nor looks for the counter among them (nothing keeps it as an object; ``current`` reads
    the row).
    """
    stamp = now or dt.datetime.now(dt.UTC)
    conn = session.connection()
    postgresql = conn.dialect.name == "postgresql"
    if postgresql:
        if conn.execute(_BUMP_AND_NOTIFY, {"stamp": stamp}).first() is not None:
            return
    elif conn.execute(_BUMP, {"stamp": stamp}).rowcount != 0:
        return
    session.add(ChangeCounter(id=COUNTER_ID, value=1, changed_at=stamp))
    if postgresql:
        conn.execute(_NOTIFY)


def current(session: Session) -> int:
    value = session.scalar(select(ChangeCounter.value).where(ChangeCounter.id == COUNTER_ID))
    return value or 0


def change_counter(db: Database) -> int:
    """The counter as committed now, in a read of its own: what open views poll (~2 s)."""
    with db.read() as session:
        return current(session)
