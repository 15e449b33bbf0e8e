"""Opening a clinic database (SQLite file or PostgreSQL server) and handing out sessions.

SQLite: WAL journal, foreign keys on, a busy timeout, and write transactions that start with
``BEGIN IMMEDIATE`` so that two workstations never interleave a read-check-write.  PostgreSQL:
the same code; the database's exclusion constraint and row locks guard the holds.

SQLAlchemy is imported by the functions that need it, not by this module: start-up reads its
first day from a plain SQLite file with the standard library alone (``read_sqlite_file``), and
the error classes here are needed by every command before it knows whether it needs a database.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.engine import URL
    from sqlalchemy.orm import Session

SQLITE_BUSY_TIMEOUT_MS = 10_000


class StoreError(Exception):
    """A database problem worth telling the user about in plain words."""


class DatabaseOpenError(StoreError):
    """The database cannot be opened or read."""


class SchemaError(StoreError):
    """The database's schema is not one this version of KetaDesk can use."""


def parse_db_url(text: str) -> URL:
    """Accept a SQLAlchemy URL or a bare path to a SQLite file."""
    from sqlalchemy import exc, make_url
    from sqlalchemy.engine import URL

    if "://" not in text:
        return URL.create("sqlite", database=str(Path(text).expanduser()))
    try:
        url = make_url(text)
    except exc.ArgumentError:
        raise DatabaseOpenError(
            f"{text!r} is not a database URL; use sqlite:///path/to/clinic.sqlite or "
            "postgresql+psycopg://user@host/dbname"
        ) from None
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseOpenError(
            f"{url.get_backend_name()!r} databases are not supported; use SQLite or PostgreSQL"
        )
    return url


def plain_sqlite_path(text: str) -> Path | None:
    """The file a plain SQLite URL names, worked out without SQLAlchemy: a bare path (as
    ``parse_db_url`` reads it) or ``sqlite:///path`` with nothing more to decode.

    None for any other URL, which only ``parse_db_url`` may judge.
    """
    if "://" not in text:
        return Path(text).expanduser() if text else None
    prefix = "sqlite:///"
    path = text[len(prefix) :] if text.startswith(prefix) else ""
    # Options (?mode=...) and %-escapes are SQLAlchemy's to read; an empty path is its to refuse.
    if not path or "?" in path or "%" in path or path == ":memory:":
        return None
    return Path(path)


def describe_url(url: URL) -> str:
    """The URL for messages, without the password."""
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.render_as_string(hide_password=True)


@dataclass(frozen=True)
class Database:
    """An open clinic database: the engine and the two kinds of session it gives out.

    Sessions (and with them SQLAlchemy's ORM) are made only when asked for: reading a day
    needs the engine alone.
    """

    url: URL
    engine: Engine
    _write_engine: Engine

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def sqlite_path(self) -> Path | None:
        return Path(self.url.database) if self.is_sqlite and self.url.database else None

    @property
    def label(self) -> str:
        return describe_url(self.url)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A short read-only unit of work."""
        from sqlalchemy.orm import Session

        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextlib.contextmanager
    def write(self, *, while_waiting: Callable[[], None] | None = None) -> Iterator[Session]:
        """One write transaction: committed at the end, rolled back on any error.

        On SQLite it begins IMMEDIATE, taking the write lock before the first read, so the checks
        made inside it still hold when it commits.  ``while_waiting``: called (before waiting)
        when another writer on this computer is writing now, so the caller can do work that
        needs no lock meanwhile (it must not raise).
        """
        from sqlalchemy.orm import Session

        with (
            writers_queue(self.sqlite_path, while_waiting),
            Session(self._write_engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def use_wal(self) -> None:
        """Switch a SQLite clinic to the WAL journal (kept in the file; a no-op when set).

        WAL lets the views read while a booking writes, and with synchronous=NORMAL a committed
        transaction survives an application crash.
        """
        if not self.is_sqlite:
            return
        with self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            cur = raw.cursor()
            if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
            cur.close()

    def dispose(self) -> None:
        self.engine.dispose()


_QUEUED = threading.local()  # the clinic files this thread is queued for (holds the lock of)


@contextlib.contextmanager
def writers_queue(
    path: Path | None, while_waiting: Callable[[], None] | None = None
) -> Iterator[None]:
    """SQLite: wait in line, blocked on an OS file lock, for this clinic's other writers (every
    process and thread on this computer) before ``BEGIN IMMEDIATE``, and leave the line once the
    transaction has committed or rolled back.

    SQLite's own busy handler makes a writer that finds the file locked sleep and try again, in
    steps of up to 100 ms: with a few workstations booking at once most of their time went in
    those sleeps, and four writers booked fewer sessions a second than one.  Here a waiting
    writer is woken by the kernel the moment the one before it is done.  The lock only orders
    the waiting: ``BEGIN IMMEDIATE`` still guards the file (against any program that does not
    queue here, and whenever the lock cannot be had), so a missing or failing lock costs speed,
    never safety.  ``flock`` locks are dropped by the kernel when their process dies, so a
    crashed workstation never blocks the others.  Readers never queue.  ``while_waiting`` is
    called once, before waiting, when the line is not empty.

    The lock file lives in the temporary folder, named after the clinic file's device and inode
    (nothing is added beside the clinic, and every path to the same file queues together); a
    file system or platform without ``flock`` (Windows) simply does not queue.
    """
    held: set[Path] = _QUEUED.__dict__.setdefault("paths", set())
    if path is None or path in held:
        # A write inside this thread's own write would wait on itself here forever; it meets
        # SQLite's busy timeout instead, as it always did.
        yield
        return
    fd = _writers_lock(path, while_waiting)
    held.add(path)
    try:
        yield
    finally:
        held.discard(path)
        if fd is not None:
            os.close(fd)  # closing the descriptor releases its flock


# When a writer of this process last found a clinic's queue taken (by the lock file's key).
_WAITED: dict[str, float] = {}
_WAITED_LATELY = 1.0  # seconds


def _writers_lock(path: Path, while_waiting: Callable[[], None] | None = None) -> int | None:
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    try:
        st = path.stat()
        key = hashlib.sha256(f"{st.st_dev}:{st.st_ino}".encode()).hexdigest()[:20]
        lock = Path(tempfile.gettempdir()) / f"ketadesk-writers-{key}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        # A descriptor of its own per transaction: flock locks belong to the open file, so two
        # threads of one process queue like two processes do.
        if while_waiting is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            # Writers that queued a moment ago are likely to queue again: the work to do while
            # waiting is done first, rather than holding the lock for it when it happens to
            # be free between two of them.
            if time.monotonic() - _WAITED.get(key, -_WAITED_LATELY) < _WAITED_LATELY:
                while_waiting()
                while_waiting = None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                _WAITED[key] = time.monotonic()
                if while_waiting is not None:
                    while_waiting()
                fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event below (the pysqlite recipe).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys = ON")
    # The journal mode is switched to WAL by Database.use_wal() once the file is known to be a
    # KetaDesk clinic: merely opening someone else's file must not rewrite its header.
    # WAL + NORMAL: a committed transaction survives a crash of the application; only a power
    # loss can undo the last few commits, and the file is never corrupted.
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def _sqlite_on_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    # On the driver's cursor: every transaction begins here, and running it as a statement of
    # SQLAlchemy's cost more than SQLite's part.  Listeners to the engine's statements (a log,
    # the tests' guards and counts) are still told.
    sql = f"BEGIN {mode}"
    cur = conn.connection.dbapi_connection.cursor()
    try:
        if conn.dispatch.before_cursor_execute:
            conn.dispatch.before_cursor_execute(conn, cur, sql, (), None, False)
        cur.execute(sql)
    except sqlite3.Error as err:
        from sqlalchemy import exc

        raise exc.DBAPIError.instance(
            sql, None, err, sqlite3.Error, hide_parameters=True, dialect=conn.dialect
        ) from err
    finally:
        cur.close()


def open_database(url_text: str, *, create: bool = False, echo: bool = False) -> Database:
    """Open a database; with ``create`` a missing SQLite file (and its folder) is made.

    Raises DatabaseOpenError naming the problem; never creates anything unless asked.
    """
    from sqlalchemy import create_engine, event, exc

    url = parse_db_url(url_text)
    # hide_parameters: a statement that fails prints without its values, which are patient data
    # (names, dates of birth, phones) and have no place on stderr or in a log.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if url.get_backend_name() == "sqlite":
        path = url.database
        if not path or path == ":memory:":
            raise DatabaseOpenError("an in-memory SQLite database cannot be shared; give a file")
        file = Path(path)
        if file.is_dir():
            raise DatabaseOpenError(f"{file} is a folder, not a database file")
        if not file.exists():
            if not create:
                raise DatabaseOpenError(f"no database at {file} (the file does not exist)")
            file.parent.mkdir(parents=True, exist_ok=True)
            # Clinic data: readable by the owner only, from the first byte on.
            fd = os.open(file, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        _check_sqlite_header(file)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        _require_encrypted_transport(url)
        kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        engine = create_engine(url, **kwargs)
    except ImportError as err:
        raise DatabaseOpenError(
            f"the driver for {url.drivername} is not installed ({err}); "
            "install KetaDesk with the 'postgres' extra"
        ) from None
    if url.get_backend_name() == "sqlite":
        _mark_live(Path(str(url.database)))  # before its first connection (``file_header``)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        write_engine: Engine = engine.execution_options(sqlite_begin="IMMEDIATE")
    else:
        _ping_when_idle(engine)
        write_engine = engine
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except exc.DBAPIError as err:
        engine.dispose()
        unwritable = _unwritable(url)
        if unwritable:
            # A WAL clinic needs its -shm beside it even to be read: a read-only file or folder
            # (permissions, an immutable flag, a read-only disk) fails here, so say that.
            raise DatabaseOpenError(
                f"the clinic file {describe_url(url)} is read-only ({unwritable}): cannot open "
                f"it ({_first_line(err.orig)}); check the permissions of the file and its folder"
            ) from None
        raise DatabaseOpenError(
            f"cannot open {describe_url(url)}: {_first_line(err.orig)}"
        ) from None
    return Database(
        url=url,
        engine=engine,
        _write_engine=write_engine,
    )


#: libpq's sslmode values that refuse an unencrypted connection.
# A server connection back from the pool after this long unused is pinged before it is handed
# out (a connection that went stale meanwhile, after a server restart or a firewall's idle
# timeout, is replaced); one used more recently is not.  SQLAlchemy's ``pool_pre_ping`` pings
# at every checkout: a round trip of its own for every booking, a fifth of a booking's on a busy
# server.  A connection lost within this time fails its first statement, reported as a lost
# server (``ServerUnavailable``) as a connection lost mid-transaction always is; the pool is
# then refilled.
PING_AFTER_IDLE_S = 2.0
_IDLE_SINCE = "ketadesk_idle_since"


def _ping_when_idle(engine: Engine) -> None:
    from sqlalchemy import event, exc

    def checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return  # new (just connected), or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as err:
            # The pool drops this connection and checks out (or makes) another.
            raise exc.DisconnectionError(_first_line(err)) from err

    event.listen(engine, "checkin", checkin)
    event.listen(engine, "checkout", checkout)


ENCRYPTED_SSLMODES = frozenset({"require", "verify-ca", "verify-full"})
_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})


def _require_encrypted_transport(url: URL) -> None:
    """Patient data crosses the network only encrypted (HIPAA 164.312(e), docs/SECURITY.md).

    A server on this machine (loopback or a Unix socket) is reached without TLS; any other host
    needs ``sslmode=require`` or stricter in the URL (or libpq's ``PGSSLMODE``), since libpq's
    default, "prefer", quietly falls back to plain text.
    """
    hosts = url.query.get("host", url.host or "")
    names = [hosts] if isinstance(hosts, str) else list(hosts)
    remote = [
        h
        for name in names
        for h in name.split(",")
        if h.strip() not in _LOCAL_HOSTS and not h.strip().startswith("/")
    ]
    if not remote:
        return
    mode = url.query.get("sslmode") or os.environ.get("PGSSLMODE", "")
    if isinstance(mode, tuple):
        mode = mode[-1]
    if mode in ENCRYPTED_SSLMODES:
        return
    raise DatabaseOpenError(
        f"the connection to {', '.join(remote)} would not be encrypted "
        f"(sslmode={mode or 'prefer'}); add ?sslmode=verify-full to the URL (or "
        "sslmode=require on a private network), see docs/SERVER.md"
    )


def _unwritable(url: URL) -> str:
    """Which of a SQLite clinic's file and folder cannot be written ("" when both can)."""
    if url.get_backend_name() != "sqlite" or not url.database:
        return ""
    file = Path(url.database)
    if file.exists() and not os.access(file, os.W_OK):
        return "the file"
    if not os.access(file.parent, os.W_OK):
        return "its folder"
    return ""


SQLITE_HEADER = b"SQLite format 3\x00"

# The SQLite files this process has (or had) connections to, by (device, inode), and the
# descriptor ``file_header`` reads each through: never closed (see ``file_header``).
_LIVE: set[tuple[int, int]] = set()
_HEADER_FDS: dict[tuple[int, int], int] = {}
_SPARE_FDS: list[int] = []
_HEADER_LOCK = threading.Lock()


def _mark_live(file: Path) -> None:
    """``file`` has SQLite connections in this process from now on (``file_header``)."""
    with contextlib.suppress(OSError):
        st = file.stat()
        with _HEADER_LOCK:
            _LIVE.add((st.st_dev, st.st_ino))


def file_header(file: Path, size: int = len(SQLITE_HEADER)) -> bytes:
    """The first ``size`` bytes of ``file``; raises DatabaseOpenError when it cannot be read.

    A file this process has SQLite connections to is read through a descriptor kept for the
    life of the process, never one closed again: POSIX advisory locks belong to a process and
    a file, and closing *any* descriptor of a file drops every lock the process holds on it,
    SQLite's included (sqlite.org/howtocorrupt.html, 2.2).  A workstation that read its
    clinic's header with ``open()`` while its connections were open lost their shared lock;
    the next program to close its last connection (``ketadesk print`` in a terminal) then
    found itself alone, folded the WAL into the file and deleted it, and the window went on
    committing to the deleted ``-wal``, seen by nobody and overwritten at its exit.  Other
    files (a backup to check, a clinic before it is opened) are read and closed as usual.
    """
    try:
        st = file.stat()
        key = (st.st_dev, st.st_ino)
        with _HEADER_LOCK:
            if key in _LIVE:
                fd = _HEADER_FDS.get(key)
                if fd is None:
                    fd = os.open(file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                    opened = os.fstat(fd)
                    if (opened.st_dev, opened.st_ino) != key:  # replaced meanwhile
                        _SPARE_FDS.append(fd)
                        with file.open("rb") as fh:
                            return fh.read(size)
                    _HEADER_FDS[key] = fd
                return os.pread(fd, size, 0)
        with file.open("rb") as fh:
            return fh.read(size)
    except OSError as err:
        raise DatabaseOpenError(f"cannot read {file}: {err.strerror}") from None


def _check_sqlite_header(file: Path) -> None:
    """Refuse a file that is not SQLite before SQLite gets to write anything to it."""
    header = file_header(file)
    if header and header != SQLITE_HEADER:
        raise DatabaseOpenError(f"{file} is not a SQLite database (it may be damaged)")


@contextlib.contextmanager
def read_sqlite_file(path: Path) -> Iterator[sqlite3.Connection]:
    """One read transaction on a SQLite clinic file, with the standard library alone.

    For start-up's first read, before SQLAlchemy is loaded.  A missing file is not created and
    no statement may change anything (``query_only``; the journal mode is left as it is).  The
    connection is not opened read-only all the same: a read-only one would leave the WAL's
    ``-wal`` and ``-shm`` files behind, which the last connection to close otherwise removes.
    Values come back as SQLite stores them (times as text, flags as 0/1, JSON as text).  Raises
    DatabaseOpenError when the file cannot be opened or read.
    """
    if not path.is_file():
        raise DatabaseOpenError(f"no database at {path} (the file does not exist)")
    _check_sqlite_header(path)
    _mark_live(path)  # a window's read beside its own engine (``file_header``)
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw",  # rw: never creates the file
            uri=True,
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # transactions as written below, not as the module guesses
        )
    except sqlite3.Error as err:
        raise DatabaseOpenError(f"cannot open {path}: {_first_line(err)}") from None
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("BEGIN")  # one snapshot for every query of the read
        yield conn
    except sqlite3.Error as err:
        raise DatabaseOpenError(f"cannot read {path}: {_first_line(err)}") from None
    finally:
        conn.close()  # ends the read transaction; there is nothing to commit


def _first_line(err: object) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
