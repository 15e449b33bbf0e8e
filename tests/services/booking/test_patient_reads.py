"""A booking's reads of its patient, sent ahead as two statements (``patient_reads``), hand each
check exactly the rows its own read returns: the patient's lock and record, their live sessions,
their bookings in the plan's window and the sessions spending a prior authorization, whatever
their statuses (cancelled, pencilled in, completed) and days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.patient_reads import patient_reads
from ketadesk.services.booking.plan_check import booking_reads
from ketadesk.services.booking.planning import PATIENT_FACTS, PRIOR_AUTH_SESSIONS_ALL
from ketadesk.services.booking.rule_check import COURSE_SESSIONS
from ketadesk.services.common.context import SYSTEM
from ketadesk.store import raw
from ketadesk.store.models import Appointment
from ketadesk.store.pipeline import keep, prefetched, read_together, sendable
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 in San Diego
IV = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}

pytestmark = pytest.mark.postgres  # only a booking on PostgreSQL sends its reads ahead


@pytest.fixture
def clinic(pg_url: str) -> Iterator[SmallClinic]:
    built = build_small_clinic(pg_url)
    yield built
    built.db.dispose()


def _sorted(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return sorted(rows, key=repr)


def test_each_check_gets_the_rows_of_its_own_read(clinic: SmallClinic) -> None:
    ada = clinic.ids["Ada Lovelace"]
    first = clinic.open_day(NOW.date() + dt.timedelta(days=1))
    days = [first]
    while len(days) < 5:
        days.append(clinic.open_day(days[-1] + dt.timedelta(days=2)))
    ids: list[int] = []
    for day in days:
        result = booking.book(
            clinic.db,
            SYSTEM,
            BookingRequest(
                patient_id=ada, sessions=(clinic.session("iv_infusion", day, "08:00", IV),)
            ),
            now=NOW,
        )
        ids.extend(result.appointment_ids)
    with clinic.db.write() as session:  # statuses of every kind, set as they stand on record
        for appointment_id, status in zip(
            ids[:3], ["cancelled", "completed", "tentative"], strict=True
        ):
            session.execute(
                update(Appointment).where(Appointment.id == appointment_id).values(status=status)
            )
    # A plan on the third day: its window meets the cancelled, completed and pencilled-in ones
    # as well as others, depending on the protocol's longest booking.
    planned = [clinic.session("iv_infusion", days[2], "13:00", IV)]
    with clinic.db.write() as session:
        lock, booked = booking_reads(clinic.calendar, planned, ada)[1]
        own = [lock, (PATIENT_FACTS, {"patient_id": ada}), (COURSE_SESSIONS, {"patient_id": ada})]
        own += [booked, (PRIOR_AUTH_SESSIONS_ALL, {"patient_id": ada})]
        expected = read_together(raw.connection(session), own)
        combined = patient_reads(ada, lock, booked)
        keep(session, combined, read_together(raw.connection(session), sendable(combined)))
        for (stmt, params), rows in zip(own, expected, strict=True):
            found = prefetched(session, stmt, params)
            assert found is not None
            assert _sorted(found) == _sorted(rows)
        assert [len(rows) for rows in expected[2:]] == [4, len(expected[3]), 3]
        assert expected[3], "the plan's window holds some of the patient's bookings"
