"""Settings ▸ Closures and time off: a mistake (To before From, no reason) is named inside the
form, which stays open with everything typed; a closure the service refuses comes back as
typed when Add… is pressed again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import SYSTEM
from ketadesk.services.settings.availability import LocalRequest, request_problems
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.availability_page import AddClosureDialog, AvailabilityPage
from tests.pictures import picture_folder
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def booked(sqlite_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(sqlite_url)
    yield b
    b.clinic.db.dispose()


def test_request_problems_name_each_field() -> None:
    day = dt.date(2030, 1, 7)
    assert request_problems(LocalRequest("closure", day, 600, day, 540, "")) == {
        "ends_at": "must be after the start",
        "reason": "say why (it is shown on the schedule and to the patients called)",
    }
    assert request_problems(LocalRequest("maintenance", day, 0, day, 60, "calibration")) == {
        "resource": "say which staff member, room or equipment"
    }
    assert request_problems(LocalRequest("closure", day, 540, day, 600, "flood")) == {}


def _when_form(seen: list[AddClosureDialog], act: object) -> None:
    def look() -> None:
        form = QApplication.activeModalWidget()
        if not isinstance(form, AddClosureDialog):
            QTimer.singleShot(20, look)
            return
        seen.append(form)
        act(form)  # type: ignore[operator]

    QTimer.singleShot(0, look)


def _see(form: AddClosureDialog) -> None:
    see = next(b for b in form.findChildren(QPushButton) if b.text() == "See consequences…")
    QTest.mouseClick(see, Qt.MouseButton.LeftButton)


def test_to_before_from_is_named_in_the_open_form(qtbot: QtBot, booked: BookedClinic) -> None:
    b = booked
    page = AvailabilityPage(Desk(b.clinic.db, SYSTEM, now=lambda: b.now))
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.loaded is not None)
    day = b.today + dt.timedelta(days=3)
    seen: list[AddClosureDialog] = []
    still_open: list[bool] = []

    def fill(form: AddClosureDialog) -> None:
        qday = QDate(day.year, day.month, day.day)
        form.first.setDateTime(QDateTime(qday, QTime(14, 0)))
        form.last.setDateTime(QDateTime(qday, QTime(9, 0)))
        form.reason.setText("Staff training")
        _see(form)
        still_open.append(form.isVisible())
        assert "To: must be after the start" in form.errors.text()
        assert form.reason.text() == "Staff training"
        qtbot.wait(50)
        form.grab().save(str(picture_folder("setup-shots") / "closure-form-error.png"))
        form.reject()

    _when_form(seen, fill)
    QTest.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    assert len(seen) == 1
    assert still_open == [True]
    assert page.dialog is None  # nothing went on to the consequences


def test_a_refused_closure_comes_back_as_typed(qtbot: QtBot, booked: BookedClinic) -> None:
    b = booked
    page = AvailabilityPage(Desk(b.clinic.db, SYSTEM, now=lambda: b.now))
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.loaded is not None)
    day = b.today + dt.timedelta(days=2)
    page.preview_closure(LocalRequest("closure", day, 600, day, 540, "Flooded hallway"))
    qtbot.waitUntil(lambda: page.status.text().startswith("Not saved"))
    seen: list[AddClosureDialog] = []
    typed: list[LocalRequest] = []

    def look(form: AddClosureDialog) -> None:
        typed.append(form.request())
        assert "To: must be after the start" in form.errors.text()
        form.reject()

    _when_form(seen, look)
    QTest.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    assert typed == [LocalRequest("closure", day, 600, day, 540, "Flooded hallway")]


def _form_for(qtbot: QtBot, today: dt.date) -> AddClosureDialog:
    form = AddClosureDialog([], today, time_format="12h")
    qtbot.addWidget(form)
    return form


def test_a_whole_day_closure_is_typed_by_its_last_day_closed(qtbot: QtBot) -> None:
    """A user trial read "To 12/10 12:00 AM" as a three-day closure's last day: for whole
    days the form takes and shows the last day closed, and stores what it always stored."""
    monday = dt.date(2030, 12, 9)
    form = _form_for(qtbot, monday - dt.timedelta(days=1))
    assert form.all_day.isChecked()  # tomorrow, all day
    assert form.first.text() == form.last.text() == "Mon 12/09/2030"
    form.last.setDate(QDate(2030, 12, 11))
    form.reason.setText("Staff retreat")
    request = form.request()
    # Stored as before: from Monday's midnight to the midnight after Wednesday.
    assert request == LocalRequest(
        "closure", monday, 0, dt.date(2030, 12, 12), 0, "Staff retreat", None
    )
    assert request.whole_days() == (monday, dt.date(2030, 12, 11))
    form.show()
    qtbot.waitExposed(form)
    form.grab().save(str(picture_folder("polish") / "closure-form-all-day.png"))
    # Filled again (a refusal), it shows the days again, not the midnight after.
    again = _form_for(qtbot, monday)
    again.set_request(request)
    assert again.all_day.isChecked()
    assert (again.first.text(), again.last.text()) == ("Mon 12/09/2030", "Wed 12/11/2030")
    # The last day before the first is named in the form's words.
    again.last.setDate(QDate(2030, 12, 8))
    again._on_buttons_accepted()
    assert "To: the last day closed cannot be before the first" in again.errors.text()


def test_a_part_day_closure_keeps_its_times(qtbot: QtBot) -> None:
    day = dt.date(2030, 12, 24)
    form = _form_for(qtbot, day - dt.timedelta(days=3))
    form.all_day.setChecked(False)  # the same day, by its times: to the next midnight
    assert form.last.text() == "Mon 12/23/2030 12:00 AM"
    qday = QDate(day.year, day.month, day.day)
    form.first.setDateTime(QDateTime(qday, QTime(8, 0)))
    form.last.setDateTime(QDateTime(qday, QTime(12, 0)))
    r = form.request()
    assert (r.first_day, r.first_minute, r.last_day, r.last_minute) == (day, 480, day, 720)
    # A time given while "All day" is ticked (a form filled again) makes it part-day.
    other = _form_for(qtbot, day)
    other.first.setDateTime(QDateTime(qday, QTime(14, 0)))
    assert not other.all_day.isChecked()
    assert other.first.text() == "Tue 12/24/2030 2:00 PM"
