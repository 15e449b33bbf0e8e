"""Settings ▸ Closures and time off with a closure that repeats: the form asks how it repeats
(every day, or every week on the weekdays ticked), says what it will close, and names a weekly
closure without a weekday; the page lists a repeating closure as one line; the day view shades
each day's hours and marks a session it strands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QDateTime, Qt, QTime
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog, QPushButton
from pytestqt.qtbot import QtBot

from ketadesk.scheduling.closure_repeats import Repeat
from ketadesk.services.common.context import SYSTEM
from ketadesk.services.schedule.day import day_schedule
from ketadesk.services.settings import availability
from ketadesk.services.settings.availability import LocalRequest
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.availability_page import AddClosureDialog, AvailabilityPage
from ketadesk.ui.timeline.day_view import DayView
from tests.clinic_fixtures import SmallClinic, say_times
from tests.pictures import picture_folder
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def pictures() -> Path:
    return picture_folder("closures")


def _see(form: AddClosureDialog) -> None:
    see = next(b for b in form.findChildren(QPushButton) if b.text() == "See consequences…")
    QTest.mouseClick(see, Qt.MouseButton.LeftButton)


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def test_a_weekly_closure_is_asked_for_with_keys_and_checked_in_the_form(
    qtbot: QtBot, pictures: Path
) -> None:
    today = dt.date(2026, 11, 30)
    form = AddClosureDialog([], today, time_format="12h")
    qtbot.addWidget(form)
    form.show()
    qtbot.waitExposed(form)
    QTest.mouseClick(form.all_day, Qt.MouseButton.LeftButton)  # part of each day
    form.first.setDateTime(QDateTime(_qdate(dt.date(2026, 12, 4)), QTime(8, 0)))
    form.last.setDateTime(QDateTime(_qdate(dt.date(2026, 12, 31)), QTime(12, 0)))
    assert not form.weekday_row.isEnabled()
    form.repeat.setFocus()
    QTest.keyClick(form.repeat, Qt.Key.Key_Down)
    assert form.repeat.currentData() == "daily"
    assert form.repeat_note.text() == "Closes Every day Dec 4 – Dec 31, 8:00 AM – 12:00 PM."
    QTest.keyClick(form.repeat, Qt.Key.Key_Down)
    assert form.repeat.currentData() == "weekly"
    assert form.weekday_row.isEnabled()
    friday = form.weekdays[4]
    assert friday.isChecked()  # From's weekday, ticked for a start
    assert form.repeat_note.text() == "Closes Every Fri Dec 4 – Dec 25, 8:00 AM – 12:00 PM."
    friday.setFocus()
    QTest.keyClick(friday, Qt.Key.Key_Space)  # no weekday left
    QTest.keyClicks(form.reason, "Deep clean")
    _see(form)
    assert form.isVisible()
    assert "Repeat on: choose at least one weekday for a weekly closure" in form.errors.text()
    assert form.reason.text() == "Deep clean"  # nothing typed is lost
    for box in (form.weekdays[0], friday):
        box.setFocus()
        QTest.keyClick(box, Qt.Key.Key_Space)
    assert form.repeat_note.text() == "Closes Every Mon, Fri Dec 4 – Dec 28, 8:00 AM – 12:00 PM."
    assert not form.errors.isVisible()  # the weekday named is given: nothing left to say
    form.grab().save(str(pictures / "closure-form-weekly.png"))
    _see(form)
    assert form.result() == QDialog.DialogCode.Accepted
    request = form.request()
    assert request.repeat == Repeat("weekly", (0, 4))
    assert (request.first_day, request.first_minute) == (dt.date(2026, 12, 4), 8 * 60)
    assert (request.last_day, request.last_minute) == (dt.date(2026, 12, 31), 12 * 60)


def test_a_repeating_closure_s_hours_must_end_after_they_start(qtbot: QtBot) -> None:
    form = AddClosureDialog([], dt.date(2026, 11, 30), time_format="12h")
    qtbot.addWidget(form)
    form.show()
    QTest.mouseClick(form.all_day, Qt.MouseButton.LeftButton)
    form.first.setDateTime(QDateTime(_qdate(dt.date(2026, 12, 21)), QTime(13, 0)))
    form.last.setDateTime(QDateTime(_qdate(dt.date(2026, 12, 31)), QTime(9, 0)))
    form.repeat.setCurrentIndex(form.repeat.findData("daily"))
    QTest.keyClicks(form.reason, "Christmas week afternoons")
    _see(form)
    assert form.isVisible()
    assert "To: To's time must be after From's" in form.errors.text()


def test_the_page_lists_a_repeating_closure_as_one_line(
    qtbot: QtBot, clinic: SmallClinic, pictures: Path
) -> None:
    db = clinic.db
    with db.write() as session:
        say_times(session, "12h")  # a US clinic's, as in the user trial
    request = LocalRequest(
        "closure",
        dt.date(2026, 12, 21),
        13 * 60,
        dt.date(2026, 12, 31),
        17 * 60,
        "Christmas week afternoons",
        repeat=Repeat("daily"),
    )
    availability.add_closure(db, SYSTEM, availability.from_local(db, request), now=NOW)
    page = AvailabilityPage(Desk(db, SYSTEM, now=lambda: NOW))
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.loaded is not None and page.table.rowCount() == 2)
    texts = [
        [item.text() if (item := page.table.item(r, c)) else "" for c in range(5)] for r in range(2)
    ]
    line = "Every day Dec 21 – Dec 31, 1:00 PM – 5:00 PM"
    row = next(r for r, cells in enumerate(texts) if cells[0] == line)
    assert texts[row][2:] == ["Clinic closed", "Whole clinic", "Christmas week afternoons"]
    assert page.table.columnSpan(row, 0) == 2
    tip = page.table.item(row, 4).toolTip()  # type: ignore[union-attr]
    assert tip == f"Clinic closed, {line}: Christmas week afternoons"
    page.resize(1000, 560)
    page.show()
    qtbot.waitExposed(page)
    page.grab().save(str(pictures / "closures-page-repeating.png"))


def test_the_day_view_shades_each_day_s_hours_and_marks_what_it_strands(
    qtbot: QtBot, clinic: SmallClinic, pictures: Path
) -> None:
    """Thanksgiving week's afternoons closed after Alan Turing's 1:30 PM Spravato was booked:
    Monday's, Tuesday's and Wednesday's afternoons are shaded, his session says reschedule."""
    db = clinic.db
    monday = TUESDAY - dt.timedelta(days=1)
    request = LocalRequest(
        "closure",
        monday,
        13 * 60,
        TUESDAY + dt.timedelta(days=1),
        17 * 60,
        "Thanksgiving week afternoons",
        repeat=Repeat("daily"),
    )
    availability.add_closure(db, SYSTEM, availability.from_local(db, request), now=NOW)
    for day in (monday, TUESDAY, TUESDAY + dt.timedelta(days=1)):
        bands = [
            (f"{b.start:%H:%M}", f"{b.end:%H:%M}")
            for b in day_schedule(db, day).closures
            if b.reason == "Thanksgiving week afternoons"
        ]
        assert bands == [("13:00", "17:00")], day
    schedule = day_schedule(db, TUESDAY)
    spravato = next(
        a for a in schedule.appointments if a.patient_name == "Turing, Alan" and a.start.hour == 13
    )
    assert spravato.closed_reason == "Thanksgiving week afternoons"
    assert spravato.closed_notice == "Clinic closed on this day: reschedule"
    morning = next(a for a in schedule.appointments if a.patient_name == "Lovelace, Ada")
    assert morning.closed_notice == ""
    view = DayView(now=lambda: NOW)
    qtbot.addWidget(view)
    view.resize(1100, 1000)
    view.set_schedule(schedule)
    view.show()
    qtbot.waitExposed(view)
    view.grab().save(str(pictures / "day-view-repeating-closure.png"))
