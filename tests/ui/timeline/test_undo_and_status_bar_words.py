"""What Edit ▸ Undo and the status bar say after hand edits, as a first user saw them (issue 15):
Undo named "Move session #783" rather than the patient, "Move cancelled" stayed in the status bar
after later actions, and Edit still offered "Undo Cancel" after a user switch."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from ketadesk.commands.run import open_day_window
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import Actor
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.shell import pages
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, wait_for_day

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")
MARY_AT_NOON = {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"}


@pytest.fixture
def mary(clinic: SmallClinic) -> int:
    """Mary Seacole's IV infusion on the clinic day, 12:00 in Room 3."""
    request = BookingRequest(
        patient_id=clinic.ids["Mary Seacole"],
        sessions=(clinic.session("iv_infusion", TUESDAY, "12:00", MARY_AT_NOON),),
    )
    return booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids[0]


@pytest.fixture
def window(qtbot: QtBot, clinic: SmallClinic, mary: int) -> MainWindow:
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW, actor=FRONT_DESK)
    qtbot.addWidget(win)
    win.resize(1400, 1000)
    win.show()
    qtbot.waitExposed(win)
    wait_for_day(qtbot, win)
    return win


def _written(qtbot: QtBot, window: MainWindow) -> None:
    editor = desk_controller_of(window).editor
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=10_000)
    wait_for_day(qtbot, window)


def _mouse(window: MainWindow, kind: QEvent.Type, pos: QPoint, held: bool = True) -> None:
    canvas = window.day_view.canvas()
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    buttons = Qt.MouseButton.LeftButton if held else Qt.MouseButton.NoButton
    event = QMouseEvent(
        kind,
        QPointF(pos),
        QPointF(canvas.mapToGlobal(pos)),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(canvas, event)


def test_undo_names_the_patient_moved(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, mary: int
) -> None:
    window.day_view.move_requested.emit(
        mary, clinic.at(TUESDAY, "10:30"), clinic.ids["Room 3"], None
    )
    _written(qtbot, window)
    undo = window.actions_by_name["undo"]
    assert undo.isEnabled()
    assert "#" not in undo.text()
    assert "Seacole" in undo.text()
    assert undo.text().startswith("Undo Move")


def test_a_status_change_names_the_patient_too(qtbot: QtBot, window: MainWindow, mary: int) -> None:
    window.day_view.status_requested.emit(mary, "cancel", "Patient unwell", None)
    _written(qtbot, window)
    text = window.actions_by_name["undo"].text()
    assert text.startswith("Undo Cancel")
    assert "Seacole" in text


def test_move_cancelled_does_not_stay_in_the_status_bar(
    qtbot: QtBot,
    window: MainWindow,
    clinic: SmallClinic,
    mary: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pages, "PASSING_FEEDBACK_MS", 300)  # not the user's 5 s, in a test
    view = window.day_view
    layout = view.day_layout()
    assert layout is not None
    block = layout.block_of(mary)
    assert block is not None
    origin = view.body_origin()
    press = QPoint(round(origin.x() + block.rect.x + 20), round(origin.y() + block.rect.y + 2))
    target = view.slot_point(clinic.ids["Room 3"], clinic.at(TUESDAY, "10:30"))
    assert target is not None
    _mouse(window, QEvent.Type.MouseButtonPress, press)
    _mouse(window, QEvent.Type.MouseMove, press + QPoint(0, 12))
    _mouse(window, QEvent.Type.MouseMove, target + QPoint(0, 2))
    qtbot.waitUntil(lambda: (s := view.drag_state()) is not None and s.reasons is not None)
    assert window.statusBar().currentMessage() != ""  # the live verdict while dragging stays
    QTest.keyClick(view, Qt.Key.Key_Escape)
    _mouse(window, QEvent.Type.MouseButtonRelease, target, held=False)
    assert window.statusBar().currentMessage() == "Move cancelled"
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "", timeout=3000)


def test_edit_offers_no_undo_of_the_previous_user_s_change(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, mary: int
) -> None:
    window.day_view.status_requested.emit(mary, "cancel", "Patient unwell", None)
    _written(qtbot, window)
    assert window.actions_by_name["undo"].text().startswith("Undo Cancel")

    window.attach_desk(Desk(clinic.db, NURSE, lambda: NOW))  # Clinic ▸ Switch user
    undo, redo = window.actions_by_name["undo"], window.actions_by_name["redo"]
    assert undo.text() == "Undo"
    assert not undo.isEnabled()
    assert redo.text() == "Redo"
    assert not redo.isEnabled()


def test_a_finished_action_leaves_a_short_status_bar_message(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, mary: int, tmp_path: Path
) -> None:
    """A user trial: a move, a cancel or a print finished without a word; now each leaves a
    short message that passes (``pages.PASSING_FEEDBACK_MS``)."""
    bar = window.statusBar()
    window.day_view.move_requested.emit(
        mary, clinic.at(TUESDAY, "10:30"), clinic.ids["Room 3"], None
    )
    _written(qtbot, window)
    assert bar.currentMessage() == "Done: Move Seacole, Mary · Edit ▸ Undo takes it back"
    window.day_view.status_requested.emit(mary, "cancel", "Patient unwell", None)
    _written(qtbot, window)
    # A late cancellation's note (the fee) says more than "Done": it stays.
    assert bar.currentMessage().startswith("Late cancellation fee")
    window.actions_by_name["undo"].trigger()
    _written(qtbot, window)
    assert bar.currentMessage() == "Undone: Cancel Seacole, Mary"
    printer = desk_controller_of(window).printer
    out = tmp_path / "day.pdf"
    with qtbot.waitSignal(printer.finished, timeout=20_000):
        printer.day_sheet(TUESDAY, mode="pdf", path=out)
    assert bar.currentMessage() == f"Saved {out}"
