"""The date fields of every form (the booking dialogs' among them): a date typed without its
year is the one nearest the day shown, text that is no date says so (``refused``, and a tooltip
at the field), and a field told to ``read_while_typing`` takes each whole date as it is typed,
leaving the text as typed (the Move dialog's day and time)."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QDate, Qt, QTime
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from ketadesk.ui.common.date_fields import DateField, DateTimeField, TimeField


def _shown(qtbot: QtBot, field: DateField | TimeField | DateTimeField) -> None:
    qtbot.addWidget(field)
    field.show()
    qtbot.waitExposed(field)


@pytest.mark.parametrize(
    ("shown", "typed", "read"),
    [
        (dt.date(2026, 12, 30), "1/4", dt.date(2027, 1, 4)),
        (dt.date(2027, 1, 3), "12/28", dt.date(2026, 12, 28)),
        (dt.date(2026, 12, 7), "12/15", dt.date(2026, 12, 15)),
        (dt.date(2026, 12, 7), "12/15/2026", dt.date(2026, 12, 15)),
        (dt.date(2026, 12, 30), "1/4/2026", dt.date(2026, 1, 4)),  # the year typed decides
    ],
)
def test_a_date_without_its_year_is_the_nearest(
    qtbot: QtBot, shown: dt.date, typed: str, read: dt.date
) -> None:
    field = DateField(value=shown, weekday=True)
    _shown(qtbot, field)
    QTest.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(field, typed)
    QTest.keyClick(field, Qt.Key.Key_Return)
    assert field.date() == QDate(read.year, read.month, read.day)


def test_text_that_is_no_date_is_refused_saying_why(qtbot: QtBot) -> None:
    field = DateField(value=dt.date(2026, 12, 7))
    _shown(qtbot, field)
    QTest.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(field, "13/45")
    assert field.typed_problem() == (
        "“13/45” is not a date: type it month first, as 12/15 or 12/15/2026"
    )
    with qtbot.waitSignal(field.refused) as said:
        QTest.keyClick(field, Qt.Key.Key_Return)
    assert said.args == ["“13/45” is not a date: type it month first, as 12/15 or 12/15/2026"]
    assert field.date() == QDate(2026, 12, 7)
    assert field.typed_problem() == ""
    time = TimeField(value=dt.time(9, 0))
    _shown(qtbot, time)
    QTest.keyClick(time, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(time, "25:70")
    with qtbot.waitSignal(time.refused) as said:
        QTest.keyClick(time, Qt.Key.Key_Return)
    assert said.args[0].startswith("“25:70” is not a time")
    assert time.time() == QTime(9, 0)


def test_a_field_read_while_typing_follows_the_keys(qtbot: QtBot) -> None:
    field = DateField(value=dt.date(2026, 12, 7), weekday=True)
    field.read_while_typing()
    _shown(qtbot, field)
    seen: list[QDate] = []
    field.dateChanged.connect(seen.append)
    QTest.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(field, "12/15")
    # Each whole date typed was read (12/1, then 12/15); the text is as typed.
    assert seen == [QDate(2026, 12, 1), QDate(2026, 12, 15)]
    assert field.lineEdit().text() == "12/15"
    assert field.date() == QDate(2026, 12, 15)
    QTest.keyClick(field, Qt.Key.Key_Return)
    assert field.lineEdit().text() == "Tue 12/15/2026"
    assert set(seen[1:]) == {QDate(2026, 12, 15)}  # Enter (Qt says the value again): no other
    # A field not told to keeps the value until the text is read.
    plain = DateField(value=dt.date(2026, 12, 7))
    _shown(qtbot, plain)
    QTest.keyClick(plain, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(plain, "12/15")
    assert plain.date() == QDate(2026, 12, 7)
