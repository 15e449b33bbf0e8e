"""The database's own failures, said as ServiceErrors a user can read.

The ui may not import SQLAlchemy, yet a slot that runs a service must still tell the user what
went wrong when the driver or the ORM raises.  ``service_errors`` wraps such a call (the ui's
background operations run every call inside it): a server out of reach, a row another
workstation changed or deleted meanwhile, and any other database failure come out as a
``ServiceError`` whose message can be shown as it is.  ServiceErrors pass through untouched.
"""

from __future__ import annotations

import contextlib
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
        raise ServerUnavailable(short_reason(err)) from err
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
        if _is_stale_data(err):
            raise ChangedElsewhere(str(err)) from err
        raise DatabaseFailure(short_reason(err)) from err


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
