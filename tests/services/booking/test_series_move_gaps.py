"""A series moved by hand keeps the spacing across a miss nobody decided yet (a cancellation
left to "Decide later"): the re-flow plans no session in its place that nobody would book.
Real SQLite and PostgreSQL; dates from the clinic's today (tests/services/rebooking/
test_makeup_rules.py), so the test passes whatever day it runs, also under faketime +400d."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.services.booking import appointment_changes
from ketadesk.services.booking.series_moves import propose_series_move
from tests.services.rebooking.test_makeup_rules import (
    FRONT_DESK,
    TRD_12,
    Today,
    book_spravato,
    clinic_from_today,
)


@pytest.fixture
def today(db_url: str) -> Iterator[Today]:
    t = clinic_from_today(db_url)
    yield t
    t.clinic.db.dispose()


def test_a_series_move_leaves_an_undecided_cancellation_a_gap(today: Today) -> None:
    t = today
    sessions = book_spravato(t, "spravato_trd", TRD_12)
    third = t.ids[2]
    appointment_changes.change_status(
        t.clinic.db, FRONT_DESK, third, "cancel", reason="travelling", now=t.now
    )
    # Session 2 moved a day later, to the Friday: the rest re-flows from there.
    moved = propose_series_move(
        t.clinic.db, t.ids[1], sessions[1].start + dt.timedelta(days=1), now=t.now
    )
    assert 3 not in {s.index for s in moved.plan.sessions}
    assert [m.index for m in moved.plan.missed] == [3]
    assert not any("sessions 2 and 3" in p for p in moved.plan.problems)
    assert {i for i, _ in moved.moves} <= set(t.ids) - {third}
