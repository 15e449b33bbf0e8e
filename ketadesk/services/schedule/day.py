"""Reading one clinic day on an open clinic, through a SQLAlchemy Core connection (never the
ORM): the day by room or by staff, today's date at the clinic, and the change counter.

Read-only.  SQLAlchemy and the store are imported inside the functions: importing this module
costs nothing at start-up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from ketadesk.services.schedule.day_rows import (
    CLINIC_SQL,
    Queries,
    Rows,
    clinic_timezone,
    day_schedule_from_rows,
    local_today,
    read_day_rows,
)
from ketadesk.services.schedule.day_schedule import DaySchedule

if TYPE_CHECKING:
    from ketadesk.config import Catalog
    from ketadesk.store.database import Database


@contextlib.contextmanager
def core_queries(db: Database) -> Iterator[Queries]:
    from sqlalchemy import text

    with db.engine.connect() as conn:  # one read transaction, rolled back at the end

        def fetch(sql: str, params: Mapping[str, object]) -> Rows:
            return conn.execute(text(sql), params).all()

        yield Queries(fetch, sqlite=db.is_sqlite)


def change_counter(db: Database) -> int:
    """The clinic's change counter, bumped by every write: a view whose day may have changed
    at another workstation reloads when it moved (ui.change_watch polls it).  Raises
    ServiceError when the database cannot be read."""
    from sqlalchemy.exc import SQLAlchemyError

    from ketadesk.services.common.context import ServiceError
    from ketadesk.store.changes import change_counter as read_counter

    try:
        return read_counter(db)
    except SQLAlchemyError as err:  # the server away for a moment: the caller tries again
        raise ServiceError(f"cannot read the change counter: {err}") from err


def clinic_today(db: Database, *, now: dt.datetime | None = None) -> dt.date:
    """Today's date where the clinic is (not where this workstation's clock thinks it is)."""
    with core_queries(db) as queries:
        rows = queries.fetch(CLINIC_SQL, {})
    return local_today(clinic_timezone(rows), now)


def day_schedule(
    db: Database, day: dt.date, *, catalog: Catalog | None = None, by: str = "room"
) -> DaySchedule:
    """Everything the day view shows for the clinic's local ``day``, a column per room
    (``by="room"``) or per staff member (``by="staff"``, see ``staff_day_schedule``).

    ``catalog`` saves re-reading the clinic's configuration when the caller already has it.
    Raises ConfigError if the stored configuration is broken.
    """
    with core_queries(db) as queries:
        rows = read_day_rows(queries, day, catalog, by)
    return day_schedule_from_rows(rows)


def staff_day_schedule(
    db: Database, day: dt.date, *, catalog: Catalog | None = None
) -> DaySchedule:
    """The day by staff: a column per staff member who works that day (a shift) or holds a
    session, each session under every staff member it holds (the nurse, the prescriber on
    site...), and the opening hours they are off shift shaded like a closure."""
    return day_schedule(db, day, catalog=catalog, by="staff")
