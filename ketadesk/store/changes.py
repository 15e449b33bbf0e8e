"""The change counter that tells other workstations something was written.

Every write transaction bumps it; open views poll it (a single-row read) and refresh only when it
moved.  On PostgreSQL the bump also sends a NOTIFY, so listeners hear of it at once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from ketadesk.store.models import ChangeCounter

COUNTER_ID = 1
NOTIFY_CHANNEL = "ketadesk_changes"


def ensure_counter(session: Session) -> None:
    if session.get(ChangeCounter, COUNTER_ID) is None:
        session.add(ChangeCounter(id=COUNTER_ID, value=0))
        session.flush()


def bump(session: Session, now: dt.datetime | None = None) -> None:
    """Mark that this transaction changed something (call once per write transaction)."""
    stamp = now or dt.datetime.now(dt.UTC)
    result = session.execute(
        update(ChangeCounter)
        .where(ChangeCounter.id == COUNTER_ID)
        .values(value=ChangeCounter.value + 1, changed_at=stamp)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(ChangeCounter(id=COUNTER_ID, value=1, changed_at=stamp))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))


def current(session: Session) -> int:
    value = session.scalar(select(ChangeCounter.value).where(ChangeCounter.id == COUNTER_ID))
    return value or 0
