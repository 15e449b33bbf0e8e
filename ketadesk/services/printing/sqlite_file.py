"""The day sheet printed straight from a SQLite clinic file, with the standard library's sqlite3.

``ketadesk print day`` is a whole process: importing SQLAlchemy and the ORM models alone took
about 60 % of it.  For a plain SQLite file at the current schema it reads the day sheet here
(the same SQL as ``day_sheet``, through ``services.schedule.day_rows.Queries``), learns the
clinic's paper, and records the disclosure in the audit trail, with sqlite3 alone.  Any other
database, or a file that is not current (``open_clinic`` upgrades it), goes the usual way.  This
module, and everything it imports, stays clear of SQLAlchemy, the ORM models and alembic
(tests/printing/test_print_from_file.py checks it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ketadesk.services.common.context import Actor
from ketadesk.services.printing.day_sheet import BY_ROOM, DaySheet, day_sheet_from_queries
from ketadesk.services.schedule.day_rows import Queries, read_catalog

#: What ``services.access.audit.record_disclosure`` inserts, column for column.
AUDIT_SQL = """
INSERT INTO audit_event (at, user_id, username, action, entity, entity_id, patient_id, before,
                         after, detail)
VALUES (:at, :user_id, :username, 'disclose', 'document', NULL, NULL, 'null', :after, :detail)
"""
# ``before`` is JSON ``null`` as SQLAlchemy's JSON type writes a None, not SQL NULL.


@dataclass(frozen=True)
class SqliteFileSheets:
    """Day sheets of a SQLite clinic file, and their disclosures, without SQLAlchemy.

    Attributes:
        path: the clinic file.
    """

    path: Path

    @classmethod
    def of(cls, url: str) -> SqliteFileSheets | None:
        """For a plain SQLite URL or path; None for any other database (no file is touched)."""
        from ketadesk.store.database import plain_sqlite_path

        path = plain_sqlite_path(url)
        return cls(path) if path is not None else None

    def day_sheet(
        self,
        day: dt.date,
        *,
        by: str = BY_ROOM,
        use_initials: bool = False,
        now: dt.datetime | None = None,
    ) -> tuple[DaySheet, str]:
        """The day sheet (as ``day_sheet`` reads it) and the clinic's paper size, in one read.

        Raises StoreError (SchemaError for a schema that is not current) when the file cannot
        be read this way, and ConfigError for a broken stored configuration: the caller then
        opens the clinic the usual way, which upgrades an old file and reports problems fully.
        """
        with self._read() as queries:
            paper = read_catalog(queries).settings.paper_size
            sheet = day_sheet_from_queries(queries, day, by=by, use_initials=use_initials, now=now)
        return sheet, paper

    def record_disclosure(
        self, actor: Actor, what: str, detail: str, *, now: dt.datetime | None = None
    ) -> None:
        """Record in the audit trail that a document about many patients (a day sheet) left
        the application, as ``services.access.audit.record_disclosure`` does.  Raises
        StoreError when the file cannot be written."""
        from ketadesk.store.database import SQLITE_BUSY_TIMEOUT_MS, DatabaseOpenError

        at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
        row = {
            "at": at.isoformat(" ", "microseconds"),  # as SQLAlchemy stores a DateTime
            "user_id": actor.user_id,
            "username": actor.username,
            "after": json.dumps({"document": what}),  # as SQLAlchemy's JSON type writes it
            "detail": detail,
        }
        try:
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=rw",  # never creates the file
                uri=True,
                timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
            )
        except sqlite3.Error as err:
            raise DatabaseOpenError(f"cannot open {self.path}: {err}") from None
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(AUDIT_SQL, row)
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            raise DatabaseOpenError(f"cannot write to {self.path}: {err}") from None
        finally:
            conn.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Queries]:
        from ketadesk.store.database import SchemaError, read_sqlite_file
        from ketadesk.store.migrate import REVISION_SQL, SchemaState, state_of_revision

        with read_sqlite_file(self.path) as conn:
            try:
                revision = conn.execute(REVISION_SQL).fetchone()
            except sqlite3.Error:  # not a KetaDesk clinic (no alembic_version)
                revision = None
            if revision is None or state_of_revision(revision[0]) is not SchemaState.CURRENT:
                raise SchemaError(f"{self.path} is not at the current schema")
            fetch = conn.execute  # sqlite3 binds ``:name`` from a mapping, as text() does
            yield Queries(lambda sql, params: fetch(sql, params).fetchall(), sqlite=True)
