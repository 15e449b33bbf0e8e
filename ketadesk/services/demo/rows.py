"""Writing the demo's rows fast: its tables, and bulk inserts on SQLite straight through the
driver with the columns' own bind processors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from ketadesk.services.demo.planned import Progress, Row
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    AuditEvent,
    Closure,
    FollowUp,
    FollowUpAttempt,
    Measurement,
    Patient,
    Protocol,
    Resource,
    ResourceHold,
    Series,
    SessionFee,
    SessionType,
    StaffMember,
    StaffShift,
    User,
    UTCDateTime,
)


def table_of(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


ID_TABLES: tuple[Table, ...] = tuple(
    table_of(m)
    for m in (
        Resource,
        StaffShift,
        Closure,
        User,
        Patient,
        Series,
        Appointment,
        AppointmentEvent,
        ResourceHold,
        FollowUp,
        FollowUpAttempt,
        Measurement,
        AuditEvent,
        SessionFee,
    )
)
TABLES = {t.name: t for t in (*ID_TABLES, table_of(StaffMember))}


class SqliteRows:
    """Bulk inserts on SQLite straight through the driver's executemany.

    The values go through the columns' own SQLAlchemy bind processors, so they are stored
    exactly as an ORM insert would store them; skipping SQLAlchemy's per-row parameter
    handling (and remembering the clinic's many repeated instants) makes a five-year clinic
    several times faster to write.
    """

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.dialect = self.connection.dialect
        self.prepared: dict[
            tuple[str, tuple[str, ...]], tuple[str, list[str], list[Callable[[Any], Any]]]
        ] = {}

    def __call__(self, table: Table, rows: list[Row]) -> None:
        key = (table.name, tuple(rows[0]))
        if key not in self.prepared:
            self.prepared[key] = self._prepare(table, key[1])
        sql, names, processors = self.prepared[key]
        # Column by column: most values need no conversion, and zip() does the rest in C.
        columns = [[row[name] for row in rows] for name in names]
        for i, process in enumerate(processors):
            if process is not _same:
                columns[i] = [process(value) for value in columns[i]]
        self.connection.exec_driver_sql(sql, list(zip(*columns, strict=True)))

    def _prepare(
        self, table: Table, columns: tuple[str, ...]
    ) -> tuple[str, list[str], list[Callable[[Any], Any]]]:
        statement = insert(table).values({c: bindparam(c) for c in columns})
        compiled = statement.compile(dialect=self.dialect)
        names = list(compiled.positiontup or ())
        if sorted(names) != sorted(columns):
            raise RuntimeError(f"cannot prepare the insert into {table.name}: {names}")
        processors: list[Callable[[Any], Any]] = []
        for name in names:
            column_type = table.c[name].type
            process = column_type.dialect_impl(self.dialect).bind_processor(self.dialect)
            if process is None:
                processors.append(_same)
            elif isinstance(column_type, UTCDateTime):
                processors.append(_remembering(_quick_instants(process)))
            else:
                processors.append(process)
        return str(compiled), names, processors


def _same(value: Any) -> Any:
    return value


def _quick_instants(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A faster twin of SQLite's storage of an aware instant (naive UTC text), used only when
    it gives exactly what SQLAlchemy's own processor gives on a few probes."""

    def quick(value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        text_ = value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
        return text_ if len(text_) > 19 else text_ + ".000000"

    probes = [
        dt.datetime(2025, 11, 27, 17, 30, tzinfo=dt.UTC),
        dt.datetime(2024, 3, 10, 1, 59, 59, 123456, tzinfo=dt.UTC),
        dt.datetime(2024, 11, 3, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=-7))),
    ]
    if all(quick(v) == process(v) for v in probes):
        return quick
    return process


def _remembering(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    seen: dict[Any, Any] = {}

    def remembered(value: Any) -> Any:
        if value is None:
            return None
        found = seen.get(value)
        if found is None:
            found = seen[value] = process(value)
        return found

    return remembered


def codes_of(session: Session, model: type[SessionType] | type[Protocol]) -> dict[str, int]:
    return {row.code: row.id for row in session.execute(select(model.code, model.id))}


# Rows are inserted in batches of this many (a batch is one executemany).
CHUNK = 10_000


class RowSink:
    """Buffers rows per table, hands out ids, and bulk-inserts a table's rows when asked."""

    def __init__(self, session: Session, say: Progress) -> None:
        self.session = session
        self.say = say
        self.counts: dict[str, int] = dict.fromkeys([*TABLES, "open_follow_up"], 0)
        self.next_id: dict[str, int] = {}
        self.buffers: dict[str, list[Row]] = {}
        bind = session.get_bind()
        self.fast = SqliteRows(session) if bind.dialect.name == "sqlite" else None

    def _id(self, table: str) -> int:
        value = self.next_id.get(table, 1)
        self.next_id[table] = value + 1
        return value

    def _add(self, table: str, row: Row) -> None:
        self.buffers.setdefault(table, []).append(row)

    def _flush(self, *order: str) -> None:
        for name in order:
            rows = self.buffers.pop(name, None)
            if not rows:
                continue
            if self.fast is not None:
                self.fast(TABLES[name], rows)
            else:
                self.session.execute(insert(TABLES[name]), rows)
            self.counts[name] = self.counts.get(name, 0) + len(rows)

    def _insert(self, name: str, rows: Iterable[Row]) -> None:
        for row in rows:
            self._add(name, row)
            if len(self.buffers[name]) >= CHUNK:
                self._flush(name)
        self._flush(name)
