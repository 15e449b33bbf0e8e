"""A dialog's inline error is read whole: it wraps, and the window grows to show every line (a
clinical-day trial found the REMS form's override error cut off; each dialog with a message
under its fields is checked the same way here and in
tests/ui/monitoring/test_urgent_review_on_screen.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QDate
from PySide6.QtWidgets import QDialog, QLabel
from pytestqt.qtbot import QtBot

from ketadesk.scheduling.ride_home import RideHome
from ketadesk.ui.common.ride_dialog import RideDialog
from ketadesk.ui.patients.days_away import AwayRangeDialog
from tests.pictures import picture_folder

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
#: A day to type ranges around (any day: nothing here asks the clock).
DAY = dt.date(2026, 12, 7)


def _read_whole(qtbot: QtBot, dialog: QDialog, label: QLabel) -> None:
    assert label.wordWrap()
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()))
    bottom = label.mapTo(dialog, label.rect().bottomRight())
    assert dialog.rect().contains(bottom)  # inside the window, not under its edge


def test_the_ride_dialogs_missing_answer_is_read_whole(qtbot: QtBot) -> None:
    dialog = RideDialog(
        None,
        question="Ada Lovelace may not drive for 24 hours after this Spravato session.",
        driver_name="",
        driver_phone="",
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.set_answer(RideHome(here=True, name=" "))
    problem = dialog.findChild(QLabel, "ride-problem")
    assert problem is not None
    assert problem.text().startswith("To complete:")
    _read_whole(qtbot, dialog, problem)
    dialog.grab().save(str(picture_folder("fixes") / "ride_problem.png"))


def test_the_days_away_problem_wraps_and_the_dialog_grows(qtbot: QtBot) -> None:
    dialog = AwayRangeDialog(None, DAY)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    before = dialog.height()
    dialog.last.setDate(QDate(DAY.year, DAY.month, DAY.day - 3))
    assert dialog.problem.text().startswith("The last day away (Fri Dec 4, 2026) is before")
    _read_whole(qtbot, dialog, dialog.problem)
    assert dialog.height() > before
    dialog.grab().save(str(picture_folder("fixes") / "days_away_problem.png"))
