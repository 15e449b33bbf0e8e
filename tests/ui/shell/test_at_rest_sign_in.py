"""The window and the clinic's disk-encryption policy: "require" refuses to open a clinic file
on a disk not known to be encrypted, "warn" signs in and says so in the status bar."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox
from pytestqt.qtbot import QtBot

from ketadesk.commands.run import open_day_window
from ketadesk.services.access.accounts import SignInScreen
from ketadesk.services.clinic.at_rest import ClinicAtRest
from ketadesk.services.common.context import Actor
from ketadesk.ui.shell.session import SignedInSession
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW

NURSE = Actor(user_id=None, username="kim", role="nurse")
NOTICE = "The clinic file /srv/clinic.sqlite is on a disk that is not known to be encrypted"


def _session(qtbot: QtBot, clinic: SmallClinic, asked: list[str]) -> SignedInSession:
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW)
    qtbot.addWidget(win)

    def ask(db: object, parent: object, **_: object) -> Actor:
        asked.append("sign in")
        return NURSE

    return SignedInSession(win, clinic.db, now=lambda: NOW, ask_sign_in=ask)


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_require_refuses_before_anyone_signs_in(qtbot: QtBot, clinic: SmallClinic) -> None:
    asked: list[str] = []
    session = _session(qtbot, clinic, asked)
    seen: list[str] = []

    def read_and_close() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        seen.append(box.text())
        box.accept()

    QTimer.singleShot(0, read_and_close)
    screen = SignInScreen(False, "", ClinicAtRest("require", NOTICE))
    assert not session.start(screen)
    assert asked == []
    assert NOTICE in seen[0]
    assert 'disk_encryption = "require"' in seen[0]
    assert session.window.is_signed_out()


def test_warn_signs_in_and_says_so(qtbot: QtBot, clinic: SmallClinic) -> None:
    asked: list[str] = []
    session = _session(qtbot, clinic, asked)
    assert session.start(SignInScreen(False, "", ClinicAtRest("warn", NOTICE)))
    assert asked == ["sign in"]
    # A standing warning beside the day's summary (not a message painted over it).
    label = session.window.statusBar().findChild(QLabel, "at_rest_notice")
    assert label is not None
    assert NOTICE in label.toolTip()
    session.close()
