"""Several reads sent to the database together: one round trip on PostgreSQL instead of one each.

A booking on PostgreSQL spends most of its time waiting for the server to answer one short
statement after another; with eight workstations on a busy server every wait is a switch of
process as well.  Statements whose parameters do not depend on one another's answers can go
out together in a psycopg *pipeline*: the server runs them one after the other, in the order
given, each as it would run alone (under READ COMMITTED each still sees what was committed when
it starts), and the answers come back together.  On SQLite (no network, no wait) they simply run
one after the other.

Only for plain Core ``SELECT`` statements with scalar parameters (no ``IN`` lists to expand).
Rows come back as the driver gives them: PostgreSQL ``timestamptz`` values in the session's time
zone, JSON decoded; the caller converts what it needs (``utc``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Executable, exc
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import Compiled

from ketadesk.store import raw

# Each statement compiled once per dialect: the SQL text and the parameters' names.
_COMPILED: dict[tuple[int, str], tuple[Executable, Compiled]] = {}

Read = tuple[Executable, Mapping[str, Any]]
Rows = list[tuple[Any, ...]]


@dataclass(frozen=True)
class Combined:
    """One statement sent ahead in place of several reads it answers (``parts``): ``split``
    turns its rows into theirs, in the order of ``parts``, each exactly the rows that read
    would have returned.  Fewer statements a booking: on a busy server every statement costs
    the client a cursor and the server a parse, bind and execute.  Only for reads that would
    have run one after another under the same locks (what one statement sees, they would
    have seen)."""

    read: Read
    parts: tuple[Read, ...]
    split: Callable[[Rows], Sequence[Rows]]


Ahead = Read | Combined


def read_together(conn: Connection, reads: Sequence[Read]) -> list[list[tuple[Any, ...]]]:
    """The rows of each of ``reads`` (statement, parameters), in one round trip on PostgreSQL."""
    if conn.dialect.name != "postgresql":
        return [
            raw.rows(conn, stmt, params)
            if raw.supported(conn, stmt)
            else [tuple(row) for row in conn.execute(stmt, dict(params))]
            for stmt, params in reads
        ]
    compiled = [_compiled(conn, stmt) for stmt, _ in reads]
    driver = conn.connection.dbapi_connection
    assert driver is not None
    cursors = []
    sql = ""
    try:
        with driver.pipeline():
            for c, (_stmt, params) in zip(compiled, reads, strict=True):
                sql, values = str(c), c.construct_params(dict(params))
                cur = driver.cursor()
                # Whoever listens to the engine's statements (a log, the GUI-thread guard of
                # the tests) hears of these too.
                conn.dispatch.before_cursor_execute(conn, cur, sql, values, None, False)
                cur.execute(sql, values)
                cursors.append(cur)
        return [[tuple(row) for row in cur.fetchall()] for cur in cursors]
    except conn.dialect.loaded_dbapi.Error as err:
        # As SQLAlchemy would have raised it, so the callers' handling (a lost server, a
        # serialization failure tried once more) is the same as for any other statement.
        raise exc.DBAPIError.instance(
            sql, None, err, conn.dialect.loaded_dbapi.Error, hide_parameters=True
        ) from err
    finally:
        for cur in cursors:
            cur.close()


def _compiled(conn: Connection, stmt: Executable) -> Compiled:
    key = (id(stmt), conn.dialect.name)
    found = _COMPILED.get(key)
    if found is None or found[0] is not stmt:
        found = (stmt, stmt.compile(dialect=conn.dialect))  # type: ignore[attr-defined]
        _COMPILED[key] = found
    return found[1]


def utc(value: dt.datetime) -> dt.datetime:
    """A driver's datetime as the models' ``UTCDateTime`` hands it back (aware, UTC)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# Reads sent ahead, in one round trip, by a write that knows what it will read (a booking on
# PostgreSQL: ``plan_check.prefetch_booking_reads``), kept on the Session (one transaction) until
# the code that needs them asks: ``prefetched`` hands each back once, by statement and
# parameters, or None (then the caller runs it as before).
_PREFETCHED = "ketadesk.prefetched"


def _key(stmt: Executable, params: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        id(stmt),
        tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items())),
    )


def prefetch(session: Session, reads: Sequence[Ahead]) -> None:
    """Run ``reads`` now (in one round trip on PostgreSQL) and keep their rows for this
    session's transaction.  The reads run in the order given, each after the locks the ones
    before it took, exactly as they would run later on their own."""
    keep(session, reads, read_together(raw.connection(session), sendable(reads)))


def sendable(reads: Sequence[Ahead]) -> list[Read]:
    """The statements to send for ``reads``: a combined read's one statement for its parts."""
    return [r.read if isinstance(r, Combined) else r for r in reads]


def keep(session: Session, reads: Sequence[Ahead], rows: Sequence[Rows]) -> None:
    """Keep the rows of ``reads`` (``sendable(reads)``, run by the caller) for
    ``prefetched``; a combined read's rows as the answers of its parts."""
    kept = session.info.setdefault(_PREFETCHED, {})
    for read, found in zip(reads, rows, strict=True):
        if isinstance(read, Combined):
            for (stmt, params), part in zip(read.parts, read.split(found), strict=True):
                kept[_key(stmt, params)] = part
        else:
            kept[_key(*read)] = found


def _keys(reads: Sequence[Ahead]) -> list[tuple[Any, ...]]:
    return [
        _key(*part)
        for read in reads
        for part in (read.parts if isinstance(read, Combined) else (read,))
    ]


def same_reads(a: Sequence[Ahead], b: Sequence[Ahead]) -> bool:
    """Whether two lists of reads are the same statements with the same parameters (a combined
    read as the reads it answers)."""
    return _keys(a) == _keys(b)


def prefetched(
    session: Session, stmt: Executable, params: Mapping[str, Any]
) -> list[tuple[Any, ...]] | None:
    """The rows ``prefetch`` read for this statement and parameters (once), else None."""
    kept = session.info.get(_PREFETCHED)
    if not kept:
        return None
    found: list[tuple[Any, ...]] | None = kept.pop(_key(stmt, params), None)
    return found


def read_or_prefetched(session: Session, reads: Sequence[Read]) -> list[list[tuple[Any, ...]]]:
    """``read_together``, but the reads ``prefetch`` already made are not made again."""
    found = [prefetched(session, stmt, params) for stmt, params in reads]
    missing = [read for read, rows in zip(reads, found, strict=True) if rows is None]
    if missing:
        fresh = iter(read_together(raw.connection(session), missing))
        found = [next(fresh) if rows is None else rows for rows in found]
    return [rows for rows in found if rows is not None]


def forget_prefetched(session: Session) -> None:
    """This transaction changed what was read ahead (expired holds released): read it again."""
    session.info.pop(_PREFETCHED, None)
