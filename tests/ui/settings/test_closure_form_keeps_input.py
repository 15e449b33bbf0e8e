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
