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

from ketadesk.services.clinic.listen import server_errors, short_reason
from ketadesk.services.common.context import ServiceError


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


def _is_stale_data(err: BaseException) -> bool:
    """Whether ``err`` is the ORM's StaleDataError: an UPDATE or DELETE by key (or version)
    found no row any more.  Without the ORM loaded (reading a day needs only the engine) it
    cannot be one, and the ORM is not loaded just to ask."""
    orm_exc = sys.modules.get("sqlalchemy.orm.exc")
    stale = getattr(orm_exc, "StaleDataError", None)
    return isinstance(stale, type) and isinstance(err, stale)
