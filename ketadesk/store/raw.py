"""A booking's hot statements on the driver's own cursor: compiled once, run without SQLAlchemy's
per-statement machinery.

A booking is about a dozen short statements, and running each through ``Connection.execute``
(the compiled cache's key, the execution context, the events, the result object) cost more of
its time than the database did.  Here a Core statement is compiled once per dialect, and its
SQL, its parameters' order and SQLAlchemy's own bind and result processors for its types
(``UTCDateTime``, JSON, dates, booleans) are kept; running it is the driver's ``execute`` on
values passed through the same processors SQLAlchemy would apply, so what is written and read
back is exactly what ``Connection.execute`` would write and read.

Only for plain Core ``SELECT``/``INSERT``/``UPDATE`` statements with scalar parameters (no
``IN`` list to expand) whose inserts name every column they write (a column's Python-side
default is not applied here: ``prepared`` refuses an insert that would need one).  A driver
error is raised as SQLAlchemy would raise it (``IntegrityError``, ``OperationalError``, ...), so
callers handle it the same way.  Whoever listens to the engine's statements (a log, the
GUI-thread guard of the tests, the bench's count) still hears of each one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Executable, event, exc
from sqlalchemy.orm import Session

from ketadesk.store.models import UTCDateTime

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement compiled for one dialect, ready for the driver's cursor."""

    stmt: Executable  # kept alive: the cache below is keyed by its id
    sql: str
    # Positional drivers (sqlite3): each parameter's name, in order, and its bind processor.
    positional: tuple[tuple[str, _Processor], ...] | None
    # Named drivers (psycopg): each parameter's name, as the SQL spells it, and its processor.
    named: tuple[tuple[str, str, _Processor], ...]
    defaults: Mapping[str, Any]  # literal values compiled into parameters (``value + 1``)
    results: tuple[_Processor, ...] | None  # per column; None: no processor at all

    def values(self, params: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **params} if self.defaults else params
        if self.positional is not None:
            return tuple(
                merged[name] if proc is None else proc(merged[name])
                for name, proc in self.positional
            )
        return {
            spelled: merged[name] if proc is None else proc(merged[name])
            for name, spelled, proc in self.named
        }

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        procs = self.results
        if procs is None:
            return tuple(raw)
        return tuple(v if p is None or v is None else p(v) for p, v in zip(procs, raw, strict=True))


_PREPARED: dict[tuple[int, str, tuple[str, ...]], Prepared] = {}
# Statements ``prepared`` refused (an expanding IN list): by id, with the statement kept alive.
_UNSUPPORTED: dict[int, Executable] = {}


def supported(conn: Connection, stmt: Executable) -> bool:
    """Whether ``rows`` can run ``stmt`` (else run it through SQLAlchemy): not when it has an
    expanding IN parameter."""
    if _UNSUPPORTED.get(id(stmt)) is stmt:
        return False
    try:
        prepared(conn, stmt)
    except ValueError:
        return False
    return True


def prepared(conn: Connection, stmt: Executable, columns: Iterable[str] = ()) -> Prepared:
    """``stmt`` compiled for ``conn``'s dialect (once); ``columns``: an insert's columns, each
    row giving every one of them."""
    keys = tuple(columns)
    dialect = conn.dialect
    key = (id(stmt), dialect.name, keys)
    found = _PREPARED.get(key)
    if found is not None and found.stmt is stmt:
        return found
    compiled: Any = stmt.compile(  # type: ignore[attr-defined]
        dialect=dialect, column_keys=list(keys) if keys else None
    )
    if keys:
        extra = [
            c
            for c in getattr(compiled, "insert_prefetch", [])
            + getattr(compiled, "update_prefetch", [])
            if c.key not in keys
        ]
        if extra:
            raise ValueError(f"{stmt}: rows must name every column written ({extra})")
    bound: dict[str, Any] = {name: b for b, name in compiled.bind_names.items()}
    if any(b.expanding for b in bound.values()):
        _UNSUPPORTED[id(stmt)] = stmt
        raise ValueError(f"{stmt}: an expanding IN parameter is not supported here")
    processors: dict[str, Callable[[Any], Any]] = dict(compiled._bind_processors)
    for name, proc in list(processors.items()):
        processors[name] = _faster_bind(bound[name].type, dialect, proc)
    defaults = {
        name: b.value
        for name, b in bound.items()
        if b.value is not None and not b.callable and name not in keys
    }
    positional = None
    named: tuple[tuple[str, str, _Processor], ...] = ()
    if compiled.positional:
        positional = tuple((name, processors.get(name)) for name in compiled.positiontup)
    else:
        escaped = getattr(compiled, "escaped_bind_names", None) or {}
        named = tuple((name, escaped.get(name, name), processors.get(name)) for name in bound)
    result_columns = getattr(compiled, "_result_columns", None) or []
    results: tuple[_Processor, ...] | None = tuple(
        _faster_result(c.type, dialect, c.type._cached_result_processor(dialect, None))
        for c in result_columns
    )
    if results is not None and all(p is None for p in results):
        results = None
    found = Prepared(
        stmt=stmt,
        sql=str(compiled),
        positional=positional,
        named=named,
        defaults=defaults,
        results=results,
    )
    _PREPARED[key] = found
    return found


# --------------------------------------------------------------------------------------------
# SQLite: the models' instants (``UTCDateTime``: naive UTC text) converted by the standard
# library's C code instead of SQLAlchemy's formatting and regular expression, used only where
# they give the very same value as SQLAlchemy's own processor (checked on samples once).

_SAMPLES = (
    dt.datetime(2026, 3, 8, 9, 5, 7, 123, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=-7))),
    dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
)


def _utc_text(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} given where an aware one is needed")
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _utc_value(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


def _faster_bind(type_: Any, dialect: Any, proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    if dialect.name != "sqlite" or not isinstance(type_, UTCDateTime):
        return proc
    if all(_utc_text(v) == proc(v) for v in _SAMPLES) and proc(None) is None:
        return _utc_text
    return proc


def _faster_result(type_: Any, dialect: Any, proc: _Processor) -> _Processor:
    if proc is None or dialect.name != "sqlite" or not isinstance(type_, UTCDateTime):
        return proc
    bind = type_._cached_bind_processor(dialect)
    if bind is None:
        return proc
    # As SQLAlchemy writes them, and as SQLite's own CURRENT_TIMESTAMP does.
    stored = [bind(v) for v in _SAMPLES] + ["2026-03-08 09:05:07"]
    try:
        same = all(_utc_value(s) == proc(s) for s in stored)
    except ValueError:
        same = False
    return _utc_value if same else proc


_CONNECTION = "ketadesk.connection"


def connection(session: Session) -> Connection:
    """``session.connection()``, kept for the rest of the session's transaction: SQLAlchemy's
    own walks the session's transaction states every time, which a booking asking a dozen
    times paid for a dozen times."""
    txn = session.get_transaction()
    kept = session.info.get(_CONNECTION)
    if kept is not None and txn is not None and kept[0] is txn and txn.is_active:
        conn: Connection = kept[1]
        if not conn.closed:
            return conn
    conn = session.connection()
    session.info[_CONNECTION] = (session.get_transaction(), conn)
    return conn


def _cursor(conn: Connection) -> Any:
    raw = conn.connection.dbapi_connection
    assert raw is not None
    return raw.cursor()


def _raised(conn: Connection, sql: str, err: Exception) -> exc.StatementError:
    """The driver's error as SQLAlchemy would raise it; a lost connection is dropped from the
    pool, as SQLAlchemy does (the next transaction gets a new one)."""
    lost = conn.dialect.is_disconnect(err, conn.connection.dbapi_connection, None)  # type: ignore[arg-type]
    raised = exc.DBAPIError.instance(
        sql,
        None,
        err,
        conn.dialect.loaded_dbapi.Error,
        hide_parameters=True,
        dialect=conn.dialect,
        connection_invalidated=lost,
    )
    if lost:
        conn.invalidate(raised)
    return raised


def _heard(conn: Connection, cursor: Any, sql: str, values: Any, many: bool) -> None:
    if conn.dispatch.before_cursor_execute:
        conn.dispatch.before_cursor_execute(conn, cursor, sql, values, None, many)


def rows(
    conn: Connection, stmt: Executable, params: Mapping[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """Run ``stmt`` once and return its rows (none for a statement without any)."""
    p = prepared(conn, stmt)
    fetched = _fetched(conn, p, params)
    log = conn.info.get(_LOG)
    if log is not None:
        log.reads.append((stmt, dict(params or {}), fetched))
    procs = p.results
    if procs is None:
        return [tuple(r) for r in fetched]
    return [p.row(r) for r in fetched]


def _fetched(
    conn: Connection, p: Prepared, params: Mapping[str, Any] | None
) -> list[tuple[Any, ...]]:
    """The rows as the driver gives them (before SQLAlchemy's result processors)."""
    values = p.values(params or {})
    cur = _cursor(conn)
    try:
        _heard(conn, cur, p.sql, values, False)
        cur.execute(p.sql, values)
        return [] if cur.description is None else cur.fetchall()
    except conn.dialect.loaded_dbapi.Error as err:
        raise _raised(conn, p.sql, err) from err
    finally:
        cur.close()


# --------------------------------------------------------------------------------------------
# Reads logged, to be replayed later: a check made ahead of a write transaction holds inside it
# exactly when every read it made returns the same rows there (``replays``).

_LOG = "ketadesk.read_log"


class Unlogged(Exception):
    """A statement that cannot be logged (run through SQLAlchemy, or a write) while reads are
    logged: the check that ran it must be made again inside the write transaction."""


@dataclass
class ReadLog:
    """The reads made on a connection, in order: statement, parameters, rows (as the driver
    gave them: compared as they are, without converting them again)."""

    reads: list[tuple[Executable, dict[str, Any], list[tuple[Any, ...]]]] = field(
        default_factory=list
    )


def _refuse(*_args: Any, **_kwargs: Any) -> None:
    raise Unlogged("a statement run through SQLAlchemy while reads are logged")


@contextlib.contextmanager
def logged(conn: Connection) -> Iterator[ReadLog]:
    """Log every read ``rows`` makes on ``conn`` meanwhile.  Any statement run otherwise
    (through SQLAlchemy) raises ``Unlogged`` instead of running, as does a write through this
    module: what was read would not be the whole of what was judged."""
    log = ReadLog()
    conn.info[_LOG] = log
    event.listen(conn, "before_execute", _refuse)
    try:
        yield log
    finally:
        event.remove(conn, "before_execute", _refuse)
        conn.info.pop(_LOG, None)


def logging(conn: Connection) -> bool:
    """Whether ``conn``'s reads are being logged (nothing may be written on it now)."""
    return _LOG in conn.info


def replays(conn: Connection, log: ReadLog) -> bool:
    """Whether each read of ``log`` returns, on ``conn`` now, the very rows it returned then."""
    return all(
        _fetched(conn, prepared(conn, stmt), params) == found for stmt, params, found in log.reads
    )


def rowcount(conn: Connection, stmt: Executable, params: Mapping[str, Any]) -> int:
    """Run an UPDATE once; the rows it matched."""
    if logging(conn):
        raise Unlogged("a write while reads are logged")
    p = prepared(conn, stmt)
    values = p.values(params)
    cur = _cursor(conn)
    try:
        _heard(conn, cur, p.sql, values, False)
        cur.execute(p.sql, values)
        count: int = cur.rowcount
        return count
    except conn.dialect.loaded_dbapi.Error as err:
        raise _raised(conn, p.sql, err) from err
    finally:
        cur.close()


def insert_rows(conn: Connection, stmt: Executable, rows_: Sequence[Mapping[str, Any]]) -> None:
    """An INSERT (without RETURNING) of ``rows_``, every row naming the same columns, as the
    driver's ``executemany``."""
    if not rows_:
        return
    if logging(conn):
        raise Unlogged("a write while reads are logged")
    p = prepared(conn, stmt, rows_[0].keys())
    values = [p.values(r) for r in rows_]
    cur = _cursor(conn)
    try:
        _heard(conn, cur, p.sql, values, True)
        cur.executemany(p.sql, values)
    except conn.dialect.loaded_dbapi.Error as err:
        raise _raised(conn, p.sql, err) from err
    finally:
        cur.close()


def insert_returning(
    conn: Connection, stmt: Executable, rows_: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """An INSERT ... RETURNING of ``rows_`` one after the other (in order), every row naming the
    same columns: what each returned, in the rows' order."""
    if not rows_:
        return []
    if logging(conn):
        raise Unlogged("a write while reads are logged")
    p = prepared(conn, stmt, rows_[0].keys())
    cur = _cursor(conn)
    out: list[tuple[Any, ...]] = []
    try:
        for r in rows_:
            values = p.values(r)
            _heard(conn, cur, p.sql, values, False)
            cur.execute(p.sql, values)
            out.append(p.row(cur.fetchone()))
        return out
    except conn.dialect.loaded_dbapi.Error as err:
        raise _raised(conn, p.sql, err) from err
    finally:
        cur.close()


# --------------------------------------------------------------------------------------------
# Writes sent together


class Batch:
    """Writes that do not depend on one another's answers, sent together: one round trip on
    PostgreSQL (a psycopg pipeline: the server runs them one after the other, in the order
    given, as if sent alone; an error in one stops the rest and is raised at ``run``), one
    after the other on SQLite.  ``insert`` and ``insert_returning`` as above; ``run`` sends
    them and returns what each ``insert_returning`` and ``select`` returned, by the index
    they gave."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._steps: list[tuple[Prepared, list[Any], bool]] = []  # statement, values, answers

    def insert(self, stmt: Executable, rows_: Sequence[Mapping[str, Any]]) -> None:
        if rows_:
            p = prepared(self.conn, stmt, rows_[0].keys())
            self._steps.append((p, [p.values(r) for r in rows_], False))

    def insert_returning(self, stmt: Executable, rows_: Sequence[Mapping[str, Any]]) -> int:
        p = prepared(self.conn, stmt, rows_[0].keys()) if rows_ else None
        values = [p.values(r) for r in rows_] if p is not None else []
        self._steps.append((p or prepared(self.conn, stmt), values, True))
        return len(self._steps) - 1

    def select(self, stmt: Executable, params: Mapping[str, Any]) -> int:
        """A statement run once with ``params`` (an UPDATE ... RETURNING too): its rows."""
        p = prepared(self.conn, stmt)
        self._steps.append((p, [p.values(params)], True))
        return len(self._steps) - 1

    def run(self) -> dict[int, list[tuple[Any, ...]]]:
        conn = self.conn
        if logging(conn):
            raise Unlogged("a write while reads are logged")
        driver = conn.connection.dbapi_connection
        assert driver is not None
        pipelined = conn.dialect.name == "postgresql"
        steps, self._steps = self._steps, []
        answers: dict[int, list[tuple[Any, ...]]] = {
            n: [] for n, (_, _, wanted) in enumerate(steps) if wanted
        }
        pending: list[tuple[int, Prepared, Any]] = []  # rows to fetch once the pipeline synced
        opened: list[Any] = []
        sql = ""
        try:
            with driver.pipeline() if pipelined else contextlib.nullcontext():
                for n, (p, values, wanted) in enumerate(steps):
                    sql = p.sql
                    if not wanted:
                        cur = driver.cursor()
                        opened.append(cur)
                        _heard(conn, cur, sql, values, True)
                        cur.executemany(sql, values)
                        continue
                    for v in values:
                        cur = driver.cursor()
                        opened.append(cur)
                        _heard(conn, cur, sql, v, False)
                        cur.execute(sql, v)
                        if pipelined:
                            pending.append((n, p, cur))
                        else:
                            answers[n].extend(p.row(r) for r in cur.fetchall())
            for n, p, cur in pending:
                answers[n].extend(p.row(r) for r in cur.fetchall())
            return answers
        except conn.dialect.loaded_dbapi.Error as err:
            raise _raised(conn, sql, err) from err
        finally:
            for cur in opened:
                cur.close()
