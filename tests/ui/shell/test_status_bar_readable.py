"""The status bar keeps the day's summary and the disk-encryption notice apart: the notice is
a permanent warning (icon and short words, the whole notice in its tooltip), not a message
painted over the summary, at the widths a front desk runs the window."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ketadesk.commands.run import open_day_window
from ketadesk.services.access.accounts import SignInScreen
from ketadesk.services.clinic.at_rest import ClinicAtRest
from ketadesk.services.common.context import Actor
from ketadesk.ui.shell.session import SignedInSession
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW

NURSE = Actor(user_id=None, username="kim", role="nurse")
NOTICE = (
    "The clinic file /srv/clinic.sqlite is not known to be encrypted: keep it on an encrypted "
    "disk (FileVault, BitLocker, LUKS)"
)


@pytest.mark.parametrize("width", [1000, 1400])
def test_summary_and_encryption_notice_do_not_overlap(
    qtbot: QtBot, clinic: SmallClinic, width: int
) -> None:
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW)
    qtbot.addWidget(win)
    session = SignedInSession(win, clinic.db, now=lambda: NOW, ask_sign_in=lambda *a, **k: NURSE)
    assert session.start(SignInScreen(False, "", ClinicAtRest("warn", NOTICE)))
    win.resize(width, 700)
    win.show()
    qtbot.waitUntil(lambda: bool(win.summary()))
    bar = win.statusBar()
    win.grab().save(str(picture_folder() / f"desk_status_{width}.png"))
    summary = bar.findChild(QLabel, "day_summary")
    notice = bar.findChild(QLabel, "at_rest_notice")
    assert summary is not None
    assert notice is not None
    qtbot.waitUntil(lambda: summary.isVisible() and notice.isVisible())
    assert bar.currentMessage() == ""  # nothing painted over the summary
    assert NOTICE in notice.toolTip()
    assert summary.text() == win.summary()
    a, b = summary.geometry(), notice.geometry()
    assert not a.intersects(b)
    # What each shows fits in its place (elided, never cut through by the other).
    assert summary.fontMetrics().horizontalAdvance(summary.text()) <= a.width()
    session.close()


@pytest.mark.parametrize("width", [1000, 1400])
def test_a_long_message_ends_in_an_ellipsis_before_the_users_name(
    qtbot: QtBot, clinic: SmallClinic, width: int
) -> None:
    """Trial 3, C18: a long message ran into the user label ("…(Waitl frontdesk (front desk)")."""
    from PySide6.QtCore import Qt

    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW)
    qtbot.addWidget(win)
    session = SignedInSession(win, clinic.db, now=lambda: NOW, ask_sign_in=lambda *a, **k: NURSE)
    assert session.start(SignInScreen(False, "", ClinicAtRest("ok", "")))
    win.resize(width, 700)
    win.show()
    qtbot.waitExposed(win)
    message = (
        "Cancelled Turing, Alan's IV ketamine infusion Tue 10:00 (patient asked); "
        "the place is offered to the waitlist (Waitlist, Ctrl+8) and the make-up is proposed "
        "in the rebooking offer that opened beside the schedule, with its moves"
    )
    bar = win.statusBar()
    user = win.findChild(QLabel, "signed_in_user")
    assert user is not None
    win.show_message(message, 60_000)
    qtbot.wait(20)
    assert user.isVisible()
    assert user.width() >= user.fontMetrics().horizontalAdvance(user.text())
    shown = bar.grab().toImage()
    shown.save(str(picture_folder("trial3") / f"status_long_message_{width}.png"))
    # What the bar shows is the message cut to the room left of the user's name, ending in
    # "…", exactly as that shorter message would be painted (not clipped against the name).
    room = user.x() - 2 - 6
    elided = bar.fontMetrics().elidedText(message, Qt.TextElideMode.ElideRight, room)
    assert elided.endswith("…")
    win.show_message(elided, 60_000)
    qtbot.wait(20)
    assert bar.grab().toImage() == shown
