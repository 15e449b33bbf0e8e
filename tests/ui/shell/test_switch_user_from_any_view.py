"""Clinic ▸ Switch user from every view, as a first user did it (issue 15: from any view but Day
by room it raised KeyError 'follow_ups' / 'chairs' / 'week', and the window stayed on "Sign in
to see the clinic" with Ctrl+1 … Ctrl+7 doing nothing)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from ketadesk.services.access.accounts import sign_in_screen
from ketadesk.services.common.context import Actor
from ketadesk.ui.shell.main_window import VIEWS
from ketadesk.ui.shell.session import SignedInSession
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import open_desk_window, wait_for_day

NURSE = Actor(user_id=None, username="kim", role="nurse")
FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")


@pytest.mark.parametrize("view", [v.name for v in VIEWS])
def test_switch_user_from_any_view_shows_the_clinic_again(
    qtbot: QtBot, clinic: SmallClinic, view: str
) -> None:
    win = open_desk_window(qtbot, clinic.db, TUESDAY, now=lambda: NOW)
    session = SignedInSession(
        win, clinic.db, now=lambda: NOW, ask_first_admin=lambda db, parent: NURSE
    )
    assert session.start(sign_in_screen(clinic.db))
    wait_for_day(qtbot, win)
    qtbot.waitUntil(lambda: session.lock is not None, timeout=10_000)
    lock = session.lock
    assert lock is not None
    asked: list[bool] = []

    def sign_in(desk: object, parent: object) -> Actor:
        asked.append(lock.is_locked())  # the window covered behind the sign-in
        return FRONT_DESK

    lock.ask_sign_in = sign_in  # type: ignore[method-assign]
    win.set_view(view)
    assert win.view() == view

    win.actions_by_name["switch_user"].trigger()  # one action, straight to the sign-in
    assert asked == [True]
    assert not lock.is_locked()
    assert not win.is_signed_out()
    desk = win.desk()
    assert desk is not None
    assert desk.actor == FRONT_DESK
    assert win.view() == view
    page = win.page(view)
    assert page is not None
    assert page.isVisible()
    for n, spec in enumerate(VIEWS, start=1):  # every view still opens from its shortcut
        QTest.keyClick(win, Qt.Key(Qt.Key.Key_0 + n), Qt.KeyboardModifier.ControlModifier)
        assert win.view() == spec.name
        shown = win.page(spec.name)
        assert shown is not None
        assert shown.isVisible()
    session.close()
