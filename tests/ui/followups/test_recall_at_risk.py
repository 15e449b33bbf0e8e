"""A series at risk, through the widgets: a no-show or a late cancellation in the day view offers
the make-up there and then, and puts the series on the recall list's "At risk" tab with what was
missed and its outreach call; the tab's "Make-up…" opens the same offer, which books the make-up
and takes the series off the list.

The clinic is tests/ui/clinic_day.py's Tuesday, "now" 10:15 (tests/ui/conftest.py NOW): Ada
Lovelace's IV infusion 3/6 at 09:00 in Room 1 has not started.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.commands.run import open_day_window
from ketadesk.services.booking import appointment_changes
from ketadesk.services.common.context import Actor
from ketadesk.store.models import Appointment, FollowUp
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.table_model import ROW_ROLE
from ketadesk.ui.followups.recall_lists import AtRiskColumn, RecallListsView
from ketadesk.ui.rebooking.rebook_panel import RebookPanel
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, wait_for_day

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
# The offer is a window of its own; the offscreen platform says so.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def _adas_infusion(clinic: SmallClinic) -> int:
    with clinic.db.read() as s:
        found = s.scalar(
            select(Appointment.id).where(
                Appointment.patient_id == clinic.ids["Ada Lovelace"],
                Appointment.series_index == 3,
                Appointment.status == "booked",
            )
        )
    assert found is not None
    return found


@pytest.fixture
def window(qtbot: QtBot, clinic: SmallClinic) -> MainWindow:
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW, actor=FRONT_DESK)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    wait_for_day(qtbot, win)
    return win


def _recall_view(qtbot: QtBot, window: MainWindow) -> RecallListsView:
    window.set_view("recall")
    view = window.findChild(RecallListsView)
    assert view is not None
    qtbot.waitUntil(lambda: not window.is_reading(), timeout=10_000)
    return view


def test_an_at_risk_series_is_listed_and_its_make_up_booked_from_the_list(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, tmp_path: Path
) -> None:
    missed = _adas_infusion(clinic)
    appointment_changes.change_status(clinic.db, FRONT_DESK, missed, "no_show", now=NOW)
    view = _recall_view(qtbot, window)
    qtbot.waitUntil(lambda: view.at_risk_model.rowCount() == 1, timeout=10_000)

    assert view.tabs.currentIndex() == 0
    assert view.tabs.tabText(0) == "At risk (1)"
    model = view.at_risk_model
    (row,) = model.rows()
    assert model.index(0, AtRiskColumn.PATIENT).data() == "Lovelace, Ada (chart BT-1)"
    assert model.index(0, AtRiskColumn.SERIES).data() == "IV induction (6 infusions)"
    assert (
        model.index(0, AtRiskColumn.MISSED).data() == "IV ketamine infusion 3/6: no-show Tue Nov 24"
    )
    # The call is due at once and by the close of the next business day, Wednesday.
    assert model.index(0, AtRiskColumn.OUTREACH).data() == "due by tomorrow"
    assert model.index(0, AtRiskColumn.OUTREACH).data(Qt.ItemDataRole.ForegroundRole) is None
    assert model.index(0, AtRiskColumn.PATIENT).data(ROW_ROLE) == row
    button = view.make_up_button(0)
    assert button.text() == "Make-up…"
    assert button.accessibleName() == "Offer Lovelace, Ada a make-up"
    window.grab().save(str(tmp_path / "recall-at-risk.png"))

    controller = desk_controller_of(window)
    button.click()
    qtbot.waitUntil(lambda: controller.rebook_panel is not None, timeout=10_000)
    panel = controller.rebook_panel
    assert isinstance(panel, RebookPanel)
    assert panel.heading.text().startswith("Lovelace, Ada: No-show: IV ketamine infusion 3/6")
    assert panel.make_up_button.isEnabled()
    panel.make_up_button.click()
    qtbot.waitUntil(lambda: panel.result.text().startswith("Make-up booked"), timeout=10_000)

    # The miss is answered: its outreach call closed, the series off the list.
    qtbot.waitUntil(lambda: view.at_risk_model.rowCount() == 0, timeout=10_000)
    assert view.tabs.tabText(0) == "At risk (0)"
    with clinic.db.read() as s:
        call = s.scalars(
            select(FollowUp).where(
                FollowUp.appointment_id == missed, FollowUp.kind == "outreach_call"
            )
        ).one()
        assert (call.status, call.outcome) == ("cancelled", "Answered: make-up booked")


def test_a_late_cancellation_in_the_day_view_offers_the_make_up_and_lists_the_series(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = window.day_view
    layout = day.day_layout()
    assert layout is not None
    ada = next(
        b.appointment
        for b in layout.blocks
        if b.appointment.patient_name == "Lovelace, Ada"
        and b.appointment.status == "booked"
        and b.appointment.session_type_short == "IV"
    )
    monkeypatch.setattr(day, "ask_cancel_reason", lambda _appointment: "no ride today")
    controller = desk_controller_of(window)
    next(a for a in day.context_menu(ada).actions() if a.objectName() == "cancel").trigger()

    qtbot.waitUntil(lambda: controller.rebook_panel is not None, timeout=10_000)
    panel = controller.rebook_panel
    assert isinstance(panel, RebookPanel)
    assert panel.heading.text().startswith(
        "Lovelace, Ada: Late cancellation: IV ketamine infusion 3/6"
    )
    assert panel.make_up_button.isEnabled()
    panel.close()

    view = _recall_view(qtbot, window)
    qtbot.waitUntil(lambda: view.at_risk_model.rowCount() == 1, timeout=10_000)
    (row,) = view.at_risk_model.rows()
    assert row.missed == ("IV ketamine infusion 3/6: late cancellation Tue Nov 24",)


def test_the_at_risk_model_passes_the_model_tester(
    qtbot: QtBot, qtmodeltester: object, clinic: SmallClinic
) -> None:
    missed = _adas_infusion(clinic)
    appointment_changes.change_status(clinic.db, FRONT_DESK, missed, "no_show", now=NOW)
    # Two days later the call (due by Wednesday's close) is overdue: red and bold.
    later = NOW + dt.timedelta(days=2)
    view = RecallListsView(Desk(clinic.db, FRONT_DESK, lambda: later))
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.refresh()
    model = view.at_risk_model
    assert model.rowCount() == 1
    cell = model.index(0, AtRiskColumn.OUTREACH)
    assert cell.data().startswith("overdue by")
    assert cell.data(Qt.ItemDataRole.ForegroundRole) is not None
    assert cell.data(Qt.ItemDataRole.FontRole).bold()
    assert model.index(0, AtRiskColumn.MAKE_UP).data(Qt.ItemDataRole.AccessibleTextRole) == (
        "Make-up…"
    )
    with qtbot.waitSignal(view.make_up_requested) as asked:
        view.make_up_button(0).click()
    assert asked.args == [missed]
    qtmodeltester.check(model, force_py=True)  # type: ignore[attr-defined]
