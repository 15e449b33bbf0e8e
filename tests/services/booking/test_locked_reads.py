"""PostgreSQL: a booking judges the patient on their rows as locked.  It sends its reads ahead in
one round trip (``booking._reads_ahead``), but the patient's record and sessions are read after
the patient's lock: a change another workstation is committing meanwhile is waited for and
counts, it is not judged on what was there a moment before."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, ServiceError
from tests.clinic_fixtures import SmallClinic, build_small_clinic

pytestmark = pytest.mark.postgres

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 in San Diego
WED = dt.date(2026, 12, 2)
IV_A = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}


@pytest.fixture
def clinic(pg_url: str) -> Iterator[SmallClinic]:
    built = build_small_clinic(pg_url)
    yield built
    built.db.dispose()


def _book_in_thread(
    clinic: SmallClinic, hhmm: str, where: dict[str, str]
) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def run() -> None:
        try:
            out.append(
                booking.book(
                    clinic.db,
                    SYSTEM,
                    BookingRequest(
                        patient_id=clinic.ids["Ada Lovelace"],
                        sessions=(clinic.session("iv_infusion", WED, hhmm, where),),
                    ),
                    now=NOW,
                )
            )
        except ServiceError as err:
            out.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_a_consent_withdrawn_while_the_booking_waits_is_judged(clinic: SmallClinic) -> None:
    # The first booking fills the cached reference rows: the next one sends all its reads in
    # the round trip that checks them.
    booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Mary Seacole"],
            sessions=(clinic.session("iv_infusion", WED, "13:00", IV_A),),
        ),
        now=NOW,
    )
    other = create_engine(clinic.db.url)
    try:
        with other.connect() as conn:
            conn.execute(
                text("UPDATE patient SET consent_signed_on = NULL WHERE id = :id"),
                {"id": clinic.ids["Ada Lovelace"]},
            )
            thread, out = _book_in_thread(clinic, "10:00", IV_A)
            time.sleep(0.5)
            assert thread.is_alive(), f"the booking did not wait for the patient: {out}"
            conn.commit()
        thread.join(timeout=30)
    finally:
        other.dispose()
    assert len(out) == 1
    assert isinstance(out[0], booking.GateRefused), out[0]
    assert "consent_signed" in str(out[0])
