"""Date and time fields take what is typed as a text field would: Ctrl+A then typing replaces
the value, dates month first with two-digit months and days, and every date or time field of
the application is one of these (no bare QDateEdit left to type into the old way)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QTimeZone
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from ketadesk.scheduling.dates import TIME_FORMATS, clock
from ketadesk.ui.common.date_fields import DateField, DateTimeField, TimeField

UI = Path(__file__).resolve().parents[3] / "ketadesk" / "ui"


def _shown(qtbot: QtBot, field: QWidget) -> None:
    qtbot.addWidget(field)
    field.show()
    qtbot.waitExposed(field)


def _type_over(field: QWidget, text: str) -> None:
    """Ctrl+A, type ``text``, Enter (leaving the field reads it too: the booking dialog's
    test, since focus moves only in an active window)."""
    QTest.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(field, text)
    QTest.keyClick(field, Qt.Key.Key_Return)


@pytest.mark.parametrize(
    ("shown", "typed", "read"),
    [
        (dt.date(2026, 12, 7), "12/12/2026", dt.date(2026, 12, 12)),
        (dt.date(2026, 1, 5), "12/12/2026", dt.date(2026, 12, 12)),
        (dt.date(2026, 12, 7), "1/5/2027", dt.date(2027, 1, 5)),
        (dt.date(2026, 12, 7), "01/05/2027", dt.date(2027, 1, 5)),
        (dt.date(2026, 12, 7), "11/30/26", dt.date(2026, 11, 30)),
        (dt.date(2026, 12, 7), "Dec 25, 2026", dt.date(2026, 12, 25)),
        (dt.date(2026, 12, 7), "13/40/2026", dt.date(2026, 12, 7)),  # no date: kept
    ],
)
def test_a_date_is_read_as_typed_month_first(
    qtbot: QtBot, shown: dt.date, typed: str, read: dt.date
) -> None:
    for weekday in (False, True):
        field = DateField(value=shown, weekday=weekday)
        _shown(qtbot, field)
        _type_over(field, typed)
        assert field.date() == QDate(read.year, read.month, read.day), (weekday, field.text())
        assert field.text().endswith(f"{read.month:02d}/{read.day:02d}/{read.year}")


@pytest.mark.parametrize(
    ("shown", "typed", "read"),
    [
        (dt.time(9, 0), "10:30", dt.time(10, 30)),
        (dt.time(14, 30), "9:15", dt.time(9, 15)),
        (dt.time(9, 0), "1030", dt.time(10, 30)),
        (dt.time(9, 0), "7", dt.time(7, 0)),
        (dt.time(9, 0), "2:45 pm", dt.time(14, 45)),
        (dt.time(9, 0), "14:30", dt.time(14, 30)),  # 24-hour typed into either format
        (dt.time(9, 0), "1430", dt.time(14, 30)),
        (dt.time(9, 0), "230p", dt.time(14, 30)),
        (dt.time(9, 0), "12:05 am", dt.time(0, 5)),
        (dt.time(9, 0), "25:00", dt.time(9, 0)),  # no time: kept
    ],
)
@pytest.mark.parametrize("fmt", TIME_FORMATS)
def test_select_all_then_typing_replaces_the_time(
    qtbot: QtBot, shown: dt.time, typed: str, read: dt.time, fmt: str
) -> None:
    field = TimeField(value=shown, time_format=fmt)
    _shown(qtbot, field)
    _type_over(field, typed)
    assert field.time() == QTime(read.hour, read.minute)
    assert field.text() == clock(read, fmt)  # "2:30 PM" or "14:30", as every view says it


def test_a_time_field_shows_the_clinics_format_and_keeps_its_value(qtbot: QtBot) -> None:
    field = TimeField(value=dt.time(14, 30))  # a US clinic's, until told
    _shown(qtbot, field)
    assert field.text() == "2:30 PM"
    field.set_time_format("24h")
    assert field.text() == "14:30"
    assert field.time() == QTime(14, 30)
    both = DateTimeField(time_format="12h")
    _shown(qtbot, both)
    both.setDateTime(QDateTime(QDate(2026, 12, 12), QTime(0, 5)))
    assert both.text() == "12/12/2026 12:05 AM"
    _type_over(both, "12/14/2026 2:30 pm")
    assert both.dateTime() == QDateTime(QDate(2026, 12, 14), QTime(14, 30))
    assert both.text() == "12/14/2026 2:30 PM"
    _type_over(both, "12/15/2026 16:45")
    assert both.text() == "12/15/2026 4:45 PM"


@pytest.mark.parametrize("fmt", TIME_FORMATS)
def test_enter_reads_the_typed_time_and_the_arrows_still_step(qtbot: QtBot, fmt: str) -> None:
    field = TimeField(value=dt.time(9, 0), time_format=fmt)
    _shown(qtbot, field)
    field.setFocus()
    QTest.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(field, "1130")
    with qtbot.waitSignal(field.editingFinished):
        QTest.keyClick(field, Qt.Key.Key_Return)
    assert field.time() == QTime(11, 30)
    field.lineEdit().setCursorPosition(0)  # the hour
    QTest.keyClick(field, Qt.Key.Key_Up)
    assert field.time() == QTime(12, 30)


def test_a_date_and_time_keeps_its_time_zone(qtbot: QtBot) -> None:
    # The series move shows the clinic's time whatever this PC's zone.
    zone = QTimeZone(b"Pacific/Honolulu")
    field = DateTimeField()
    field.setTimeZone(zone)
    field.setDateTime(QDateTime(QDate(2026, 12, 7), QTime(9, 0), zone))
    _shown(qtbot, field)
    _type_over(field, "12/12/2026 14:30")
    value = field.dateTime()
    assert (value.date(), value.time()) == (QDate(2026, 12, 12), QTime(14, 30))
    assert value.timeZone() == zone
    _type_over(field, "12/14/2026")  # only the day: the time stays
    assert (field.date(), field.time()) == (QDate(2026, 12, 14), QTime(14, 30))


def test_every_date_and_time_field_is_the_typed_one() -> None:
    bare = re.compile(r"\bQ(Date|Time|DateTime)Edit\(")
    found = [
        f"{path.relative_to(UI)}:{number}: {line.strip()}"
        for path in sorted(UI.rglob("*.py"))
        if path.name != "date_fields.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bare.search(line)
    ]
    assert found == [], "use ketadesk.ui.common.date_fields:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("12/14/2026 9:00", dt.datetime(2026, 12, 14, 9, 0)),
        ("Mon 12/14/2026 9:00", dt.datetime(2026, 12, 14, 9, 0)),
        ("Fri 12/18/26 2:30 pm", dt.datetime(2026, 12, 18, 14, 30)),
        ("12/15/2026", dt.datetime(2026, 12, 15, 10, 30)),  # only the day: the time stays
        ("Tue 12/15", dt.datetime(2026, 12, 15, 10, 30)),
        ("13/40/2026 9:00", dt.datetime(2026, 12, 7, 10, 30)),  # no date: kept
    ],
)
def test_a_date_and_time_with_its_weekday_is_typed_as_without(
    qtbot: QtBot, typed: str, read: dt.datetime
) -> None:
    """The snooze field shows the weekday ("until Monday"); typing reads past it."""
    field = DateTimeField(weekday=True, time_format="24h")
    field.setDateTime(QDateTime(QDate(2026, 12, 7), QTime(10, 30)))
    _shown(qtbot, field)
    assert field.text() == "Mon 12/07/2026 10:30"
    _type_over(field, typed)
    value = field.dateTime()
    assert (value.date(), value.time()) == (
        QDate(read.year, read.month, read.day),
        QTime(read.hour, read.minute),
    )
    assert field.text() == f"{read:%a %m/%d/%Y %H:%M}"


def test_a_date_and_time_edited_in_place_shows_the_new_weekday(qtbot: QtBot) -> None:
    field = DateTimeField(weekday=True, time_format="24h")
    field.setDateTime(QDateTime(QDate(2026, 12, 14), QTime(9, 0)))
    _shown(qtbot, field)
    field.setFocus()
    line = field.lineEdit()
    line.setCursorPosition(len("Mon 12/1"))
    QTest.keyClick(field, Qt.Key.Key_Delete)  # "4" out, "5" in: the old weekday stays typed
    QTest.keyClicks(field, "5")
    QTest.keyClick(field, Qt.Key.Key_Return)
    assert field.date() == QDate(2026, 12, 15)
    assert field.text() == "Tue 12/15/2026 09:00"


@pytest.mark.parametrize("weekday", [False, True])
def test_a_date_typed_after_a_click_in_the_field_is_read(qtbot: QtBot, weekday: bool) -> None:
    """The Days away trial: a click in the first-day field, "12/21/2026" typed, left 12/07,
    and the last-day field showed "Mon 112/27/20262".  A click that gives the field its focus
    selects what it shows, so what is typed replaces it; a second click places the cursor."""
    shown = dt.date(2026, 12, 7)
    for where in (0.1, 0.5, 0.9):  # the weekday, the day, the year
        field = DateField(value=shown, weekday=weekday)
        other = DateField(value=shown)
        holder = QWidget()
        other.setParent(holder)
        field.setParent(holder)
        field.move(0, 40)
        holder.resize(300, 80)
        qtbot.addWidget(holder)
        holder.show()
        qtbot.waitExposed(holder)
        holder.activateWindow()
        other.setFocus()
        line = field.lineEdit()
        at = line.rect().center()
        at.setX(int(line.width() * where))
        qtbot.mouseClick(line, Qt.MouseButton.LeftButton, pos=at)  # type: ignore[no-untyped-call]
        qtbot.wait(10)
        # Typed where the keyboard's keys go: the field (pytest-qt's helpers are untyped).
        qtbot.keyClicks(field, "12/21/2026")  # type: ignore[no-untyped-call]
        qtbot.keyClick(field, Qt.Key.Key_Return)  # type: ignore[no-untyped-call]
        assert field.date() == QDate(2026, 12, 21), (where, field.text())
        assert field.text().endswith("12/21/2026"), field.text()
