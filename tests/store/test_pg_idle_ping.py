"""PostgreSQL connections are pinged on their way out of the pool only after lying idle
(``PING_AFTER_IDLE_S``): a connection that went stale while idle is replaced unseen, and a
busy workstation's bookings do not pay a round trip each for the ping."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, exc, text

from ketadesk.store import database
from ketadesk.store.database import Database, open_database, parse_db_url

pytestmark = pytest.mark.postgres


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    opened = open_database(pg_url)
    yield opened
    opened.dispose()


def _backend(db: Database) -> int:
    with db.engine.connect() as conn:
        pid: int = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        return pid


def _terminate(pg_url: str, pid: int) -> None:
    admin = create_engine(parse_db_url(pg_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        admin.dispose()


def test_a_connection_gone_stale_while_idle_is_replaced_unseen(
    db: Database, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend(db)
    _terminate(pg_url, first)  # a server restart, a firewall's idle timeout
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 0.0)  # idle long enough
    second = _backend(db)
    assert second != first


def test_a_connection_used_a_moment_ago_is_not_pinged(
    db: Database, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend(db)
    _terminate(pg_url, first)
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 3600.0)
    # No ping: the loss shows on the first statement (as a lost server, which the desk reports),
    # and the pool then starts afresh.
    with pytest.raises(exc.DBAPIError) as raised:
        _backend(db)
    assert raised.value.connection_invalidated
    assert _backend(db) != first
