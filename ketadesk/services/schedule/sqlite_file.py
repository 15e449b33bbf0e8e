"""Days of a clinic read straight from its SQLite file with the standard library's sqlite3.

Start-up paints its first day this way before SQLAlchemy is imported at all (that import alone
costs more time and memory than the rest of start-up), then opens the clinic properly.  So this
module, and everything it imports at import time, stays clear of SQLAlchemy, the store's ORM
models, alembic and ``holidays`` (tests/ui/shell/test_commands.py checks it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ketadesk.services.schedule.day_rows import (
    CLINIC_SQL,
    Queries,
    clinic_timezone,
    day_schedule_from_rows,
    local_today,
    read_catalog,
    read_day_rows,
)
from ketadesk.services.schedule.day_schedule import DaySchedule


@dataclass(frozen=True)
class SqliteFileDays:
    """Days of a clinic read straight from its SQLite file with the standard library alone.

    What start-up paints first, in a fraction of the time and memory SQLAlchemy needs just to be
    imported.  It never writes, and it reads only a file whose schema is current, so an old
    file is left for ``open_clinic`` to upgrade.  Call it like ``day_schedule`` bound to a
    clinic: ``days(day)``.

    Attributes:
        path: the SQLite file.
    """

    path: Path

    @classmethod
    def of(cls, url: str) -> SqliteFileDays | None:
        """For a plain SQLite URL or path; None for any other database (no file is touched)."""
        from ketadesk.store.database import plain_sqlite_path

        path = plain_sqlite_path(url)
        return cls(path) if path is not None else None

    @property
    def label(self) -> str:
        return str(self.path)

    def __call__(self, day: dt.date) -> DaySchedule:
        return self.read(day)

    def read(self, day: dt.date | None = None, *, now: dt.datetime | None = None) -> DaySchedule:
        """The clinic's local ``day`` (None: today at the clinic, by ``now``).

        Raises StoreError when the file cannot be read this way (missing, damaged, not a
        KetaDesk clinic, a schema that is not current) and ConfigError for a broken stored
        configuration: ``open_clinic`` says the same more fully.
        """
        from ketadesk.store.database import SchemaError, read_sqlite_file
        from ketadesk.store.migrate import REVISION_SQL, SchemaState, state_of_revision

        with read_sqlite_file(self.path) as conn:
            revision = conn.execute(REVISION_SQL).fetchone()
            if revision is None or state_of_revision(revision[0]) is not SchemaState.CURRENT:
                raise SchemaError(f"{self.path} is not at the current schema")
            fetch = conn.execute  # sqlite3 binds ``:name`` from a mapping, as text() does
            queries = Queries(lambda sql, params: fetch(sql, params).fetchall(), sqlite=True)
            catalog = read_catalog(queries)
            if day is None:
                day = local_today(catalog.settings.timezone, now)
            rows = read_day_rows(queries, day, catalog)
        return day_schedule_from_rows(rows)

    def first_day(
        self, day: dt.date | None = None, *, now: dt.datetime | None = None
    ) -> DaySchedule | None:
        """``read``, or None when anything stands in the way: the caller then opens the clinic
        the usual way, which upgrades an old schema and reports problems clearly."""
        from ketadesk.scheduling.catalog import ConfigError
        from ketadesk.store.database import StoreError

        try:
            return self.read(day, now=now)
        except (StoreError, ConfigError, ValueError):  # ValueError: a time or JSON unreadable
            return None

    def today(self, *, now: dt.datetime | None = None) -> dt.date:
        """Today's date where the clinic is."""
        from ketadesk.store.database import read_sqlite_file

        with read_sqlite_file(self.path) as conn:
            rows = conn.execute(CLINIC_SQL).fetchall()
        return local_today(clinic_timezone(rows), now)
