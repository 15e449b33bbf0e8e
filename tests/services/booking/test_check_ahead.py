"""SQLite: a booking that finds another writer in the writers' queue checks its plan while it
waits, outside any write transaction, and inside its own transaction only reads the same rows
again and compares them (``store/raw.replays``).  What changed meanwhile must still count: a
room taken, or the patient's consent withdrawn, while it waited for the lock, refuses it as if
it had checked everything inside; with nothing changed it books as usual.

The queue is held by this test (``database.writers_queue``), the booking runs in a thread and
makes its check ahead while blocked behind it; the test changes the clinic meanwhile (its own
writes skip the queue it holds) and then lets the booking go.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select, text

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.common.context import SYSTEM, ServiceError
from ketadesk.store import database
from ketadesk.store.models import Appointment
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 in San Diego
WED = dt.date(2026, 12, 2)
IV_A = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
IV_B = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    built = build_small_clinic(sqlite_url)
    yield built
    built.db.dispose()


def _request(clinic: SmallClinic, who: str, hhmm: str, where: dict[str, str]) -> BookingRequest:
    return BookingRequest(
        patient_id=clinic.ids[who],
        sessions=(clinic.session("iv_infusion", WED, hhmm, where),),
    )


def _behind_the_queue(
    clinic: SmallClinic, request: BookingRequest, meanwhile: Callable[[], None]
) -> list[object]:
    """Book ``request`` in a thread while this thread holds the writers' queue; once the
    booking has made its check ahead, run ``meanwhile``, then let the booking go."""
    path = clinic.db.sqlite_path
    assert path is not None
    out: list[object] = []

    def run() -> None:
        try:
            out.append(booking.book(clinic.db, SYSTEM, request, now=NOW))
        except ServiceError as err:
            out.append(err)

    with database.writers_queue(path):
        thread = threading.Thread(target=run)
        waited_before = dict(database._WAITED)
        thread.start()
        # The booking found the queue taken (and so made its check ahead) once its attempt is
        # on record; its check ahead is a few statements.
        deadline = time.monotonic() + 10
        while dict(database._WAITED) == waited_before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert dict(database._WAITED) != waited_before, "the booking never queued"
        time.sleep(0.5)
        meanwhile()
    thread.join(timeout=30)
    assert not thread.is_alive()
    return out


def _booked(clinic: SmallClinic) -> int:
    with clinic.db.read() as s:
        return s.scalar(select(func.count()).select_from(Appointment)) or 0


def test_with_nothing_changed_meanwhile_it_books(clinic: SmallClinic) -> None:
    before = _booked(clinic)
    out = _behind_the_queue(clinic, _request(clinic, "Ada Lovelace", "10:00", IV_A), lambda: None)
    assert isinstance(out[0], booking.BookingResult), out
    assert _booked(clinic) == before + 1


def test_a_room_taken_meanwhile_refuses_it(clinic: SmallClinic) -> None:
    def take_the_room() -> None:
        booking.book(clinic.db, SYSTEM, _request(clinic, "Mary Seacole", "10:00", IV_A), now=NOW)

    out = _behind_the_queue(clinic, _request(clinic, "Ada Lovelace", "10:00", IV_A), take_the_room)
    assert isinstance(out[0], BookingConflict), out
    assert "Room 1" in str(out[0]) or "Monitor 1" in str(out[0]), out


def test_a_consent_withdrawn_meanwhile_refuses_it(clinic: SmallClinic) -> None:
    def withdraw_consent() -> None:
        with clinic.db.write() as s:
            s.execute(
                text("UPDATE patient SET consent_signed_on = NULL WHERE id = :id"),
                {"id": clinic.ids["Ada Lovelace"]},
            )

    out = _behind_the_queue(
        clinic, _request(clinic, "Ada Lovelace", "10:00", IV_B), withdraw_consent
    )
    assert isinstance(out[0], ServiceError), out
    assert "onsent" in str(out[0]), out


def test_another_booking_of_the_patient_meanwhile_refuses_it(clinic: SmallClinic) -> None:
    def book_the_patient_elsewhere() -> None:
        # Half an hour later, in the other room: only the patient is in two places.
        booking.book(clinic.db, SYSTEM, _request(clinic, "Ada Lovelace", "10:30", IV_A), now=NOW)

    out = _behind_the_queue(
        clinic, _request(clinic, "Ada Lovelace", "10:00", IV_B), book_the_patient_elsewhere
    )
    assert isinstance(out[0], BookingConflict), out
    assert "the patient already has" in str(out[0]), out
