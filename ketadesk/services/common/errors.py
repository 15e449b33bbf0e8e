"""The database's own failures, said as ServiceErrors a user can read.

The ui may not import SQLAlchemy, yet a slot that runs a service must still tell the user what
went wrong when the driver or the ORM raises.  ``service_errors`` wraps such a call (the ui's
background operations run every call inside it): a server out of reach, a row another
workstation changed or deleted meanwhile, a full disk, a read-only clinic file, a text the
database cannot store, and any other database failure come out as a ``ServiceError`` whose
message can be shown as it is.  ServiceErrors pass through untouched.  ``translated`` gives the
same words for an error already raised (the command line's last resort).
"""

from __future__ import annotations

import contextlib
import errno
import sys
from collections.abc import Iterator

from ketadesk.services.common.context import ServiceError


class ServerUnavailable(ServiceError):
    """The clinic database cannot be reached now; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the clinic database cannot be reached: {reason}")


def short_reason(err: BaseException) -> str:
    """The driver's own first line (without SQLAlchemy's wrapping), for a banner."""
    orig = getattr(err, "orig", None) or err
    text = str(orig).strip()
    line = text.splitlines()[0].strip() if text else type(orig).__name__
    for prefix in ("connection failed: ", "FATAL:  ", "FATAL: "):
        if line.startswith(prefix):
            line = line[len(prefix) :]
    line = line.replace("failed: FATAL:  ", "failed: ")
    return line or type(orig).__name__


class StorageRefused(ServiceError):
    """The clinic's storage refused the write (full, read-only): nothing was written.
    ``where`` names the file or database when the caller knows it."""

    what = "the clinic database"
    problem = ""
    advice = ""

    def __init__(self, where: str | None = None, reason: str = "") -> None:
        self.where = where
        self.reason = reason
        super().__init__(self._words())

    def _words(self) -> str:
        subject = f"{self.what} {self.where}" if self.where else self.what
        return f"{subject} {self.problem}: nothing was written; {self.advice}"

    def at(self, where: str) -> StorageRefused:
        """The same refusal, naming ``where``."""
        return type(self)(where, self.reason)


class DiskFull(StorageRefused):
    """The disk (or the server's disk) holding the clinic is full."""

    what = "the disk holding the clinic database"
    problem = "is full"
    advice = "free some space and try again"


class ReadOnlyDatabase(StorageRefused):
    """The clinic file (or its folder) cannot be written: permissions, an immutable flag, a
    read-only mount."""

    what = "the clinic file"
    problem = "is read-only"
    advice = (
        "check the permissions of the file and its folder (and that neither is marked immutable "
        "or on a read-only disk)"
    )


class UnstorableText(ServiceError):
    """A text held a character the database cannot store (PostgreSQL refuses NUL)."""

    def __init__(self) -> None:
        super().__init__(
            "a text holds a NUL character (\\0), which the database cannot store: nothing was "
            "written; remove it (it is usually pasted in by accident) and try again"
        )


# SQLite's primary result codes (the low byte of the extended code).
_SQLITE_READONLY, _SQLITE_FULL = 8, 13
_PG_DISK_FULL = "53100"
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def storage_problem(err: BaseException) -> ServiceError | None:
    """The words for a full disk, a read-only clinic or a NUL in a text, when ``err`` (a driver
    error, wrapped by SQLAlchemy or not) is one; None otherwise."""
    orig = getattr(err, "orig", None) or err
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        if code & 0xFF == _SQLITE_FULL:
            return DiskFull(reason=short_reason(err))
        if code & 0xFF == _SQLITE_READONLY:
            return ReadOnlyDatabase(reason=short_reason(err))
    if getattr(orig, "sqlstate", None) == _PG_DISK_FULL:
        return DiskFull(reason=short_reason(err))
    if "cannot contain NUL" in str(orig):  # psycopg's refusal, before the server sees it
        return UnstorableText()
    if orig is not err and isinstance(orig, OSError) and orig.errno in _FULL_ERRNOS:
        return DiskFull(reason=short_reason(err))
    return None


@contextlib.contextmanager
def server_errors() -> Iterator[None]:
    """Inside, a database that cannot be reached (server down, connection cut, login refused)
    raises ServerUnavailable, a ServiceError, instead of the driver's error: callers that tell
    the user about ServiceErrors (the schedule editor, dialogs) then say what happened.  Nothing
    was written: the failed transaction rolled back."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    try:
        yield
    except (OperationalError, InterfaceError) as err:
        if is_contention(err):
            raise ChangedElsewhere(short_reason(err)) from err
        raise (storage_problem(err) or ServerUnavailable(short_reason(err))) from err
    except DBAPIError as err:
        if err.connection_invalidated:
            raise ServerUnavailable(short_reason(err)) from err
        raise


class ChangedElsewhere(ServiceError):
    """What this workstation was about to write was changed or deleted meanwhile at another
    workstation: nothing was written, and what is shown should be read again."""

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__("changed at another workstation meanwhile; reloaded")


class DatabaseFailure(ServiceError):
    """The database refused or failed in a way no service foresaw; ``reason`` is the driver's
    first line.  Nothing was written: the transaction rolled back."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the clinic database failed: {reason}")


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """Inside, driver and ORM errors are raised as ServiceErrors (see the module docstring)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with server_errors():
            yield
    except SQLAlchemyError as err:
        raise _words_for(err) from err


def translated(err: BaseException) -> ServiceError | None:
    """What ``service_errors`` would have raised for ``err`` (raised outside it), or None when
    ``err`` is no database error.  SQLAlchemy is not imported to ask."""
    if isinstance(err, ServiceError):
        return err
    exc = sys.modules.get("sqlalchemy.exc")
    base = getattr(exc, "SQLAlchemyError", None)
    if isinstance(base, type) and isinstance(err, base):
        if getattr(err, "connection_invalidated", False) or type(err).__name__ in (
            "OperationalError",
            "InterfaceError",
        ):
            if is_contention(err):
                return ChangedElsewhere(short_reason(err))
            return storage_problem(err) or ServerUnavailable(short_reason(err))
        return _words_for(err)
    return storage_problem(err)


def _words_for(err: BaseException) -> ServiceError:
    if _is_stale_data(err):
        return ChangedElsewhere(str(err))
    return storage_problem(err) or DatabaseFailure(short_reason(err))


# PostgreSQL's SQLSTATEs for a transaction that lost to another one: serialization failure,
# deadlock detected, lock not available (a lock timeout).  The server is fine; it rolled back.
CONTENTION_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def is_contention(err: BaseException) -> bool:
    """Whether ``err`` means another workstation got in the way (a deadlock, a serialization
    failure, a lock timeout, a row changed or deleted meanwhile) rather than a broken server."""
    sqlstate = getattr(getattr(err, "orig", None), "sqlstate", None)
    return sqlstate in CONTENTION_SQLSTATES or _is_stale_data(err)


def _is_stale_data(err: BaseException) -> bool:
    """Whether ``err`` is the ORM's StaleDataError: an UPDATE or DELETE by key (or version)
    found no row any more.  Without the ORM loaded (reading a day needs only the engine) it
    cannot be one, and the ORM is not loaded just to ask."""
    orm_exc = sys.modules.get("sqlalchemy.orm.exc")
    stale = getattr(orm_exc, "StaleDataError", None)
    return isinstance(stale, type) and isinstance(err, stale)
