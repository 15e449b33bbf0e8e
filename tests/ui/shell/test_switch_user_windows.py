"""A switch of user closes the windows the previous user opened: a patient record or the audit
trail left open would go on reading and writing with the previous user's rights."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.ui.common.desk import Desk
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, open_desk_window

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
ADMIN = Actor(user_id=None, username="ada", role="admin")
FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")


def test_the_previous_user_s_patient_record_and_audit_trail_close_on_a_switch(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    win = open_desk_window(qtbot, clinic.db, TUESDAY, now=lambda: NOW, actor=ADMIN, size=None)
    controller = desk_controller_of(win)
    controller.open_patient(clinic.ids["Grace Hopper"])
    controller.open_audit()
    (record,) = controller.patient_windows
    audit = controller.audit_window
    assert audit is not None
    qtbot.waitUntil(lambda: record.record is not None, timeout=10_000)
    assert record.isVisible()
    assert audit.isVisible()

    win.attach_desk(Desk(clinic.db, FRONT_DESK, lambda: NOW))

    assert not record.isVisible()
    assert not audit.isVisible()
    assert desk_controller_of(win).patient_windows == []
    assert desk_controller_of(win).audit_window is None
