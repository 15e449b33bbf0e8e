"""Hearing at once what other workstations wrote, and telling a lost server from a slow one.

Every write on PostgreSQL sends a NOTIFY on ``ketadesk_changes`` (``store/changes.py``).
``ChangeListener`` keeps one dedicated connection LISTENing on that channel, so a watcher on a
worker thread wakes within milliseconds of a commit anywhere in the clinic; the poll of the
change counter stays as the fallback (and is all there is on SQLite).  ``read_change_counter``
is that poll, with failures reported as ``ServerUnavailable`` and a reason short enough for a
banner.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from ketadesk.services.common.context import Database
from ketadesk.services.common.errors import ServerUnavailable, short_reason

if TYPE_CHECKING:
    import psycopg

#: TCP keepalives on the listening connection: a network that silently drops it is noticed
#: within about idle + interval * count seconds instead of never.
KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
CONNECT_TIMEOUT_S = 5


def read_change_counter(db: Database) -> int:
    """The clinic's change counter as committed now; ServerUnavailable when it cannot be read."""
    from sqlalchemy.exc import SQLAlchemyError

    from ketadesk.store.changes import change_counter

    try:
        return change_counter(db)
    except SQLAlchemyError as err:
        raise ServerUnavailable(short_reason(err)) from err


def can_listen(db: Database) -> bool:
    """Whether the database sends change notifications (PostgreSQL does; SQLite does not)."""
    return db.url.get_backend_name() == "postgresql"


class ChangeListener:
    """One connection of its own, LISTENing for the clinic's change notifications.

    Meant for one worker thread: ``connect`` then ``wait`` in a loop; ``close`` at the end.
    Every method raises ServerUnavailable when the server cannot be reached or the connection
    broke; the caller connects again later.
    """

    def __init__(self, db: Database) -> None:
        if not can_listen(db):
            raise ValueError("only PostgreSQL sends change notifications")
        self._conninfo = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def connect(self) -> None:
        import psycopg
        from psycopg.conninfo import make_conninfo

        from ketadesk.store.changes import NOTIFY_CHANNEL

        self.close()
        try:
            conninfo = make_conninfo(self._conninfo, connect_timeout=CONNECT_TIMEOUT_S, **KEEPALIVE)
            conn = psycopg.connect(conninfo, autocommit=True)
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except psycopg.Error as err:
            raise ServerUnavailable(short_reason(err)) from err
        self._conn = conn

    def is_connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def wait(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for notifications; how many came (0: none in that time)."""
        import psycopg

        conn = self._conn
        if conn is None or conn.closed:
            raise ServerUnavailable("not connected")
        try:
            count = 0
            for _ in conn.notifies(timeout=timeout_s, stop_after=1):
                count += 1
            if count:  # take whatever else already arrived with it, without waiting
                for _ in conn.notifies(timeout=0):
                    count += 1
        except psycopg.Error as err:
            self.close()
            raise ServerUnavailable(short_reason(err)) from err
        return count

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # A broken connection may fail to close; it is gone either way.
            with contextlib.suppress(Exception):
                conn.close()
