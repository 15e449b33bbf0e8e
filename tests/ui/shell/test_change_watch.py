"""Several workstations: a change written through a second connection to the clinic shows in an
open day view within the poll interval, and the view keeps its scroll position and selection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import Actor
from ketadesk.services.schedule.day import change_counter, day_schedule
from ketadesk.store.database import open_database
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.shell.change_watch import ChangeWatcher
from ketadesk.ui.timeline.day_view import DayView
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY, build_clinic_day
from tests.ui.conftest import NOW
from tests.ui.sql_guard import allow_gui_thread_sql

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
POLL_MS = 200


@pytest.fixture
def shared_clinic(db_url: str) -> Iterator[tuple[SmallClinic, str]]:
    c = build_clinic_day(db_url)
    yield c, db_url
    c.db.dispose()


def test_a_change_at_another_workstation_appears_in_an_open_day_view(
    qtbot: QtBot, shared_clinic: tuple[SmallClinic, str]
) -> None:
    clinic, url = shared_clinic
    desk = Desk(clinic.db, FRONT_DESK, now=lambda: NOW)
    view = DayView(desk=desk)
    qtbot.addWidget(view)
    view.resize(700, 420)  # small: the day scrolls
    view.set_schedule(day_schedule(clinic.db, TUESDAY))
    view.show()
    qtbot.waitExposed(view)
    watcher = ChangeWatcher(desk, interval_ms=POLL_MS)
    watcher.changed.connect(lambda: view.set_schedule(day_schedule(clinic.db, TUESDAY)))
    assert watcher.is_running()

    bar = view.verticalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(bar.maximum() // 2)
    scrolled = bar.value()
    schedule = view.schedule()
    assert schedule is not None
    ada = next(a.id for a in schedule.appointments if a.patient_name == "Lovelace, Ada")
    view.select_appointment(ada)
    bar.setValue(scrolled)
    assert not any(a.patient_name == "Seacole, Mary" for a in schedule.appointments)

    # Changes are counted from the first value the watcher reads (on its own thread): a
    # booking made before it has read one would be where it starts from.
    qtbot.waitUntil(watcher.has_noted_the_counter)

    # The front desk's other workstation: its own connection to the same clinic.
    other = open_database(url)
    try:
        request = BookingRequest(
            patient_id=clinic.ids["Mary Seacole"],
            sessions=(
                clinic.session(
                    "iv_infusion",
                    TUESDAY,
                    "12:00",
                    {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"},
                ),
            ),
        )
        # The booking itself is in the wait (on a loaded machine PostgreSQL takes its time):
        # the signal must come, from the watcher's own poll, not within some number of polls.
        with qtbot.waitSignal(watcher.changed, timeout=10_000):
            booking.book(other, FRONT_DESK, request, now=NOW)
    finally:
        other.dispose()

    shown = view.schedule()
    assert shown is not None
    assert any(a.patient_name == "Seacole, Mary" for a in shown.appointments)
    layout = view.day_layout()
    assert layout is not None
    assert any(b.appointment.patient_name == "Seacole, Mary" for b in layout.blocks)
    assert bar.value() == scrolled
    assert view.selected_id() == ada
    watcher.stop()


def test_no_change_no_signal_and_own_writes_can_be_acknowledged(
    qtbot: QtBot, shared_clinic: tuple[SmallClinic, str]
) -> None:
    clinic, _url = shared_clinic
    desk = Desk(clinic.db, FRONT_DESK, now=lambda: NOW)
    watcher = ChangeWatcher(desk, interval_ms=POLL_MS, start=False)
    watcher.start()
    # check_now reads on this thread on purpose (the window's own looks run on a worker).
    with allow_gui_thread_sql():
        assert not watcher.check_now()
    before = change_counter(clinic.db)
    schedule = day_schedule(clinic.db, TUESDAY)
    turing = next(a.id for a in schedule.appointments if a.status == "booked" and a.room_id)
    appointment_changes.change_status(clinic.db, FRONT_DESK, turing, "check_in", now=NOW)
    assert change_counter(clinic.db) == before + 1
    watcher.acknowledge()  # this workstation's own write, already reloaded
    with allow_gui_thread_sql():
        assert not watcher.check_now()
    appointment_changes.undo_status(clinic.db, FRONT_DESK, turing, now=NOW)
    with qtbot.waitSignal(watcher.changed, timeout=100), allow_gui_thread_sql():
        assert watcher.check_now()
    watcher.stop()
    assert not watcher.is_running()


def test_a_watcher_deleted_with_its_window_stops_reading(
    qtbot: QtBot, shared_clinic: tuple[SmallClinic, str]
) -> None:
    """A window deleted without stopping its watcher (a test's window, a crash of the close
    path) left the reading thread waiting for requests for ever, holding the deleted watcher;
    19 of them were found beside a segmentation fault in a parallel test run.  The thread now
    notices its watcher is gone and ends."""
    import shiboken6
    from PySide6.QtWidgets import QWidget

    clinic, _url = shared_clinic
    window = QWidget()
    watcher = ChangeWatcher(
        Desk(clinic.db, FRONT_DESK, now=lambda: NOW), parent=window, interval_ms=POLL_MS
    )
    qtbot.waitUntil(lambda: watcher._reader_thread is not None, timeout=5000)
    reader = watcher._reader_thread
    assert reader is not None
    assert reader.is_alive()
    shiboken6.delete(window)
    # It looks each time it wakes: every second, or (here, so as not to depend on a timed
    # wait, which the clock-ahead run's faketime stretches without end) when asked to read.
    watcher._reads.set()
    reader.join(timeout=5)
    assert not reader.is_alive()
    listener = watcher._listener_thread  # PostgreSQL: the LISTEN thread ends too
    if listener is not None:
        listener.join(timeout=5)
        assert not listener.is_alive()


def test_a_day_read_before_the_sign_in_is_read_again_once_changes_are_counted(
    qtbot: QtBot, shared_clinic: tuple[SmallClinic, str]
) -> None:
    """A shared desk: one user signs out, a session is booked at another workstation, the next
    user signs in.  The day on screen was read before the new desk's watcher noted the
    counter, so no change would ever be counted for that booking; the desk reads the day again
    as soon as it counts."""
    from ketadesk.commands.run import open_day_window

    clinic, url = shared_clinic
    window = open_day_window(clinic.db, TUESDAY, now=lambda: NOW, actor=FRONT_DESK)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: not window.is_reading(), timeout=10_000)
    window.detach_desk()  # signed out: nobody watches
    other = open_database(url)
    try:
        booking.book(
            other,
            FRONT_DESK,
            BookingRequest(
                patient_id=clinic.ids["Mary Seacole"],
                sessions=(
                    clinic.session(
                        "iv_infusion",
                        TUESDAY,
                        "12:00",
                        {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"},
                    ),
                ),
            ),
            now=NOW,
        )
    finally:
        other.dispose()

    def seacole_shown() -> bool:
        schedule = window.schedule()
        return schedule is not None and any(
            a.patient_name == "Seacole, Mary" for a in schedule.appointments
        )

    assert not seacole_shown()
    window.attach_desk(Desk(clinic.db, FRONT_DESK, lambda: NOW))  # the next user signs in
    qtbot.waitUntil(seacole_shown, timeout=10_000)
