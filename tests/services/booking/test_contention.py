"""A write that loses to another workstation on PostgreSQL (here: a lock it waited for too
long) is tried once more, and then said in words: "changed at another workstation", never the
driver's exception, and never "the database cannot be reached"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text

from ketadesk.services.booking.contention import retried_once
from ketadesk.services.common.errors import ChangedElsewhere, service_errors
from tests.clinic_fixtures import SmallClinic, build_small_clinic

pytestmark = pytest.mark.postgres

_LOCK = text("SELECT id FROM patient WHERE id = :id FOR UPDATE")
_TOUCH = text("UPDATE patient SET last_name = last_name WHERE id = :id")


@pytest.fixture
def clinic(pg_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(pg_url)
    yield c
    c.db.dispose()


@pytest.fixture
def other_workstation(clinic: SmallClinic) -> Iterator[Connection]:
    """Another workstation in the middle of a transaction that holds Ada's row."""
    conn = clinic.db.engine.connect()
    conn.begin()
    conn.execute(_LOCK, {"id": clinic.ids["Ada Lovelace"]})
    yield conn
    conn.close()


def _touch_ada(clinic: SmallClinic, attempts: list[int]) -> str:
    attempts.append(len(attempts) + 1)
    with clinic.db.write() as session:
        session.execute(text("SET LOCAL lock_timeout = '100ms'"))
        session.execute(_TOUCH, {"id": clinic.ids["Ada Lovelace"]})
    return "written"


def test_a_write_still_blocked_on_its_second_try_is_changed_elsewhere(
    clinic: SmallClinic, other_workstation: Connection
) -> None:
    attempts: list[int] = []
    with pytest.raises(ChangedElsewhere, match="changed at another workstation"):
        retried_once(lambda: _touch_ada(clinic, attempts))
    assert attempts == [1, 2]


def test_a_write_is_tried_once_more_once_the_other_workstation_is_done(
    clinic: SmallClinic, other_workstation: Connection
) -> None:
    attempts: list[int] = []

    def write() -> str:
        if attempts:
            other_workstation.rollback()  # the other workstation finishes meanwhile
        return _touch_ada(clinic, attempts)

    assert retried_once(write) == "written"
    assert attempts == [1, 2]


def test_a_lock_timeout_is_not_a_server_out_of_reach(
    clinic: SmallClinic, other_workstation: Connection
) -> None:
    with pytest.raises(ChangedElsewhere), service_errors():
        _touch_ada(clinic, [])
