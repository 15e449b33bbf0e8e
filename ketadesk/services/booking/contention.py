"""A booking write that lost to another workstation: tried once more, then said in words.

Every write of this package takes its locks in one order (see ``plan_check``), so PostgreSQL
should never have to break a deadlock between two of them; a transaction may still lose to
another kind of write (a deadlock with code that locks differently, a serialization failure, a
lock timeout, a row changed meanwhile).  The whole transaction was rolled back, and each write
re-reads and re-checks everything it depends on under its locks, so running it once more is
safe; a second loss becomes ``ChangedElsewhere`` instead of the driver's exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from ketadesk.services.common.errors import ChangedElsewhere, is_contention, short_reason

T = TypeVar("T")


def retried_once(write: Callable[[], T]) -> T:
    """Run ``write`` (one whole write transaction); once more if it lost to another
    workstation, then raise ChangedElsewhere."""
    try:
        return write()
    except SQLAlchemyError as err:
        if not is_contention(err):
            raise
    try:
        return write()
    except SQLAlchemyError as err:
        if not is_contention(err):
            raise
        raise ChangedElsewhere(short_reason(err)) from err
