"""The question before a session is cancelled names it and answers with verbs."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QInputDialog
from pytestqt.qtbot import QtBot

from ketadesk.ui.common.cancel_question import ask_cancel_reason, cancel_dialog, cancel_prompt

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

START = dt.datetime(2030, 12, 10, 10, 0, tzinfo=ZoneInfo("America/Los_Angeles"))


def _buttons(dialog: QInputDialog) -> list[str]:
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None
    return sorted(b.text() for b in box.buttons())


def test_the_question_names_patient_date_and_time_with_verb_buttons(qtbot: QtBot) -> None:
    prompt = cancel_prompt("Green, Marcus", "IV ketamine infusion", START, "12h")
    assert prompt.startswith(
        "Cancel the IV ketamine infusion on Tue Dec 10 at 10:00 AM for Green, Marcus?"
    )
    assert "at 10:00 for" in cancel_prompt("Green, Marcus", "IV infusion", START, "24h")
    dialog = cancel_dialog(None, prompt)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert _buttons(dialog) == ["Cancel session", "Keep"]
    assert dialog.labelText() == prompt


def test_keep_cancels_nothing_and_a_reason_is_returned(qtbot: QtBot) -> None:
    def answer(press_keep: bool, text: str = "") -> None:
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QInputDialog))
        if press_keep:
            dialog.reject()
        else:
            dialog.setTextValue(text)
            dialog.accept()

    QTimer.singleShot(50, lambda: answer(True))
    assert ask_cancel_reason(None, "Marcus Green", "IV ketamine infusion", START, "12h") is None
    QTimer.singleShot(50, lambda: answer(False, " no ride "))
    assert (
        ask_cancel_reason(None, "Marcus Green", "IV ketamine infusion", START, "12h") == "no ride"
    )
