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
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Executable, exc
from sqlalchemy.sql.compiler import Compiled

# Each statement compiled once per dialect: the SQL text and the parameters' names.
_COMPILED: dict[tuple[int, str], tuple[Executable, Compiled]] = {}

Read = tuple[Executable, Mapping[str, Any]]


def read_together(conn: Connection, reads: Sequence[Read]) -> list[list[tuple[Any, ...]]]:
    """The rows of each of ``reads`` (statement, parameters), in one round trip on PostgreSQL."""
    if conn.dialect.name != "postgresql":
        return [[tuple(row) for row in conn.execute(stmt, dict(params))] for stmt, params in reads]
    compiled = [_compiled(conn, stmt) for stmt, _ in reads]
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursors = []
    sql = ""
    try:
        with raw.pipeline():
            for c, (_stmt, params) in zip(compiled, reads, strict=True):
                sql, values = str(c), c.construct_params(dict(params))
                cur = raw.cursor()
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
