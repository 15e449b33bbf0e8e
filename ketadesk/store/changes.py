"""The change counter that tells other workstations something was written.

Every write transaction bumps it; open views poll it (a single-row read) and refresh only when it
moved.  On PostgreSQL the bump also sends a NOTIFY, so listeners hear of it at once.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, bindparam, func, literal, select, text, update
from sqlalchemy.orm import Session

from ketadesk.store import raw
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


# SQLite: the same update, saying whether the row was there (in a batch, which has no rowcount).
_BUMP_RETURNING = _BUMP.returning(_TABLE.c.id)


def bump_in(batch: raw.Batch, now: dt.datetime) -> int:
    """``bump`` as the last statement of a batch of writes (``store/raw.Batch``, sent together
    on PostgreSQL); after ``batch.run()``, pass its answer at the index returned to
    ``bumped``."""
    postgresql = batch.conn.dialect.name == "postgresql"
    return batch.select(_BUMP_AND_NOTIFY if postgresql else _BUMP_RETURNING, {"stamp": now})


def bumped(session: Session, answer: list[tuple[object, ...]], now: dt.datetime) -> None:
    """After ``bump_in``: the counter's row made when it was missing."""
    if answer:
        return
    session.add(ChangeCounter(id=COUNTER_ID, value=1, changed_at=now))
    if raw.connection(session).dialect.name == "postgresql":
        raw.connection(session).execute(_NOTIFY)


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
    conn = raw.connection(session)
    postgresql = conn.dialect.name == "postgresql"
    if postgresql:
        if raw.rows(conn, _BUMP_AND_NOTIFY, {"stamp": stamp}):
            return
    elif raw.rowcount(conn, _BUMP, {"stamp": stamp}) != 0:
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
