"""My day on screen: the signed-in nurse's own sessions, another clinician's, opening one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from ketadesk.services.booking.appointment_changes import change_status
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.store.models import SessionRecord, User
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.monitoring.my_day import APPOINTMENT_ROLE, Column, MyDayView
from tests.services.staffed_day import TUESDAY, StaffedDay, build_staffed_day


@pytest.fixture
def staffed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffedDay]:
    folder = tmp_path_factory.mktemp("my_day")
    built = build_staffed_day(f"sqlite:///{folder / 'clinic.sqlite'}")
    yield built
    built.clinic.db.dispose()


def desk_for(staffed: StaffedDay, staff: str | None, hhmm: str = "10:30") -> Desk:
    with staffed.clinic.db.write() as session:
        user = User(
            username=f"user{staff or 'none'}".replace(" ", ""),
            display_name=staff or "Front desk",
            role="nurse",
            staff_id=staffed.id(staff) if staff else None,
        )
        session.add(user)
        session.flush()
        actor = Actor(user.id, user.username, user.role)
    now = staffed.clinic.at(TUESDAY, hhmm)
    return Desk(staffed.clinic.db, actor, lambda: now)


def rows(view: MyDayView, *columns: Column) -> list[tuple[str, ...]]:
    model = view.model
    return [
        tuple(str(model.data(model.index(r, c))) for c in columns) for r in range(model.rowCount())
    ]


@pytest.fixture
def view(qtbot: QtBot, staffed: StaffedDay) -> MyDayView:
    widget = MyDayView(desk_for(staffed, "Nurse Kim"))
    qtbot.addWidget(widget)
    widget.resize(1100, 500)
    widget.show()
    qtbot.waitExposed(widget)
    settle(qtbot, widget)
    return widget


def settle(qtbot: QtBot, view: MyDayView) -> None:
    """Wait for what the view reads on a worker (the staff list, the day)."""
    qtbot.waitUntil(lambda: not view.is_reading(), timeout=10_000)


def test_it_opens_on_the_signed_in_nurse_s_own_day(view: MyDayView, staffed: StaffedDay) -> None:
    assert view.staff_id() == staffed.id("Nurse Kim")
    assert view.day() == TUESDAY
    assert view.staff_combo.currentText() == "Nurse Kim (Nurse)"
    assert view.heading.text() == "Tuesday, November 24, 2026"
    assert view.summary.text() == "2 sessions · works 07:00–16:00 · off 16:00–18:30: Dentist"
    assert rows(view, Column.TIME, Column.PATIENT, Column.ROOM, Column.STATUS) == [
        ("09:00–10:40", "Lovelace, Ada", "Room 1", "Booked"),
        ("10:00–12:30", "Seacole, Mary", "Room 2", "Booked"),
    ]
    # At 10:30 neither has been checked in: the chair board's words, not the plan's phases.
    assert rows(view, Column.PHASE, Column.NEEDED) == [
        ("Not checked in", "09:15–10:40 · Infusion → Recovery"),
        ("Not checked in", "10:15–12:30 · Dosing → Discharge"),
    ]


def test_another_clinician_s_day(qtbot: QtBot, view: MyDayView, staffed: StaffedDay) -> None:
    view.set_staff(staffed.id("Sam Rivera"))
    settle(qtbot, view)
    assert rows(view, Column.TIME, Column.SESSION, Column.ROOM, Column.PHASE) == [
        ("13:00–15:30", "Ketamine-assisted psychotherapy", "Room 3", "Starts 13:00"),
        ("15:45–16:35", "Integration therapy", "Office A", "Starts 15:45"),
    ]
    view.set_staff(staffed.id("Dr Patel"))
    settle(qtbot, view)
    assert view.summary.text() == "1 session · works 09:00–13:00"
    view.set_staff(staffed.id("Jo Weekend"))
    settle(qtbot, view)
    assert view.model.rowCount() == 0
    assert view.summary.text() == "0 sessions · not on shift"
    view.set_day(dt.date(2026, 11, 28))
    settle(qtbot, view)
    assert view.summary.text() == "0 sessions · Clinic closed on Saturdays · works 08:00–17:00"


def test_a_user_who_is_not_staff_starts_on_the_first_staff_member(
    qtbot: QtBot, staffed: StaffedDay
) -> None:
    widget = MyDayView(desk_for(staffed, None))
    qtbot.addWidget(widget)
    settle(qtbot, widget)
    assert widget.staff_id() == staffed.id("Dr Patel")
    assert [widget.staff_combo.itemText(i) for i in range(widget.staff_combo.count())] == [
        "Dr Patel (Prescriber)",
        "Nurse Kim (Nurse)",
        "Jo Weekend (Nurse)",
        "Sam Rivera (Therapist)",
        "Lee Front (Front desk)",
    ]


def test_double_click_or_enter_opens_the_session(
    view: MyDayView, staffed: StaffedDay, qtbot: QtBot
) -> None:
    table = view.table
    second = view.model.index(1, Column.PATIENT)
    rect = table.visualRect(second)
    with qtbot.waitSignal(view.appointment_activated) as blocker:
        # A double-click is a press and release, then QTest's double-click event.
        QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        QTest.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [staffed.appointments["spravato"]]
    table.setFocus()
    table.setCurrentIndex(view.model.index(0, Column.TIME))
    with qtbot.waitSignal(view.appointment_activated) as blocker:
        QTest.keyClick(table, Qt.Key.Key_Return)
    assert blocker.args == [staffed.appointments["iv"]]
    assert view.model.data(second, APPOINTMENT_ROLE) == staffed.appointments["spravato"]


def test_the_model_keeps_qt_s_rules(view: MyDayView, qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    qtmodeltester.check(view.model, force_py=True)


def test_it_is_reachable_by_keyboard_and_screen_reader(view: MyDayView) -> None:
    assert view.staff_combo.accessibleName() == "Staff member"
    assert view.table.accessibleName() == "Sessions"
    assert view.accessibleName() == "My day"


def test_phase_now_moves_on_with_the_clock(qtbot: QtBot, staffed: StaffedDay) -> None:
    clock = {"now": staffed.clinic.at(TUESDAY, "09:05")}
    change_status(  # Ada arrived on time; Mary is still to come
        staffed.clinic.db,
        SYSTEM,
        staffed.appointments["iv"],
        "start",
        now=staffed.clinic.at(TUESDAY, "09:00"),
    )
    desk = desk_for(staffed, "Nurse Kim")
    desk.now = lambda: clock["now"]
    widget = MyDayView(desk)
    qtbot.addWidget(widget)
    settle(qtbot, widget)
    assert rows(widget, Column.PHASE) == [("Check-in & vitals",), ("Starts 10:00",)]
    widget.table.selectRow(1)
    clock["now"] = staffed.clinic.at(TUESDAY, "10:20")
    widget.timer.setInterval(10)
    # No infusion start recorded: as on the chair board, never "Infusion" or "Recovery".
    qtbot.waitUntil(lambda: rows(widget, Column.PHASE)[1] == ("Not checked in",), timeout=3000)
    assert rows(widget, Column.PHASE)[0] == ("Check-in & vitals",)
    assert widget.table.currentIndex().row() == 1  # the selection stays
    with staffed.clinic.db.write() as session:
        session.add(
            SessionRecord(
                appointment_id=staffed.appointments["iv"],
                dose_started_at=staffed.clinic.at(TUESDAY, "09:15"),
            )
        )
    widget.refresh()  # (the window's change watcher asks this when a record is saved)
    settle(qtbot, widget)
    qtbot.waitUntil(lambda: rows(widget, Column.PHASE)[0] == ("Recovery",), timeout=3000)
    assert rows(widget, Column.PHASE)[1] == ("Not checked in",)
