"""Crash safety: a process booking IV series is killed (SIGKILL) at random moments, many times.

Afterwards the SQLite file passes ``PRAGMA integrity_check``, ``check_integrity`` finds
nothing, and every series is whole (all its appointments, holds and audit events) or absent.
The child processes are forked from the test (no interpreter start-up per kill), each opens
the clinic itself and books series in a loop until it is killed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import random
import signal
import sqlite3
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from ketadesk.cli import main
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.clinic.integrity import check_integrity
from ketadesk.services.common.context import SYSTEM, ServiceError
from ketadesk.store.database import open_database
from ketadesk.store.models import Appointment, AuditEvent, Patient, ResourceHold, Series
from tests.clinic_fixtures import CLEARED, SmallClinic, build_small_clinic

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or "fork" not in multiprocessing.get_all_start_methods(),
    reason="needs fork and SIGKILL",
)

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
FIRST_MONDAY = dt.date(2027, 1, 4)
KILLS = 25
SEED = 20261126
# Three infusions start ten minutes apart (the nurse's undivided first minutes), in three
# rooms; a series is Mon/Wed/Fri for two weeks; each slot is one patient's.
WAVE = (("08:00", 1), ("08:15", 2), ("08:30", 3))
SERIES_DAYS = (0, 2, 4, 7, 9, 11)


def _series_request(clinic: SmallClinic, index: int) -> BookingRequest:
    block, k = divmod(index, len(WAVE))
    start, room = WAVE[k]
    monday = FIRST_MONDAY + dt.timedelta(days=14 * block)
    sessions = tuple(
        clinic.session(
            "iv_infusion",
            monday + dt.timedelta(days=offset),
            start,
            {"room": f"Room {room}", "monitor": f"Monitor {room}", "nurse": "Nurse Kim"},
            index=n + 1,
        )
        for n, offset in enumerate(SERIES_DAYS)
    )
    return BookingRequest(
        patient_id=clinic.ids[CLEARED[k]], sessions=sessions, protocol="iv_induction"
    )


def _book_until_killed(url: str, ids: dict[str, int], ready: Connection) -> None:
    """The child: open the clinic, book a series, say so, and book series one after another
    for ever."""
    db = open_database(url)
    from ketadesk.store.clinic_config import load_catalog

    with db.read() as session:
        catalog = load_catalog(session)
        start = session.scalar(select(func.count()).select_from(Series)) or 0
    clinic = SmallClinic(db=db, catalog=catalog, ids=ids)
    index = start
    said = False
    while True:
        with contextlib.suppress(ServiceError):  # a holiday in the way: the slot is skipped
            booking.book(db, SYSTEM, _series_request(clinic, index), now=NOW)
            if not said:
                # Ready once a series is in: on a loaded machine the kill would otherwise land
                # before any booking and the test would prove nothing.
                ready.send(start)
                said = True
        index += 1


def _warm_up(clinic: SmallClinic) -> None:
    """Import what a booking needs (the holiday tables take a good part of a second) in this
    process, so that the forked children start booking at once and the kills land while they
    write rather than while they import."""
    clinic.calendar.holiday(FIRST_MONDAY)
    db = open_database(str(clinic.db.url.render_as_string(hide_password=False)))
    with pytest.raises(ServiceError):  # a booking that gets as far as the database
        booking.book(db, SYSTEM, _series_request(clinic, -1), now=NOW)
    db.dispose()


@pytest.fixture
def clinic(tmp_path: Path) -> SmallClinic:
    c = build_small_clinic(f"sqlite:///{tmp_path / 'clinic.sqlite'}")
    with c.db.write() as session:
        # The series run far into the future; the prior authorizations must cover them.
        session.execute(update(Patient).values(prior_auth_expires_on=dt.date(2040, 1, 1)))
    c.db.dispose()
    return c


def test_a_series_is_whole_or_absent_after_random_kills(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    url = str(clinic.db.url.render_as_string(hide_password=False))
    path = clinic.db.sqlite_path
    assert path is not None
    _warm_up(clinic)
    rng = random.Random(SEED)
    context = multiprocessing.get_context("fork")
    starts = []
    for _ in range(KILLS):
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_book_until_killed, args=(url, clinic.ids, sender))
        child.start()
        sender.close()
        assert receiver.poll(20), "the child did not open the clinic"
        starts.append(receiver.recv())
        time.sleep(rng.uniform(0.0, 0.25))
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        assert child.exitcode == -signal.SIGKILL
        receiver.close()

    # The file itself.
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    assert main(["check", "--db", url]) == 0  # `ketadesk check`: nothing wrong
    db = open_database(url)
    try:
        report = check_integrity(db)
        assert list(report.problems) == []
        with db.read() as session:
            series = session.execute(select(Series.id, Series.planned_count)).all()
            per_series = dict(
                session.execute(
                    select(Appointment.series_id, func.count()).group_by(Appointment.series_id)
                ).all()
            )
            holds = dict(
                session.execute(
                    select(ResourceHold.appointment_id, func.count()).group_by(
                        ResourceHold.appointment_id
                    )
                ).all()
            )
            appointments = session.scalars(select(Appointment.id)).all()
            booked_events = session.scalar(
                select(func.count()).where(
                    AuditEvent.action == "book", AuditEvent.entity == "appointment"
                )
            )
    finally:
        db.dispose()
    # Progress was made (and kept): more series than children, none half-written.
    assert len(series) > KILLS
    assert starts == sorted(starts)
    assert None not in per_series  # every appointment belongs to its series
    for series_id, planned in series:
        assert per_series.get(series_id) == planned == len(SERIES_DAYS), series_id
    assert set(per_series) == {s for s, _ in series}
    # Every appointment has its holds (an IV infusion holds room, monitor and nurse) and its
    # audit event.
    assert all(holds.get(a, 0) >= 3 for a in appointments)
    assert booked_events == len(appointments)
