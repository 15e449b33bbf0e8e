"""Each view gives the status bar its own account: a review found the chair board, the
follow-up queue and the other views that are not a day of the schedule still saying the day by
room's "12 sessions · open 08:00–18:00".

The clinic day of tests/ui/clinic_day.py: a busy Tuesday.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.services.monitoring.chair_board import BpDue, ChairBoard, ChairCard
from ketadesk.ui.common.background import background_work_pending
from ketadesk.ui.monitoring.chair_board import ChairBoardView, board_status
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import open_desk_window

NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture
def window(qtbot: QtBot, clinic: SmallClinic) -> Iterator[MainWindow]:
    win = open_desk_window(qtbot, clinic.db, TUESDAY, now=lambda: NOW, actor=NURSE)
    yield win
    win.close()


def _settle(qtbot: QtBot, win: MainWindow) -> None:
    qtbot.waitUntil(lambda: not win.is_reading() and not background_work_pending(), timeout=10_000)
    qtbot.wait(50)  # results delivered on the GUI thread


def _status(win: MainWindow) -> str:
    label = win.statusBar().findChild(QLabel, "day_summary")
    assert label is not None
    return label.text()


#: Each view that is not a day of the schedule, and how its own account begins.
OWN_ACCOUNTS = {
    "chairs": "",  # "N of M chairs in use": checked against the board below
    "follow_ups": "Follow-ups: ",
    "recall": "Recall: ",
    "my_day": "",
    "waitlist": "Waitlist: ",
    "confirmations": "Confirmations for ",
}


def test_each_view_says_its_own_account_not_the_days(qtbot: QtBot, window: MainWindow) -> None:
    _settle(qtbot, window)
    day_account = _status(window)
    assert " sessions" in day_account
    for view, start in OWN_ACCOUNTS.items():
        window.actions_by_name[f"view_{view}"].trigger()
        _settle(qtbot, window)
        qtbot.waitUntil(lambda: bool(_status(window)), timeout=10_000)
        text = _status(window)
        assert text != day_account, view
        assert "sessions ·" not in text or view == "my_day", (view, text)
        assert text.startswith(start), (view, text)
        page = window.page(view)
        assert page is not None
        assert text == page.status_summary(), view  # type: ignore[attr-defined]
        folder = os.environ.get("KETADESK_SCREENSHOTS")
        if folder:  # a picture of each view's status bar to look at
            window.grab().save(str(Path(folder) / f"status-bar-{view}.png"))
    board = window.page("chairs")
    assert isinstance(board, ChairBoardView)
    assert board.board() is not None
    window.actions_by_name["view_chairs"].trigger()
    _settle(qtbot, window)
    assert "chairs in use" in _status(window)
    window.actions_by_name["view_rooms"].trigger()
    _settle(qtbot, window)
    assert _status(window) == day_account


def _card(room: int, stage: str, **facts: object) -> ChairCard:
    return ChairCard(room_id=room, room_name=f"Room {room}", stage=stage, **facts)  # type: ignore[arg-type]


def test_the_chair_boards_account_counts_checks_due_and_discharges() -> None:
    now = dt.datetime(2026, 11, 24, 10, 15, tzinfo=dt.UTC)
    due = BpDue("+40 min", now - dt.timedelta(minutes=5), late=False, due_now=True)
    late = BpDue("Before dosing", now - dt.timedelta(minutes=30), late=True, due_now=True)
    later = BpDue("Before discharge", now + dt.timedelta(minutes=50), late=False)
    board = ChairBoard(
        now=now,
        day=now.date(),
        clinic_name="Small clinic",
        cards=(
            _card(1, "in_session", appointment_id=1, next_bp=due),
            _card(2, "in_session", appointment_id=2, next_bp=late),
            _card(3, "in_session", appointment_id=3, next_bp=later, discharge_ready=True),
            _card(4, "due", appointment_id=4),
            _card(5, "free"),
        ),
    )
    assert board_status(board) == (
        "3 of 5 chairs in use · 2 due a BP check, 1 late · 1 ready for discharge · 1 not arrived"
    )
    quiet = ChairBoard(now=now, day=now.date(), clinic_name="", cards=(_card(1, "free"),))
    assert board_status(quiet) == "0 of 1 chair in use"
