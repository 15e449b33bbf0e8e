"""The early sign-in dialog taken away at start-up (a new clinic asks for its administrator, a
clinic that cannot open asks nobody) goes quietly: no "Failed to disconnect" warning at exit,
and no "rejected" that would end the run."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent
from pytestqt.qtbot import QtBot

from ketadesk.commands import run
from ketadesk.ui.access.sign_in import SignInDialog


def _early(qtbot: QtBot) -> SignInDialog:
    dialog = SignInDialog.show_early(None, label="/srv/clinic.sqlite", username="maria")
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return dialog


def _deleted(dialog: SignInDialog) -> bool:
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return not shiboken6.isValid(dialog)


def test_the_early_dialog_is_discarded_without_a_warning(qtbot: QtBot) -> None:
    # Nothing listens to the early dialog's "rejected": PySide6 warned "Failed to disconnect"
    # when it was disconnected anyway (pytest turns that warning into this test's failure).
    dialog = _early(qtbot)
    run._discard(dialog)
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: _deleted(dialog))


def test_discarding_the_dialog_does_not_reject_it(qtbot: QtBot) -> None:
    dialog = _early(qtbot)
    rejected: list[bool] = []
    dialog.rejected.connect(lambda: rejected.append(True))
    run._discard(dialog)
    qtbot.waitUntil(lambda: _deleted(dialog))
    assert not rejected
